"""Scripted hostile servers on 127.0.0.1 for the hostile-server bench (tests/test_hostile.py).

Each server runs one *script* per accepted connection: a plain function that talks to the raw
socket (silence, garbage, a hand-made alert record, a reset) or drives a real pyOpenSSL server
connection and decides what of its output reaches the wire.  The TLS side runs over memory
BIOs (``SSL.Connection(ctx, None)``), so a script can forward only the server's first record
(the ServerHello) and stall, drop the NewSessionTicket / server Finished that OpenSSL writes
after reading the client's Finished, or send the alert OpenSSL produced and then reset the
connection.  That is the "relay in front of a real server" of issue 7 without a second
socket: every byte the client sees was written by OpenSSL's server state machine, or is a
deliberate, documented hand-made record.

Lifecycle: ``with ScriptedServer(script) as srv: ... srv.url``.  One accept thread plus one
thread per connection; every wait is a short select slice that checks the stop event, so
``__exit__`` joins every thread and closes every socket, and raises if a thread outlived it
(a leak is a bench bug, never silently ignored).  A script that fails for a reason other than
the client going away is recorded in :attr:`ScriptedServer.errors`; rows assert it is empty,
so a broken server cannot pass for a broken client.

The server also records what it did (:attr:`ScriptedServer.events`: "alert-sent
certificate_required", "rst", ...), so a row can check that the hostile behaviour really
happened on the wire and not only in the row's name.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL

__all__ = [
    "ALERTS",
    "Conn",
    "ScriptedServer",
    "ServerTLS",
    "alert_record",
    "ca_names",
    "make_chain",
    "server_context",
]

HOST = "127.0.0.1"
_SLICE = 0.05
"""Longest single wait; between slices every loop checks the stop event."""

ALERTS = {
    0: "close_notify",
    40: "handshake_failure",
    42: "bad_certificate",
    45: "certificate_expired",
    48: "unknown_ca",
    70: "protocol_version",
    80: "internal_error",
    116: "certificate_required",
}
"""TLS alert descriptions (RFC 8446 §6) this bench sends or expects, by IANA name."""
ALERT_CODES = {name: code for code, name in ALERTS.items()}

_VERSIONS = {"1.2": SSL.TLS1_2_VERSION, "1.3": SSL.TLS1_3_VERSION}


class Stopped(Exception):
    """The server is stopping: the script ends quietly."""


class ClientGone(Exception):
    """The client closed or reset the connection: the usual end of a hostile script."""


def _ready(sock: socket.socket, *, write: bool, timeout: float) -> bool:
    """poll(), not select(): works for any fd number (a test process may hold > 1024)."""
    poller = select.poll()
    poller.register(sock, select.POLLOUT if write else select.POLLIN)
    return bool(poller.poll(timeout * 1000))


def alert_record(description: int, level: int = 2) -> bytes:
    """A plaintext TLS alert record (content type 21, legacy version 1.2), as a server sends
    it before any ServerHello: ``15 03 03 00 02 <level> <description>``."""
    return bytes([21, 3, 3, 0, 2, level, description])


@dataclass
class Conn:
    """One accepted connection as a script sees it: bounded waits, stop-aware, logged."""

    sock: socket.socket
    stop: threading.Event
    index: int
    _events: list[tuple[int, str]]
    _lock: threading.Lock
    received: int = 0
    sent: int = 0

    def log(self, event: str) -> None:
        with self._lock:
            self._events.append((self.index, event))

    def _wait(self, *, write: bool, until: float | None = None) -> bool:
        """Wait for the socket; False when ``until`` passed.  Raises :class:`Stopped`."""
        while True:
            if self.stop.is_set():
                raise Stopped
            left = _SLICE if until is None else min(_SLICE, until - time.monotonic())
            if left <= 0:
                return False
            if _ready(self.sock, write=write, timeout=left):
                return True

    def recv(self, n: int = 65536, *, until: float | None = None) -> bytes:
        """Some bytes from the client (b"" if ``until`` passed first).  Raises ClientGone on
        EOF or reset."""
        if not self._wait(write=False, until=until):
            return b""
        try:
            data = self.sock.recv(n)
        except OSError as exc:
            raise ClientGone(f"recv: {exc}") from None
        if not data:
            raise ClientGone("EOF")
        self.received += len(data)
        return data

    def recv_exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            buf += self.recv(n - len(buf))
        return buf

    def read_record(self) -> bytes:
        """One whole TLS record from the client (the ClientHello), header included."""
        head = self.recv_exact(5)
        (length,) = struct.unpack("!H", head[3:5])
        return head + self.recv_exact(length)

    def send(self, data: bytes) -> None:
        """All of ``data``, waiting in slices (a client that stops reading holds us here until
        it closes or the server stops).  Raises ClientGone if the client went away."""
        view = memoryview(data)
        while view:
            self._wait(write=True)
            try:
                n = self.sock.send(view)
            except OSError as exc:
                raise ClientGone(f"send: {exc}") from None
            view = view[n:]
            self.sent += n

    def hold(self) -> None:
        """Say nothing; read and discard whatever comes until the client leaves (or stop)."""
        self.log("hold")
        while True:
            self.recv()

    def close_rst(self) -> None:
        """Close with SO_LINGER 0: the kernel sends RST instead of FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()
        self.log("rst")

    def close_fin(self) -> None:
        self.sock.close()
        self.log("fin")


