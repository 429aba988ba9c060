"""A throwaway test PKI: CAs, client-certificate variants, CRL and PKCS#12.

Everything is built with :mod:`cryptography.x509` (the ``OpenSSL.crypto`` builders are
deprecated).  :func:`init_pki` writes a directory with one certificate (and key) per *role*
plus ``manifest.json``; :meth:`PKI.load` reads it back.  Role names are a contract used by the
probes, the pytest plugin and the tests:

==================  =========================================================================
``ca``              self-signed root; trusted by the server
``intermediate-ca`` issued by ``ca``, pathlen 0
``other-ca``        an unrelated self-signed root (never trusted)
``server``          issued by ``ca``; serverAuth; SAN = the hosts
``valid``           issued by ``ca``; clientAuth; CN=valid-client
``expired``         issued by ``ca``; validity ended a day ago
``not-yet-valid``   issued by ``ca``; validity starts in 30 days
``revoked``         issued by ``ca``; its serial is listed in the root's CRL
``no-client-eku``   issued by ``ca``; serverAuth only
``self-signed``     self-signed leaf (CA:FALSE)
``intermediate``    issued by ``intermediate-ca``; ``Role.chain`` = leaf + intermediate
``wrong-ca``        issued by ``other-ca``
==================  =========================================================================

With ``ocsp_url`` (``pki init --ocsp-url``) every certificate issued by ``ca`` or
``intermediate-ca`` carries an Authority Information Access extension naming that OCSP
responder, which ``mtlscheck pki ocsp-serve`` (:mod:`mtlscheck._ocsp`) runs.

Private keys (and the ``.p12``) are created with mode 0600 from the start.  The nginx and
Apache configuration that uses such a directory is in :mod:`mtlscheck._snippets`.
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from mtlscheck._errors import InputError, UsageError
from mtlscheck._identity import PrivateKey

__all__ = [
    "CLIENT_ROLES",
    "MANIFEST",
    "PKI",
    "ROLES",
    "Issued",
    "KeyType",
    "PrivateKey",
    "Role",
    "init_pki",
    "is_self_signed",
    "make_ca",
    "make_crl",
    "make_leaf",
    "new_key",
    "write_pem",
    "write_private_key",
]

KeyType = Literal["ec", "rsa"]
"""Keys this module generates.  Keys it is *given* (a CA's, a client's) may be any
:data:`~mtlscheck._identity.PrivateKey`: RSA, ECDSA, Ed25519 or Ed448 - one vocabulary for
loading and signing."""

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
ORGANIZATION = "mtlscheck test PKI"
_EMAIL_DOMAIN = "mtlscheck.test"

CA_ROLES: tuple[str, ...] = ("ca", "intermediate-ca", "other-ca")
CLIENT_ROLES: tuple[str, ...] = (
    "valid",
    "expired",
    "not-yet-valid",
    "revoked",
    "no-client-eku",
    "self-signed",
    "intermediate",
    "wrong-ca",
)
"""Client identities written by :func:`init_pki`, in the order probes usually use them."""
ROLES: tuple[str, ...] = (*CA_ROLES, "server", *CLIENT_ROLES)
"""Every role written by :func:`init_pki`."""

_CA_LIFETIME = timedelta(days=3650)
_LEAF_LIFETIME = timedelta(days=365)
_BACKDATE = timedelta(hours=1)
_CRL_LIFETIME = timedelta(days=365)


# --------------------------------------------------------------------------- building blocks


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key and the intermediates a peer must send after it."""

    cert: x509.Certificate
    key: PrivateKey
    chain: tuple[x509.Certificate, ...] = ()
    """Intermediates between ``cert`` and the root, nearest first; never the root itself."""


def new_key(key_type: KeyType = "ec") -> PrivateKey:
    """A fresh private key: ECDSA P-256 (fast) or RSA 2048."""
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise UsageError(f"unknown key type {key_type!r}; use one of: ec, rsa")


