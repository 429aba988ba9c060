"""An OCSP responder (RFC 6960) for a test PKI made by ``mtlscheck pki init``.

Why: a server configured for OCSP (nginx ``ssl_ocsp on``, Apache ``SSLOCSPEnable on``) refuses
a revoked client certificate only if a responder says so.  With ``pki init --ocsp-url URL`` the
PKI's certificates name ``URL``; ``mtlscheck pki ocsp-serve DIR`` answers there, so the
``revoked`` probe can show whether a server really asks.

What it answers, from the PKI's own revocation data:

* ``revoked``: the serial is on the CRL (``crl.pem``) of the CA the request names, with the
  CRL entry's revocation time (and reason, if the entry has one);
* ``good``: the PKI issued that serial (its ``manifest.json`` lists the certificate) and no CRL
  lists it;
* ``unknown``: the CA is ours, the serial is not one we issued (RFC 6960 2.2: the responder
  does not know the certificate; servers refuse it);
* an ``unauthorized`` error response for a CA without a CRL in ``crl.pem`` (``other-ca``, a
  foreign CA): we hold no revocation data for it, so we are not its responder;
* ``malformedRequest`` for bytes that are not one OCSP request with one certificate
  (cryptography reads single requests only; OpenSSL-based servers send one per request).

Responses are built with :class:`cryptography.x509.ocsp.OCSPResponseBuilder` and signed by the
issuing CA, or with ``delegated=True`` by a responder certificate minted at start-up for each CA
(extendedKeyUsage OCSPSigning, ``id-pkix-ocsp-nocheck``, valid for a day, kept in memory); the
signer's certificate is always sent in the response (Apache looks for the signer only there).
A request nonce is echoed (Apache checks it).  The CRL file is re-read when it changes, so a
CRL replaced under a running responder takes effect at once.

HTTP per RFC 6960 appendix A: ``POST`` with the DER request as the body, or ``GET`` with the
base64 (then URL-encoded) DER request as the last path segment(s) under any base path.  The
answer is ``application/ocsp-response``; every request is logged as one line.
"""

from __future__ import annotations

import base64
import binascii
import re
import socket
import sys
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self, TextIO

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from mtlscheck._errors import InputError, UsageError

if TYPE_CHECKING:
    from mtlscheck._identity import PrivateKey
    from mtlscheck._pki import PKI

__all__ = [
    "Answer",
    "OcspServer",
    "Responder",
    "check_ocsp_url",
    "decode_get_path",
    "issuer_key_hash",
]

MAX_REQUEST_BYTES = 64 * 1024
"""An OCSP request for one certificate is ~100 bytes (a few hundred when signed)."""
_CLOCK_SKEW = timedelta(minutes=5)
"""``thisUpdate`` lies this far back, so a server whose clock is a little behind accepts it."""
_DEFAULT_LIFETIME = timedelta(hours=1)
_DELEGATE_LIFETIME = timedelta(days=1)
_HTTP_TIMEOUT = 10.0
"""Seconds a client may take to send its request: a silent connection must not hold a
thread for ever."""


# --------------------------------------------------------------------------- URL


def check_ocsp_url(url: str, what: str = "--ocsp-url") -> str:
    """An ``http://host[:port][/path]`` URL a certificate can carry and a server can reach.

    Plain HTTP only: OCSP responses are signed, RFC 6960 uses HTTP, and nginx's
    ``ssl_ocsp_responder`` takes nothing else.  No credentials, query or fragment (GET appends
    the request to the path), nothing a config file or a log would mangle.
    """
    from mtlscheck._validate import check_hostname, check_port

    text = url.strip() if isinstance(url, str) else ""
    if not text or len(text) > 512 or not text.isascii() or not text.isprintable() or " " in text:
        raise UsageError(f"{what} must be an http:// URL on one line (at most 512 characters)")
    parts = urllib.parse.urlsplit(text)
    if parts.scheme.lower() != "http":
        raise UsageError(
            f"{what} {text!r}: use an http:// URL (OCSP answers are signed; servers fetch them "
            "over plain HTTP)"
        )
    if parts.username is not None or parts.password is not None:
        raise UsageError(f"{what} must not carry user:password@")
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise UsageError(f"{what} must not have a query or fragment")
    if any(c in text for c in "\"'\\;{}<>`"):
        raise UsageError(f"{what} must not contain quotes, ';', braces or backslashes")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise UsageError(f"{what} {text!r}: the port must be 1-65535") from None
    if not host:
        raise UsageError(f"{what} {text!r} names no host")
    check_hostname(host, what)
    if port is not None:
        check_port(port, what)
    return text


