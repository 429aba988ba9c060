"""What one probe connection saw on the wire, as a frozen value.

:class:`~mtlscheck._tls.TLSClient` fills a :class:`WireRecord`; the pure function
:func:`mtlscheck._outcome.classify` turns it into an :class:`~mtlscheck.Outcome`.  Nothing reads
the live connection object to decide a verdict, so every rule of the classification can be
tested with a table of records, without a network.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mtlscheck._model import HandshakeFacts, Phase

__all__ = ["FailureKind", "WireFailure", "WireRecord"]


class FailureKind(StrEnum):
    """The first thing that went wrong, named by what the wire (or our side) did."""

    DNS = "dns"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    RESET = "reset"
    """ECONNRESET / EPIPE: the peer's TCP stack answered with RST."""
    EOF = "eof"
    """A close without close_notify."""
    CLOSE_NOTIFY = "close-notify"
    TLS = "tls"
    """OpenSSL refused to go on; ``detail`` carries its reasons."""
    BAD_HTTP = "bad-http"
    """TLS was fine, but the bytes were not an HTTP/1.1 response we can parse."""
    OS = "os"
    """Any other operating-system error (``errno`` says which)."""


@dataclass(frozen=True)
class WireFailure:
    """The first failure of a probe connection and when it happened."""

    kind: FailureKind
    phase: Phase | None
    """None: before the TLS handshake started (DNS, TCP connect)."""
    detail: str = ""
    errno: int | None = None


@dataclass(frozen=True)
class WireRecord:
    """Everything one connection revealed, frozen when the probe ended."""

    host: str
    """The name the probe connected to (for messages)."""
    tcp_connected: bool
    facts: HandshakeFacts
    alerts_received: tuple[tuple[str, Phase], ...] = ()
    """Every alert the server sent (close_notify included), in order, with its phase."""
    failure: WireFailure | None = None
    insecure: bool = False
    """The user asked not to verify the server certificate (``--insecure``)."""
    http_status: int | None = None
    http_body: bytes = b""
    """The start of the response body (enough for nginx's reason line)."""
    http_server: str = ""
    """The response's ``Server`` header, if any."""