def tls_records(data: bytes) -> list[bytes]:
    """Split a byte string of whole TLS records into records (header included)."""
    out = []
    while len(data) >= 5:
        (length,) = struct.unpack("!H", data[3:5])
        out.append(data[: 5 + length])
        data = data[5 + length :]
    if data:
        raise ValueError("trailing partial TLS record")
    return out


class ServerTLS:
    """A pyOpenSSL server connection over memory BIOs on top of a :class:`Conn`.

    OpenSSL writes into a memory buffer; :meth:`flush` decides when those bytes reach the
    socket.  Alerts OpenSSL writes are logged as ``alert-sent <name>`` by the info callback.
    """

    def __init__(self, conn: Conn, ctx: SSL.Context) -> None:
        self.conn = conn
        self.ssl = SSL.Connection(ctx, None)
        self.ssl.set_app_data(conn)
        self.ssl.set_accept_state()

    def pending(self) -> bytes:
        """Everything OpenSSL has written and we have not sent yet."""
        out = b""
        while True:
            try:
                chunk = self.ssl.bio_read(65536)
            except SSL.WantReadError:
                return out
            if not chunk:
                return out
            out += chunk

    def flush(self) -> None:
        data = self.pending()
        if data:
            self.conn.send(data)

    def feed(self) -> None:
        self.ssl.bio_write(self.conn.recv())

    def handshake(self, *, send_last_flight: bool = True) -> None:
        """Run the server handshake to completion (the client's Finished has been read).

        ``send_last_flight=False`` keeps back what OpenSSL wrote after reading the client's
        Finished (TLS 1.3: NewSessionTicket; TLS 1.2: ChangeCipherSpec + Finished), i.e. the
        server goes quiet right after the client's Finished.  On a fatal error the alert
        OpenSSL wrote is *not* sent: it is left in :meth:`pending` for the script to send.
        """
        while True:
            try:
                self.ssl.do_handshake()
            except SSL.WantReadError:
                self.flush()
                self.feed()
                continue
            break
        self.conn.log("handshake-done")
        if send_last_flight:
            self.flush()
        else:
            dropped = self.pending()
            self.conn.log(f"dropped-last-flight {len(dropped)} bytes")

    def recv_app(self) -> bytes:
        """Application bytes from the client; b"" on close_notify."""
        while True:
            try:
                return self.ssl.recv(65536)
            except SSL.WantReadError:
                self.flush()
                self.feed()
            except SSL.ZeroReturnError:
                return b""

    def read_request_head(self, limit: int = 65536) -> bytes:
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = self.recv_app()
            if not data:
                raise ClientGone("close_notify before the request head")
            buf += data
            if len(buf) > limit:
                raise ClientGone("request head too long")
        self.conn.log("request-read")
        return buf

    def send_app(self, data: bytes) -> None:
        """Encrypt and send ``data`` (memory BIO writes never block; the socket send may)."""
        view = memoryview(data)
        while view:
            n = self.ssl.send(view[:16384])
            view = view[n:]
            self.flush()

    def close_notify(self) -> None:
        with contextlib.suppress(SSL.Error):
            self.ssl.shutdown()
        self.flush()


def _info_callback(conn: SSL.Connection, where: int, ret: int) -> None:
    if where & SSL.SSL_CB_ALERT and where & SSL.SSL_CB_WRITE:
        owner = conn.get_app_data()
        if isinstance(owner, Conn):
            code = ret & 0xFF
            owner.log(f"alert-sent {ALERTS.get(code, str(code))}")


