"""The ONE place that turns what happened on the wire into an :class:`Outcome`.

Everything else raises or records raw facts (``OSError``, ``OpenSSL.SSL.Error``, httpx errors,
the alerts the info callback saw); this module decides what they mean.  Keeping the mapping in
one function makes the subtle cases reviewable side by side:

* an alert wins over the error that carried it, and keeps the phase it arrived in (TLS 1.3
  servers reject the client certificate *after* the handshake, on our first read);
* an EOF/reset once TCP is up is a TLS-phase hang-up (a rejection), not a network failure;
* garbage instead of a ServerHello means the port speaks plain text: ``not-tls``.
"""

from __future__ import annotations

import errno
import re
import socket

from mtlscheck._alerts import alert_name
from mtlscheck._model import Outcome, OutcomeKind, Phase
from mtlscheck._tls import TLSClient

__all__ = ["classify_failure", "http_outcome"]

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

_NGINX_REASONS = (
    "No required SSL certificate was sent",
    "The SSL certificate error",
    "SSL certificate error",
    "The plain HTTP request was sent to HTTPS port",
)


def http_outcome(status: int, body: bytes) -> Outcome:
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
    return Outcome(OutcomeKind.HTTP, status=status, detail=detail)


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


def _is_reset(err: BaseException) -> bool:
    from OpenSSL import SSL

    if isinstance(err, ConnectionResetError | BrokenPipeError):
        return True
    return (
        isinstance(err, SSL.SysCallError)
        and bool(err.args)
        and err.args[0]
        in (
            errno.ECONNRESET,
            errno.EPIPE,
        )
    )


def _root(exc: BaseException) -> BaseException:
    """The low-level error under httpx/httpcore wrappers."""
    seen = exc
    while seen.__cause__ is not None:
        seen = seen.__cause__
    return seen


def classify_failure(client: TLSClient, exc: BaseException) -> Outcome:
    """Map a failed probe connection (the error raised and the facts recorded) to an Outcome."""
    from OpenSSL import SSL

    failure = client.failure
    err = failure.error if failure is not None else _root(exc)
    phase = (
        failure.phase
        if failure is not None
        else (Phase.AFTER_HANDSHAKE if client.handshake_done else Phase.HANDSHAKE)
    )
    text = _ssl_reasons(err) if isinstance(err, SSL.Error) else str(err)

    if not client.tcp_connected:
        if isinstance(err, socket.gaierror):
            return Outcome(
                OutcomeKind.CONNECT,
                reason="dns",
                detail=f"cannot resolve {client.settings.host}: {err.strerror}",
            )
        if isinstance(err, ConnectionRefusedError):
            return Outcome(OutcomeKind.CONNECT, reason="refused", detail="connection refused")
        if isinstance(err, TimeoutError | socket.timeout):
            return Outcome(OutcomeKind.CONNECT, reason="timeout", detail="TCP connect timed out")
        if isinstance(err, OSError) and err.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return Outcome(OutcomeKind.CONNECT, reason="unreachable", detail=str(err.strerror))
        return Outcome(OutcomeKind.CONNECT, reason="error", detail=str(err))

    if client.alert_received is not None and client.alert_received != 0:
        return Outcome(
            OutcomeKind.TLS_ALERT,
            alert=alert_name(client.alert_received),
            phase=client.alert_received_phase,
            detail=text,
        )
    if isinstance(err, TimeoutError | socket.timeout) or "timed out" in text:
        return Outcome(
            OutcomeKind.CONNECT,
            reason="timeout",
            phase=phase,
            detail="no answer within the timeout"
            + (
                " after the handshake"
                if phase is Phase.AFTER_HANDSHAKE
                else " during the TLS handshake"
            ),
        )
    if phase is Phase.HANDSHAKE and client.bytes_received == 0 and any(r in text for r in _NOT_TLS):
        return Outcome(
            OutcomeKind.NOT_TLS,
            detail="the port answered with something that is not TLS (plain HTTP?)",
        )
    if phase is Phase.HANDSHAKE and not client.server_hello_seen:
        # Nothing TLS came back at all: whatever this is, it is not a verdict on a client
        # certificate (none was ever asked for), so it gets no TLS phase.
        return Outcome(
            OutcomeKind.CONNECT,
            reason="reset" if _is_reset(err) else "closed",
            detail="the server hung up before answering the TLS ClientHello",
        )
    if isinstance(err, SSL.SysCallError):
        code = err.args[0] if err.args else None
        if code in (errno.ECONNRESET, errno.EPIPE):
            return Outcome(
                OutcomeKind.CONNECT,
                reason="reset",
                phase=phase,
                detail="connection reset by the server",
            )
        return Outcome(
            OutcomeKind.CONNECT,
            reason="closed",
            phase=phase,
            detail="the server closed the connection",
        )
    if isinstance(err, ConnectionResetError | BrokenPipeError):
        return Outcome(
            OutcomeKind.CONNECT,
            reason="reset",
            phase=phase,
            detail="connection reset by the server",
        )
    if isinstance(err, SSL.ZeroReturnError) or any(r in text for r in _EOF):
        return Outcome(
            OutcomeKind.CONNECT,
            reason="closed",
            phase=phase,
            detail="the server closed the connection",
        )
    if "disconnected without sending a response" in text or "server disconnected" in text:
        return Outcome(
            OutcomeKind.CONNECT,
            reason="closed",
            phase=Phase.AFTER_HANDSHAKE,
            detail="the server closed the connection without an HTTP response",
        )
    # After the hang-up checks: on an EOF mid-handshake OpenSSL "sends" decode_error itself,
    # which is the server hanging up, not our side refusing.
    if client.alert_sent is not None:
        return Outcome(
            OutcomeKind.TLS_LOCAL, reason=alert_name(client.alert_sent), phase=phase, detail=text
        )
    if isinstance(err, SSL.Error):
        return Outcome(OutcomeKind.TLS_LOCAL, reason="tls-error", phase=phase, detail=text)
    return Outcome(
        OutcomeKind.CONNECT, reason="error", phase=phase, detail=f"{type(err).__name__}: {text}"
    )
