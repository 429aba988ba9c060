"""The ONE place that turns what happened on the wire into an :class:`Outcome`.

Two steps, both here so the subtle cases can be reviewed side by side:

* :func:`wire_failure` names a low-level error (``OSError``, ``OpenSSL.SSL.Error``, httpx's
  protocol errors) the moment it happens, as a :class:`~mtlscheck._wire.WireFailure`;
* :func:`classify` is a pure function from the frozen :class:`~mtlscheck._wire.WireRecord` of a
  probe to its outcome.  Its rules follow from how TLS works:

  - an alert wins over the error that carried it, and keeps the phase it arrived in (TLS 1.3
    servers reject the client certificate *after* the handshake, on our first read);
  - a ``protocol_version`` refusal is its own outcome (``tls-version``), never a rejection;
  - anything before the server's first TLS message (ServerHello) has no TLS phase: it cannot
    be a verdict on a certificate nobody asked for;
  - a reset or EOF once the server spoke TLS is a TLS-phase hang-up, never our own failure;
  - our side refusing the server (untrusted certificate, wrong name) is ``tls-local``, and it
    overrides whatever the server did next, because a client that checks would never have got
    that far.
"""

from __future__ import annotations

import errno
import re
import socket
import sys
from typing import TYPE_CHECKING

from mtlscheck._model import Outcome, OutcomeKind, Phase
from mtlscheck._wire import FailureKind, WireFailure, WireRecord

if TYPE_CHECKING:
    from mtlscheck._plain import PlainRecord

__all__ = ["classify", "classify_plain", "http_outcome", "is_wire_error", "wire_failure"]

# OpenSSL reasons seen when the peer's first bytes are not a TLS record.
_NOT_TLS = (
    "wrong version number",
    "packet length too long",
    "http request",
    "unknown protocol",
    "record layer failure",
    "record_layer_failure",
)
_EOF = ("unexpected eof", "eof while reading", "unexpected_eof")
# OpenSSL reasons when the two sides share no protocol version.
_VERSION = (
    "unsupported protocol",
    "unsupported_protocol",
    "no protocols available",
    "tlsv1 alert protocol version",
    "wrong ssl version",
    "version too low",
)

NGINX_CERT_REASONS = (
    "No required SSL certificate was sent",
    "The SSL certificate error",
    "SSL certificate error",
)
"""nginx's 400 pages for a client-certificate problem (its internal 496 and 495)."""
_NGINX_REASONS = (*NGINX_CERT_REASONS, "The plain HTTP request was sent to HTTPS port")


def http_outcome(status: int, body: bytes, server: str = "") -> Outcome:
    """An HTTP answer; for error pages, keep the server's reason (nginx's 400 says which)."""
    detail = ""
    if status >= 400 and body:
        text = body[:4096].decode("utf-8", "replace")
        for reason in _NGINX_REASONS:
            if reason in text:
                detail = reason
                break
        else:
            m = re.search(r"<title>(.*?)</title>", text, re.I | re.S)
            detail = (m.group(1) if m else text.strip().splitlines()[0] if text.strip() else "")[
                :120
            ]
    return Outcome(OutcomeKind.HTTP, status=status, detail=detail, server=server)


def _ssl_reasons(exc: BaseException) -> str:
    """Flatten pyOpenSSL's ``[(lib, func, reason), ...]`` error list to lower-case text."""
    parts: list[str] = []
    for arg in exc.args:
        if isinstance(arg, list):
            for item in arg:
                parts.append(
                    " ".join(str(x) for x in item) if isinstance(item, tuple) else str(item)
                )
        else:
            parts.append(str(arg))
    return "; ".join(p for p in parts if p).lower()


def _http_errors(
    httpx_names: tuple[str, ...], httpcore_names: tuple[str, ...]
) -> tuple[type[BaseException], ...]:
    """Exception classes of httpx/httpcore by name, if those modules are loaded (they are
    whenever an HTTP request was made; this module must not import them itself)."""
    found: list[type[BaseException]] = []
    for module, names in (("httpx", httpx_names), ("httpcore", httpcore_names)):
        loaded = sys.modules.get(module)
        if loaded is not None:
            found += [getattr(loaded, n) for n in names]
    return tuple(found)


def _http_protocol_errors() -> tuple[type[BaseException], ...]:
    """ "The response is not valid HTTP"."""
    return _http_errors(("RemoteProtocolError", "DecodingError"), ("RemoteProtocolError",))


