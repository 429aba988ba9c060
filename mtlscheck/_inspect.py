"""``mtlscheck inspect``: what is in certificate, chain, key, PKCS#12 and CRL files.

Each file is read as what it holds (PEM blocks of any kind, in any order, or one DER object,
or PKCS#12), so a ``fullchain.pem`` with the key appended or a ``.p12`` are shown as their
parts.  Across all files given together, every private key is matched against every
certificate by public key (a key that fits no certificate is the classic "curl: (58)" /
``decrypt_error``), every CRL against the CA that signed it, and each certificate file's chain
is checked link by link (issuer name, AKI = issuer's SKI, signature) in the order it is stored.
"""

from __future__ import annotations

import datetime as _dt
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from mtlscheck._errors import InputError
from mtlscheck._identity import KeyPasswordNeeded

__all__ = ["FileReport", "Found", "InspectResult", "inspect_files", "read_objects"]

PrivateKey = Any


@dataclass(frozen=True)
class Item:
    """One object found in a file: ``kind`` is certificate, private-key or crl."""

    kind: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class FileReport:
    path: str
    format: str
    items: tuple[Item, ...]
    chain: tuple[str, ...] = ()
    """Link checks between consecutive certificates of this file (chain order)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "items": [{"kind": i.kind, **i.fields} for i in self.items],
            "chain": list(self.chain),
        }


@dataclass(frozen=True)
class Check:
    """A cross-file check: ``ok`` False is a problem worth a warning."""

    what: str
    ok: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.what, "ok": self.ok, "message": self.message}


@dataclass(frozen=True)
class InspectResult:
    files: tuple[FileReport, ...]
    checks: tuple[Check, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": [f.to_dict() for f in self.files],
            "checks": [c.to_dict() for c in self.checks],
        }


# --------------------------------------------------------------------------- reading


def _read(path: Path) -> bytes:
    """Regular files only, size-capped (the same reader as every other input)."""
    from mtlscheck._files import read_input

    return read_input(path, "file")


_KEY_LABELS = (b"PRIVATE KEY", b"EC PRIVATE KEY", b"RSA PRIVATE KEY", b"ENCRYPTED PRIVATE KEY")


def _pem_blocks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(label, whole block) for every PEM block in ``data``."""
    out: list[tuple[bytes, bytes]] = []
    pos = 0
    while True:
        start = data.find(b"-----BEGIN ", pos)
        if start < 0:
            return out
        label_end = data.find(b"-----", start + 11)
        if label_end < 0:
            return out
        label = data[start + 11 : label_end]
        end_marker = b"-----END " + label + b"-----"
        end = data.find(end_marker, label_end)
        if end < 0:
            raise ValueError(f"unterminated PEM block {label.decode(errors='replace')}")
        out.append((label, data[start : end + len(end_marker)] + b"\n"))
        pos = end + len(end_marker)


def _load_key_pem(block: bytes, path: Path, password: bytes | None) -> PrivateKey:
    try:
        return serialization.load_pem_private_key(block, password)
    except TypeError:
        if password is None:
            raise KeyPasswordNeeded(
                f"private key in {path} is encrypted: give its password with --password-env "
                "VAR (or at the prompt)"
            ) from None
        return serialization.load_pem_private_key(block, None)
    except ValueError:
        if password is not None:
            raise InputError(f"wrong password for the private key in {path}") from None
        raise InputError(f"cannot parse the private key in {path}") from None


@dataclass
class Found:
    """What one file holds, in file order."""

    certs: list[x509.Certificate] = field(default_factory=list)
    keys: list[PrivateKey] = field(default_factory=list)
    crls: list[x509.CertificateRevocationList] = field(default_factory=list)
    format: str = "PEM"
    extra: dict[str, Any] = field(default_factory=dict)