def _digest(signer: PrivateKey) -> hashes.SHA256 | None:
    """The hash to sign with: Ed25519 and Ed448 hash internally and must be given None."""
    if isinstance(signer, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return None
    return hashes.SHA256()


def _name(subject: str | x509.Name) -> x509.Name:
    if isinstance(subject, x509.Name):
        return subject
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, subject),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
        ]
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _validity(
    not_before: datetime | None, not_after: datetime | None, lifetime: timedelta
) -> tuple[datetime, datetime]:
    start = not_before if not_before is not None else _now() - _BACKDATE
    end = not_after if not_after is not None else start + _BACKDATE + lifetime
    if start.tzinfo is None or end.tzinfo is None:
        raise UsageError("certificate validity needs timezone-aware datetimes (UTC)")
    if end <= start:
        raise UsageError(f"certificate not_after {end:%Y-%m-%d %H:%M} is not after not_before")
    return start, end


def is_self_signed(cert: x509.Certificate) -> bool:
    """True if ``cert`` names itself as issuer and its signature verifies with its own key."""
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _chain_below(issuer: Issued) -> tuple[x509.Certificate, ...]:
    """What a certificate issued by ``issuer`` must send after itself (nearest first)."""
    if is_self_signed(issuer.cert):
        return ()
    return (issuer.cert, *issuer.chain)


def _aki(issuer: Issued) -> x509.AuthorityKeyIdentifier:
    try:
        ski = issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value)


def _key_usage(*, ca: bool, rsa_key: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=rsa_key and not ca,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _san(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
            continue
        except ValueError:
            pass
        try:
            ascii_host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise UsageError(f"invalid host name for the certificate: {host!r}") from None
        if not ascii_host or not re.fullmatch(r"[A-Za-z0-9*._-]+", ascii_host):
            raise UsageError(f"invalid host name for the certificate: {host!r}")
        names.append(x509.DNSName(ascii_host))
    return x509.SubjectAlternativeName(names)


def _aia(ocsp_url: str) -> x509.AuthorityInformationAccess:
    """Where a verifier asks about revocation (RFC 5280 4.2.2.1, id-ad-ocsp)."""
    return x509.AuthorityInformationAccess(
        [
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
            )
        ]
    )


def _builder(
    name: x509.Name, key: PrivateKey, issuer: Issued | None, start: datetime, end: datetime
) -> x509.CertificateBuilder:
    """What every certificate here shares: names, key, a random serial, the validity window."""
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name if issuer is None else issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
    )