# --------------------------------------------------------------------------- hashes


def issuer_key_hash(public_key: object, algorithm: hashes.HashAlgorithm) -> bytes:
    """The CertID ``issuerKeyHash``: the hash of the issuer's subjectPublicKey BIT STRING value
    (RFC 6960 4.1.1), i.e. the key itself without its AlgorithmIdentifier."""
    raw: bytes
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        raw = public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    elif isinstance(public_key, rsa.RSAPublicKey):
        raw = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    elif isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    else:
        raise InputError(f"unsupported CA key type {type(public_key).__name__} for OCSP")
    return _hash(raw, algorithm)


def _hash(data: bytes, algorithm: hashes.HashAlgorithm) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


def _digest(key: PrivateKey) -> hashes.HashAlgorithm | None:
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return None
    return hashes.SHA256()


# --------------------------------------------------------------------------- the responder


@dataclass(frozen=True)
class Answer:
    """What the responder said to one request: for its log line and for tests."""

    status: str
    """``good``, ``revoked``, ``unknown`` (a signed answer) or ``malformed``,
    ``unauthorized``, ``internal-error`` (an unsigned error response)."""
    serial: int | None = None
    role: str | None = None
    """The PKI role holding that serial (``revoked``, ``valid``, ...), if any."""
    detail: str = ""

    def describe(self) -> str:
        parts = []
        if self.serial is not None:
            parts.append(f"serial {self.serial:x}")
        if self.role is not None:
            parts.append(f"({self.role})")
        parts.append(f"-> {self.status}")
        if self.detail:
            parts.append(f"[{self.detail}]")
        return " ".join(parts)


@dataclass(frozen=True)
class _Authority:
    """A CA we answer for: its certificate, and who signs its responses."""

    name: str
    cert: x509.Certificate
    signer_cert: x509.Certificate
    signer_key: PrivateKey
    delegated: bool

    def matches(self, req: ocsp.OCSPRequest) -> bool:
        algorithm = req.hash_algorithm
        return req.issuer_name_hash == _hash(
            self.cert.subject.public_bytes(), algorithm
        ) and req.issuer_key_hash == issuer_key_hash(self.cert.public_key(), algorithm)


@dataclass(frozen=True)
class _Revocations:
    """The CRL file as read: revoked entries per issuer (subject DER)."""

    stamp: tuple[int, int, int]
    revoked: Mapping[bytes, Mapping[int, x509.RevokedCertificate]]