def read_objects(path: Path, password: bytes | None = None) -> Found:
    data = _read(path)
    if not data.strip():
        raise InputError(f"{path} is empty")
    found = Found()
    if b"-----BEGIN " in data:
        try:
            blocks = _pem_blocks(data)
        except ValueError as exc:
            raise InputError(f"{path}: {exc}") from None
        for label, block in blocks:
            try:
                if label in (b"CERTIFICATE", b"TRUSTED CERTIFICATE"):
                    found.certs.append(x509.load_pem_x509_certificate(block))
                elif label == b"X509 CRL":
                    found.crls.append(x509.load_pem_x509_crl(block))
                elif label in _KEY_LABELS:
                    found.keys.append(_load_key_pem(block, path, password))
            except ValueError as exc:
                raise InputError(
                    f"cannot parse the {label.decode()} in {path}: {str(exc).splitlines()[0]}"
                ) from None
        if not (found.certs or found.keys or found.crls):
            labels = ", ".join(sorted({lb.decode(errors="replace") for lb, _ in blocks}))
            raise InputError(f"{path} holds no certificate, key or CRL (PEM: {labels})")
        return found
    return _read_der(data, path, password)


def _read_der(data: bytes, path: Path, password: bytes | None) -> Found:
    found = Found(format="DER")
    p12_first = path.suffix.lower() in (".p12", ".pfx")
    if not p12_first:
        try:
            found.certs.append(x509.load_der_x509_certificate(data))
            return found
        except ValueError:
            pass
        try:
            found.crls.append(x509.load_der_x509_crl(data))
            return found
        except ValueError:
            pass
        try:
            found.keys.append(serialization.load_der_private_key(data, password))
            return found
        except TypeError:
            if password is None and not _looks_like_p12(data):
                raise KeyPasswordNeeded(
                    f"private key {path} is encrypted: give its password with --password-env "
                    "VAR (or at the prompt)"
                ) from None
        except ValueError:
            pass
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password)
    except ValueError:
        if not p12_first and not _looks_like_p12(data):
            raise InputError(
                f"{path} is not a certificate, key, CRL or PKCS#12 (PEM or DER)"
            ) from None
        if password is None:
            raise KeyPasswordNeeded(
                f"PKCS#12 {path} needs a password: --password-env VAR (or at the prompt)"
            ) from None
        raise InputError(f"cannot open PKCS#12 {path}: wrong password or corrupt file") from None
    found.format = "PKCS#12"
    if cert is not None:
        found.certs.append(cert)
    found.certs.extend(extra)
    if key is not None:
        found.keys.append(key)
    return found


def _looks_like_p12(data: bytes) -> bool:
    # PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo, ... }
    return len(data) > 8 and data[0] == 0x30 and b"\x02\x01\x03" in data[:8]


# --------------------------------------------------------------------------- describing