def make_ca(
    subject: str | x509.Name,
    *,
    issuer: Issued | None = None,
    key_type: KeyType = "ec",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    path_length: int | None = None,
    ocsp_url: str | None = None,
) -> Issued:
    """A CA certificate: self-signed root if ``issuer`` is None, else an intermediate.

    ``subject`` as a string becomes ``CN=<subject>, O=mtlscheck test PKI``; an
    :class:`x509.Name` is used verbatim (e.g. a look-alike of a trusted CA's exact name).
    ``ocsp_url`` (intermediates only: a root is never checked) adds an AIA OCSP URL.
    """
    key = new_key(key_type)
    name = _name(subject)
    start, end = _validity(not_before, not_after, _CA_LIFETIME)
    signer_key: PrivateKey = key if issuer is None else issuer.key
    builder = (
        _builder(name, key, issuer, start, end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_key_usage(ca=True, rsa_key=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(_aki(issuer), critical=False)
        if ocsp_url is not None:
            builder = builder.add_extension(_aia(ocsp_url), critical=False)
    cert = builder.sign(signer_key, _digest(signer_key))
    return Issued(cert=cert, key=key, chain=() if issuer is None else _chain_below(issuer))


def make_leaf(
    issuer: Issued | None,
    subject: str | x509.Name,
    *,
    key_type: KeyType = "ec",
    key: PrivateKey | None = None,
    client: bool = True,
    server: bool = False,
    ekus: Sequence[x509.ObjectIdentifier] | None = None,
    hosts: Sequence[str] = (),
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    emails: Sequence[str] = (),
    ocsp_url: str | None = None,
    extensions: Sequence[x509.ExtensionType] = (),
) -> Issued:
    """An end-entity certificate (CA:FALSE); self-signed if ``issuer`` is None.

    ``ekus`` None means clientAuth if ``client`` and serverAuth if ``server``; an explicit
    empty sequence omits extendedKeyUsage altogether.  ``hosts`` (DNS names / IP addresses)
    and ``emails`` (rfc822Name) become the SAN; without either there is no SAN extension.
    ``ocsp_url`` adds an AIA extension naming that OCSP responder; ``extensions`` are added
    as they are, non-critical (e.g. ``OCSPNoCheck`` on a delegated OCSP responder).
    """
    if key is None:
        key = new_key(key_type)
    name = _name(subject)
    start, end = _validity(not_before, not_after, _LEAF_LIFETIME)
    if ekus is None:
        ekus = [
            *([ExtendedKeyUsageOID.CLIENT_AUTH] if client else []),
            *([ExtendedKeyUsageOID.SERVER_AUTH] if server else []),
        ]
    builder = (
        _builder(name, key, issuer, start, end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            _key_usage(ca=False, rsa_key=isinstance(key, rsa.RSAPrivateKey)), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(ekus)), critical=False)
    if hosts or emails:
        san = [*_san(hosts), *(x509.RFC822Name(e) for e in emails)]
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    if issuer is not None:
        builder = builder.add_extension(_aki(issuer), critical=False)
    if ocsp_url is not None:
        builder = builder.add_extension(_aia(ocsp_url), critical=False)
    for ext in extensions:
        builder = builder.add_extension(ext, critical=False)
    signer = key if issuer is None else issuer.key
    cert = builder.sign(signer, _digest(signer))
    return Issued(cert=cert, key=key, chain=() if issuer is None else _chain_below(issuer))


def make_crl(issuer: Issued, revoked_serials: Iterable[int]) -> x509.CertificateRevocationList:
    """A CRL signed by ``issuer`` listing ``revoked_serials`` (valid from 1 h ago for a year)."""
    now = _now()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(now - _BACKDATE)
        .next_update(now + _CRL_LIFETIME)
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(_aki(issuer), critical=False)
    )
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - _BACKDATE)
            .build()
        )
    return builder.sign(issuer.key, _digest(issuer.key))


# --------------------------------------------------------------------------- files


def _write_bytes(path: Path, data: bytes, *, mode: int, force: bool) -> None:
    """Create ``path`` (``O_EXCL | O_NOFOLLOW``, see :mod:`mtlscheck._write`): a symbolic link
    or directory where a file goes is refused, never followed, even with ``force``."""
    from mtlscheck._write import write_new

    write_new(path, data, mode=mode, replace=force)


