"""Secrets and hostile text: no credential reaches a report, no server text drives a terminal.

- URL userinfo is refused unless ``--user-from-url`` / ``check(user_from_url=True)``; with it
  the probe really sends Basic auth (a recording server checks), and neither it nor
  ``Authorization``/``Cookie``/``X-Api-Key`` values appear in any report format.
- Text the server controls (error-page title, certificate subjects, CA names) reaches the
  console with its control characters escaped, the Markdown report escaped, everything capped.
"""

from __future__ import annotations

import base64
import io
import re
import shlex
import socket
import struct
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from OpenSSL import SSL

from mtlscheck import UsageError, check
from mtlscheck._cli import main
from mtlscheck._model import (
    CertInfo,
    Commands,
    Finding,
    HandshakeFacts,
    Outcome,
    OutcomeKind,
    ProbeResult,
    RunResult,
    Severity,
    TargetResult,
    Verdict,
)
from mtlscheck._pki import PKI, init_pki, make_ca, make_leaf, write_pem, write_private_key
from mtlscheck._report import get_reporter
from mtlscheck._report._safe import ITEM_LIMIT, TEXT_LIMIT, for_display, markdown_text
from mtlscheck._report.console import ConsoleReporter
from mtlscheck._secrets import header_env_var, is_secret_header, redact_text, redact_url

USER, PASSWORD = "alice", "pw-Zq7!s3cret"
TOKEN, COOKIE, API_KEY = "tok-9f8e7d6c", "sid=c00k1e-v4lue", "key-5a4b3c2d"
SECRETS = (PASSWORD, TOKEN, COOKIE, API_KEY, f"{USER}:")
FORMATS = ("console", "json", "junit", "markdown")


class MiniTLSServer:
    """A tiny pyOpenSSL server on 127.0.0.1: requests a client certificate (accepts any),
    advertises the given CA names, records each request head and answers with ``respond``."""

    def __init__(
        self,
        cert: Path,
        key: Path,
        ca_names: list[x509.Certificate],
        respond: Callable[[bytes], bytes],
    ) -> None:
        ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        ctx.use_certificate_chain_file(str(cert))
        ctx.use_privatekey_file(str(key))
        for ca in ca_names:
            ctx.add_client_ca(ca)
        ctx.set_verify(SSL.VERIFY_PEER, lambda *args: True)
        self.ctx = ctx
        self.respond = respond
        self.heads: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}/"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> MiniTLSServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(5)

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                raw, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            # Blocking (pyOpenSSL needs it) but bounded: a kernel receive/send timeout.
            raw.setblocking(True)
            for opt in (socket.SO_RCVTIMEO, socket.SO_SNDTIMEO):
                raw.setsockopt(socket.SOL_SOCKET, opt, struct.pack("ll", 5, 0))
            conn = SSL.Connection(self.ctx, raw)
            conn.set_accept_state()
            try:
                conn.do_handshake()
                head = b""
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                self.heads.append(head)
                conn.sendall(self.respond(head))
                conn.shutdown()
            except (SSL.Error, OSError):
                pass
            finally:
                raw.close()


def _basic() -> bytes:
    return b"basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).lower()


def _auth_checker(head: bytes) -> bytes:
    ok = _basic() in head.lower()
    status = b"200 OK" if ok else b"401 Unauthorized"
    return b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    p, _ = init_pki(tmp_path_factory.mktemp("secrets") / "pki")
    return p


@pytest.fixture
def auth_server(pki: PKI) -> Iterator[MiniTLSServer]:
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    with MiniTLSServer(pki.server_cert, pki.server_key, [ca], _auth_checker) as srv:
        yield srv


def _with_userinfo(url: str) -> str:
    return url.replace("https://", f"https://{USER}:{PASSWORD}@")


SECRET_HEADERS = [("Authorization", f"Bearer {TOKEN}"), ("Cookie", COOKIE), ("X-Api-Key", API_KEY)]