_CRL_PEM = re.compile(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", re.S)


def _read_crls(path: Path, cas: Mapping[bytes, x509.Certificate]) -> _Revocations:
    """Every CRL in ``path`` that one of ``cas`` signed, by issuer: a CRL we cannot tie to a
    CA's key is not revocation data (a forged or stale file must not make us say "revoked")."""
    from mtlscheck._files import read_input

    try:
        st = path.stat()
    except OSError as exc:
        raise InputError(f"cannot read the CRL file {path}: {exc.strerror}") from None
    data = read_input(path, "CRL file")
    blocks = _CRL_PEM.findall(data)
    if not blocks:
        raise InputError(f"{path} holds no PEM CRL (BEGIN X509 CRL)")
    revoked: dict[bytes, dict[int, x509.RevokedCertificate]] = {}
    for block in blocks:
        try:
            crl = x509.load_pem_x509_crl(block)
        except ValueError:
            raise InputError(f"{path}: a CRL in it cannot be parsed") from None
        issuer = crl.issuer.public_bytes()
        ca = cas.get(issuer)
        if ca is None:
            continue
        try:
            valid = crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
        except (TypeError, UnsupportedAlgorithm):
            valid = False
        if not valid:
            raise InputError(
                f"{path}: the CRL of {crl.issuer.rfc4514_string()} is not signed by that CA"
            )
        revoked[issuer] = {entry.serial_number: entry for entry in crl}
    return _Revocations((st.st_mtime_ns, st.st_size, st.st_ino), revoked)


def _reason(entry: x509.RevokedCertificate) -> x509.ReasonFlags | None:
    try:
        ext = entry.extensions.get_extension_for_class(x509.CRLReason)
    except x509.ExtensionNotFound:
        return None
    return ext.value.reason


def _delegate(
    ca: x509.Certificate, ca_key: PrivateKey, key_type: str
) -> tuple[x509.Certificate, PrivateKey]:
    """A responder certificate issued by ``ca`` (RFC 6960 4.2.2.2): OCSPSigning, and
    ``id-pkix-ocsp-nocheck`` so a verifier does not ask about the responder itself."""
    from mtlscheck import _pki

    cn = ca.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    value = cn[0].value if cn else "CA"
    name = f"OCSP responder for {value if isinstance(value, str) else 'CA'}"
    issued = _pki.make_leaf(
        _pki.Issued(ca, ca_key),
        name,
        key_type="rsa" if key_type == "rsa" else "ec",
        client=False,
        ekus=[ExtendedKeyUsageOID.OCSP_SIGNING],
        extensions=[x509.OCSPNoCheck()],
        not_after=datetime.now(UTC) + _DELEGATE_LIFETIME,
    )
    return issued.cert, issued.key


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


class Responder:
    """Answers DER OCSP requests for the CAs of one PKI directory (thread-safe)."""

    def __init__(
        self,
        pki: PKI,
        *,
        delegated: bool = False,
        lifetime: timedelta = _DEFAULT_LIFETIME,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.pki = pki
        self.delegated = delegated
        self.lifetime = lifetime
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        cas: dict[bytes, tuple[str, x509.Certificate]] = {}
        self._index: dict[tuple[bytes, int], str] = {}
        for name, role in pki.roles.items():
            issued_cert = pki.issued(name).cert if role.key is not None else None
            if issued_cert is None:
                continue
            self._index[(issued_cert.issuer.public_bytes(), issued_cert.serial_number)] = name
            if _is_ca(issued_cert):
                cas[issued_cert.subject.public_bytes()] = (name, issued_cert)
        self._cas = {der: cert for der, (_, cert) in cas.items()}
        self._revocations = _read_crls(pki.crl, self._cas)
        authorities = []
        for der, (name, cert) in cas.items():
            if der not in self._revocations.revoked:
                continue  # no CRL for this CA: no revocation data, not our CA to answer for
            key = pki.issued(name).key
            if delegated:
                signer_cert, signer_key = _delegate(cert, key, pki.key_type)
            else:
                signer_cert, signer_key = cert, key
            authorities.append(_Authority(name, cert, signer_cert, signer_key, delegated))
        if not authorities:
            raise InputError(f"{pki.crl} holds no CRL of a CA in {pki.directory}")
        self.authorities: tuple[_Authority, ...] = tuple(authorities)

    @property
    def ca_names(self) -> tuple[str, ...]:
        """The roles of the CAs answered for (``ca``, ``intermediate-ca``)."""
        return tuple(a.name for a in self.authorities)

    def _current(self) -> _Revocations:
        """The CRL data, re-read when the file changed (mtime, size or inode)."""
        try:
            st = self.pki.crl.stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = (-1, -1, -1)
        with self._lock:
            if stamp != self._revocations.stamp:
                self._revocations = _read_crls(self.pki.crl, self._cas)
            return self._revocations

    def respond(self, request_der: bytes) -> tuple[bytes, Answer]:
        """The DER ``OCSPResponse`` for ``request_der``, and what it says."""
        try:
            req = ocsp.load_der_ocsp_request(request_der)
            serial = req.serial_number
            _ = req.issuer_name_hash, req.issuer_key_hash, req.hash_algorithm
        except (ValueError, UnsupportedAlgorithm) as exc:
            detail = str(exc).splitlines()[0][:120] if str(exc) else "not an OCSP request"
            return self._error(ocsp.OCSPResponseStatus.MALFORMED_REQUEST, "malformed", detail)
        authority = next((a for a in self.authorities if a.matches(req)), None)
        if authority is None:
            return self._error(
                ocsp.OCSPResponseStatus.UNAUTHORIZED,
                "unauthorized",
                "issuer is not a CA of this PKI with a CRL",
                serial,
            )
        try:
            revocations = self._current()
        except InputError as exc:
            return self._error(
                ocsp.OCSPResponseStatus.INTERNAL_ERROR, "internal-error", str(exc), serial
            )
        issuer_der = authority.cert.subject.public_bytes()
        role = self._index.get((issuer_der, serial))
        entry = revocations.revoked.get(issuer_der, {}).get(serial)
        if entry is not None:
            status, label = ocsp.OCSPCertStatus.REVOKED, "revoked"
        elif role is not None:
            status, label = ocsp.OCSPCertStatus.GOOD, "good"
        else:
            status, label = ocsp.OCSPCertStatus.UNKNOWN, "unknown"
        now = self._now().replace(microsecond=0)
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=req.issuer_name_hash,
            issuer_key_hash=req.issuer_key_hash,
            serial_number=serial,
            algorithm=req.hash_algorithm,
            cert_status=status,
            this_update=now - _CLOCK_SKEW,
            next_update=now + self.lifetime,
            revocation_time=None if entry is None else entry.revocation_date_utc,
            revocation_reason=None if entry is None else _reason(entry),
        )
        # The signer's certificate goes into the response even when it is the CA: Apache
        # (OCSP_basic_verify without extra certificates) finds the signer only there
        # ("signer certificate not found" otherwise), as OpenSSL's own responder does.
        builder = builder.responder_id(
            ocsp.OCSPResponderEncoding.HASH, authority.signer_cert
        ).certificates([authority.signer_cert])
        try:
            nonce = req.extensions.get_extension_for_class(x509.OCSPNonce).value
        except x509.ExtensionNotFound:
            pass
        else:
            builder = builder.add_extension(x509.OCSPNonce(nonce.nonce), critical=False)
        response = builder.sign(authority.signer_key, _digest(authority.signer_key))
        answer = Answer(
            label,
            serial,
            role,
            f"signed by {authority.name}"
            + (" (delegated responder)" if authority.delegated else ""),
        )
        return response.public_bytes(serialization.Encoding.DER), answer

    @staticmethod
    def _error(
        status: ocsp.OCSPResponseStatus, label: str, detail: str, serial: int | None = None
    ) -> tuple[bytes, Answer]:
        response = ocsp.OCSPResponseBuilder.build_unsuccessful(status)
        return response.public_bytes(serialization.Encoding.DER), Answer(
            label, serial, None, detail
        )


# --------------------------------------------------------------------------- HTTP


def decode_get_path(path: str) -> bytes | None:
    """The DER request in a GET path (RFC 6960 A.1: ``{url}/{url-encoding of base64}``).

    The responder does not know the base path of its URL, and the base64 text may itself hold
    ``/`` (clients do not always percent-encode it): try the longest tail first, dropping one
    leading segment at a time, and keep the first that is a parseable OCSP request.
    """
    raw = path.split("?", 1)[0].split("#", 1)[0].lstrip("/")
    segments = raw.split("/")
    for i in range(len(segments)):
        text = urllib.parse.unquote("/".join(segments[i:]))
        if not text:
            continue
        try:
            der = base64.b64decode(text, validate=True)
            ocsp.load_der_ocsp_request(der)
        except (binascii.Error, ValueError, UnsupportedAlgorithm):
            continue
        return der
    return None


def _printable(text: str, limit: int = 80) -> str:
    """Client-controlled text for our log line: no control characters, bounded."""
    out = "".join(c if c.isprintable() else "?" for c in text)
    return out if len(out) <= limit else out[: limit - 3] + "..."


class _Handler(BaseHTTPRequestHandler):
    server_version = "mtlscheck-ocsp"
    sys_version = ""
    timeout = _HTTP_TIMEOUT
    server: _HTTPServer

    def do_POST(self) -> None:
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.strip().isdigit():
            self._plain(411, "a POST needs a Content-Length")
            return
        length = int(length_text)
        if length > MAX_REQUEST_BYTES:
            self._plain(413, f"an OCSP request is at most {MAX_REQUEST_BYTES} bytes")
            return
        try:
            body = self.rfile.read(length)
        except OSError:
            return  # the client went away or stalled past the timeout
        self._answer(body)

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] in ("", "/"):
            self._plain(
                200,
                f"mtlscheck OCSP responder for {self.server.responder.pki.directory}: "
                "POST an application/ocsp-request, or GET /<base64 request>",
            )
            return
        der = decode_get_path(self.path)
        if der is None:
            self._log_answer(
                Answer(
                    "malformed",
                    detail=f"GET path is not a base64 OCSP request: {_printable(self.path)}",
                )
            )
            data, _ = Responder._error(
                ocsp.OCSPResponseStatus.MALFORMED_REQUEST, "malformed", "bad GET path"
            )
            self._send(200, "application/ocsp-response", data)
            return
        self._answer(der)

    def _answer(self, der: bytes) -> None:
        try:
            data, answer = self.server.responder.respond(der)
        except Exception as exc:
            data, answer = Responder._error(
                ocsp.OCSPResponseStatus.INTERNAL_ERROR,
                "internal-error",
                f"{type(exc).__name__}: {_printable(str(exc))}",
            )
        self._log_answer(answer)
        self._send(200, "application/ocsp-response", data)

    def _plain(self, status: int, text: str) -> None:
        self._send(status, "text/plain; charset=utf-8", (text + "\n").encode())

    def _send(self, status: int, content_type: str, data: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:
            pass  # the client hung up: nothing to tell it

    def _log_answer(self, answer: Answer) -> None:
        self.server.log_line(f"{self.client_address[0]} {self.command} {answer.describe()}")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Answers are logged by :meth:`_log_answer`, one line each; no access log."""

    def log_error(self, format: str, *args: object) -> None:
        self.server.log_line(f"{self.client_address[0]} {_printable(format % args, 200)}")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], responder: Responder, log: TextIO | None) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.responder = responder
        self._log = log
        self._log_lock = threading.Lock()
        super().__init__(address, _Handler)

    def log_line(self, text: str) -> None:
        if self._log is None:
            return
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._log_lock:
            try:
                self._log.write(f"{stamp} {text}\n")
                self._log.flush()
            except (OSError, ValueError):
                pass


class OcspServer:
    """The responder behind HTTP on ``host:port`` (0 = any free port), served by a thread.

    ``start()`` binds (a busy port is an :class:`InputError`) and serves until ``stop()``;
    the CLI runs it in the foreground, tests as a fixture.
    """

    def __init__(
        self,
        responder: Responder,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log: TextIO | None = sys.stderr,
    ) -> None:
        self.responder = responder
        self.host = host.strip("[]")
        self.port = port
        self.log = log
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("OCSP responder already started")
        try:
            server = _HTTPServer((self.host, self.port), self.responder, self.log)
        except OSError as exc:
            raise InputError(
                f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            daemon=True,
            name="mtlscheck-ocsp",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def listen_address(value: str) -> tuple[str, int]:
    """``--listen`` of ``ocsp-serve``: PORT, HOST:PORT or [IPv6]:PORT; port 0 = any free one."""
    from mtlscheck._validate import check_hostname

    text = value.strip()
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    elif not host or (":" in host and not (host.startswith("[") and host.endswith("]"))):
        raise UsageError(f"--listen {text!r}: use PORT, HOST:PORT or [IPv6]:PORT")
    if not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise UsageError(f"--listen {text!r}: port must be 0-65535 (0: any free port)")
    host = host.strip("[]")
    check_hostname(host, "--listen")
    return host, int(port)


def address_of(url: str) -> tuple[str, int]:
    """Host and port an ``http://`` OCSP URL points at (port 80 when it names none)."""
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80
