"""classify(record) -> Outcome and judge(outcome, facts, expectation), by table.

Every branch of the pure classification gets a row: what the wire said (a WireRecord) and the
outcome that must come out.  The real servers in test_probe_real / test_late_reject_real /
test_hostile show that the records are what servers really produce; these rows pin down the
meaning of each record, including the ones no well-behaved server produces.
"""

from __future__ import annotations

import errno
import socket

import pytest
from OpenSSL import SSL

from mtlscheck._expect import Expectation
from mtlscheck._io import Cancelled
from mtlscheck._model import HandshakeFacts, Outcome, OutcomeKind, Phase, ProbeResult, Verdict
from mtlscheck._outcome import classify, is_wire_error, wire_failure
from mtlscheck._verdict import against_control, judge, tied_to_certificate
from mtlscheck._wire import FailureKind, WireFailure, WireRecord

H, A = Phase.HANDSHAKE, Phase.AFTER_HANDSHAKE
K = FailureKind

NOTHING = HandshakeFacts()
HELLO = HandshakeFacts(server_hello_seen=True)
ASKED = HandshakeFacts(server_hello_seen=True, cert_requested=True)
DONE = HandshakeFacts(server_hello_seen=True, handshake_completed=True, protocol="TLSv1.3")
DONE_ASKED = HandshakeFacts(
    server_hello_seen=True, handshake_completed=True, cert_requested=True, protocol="TLSv1.3"
)
UNTRUSTED = HandshakeFacts(
    server_hello_seen=True,
    handshake_completed=True,
    server_verify_error="self-signed certificate (depth 0)",
)
WRONG_NAME = HandshakeFacts(
    server_hello_seen=True, handshake_completed=True, hostname_matches=False
)


def rec(
    facts: HandshakeFacts,
    failure: WireFailure | None = None,
    *,
    tcp: bool = True,
    alerts: tuple[tuple[str, Phase], ...] = (),
    status: int | None = None,
    body: bytes = b"",
    insecure: bool = False,
) -> WireRecord:
    return WireRecord(
        host="server.test",
        tcp_connected=tcp,
        facts=facts,
        alerts_received=alerts,
        failure=failure,
        insecure=insecure,
        http_status=status,
        http_body=body,
    )


def fail(kind: FailureKind, phase: Phase | None, detail: str = "") -> WireFailure:
    return WireFailure(kind, phase, detail)