def _render_all(run: RunResult, formats: Sequence[str] = FORMATS) -> dict[str, str]:
    """Every report of ``run``, plain and verbose, by format (``json-v``, ...)."""
    out = {}
    for fmt in formats:
        for verbose in (False, True):
            buf = io.StringIO()
            get_reporter(fmt, color=False).render(run, buf, verbose=verbose)
            out[f"{fmt}{'-v' if verbose else ''}"] = buf.getvalue()
    return out


# --------------------------------------------------------------------------- credentials


def test_url_userinfo_is_refused_without_the_flag(
    auth_server: MiniTLSServer, pki: PKI, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _with_userinfo(auth_server.url)
    with pytest.raises(UsageError) as exc:
        check(url, cacert=pki.ca_cert, probes=["no-cert"])
    assert PASSWORD not in str(exc.value) and "--user-from-url" in str(exc.value)
    rc = main(["probe", url, "--cacert", str(pki.ca_cert), "-p", "no-cert"])
    captured = capsys.readouterr()
    assert rc == 2
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mtlscheck: error:"), captured.err
    assert PASSWORD not in captured.err + captured.out
    assert auth_server.heads == []  # refused before any connection


def test_user_from_url_sends_basic_auth_and_no_report_shows_any_credential(
    auth_server: MiniTLSServer, pki: PKI
) -> None:
    url = _with_userinfo(auth_server.url)
    result = check(
        url,
        user_from_url=True,
        cacert=pki.ca_cert,
        probes=["no-cert"],
        tls="1.3",
        expect={"no-cert": "200"},
        headers=[*SECRET_HEADERS, ("Accept", "text/plain")],
    )
    # The server saw the credentials: the flag really sends them (200 only with Basic auth).
    assert result.results[0].outcome == Outcome(OutcomeKind.HTTP, status=200)
    head = auth_server.heads[0].lower()
    assert _basic() in head and TOKEN.encode() not in head  # httpx: URL auth wins
    assert API_KEY.encode() in head and COOKIE.encode() in head
    for name, text in _render_all(RunResult((result,))).items():
        leaked = [s for s in SECRETS if s in text]
        assert not leaked, f"{name} report leaks {leaked}"
        redacted = "&lt;redacted&gt;@" if name.startswith("junit") else "<redacted>@"
        assert f"{redacted}127.0.0.1" in text, name


def test_printed_curl_takes_credentials_from_the_environment(
    auth_server: MiniTLSServer, pki: PKI
) -> None:
    import os
    import subprocess

    url = _with_userinfo(auth_server.url)
    result = check(
        url,
        user_from_url=True,
        cacert=pki.ca_cert,
        probes=["no-cert"],
        tls="1.3",
        headers=SECRET_HEADERS,
    )
    curl = result.results[0].curl
    assert not [s for s in SECRETS if s in curl]
    # The probe (httpx) sent the URL's Basic auth *instead of* the Authorization header, so
    # the command leaves that header out; the others come from the environment.
    assert "Authorization" not in curl
    for var in ("MTLSCHECK_USERINFO", "MTLSCHECK_HEADER_COOKIE", "MTLSCHECK_HEADER_X_API_KEY"):
        assert f'${var}"' in curl
    env = dict(os.environ, MTLSCHECK_USERINFO=f"{USER}:{PASSWORD}")
    env.update({header_env_var(k): v for k, v in SECRET_HEADERS})
    proc = subprocess.run(["sh", "-c", curl], capture_output=True, text=True, env=env, timeout=15)
    assert proc.stdout.strip() == "200", proc.stderr  # the server checks Basic auth
    head = auth_server.heads[-1].lower()
    assert _basic() in head and API_KEY.encode() in head and COOKIE.encode() in head


def test_cli_reports_and_messages_carry_no_credentials(
    auth_server: MiniTLSServer,
    pki: PKI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = _with_userinfo(auth_server.url)
    base = ["probe", url, "--user-from-url", "--cacert", str(pki.ca_cert), "-p", "no-cert"]
    base += ["--tls", "1.3", "-v"]
    for k, v in SECRET_HEADERS:
        base += ["-H", f"{k}: {v}"]
    for fmt in FORMATS:
        out = tmp_path / f"report.{fmt}"
        # expect 401 so the run fails: failing probes print their reproduce commands
        rc = main([*base, "-e", "no-cert=401", "-f", fmt, "-o", str(out)])
        assert rc == 1
        rc2 = main([*base, "-f", fmt])
        assert rc2 == 1  # no-cert got 200, expected rejected
        captured = capsys.readouterr()
        text = out.read_text(encoding="utf-8") + captured.out + captured.err
        assert not [s for s in SECRETS if s in text], fmt


def test_secret_headers_in_commands_are_environment_references() -> None:
    from mtlscheck._commands import curl_command
    from mtlscheck._tls import TLSSettings

    s = TLSSettings(host="api.example", port=443)
    headers = (("Authorization", f"Bearer {TOKEN}"), ("X-Trace", "a b"), ("X-Api-Key", API_KEY))
    argv = shlex.split(curl_command("https://api.example/", s, None, headers=headers))
    hs = [argv[i + 1] for i, a in enumerate(argv) if a == "-H"]
    # shlex does no expansion: the variable reference is what the shell will expand
    assert hs == [
        "Authorization: $MTLSCHECK_HEADER_AUTHORIZATION",
        "X-Trace: a b",
        "X-Api-Key: $MTLSCHECK_HEADER_X_API_KEY",
    ]


def test_secret_header_names_and_text_redaction() -> None:
    for name in ("Authorization", "proxy-authorization", "Cookie", "X-Api-Key", "X-Auth-Token",
                 "X-Vault-Token", "Api-Key", "X-Client-Secret", "Session-Id"):  # fmt: skip
        assert is_secret_header(name), name
    for name in ("Accept", "User-Agent", "X-Request-Id", "Content-Type", "Host"):
        assert not is_secret_header(name), name
    assert header_env_var("X-Api-Key") == "MTLSCHECK_HEADER_X_API_KEY"
    assert redact_url("https://u:p@ss@host:8443/x?y=1") == "https://<redacted>@host:8443/x?y=1"
    assert redact_url("https://host/a@b") == "https://host/a@b"  # an @ in the path is no userinfo
    text = "GET https://bob:hunter2@api/ with Authorization: Bearer abc and cookie: a=b"
    red = redact_text(text)
    assert "hunter2" not in red and "Bearer abc" not in red and "a=b" not in red
    # what a printed command must keep: a reference to the environment
    cmd = '-H "Authorization: $MTLSCHECK_HEADER_AUTHORIZATION"'
    assert redact_text(cmd) == cmd
    # diagnostics that merely mention auth are left alone
    assert redact_text("post-handshake auth: yes") == "post-handshake auth: yes"


# --------------------------------------------------------------------------- hostile text

HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e"
MD_HOSTILE = "<img src=x onerror=alert(1)>[click](http://evil.example/)*bold*`tick`"


@pytest.fixture
def hostile_server(tmp_path: Path) -> Iterator[tuple[MiniTLSServer, Path]]:
    ca = make_ca(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"CA{HOSTILE}")]))
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"Org{HOSTILE}"),
        ]
    )
    leaf = make_leaf(ca, subject, client=False, server=True, hosts=["127.0.0.1"])
    write_pem(tmp_path / "ca.pem", ca.cert)
    write_pem(tmp_path / "srv.pem", leaf.cert, *leaf.chain)
    write_private_key(tmp_path / "srv.key", leaf.key)
    body = f"<html><head><title>{HOSTILE}{MD_HOSTILE}</title></head></html>".encode()
    response = (
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    # 40 CA names: more than a report lists
    names = [ca.cert] + [
        make_ca(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"extra {i}{HOSTILE}")])).cert
        for i in range(40)
    ]
    with MiniTLSServer(tmp_path / "srv.pem", tmp_path / "srv.key", names, lambda _: response) as s:
        yield s, tmp_path / "ca.pem"