def _set_client_ca_names(ctx: SSL.Context, names: Sequence[x509.Name]) -> None:
    """``SSL_CTX_set_client_CA_list`` from cryptography names.

    pyOpenSSL's ``set_client_ca_list`` only takes its deprecated ``X509Name`` and
    ``add_client_ca`` needs a whole certificate per name (10,000 signatures for one row), so
    go through the cffi binding pyOpenSSL itself uses: DER-decode each name onto a stack.
    """
    from OpenSSL._util import ffi, lib

    stack = lib.sk_X509_NAME_new_null()
    for name in names:
        der = name.public_bytes()
        buf = ffi.new("unsigned char[]", der)
        ptr = ffi.new("unsigned char **", buf)
        parsed = lib.d2i_X509_NAME(ffi.NULL, ptr, len(der))
        if parsed == ffi.NULL or not lib.sk_X509_NAME_push(stack, parsed):
            raise RuntimeError(f"cannot add CA name {name.rfc4514_string()}")
    lib.SSL_CTX_set_client_CA_list(ctx._context, stack)  # the context owns the stack now


def server_context(
    *,
    cert: x509.Certificate | Path,
    key: object | Path,
    chain: Sequence[x509.Certificate] = (),
    request: str | None = None,
    client_ca: Path | None = None,
    ca_names: Sequence[x509.Name] | None = None,
    version: str | None = None,
) -> SSL.Context:
    """A pyOpenSSL server context.

    ``request``: None = no CertificateRequest; ``"optional"`` = request and accept anything
    (also no certificate); ``"require"`` = OpenSSL's normal verification against ``client_ca``
    with VERIFY_FAIL_IF_NO_PEER_CERT, i.e. a missing or bad certificate fails the handshake
    with OpenSSL's alert.  ``ca_names`` replaces the CA names sent in the CertificateRequest.
    """
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    low, high = (_VERSIONS[version],) * 2 if version else (SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION)
    ctx.set_min_proto_version(low)
    ctx.set_max_proto_version(high)
    if isinstance(cert, Path):
        ctx.use_certificate_chain_file(str(cert))
    else:
        ctx.use_certificate(cert)
    if isinstance(key, Path):
        ctx.use_privatekey_file(str(key))
    else:
        ctx.use_privatekey(key)  # type: ignore[arg-type]
    for extra in chain:
        ctx.add_extra_chain_cert(extra)
    ctx.check_privatekey()
    # Every probe gets a full handshake: no resumption that could skip the certificate check.
    ctx.set_session_cache_mode(SSL.SESS_CACHE_OFF)
    ctx.set_info_callback(_info_callback)
    if request is None:
        ctx.set_verify(SSL.VERIFY_NONE)
        return ctx
    if client_ca is not None:
        ctx.load_verify_locations(str(client_ca))
    if ca_names is not None:
        _set_client_ca_names(ctx, ca_names)
    elif client_ca is not None:
        for ca in x509.load_pem_x509_certificates(client_ca.read_bytes()):
            ctx.add_client_ca(ca)
    if request == "optional":
        ctx.set_verify(SSL.VERIFY_PEER, lambda *_: True)
    elif request == "require":
        ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT)
    else:
        raise ValueError(f"request must be None, 'optional' or 'require', not {request!r}")
    return ctx


def ca_names(count: int, real: x509.Name, *, tiny: bool) -> list[x509.Name]:
    """``count`` CA names ending with ``real``: empty names if ``tiny`` (4 bytes each on the
    wire, so 10,000 fit the 64 KB limit of the field), else distinct ones (~30 bytes each)."""
    from cryptography.x509.oid import NameOID

    if tiny:
        fillers = [x509.Name([])] * (count - 1)
    else:
        fillers = [
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"hostile bench CA {i:05d}")])
            for i in range(count - 1)
        ]
    return [*fillers, real]


