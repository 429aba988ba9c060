"""The ``plaintext`` probe's exchange: one plain HTTP/1.1 request over TCP to the TLS port.

A listener that takes both plain HTTP and TLS on one port (a multiplexing proxy, a service
mesh sidecar in permissive mode) lets every client skip client authentication by not speaking
TLS at all.  This module only talks and records (:class:`PlainRecord`);
:func:`mtlscheck._outcome.classify_plain` says what the answer means.  Like the TLS client,
every wait goes through :mod:`mtlscheck._io` under the probe's one deadline.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass

from mtlscheck._io import Deadline, resolve, tcp_connect, wait_ready
from mtlscheck._outcome import wire_failure
from mtlscheck._wire import WireFailure

__all__ = ["PlainRecord", "plain_request", "request_bytes"]

_LIMIT = 16384
"""Bytes read at most: the status line, headers and the start of the body are enough."""


@dataclass(frozen=True)
class PlainRecord:
    """What the port answered to plain HTTP, frozen: the input of ``classify_plain``."""

    host: str
    tcp_connected: bool
    data: bytes = b""
    """The first bytes the server sent (at most 16 KB)."""
    failure: WireFailure | None = None
    """The first failure (connect, reset, timeout); None for a clean close or a full answer."""


def request_bytes(
    method: str, host_header: str, path: str, headers: tuple[tuple[str, str], ...]
) -> bytes:
    """The request, as curl would send it over ``http://`` (headers were validated upstream)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host_header}"]
    given = {k.lower() for k, _ in headers}
    if "user-agent" not in given:
        lines.append("User-Agent: mtlscheck")
    lines += [f"{k}: {v}" for k, v in headers if k.lower() not in ("host", "connection")]
    lines += ["Accept: */*", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


def _complete(data: bytes) -> bool:
    """The headers are in, and the body too when its length is declared (or no body)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return False
    length = None
    for line in data[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            with contextlib.suppress(ValueError):
                length = int(value.strip())
    return length is not None and len(data) - end - 4 >= length


def plain_request(
    host: str,
    port: int,
    request: bytes,
    deadline: Deadline,
    *,
    address: str | None = None,
    addresses: tuple[tuple[int, tuple[object, ...]], ...] | None = None,
) -> PlainRecord:
    """Connect, send ``request``, read the answer until the server closes, the answer is
    complete, 16 KB came, or the deadline passes; never raises for what the server does."""
    sock: socket.socket | None = None
    data = b""
    connected = False
    try:
        found = list(addresses) if addresses else resolve(address or host, port, deadline)
        sock = tcp_connect(found, deadline)
        connected = True
        view = memoryview(request)
        while view:
            wait_ready(sock, write=True, deadline=deadline)
            try:
                view = view[sock.send(view) :]
            except BlockingIOError:
                continue
        while len(data) < _LIMIT and not _complete(data):
            wait_ready(sock, write=False, deadline=deadline)
            try:
                chunk = sock.recv(_LIMIT - len(data))
            except BlockingIOError:
                continue
            if not chunk:
                break
            data += chunk
        return PlainRecord(host, True, data)
    except (OSError, TimeoutError) as exc:
        return PlainRecord(host, connected, data, wire_failure(exc, None))
    except BaseException as exc:
        from mtlscheck._io import Cancelled

        if isinstance(exc, Cancelled):
            return PlainRecord(host, connected, data, wire_failure(exc, None))
        raise
    finally:
        if sock is not None:
            sock.close()