CASES: list[tuple[str, WireRecord, Outcome]] = [
    # -- an HTTP answer wins (the status line came; a body cut short does not change it)
    ("http 200", rec(DONE, status=200, body=b"ok"), Outcome(OutcomeKind.HTTP, status=200)),
    (
        "http 400 nginx page",
        rec(DONE, status=400, body=b"<title>400 No required SSL certificate was sent</title>"),
        Outcome(OutcomeKind.HTTP, status=400, detail="No required SSL certificate was sent"),
    ),
    (
        "http status then reset in body",
        rec(DONE, fail(K.RESET, A), status=200),
        Outcome(OutcomeKind.HTTP, status=200),
    ),
    # -- our side refuses the server: overrides what the server did afterwards
    (
        "untrusted server",
        rec(UNTRUSTED, alerts=(("unknown_ca", A),)),
        Outcome(
            OutcomeKind.TLS_LOCAL,
            reason="server-cert-untrusted",
            phase=H,
            detail="self-signed certificate (depth 0)",
        ),
    ),
    (
        "hostname mismatch",
        rec(WRONG_NAME),
        Outcome(
            OutcomeKind.TLS_LOCAL,
            reason="hostname-mismatch",
            phase=H,
            detail="the server certificate does not cover server.test",
        ),
    ),
    (
        "untrusted but --insecure: the server's alert counts",
        rec(UNTRUSTED, fail(K.TLS, A, "x"), alerts=(("unknown_ca", A),), insecure=True),
        Outcome(OutcomeKind.TLS_ALERT, alert="unknown_ca", phase=A, detail="x"),
    ),
    # -- no failure and no answer: the server closed the exchange cleanly
    (
        "clean close, no response",
        rec(DONE),
        Outcome(
            OutcomeKind.CONNECT,
            reason="closed",
            phase=A,
            detail="the server closed the connection without an HTTP response",
        ),
    ),
    # -- before TCP
    (
        "dns",
        rec(NOTHING, fail(K.DNS, None, "Name or service not known"), tcp=False),
        Outcome(
            OutcomeKind.CONNECT,
            reason="dns",
            detail="cannot resolve server.test: Name or service not known",
        ),
    ),
    (
        "refused",
        rec(NOTHING, fail(K.REFUSED, None), tcp=False),
        Outcome(OutcomeKind.CONNECT, reason="refused", detail="connection refused"),
    ),
    (
        "tcp timeout",
        rec(NOTHING, fail(K.TIMEOUT, None), tcp=False),
        Outcome(OutcomeKind.CONNECT, reason="timeout", detail="TCP connect timed out"),
    ),
    (
        "cancelled before tcp",
        rec(NOTHING, fail(K.CANCELLED, None, "c"), tcp=False),
        Outcome(OutcomeKind.CONNECT, reason="cancelled", detail="c"),
    ),
    (
        "unreachable",
        rec(NOTHING, fail(K.UNREACHABLE, None, "No route to host"), tcp=False),
        Outcome(OutcomeKind.CONNECT, reason="unreachable", detail="No route to host"),
    ),
    (
        "other os error before tcp",
        rec(NOTHING, fail(K.OS, None, "weird"), tcp=False),
        Outcome(OutcomeKind.CONNECT, reason="error", detail="weird"),
    ),
    # -- a refused TLS version is its own outcome
    (
        "protocol_version alert",
        rec(
            NOTHING,
            fail(K.TLS, H, "tlsv1 alert protocol version"),
            alerts=(("protocol_version", H),),
        ),
        Outcome(
            OutcomeKind.TLS_VERSION,
            reason="not-offered",
            phase=H,
            detail="the server refused the TLS version offered (protocol_version)",
        ),
    ),
    (
        "local: unsupported protocol",
        rec(HELLO, fail(K.TLS, H, "ssl routines  unsupported protocol")),
        Outcome(
            OutcomeKind.TLS_VERSION,
            reason="not-offered",
            phase=H,
            detail="the server refused the TLS version offered (protocol_version)",
        ),
    ),
    # -- alerts keep their phase
    (
        "alert in handshake",
        rec(
            ASKED,
            fail(K.TLS, H, "sslv3 alert handshake failure"),
            alerts=(("handshake_failure", H),),
        ),
        Outcome(
            OutcomeKind.TLS_ALERT,
            alert="handshake_failure",
            phase=H,
            detail="sslv3 alert handshake failure",
        ),
    ),
    (
        "alert after handshake; close_notify ignored",
        rec(
            DONE_ASKED,
            fail(K.TLS, A, "tlsv13 alert certificate required"),
            alerts=(("certificate_required", A), ("close_notify", A)),
        ),
        Outcome(
            OutcomeKind.TLS_ALERT,
            alert="certificate_required",
            phase=A,
            detail="tlsv13 alert certificate required",
        ),
    ),
    (
        "alert collected after a reset",
        rec(DONE_ASKED, fail(K.RESET, A), alerts=(("unknown_ca", A),)),
        Outcome(OutcomeKind.TLS_ALERT, alert="unknown_ca", phase=A, detail=""),
    ),
    # -- timeouts say when
    (
        "silent after ClientHello",
        rec(NOTHING, fail(K.TIMEOUT, H)),
        Outcome(
            OutcomeKind.CONNECT,
            reason="timeout",
            detail="no answer within the timeout to the TLS ClientHello",
        ),
    ),
    (
        "stall after ServerHello",
        rec(HELLO, fail(K.TIMEOUT, H)),
        Outcome(
            OutcomeKind.CONNECT,
            reason="timeout",
            phase=H,
            detail="no answer within the timeout during the TLS handshake",
        ),
    ),
    (
        "stall after handshake",
        rec(DONE, fail(K.TIMEOUT, A)),
        Outcome(
            OutcomeKind.CONNECT,
            reason="timeout",
            phase=A,
            detail="no answer within the timeout after the handshake",
        ),
    ),
    (
        "cancelled mid-probe",
        rec(DONE, fail(K.CANCELLED, A, "the run was cancelled")),
        Outcome(OutcomeKind.CONNECT, reason="cancelled", phase=A, detail="the run was cancelled"),
    ),
    (
        "bad http",
        rec(DONE, fail(K.BAD_HTTP, A, "illegal status line")),
        Outcome(
            OutcomeKind.CONNECT,
            reason="bad-http",
            phase=A,
            detail="the answer is not a valid HTTP/1.1 response: illegal status line",
        ),
    ),
    # -- before any ServerHello: no TLS phase
    (
        "plain http on the port",
        rec(NOTHING, fail(K.TLS, H, "ssl routines  wrong version number")),
        Outcome(
            OutcomeKind.NOT_TLS,
            detail="the port answered with something that is not TLS (plain HTTP?)",
        ),
    ),
    (
        "reset after ClientHello",
        rec(NOTHING, fail(K.RESET, H)),
        Outcome(
            OutcomeKind.CONNECT,
            reason="reset",
            detail="the server reset the connection before answering the TLS ClientHello",
        ),
    ),
    (
        "eof after ClientHello",
        rec(NOTHING, fail(K.EOF, H)),
        Outcome(
            OutcomeKind.CONNECT,
            reason="closed",
            detail="the server hung up before answering the TLS ClientHello",
        ),
    ),
    (
        "invalid TLS answer",
        rec(NOTHING, fail(K.TLS, H, "bad length")),
        Outcome(
            OutcomeKind.CONNECT,
            reason="bad-tls",
            detail="the server's answer to the ClientHello is not valid TLS: bad length",
        ),
    ),
    (
        "os error after ClientHello",
        rec(NOTHING, fail(K.OS, H, "EIO")),
        Outcome(OutcomeKind.CONNECT, reason="error", detail="EIO"),
    ),
    # -- after ServerHello: hang-ups have a TLS phase, never tls-local
    (
        "reset in handshake",
        rec(ASKED, fail(K.RESET, H)),
        Outcome(
            OutcomeKind.CONNECT, reason="reset", phase=H, detail="connection reset by the server"
        ),
    ),
    (
        "eof right after handshake",
        rec(DONE_ASKED, fail(K.EOF, A)),
        Outcome(
            OutcomeKind.CONNECT,
            reason="closed",
            phase=A,
            detail="the server closed the connection right after the handshake",
        ),
    ),
    (
        "close_notify in handshake",
        rec(ASKED, fail(K.CLOSE_NOTIFY, H)),
        Outcome(
            OutcomeKind.CONNECT, reason="closed", phase=H, detail="the server closed the connection"
        ),
    ),
    (
        "openssl error after handshake, nothing sent by us: a hang-up",
        rec(DONE_ASKED, fail(K.TLS, A, "")),
        Outcome(
            OutcomeKind.CONNECT,
            reason="closed",
            phase=A,
            detail="the server broke off the connection (no reason)",
        ),
    ),
    (
        "garbage record after handshake: we complained",
        rec(
            HandshakeFacts(
                server_hello_seen=True, handshake_completed=True, alert_sent="decode_error"
            ),
            fail(K.TLS, A, "bad record"),
        ),
        Outcome(
            OutcomeKind.CONNECT,
            reason="bad-tls",
            phase=A,
            detail="the server sent invalid TLS after the handshake: bad record",
        ),
    ),
    (
        "our side aborts the handshake",
        rec(
            HandshakeFacts(server_hello_seen=True, alert_sent="illegal_parameter"),
            fail(K.TLS, H, "excessive message size"),
        ),
        Outcome(
            OutcomeKind.TLS_LOCAL,
            reason="illegal_parameter",
            phase=H,
            detail="excessive message size",
        ),
    ),
    (
        "openssl error in handshake, no alert from us",
        rec(HELLO, fail(K.TLS, H, "odd")),
        Outcome(OutcomeKind.TLS_LOCAL, reason="tls-error", phase=H, detail="odd"),
    ),
    (
        "os error after handshake",
        rec(DONE, fail(K.OS, A, "EIO")),
        Outcome(OutcomeKind.CONNECT, reason="error", phase=A, detail="EIO"),
    ),
]