def _http_transport_errors() -> tuple[type[BaseException], ...]:
    """Anything httpx/httpcore raise about the connection or the peer."""
    return _http_errors(
        ("TransportError", "DecodingError"), ("NetworkError", "TimeoutException", "ProtocolError")
    )


def is_wire_error(exc: BaseException) -> bool:
    """Is ``exc`` something the network or the peer did, as opposed to a bug of ours?

    Only these become outcomes about the server; anything else is ``internal-error``.
    """
    from OpenSSL import SSL

    from mtlscheck._io import Cancelled

    return isinstance(exc, (OSError, SSL.Error, TimeoutError, Cancelled, *_http_transport_errors()))


def wire_failure(exc: BaseException, phase: Phase | None, received: int = 0) -> WireFailure:
    """Name a low-level error the moment it happens (phase: when in the TLS conversation;
    ``received``: application bytes the server had sent by then)."""
    from OpenSSL import SSL

    from mtlscheck._io import Cancelled

    K = FailureKind
    if isinstance(exc, Cancelled):
        return WireFailure(K.CANCELLED, phase, "the run was cancelled")
    if isinstance(exc, _http_protocol_errors()):
        text = str(exc) or type(exc).__name__
        if "disconnected without sending a response" in text.lower() and not received:
            # h11's words for a close before a complete status line; with no byte at all that
            # is a hang-up, not bytes that fail to parse as HTTP (an HTTP/0.9 body is those).
            return WireFailure(K.EOF, phase, "the server closed the connection")
        return WireFailure(K.BAD_HTTP, phase, text)
    if isinstance(exc, TimeoutError | socket.timeout):
        return WireFailure(K.TIMEOUT, phase, "timed out")
    if isinstance(exc, socket.gaierror):
        return WireFailure(K.DNS, phase, str(exc.strerror or exc), exc.errno)
    if isinstance(exc, ConnectionRefusedError):
        return WireFailure(K.REFUSED, phase, "connection refused", exc.errno)
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return WireFailure(K.RESET, phase, "connection reset by the server", exc.errno)
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return WireFailure(K.UNREACHABLE, phase, str(exc.strerror or exc), exc.errno)
    if isinstance(exc, SSL.ZeroReturnError):
        return WireFailure(K.CLOSE_NOTIFY, phase, "the server closed the TLS connection")
    if isinstance(exc, SSL.SysCallError):
        code = exc.args[0] if exc.args else None
        if code in (errno.ECONNRESET, errno.EPIPE):
            return WireFailure(K.RESET, phase, "connection reset by the server", code)
        if code in (-1, 0, None):
            return WireFailure(K.EOF, phase, "the server closed the connection")
        return WireFailure(K.OS, phase, _ssl_reasons(exc), code if isinstance(code, int) else None)
    if isinstance(exc, SSL.Error):
        text = _ssl_reasons(exc)
        if any(r in text for r in _EOF):
            return WireFailure(K.EOF, phase, "the server closed the connection")
        return WireFailure(K.TLS, phase, text)
    if isinstance(exc, OSError):
        return WireFailure(K.OS, phase, str(exc.strerror or exc), exc.errno)
    # httpx wrappers of an error we already recorded at the TLS layer, or a transport error
    cause = exc.__cause__
    if cause is not None and cause is not exc:
        return wire_failure(cause, phase, received)
    return WireFailure(K.OS, phase, f"{type(exc).__name__}: {exc}")