def write_private_key(
    path: Path, key: PrivateKey, *, password: bytes | None = None, force: bool = False
) -> None:
    """Write ``key`` as PKCS#8 PEM with mode 0600 from creation (encrypted if ``password``)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.NoEncryption()
        if password is None
        else serialization.BestAvailableEncryption(password)
    )
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    _write_bytes(Path(path), data, mode=0o600, force=force)


def write_pem(
    path: Path,
    *objs: x509.Certificate | x509.CertificateRevocationList,
    force: bool = False,
) -> None:
    """Write certificates and/or CRLs, concatenated as PEM, to ``path`` (mode 0644)."""
    data = b"".join(obj.public_bytes(serialization.Encoding.PEM) for obj in objs)
    _write_bytes(Path(path), data, mode=0o644, force=force)


# --------------------------------------------------------------------------- the PKI directory


@dataclass(frozen=True)
class Role:
    """One identity in a PKI directory; paths are absolute."""

    name: str
    cert: Path
    key: Path | None
    chain: Path | None = None
    """PEM file with the leaf followed by its intermediates (what a client sends)."""

    @property
    def send_file(self) -> Path:
        """The PEM file a client should present: ``chain`` if there is one, else ``cert``."""
        return self.chain if self.chain is not None else self.cert


@dataclass(frozen=True)
class PKI:
    """A test PKI directory written by :func:`init_pki`; paths are absolute."""

    directory: Path
    key_type: KeyType
    hosts: tuple[str, ...]
    roles: Mapping[str, Role]
    crl: Path
    """CRLs of the root and the intermediate CA, concatenated (servers need one per CA)."""
    p12: Path | None
    """PKCS#12 bundle of the ``valid`` client (cert + key), password-protected."""
    www: Path | None = field(default=None)
    """Document root with an ``index.html`` ("ok"), used by :func:`apache_config`."""
    ocsp_url: str | None = field(default=None)
    """The OCSP responder URL the PKI's leaves name (``pki init --ocsp-url``), or None."""

    def __hash__(self) -> int:  # roles is a mapping; the directory identifies a PKI
        return hash(self.directory)

    @property
    def ca_cert(self) -> Path:
        return self.role("ca").cert

    @property
    def ca_key(self) -> Path:
        return _need_key(self.role("ca"))

    @property
    def server_cert(self) -> Path:
        return self.role("server").cert

    @property
    def server_key(self) -> Path:
        return _need_key(self.role("server"))

    def role(self, name: str) -> Role:
        try:
            return self.roles[name]
        except KeyError:
            raise InputError(
                f"unknown role {name!r} in PKI {self.directory}; available: {', '.join(self.roles)}"
            ) from None

    def issued(self, name: str) -> Issued:
        """Load the certificate, key and intermediates of role ``name``."""
        role = self.role(name)
        certs = _read_certs(role.cert)
        chain = tuple(_read_certs(role.chain)[1:]) if role.chain is not None else ()
        return Issued(cert=certs[0], key=_read_key(_need_key(role)), chain=chain)

    @classmethod
    def load(cls, directory: Path | str) -> PKI:
        """Read a PKI directory's ``manifest.json``."""
        try:  # ~nobody, a NUL byte or a name too long for the OS raise, not return False
            root = Path(directory).expanduser().absolute()
            is_dir = root.is_dir()
        except (OSError, ValueError, RuntimeError):
            raise InputError(f"unusable PKI directory path {str(directory)[:80]!r}") from None
        if not is_dir:
            raise InputError(f"PKI directory {root} does not exist")
        manifest = root / MANIFEST
        if not manifest.exists() and not manifest.is_symlink():
            raise InputError(
                f"{root} is not a mtlscheck PKI (no {MANIFEST}); "
                f"create one with: mtlscheck pki init {root}"
            )
        from mtlscheck._files import read_input_text

        raw = read_input_text(manifest, "PKI manifest")
        try:
            data = json.loads(raw)
            return cls._from_manifest(root, data)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
            raise InputError(f"invalid {manifest}: {detail}") from None

    @classmethod
    def _from_manifest(cls, root: Path, data: Any) -> PKI:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if data.get("version") != MANIFEST_VERSION:
            raise ValueError(f"unsupported version {data.get('version')!r}")
        key_type = data["key_type"]
        if key_type not in get_args(KeyType):
            raise ValueError(f"unknown key_type {key_type!r}")

        def path(value: Any, what: str) -> Path:
            if not isinstance(value, str) or not value:
                raise ValueError(f"{what} is not a file name")
            p = root / value
            if not p.is_file():
                raise ValueError(f"{what}: file {p} is missing")
            return p

        def opt_path(value: Any, what: str) -> Path | None:
            return None if value is None else path(value, what)

        roles: dict[str, Role] = {}
        for name, entry in dict(data["roles"]).items():
            roles[str(name)] = Role(
                name=str(name),
                cert=path(entry["cert"], f"role {name} cert"),
                key=opt_path(entry.get("key"), f"role {name} key"),
                chain=opt_path(entry.get("chain"), f"role {name} chain"),
            )
        for required in ("ca", "server"):
            if required not in roles:
                raise ValueError(f"role {required!r} is missing")
        www = data.get("www")
        ocsp_url = data.get("ocsp_url")
        if ocsp_url is not None and not isinstance(ocsp_url, str):
            raise ValueError("ocsp_url is not a string")
        return cls(
            directory=root,
            key_type=key_type,
            hosts=tuple(str(h) for h in data["hosts"]),
            roles=MappingProxyType(roles),
            crl=path(data["crl"], "crl"),
            p12=opt_path(data.get("p12"), "p12"),
            www=None if www is None or not (root / www).is_dir() else root / www,
            ocsp_url=ocsp_url,
        )