def make_chain(
    directory: Path, length: int
) -> tuple[Path, x509.Certificate, object, list[x509.Certificate]]:
    """A root plus ``length - 1`` nested intermediates and a leaf for 127.0.0.1 (EC, fast).

    Returns (root PEM file for the client's --cacert, leaf, leaf key, intermediates nearest
    first): the server then sends ``length`` certificates (leaf + intermediates).
    """
    from mtlscheck._pki import make_ca, make_leaf

    root = make_ca("hostile bench root")
    issuer = root
    inters = []
    for i in range(length - 1):
        issuer = make_ca(f"hostile bench intermediate {i:02d}", issuer=issuer)
        inters.append(issuer.cert)
    leaf = make_leaf(issuer, "127.0.0.1", client=False, server=True, hosts=["127.0.0.1"])
    path = directory / "chain-root.pem"
    path.write_bytes(root.cert.public_bytes(serialization.Encoding.PEM))
    return path, leaf.cert, leaf.key, list(reversed(inters))


Script = Callable[[Conn], None]


@dataclass
class ScriptedServer:
    """Listen on 127.0.0.1 (free port) and run ``script(conn)`` for every connection."""

    script: Script
    name: str = "hostile"
    events: list[tuple[int, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    connections: int = 0
    port: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}/"

    def conn_events(self, index: int) -> list[str]:
        with self._lock:
            return [e for i, e in self.events if i == index]

    def all_events(self) -> list[str]:
        with self._lock:
            return [e for _, e in self.events]

    def __enter__(self) -> ScriptedServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, 0))
        listener.listen(64)
        listener.setblocking(False)
        self._listener = listener
        self.port = listener.getsockname()[1]
        accept = threading.Thread(target=self._accept_loop, name=f"{self.name}-accept", daemon=True)
        self._threads.append(accept)
        accept.start()
        return self

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            if not _ready(self._listener, write=False, timeout=_SLICE):
                continue
            try:
                sock, _ = self._listener.accept()
            except BlockingIOError:
                continue
            sock.setblocking(False)
            with self._lock:
                self.connections += 1
                index = self.connections
                self._socks.append(sock)
            conn = Conn(sock, self._stop, index, self.events, self._lock)
            worker = threading.Thread(
                target=self._run, args=(conn,), name=f"{self.name}-conn{index}", daemon=True
            )
            with self._lock:
                self._threads.append(worker)
            worker.start()

    def _run(self, conn: Conn) -> None:
        try:
            self.script(conn)
        except (Stopped, ClientGone) as exc:
            conn.log(f"end {type(exc).__name__}")
        except Exception as exc:  # a bench bug: make the row fail loudly
            conn.log(f"script-error {exc!r}")
            with self._lock:
                self.errors.append(f"connection {conn.index}: {type(exc).__name__}: {exc}")
        finally:
            with contextlib.suppress(OSError):
                conn.sock.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        deadline = time.monotonic() + 5.0
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            for sock in self._socks:
                with contextlib.suppress(OSError):
                    sock.close()
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive and exc_type is None:
            raise RuntimeError(f"hostile server threads did not stop: {alive}")


# --------------------------------------------------------------------------- scripts

GARBAGE = bytes(range(255, -1, -1)) * 4
"""1 KB that is neither TLS (first byte 0xff is no record type) nor text."""

OK_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"


def silent(conn: Conn) -> None:
    """Accept and never say a word."""
    conn.hold()


def garbage(conn: Conn) -> None:
    """Read the ClientHello, answer with bytes that are not TLS, keep the connection open."""
    conn.read_record()
    conn.send(GARBAGE)
    conn.log("garbage-sent")
    conn.hold()


def alert_before_hello(description: int) -> Script:
    """Read the ClientHello, answer with a fatal alert record (no ServerHello), close."""

    def script(conn: Conn) -> None:
        conn.read_record()
        conn.send(alert_record(description))
        conn.log(f"alert-sent {ALERTS[description]}")
        conn.close_fin()

    return script


def reset_after_hello(conn: Conn) -> None:
    """Read the ClientHello, then RST (SO_LINGER 0 close)."""
    conn.read_record()
    conn.close_rst()


def stall_after_server_hello(ctx: SSL.Context) -> Script:
    """A real OpenSSL server answers the ClientHello; only its first record (the ServerHello)
    reaches the client, the rest of its flight is held back and the server goes silent."""

    def script(conn: Conn) -> None:
        tls = ServerTLS(conn, ctx)
        tls.ssl.bio_write(conn.read_record())
        with contextlib.suppress(SSL.WantReadError):
            tls.ssl.do_handshake()
        records = tls_records(tls.pending())
        first = records[0]
        if first[0] != 22 or first[5] != 2:  # handshake record starting with ServerHello
            raise AssertionError(f"first server record is not a ServerHello: {first[:6].hex()}")
        conn.send(first)
        conn.log(f"server-hello-sent, {len(records) - 1} records held back")
        conn.hold()

    return script