def classify(rec: WireRecord) -> Outcome:
    """Map one probe's frozen record to its outcome (pure: no I/O, no live objects)."""
    f = rec.facts
    fail = rec.failure
    K = FailureKind

    if rec.http_status is not None:
        return http_outcome(rec.http_status, rec.http_body, rec.http_server)

    if f.server_hello_seen and not rec.insecure:
        if f.server_verify_error:
            return Outcome(
                OutcomeKind.TLS_LOCAL,
                reason="server-cert-untrusted",
                phase=Phase.HANDSHAKE,
                detail=f.server_verify_error,
            )
        if f.hostname_matches is False:
            return Outcome(
                OutcomeKind.TLS_LOCAL,
                reason="hostname-mismatch",
                phase=Phase.HANDSHAKE,
                detail=f"the server certificate does not cover {rec.host}",
            )

    if fail is None:
        # The server neither answered nor failed: it closed the HTTP exchange cleanly.
        phase = Phase.AFTER_HANDSHAKE if f.handshake_completed else Phase.HANDSHAKE
        return Outcome(
            OutcomeKind.CONNECT,
            reason="closed",
            phase=phase,
            detail="the server closed the connection without an HTTP response",
        )

    if not rec.tcp_connected:
        return _before_tcp(fail, rec.host)

    alerts = [(name, phase) for name, phase in rec.alerts_received if name != "close_notify"]
    if _version_refused(fail, alerts, f.server_hello_seen):
        return Outcome(
            OutcomeKind.TLS_VERSION,
            reason="not-offered",
            phase=Phase.HANDSHAKE,
            detail="the server refused the TLS version offered (protocol_version)",
        )
    if alerts:
        name, phase = alerts[-1]
        return Outcome(OutcomeKind.TLS_ALERT, alert=name, phase=phase, detail=fail.detail)
    if fail.kind is K.TIMEOUT:
        # Before any ServerHello there is no TLS phase to speak of (see the module docstring).
        when = fail.phase if f.server_hello_seen else None
        return Outcome(
            OutcomeKind.CONNECT,
            reason="timeout",
            phase=when,
            detail="no answer within the timeout"
            + (
                " after the handshake"
                if when is Phase.AFTER_HANDSHAKE
                else " during the TLS handshake"
                if f.server_hello_seen
                else " to the TLS ClientHello"
            ),
        )
    if fail.kind is K.CANCELLED:
        return Outcome(
            OutcomeKind.CONNECT, reason="cancelled", phase=fail.phase, detail=fail.detail
        )
    if fail.kind is K.BAD_HTTP:
        return Outcome(
            OutcomeKind.CONNECT,
            reason="bad-http",
            phase=Phase.AFTER_HANDSHAKE,
            detail=f"the answer is not a valid HTTP/1.1 response: {fail.detail}"[:300],
        )
    if not f.server_hello_seen:
        return _before_server_hello(fail, rec)
    return _after_server_hello(fail, f.alert_sent)


def _before_tcp(fail: WireFailure, host: str) -> Outcome:
    K = FailureKind
    if fail.kind is K.DNS:
        return Outcome(
            OutcomeKind.CONNECT, reason="dns", detail=f"cannot resolve {host}: {fail.detail}"
        )
    if fail.kind is K.REFUSED:
        return Outcome(OutcomeKind.CONNECT, reason="refused", detail="connection refused")
    if fail.kind is K.TIMEOUT:
        return Outcome(OutcomeKind.CONNECT, reason="timeout", detail="TCP connect timed out")
    if fail.kind is K.CANCELLED:
        return Outcome(OutcomeKind.CONNECT, reason="cancelled", detail=fail.detail)
    if fail.kind is K.UNREACHABLE:
        return Outcome(OutcomeKind.CONNECT, reason="unreachable", detail=fail.detail)
    return Outcome(OutcomeKind.CONNECT, reason="error", detail=fail.detail)


def _version_refused(
    fail: WireFailure, alerts: list[tuple[str, Phase]], server_hello_seen: bool
) -> bool:
    if any(name == "protocol_version" for name, _ in alerts) and not server_hello_seen:
        return True
    return fail.kind is FailureKind.TLS and any(r in fail.detail for r in _VERSION)


def _before_server_hello(fail: WireFailure, rec: WireRecord) -> Outcome:
    """Nothing TLS came back: whatever this is, it is not a verdict on a client certificate
    (none was ever asked for), so it gets no TLS phase."""
    K = FailureKind
    if fail.kind is K.TLS and any(r in fail.detail for r in _NOT_TLS):
        return Outcome(
            OutcomeKind.NOT_TLS,
            detail="the port answered with something that is not TLS (plain HTTP?)",
        )
    if fail.kind is K.RESET:
        return Outcome(
            OutcomeKind.CONNECT,
            reason="reset",
            detail="the server reset the connection before answering the TLS ClientHello",
        )
    if fail.kind in (K.EOF, K.CLOSE_NOTIFY):
        return Outcome(
            OutcomeKind.CONNECT,
            reason="closed",
            detail="the server hung up before answering the TLS ClientHello",
        )
    if fail.kind is K.TLS:
        return Outcome(
            OutcomeKind.CONNECT,
            reason="bad-tls",
            detail=f"the server's answer to the ClientHello is not valid TLS: {fail.detail}",
        )
    return Outcome(OutcomeKind.CONNECT, reason="error", detail=fail.detail)