def _need_key(role: Role) -> Path:
    if role.key is None:
        raise InputError(f"role {role.name!r} has no private key")
    return role.key


def _read_certs(path: Path) -> list[x509.Certificate]:
    from mtlscheck._files import read_input

    data = read_input(path, "certificate")
    try:
        certs = x509.load_pem_x509_certificates(data)
    except (ValueError, x509.InvalidVersion):
        raise InputError(f"{path} does not contain a PEM certificate") from None
    return certs


def _read_key(path: Path) -> PrivateKey:
    from mtlscheck._files import read_input

    data = read_input(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InputError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, PrivateKey):
        raise InputError(f"{path}: only RSA, ECDSA, Ed25519 and Ed448 keys are supported")
    return key


def _files(role: str) -> tuple[str, str]:
    return f"{role}.pem", f"{role}.key"


def _real_dir(path: Path) -> None:
    """Make ``path`` a directory, or accept an existing real one: a symbolic link there (say
    ``www -> /var/www``, planted in a shared directory) would take our writes elsewhere."""
    if path.is_symlink():
        raise InputError(f"{path} is a symbolic link; refusing to write through it")
    try:
        path.mkdir(exist_ok=True)
    except FileExistsError:
        raise InputError(f"{path} exists and is not a directory") from None
    except OSError as exc:
        raise InputError(f"cannot create {path}: {exc.strerror}") from None


def _refuse_links(root: Path, names: Iterable[str]) -> None:
    """Before writing anything, refuse a PKI directory where one of our names is a link, so
    ``--force`` does not stop half-way (the writes themselves refuse links too)."""
    for name in names:
        if (root / name).is_symlink():
            raise InputError(f"{root / name} is a symbolic link; refusing to write through it")


