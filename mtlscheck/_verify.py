"""``mtlscheck verify``: check a client certificate the way nginx and Apache will.

The verdict comes from OpenSSL's own verifier (pyOpenSSL ``X509Store`` /
``X509StoreContext``) configured like a TLS server verifying a client: the SSL-client purpose
(extendedKeyUsage clientAuth), CRL checks for the whole chain when CRLs are given (nginx
``ssl_crl``, Apache ``SSLCARevocationCheck chain``), and the verification time.  Its error is
what Apache (AH02039/AH02276) and HAProxy stop at.

nginx logs a different error for the same certificate: its verify callback lets OpenSSL go on
after an error, so the LAST error is logged (``(21:unable to verify the first certificate)``
where Apache logs ``(20:unable to get local issuer certificate)``).  To say what nginx will
log, and to report every problem rather than the first, the checks OpenSSL runs after its first
error are repeated here in its order: chain building, purpose, revocation (leaf upwards), then
signatures and dates (root downwards).  Also reported: the chain order as sent, the verify
depth the chain needs (nginx and Apache count differently), CRLs past their nextUpdate or
missing for one level of the chain, EKU and key usage.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes

from mtlscheck._errors import InputError
from mtlscheck._tls_errors import VERIFY_ERRORS, verify_text

__all__ = ["Issue", "VerifyResult", "load_crls", "verify_client_cert"]

_REJECTED = "valid-cert-rejected"


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Issue:
    """One problem: an OpenSSL verify error (``number``) or a remark of ours (``number`` 0)."""

    code: str
    """Finding code (:class:`mtlscheck._diagnose.Code` value)."""
    message: str
    number: int = 0
    depth: int | None = None
    severity: str = "error"

    @property
    def logged(self) -> str:
        """``(10:certificate has expired)``, as nginx logs it; empty for our own remarks."""
        return f"({self.number}:{verify_text(self.number)})" if self.number else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "openssl_error": self.number or None,
            "depth": self.depth,
            "logged": self.logged or None,
        }


@dataclass(frozen=True)
class ChainLink:
    subject: str
    issuer: str
    source: str
    """Where it came from: ``sent`` (the client's file or --chain) or ``ca file``."""
    not_after: str
    signature_ok: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "source": self.source,
            "not_after": self.not_after,
            "signature_ok": self.signature_ok,
        }


