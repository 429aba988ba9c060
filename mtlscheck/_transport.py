"""httpx over the probe's own pyOpenSSL connection.

A probe must get its handshake facts and its HTTP status from *one* connection: the TLS 1.3
rejection of a client certificate only shows on the first read after the request.  httpcore's
``HTTP11Connection`` speaks HTTP/1.1 over any ``NetworkStream``, so we hand it a stream backed by
:class:`~mtlscheck._tls.TLSClient` and put an ``httpx.BaseTransport`` in front; httpx then does
the request building and response parsing it is good at, and nothing opens a second socket.
(A full ``ConnectionPool(network_backend=...)`` would also work, but it would build an
``ssl.SSLContext`` we never use and pool connections we never reuse.)
"""

from __future__ import annotations

import functools
import typing

import httpcore
import httpx
from OpenSSL import SSL

from mtlscheck._io import Cancelled
from mtlscheck._tls import TLSClient

__all__ = ["OneConnectionTransport"]


class _TLSStream(httpcore.NetworkStream):
    """A ``NetworkStream`` whose bytes travel through an already-handshaken TLSClient."""

    def __init__(self, client: TLSClient) -> None:
        self._client = client

    # Only wire errors become httpcore errors: a bug of ours must surface as itself (and be
    # reported as internal-error), not be disguised as something the server did.

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return self._client.recv(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(str(exc)) from exc
        except (OSError, SSL.Error, Cancelled) as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            self._client.send(buffer)
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc)) from exc
        except (OSError, SSL.Error, Cancelled) as exc:
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc

    def close(self) -> None:
        self._client.close()

    def start_tls(
        self,
        ssl_context: typing.Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return self  # TLS is already up: that was the whole point of the probe

    def get_extra_info(self, info: str) -> typing.Any:
        return None


_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
)


@functools.lru_cache(maxsize=4096)
def _ascii_host(host: str) -> bytes:
    """The host as the request's origin (the idna codec is slow, and a fleet asks per probe)."""
    return host.encode("idna")


class OneConnectionTransport(httpx.BaseTransport):
    """Send exactly one request over the probe's TLS connection."""

    def __init__(self, client: TLSClient) -> None:
        s = client.settings
        origin = httpcore.Origin(b"https", _ascii_host(s.host), s.port)
        self._conn = httpcore.HTTP11Connection(origin, _TLSStream(client))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        req = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            resp = self._conn.handle_request(req)
        except Exception as exc:
            for core, mapped in _ERRORS:
                if isinstance(exc, core):
                    raise mapped(str(exc)) from exc
            raise
        assert isinstance(resp.stream, typing.Iterable)
        return httpx.Response(
            status_code=resp.status,
            headers=resp.headers,
            stream=_ResponseStream(resp.stream),
            extensions=resp.extensions,
        )

    def close(self) -> None:
        self._conn.close()


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, stream: typing.Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> typing.Iterator[bytes]:
        yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()