def init_pki(
    directory: Path | str,
    *,
    hosts: Sequence[str] = ("localhost", "127.0.0.1"),
    key_type: KeyType = "ec",
    force: bool = False,
    p12_password: str | None = None,
    ocsp_url: str | None = None,
) -> tuple[PKI, str]:
    """Create a complete test PKI in ``directory``; return it and the ``valid.p12`` password.

    An existing non-empty directory is refused unless ``force`` (then our files are replaced,
    other files are left alone).  The password is generated with :mod:`secrets` if None.
    ``ocsp_url`` (an ``http://`` URL) goes into the AIA extension of everything ``ca`` and
    ``intermediate-ca`` issue, and into the manifest for ``pki ocsp-serve``.
    """
    root = Path(directory).expanduser().absolute()
    hosts = tuple(h.strip() for h in hosts if h.strip())
    if not hosts:
        raise UsageError("the server certificate needs at least one host name or IP address")
    if key_type not in get_args(KeyType):
        raise UsageError(f"unknown key type {key_type!r}; use one of: ec, rsa")
    if root.exists() and not root.is_dir():
        raise InputError(f"{root} exists and is not a directory")
    if root.is_dir() and any(root.iterdir()) and not force:
        raise InputError(f"{root} exists and is not empty; use --force to overwrite")
    _san(hosts)  # validate before doing any work
    if ocsp_url is not None:
        from mtlscheck._ocsp import check_ocsp_url

        ocsp_url = check_ocsp_url(ocsp_url, "--ocsp-url")

    now = _now()

    def client(
        role: str,
        issuer: Issued | None,
        *,
        server: bool = False,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> Issued:
        """CN=<role>-client with SAN email <role>-client@mtlscheck.test (verifiers want a SAN)."""
        cn = f"{role}-client"
        return make_leaf(
            issuer,
            cn,
            key_type=key_type,
            client=not server,
            server=server,
            emails=[f"{cn}@{_EMAIL_DOMAIN}"],
            not_before=not_before,
            not_after=not_after,
            ocsp_url=None if issuer is None or issuer is other_ca else ocsp_url,
        )

    ca = make_ca("mtlscheck test root CA", key_type=key_type)
    inter_ca = make_ca(
        "mtlscheck test intermediate CA",
        issuer=ca,
        key_type=key_type,
        path_length=0,
        ocsp_url=ocsp_url,
    )
    other_ca = make_ca("mtlscheck unrelated CA", key_type=key_type)
    issued: dict[str, Issued] = {
        "ca": ca,
        "intermediate-ca": inter_ca,
        "other-ca": other_ca,
        "server": make_leaf(
            ca,
            hosts[0],
            key_type=key_type,
            client=False,
            server=True,
            hosts=hosts,
            ocsp_url=ocsp_url,
        ),
        "valid": client("valid", ca),
        "expired": client(
            "expired", ca, not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
        ),
        "not-yet-valid": client(
            "not-yet-valid",
            ca,
            not_before=now + timedelta(days=30),
            not_after=now + timedelta(days=395),
        ),
        "revoked": client("revoked", ca),
        "no-client-eku": client("no-client-eku", ca, server=True),
        "self-signed": client("self-signed", None),
        "intermediate": client("intermediate", inter_ca),
        "wrong-ca": client("wrong-ca", other_ca),
    }
    crls = (
        make_crl(ca, [issued["revoked"].cert.serial_number]),
        make_crl(inter_ca, []),
    )
    password = p12_password if p12_password is not None else secrets.token_urlsafe(18)

    # Not a link, ours, and under no directory another user could swap it in (the CA key goes
    # here); created 0755 less the umask, for the servers' workers that read www/.
    from mtlscheck._write import private_dir, umasked

    private_dir(root, "PKI directory", mode=umasked(0o777))
    _refuse_links(
        root,
        [f for n in issued for f in (*_files(n), f"{n}-chain.pem")]
        + ["crl.pem", "valid.p12", "www", MANIFEST],
    )

    manifest_roles: dict[str, dict[str, str | None]] = {}
    for name, item in issued.items():
        cert_file, key_file = _files(name)
        write_pem(root / cert_file, item.cert, force=force)
        write_private_key(root / key_file, item.key, force=force)
        chain_file: str | None = None
        if item.chain and name in CLIENT_ROLES:
            chain_file = f"{name}-chain.pem"
            write_pem(root / chain_file, item.cert, *item.chain, force=force)
        manifest_roles[name] = {"cert": cert_file, "key": key_file, "chain": chain_file}
    write_pem(root / "crl.pem", *crls, force=force)

    valid = issued["valid"]
    p12_data = pkcs12.serialize_key_and_certificates(
        b"valid-client",
        valid.key,
        valid.cert,
        list(valid.chain) or None,
        serialization.BestAvailableEncryption(password.encode()),
    )
    _write_bytes(root / "valid.p12", p12_data, mode=0o600, force=force)

    www = root / "www"
    _real_dir(www)
    _write_bytes(www / "index.html", b"ok\n", mode=0o644, force=True)

    manifest = {
        "version": MANIFEST_VERSION,
        "key_type": key_type,
        "hosts": list(hosts),
        "roles": manifest_roles,
        "crl": "crl.pem",
        "p12": "valid.p12",
        "p12_role": "valid",
        "www": "www",
    }
    if ocsp_url is not None:
        manifest["ocsp_url"] = ocsp_url
    _write_bytes(
        root / MANIFEST,
        (json.dumps(manifest, indent=2) + "\n").encode(),
        mode=0o644,
        force=True,
    )
    return PKI.load(root), password