def _after_server_hello(fail: WireFailure, alert_sent: str | None) -> Outcome:
    K = FailureKind
    phase = fail.phase or Phase.HANDSHAKE
    if fail.kind is K.RESET:
        return Outcome(
            OutcomeKind.CONNECT,
            reason="reset",
            phase=phase,
            detail="connection reset by the server",
        )
    if fail.kind in (K.EOF, K.CLOSE_NOTIFY):
        return Outcome(
            OutcomeKind.CONNECT,
            reason="closed",
            phase=phase,
            detail="the server closed the connection"
            + (" right after the handshake" if phase is Phase.AFTER_HANDSHAKE else ""),
        )
    if fail.kind is K.TLS and phase is Phase.AFTER_HANDSHAKE:
        if alert_sent is None:
            # OpenSSL failed without our side saying anything: the server broke off.
            return Outcome(
                OutcomeKind.CONNECT,
                reason="closed",
                phase=phase,
                detail=f"the server broke off the connection ({fail.detail or 'no reason'})",
            )
        return Outcome(
            OutcomeKind.CONNECT,
            reason="bad-tls",
            phase=phase,
            detail=f"the server sent invalid TLS after the handshake: {fail.detail}",
        )
    if fail.kind is K.TLS:
        # Our side aborted the handshake (a malformed or oversized server message).
        return Outcome(
            OutcomeKind.TLS_LOCAL,
            reason=alert_sent or "tls-error",
            phase=phase,
            detail=fail.detail,
        )
    return Outcome(OutcomeKind.CONNECT, reason="error", phase=phase, detail=fail.detail)


_STATUS_LINE = re.compile(rb"^HTTP/1\.[01] ([1-5][0-9][0-9])(?:\s|$)")
_TLS_RECORD_TYPES = {0x15: "alert", 0x16: "handshake"}


def classify_plain(rec: PlainRecord) -> Outcome:
    """The ``plaintext`` probe: what a TLS port answered to plain HTTP (pure, like classify).

    No TLS was spoken, so nothing here has a TLS phase.  An HTTP answer is ``http`` (nginx's
    "plain HTTP request was sent to HTTPS port" page, Apache's and Go's 400 - or a 200 from a
    listener that takes both); TLS bytes back are the server insisting on TLS (an alert record
    becomes ``tls-alert``); a hang-up is ``connect closed/reset``.
    """
    data = rec.data
    if data:
        m = _STATUS_LINE.match(data.split(b"\n", 1)[0].rstrip(b"\r"))
        if m is not None:
            status = int(m.group(1))
            head, _, body = data.partition(b"\r\n\r\n")
            out = http_outcome(status, body)
            if 300 <= status < 400:
                location = next(
                    (
                        line.partition(b":")[2].strip().decode("latin-1")
                        for line in head.split(b"\r\n")[1:]
                        if line.partition(b":")[0].strip().lower() == b"location"
                    ),
                    "",
                )
                out = Outcome(
                    OutcomeKind.HTTP, status=status, detail=f"redirect to {location}"[:300]
                )
            return out
        if len(data) >= 5 and data[0] in _TLS_RECORD_TYPES and data[1] == 3:
            if data[0] == 0x15 and len(data) >= 7:
                from mtlscheck._alerts import alert_name

                return Outcome(
                    OutcomeKind.TLS_ALERT,
                    alert=alert_name(data[6]),
                    phase=Phase.HANDSHAKE,
                    detail="the server answered plain HTTP with a TLS alert record",
                )
            return Outcome(
                OutcomeKind.CONNECT,
                reason="bad-http",
                detail="the server answered plain HTTP with a TLS record (it speaks only TLS)",
            )
        return Outcome(
            OutcomeKind.CONNECT,
            reason="bad-http",
            detail=f"the answer to plain HTTP is not HTTP: {data[:60]!r}",
        )
    fail = rec.failure
    if fail is None:
        return Outcome(
            OutcomeKind.CONNECT,
            reason="closed",
            detail="the server closed the connection without answering plain HTTP",
        )
    if not rec.tcp_connected:
        return _before_tcp(fail, rec.host)
    K = FailureKind
    if fail.kind is K.RESET:
        return Outcome(
            OutcomeKind.CONNECT, reason="reset", detail="the server reset the plain HTTP connection"
        )
    if fail.kind in (K.EOF, K.CLOSE_NOTIFY):
        return Outcome(
            OutcomeKind.CONNECT,
            reason="closed",
            detail="the server closed the connection without answering plain HTTP",
        )
    if fail.kind is K.TIMEOUT:
        return Outcome(
            OutcomeKind.CONNECT,
            reason="timeout",
            detail="no answer to plain HTTP within the timeout",
        )
    if fail.kind is K.CANCELLED:
        return Outcome(OutcomeKind.CONNECT, reason="cancelled", detail=fail.detail)
    return Outcome(OutcomeKind.CONNECT, reason="error", detail=fail.detail)