@dataclass(frozen=True)
class VerifyResult:
    verified: bool
    leaf: str
    at: str
    chain: tuple[ChainLink, ...]
    """From the leaf up; complete (ending in a CA-file certificate) only if ``anchored``."""
    anchored: bool
    intermediates: int
    depth: int | None
    issues: tuple[Issue, ...]
    openssl_error: Issue | None
    """OpenSSL's first error: what Apache and HAProxy log and stop at."""
    server_logs: tuple[tuple[str, str], ...]
    """(server, the line it would log) for a refused certificate."""
    eku: tuple[str, ...]
    key_usage: tuple[str, ...]
    chain_order: str
    crl_checked: bool
    notes: tuple[str, ...] = field(default=())

    @property
    def codes(self) -> tuple[str, ...]:
        """Finding codes: valid-cert-rejected first when refused, then the causes."""
        causes = [i.code for i in self.issues if i.severity == "error"]
        return tuple(dict.fromkeys([*([_REJECTED] if not self.verified else []), *causes]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "certificate": self.leaf,
            "at": self.at,
            "openssl_error": None if self.openssl_error is None else self.openssl_error.to_dict(),
            "server_logs": [{"server": s, "line": line} for s, line in self.server_logs],
            "chain": [c.to_dict() for c in self.chain],
            "chain_complete": self.anchored,
            "chain_order": self.chain_order,
            "intermediates": self.intermediates,
            "depth_needed": {
                "nginx_ssl_verify_depth": self.intermediates,
                "apache_SSLVerifyDepth": self.intermediates + 1,
            },
            "depth": self.depth,
            "crl_checked": self.crl_checked,
            "extended_key_usage": list(self.eku),
            "key_usage": list(self.key_usage),
            "issues": [i.to_dict() for i in self.issues],
            "codes": list(self.codes),
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------- loading


def load_crls(path: Path) -> list[x509.CertificateRevocationList]:
    """Every CRL in a PEM file (several may be concatenated) or one DER CRL."""
    from mtlscheck._files import read_input

    data = read_input(path, "CRL file")
    begin, end = b"-----BEGIN X509 CRL-----", b"-----END X509 CRL-----"
    try:
        if b"-----BEGIN" not in data:
            return [x509.load_der_x509_crl(data)]
        out = []
        for part in data.split(begin)[1:]:
            body, sep, _ = part.partition(end)
            if not sep:
                raise ValueError("unterminated PEM block")
            out.append(x509.load_pem_x509_crl(begin + body + end + b"\n"))
    except ValueError as exc:
        raise InputError(f"cannot parse CRL in {path}: {str(exc).splitlines()[0]}") from None
    if not out:
        raise InputError(f"no CRL found in PEM file {path}")
    return out


# --------------------------------------------------------------------------- helpers


def _name(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def _fp(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _self_signed(cert: x509.Certificate) -> bool:
    return _issued_by(cert, cert)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _eku(cert: x509.Certificate) -> tuple[str, ...] | None:
    try:
        ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None
    return tuple(getattr(o, "_name", None) or o.dotted_string for o in ext)


_KU_FIELDS = (
    "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
    "key_agreement", "key_cert_sign", "crl_sign",
)  # fmt: skip


def _key_usage(cert: x509.Certificate) -> tuple[str, ...] | None:
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    return tuple(f for f in _KU_FIELDS if getattr(ku, f))


def _client_purpose_ok(cert: x509.Certificate, ca: bool) -> bool:
    """OpenSSL's X509_PURPOSE_SSL_CLIENT check for one certificate of the chain."""
    eku = _eku(cert)
    if eku is not None and not {"clientAuth", "anyExtendedKeyUsage"} & set(eku):
        return False
    if ca:
        return True
    ku = _key_usage(cert)
    return ku is None or bool({"digital_signature", "key_agreement"} & set(ku))


def _set_ssl_client_purpose(store: Any) -> None:
    """pyOpenSSL has no public call for the verify purpose; a TLS server verifying a client
    uses the SSL-client purpose (extendedKeyUsage clientAuth), so set it through the binding
    pyOpenSSL itself uses."""
    from OpenSSL._util import lib

    if lib.X509_STORE_set_purpose(store._store, lib.X509_PURPOSE_SSL_CLIENT) != 1:
        raise RuntimeError("X509_STORE_set_purpose failed")


def _openssl_verify(
    leaf: x509.Certificate,
    untrusted: Sequence[x509.Certificate],
    cas: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList],
    at: _dt.datetime,
) -> tuple[list[x509.Certificate] | None, tuple[int, int, str] | None]:
    """OpenSSL's verdict: (verified chain, None) or (None, (error, depth, text))."""
    from OpenSSL import crypto

    store = crypto.X509Store()
    for ca in cas:
        store.add_cert(crypto.X509.from_cryptography(ca))
    for crl in crls:
        store.add_crl(crl)
    if crls:
        store.set_flags(crypto.X509StoreFlags.CRL_CHECK | crypto.X509StoreFlags.CRL_CHECK_ALL)
    _set_ssl_client_purpose(store)
    store.set_time(at)
    ctx = crypto.X509StoreContext(
        store,
        crypto.X509.from_cryptography(leaf),
        [crypto.X509.from_cryptography(c) for c in untrusted],
    )
    try:
        chain = ctx.get_verified_chain()
    except crypto.X509StoreContextError as exc:
        num, depth, text = exc.errors
        return None, (int(num), int(depth), str(text))
    return [c.to_cryptography() for c in chain], None


def _build_chain(
    leaf: x509.Certificate,
    untrusted: Sequence[x509.Certificate],
    cas: Sequence[x509.Certificate],
) -> tuple[list[tuple[x509.Certificate, str]], bool]:
    """Best-effort chain from the leaf up, preferring CA-file certificates (OpenSSL's
    trusted-first); True if it ends at a CA-file certificate."""
    trusted = {_fp(c) for c in cas}
    chain: list[tuple[x509.Certificate, str]] = [
        (leaf, "ca file" if _fp(leaf) in trusted else "sent")
    ]
    if _fp(leaf) in trusted:
        return chain, True
    cur = leaf
    seen = {_fp(leaf)}
    while not _self_signed(cur) and len(chain) < 12:
        nxt = next((c for c in cas if _issued_by(cur, c)), None)
        source = "ca file"
        if nxt is None:
            nxt = next((c for c in untrusted if _issued_by(cur, c) and _fp(c) not in seen), None)
            source = "sent"
        if nxt is None:
            break
        chain.append((nxt, source))
        seen.add(_fp(nxt))
        if source == "ca file":
            return chain, True
        cur = nxt
    return chain, False


def _order(sent: Sequence[x509.Certificate], chain: Sequence[x509.Certificate]) -> str:
    """How the client's certificates are ordered, in words."""
    if len(sent) == 1:
        return "the client sends the leaf only"
    in_chain = {_fp(c) for c in chain}
    stray = [c for c in sent[1:] if _fp(c) not in in_chain]
    ordered = all(_issued_by(sent[i], sent[i + 1]) for i in range(len(sent) - 1))
    text = (
        "in order (each certificate followed by its issuer)"
        if ordered
        else "OUT OF ORDER: OpenSSL-based servers sort it out, but TLS 1.2 (RFC 5246) "
        "requires each certificate to be followed by its issuer"
    )
    if stray:
        text += "; not part of this chain: " + ", ".join(_name(c) for c in stray)
    if any(_self_signed(c) for c in sent[1:]):
        text += "; the root is sent too (harmless, servers ignore it)"
    return text


def _fmt(d: _dt.datetime) -> str:
    return d.strftime("%Y-%m-%d %H:%M UTC")


# --------------------------------------------------------------------------- the checks


@dataclass
class _Checks:
    """Our repetition of what OpenSSL checks after its first error, in OpenSSL's order."""

    build: list[Issue] = field(default_factory=list)
    purpose: list[Issue] = field(default_factory=list)
    revocation: list[Issue] = field(default_factory=list)
    signature: list[Issue] = field(default_factory=list)
    time: list[Issue] = field(default_factory=list)

    def in_openssl_order(self) -> list[Issue]:
        return [*self.build, *self.purpose, *self.revocation, *self.signature, *self.time]


def _check_build(
    c: _Checks,
    chain: list[tuple[x509.Certificate, str]],
    anchored: bool,
    depth: int | None,
    intermediates: int,
) -> None:
    top, _ = chain[-1]
    if anchored:
        if depth is not None and intermediates > depth:
            c.build.append(
                Issue(
                    "verify-depth-too-small",
                    f"the chain has {intermediates} intermediate CA(s) but the verify depth is "
                    f"{depth}: nginx/HAProxy need ssl_verify_depth {intermediates}, Apache "
                    f"SSLVerifyDepth {intermediates + 1}",
                    22,
                    intermediates,
                )
            )
        return
    if _self_signed(top):
        num, what = (18, "the certificate is self-signed") if len(chain) == 1 else (
            19, f"the chain ends in the root {_name(top)}"
        )  # fmt: skip
        c.build.append(
            Issue(
                "ca-names-exclude-client-issuer",
                f"{what}, which the CA file does not hold: the server trusts another CA",
                num,
                len(chain) - 1,
            )
        )
        return
    issuer = top.issuer.rfc4514_string()
    code = "chain-incomplete" if len(chain) == 1 else "ca-names-exclude-client-issuer"
    c.build.append(
        Issue(
            code,
            f"the issuer of {_name(top)} ({issuer}) is neither sent by the client nor in the CA "
            "file: if it is an intermediate CA the client must send it after its certificate "
            "(or the server's CA file must hold it); if it is a root, the server trusts "
            "another CA",
            20,
            len(chain) - 1,
        )
    )
    if len(chain) == 1:
        c.signature.append(  # internal_verify: a lone leaf that no issuer vouches for
            Issue(code, "no issuer verifies the certificate's signature", 21, 0, "info")
        )


def _check_purpose(c: _Checks, chain: list[tuple[x509.Certificate, str]]) -> None:
    for i, (cert, _) in enumerate(chain):
        if _client_purpose_ok(cert, ca=i > 0):
            continue
        eku = _eku(cert)
        why = (
            f"its extendedKeyUsage ({', '.join(eku)}) lacks clientAuth"
            if eku is not None and "clientAuth" not in eku
            else "its keyUsage lacks digitalSignature"
        )
        c.purpose.append(
            Issue(_REJECTED, f"{_name(cert)} is not allowed for TLS client auth: {why}", 26, i)
        )


def _check_crls(
    c: _Checks,
    chain: list[tuple[x509.Certificate, str]],
    crls: Sequence[x509.CertificateRevocationList],
    at: _dt.datetime,
) -> None:
    """nginx ssl_crl (and Apache SSLCARevocationCheck chain) check every certificate of the
    chain against its issuer's CRL: one missing or stale CRL fails every client."""
    certs = [cert for cert, _ in chain]
    for i, cert in enumerate(certs):
        if i > 0 and i == len(certs) - 1 and _self_signed(cert):
            break  # the root vouches for itself; its CRL was needed one level below
        issuer_cert = certs[i + 1] if i + 1 < len(certs) else (cert if _self_signed(cert) else None)
        mine = [crl for crl in crls if crl.issuer == cert.issuer]
        if issuer_cert is not None:
            key: Any = issuer_cert.public_key()
            mine = [crl for crl in mine if crl.is_signature_valid(key)]
        if not mine:
            c.revocation.append(
                Issue(
                    _REJECTED,
                    f"no CRL of {cert.issuer.rfc4514_string()} (level {i} of the chain): with "
                    "CRL checks on, nginx refuses every certificate below that CA",
                    3,
                    i,
                )
            )
            continue
        crl = max(mine, key=lambda x: x.last_update_utc)
        nxt = crl.next_update_utc
        if crl.last_update_utc > at:
            c.revocation.append(
                Issue(
                    _REJECTED,
                    f"the CRL of {cert.issuer.rfc4514_string()} is not valid before "
                    f"{_fmt(crl.last_update_utc)}",
                    11,
                    i,
                )
            )
        elif nxt is not None and nxt < at:
            c.revocation.append(
                Issue(
                    _REJECTED,
                    f"the CRL of {cert.issuer.rfc4514_string()} passed its nextUpdate on "
                    f"{_fmt(nxt)}: nginx and Apache now refuse EVERY client certificate "
                    "below that CA; renew the CRL and reload the server",
                    12,
                    i,
                )
            )
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is not None:
            c.revocation.append(
                Issue(
                    _REJECTED,
                    f"{_name(cert)} is revoked (since {_fmt(entry.revocation_date_utc)})",
                    23,
                    i,
                )
            )


def _check_dates(c: _Checks, chain: list[tuple[x509.Certificate, str]], at: _dt.datetime) -> None:
    for i in reversed(range(len(chain))):  # internal_verify walks from the top down
        cert = chain[i][0]
        if cert.not_valid_before_utc > at:
            c.time.append(
                Issue(
                    _REJECTED,
                    f"{_name(cert)} is not valid before {_fmt(cert.not_valid_before_utc)}",
                    9,
                    i,
                )
            )
        elif cert.not_valid_after_utc < at:
            c.time.append(
                Issue(
                    _REJECTED,
                    f"{_name(cert)} expired on {_fmt(cert.not_valid_after_utc)}",
                    10,
                    i,
                )
            )


def _nginx_error(
    ordered: list[Issue], first: tuple[int, int, str] | None, crls: bool
) -> int | None:
    """The error nginx logs: the last one OpenSSL reports when the callback goes on."""
    numbers = [i.number for i in ordered if i.number]
    if 22 in numbers:
        return 3 if crls else 22  # measured: nginx 1.22 with ssl_crl logs 3 after a cut chain
    if numbers:
        return numbers[-1]
    return first[0] if first is not None else None


def verify_client_cert(
    sent: Sequence[x509.Certificate],
    cas: Sequence[x509.Certificate],
    *,
    crls: Sequence[x509.CertificateRevocationList] = (),
    depth: int | None = None,
    at: _dt.datetime | None = None,
) -> VerifyResult:
    """Verify ``sent`` (leaf first, then what the client sends after it) against ``cas``."""
    if not sent:
        raise InputError("no client certificate given")
    if not cas:
        raise InputError("the CA file holds no certificate")
    at = (at or _dt.datetime.now(_dt.UTC)).astimezone(_dt.UTC)
    leaf, untrusted = sent[0], list(sent[1:])

    verified_chain, first = _openssl_verify(leaf, untrusted, cas, crls, at)
    chain, anchored = _build_chain(leaf, untrusted, cas)
    if verified_chain is not None:
        trusted = {_fp(c) for c in cas}
        chain = [(c, "ca file" if _fp(c) in trusted else "sent") for c in verified_chain]
        anchored = True
    intermediates = max(0, len(chain) - 2) if anchored else max(0, len(chain) - 1)

    checks = _Checks()
    _check_build(checks, chain, anchored, depth, intermediates)
    _check_purpose(checks, chain)
    if crls:
        _check_crls(checks, chain, crls, at)
    _check_dates(checks, chain, at)
    for i, (cert, _) in enumerate(chain[:-1] if anchored else chain):
        nxt = chain[i + 1][0] if i + 1 < len(chain) else None
        if nxt is not None and not _issued_by(cert, nxt):
            checks.signature.append(
                Issue(
                    "ca-names-exclude-client-issuer",
                    f"the signature of {_name(cert)} does not verify with the key of "
                    f"{_name(nxt)} (a CA with the same name but another key?)",
                    7,
                    i,
                )
            )
    ordered = checks.in_openssl_order()
    errors = [i for i in ordered if i.severity == "error"]

    openssl_error: Issue | None = None
    if first is not None:
        num, err_depth, text = first
        known = next((i for i in ordered if i.number == num), None)
        openssl_error = Issue(
            known.code if known else _first_code(num),
            known.message if known else text,
            num,
            err_depth,
        )
        if known is None:
            errors.insert(0, openssl_error)

    apache_depth = depth is not None and anchored and intermediates + 1 > depth
    if apache_depth and not any(i.number == 22 for i in errors):
        errors.append(
            Issue(
                "verify-depth-too-small",
                f"Apache refuses this chain with SSLVerifyDepth {depth} (AH02040; Apache counts "
                f"the root): it needs {intermediates + 1}; nginx and HAProxy accept depth "
                f"{depth}",
            )
        )
    remarks: list[Issue] = []
    if depth is None and anchored and intermediates >= 1:
        remarks.append(
            Issue(
                "verify-depth-too-small",
                "with the default depth 1, Apache refuses this chain (AH02040): it needs "
                f"SSLVerifyDepth {intermediates + 1}; nginx's default ssl_verify_depth 1 "
                + (
                    "is enough" if intermediates <= 1 else f"is too small: it needs {intermediates}"
                ),
                severity="warning",
            )
        )
    notes: list[str] = []
    if not crls:
        notes.append("no CRL given: revocation not checked (--crl FILE)")
    sent_fps = {_fp(c) for c in sent}
    for cert, source in chain[1:]:
        if source == "ca file" and not _self_signed(cert) and _fp(cert) not in sent_fps:
            notes.append(
                f"the intermediate {_name(cert)} comes from the CA file, not from the client: "
                "a server whose CA file lacks it refuses clients that do not send it"
            )

    numbered = [i for i in errors if i.number]
    openssl_refuses = first is not None or bool(numbered)
    server_logs: list[tuple[str, str]] = []
    if openssl_refuses:
        head = openssl_error or numbered[0]
        nginx_num = _nginx_error(ordered, first, bool(crls)) or head.number
        server_logs.append(
            (
                "nginx",
                f"client SSL certificate verify error: ({nginx_num}:{verify_text(nginx_num)})",
            )
        )
    if apache_depth:
        server_logs.append(
            (
                "apache",
                "AH02040: Certificate Verification: Certificate Chain too long (chain has "
                f"{intermediates + 1} certificates, but maximum allowed are only {depth})",
            )
        )
    elif openssl_refuses:
        head = openssl_error or numbered[0]
        text = verify_text(head.number, first[2] if first else "")
        server_logs.append(
            ("apache", f"AH02039: Certificate Verification: Error ({head.number}): {text}")
        )
    if openssl_refuses:
        server_logs.append(("haproxy", "SSL client certificate not trusted"))
    verified = not errors and first is None

    eku = _eku(leaf)
    ku = _key_usage(leaf)
    return VerifyResult(
        verified=verified,
        leaf=_name(leaf),
        at=_fmt(at),
        chain=tuple(
            ChainLink(
                _name(cert),
                cert.issuer.rfc4514_string(),
                source,
                _fmt(cert.not_valid_after_utc),
                signature_ok=i + 1 >= len(chain) or _issued_by(cert, chain[i + 1][0]),
            )
            for i, (cert, source) in enumerate(chain)
        ),
        anchored=anchored,
        intermediates=intermediates,
        depth=depth,
        issues=tuple(dict.fromkeys([*errors, *remarks])),
        openssl_error=openssl_error,
        server_logs=tuple(server_logs),
        eku=eku if eku is not None else ("(none: any purpose)",),
        key_usage=ku if ku is not None else ("(none: any usage)",),
        chain_order=_order(sent, [c for c, _ in chain]),
        crl_checked=bool(crls),
        notes=tuple(notes),
    )


def _first_code(num: int) -> str:
    meaning = VERIFY_ERRORS.get(num)
    return meaning.codes[0] if meaning is not None else _REJECTED
