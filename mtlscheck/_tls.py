"""One pyOpenSSL client connection that records what the handshake revealed.

Why pyOpenSSL and not the stdlib ``ssl`` module: the info callback shows the handshake itself
(was a CertificateRequest read? which alert came, and was the handshake already done?), and a
verify callback lets us finish the handshake with an untrusted server while still recording why
it is untrusted.  Those are exactly the facts mTLS troubleshooting needs and ``ssl`` hides.

This module raises the low-level errors it meets (``OSError``, ``OpenSSL.SSL.Error``,
``TimeoutError``) and keeps the facts on the connection; :mod:`mtlscheck._outcome` is the one
place that turns them into an :class:`~mtlscheck.Outcome`.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from OpenSSL import SSL

from mtlscheck._alerts import alert_name, verify_error_string
from mtlscheck._hostname import is_ip_address, name_matches
from mtlscheck._identity import ClientIdentity
from mtlscheck._model import CertInfo, HandshakeFacts, Phase

__all__ = ["TLSClient", "TLSSettings"]

_VERSIONS = {"1.2": SSL.TLS1_2_VERSION, "1.3": SSL.TLS1_3_VERSION}


@dataclass(frozen=True)
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

    @property
    def check_name(self) -> str:
        return self.servername or self.host


@dataclass
class _Failure:
    """The first low-level failure, with the TLS phase it happened in."""

    phase: Phase | None
    error: BaseException


class TLSClient:
    """Connect, handshake and exchange bytes, recording facts along the way.

    Sockets are non-blocking and every wait is bounded by one overall deadline, so a server
    that accepts and never answers costs at most ``timeout`` seconds.
    """

    def __init__(self, settings: TLSSettings, identity: ClientIdentity | None) -> None:
        self.settings = settings
        self.identity = identity
        self.deadline = time.monotonic() + settings.timeout
        self.tcp_connected = False
        self.handshake_done = False
        self.cert_requested = False
        self.server_hello_seen = False
        self.cert_requested_late = False
        self.pha_offered = False
        self.alert_received: int | None = None
        self.alert_received_phase: Phase | None = None
        self.alert_sent: int | None = None
        self.verify_error: str | None = None
        self.failure: _Failure | None = None
        self.bytes_received = 0
        self._closed = False
        self._sock: socket.socket | None = None
        self._conn: SSL.Connection | None = None

    # -- setup -------------------------------------------------------------------------------

    def _context(self) -> SSL.Context:
        s = self.settings
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
        ctx.set_verify(SSL.VERIFY_PEER, self._on_verify)
        ctx.set_info_callback(self._on_info)
        if self.identity is not None:
            ctx.use_certificate(self.identity.cert)
            ctx.use_privatekey(self.identity.key)
            for extra in self.identity.chain:
                ctx.add_extra_chain_cert(extra)
        self.pha_offered = _offer_post_handshake_auth(ctx)
        return ctx

    def _on_verify(
        self, conn: SSL.Connection, cert: object, errno: int, depth: int, ok: int
    ) -> bool:
        # Record instead of refusing: the handshake facts (CertificateRequest, CA names) are
        # worth having even for an untrusted server; the probe then refuses to send HTTP.
        if not ok and self.verify_error is None:
            self.verify_error = _verify_reason(errno, depth)
        return True

    def _on_info(self, conn: SSL.Connection, where: int, ret: int) -> None:
        if where & SSL.SSL_CB_LOOP:
            state = conn.get_state_string()
            if b"read server hello" in state:
                self.server_hello_seen = True
            elif b"read server certificate request" in state:
                # After the handshake: renegotiation (1.2) or post-handshake auth (1.3).
                if self.handshake_done:
                    self.cert_requested_late = True
                else:
                    self.cert_requested = True
        elif where & SSL.SSL_CB_ALERT:
            code = ret & 0xFF
            if where & SSL.SSL_CB_READ:
                if code != 0 or self.alert_received is None:
                    self.alert_received = code
                    self.alert_received_phase = (
                        Phase.AFTER_HANDSHAKE if self.handshake_done else Phase.HANDSHAKE
                    )
            elif where & SSL.SSL_CB_WRITE and code != 0:
                self.alert_sent = code

    # -- I/O with a deadline --------------------------------------------------------------------

    def _remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        return left

    def _wait(self, for_write: bool, phase: Phase) -> None:
        """Block until the socket is ready or the deadline passes (recorded as the failure)."""
        assert self._sock is not None
        left = self.deadline - time.monotonic()
        ready = left > 0 and any(
            select.select(
                [] if for_write else [self._sock], [self._sock] if for_write else [], [], left
            )[:2]
        )
        if not ready:
            exc = TimeoutError("timed out")
            self.failure = _Failure(phase, exc)
            raise exc

    def connect(self) -> None:
        """TCP connect, then the TLS handshake. Raises the low-level error on failure."""
        s = self.settings
        addr = s.address or s.host
        try:
            self._sock = socket.create_connection((addr, s.port), timeout=self._remaining())
        except BaseException as exc:
            self.failure = _Failure(None, exc)
            raise
        self.tcp_connected = True
        self._sock.setblocking(False)
        conn = SSL.Connection(self._context(), self._sock)
        self._conn = conn
        name = s.check_name
        if not is_ip_address(name):
            conn.set_tlsext_host_name(name.encode("idna"))
        conn.set_connect_state()
        while True:
            try:
                conn.do_handshake()
                break
            except SSL.WantReadError:
                self._wait(False, Phase.HANDSHAKE)
            except SSL.WantWriteError:
                self._wait(True, Phase.HANDSHAKE)
            except BaseException as exc:
                self.failure = _Failure(Phase.HANDSHAKE, exc)
                raise
        self.handshake_done = True

    def send(self, data: bytes) -> None:
        assert self._conn is not None
        view = memoryview(data)
        while view:
            try:
                n = self._conn.send(view)
                view = view[n:]
            except SSL.WantWriteError:
                self._wait(True, Phase.AFTER_HANDSHAKE)
            except SSL.WantReadError:
                self._wait(False, Phase.AFTER_HANDSHAKE)
            except BaseException as exc:
                self.failure = _Failure(Phase.AFTER_HANDSHAKE, exc)
                # A server that rejected us (TLS 1.3) may already have sent its alert and
                # hung up; read it so the outcome names the alert rather than "broken pipe".
                self._harvest_alert()
                raise

    def recv(self, max_bytes: int) -> bytes:
        """Bytes from the server; b"" on a clean close (close_notify or plain EOF)."""
        assert self._conn is not None
        while True:
            try:
                data = self._conn.recv(max_bytes)
                self.bytes_received += len(data)
                return data
            except SSL.ZeroReturnError:
                return b""
            except SSL.WantReadError:
                self._wait(False, Phase.AFTER_HANDSHAKE)
            except SSL.WantWriteError:
                self._wait(True, Phase.AFTER_HANDSHAKE)
            except SSL.SysCallError as exc:
                if exc.args and exc.args[0] == -1 and self.bytes_received:
                    return b""  # EOF without close_notify after a response: treat as close
                self.failure = _Failure(Phase.AFTER_HANDSHAKE, exc)
                raise
            except BaseException as exc:
                self.failure = _Failure(Phase.AFTER_HANDSHAKE, exc)
                raise

    def _harvest_alert(self) -> None:
        if self._conn is None or self.alert_received is not None:
            return
        end = min(self.deadline, time.monotonic() + 0.5)
        while time.monotonic() < end:
            try:
                self._conn.recv(4096)
            except SSL.WantReadError:
                if (
                    self._sock is None
                    or not select.select([self._sock], [], [], max(0.0, end - time.monotonic()))[0]
                ):
                    return
            except Exception:
                return

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
        if self._conn is None:
            return None
        leaf = self._conn.get_peer_certificate(as_cryptography=True)
        return None if leaf is None else name_matches(leaf, self.settings.check_name)

    def facts(self) -> HandshakeFacts:
        """Freeze what this connection has learned so far."""
        conn = self._conn
        protocol = cipher = None
        ca_names: tuple[str, ...] = ()
        chain: tuple[CertInfo, ...] = ()
        hostname_ok: bool | None = None
        if conn is not None and self.handshake_done:
            protocol = conn.get_protocol_version_name()
            cipher = conn.get_cipher_name()
        if conn is not None and (
            self.handshake_done or self.cert_requested or self.cert_requested_late
        ):
            # Also after a failed handshake: the CertificateRequest was read, and its CA
            # names are what a user needs when the server (TLS 1.2) rejects with an alert.
            ca_names = tuple(
                n.rfc4514_string() for n in conn.get_client_ca_list(as_cryptography=True)
            )
        if conn is not None:
            peer = conn.get_peer_cert_chain(as_cryptography=True) or []
            chain = tuple(cert_info(c) for c in peer)
            if peer:
                hostname_ok = name_matches(peer[0], self.settings.check_name)
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
            else tuple(cert_info(c) for c in (self.identity.cert, *self.identity.chain)),
            server_chain=chain,
            handshake_completed=self.handshake_done,
            server_hello_seen=self.server_hello_seen,
            alert_received=None if self.alert_received is None else alert_name(self.alert_received),
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
    from OpenSSL._util import lib

    fn = getattr(lib, "SSL_CTX_set_post_handshake_auth", None)
    raw = getattr(ctx, "_context", None)
    if fn is None or raw is None:
        return False
    fn(raw, 1)
    return True


def cert_info(cert: x509.Certificate) -> CertInfo:
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
    )


def _verify_reason(errno: int, depth: int) -> str:
    return f"{verify_error_string(errno)} (depth {depth})"