@pytest.mark.parametrize(("record", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_classify(record: WireRecord, expected: Outcome) -> None:
    assert classify(record) == expected


# ---------------------------------------------------------------- wire_failure: naming errors


def _ssl_error(reason: str) -> SSL.Error:
    return SSL.Error([("SSL routines", "", reason)])


WIRE = [
    ("cancelled", Cancelled("x"), K.CANCELLED),
    ("timeout", TimeoutError("t"), K.TIMEOUT),
    ("dns", socket.gaierror(-2, "Name or service not known"), K.DNS),
    ("refused", ConnectionRefusedError(errno.ECONNREFUSED, "refused"), K.REFUSED),
    ("reset", ConnectionResetError(errno.ECONNRESET, "reset"), K.RESET),
    ("pipe", BrokenPipeError(errno.EPIPE, "pipe"), K.RESET),
    ("unreachable", OSError(errno.EHOSTUNREACH, "No route"), K.UNREACHABLE),
    ("close_notify", SSL.ZeroReturnError(), K.CLOSE_NOTIFY),
    ("syscall eof", SSL.SysCallError(-1, "Unexpected EOF"), K.EOF),
    ("syscall reset", SSL.SysCallError(errno.ECONNRESET, "ECONNRESET"), K.RESET),
    ("syscall other", SSL.SysCallError(errno.EIO, "EIO"), K.OS),
    ("ssl eof text", _ssl_error("unexpected eof while reading"), K.EOF),
    ("ssl other", _ssl_error("tlsv13 alert certificate required"), K.TLS),
    ("other os", OSError(errno.EIO, "I/O"), K.OS),
]


@pytest.mark.parametrize(("exc", "kind"), [w[1:] for w in WIRE], ids=[w[0] for w in WIRE])
def test_wire_failure_names_the_error(exc: BaseException, kind: FailureKind) -> None:
    assert wire_failure(exc, H).kind is kind
    assert is_wire_error(exc)


def test_wrapped_errors_are_named_by_their_cause() -> None:
    import httpx

    try:
        try:
            raise ConnectionResetError(errno.ECONNRESET, "reset")
        except ConnectionResetError as inner:
            raise httpx.ReadError("read failed") from inner
    except httpx.ReadError as outer:
        assert wire_failure(outer, A).kind is K.RESET
        assert is_wire_error(outer)


def test_http_protocol_errors_are_bad_http() -> None:
    import httpx

    assert wire_failure(httpx.RemoteProtocolError("illegal status line"), A).kind is K.BAD_HTTP
    # h11's close before any response byte is a hang-up, whichever way the server closed
    gone = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    assert wire_failure(gone, A).kind is K.EOF
    # ... but bytes without a status line (an HTTP/0.9 reply) are not a hang-up
    assert wire_failure(gone, A, received=48).kind is K.BAD_HTTP


def test_our_bugs_are_not_wire_errors() -> None:
    for exc in (AssertionError("x"), TypeError("x"), KeyError("x"), AttributeError("x")):
        assert not is_wire_error(exc)


# ---------------------------------------------------------------- judge: the evidence rule

REJECTED = Expectation.parse("rejected")
ACCEPTED = Expectation.parse("accepted")
ALERT = Outcome(OutcomeKind.TLS_ALERT, alert="handshake_failure", phase=H)
CERT_ALERT = Outcome(OutcomeKind.TLS_ALERT, alert="certificate_required", phase=A)
HANGUP = Outcome(OutcomeKind.CONNECT, reason="closed", phase=A)

P400 = Outcome(OutcomeKind.HTTP, status=400, detail="The SSL certificate error")
BARE400 = Outcome(OutcomeKind.HTTP, status=400)
S495 = Outcome(OutcomeKind.HTTP, status=495)
S403 = Outcome(OutcomeKind.HTTP, status=403)
S200 = Outcome(OutcomeKind.HTTP, status=200)
S404 = Outcome(OutcomeKind.HTTP, status=404)
VERSION = Outcome(OutcomeKind.TLS_VERSION, reason="not-offered", phase=H)
INTERNAL = Outcome(OutcomeKind.INTERNAL, detail="boom")
LOCAL = Outcome(OutcomeKind.TLS_LOCAL, reason="server-cert-untrusted")
TIMEOUT = Outcome(OutcomeKind.CONNECT, reason="timeout", phase=A)
LATE = HandshakeFacts(server_hello_seen=True, cert_requested_after_handshake=True)
E, PASS, FAIL = Verdict.ERROR, Verdict.PASS, Verdict.FAIL

JUDGE = [
    # (id, outcome, facts, expectation, verdict)
    ("alert after CertificateRequest", ALERT, ASKED, REJECTED, PASS),
    ("alert before ServerHello", ALERT, NOTHING, REJECTED, E),
    ("non-cert alert, never asked", ALERT, DONE, REJECTED, E),
    ("cert alert after ServerHello", CERT_ALERT, DONE, REJECTED, PASS),
    ("cert alert before ServerHello", CERT_ALERT, NOTHING, REJECTED, E),
    ("hang-up after CertificateRequest", HANGUP, DONE_ASKED, REJECTED, PASS),
    ("hang-up, never asked", HANGUP, DONE, REJECTED, E),
    ("hang-up after post-handshake request", HANGUP, LATE, REJECTED, PASS),
    ("nginx 400 page", P400, DONE, REJECTED, PASS),
    ("495", S495, DONE, REJECTED, PASS),
    ("bare 400, never asked", BARE400, DONE, REJECTED, E),
    ("403 after request", S403, DONE_ASKED, REJECTED, PASS),
    ("403, never asked", S403, DONE, REJECTED, E),
    ("200 for a rejection probe", S200, DONE, REJECTED, FAIL),
    ("404 for a rejection probe", S404, DONE_ASKED, REJECTED, FAIL),
    ("valid rejected by cert alert", CERT_ALERT, DONE_ASKED, ACCEPTED, FAIL),
    ("valid: alert before ServerHello", ALERT, NOTHING, ACCEPTED, E),
    ("version refused", VERSION, NOTHING, REJECTED, E),
    ("version refused, valid", VERSION, NOTHING, ACCEPTED, E),
    ("internal error", INTERNAL, NOTHING, REJECTED, E),
    ("tls-local", LOCAL, DONE, REJECTED, E),
    ("timeout", TIMEOUT, DONE_ASKED, REJECTED, E),
    ("user expects the hang-up", HANGUP, DONE, Expectation.parse("connect:closed"), PASS),
]


@pytest.mark.parametrize(
    ("outcome", "facts", "expectation", "verdict"),
    [j[1:] for j in JUDGE],
    ids=[j[0] for j in JUDGE],
)
def test_judge(
    outcome: Outcome, facts: HandshakeFacts, expectation: Expectation, verdict: Verdict
) -> None:
    got, why = judge(outcome, facts, expectation, "1.3")
    assert got is verdict
    if verdict is Verdict.ERROR and (
        outcome.is_tls_hangup or outcome.kind is OutcomeKind.TLS_ALERT
    ):
        assert why.startswith("inconclusive")
    if outcome.kind is OutcomeKind.TLS_VERSION:
        assert "TLS 1.3" in why


def test_evidence_rule_is_about_the_certificate_only() -> None:
    assert tied_to_certificate(CERT_ALERT, DONE)
    assert not tied_to_certificate(Outcome(OutcomeKind.HTTP, status=200), DONE_ASKED)


# ---------------------------------------------------------------- the valid probe as control


def _pr(probe: str, outcome: Outcome, facts: HandshakeFacts, verdict: Verdict) -> ProbeResult:
    return ProbeResult(probe, "https://t/", "1.3", "rejected", verdict, outcome, facts)


RESET_A = Outcome(OutcomeKind.CONNECT, reason="reset", phase=A)


@pytest.mark.parametrize(
    ("valid", "probe", "still_pass"),
    [
        # the backend is down: everyone is hung up on after the handshake
        (RESET_A, HANGUP, False),
        # 403 for everybody
        (S403, S403, False),
        # a certificate alert names the certificate even if valid is refused too
        (CERT_ALERT, CERT_ALERT, True),
        # nginx's certificate page names it as well
        (P400, P400, True),
        # valid gets in: the hang-up is the server's answer to this certificate (Node.js)
        (S200, HANGUP, True),
    ],
    ids=["hangup-for-all", "403-for-all", "cert-alert", "nginx-page", "valid-accepted"],
)
def test_valid_is_the_control(valid: Outcome, probe: Outcome, still_pass: bool) -> None:
    results = [
        _pr("valid", valid, DONE_ASKED, Verdict.FAIL),
        _pr("revoked", probe, DONE_ASKED, Verdict.PASS),
    ]
    after = against_control(results)
    assert after[0] == results[0]
    assert (after[1].verdict is Verdict.PASS) is still_pass
    if not still_pass:
        assert after[1].reason.startswith("inconclusive: the valid certificate gets the same")