def _raw_controls(text: str) -> list[str]:
    return [c for c in ("\x1b", "\x07", "\x9b", "\u202e") if c in text]


def test_server_text_reaches_no_terminal_raw(
    hostile_server: tuple[MiniTLSServer, Path],
) -> None:
    srv, ca = hostile_server
    result = check(srv.url, cacert=ca, probes=["no-cert"], tls="1.3")
    r = result.results[0]
    assert r.outcome is not None and r.outcome.status == 400
    assert HOSTILE in r.outcome.detail  # the engine keeps the data; reports must defuse it
    assert r.facts is not None and any("\x1b]0\\;pwned\x07" in n for n in r.facts.ca_names)
    run = RunResult((result,))
    for verbose in (False, True):
        buf = io.StringIO()
        ConsoleReporter(color=False).render(run, buf, verbose=verbose)
        out = buf.getvalue()
        assert not _raw_controls(out), (verbose, _raw_controls(out))
        assert "\\x1b]0;pwned\\x07" in out  # shown, escaped - not silently dropped
    colored = io.StringIO()
    ConsoleReporter(color=True).render(run, colored, verbose=True)
    assert "\x1b]0;" not in colored.getvalue() and "\x1b[2J" not in colored.getvalue()
    assert "\x07" not in colored.getvalue()
    buf = io.StringIO()
    ConsoleReporter(color=False).render(run, buf, verbose=True)
    assert "… and" in buf.getvalue()  # 41 CA names are capped


