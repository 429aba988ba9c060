"""Client identities: load a certificate, its chain and its key from the user's files.

Accepts what people actually have: PEM (cert file may carry the chain, and even the key), DER,
PKCS#12 (``.p12``/``.pfx``), encrypted keys.  Every failure becomes one
:class:`~mtlscheck.InputError` line that names the file and says what to do; a key that does
not belong to its certificate is caught here, before any connection, because a server would
only answer with an opaque ``decrypt_error``/``handshake_failure``.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID

from mtlscheck._errors import InputError

__all__ = [
    "ClientIdentity",
    "KeyPasswordNeeded",
    "PrivateKey",
    "load_certificates",
    "load_identity",
]

PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)


@dataclass(frozen=True)
class ClientIdentity:
    """What a probe presents: a leaf, the intermediates sent after it, and the leaf's key."""

    cert: x509.Certificate
    key: PrivateKey
    chain: tuple[x509.Certificate, ...] = ()
    cert_path: Path | None = None
    """File holding the leaf (and chain), for the reproduce commands; None when only in memory."""
    key_path: Path | None = None
    cert_type: str = "PEM"
    """``PEM``, ``DER`` or ``P12``: what curl's ``--cert-type`` needs for :attr:`cert_path`."""
    key_type: str = "PEM"
    """``PEM`` or ``DER``: curl's ``--key-type`` / openssl's ``-keyform`` for :attr:`key_path`."""
    key_encrypted: bool = False
    """The key file needs a password (the reproduce commands take it from the environment)."""

    @property
    def subject(self) -> str:
        return self.cert.subject.rfc4514_string()

    @property
    def issuer(self) -> str:
        return self.cert.issuer.rfc4514_string()

    def warnings(self, now: _dt.datetime | None = None) -> list[str]:
        """Preflight remarks on the certificate as a client identity (not errors: a probe may
        present a bad certificate on purpose)."""
        now = now or _dt.datetime.now(_dt.UTC)
        out: list[str] = []
        if self.cert.not_valid_after_utc < now:
            out.append(f"certificate expired on {self.cert.not_valid_after_utc:%Y-%m-%d}")
        if self.cert.not_valid_before_utc > now:
            out.append(f"certificate not valid before {self.cert.not_valid_before_utc:%Y-%m-%d}")
        try:
            eku = self.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            pass
        else:
            if ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
                out.append("certificate lacks the clientAuth extended key usage")
        return out


class KeyPasswordNeeded(InputError):
    """The key (or PKCS#12) is encrypted and no password was given: the CLI may prompt."""


def _read(path: Path, what: str) -> bytes:
    from mtlscheck._files import read_input

    return read_input(path, what)


def _load_certs(data: bytes, path: Path) -> list[x509.Certificate]:
    if b"-----BEGIN" in data:
        if b"-----BEGIN CERTIFICATE-----" not in data:
            raise InputError(f"no certificate found in PEM file {path}")
        try:
            return x509.load_pem_x509_certificates(data)
        except (ValueError, x509.InvalidVersion) as exc:
            raise InputError(f"cannot parse certificate in {path}: {exc}") from None
    try:
        return [x509.load_der_x509_certificate(data)]
    except (ValueError, x509.InvalidVersion):
        raise InputError(f"{path} is neither a PEM nor a DER certificate (nor PKCS#12)") from None


def _load_key(data: bytes, path: Path, password: bytes | None) -> PrivateKey:
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password)
        else:
            key = serialization.load_der_private_key(data, password)
    except TypeError:
        # cryptography raises TypeError for "encrypted but no password" and the reverse.
        if password is None:
            raise KeyPasswordNeeded(
                f"private key {path} is encrypted: give its password with --key-password-env VAR"
            ) from None
        key = _load_key(data, path, None)
    except ValueError as exc:
        if password is not None and (
            "decrypt" in str(exc).lower() or "password" in str(exc).lower()
        ):
            raise InputError(f"wrong password for private key {path}") from None
        raise InputError(f"{path} is not a usable private key (PEM or DER)") from None
    except UnsupportedAlgorithm:
        raise InputError(f"{path}: unsupported private key algorithm or curve") from None
    if not isinstance(key, PrivateKey):
        raise InputError(f"unsupported private key type in {path}: {type(key).__name__}")
    return key