def _spki(obj: Any) -> bytes:
    return bytes(
        obj.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _key_desc(key: Any) -> str:
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return f"EC {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey | ed448.Ed448PrivateKey):
        return "Ed448"
    if isinstance(key, dsa.DSAPublicKey | dsa.DSAPrivateKey):
        return f"DSA {key.key_size}"
    return type(key).__name__


def _ext(cert: x509.Certificate, cls: type[Any]) -> Any:
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def _hex(data: bytes | None) -> str | None:
    return None if data is None else data.hex(":").upper()


def _days(delta: _dt.timedelta) -> int:
    return int(delta.total_seconds() // 86400)


def _validity(cert: x509.Certificate, now: _dt.datetime) -> str:
    nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
    if na < now:
        return f"EXPIRED {_days(now - na)} day(s) ago"
    if nb > now:
        return f"NOT YET VALID (starts in {_days(nb - now)} day(s))"
    return f"valid, {_days(na - now)} day(s) left"


def _san(cert: x509.Certificate) -> list[str]:
    san = _ext(cert, x509.SubjectAlternativeName)
    if san is None:
        return []
    kinds: dict[type[Any], str] = {
        x509.DNSName: "DNS",
        x509.IPAddress: "IP",
        x509.RFC822Name: "email",
        x509.UniformResourceIdentifier: "URI",
    }
    return [f"{kinds.get(type(gn), type(gn).__name__)}:{gn.value}" for gn in san]


def _eku(cert: x509.Certificate) -> list[str] | None:
    eku = _ext(cert, x509.ExtendedKeyUsage)
    if eku is None:
        return None
    return [getattr(o, "_name", None) or o.dotted_string for o in eku]


_KU = (
    "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
    "key_agreement", "key_cert_sign", "crl_sign",
)  # fmt: skip


def _ku(cert: x509.Certificate) -> list[str] | None:
    ku = _ext(cert, x509.KeyUsage)
    return None if ku is None else [f for f in _KU if getattr(ku, f)]


def _ski(cert: x509.Certificate) -> bytes | None:
    ski = _ext(cert, x509.SubjectKeyIdentifier)
    return None if ski is None else bytes(ski.digest)


def _aki(cert: x509.Certificate) -> bytes | None:
    aki = _ext(cert, x509.AuthorityKeyIdentifier)
    return None if aki is None or aki.key_identifier is None else bytes(aki.key_identifier)


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def describe_cert(cert: x509.Certificate, now: _dt.datetime) -> dict[str, Any]:
    bc = _ext(cert, x509.BasicConstraints)
    eku = _eku(cert)
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": f"{cert.serial_number:X}",
        "san": _san(cert),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "validity": _validity(cert, now),
        "key": _key_desc(cert.public_key()),
        "ca": None if bc is None else bool(bc.ca),
        "path_length": None if bc is None else bc.path_length,
        "extended_key_usage": eku,
        "client_auth": None if eku is None else ("clientAuth" in eku),
        "key_usage": _ku(cert),
        "self_signed": cert.subject == cert.issuer and _issued_by(cert, cert),
        "sha256": _hex(cert.fingerprint(hashes.SHA256())),
        "sha1": _hex(cert.fingerprint(hashes.SHA1())),  # display only, like openssl x509
        "ski": _hex(_ski(cert)),
        "aki": _hex(_aki(cert)),
    }


def _describe_crl(crl: x509.CertificateRevocationList, now: _dt.datetime) -> dict[str, Any]:
    nxt = crl.next_update_utc
    if nxt is None:
        status = "no nextUpdate"
    elif nxt < now:
        status = (
            f"EXPIRED {_days(now - nxt)} day(s) ago: nginx and Apache refuse every client "
            "certificate of this CA until it is renewed and the server reloaded"
        )
    else:
        status = f"valid, next update due in {_days(nxt - now)} day(s)"
    try:
        number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        number = None
    try:
        aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        aki_hex = _hex(None if aki.key_identifier is None else bytes(aki.key_identifier))
    except x509.ExtensionNotFound:
        aki_hex = None
    return {
        "issuer": crl.issuer.rfc4514_string(),
        "last_update": crl.last_update_utc.isoformat(),
        "next_update": None if nxt is None else nxt.isoformat(),
        "validity": status,
        "crl_number": number,
        "revoked": len(crl),
        "aki": aki_hex,
    }


def _chain_links(certs: list[x509.Certificate]) -> tuple[str, ...]:
    """Each certificate checked against the next one in the file (the order servers send)."""
    out: list[str] = []
    for child, parent in itertools.pairwise(certs):
        c, p = child.subject.rfc4514_string(), parent.subject.rfc4514_string()
        problems = []
        if child.issuer != parent.subject:
            problems.append("issuer name differs")
        aki, ski = _aki(child), _ski(parent)
        if aki is not None and ski is not None and aki != ski:
            problems.append("AKI does not match the next certificate's SKI")
        if not problems and not _issued_by(child, parent):
            problems.append("signature does not verify")
        if problems:
            out.append(f"{c} -> {p}: NOT its issuer ({'; '.join(problems)}): chain out of order?")
        else:
            link = "AKI = SKI, " if aki is not None and ski is not None else ""
            out.append(f"{c} -> {p}: issued by it ({link}signature ok)")
    return tuple(out)


def inspect_files(
    paths: list[Path], *, password: bytes | None = None, now: _dt.datetime | None = None
) -> InspectResult:
    """Read and describe every file; cross-check keys, certificates and CRLs."""
    if not paths:
        raise InputError("no file to inspect")
    now = now or _dt.datetime.now(_dt.UTC)
    reports: list[FileReport] = []
    all_certs: list[tuple[str, x509.Certificate]] = []
    all_keys: list[tuple[str, Any]] = []
    all_crls: list[tuple[str, x509.CertificateRevocationList]] = []
    for path in paths:
        found = read_objects(path, password)
        items = [Item("certificate", describe_cert(c, now)) for c in found.certs]
        items += [Item("private-key", {"key": _key_desc(k)}) for k in found.keys]
        items += [Item("crl", _describe_crl(crl, now)) for crl in found.crls]
        reports.append(FileReport(str(path), found.format, tuple(items), _chain_links(found.certs)))
        all_certs += [(str(path), c) for c in found.certs]
        all_keys += [(str(path), k) for k in found.keys]
        all_crls += [(str(path), crl) for crl in found.crls]
    return InspectResult(tuple(reports), tuple(_cross_checks(all_certs, all_keys, all_crls, now)))


def _cross_checks(
    certs: list[tuple[str, x509.Certificate]],
    keys: list[tuple[str, Any]],
    crls: list[tuple[str, x509.CertificateRevocationList]],
    now: _dt.datetime,
) -> list[Check]:
    out: list[Check] = []
    for kpath, key in keys:
        spki = _spki(key)
        matching = [(p, c) for p, c in certs if _spki(c) == spki]
        if matching:
            names = "; ".join(f"{c.subject.rfc4514_string()} ({p})" for p, c in matching)
            out.append(Check("key-matches-cert", True, f"the key in {kpath} matches {names}"))
        elif certs:
            leaf = next((c for _, c in certs if not _is_ca(c)), certs[0][1])
            out.append(
                Check(
                    "key-matches-cert",
                    False,
                    f"the key in {kpath} matches NONE of the certificates given (e.g. "
                    f"{leaf.subject.rfc4514_string()}): a client presenting them fails "
                    "(curl: (58), or the server answers decrypt_error)",
                )
            )
    for cpath, crl in crls:
        signer = next(
            ((p, c) for p, c in certs if c.subject == crl.issuer and _crl_signed_by(crl, c)),
            None,
        )
        if signer is not None:
            out.append(
                Check(
                    "crl-issuer",
                    True,
                    f"the CRL of {crl.issuer.rfc4514_string()} in {cpath} is signed by the "
                    f"certificate in {signer[0]}",
                )
            )
        elif any(c.subject == crl.issuer for _, c in certs):
            out.append(
                Check(
                    "crl-issuer",
                    False,
                    f"the CRL in {cpath} names {crl.issuer.rfc4514_string()} as issuer but its "
                    "signature does not verify with that certificate's key (another CA with "
                    "the same name?)",
                )
            )
        for p, c in certs:
            if c.issuer != crl.issuer:
                continue
            entry = crl.get_revoked_certificate_by_serial_number(c.serial_number)
            if entry is not None:
                out.append(
                    Check(
                        "revoked",
                        False,
                        f"{c.subject.rfc4514_string()} ({p}) is REVOKED in the CRL in {cpath} "
                        f"(since {entry.revocation_date_utc:%Y-%m-%d})",
                    )
                )
    return out


def _is_ca(cert: x509.Certificate) -> bool:
    bc = _ext(cert, x509.BasicConstraints)
    return bool(bc is not None and bc.ca)


def _crl_signed_by(crl: x509.CertificateRevocationList, cert: x509.Certificate) -> bool:
    key: Any = cert.public_key()
    try:
        return bool(crl.is_signature_valid(key))
    except (TypeError, ValueError):
        return False