def test_markdown_and_junit_defuse_server_text(
    hostile_server: tuple[MiniTLSServer, Path],
) -> None:
    srv, ca = hostile_server
    result = check(srv.url, cacert=ca, probes=["no-cert"], tls="1.3", expect={"no-cert": "200"})
    run = RunResult((result,))
    md = io.StringIO()
    get_reporter("markdown").render(run, md, verbose=True)
    text = md.getvalue()
    assert not _raw_controls(text)
    # no link: every "](" outside code fences is escaped (a fence mtlscheck opened cannot be
    # closed by the text in it, so what is inside renders as text)
    outside = re.sub(r"(?ms)^[ \t]*(`{3,})[^\n]*\n.*?^[ \t]*\1[ \t]*$", "", text)
    assert not re.search(r"(?<!\\)\]\(", outside)
    assert "\\[click\\]" in text
    xml = io.StringIO()
    get_reporter("junit").render(run, xml, verbose=True)
    root = ET.fromstring(xml.getvalue())  # still well-formed XML
    assert root.tag == "testsuites"
    assert not _raw_controls(xml.getvalue())


def _huge_run() -> RunResult:
    big = "A" * 100_000
    cert = CertInfo(subject=big, issuer=big, not_before="2020-01-01", not_after="2999-01-01")
    facts = HandshakeFacts(
        protocol="TLSv1.3",
        cert_requested=True,
        ca_names=tuple(f"CN=ca {i} {big}" for i in range(500)),
        server_chain=(cert,) * 200,
        handshake_completed=True,
        server_hello_seen=True,
    )
    res = ProbeResult(
        "no-cert",
        "https://127.0.0.1/",
        "1.3",
        "rejected",
        Verdict.FAIL,
        Outcome(OutcomeKind.HTTP, status=400, detail=big),
        facts,
        reason=big,
        commands=Commands(curl="curl https://127.0.0.1/"),
    )
    finding = Finding("client-auth-optional", Severity.ERROR, big, evidence=(big,) * 100)
    return RunResult((TargetResult("https://127.0.0.1/", (res,), findings=(finding,)),))


