"""The ``plaintext`` probe: what a TLS port answered to plain HTTP, and what we sent it.

``classify_plain`` is pure (a table of records, like ``classify``); the exchange itself runs
against real TCP listeners on 127.0.0.1 that record the bytes they got and answer as told.
"""

from __future__ import annotations

import shlex
import socket
import threading
from collections.abc import Iterator

import pytest

from mtlscheck import check
from mtlscheck._model import Outcome, OutcomeKind, Phase, Verdict
from mtlscheck._outcome import classify_plain
from mtlscheck._plain import PlainRecord
from mtlscheck._wire import FailureKind, WireFailure

NGINX_400 = (
    b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\n\r\n"
    b"<html><head><title>400 The plain HTTP request was sent to HTTPS port</title></head>"
)


@pytest.mark.parametrize(
    ("rec", "want"),
    [
        (PlainRecord("h", True, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
         Outcome(OutcomeKind.HTTP, status=200)),
        (PlainRecord("h", True, NGINX_400),
         Outcome(OutcomeKind.HTTP, status=400,
                 detail="The plain HTTP request was sent to HTTPS port")),
        (PlainRecord("h", True, b"HTTP/1.1 308 Permanent Redirect\r\nLocation: https://h/\r\n\r\n"),
         Outcome(OutcomeKind.HTTP, status=308, detail="redirect to https://h/")),
        (PlainRecord("h", True, b"HTTP/1.0 403"), Outcome(OutcomeKind.HTTP, status=403)),
        # an OpenSSL server answering with a TLS alert record (protocol_version)
        (PlainRecord("h", True, b"\x15\x03\x01\x00\x02\x02\x46"),
         Outcome(OutcomeKind.TLS_ALERT, alert="protocol_version", phase=Phase.HANDSHAKE,
                 detail="the server answered plain HTTP with a TLS alert record")),
        (PlainRecord("h", True, b"\x16\x03\x03\x00\x10" + b"\x00" * 16),
         Outcome(OutcomeKind.CONNECT, reason="bad-http",
                 detail="the server answered plain HTTP with a TLS record (it speaks only TLS)")),
        (PlainRecord("h", True, b""),
         Outcome(OutcomeKind.CONNECT, reason="closed",
                 detail="the server closed the connection without answering plain HTTP")),
        (PlainRecord("h", True, b"", WireFailure(FailureKind.RESET, None, "x")),
         Outcome(OutcomeKind.CONNECT, reason="reset",
                 detail="the server reset the plain HTTP connection")),
        (PlainRecord("h", True, b"", WireFailure(FailureKind.TIMEOUT, None, "timed out")),
         Outcome(OutcomeKind.CONNECT, reason="timeout",
                 detail="no answer to plain HTTP within the timeout")),
        (PlainRecord("h", False, b"", WireFailure(FailureKind.REFUSED, None, "refused")),
         Outcome(OutcomeKind.CONNECT, reason="refused", detail="connection refused")),
    ],
)  # fmt: skip
def test_classify_plain(rec: PlainRecord, want: Outcome) -> None:
    assert classify_plain(rec) == want
    assert classify_plain(rec).phase in (None, Phase.HANDSHAKE)  # never after a handshake


def test_garbage_is_bad_http_not_an_answer() -> None:
    got = classify_plain(PlainRecord("h", True, b"SSH-2.0-OpenSSH_9.2\r\n"))
    assert got.kind is OutcomeKind.CONNECT and got.reason == "bad-http"


class _Listener:
    """A TCP server that records one request and answers ``reply`` (or hangs up)."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.got = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(5)
            while b"\r\n\r\n" not in self.got:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                self.got += chunk
            if self.reply:
                conn.sendall(self.reply)

    def close(self) -> None:
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def listener(request: pytest.FixtureRequest) -> Iterator[_Listener]:
    lst = _Listener(request.param)
    yield lst
    lst.close()


@pytest.mark.parametrize(
    "listener", [b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"], indirect=True
)
def test_no_credentials_go_out_in_clear(listener: _Listener) -> None:
    res = check(
        f"https://user:secret@127.0.0.1:{listener.port}/p?q=1&access_token=t0k3n",
        probes="plaintext",
        tls="1.3",
        headers=[("Authorization", "Bearer t0ken"), ("X-Trace", "1"), ("Cookie", "s=1")],
        user_from_url=True,
        timeout=5,
    )
    (r,) = res.results
    assert r.outcome == Outcome(OutcomeKind.HTTP, status=200) and r.verdict is Verdict.FAIL
    sent = listener.got.decode("latin-1")
    assert sent.startswith("GET /p?q=1 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{listener.port}\r\n" in sent and "X-Trace: 1\r\n" in sent
    for secret in ("t0ken", "secret", "Authorization", "Cookie", "s=1", "access_token", "t0k3n"):
        assert secret not in sent and secret not in r.curl
    assert shlex.split(r.curl)[-1] == f"http://127.0.0.1:{listener.port}/p?q=1"
    assert r.openssl == ""
    assert [f.code for f in res.findings] == ["plaintext-accepted"]


@pytest.mark.parametrize("listener", [b""], indirect=True)
def test_a_hang_up_is_a_refusal_and_no_finding(listener: _Listener) -> None:
    res = check(f"https://127.0.0.1:{listener.port}/", probes="plaintext", tls="1.2", timeout=5)
    (r,) = res.results
    assert r.outcome is not None and r.outcome.kind is OutcomeKind.CONNECT
    assert r.outcome.reason == "closed" and r.verdict is Verdict.PASS
    assert res.findings == ()  # not "target-unreachable": that is about the TLS probes