def _spki(key: PrivateKey | x509.Certificate) -> bytes:
    pub = key.public_key()
    return pub.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _check_pair(cert: x509.Certificate, key: PrivateKey, cpath: Path, kpath: Path) -> None:
    """The key must belong to the certificate; a certificate whose public key does not even
    parse (cryptography reads it lazily) is refused here, not in the middle of a probe."""
    try:
        cert_spki = _spki(cert)
    except (ValueError, UnsupportedAlgorithm):
        raise InputError(f"certificate {cpath} holds a public key that cannot be read") from None
    if _spki(key) != cert_spki:
        if kpath == cpath:
            raise InputError(f"the private key in {cpath} does not match its certificate")
        raise InputError(f"private key {kpath} does not match certificate {cpath}")


def _load_p12(data: bytes, path: Path, password: bytes | None) -> ClientIdentity:
    try:
        with warnings.catch_warnings():
            # A malformed bundle may parse as BER with a UserWarning on stderr: the user
            # sees one line from us, or nothing, never a Python warning.
            warnings.simplefilter("ignore")
            key, cert, extra = pkcs12.load_key_and_certificates(data, password)
    except UnsupportedAlgorithm:
        raise InputError(f"cannot open PKCS#12 {path}: unsupported algorithm") from None
    except ValueError:
        if password is None:
            raise KeyPasswordNeeded(
                f"cannot open PKCS#12 {path}: it needs a password (--key-password-env VAR)"
            ) from None
        raise InputError(f"cannot open PKCS#12 {path}: wrong password or corrupt file") from None
    if cert is None or key is None:
        raise InputError(f"PKCS#12 {path} holds no certificate with its private key")
    if not isinstance(key, PrivateKey):
        raise InputError(f"unsupported private key type in {path}")
    _check_pair(cert, key, path, path)
    return ClientIdentity(cert, key, tuple(extra), cert_path=path, key_path=None, cert_type="P12")


def _looks_like_p12(path: Path) -> bool:
    # A DER PKCS#12 starts like any DER SEQUENCE, so without the suffix it is tried only
    # when nothing else parses.
    return path.suffix.lower() in (".p12", ".pfx")


def load_identity(
    cert_path: Path | str,
    key_path: Path | str | None = None,
    *,
    password: bytes | None = None,
    key_hint: str = "use --key FILE",
) -> ClientIdentity:
    """Load a client identity; raises :class:`InputError` with one line on any problem.

    ``key_path`` may be omitted when the certificate file also holds the key (combined PEM)
    or is a PKCS#12 bundle.  ``key_hint`` says how the caller's user gives a key (the option
    differs between ``--cert``, ``--identity NAME=CERT,KEY`` and a suite file).
    """
    cpath = Path(cert_path)
    data = _read(cpath, "certificate")
    if _looks_like_p12(cpath):
        return _load_p12(data, cpath, password)
    try:
        certs = _load_certs(data, cpath)
    except InputError:
        if b"-----BEGIN" not in data:
            try:
                return _load_p12(data, cpath, password)
            except InputError:
                pass
        raise
    leaf, chain = certs[0], tuple(certs[1:])
    if key_path is None:
        if b"PRIVATE KEY-----" not in data:
            raise InputError(f"no private key given for {cpath}: {key_hint}")
        kpath, kdata = cpath, data
    else:
        kpath = Path(key_path)
        kdata = _read(kpath, "private key")
    key = _load_key(kdata, kpath, password)
    _check_pair(leaf, key, cpath, kpath)
    return ClientIdentity(
        leaf,
        key,
        chain,
        cert_path=cpath,
        key_path=kpath,
        cert_type="PEM" if b"-----BEGIN" in data else "DER",
        key_type="PEM" if b"-----BEGIN" in kdata else "DER",
        key_encrypted=password is not None and _encrypted(kdata),
    )


def _encrypted(data: bytes) -> bool:
    """Does this key file need its password?  (Loading it without one says so.)"""
    try:
        if b"-----BEGIN" in data:
            serialization.load_pem_private_key(data, None)
        else:
            serialization.load_der_private_key(data, None)
    except TypeError:
        return True
    except (ValueError, UnsupportedAlgorithm):
        return False
    return False


def load_certificates(path: Path | str, what: str = "certificate") -> list[x509.Certificate]:
    """Certificates of a PEM bundle or a DER file, with the same one-line errors."""
    p = Path(path)
    return _load_certs(_read(p, what), p)
