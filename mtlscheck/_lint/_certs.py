"""The CA, CRL and certificate files a configuration names, read the way the server reads them.

Files go through :func:`mtlscheck._files.read_input` (regular files only, size-capped), so a
config that names ``/dev/zero`` as its CA file cannot hang or exhaust lint.  A file that cannot
be read or parsed is not an error of lint's input: it is reported as a finding
(``referenced-file-unreadable``) and the checks that need it are skipped, because lint often
runs away from the server the paths are valid on.
"""

from __future__ import annotations

import hashlib
import ssl
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from mtlscheck._errors import InputError
from mtlscheck._files import read_input

__all__ = [
    "Loaded",
    "ca_level",
    "crl_for",
    "is_ca",
    "is_self_signed",
    "load_certs",
    "load_crls",
    "public_cas",
    "short_name",
]

_PEM_CERT = b"-----BEGIN CERTIFICATE-----"
_PEM_CRL = b"-----BEGIN X509 CRL-----"
_MAX_DIR_FILES = 2000


@dataclass(frozen=True)
class Loaded:
    """What one configured path gave: certificates or CRLs, or why nothing."""

    path: Path
    certs: tuple[x509.Certificate, ...] = ()
    crls: tuple[x509.CertificateRevocationList, ...] = ()
    error: str | None = None


def _files_of(path: Path) -> list[Path]:
    """A file, or the regular files of a directory (Apache ``SSLCACertificatePath``)."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file())[:_MAX_DIR_FILES]
    return [path]


def load_certs(path: Path) -> Loaded:
    """Certificates of a PEM file (or of every PEM file in a directory)."""
    certs: list[x509.Certificate] = []
    try:
        for p in _files_of(path):
            data = read_input(p, "CA file")
            if _PEM_CERT not in data:
                if path.is_dir():
                    continue
                return Loaded(path, error=f"{p} holds no PEM certificate")
            try:
                with warnings.catch_warnings():  # old roots with odd serials still load
                    warnings.simplefilter("ignore")
                    certs.extend(x509.load_pem_x509_certificates(data))
            except ValueError as exc:
                return Loaded(path, error=f"cannot parse the certificates in {p}: {exc}")
    except (InputError, OSError) as exc:
        return Loaded(path, error=str(exc))
    return Loaded(path, certs=tuple(certs))


def _split_crls(data: bytes) -> list[bytes]:
    blocks = []
    start = data.find(_PEM_CRL)
    while start != -1:
        end = data.find(b"-----END X509 CRL-----", start)
        if end == -1:
            break
        end += len(b"-----END X509 CRL-----")
        blocks.append(data[start:end] + b"\n")
        start = data.find(_PEM_CRL, end)
    return blocks


def load_crls(path: Path) -> Loaded:
    """CRLs of a PEM file holding one or more (or of every file in a directory)."""
    crls: list[x509.CertificateRevocationList] = []
    try:
        for p in _files_of(path):
            data = read_input(p, "CRL file")
            blocks = _split_crls(data)
            if not blocks:
                if path.is_dir():
                    continue
                try:  # nginx and Apache want PEM, but say what a DER file is
                    x509.load_der_x509_crl(data)
                except ValueError:
                    return Loaded(path, error=f"{p} holds no PEM CRL")
                return Loaded(path, error=f"{p} is a DER CRL; the server needs PEM")
            for block in blocks:
                try:
                    crls.append(x509.load_pem_x509_crl(block))
                except ValueError as exc:
                    return Loaded(path, error=f"cannot parse a CRL in {p}: {exc}")
    except (InputError, OSError) as exc:
        return Loaded(path, error=str(exc))
    return Loaded(path, crls=tuple(crls))


def short_name(name: x509.Name) -> str:
    """``CN=Clients CA`` (or the whole RFC 4514 name when it has no CN)."""
    cns = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if cns:
        return f"CN={cns[0].value!s}"
    return name.rfc4514_string() or "(empty name)"


def is_ca(cert: x509.Certificate) -> bool:
    try:
        with warnings.catch_warnings():  # old roots with odd serials still load
            warnings.simplefilter("ignore")
            ext = cert.extensions
        return bool(ext.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return cert.version is x509.Version.v1 and is_self_signed(cert)  # old v1 roots


def is_self_signed(cert: x509.Certificate) -> bool:
    """Issuer == subject and the signature checks out with its own key.  A self-issued CA whose
    signature cryptography cannot check (old algorithms in system bundles) counts too: OpenSSL
    ends a chain at it all the same."""
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except InvalidSignature:
        return False
    except Exception:  # unsupported key or signature algorithm: cannot tell, trust the names
        return True
    return True


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:
        return False
    return True


def ca_level(cert: x509.Certificate, cas: Sequence[x509.Certificate]) -> int | None:
    """How many CAs of ``cas`` lie between ``cert`` and a self-signed root of ``cas``
    (0 for a root itself); None when the chain does not reach a root in ``cas``."""
    level, current, seen = 0, cert, set()
    while not is_self_signed(current):
        parents = [c for c in cas if c is not current and _issued_by(current, c)]
        if not parents or id(parents[0]) in seen:
            return None
        seen.add(id(current))
        current = parents[0]
        level += 1
    return level


def crl_for(
    ca: x509.Certificate, crls: Iterable[x509.CertificateRevocationList]
) -> x509.CertificateRevocationList | None:
    """The CRL that ``ca`` issued (name and signature), if any."""
    for crl in crls:
        if crl.issuer != ca.subject:
            continue
        try:
            if crl.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
                return crl
        except Exception:
            continue
    return None


def crl_expired(crl: x509.CertificateRevocationList, now: datetime) -> datetime | None:
    nxt = crl.next_update_utc
    return nxt if nxt is not None and nxt < now else None


def has_client_eku(cert: x509.Certificate) -> bool | None:
    """True/False for an EKU with/without clientAuth (or anyExtendedKeyUsage); None if no EKU."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None
    return (
        ExtendedKeyUsageOID.CLIENT_AUTH in eku or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku
    )


def _key_id(cert: x509.Certificate) -> str:
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(cert.subject.public_bytes() + spki).hexdigest()


def _system_bundle() -> Path | None:
    paths = ssl.get_default_verify_paths()
    for candidate in (
        paths.cafile,
        paths.openssl_cafile,
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


@lru_cache(maxsize=1)
def _public_ids() -> frozenset[str]:
    bundle = _system_bundle()
    if bundle is None:
        return frozenset()
    loaded = load_certs(bundle)
    return frozenset(_key_id(c) for c in loaded.certs)


def public_cas(certs: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    """The certificates that are public CAs: in this machine's system trust store."""
    ids = _public_ids()
    return [c for c in certs if _key_id(c) in ids]