def _linger_close(conn: Conn) -> None:
    """Give the client up to 1 s to read our last bytes and leave, then close."""
    until = time.monotonic() + 1.0
    with contextlib.suppress(ClientGone):
        while time.monotonic() < until:
            conn.recv(until=until)
    conn.close_fin()


def serve_ok(tls: ServerTLS) -> None:
    """Answer one request with 200 and close cleanly (close_notify)."""
    tls.read_request_head()
    tls.send_app(OK_RESPONSE)
    tls.conn.log("http-200-sent")
    tls.close_notify()
    _linger_close(tls.conn)


def alert_then_hangup(ctx: SSL.Context, *, rst: bool) -> Script:
    """A server that requires a client certificate: on a failed handshake it sends OpenSSL's
    alert and closes at once (FIN; with ``rst`` an RST right behind the alert) without reading
    anything else - like stunnel or a server on Python's ``ssl``.  A good certificate gets 200."""

    def script(conn: Conn) -> None:
        tls = ServerTLS(conn, ctx)
        try:
            tls.handshake()
        except SSL.Error as exc:
            alert = tls.pending()
            conn.log(f"handshake-failed {exc}")
            conn.send(alert)
            conn.close_rst() if rst else conn.close_fin()
            return
        serve_ok(tls)

    return script


def close_after_client_finished(ctx: SSL.Context) -> Script:
    """Read the client's Finished, then close (FIN) without an alert and without sending what
    OpenSSL wrote next (1.3: NewSessionTicket; 1.2: the server's ChangeCipherSpec+Finished)."""

    def script(conn: Conn) -> None:
        tls = ServerTLS(conn, ctx)
        tls.handshake(send_last_flight=False)
        conn.close_fin()

    return script


def close_after_handshake(ctx: SSL.Context) -> Script:
    """Complete the handshake (whole last flight sent), then close (FIN) without an alert."""

    def script(conn: Conn) -> None:
        tls = ServerTLS(conn, ctx)
        tls.handshake()
        conn.close_fin()

    return script


def stall_after_handshake(ctx: SSL.Context) -> Script:
    """Complete the handshake, then read and never answer."""

    def script(conn: Conn) -> None:
        tls = ServerTLS(conn, ctx)
        tls.handshake()
        conn.hold()

    return script


def _stream(tls: ServerTLS, head: bytes, chunk: bytes) -> None:
    """Send ``head`` then ``chunk`` forever (until the client leaves or the server stops)."""
    tls.send_app(head)
    tls.conn.log("streaming")
    while True:
        tls.send_app(chunk)


def http_reply(ctx: SSL.Context, kind: str) -> Script:
    """A TLS server (no client-certificate request) whose HTTP answer is hostile:

    * ``continue``: endless ``HTTP/1.1 100 Continue`` interim responses;
    * ``headers``: a status line, then header lines forever;
    * ``body``: ``200`` without a length, then body bytes forever;
    * ``big-header``: one 1 MiB header line, then silence (a client that gives up early
      leaves before ``big-header-sent``);
    * ``http09``: a body without any status line (HTTP/0.9), then close_notify and close.
    """
    if kind not in ("continue", "headers", "body", "big-header", "http09"):
        raise ValueError(kind)

    def script(conn: Conn) -> None:
        tls = ServerTLS(conn, ctx)
        tls.handshake()
        tls.read_request_head()
        if kind == "continue":
            _stream(tls, b"", b"HTTP/1.1 100 Continue\r\n\r\n" * 256)
        elif kind == "headers":
            _stream(tls, b"HTTP/1.1 200 OK\r\n", (b"X-Filler: " + b"a" * 64 + b"\r\n") * 200)
        elif kind == "body":
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
            _stream(tls, head, b"x" * 16384)
        elif kind == "big-header":
            conn.log("big-header-started")
            tls.send_app(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n")
            tls.send_app(b"Content-Length: 3\r\n\r\nok\n")
            conn.log("big-header-sent")
            conn.hold()
        else:
            tls.send_app(b"<html><body>hello from HTTP/0.9</body></html>\n")
            conn.log("http09-sent")
            tls.close_notify()
            _linger_close(conn)

    return script