def test_reports_cap_what_they_show() -> None:
    run = _huge_run()
    shown = for_display(run)
    facts = shown.targets[0].results[0].facts
    assert facts is not None
    assert len(facts.ca_names) == ITEM_LIMIT + 1 and facts.ca_names[-1] == "… and 468 more"
    assert len(facts.server_chain) == ITEM_LIMIT
    detail = shown.targets[0].results[0].outcome.detail  # type: ignore[union-attr]
    assert len(detail) < TEXT_LIMIT + 40
    for fmt in ("console", "markdown", "junit"):
        for verbose in (False, True):
            buf = io.StringIO()
            get_reporter(fmt, color=False).render(run, buf, verbose=verbose)
            # the input holds ~100 MB of text; a capped report is a few hundred KB at most
            assert len(buf.getvalue()) < 500_000, (fmt, verbose, len(buf.getvalue()))


def test_markdown_text_escapes_what_renders() -> None:
    assert markdown_text("*a* _b_ [c](d) <e> `f` ~g~ $h$ &amp;") == (
        "\\*a\\* \\_b\\_ \\[c\\](d) \\<e\\> \\`f\\` \\~g\\~ \\$h\\$ \\&amp;"
    )


def test_hostile_certificate_subjects_are_valid_x509() -> None:
    """Guard for the fixture: cryptography really encodes control characters in a name."""
    ca = make_ca(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"CA{HOSTILE}")]))
    der = ca.cert.public_bytes(serialization.Encoding.DER)
    subject = x509.load_der_x509_certificate(der).subject.rfc4514_string()
    assert "\x1b]0\\;pwned\x07\x1b[2J\x9b31m\u202e" in subject  # RFC 4514 escapes the ;


@pytest.mark.parametrize("url", ["https://u:s3cret@[::1/", "https://u:s3cret@host:0/"])
def test_url_errors_never_echo_the_password(url: str) -> None:
    from mtlscheck import UsageError
    from mtlscheck._validate import parse_https_url

    with pytest.raises(UsageError) as err:
        parse_https_url(url)
    assert "s3cret" not in str(err.value) and "<redacted>" in str(err.value)


def test_a_probes_own_commands_are_redacted_escaped_and_capped_when_shown() -> None:
    """A probe keeps a recipe and its command lines are made when a report shows them: they
    must get the same treatment as every other text then - a path with an escape sequence or
    an undecodable byte shows escaped, a credential never shows, and a huge header is capped."""
    from mtlscheck._report._safe import COMMAND_LIMIT, for_display, redacted
    from mtlscheck._reproduce import ProbeCommands
    from mtlscheck._tls import TLSSettings

    hostile = Path("/tmp/ca-\x1b[2J-\udcff.pem")
    settings = TLSSettings("api.example", 443, cafile=hostile, version="1.3")
    recipe = ProbeCommands(
        "https://user:pw@api.example/p?access_token=s3cr3t",
        settings,
        None,
        headers=(("X-Trace", "t" * 20_000), ("Authorization", "Bearer t0k")),
    )
    res = ProbeResult(
        "no-cert",
        "https://api.example/",
        "1.3",
        "rejected",
        Verdict.PASS,
        Outcome(OutcomeKind.HTTP, status=400),
        commands=recipe,
    )
    run = RunResult((TargetResult("https://api.example/", (res,)),))
    shown = for_display(run).targets[0].results[0]
    for text in (shown.curl, shown.openssl):
        assert "\x1b" not in text and "\udcff" not in text and "\\x1b[2J" in text
    assert len(shown.curl) < COMMAND_LIMIT + 100 and "more characters" in shown.curl
    plain = redacted(run).targets[0].results[0].curl
    for secret in ("pw", "s3cr3t", "t0k"):
        assert secret not in plain.replace("$MTLSCHECK", "")
    # nothing to change: the very same objects (a big run is not copied to be rendered)
    quiet = RunResult((TargetResult("https://ok.example/", (replace(res, commands=None),)),))
    assert for_display(quiet) is quiet
