"""Built-in reference mTLS server: a known-good (or known-misconfigured) target.

Why it exists: the demo, the pytest plugin and the unit tests need an HTTPS endpoint whose
client-certificate behaviour is known exactly, without installing nginx or Apache.  It imitates
the three behaviours that matter for mTLS checking:

* ``nginx`` (``ssl_verify_client on``): the TLS handshake always completes; the verdict on the
  client certificate is *recorded* by a verify callback that never refuses, and the HTTP layer
  answers 400 with nginx's exact error pages (internal codes 496/495).  pyOpenSSL is needed
  here because only its ``Context.set_verify(mode, callback)`` lets a server record a failure
  and carry on; the stdlib ``ssl`` module cannot.
* ``apache`` (``SSLVerifyClient require``): OpenSSL's normal verification with
  ``VERIFY_FAIL_IF_NO_PEER_CERT``, so a missing or bad certificate fails the handshake with the
  alert OpenSSL sends (under TLS 1.3 the client only sees it on its first read).
* ``optional``: a certificate is requested but never required or checked, the most common
  silent misconfiguration (nginx ``optional`` without looking at ``$ssl_client_verify``).

Every HTTP answer carries ``X-Client-Verify`` (``SUCCESS`` / ``NONE`` / ``FAILED:<reason>``, like
nginx's ``$ssl_client_verify``) and ``X-Client-Subject`` so a team can also test its own mTLS
client against this server.

The server is deliberately small: one accept thread plus one short-lived daemon thread per
connection, non-blocking sockets driven by ``select`` with short slices, so a silent or slow
client can neither hang a worker past its deadline nor delay :meth:`ReferenceServer.stop`.
It must stay light to import (it is on the pytest plugin's import path): no httpx, rich, typer.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from cryptography import x509
from OpenSSL import SSL, crypto

from mtlscheck import _io
from mtlscheck._alerts import verify_error_string

__all__ = [
    "NGINX_CERT_ERROR_BODY",
    "NGINX_NO_CERT_BODY",
    "ReferenceServer",
    "RequestRecord",
    "ServerMode",
]

_log = logging.getLogger(__name__)

_T = TypeVar("_T")

_VERSIONS: dict[str, int] = {"1.2": SSL.TLS1_2_VERSION, "1.3": SSL.TLS1_3_VERSION}
_MAX_HEAD = 16 * 1024
"""Bound on the request head, so a client streaming garbage cannot grow memory unbounded."""
_SLICE = 0.05
"""Longest single wait on a socket; between slices a worker checks whether the server stops."""
_LINGER = 1.0
"""How long to drain a client after our last byte (see :meth:`ReferenceServer._linger_close`)."""


def _nginx_page(title: str) -> bytes:
    """nginx's built-in error page, byte for byte, so body-based detection can be tested."""
    return (
        f"<html>\r\n<head><title>400 {title}</title></head>\r\n<body>\r\n"
        f"<center><h1>400 Bad Request</h1></center>\r\n<center>{title}</center>\r\n"
        "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    ).encode("ascii")


NGINX_NO_CERT_BODY = _nginx_page("No required SSL certificate was sent")
"""nginx's answer for internal code 496 (no client certificate)."""
NGINX_CERT_ERROR_BODY = _nginx_page("The SSL certificate error")
"""nginx's answer for internal code 495 (client certificate failed verification)."""


class ServerMode(StrEnum):
    """Which real server's client-certificate behaviour to imitate."""

    NGINX = "nginx"
    APACHE = "apache"
    OPTIONAL = "optional"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One HTTP request the server answered; tests assert on these.

    ``client_subject`` is the RFC 4514 subject of the certificate the client presented (also
    when it failed verification), or ``None`` when it presented none.  ``verify`` is the value
    of the ``X-Client-Verify`` header: ``SUCCESS``, ``NONE`` or ``FAILED:<reason>``.
    """

    path: str
    method: str
    client_subject: str | None
    verify: str
    status: int = 200
    protocol: str = ""


class _Abort(Exception):
    """Internal: the connection's deadline passed or the server is stopping."""


@dataclass
class _VerifyState:
    """Per-connection verification verdict, filled in by the verify callback.

    The first failure is kept (deepest cause first seen), because it names the real problem:
    for a foreign-CA leaf that is "unable to verify the first certificate", not a later
    consequence.
    """

    errno: int = 0
    depth: int = 0
    called: bool = False

    @property
    def failed(self) -> bool:
        return self.errno != 0


def _load_crls(path: Path) -> list[x509.CertificateRevocationList]:
    """Every CRL in a PEM file (one per CA of a chain is common), or a single DER CRL."""
    data = path.read_bytes()
    blocks = re.findall(
        rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", data, flags=re.DOTALL
    )
    if blocks:
        return [x509.load_pem_x509_crl(block) for block in blocks]
    return [x509.load_der_x509_crl(data)]


class ReferenceServer:
    """A threaded HTTPS server on 127.0.0.1 with a chosen client-certificate behaviour.

    Use as a context manager (``with ReferenceServer(...) as srv: ... srv.url``) or call
    :meth:`start` / :meth:`stop`.  ``port=0`` picks a free port; read :attr:`port` after start.
    """

    def __init__(
        self,
        *,
        cert: Path | str,
        key: Path | str,
        client_ca: Path | str,
        mode: ServerMode | str = ServerMode.APACHE,
        crl: Path | str | None = None,
        chain: Path | str | None = None,
        request_cert: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        min_version: str = "1.2",
        max_version: str = "1.3",
        verify_depth: int | None = None,
        timeout: float = 10.0,
    ) -> None:
        """Validate the options; files are read by :meth:`start` so errors surface there too.

        ``verify_depth`` mirrors ``ssl_verify_depth`` / ``SSLVerifyDepth`` (None = OpenSSL's
        default).  ``timeout`` bounds handshake plus request head per connection.
        """
        self.mode = ServerMode(mode)
        for name, value in (("min_version", min_version), ("max_version", max_version)):
            if value not in _VERSIONS:
                raise ValueError(f"{name} must be one of {sorted(_VERSIONS)}, not {value!r}")
        if _VERSIONS[min_version] > _VERSIONS[max_version]:
            raise ValueError(f"min_version {min_version} is above max_version {max_version}")
        self.cert = Path(cert)
        self.key = Path(key)
        self.client_ca = Path(client_ca)
        self.crl = Path(crl) if crl is not None else None
        self.chain = Path(chain) if chain is not None else None
        self.request_cert = request_cert
        self.host = host
        self.port = port
        self.min_version = min_version
        self.max_version = max_version
        self.verify_depth = verify_depth
        self.timeout = timeout
        self.requests: list[RequestRecord] = []
        self._requests_lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._workers: set[threading.Thread] = set()
        self._workers_lock = threading.Lock()
        self._context: SSL.Context | None = None

    # ------------------------------------------------------------------ construction helpers

    @classmethod
    def from_pki_dir(
        cls, directory: Path | str, mode: ServerMode | str = ServerMode.APACHE, **kw: Any
    ) -> ReferenceServer:
        """Build from a test-PKI directory's ``manifest.json`` (see ``mtlscheck._pki``).

        Reads only the manifest (server cert/key, CA cert, optional CRL), so this module does
        not import the PKI builder.  Keyword arguments override anything from the manifest;
        pass ``crl=None`` to serve without revocation checking.
        """
        root = Path(directory)
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
        roles = manifest["roles"]
        options: dict[str, Any] = {
            "cert": root / roles["server"]["cert"],
            "key": root / roles["server"]["key"],
            "client_ca": root / roles["ca"]["cert"],
        }
        if manifest.get("crl"):
            options["crl"] = root / manifest["crl"]
        options.update(kw)
        return cls(mode=mode, **options)

    @property
    def url(self) -> str:
        """Base URL of the running server, by the address it listens on (the test PKI names
        127.0.0.1 and ::1)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}/"

    def _build_context(self) -> SSL.Context:
        """One TLS context for all connections, configured like the imitated server."""
        ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        ctx.set_min_proto_version(_VERSIONS[self.min_version])
        ctx.set_max_proto_version(_VERSIONS[self.max_version])
        ctx.use_certificate_chain_file(str(self.cert))
        ctx.use_privatekey_file(str(self.key))
        ctx.check_privatekey()
        if self.chain is not None:
            for extra in x509.load_pem_x509_certificates(self.chain.read_bytes()):
                ctx.add_extra_chain_cert(extra)
        # No session resumption: every probe must see a full handshake with a fresh
        # certificate check, otherwise a resumed session would skip the client verification.
        ctx.set_session_id(b"mtlscheck-reference")
        ctx.set_session_cache_mode(SSL.SESS_CACHE_OFF)
        ctx.set_options(SSL.OP_NO_TICKET)
        if not self.request_cert:
            ctx.set_verify(SSL.VERIFY_NONE)
            return ctx
        ctx.load_verify_locations(str(self.client_ca))
        for ca in x509.load_pem_x509_certificates(self.client_ca.read_bytes()):
            ctx.add_client_ca(ca)
        if self.crl is not None:
            store = ctx.get_cert_store()
            if store is None:  # pragma: no cover - OpenSSL always creates one
                raise RuntimeError("TLS context has no certificate store")
            for crl in _load_crls(self.crl):
                store.add_crl(crl)
            store.set_flags(crypto.X509StoreFlags.CRL_CHECK | crypto.X509StoreFlags.CRL_CHECK_ALL)
        if self.verify_depth is not None:
            ctx.set_verify_depth(self.verify_depth)
        mode = SSL.VERIFY_PEER
        if self.mode is ServerMode.APACHE:
            mode |= SSL.VERIFY_FAIL_IF_NO_PEER_CERT
        ctx.set_verify(mode, self._verify_callback)
        return ctx

    def _verify_callback(
        self, conn: SSL.Connection, cert: crypto.X509, errno: int, depth: int, ok: int
    ) -> bool:
        """Record the verdict; refuse only in apache mode (OpenSSL's normal behaviour).

        nginx and optional mode return True whatever happened, which is exactly what nginx's
        own callback does: the handshake completes and the HTTP layer decides.
        """
        state = conn.get_app_data()
        if isinstance(state, _VerifyState):
            state.called = True
            if not ok and not state.failed:
                state.errno, state.depth = errno, depth
        if self.mode is ServerMode.APACHE:
            return bool(ok)
        return True

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> ReferenceServer:
        """Bind, listen and serve from a daemon thread; returns self for chaining."""
        if self._accept_thread is not None:
            raise RuntimeError("server already started")
        self._context = self._build_context()
        self._stopping.clear()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            # Lets a restarted server rebind the port while old connections sit in TIME_WAIT.
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port))
            listener.listen(64)
            listener.setblocking(False)
        except BaseException:
            listener.close()
            raise
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"mtlscheck-server-{self.port}", daemon=True
        )
        self._accept_thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener (the port is free on return) and join all threads, bounded.

        Workers notice the stop within one wait slice (50 ms) because they never block on a
        socket for longer; ``timeout`` only guards against a bug turning stop into a hang.
        """
        self._stopping.set()
        deadline = time.monotonic() + timeout
        if self._accept_thread is not None:
            self._accept_thread.join(max(0.0, deadline - time.monotonic()))
            self._accept_thread = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._workers_lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> ReferenceServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"ReferenceServer(mode={self.mode.value!r}, url={self.url!r})"

    # ------------------------------------------------------------------ serving

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stopping.is_set():
            try:
                forever = _io.Deadline(float("inf"), self._stopping)
                until = time.monotonic() + _SLICE
                if not _io.wait_ready(listener, write=False, deadline=forever, until=until):
                    continue
                sock, _addr = listener.accept()
            except _io.Cancelled:
                break
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                if self._stopping.is_set():
                    break
                _log.debug("accept failed", exc_info=True)
                continue
            worker = threading.Thread(
                target=self._serve_one, args=(sock,), name="mtlscheck-server-conn", daemon=True
            )
            with self._workers_lock:
                self._workers.add(worker)
            worker.start()
        # Close here, not only in stop(): the port must be free as soon as this thread ends.
        listener.close()

    def _serve_one(self, sock: socket.socket) -> None:
        """Handle one connection; never lets an exception escape (no thread tracebacks)."""
        try:
            self._handle(sock)
        except Exception:
            _log.debug("connection handler failed", exc_info=True)
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            with self._workers_lock:
                self._workers.discard(threading.current_thread())

    def _wait(self, sock: socket.socket, *, write: bool, deadline: float) -> None:
        """Wait until ``sock`` is ready; the shared helper notices a stop within a slice."""
        try:
            _io.wait_ready(sock, write=write, deadline=_io.Deadline(deadline, self._stopping))
        except (TimeoutError, _io.Cancelled) as exc:
            raise _Abort(str(exc)) from None

    def _io(self, sock: socket.socket, op: Callable[[], _T], deadline: float) -> _T:
        """Run a pyOpenSSL operation on a non-blocking socket (the client's own I/O loop:
        WANT_READ/WANT_WRITE retried, the deadline and a stop checked on every turn)."""
        try:
            return _io.pump(
                op,
                sock,
                _io.Deadline(deadline, self._stopping),
                want_read=SSL.WantReadError,
                want_write=SSL.WantWriteError,
            )
        except (TimeoutError, _io.Cancelled) as exc:
            raise _Abort(str(exc)) from None

    def _handle(self, sock: socket.socket) -> None:
        assert self._context is not None
        sock.setblocking(False)
        deadline = time.monotonic() + self.timeout
        conn = SSL.Connection(self._context, sock)
        state = _VerifyState()
        conn.set_app_data(state)
        conn.set_accept_state()
        try:
            self._io(sock, conn.do_handshake, deadline)
        except (SSL.Error, OSError, _Abort) as exc:
            # apache mode refusing a certificate lands here after OpenSSL sent its alert;
            # so do port scanners, plain-HTTP clients and resets.  None of it is an error of
            # the server.  Drain before closing so the alert is not destroyed by a TCP RST.
            _log.debug("handshake ended: %r", exc)
            self._linger_close(sock)
            return
        try:
            head = self._read_head(conn, sock, deadline)
        except (SSL.Error, OSError, _Abort) as exc:
            _log.debug("request read ended: %r", exc)
            self._linger_close(sock)
            return
        if head is None:
            self._linger_close(sock)
            return
        status, extra_headers, body, record = self._respond_to(conn, state, head)
        with self._requests_lock:
            self.requests.append(record)
        response = self._render(status, extra_headers, body, record)
        try:
            self._send_all(conn, sock, response, deadline)
            with contextlib.suppress(SSL.Error):
                conn.shutdown()  # close_notify; a non-blocking WANT_* here is fine to ignore
        except (SSL.Error, OSError, _Abort) as exc:
            _log.debug("response write ended: %r", exc)
        self._linger_close(sock)

    def _read_head(
        self, conn: SSL.Connection, sock: socket.socket, deadline: float
    ) -> bytes | None:
        """Bytes up to the blank line ending the request head; None on EOF or oversize.

        Reads in chunks and scans the whole buffer, since ``\\r\\n\\r\\n`` may straddle reads.
        """
        buf = b""
        while b"\r\n\r\n" not in buf:
            if len(buf) > _MAX_HEAD:
                return None
            try:
                chunk = self._io(sock, functools.partial(conn.recv, 4096), deadline)
            except SSL.ZeroReturnError:
                return None
            if not chunk:
                return None
            buf += chunk
        return buf.split(b"\r\n\r\n", 1)[0]

    def _respond_to(
        self, conn: SSL.Connection, state: _VerifyState, head: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes, RequestRecord]:
        """Decide the HTTP answer from the recorded verdict, the way the imitated server does."""
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split(" ")
        method, path = (parts[0], parts[1]) if len(parts) == 3 else ("", "")
        peer = conn.get_peer_certificate(as_cryptography=True)
        subject = peer.subject.rfc4514_string() if peer is not None else None
        if peer is None:
            verify = "NONE"
        elif state.failed:
            verify = f"FAILED:{verify_error_string(state.errno)}"
        else:
            verify = "SUCCESS"
        protocol = conn.get_protocol_version_name()
        status, body = 200, b"ok\n"
        headers = [("Content-Type", "text/plain")]
        if not method or not parts[2].startswith("HTTP/"):
            status, body = 400, b"bad request\n"
        elif self.mode is ServerMode.NGINX and self.request_cert:
            # nginx's order: a failed verification (495) wins over a missing certificate (496).
            if state.failed:
                status, body = 400, NGINX_CERT_ERROR_BODY
            elif peer is None:
                status, body = 400, NGINX_NO_CERT_BODY
            if status == 400:
                headers = [("Content-Type", "text/html")]
        headers += [("X-Client-Verify", verify), ("X-Client-Subject", subject or "")]
        record = RequestRecord(
            path=path,
            method=method,
            client_subject=subject,
            verify=verify,
            status=status,
            protocol=protocol,
        )
        return status, headers, body, record

    def _render(
        self,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        record: RequestRecord,
    ) -> bytes:
        reason = {200: "OK", 400: "Bad Request"}[status]
        server = "nginx" if self.mode is ServerMode.NGINX else f"mtlscheck-reference/{self.mode}"
        lines = [f"HTTP/1.1 {status} {reason}", f"Server: {server}"]
        lines += [f"{name}: {_header_safe(value)}" for name, value in headers]
        lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
        head = "\r\n".join(lines).encode("latin-1", "replace")
        return head if record.method == "HEAD" else head + body

    def _send_all(
        self, conn: SSL.Connection, sock: socket.socket, data: bytes, deadline: float
    ) -> None:
        view = memoryview(data)
        while view:
            # Retry with the same bytes: OpenSSL requires an identical buffer after WANT_WRITE.
            chunk = bytes(view[:16384])
            sent = self._io(sock, functools.partial(conn.send, chunk), deadline)
            view = view[sent:]

    def _linger_close(self, sock: socket.socket) -> None:
        """Half-close, then drain the client briefly before the socket is closed.

        Closing a socket with unread data makes the kernel send a TCP RST, which can overtake
        our last bytes (the TLS 1.3 alert, a 400 page) so that the client sees "connection
        reset" instead.  Apache and nginx do the same lingering close for the same reason.
        """
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + _LINGER
        try:
            while True:
                self._wait(sock, write=False, deadline=deadline)
                if not sock.recv(65536):
                    return
        except (OSError, _Abort):
            return


def _header_safe(value: str) -> str:
    """Keep a header value on one line whatever a certificate subject contains."""
    return value.replace("\r", " ").replace("\n", " ")
