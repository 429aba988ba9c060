"""One pyOpenSSL client connection that records what the handshake revealed.

Why pyOpenSSL and not the stdlib ``ssl`` module: the info callback shows the handshake itself
(was a CertificateRequest read? which alert came, and was the handshake already done?), and a
verify callback lets us finish the handshake with an untrusted server while still recording why
it is untrusted.  Those are exactly the facts mTLS troubleshooting needs and ``ssl`` hides.

This module raises the low-level errors it meets (``OSError``, ``OpenSSL.SSL.Error``,
``TimeoutError``) after naming the first one with :func:`mtlscheck._outcome.wire_failure`, and
freezes everything it saw into a :class:`~mtlscheck._wire.WireRecord`;
:func:`mtlscheck._outcome.classify` turns that record into an :class:`~mtlscheck.Outcome`.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from OpenSSL import SSL

from mtlscheck._alerts import alert_name, verify_error_string
from mtlscheck._errors import InputError
from mtlscheck._hostname import is_ip_address, name_matches, to_ascii_host
from mtlscheck._identity import ClientIdentity
from mtlscheck._io import Cancelled, Deadline, pump, resolve, tcp_connect, wait_ready
from mtlscheck._model import CertInfo, HandshakeFacts, Phase
from mtlscheck._outcome import wire_failure
from mtlscheck._wire import WireFailure, WireRecord

__all__ = ["TLSClient", "TLSSettings", "build_context"]

_T = TypeVar("_T")
_VERSIONS = {"1.2": SSL.TLS1_2_VERSION, "1.3": SSL.TLS1_3_VERSION}
_READ_SIZE = 16384
_ANSWER_WAIT_MIN = 0.1
_ANSWER_WAIT_MAX = 2.0
"""Bounds of the wait for a TLS 1.3 server's answer to our Finished (see
:meth:`TLSClient._await_server_answer`): 8 handshake round trips, within these."""
_HARVEST_WAIT = 0.5


@dataclass(frozen=True, slots=True)
class TLSSettings:
    """How to connect: where, which name to send and check, what to trust, how long to wait."""

    host: str
    """Host from the URL: what SNI and the certificate name check use."""
    port: int
    address: str | None = None
    """Connect here instead of resolving ``host`` (curl's ``--resolve``)."""
    servername: str | None = None
    """Override for SNI and the name check (curl's ``--connect-to`` style)."""
    cafile: Path | None = None
    """Trust anchors for the server certificate; None = the system store."""
    insecure: bool = False
    version: str | None = None
    """"1.2" or "1.3" pins the version; None lets the peers negotiate within 1.2-1.3."""
    timeout: float = 10.0
    addresses: tuple[tuple[int, tuple[object, ...]], ...] | None = None
    """Addresses resolved once per target (family, sockaddr); None resolves per connection."""
    sni: str | None = None
    """Send this name as SNI instead of :attr:`check_name`, which stays the name the request's
    ``Host:`` carries (the ``sni-mismatch`` probe).  The server certificate may then cover
    either name: the question is where the server routes, not whom we talk to."""

    @property
    def check_name(self) -> str:
        return self.servername or self.host

    @property
    def sni_name(self) -> str:
        """The name sent as SNI (none is sent for an IP address)."""
        return self.sni or self.check_name

    def covered_by(self, leaf: x509.Certificate) -> bool:
        """The server certificate covers the checked name (or, with :attr:`sni`, that one)."""
        return name_matches(leaf, self.check_name) or (
            self.sni is not None and name_matches(leaf, self.sni)
        )


def build_context(settings: TLSSettings, identity: ClientIdentity | None) -> SSL.Context:
    """The client context for one (version, identity, trust) combination.

    Built before the first connection, and shared by every probe that needs the same one:
    a trust file that is not PEM or a key that does not fit its certificate is the user's
    input error (exit 2), and must never surface later as something the server did.
    Callbacks find their :class:`TLSClient` through the connection's app data.
    """
    s = settings
    try:
        ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
        low, high = (
            (_VERSIONS[s.version],) * 2 if s.version else (SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION)
        )
        ctx.set_min_proto_version(low)
        ctx.set_max_proto_version(high)
        if s.cafile is not None:
            ctx.load_verify_locations(str(s.cafile))
        else:
            ctx.set_default_verify_paths()
        ctx.set_verify(SSL.VERIFY_PEER, _on_verify)
        ctx.set_info_callback(_on_info)
        if identity is not None:
            ctx.use_certificate(identity.cert)
            ctx.use_privatekey(identity.key)
            for extra in identity.chain:
                ctx.add_extra_chain_cert(extra)
            ctx.check_privatekey()
    except SSL.Error as exc:
        what = "client certificate/key" if identity is not None else "trust store"
        if s.cafile is not None and identity is None:
            what = f"--cacert {s.cafile}"
        raise InputError(f"cannot use {what}: {_first_reason(exc)}") from None
    except OSError as exc:
        raise InputError(f"cannot read {s.cafile}: {exc.strerror or exc}") from None
    _offer_post_handshake_auth(ctx)
    return ctx


def _first_reason(exc: SSL.Error) -> str:
    for arg in exc.args:
        if isinstance(arg, list) and arg:
            item = arg[0]
            return str(item[-1]) if isinstance(item, tuple) else str(item)
    return str(exc) or type(exc).__name__


def _client_of(conn: SSL.Connection) -> TLSClient | None:
    client = conn.get_app_data()
    return client if isinstance(client, TLSClient) else None


def _on_verify(conn: SSL.Connection, cert: object, errno: int, depth: int, ok: int) -> bool:
    # Record instead of refusing: the handshake facts (CertificateRequest, CA names) are
    # worth having even for an untrusted server; the probe then refuses to send HTTP.
    client = _client_of(conn)
    if client is not None and not ok and client.verify_error is None:
        client.verify_error = f"{verify_error_string(errno)} (depth {depth})"
    return True


def _on_info(conn: SSL.Connection, where: int, ret: int) -> None:
    client = _client_of(conn)
    if client is not None:
        client.on_info(conn, where, ret)


class TLSClient:
    """Connect, handshake and exchange bytes under one deadline, recording what the wire said.

    The record (:meth:`record`) is a frozen value; :func:`mtlscheck._outcome.classify` decides
    what it means.  Every wait goes through :mod:`mtlscheck._io`, which checks the deadline on
    every loop turn, so no server can hold a probe past it.
    """

    def __init__(
        self,
        settings: TLSSettings,
        identity: ClientIdentity | None,
        *,
        context: SSL.Context | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        self.settings = settings
        self.identity = identity
        self.deadline = deadline or Deadline.after(settings.timeout)
        self._context = context
        self.tcp_connected = False
        self.handshake_done = False
        self.cert_requested = False
        self.server_hello_seen = False
        self.cert_requested_late = False
        self.session_ticket = False
        self.pha_offered = False
        self.alerts: list[tuple[int, Phase]] = []
        self.alert_sent: int | None = None
        self.verify_error: str | None = None
        self.failure: WireFailure | None = None
        self.bytes_received = 0
        self._pending = b""
        self._peer_cache: tuple[tuple[CertInfo, ...], bool | None] | None = None
        self._closed = False
        self._sock: socket.socket | None = None
        self._conn: SSL.Connection | None = None
        self._t_hello_sent = 0.0
        self.hello_rtt: float | None = None

    # -- callbacks ------------------------------------------------------------------------------

    def on_info(self, conn: SSL.Connection, where: int, ret: int) -> None:
        # EXIT as well as LOOP: a server that stalls right after its ServerHello leaves the
        # state machine in "read server hello" with only an EXIT callback (ret -1) to show it.
        # During the handshake every EXIT is read too: a server that stalls mid-flight may
        # leave its last message visible only there.  After it, the state is not asked on EXIT
        # (each ask is a C call that gives up the GIL, which busy pool workers then wait to
        # take back - see bench/bench_fleet_parts.py); post-handshake messages (a late
        # CertificateRequest, tickets) still show in LOOP callbacks.
        if where & _LOOP or (where & _EXIT and not self.handshake_done):
            state = conn.get_state_string()
            if b"read server hello" in state:
                if not self.server_hello_seen:
                    self.hello_rtt = time.monotonic() - self._t_hello_sent
                self.server_hello_seen = True
            elif b"read server certificate request" in state:
                # After the handshake: renegotiation (1.2) or post-handshake auth (1.3).
                if self.handshake_done:
                    self.cert_requested_late = True
                else:
                    self.cert_requested = True
            elif b"read server session ticket" in state:
                self.session_ticket = True
        elif where & _ALERT:
            code = ret & 0xFF
            if where & SSL.SSL_CB_READ:
                phase = Phase.AFTER_HANDSHAKE if self.handshake_done else Phase.HANDSHAKE
                self.alerts.append((code, phase))
            elif where & SSL.SSL_CB_WRITE and code != 0:
                self.alert_sent = code

    # -- failures -------------------------------------------------------------------------------

    def _fail(self, exc: BaseException, phase: Phase | None) -> None:
        """Keep the first failure: later ones are consequences of it."""
        if self.failure is None:
            self.failure = wire_failure(exc, phase)

    def failed_before_connect(self, exc: BaseException) -> None:
        """The target's one DNS lookup failed: record it as this probe's failure."""
        self._fail(exc, None)

    def note_http_failure(self, exc: BaseException) -> None:
        """An error from the HTTP layer (httpx/httpcore) once TLS was up."""
        if self.failure is None:
            self.failure = wire_failure(exc, Phase.AFTER_HANDSHAKE, self.bytes_received)

    @property
    def _phase(self) -> Phase:
        return Phase.AFTER_HANDSHAKE if self.handshake_done else Phase.HANDSHAKE

    # -- connection -----------------------------------------------------------------------------

    def connect(self) -> None:
        """DNS (unless resolved for us), TCP, the TLS handshake, and - TLS 1.3 with a
        CertificateRequest - the server's answer to our Finished.  Raises on failure, after
        recording it."""
        s = self.settings
        try:
            addresses = (
                list(s.addresses)
                if s.addresses
                else resolve(s.address or s.host, s.port, self.deadline)
            )
            self._sock = tcp_connect(addresses, self.deadline)
        except BaseException as exc:
            self._fail(exc, None)
            raise
        self.tcp_connected = True
        ctx = self._context or build_context(s, self.identity)
        conn = SSL.Connection(ctx, self._sock)
        conn.set_app_data(self)
        self._conn = conn
        # What build_context could do for this connection's context (the binding may vanish).
        self.pha_offered = _pha_function() is not None
        name = s.sni_name
        if not is_ip_address(name):
            conn.set_tlsext_host_name(to_ascii_host(name).encode("ascii"))
        conn.set_connect_state()
        self._t_hello_sent = time.monotonic()
        try:
            self._io(conn.do_handshake)
        except BaseException as exc:
            self._fail(exc, Phase.HANDSHAKE)
            raise
        self.handshake_done = True
        if self.cert_requested and conn.get_protocol_version_name() == "TLSv1.3":
            self._await_server_answer()

    def _io(self, op: Callable[[], _T]) -> _T:
        assert self._sock is not None
        return pump(
            op,
            self._sock,
            self.deadline,
            want_read=SSL.WantReadError,
            want_write=SSL.WantWriteError,
        )

    def _await_server_answer(self) -> None:
        """Read the server's answer to our Finished before writing anything (TLS 1.3).

        A TLS 1.3 server checks the client certificate after our Finished, then answers with a
        NewSessionTicket (accepted) or an alert, and many close at once after the alert.  If
        we wrote the request first, it would hit a closed socket, the kernel would answer with
        a reset, and the reset can discard the alert before we read it (curl's exit 55).
        ``openssl s_client`` reads first and always sees the alert; so do we.  A server that
        sends no ticket costs a short wait, scaled to the measured handshake round trip.
        """
        assert self._conn is not None and self._sock is not None
        rtt = self.hello_rtt if self.hello_rtt is not None else 0.05
        until = time.monotonic() + min(_ANSWER_WAIT_MAX, max(_ANSWER_WAIT_MIN, 8 * rtt))
        while not self.session_ticket:
            try:
                self.deadline.left()
                data = self._conn.recv(_READ_SIZE)
            except SSL.WantReadError:
                if self.session_ticket:
                    return  # read while processing the records that did arrive
                if not wait_ready(self._sock, write=False, deadline=self.deadline, until=until):
                    return
                continue
            except SSL.WantWriteError:
                wait_ready(self._sock, write=True, deadline=self.deadline)
                continue
            except BaseException as exc:
                self._fail(exc, Phase.AFTER_HANDSHAKE)
                raise
            self.bytes_received += len(data)
            self._pending += data  # the server spoke first; keep it for the HTTP reader
            return

    def send(self, data: bytes) -> None:
        assert self._conn is not None
        conn = self._conn
        view = memoryview(data)
        try:
            while view:
                view = view[self._io(functools.partial(conn.send, view)) :]
        except BaseException as exc:
            self._fail(exc, Phase.AFTER_HANDSHAKE)
            # A server that rejected us may have sent its alert and hung up: collect it, so
            # the outcome names the alert rather than "broken pipe".
            self._harvest_alert()
            raise

    def recv(self, max_bytes: int) -> bytes:
        """Bytes from the server; b"" on a clean close (close_notify or EOF after data)."""
        assert self._conn is not None
        if self._pending:
            data, self._pending = self._pending[:max_bytes], self._pending[max_bytes:]
            return data
        conn = self._conn
        try:
            data = self._io(lambda: conn.recv(max_bytes))
        except SSL.ZeroReturnError:
            return b""
        except SSL.SysCallError as exc:
            if exc.args and exc.args[0] == -1 and self.bytes_received:
                return b""  # EOF without close_notify after a response: treat as close
            self._fail(exc, Phase.AFTER_HANDSHAKE)
            self._harvest_alert()
            raise
        except BaseException as exc:
            self._fail(exc, Phase.AFTER_HANDSHAKE)
            self._harvest_alert()
            raise
        self.bytes_received += len(data)
        return data

    def _harvest_alert(self) -> None:
        """Read whatever the server left in the socket (its alert), briefly and bounded."""
        if self._conn is None or self._sock is None or self._received_alert() is not None:
            return
        until = time.monotonic() + _HARVEST_WAIT
        while self._received_alert() is None:
            try:
                self._conn.recv(_READ_SIZE)
            except SSL.WantReadError:
                try:
                    if not wait_ready(self._sock, write=False, deadline=self.deadline, until=until):
                        return
                except (TimeoutError, Cancelled):
                    return
            except Exception:
                return

    def _received_alert(self) -> int | None:
        codes = [code for code, _ in self.alerts if code != 0]
        return codes[-1] if codes else None

    def close(self) -> None:
        """Idempotent: a second close must not touch the fd number, which by then may belong
        to another probe's socket (writing close_notify there corrupted its handshake)."""
        if self._closed:
            return
        self._closed = True
        if self._conn is not None and self.handshake_done and self.failure is None:
            with contextlib.suppress(Exception):
                self._conn.shutdown()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()

    # -- facts ---------------------------------------------------------------------------------

    def hostname_matches(self) -> bool | None:
        """Whether the server's leaf covers the checked name; None before any certificate."""
        return self._peer()[1]

    def _peer(self) -> tuple[tuple[CertInfo, ...], bool | None]:
        """The server chain and the name check, worked out once per connection once the
        handshake is done (both cost a certificate conversion and an OpenSSL verify)."""
        if self._peer_cache is not None:
            return self._peer_cache
        if self._conn is None:
            return (), None
        peer = self._conn.get_peer_cert_chain(as_cryptography=True) or []
        found = (
            _shared(tuple(cert_info(c) for c in peer)),
            self.settings.covered_by(peer[0]) if peer else None,
        )
        if self.handshake_done:
            self._peer_cache = found
        return found

    def record(
        self, http_status: int | None = None, http_body: bytes = b"", http_server: str = ""
    ) -> WireRecord:
        """Freeze what this connection saw; the input of :func:`mtlscheck._outcome.classify`."""
        return WireRecord(
            host=self.settings.check_name,
            tcp_connected=self.tcp_connected,
            facts=self.facts(),
            alerts_received=tuple((alert_name(c), p) for c, p in self.alerts),
            failure=self.failure,
            insecure=self.settings.insecure,
            http_status=http_status,
            http_body=http_body,
            http_server=http_server,
        )

    def facts(self) -> HandshakeFacts:
        """Freeze what this connection has learned so far."""
        conn = self._conn
        protocol = cipher = None
        ca_names: tuple[str, ...] = ()
        chain: tuple[CertInfo, ...] = ()
        hostname_ok: bool | None = None
        if conn is not None and self.handshake_done:
            # Interned: a fleet run holds one copy of "TLSv1.3", not one per probe.
            protocol = sys.intern(conn.get_protocol_version_name())
            name = conn.get_cipher_name()
            cipher = None if name is None else sys.intern(name)
        if conn is not None and (
            self.handshake_done or self.cert_requested or self.cert_requested_late
        ):
            # Also after a failed handshake: the CertificateRequest was read, and its CA
            # names are what a user needs when the server (TLS 1.2) rejects with an alert.
            ca_names = _shared(
                tuple(n.rfc4514_string() for n in conn.get_client_ca_list(as_cryptography=True))
            )
        if conn is not None:
            chain, hostname_ok = self._peer()
        received = self._received_alert()
        return HandshakeFacts(
            protocol=protocol,
            cipher=cipher,
            cert_requested=self.cert_requested,
            ca_names=ca_names,
            client_cert_sent=(self.cert_requested or self.cert_requested_late)
            and self.identity is not None,
            cert_requested_after_handshake=self.cert_requested_late,
            post_handshake_auth=self.pha_offered,
            client_chain=()
            if self.identity is None
            else _shared(tuple(cert_info(c) for c in (self.identity.cert, *self.identity.chain))),
            server_chain=chain,
            handshake_completed=self.handshake_done,
            server_hello_seen=self.server_hello_seen,
            session_ticket=self.session_ticket,
            alert_received=None if received is None else alert_name(received),
            alert_sent=None if self.alert_sent is None else alert_name(self.alert_sent),
            server_verify_error=self.verify_error,
            hostname_matches=hostname_ok,
        )


def _offer_post_handshake_auth(ctx: SSL.Context) -> bool:
    """Offer TLS 1.3 post-handshake client auth, as curl does with OpenSSL.

    Apache with ``SSLVerifyClient`` inside ``<Location>`` asks for the certificate only after
    the request (TLS 1.3: post-handshake auth); a client that does not offer it gets 403 for
    every probe, which says nothing about the certificate.  pyOpenSSL has no public call for
    it; the OpenSSL function is in its cffi binding (cryptography), so use it when present.
    Without it probes still run and the diagnosis names the case (``per-location-client-auth``).
    """
    fn = _pha_function()
    raw = getattr(ctx, "_context", None)
    if fn is None or raw is None:
        return False
    fn(raw, 1)
    return True


def _pha_function() -> Callable[[object, int], None] | None:
    """The private binding may move or vanish in a pyOpenSSL release: never let that break
    a probe, only the post-handshake-auth offer."""
    try:
        from OpenSSL._util import lib
    except Exception:
        return None
    fn = getattr(lib, "SSL_CTX_set_post_handshake_auth", None)
    return fn if callable(fn) else None


_LOOP = SSL.SSL_CB_LOOP
_EXIT = SSL.SSL_CB_EXIT
_ALERT = SSL.SSL_CB_ALERT

_SHARED_LIMIT = 4096
_cert_infos: dict[x509.Certificate, CertInfo] = {}
_shared_tuples: dict[tuple[object, ...], tuple[object, ...]] = {}


def cert_info(cert: x509.Certificate) -> CertInfo:
    """A certificate as reports show it - one shared object per certificate.

    A fleet run presents the same client chain and meets the same server chain thousands of
    times; sharing the frozen value keeps a 10,000-target run's results small."""
    key = cert  # hashes and compares by its DER encoding: no digest to compute per probe
    found = _cert_infos.get(key)
    if found is None:
        found = CertInfo(
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            not_before=cert.not_valid_before_utc.isoformat(),
            not_after=cert.not_valid_after_utc.isoformat(),
        )
        if len(_cert_infos) >= _SHARED_LIMIT:
            _cert_infos.clear()
        _cert_infos[key] = found
    return found


def _shared(items: tuple[_T, ...]) -> tuple[_T, ...]:
    """One shared tuple per distinct CA list or certificate chain (see :func:`cert_info`)."""
    found = _shared_tuples.get(items)
    if found is None:
        if len(_shared_tuples) >= _SHARED_LIMIT:
            _shared_tuples.clear()
        found = _shared_tuples.setdefault(items, items)
    return found  # type: ignore[return-value]  # equal to items, so of its type
