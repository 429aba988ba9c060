"""The ``mtls_pki`` fixture's object: the session's test PKI plus freshly minted clients."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from mtlscheck._errors import UsageError
from mtlscheck._pki import (
    PKI,
    Issued,
    KeyType,
    PrivateKey,
    Role,
    init_pki,
    make_leaf,
    write_pem,
    write_private_key,
)
from mtlscheck._write import private_dir

__all__ = ["MintedIdentity", "MtlsPKI"]

_EKUS: dict[str, x509.ObjectIdentifier] = {
    name.replace("_", "").lower(): oid
    for name, oid in vars(ExtendedKeyUsageOID).items()
    if isinstance(oid, x509.ObjectIdentifier)
}


@dataclass(frozen=True)
class MintedIdentity:
    """A client identity on disk and in memory: hand ``.cert``/``.key`` (or ``.pair``) to a
    client, or to ``mtls_probe(url, "valid", cert=..., key=...)``."""

    name: str
    cert: Path
    """PEM with the leaf followed by its intermediates: what a client sends."""
    key: Path
    certificate: x509.Certificate
    private_key: PrivateKey
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def pair(self) -> tuple[str, str]:
        """``(cert, key)`` as strings, the shape ``requests``/``httpx`` take for ``cert=``."""
        return str(self.cert), str(self.key)


class MtlsPKI:
    """The session's test PKI: the roles of ``mtlscheck pki init`` plus freshly minted clients."""

    def __init__(self, pki: PKI, p12_password: str | None = None) -> None:
        self.pki = pki
        self.p12_password = p12_password
        self._issued: dict[str, Issued] = {}
        self._lock = threading.Lock()
        self._count = 0

    @classmethod
    def create(cls, directory: Path | str, *, key_type: KeyType = "ec") -> MtlsPKI:
        pki, password = init_pki(directory, key_type=key_type)
        return cls(pki, password)

    # paths ---------------------------------------------------------------------------------
    @property
    def directory(self) -> Path:
        return self.pki.directory

    @property
    def ca_cert(self) -> Path:
        """The root CA: servers trust it for clients, and it issued the server certificate."""
        return self.pki.ca_cert

    @property
    def ca_key(self) -> Path:
        return self.pki.ca_key

    @property
    def server_cert(self) -> Path:
        return self.pki.server_cert

    @property
    def server_key(self) -> Path:
        return self.pki.server_key

    @property
    def client_cert(self) -> Path:
        """The ``valid`` client's certificate (what a client sends)."""
        return self.pki.role("valid").send_file

    @property
    def client_key(self) -> Path:
        key = self.pki.role("valid").key
        assert key is not None
        return key

    @property
    def crl(self) -> Path:
        return self.pki.crl

    @property
    def p12(self) -> Path | None:
        """PKCS#12 of the valid client; the password is :attr:`p12_password`."""
        return self.pki.p12

    @property
    def roles(self) -> Mapping[str, Role]:
        return self.pki.roles

    def role(self, name: str) -> Role:
        return self.pki.role(name)

    # loaded objects ------------------------------------------------------------------------
    def issued(self, name: str) -> Issued:
        """Certificate, private key and intermediates of role ``name`` (cached)."""
        with self._lock:
            if name not in self._issued:
                self._issued[name] = self.pki.issued(name)
            return self._issued[name]

    def certificate(self, name: str) -> x509.Certificate:
        return self.issued(name).cert

    def identity(self, role: str) -> MintedIdentity:
        """An existing role (``valid``, ``expired``, ``wrong-ca``, ...) as a MintedIdentity."""
        r = self.role(role)
        it = self.issued(role)
        assert r.key is not None
        return MintedIdentity(role, r.send_file, r.key, it.cert, it.key, it.chain)

    def mint_client(
        self,
        subject: str | x509.Name = "minted-client",
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        ekus: Iterable[str | x509.ObjectIdentifier] | None = None,
        issuer: str | Issued | None = "ca",
        emails: Iterable[str] | None = None,
        key_type: KeyType | None = None,
        name: str | None = None,
    ) -> MintedIdentity:
        """Issue a new client certificate and write it (key mode 0600) under ``minted/`` (0700).

        ``subject``: a CN or a full :class:`x509.Name`.  ``ekus``: names such as
        ``"clientAuth"``/``"serverAuth"`` or OIDs; ``[]`` omits the extension; None means
        clientAuth.  ``issuer``: a CA role (``"ca"``, ``"intermediate-ca"``, ``"other-ca"``),
        an :class:`Issued`, or None for a self-signed certificate.  ``emails``: SAN rfc822
        names (default ``<cn>@mtlscheck.test``; verifiers want a SAN).
        """
        ca = self.issued(issuer) if isinstance(issuer, str) else issuer
        cn = subject if isinstance(subject, str) else "client"
        oids: list[x509.ObjectIdentifier] | None = None
        if ekus is not None:
            oids = []
            for e in ekus:
                if isinstance(e, x509.ObjectIdentifier):
                    oids.append(e)
                    continue
                oid = _EKUS.get(re.sub(r"[^a-z0-9]", "", e.lower()))
                if oid is None:
                    raise UsageError(f"unknown extended key usage {e!r}; e.g. clientAuth")
                oids.append(oid)
        default_email = re.sub(r"[^a-z0-9.-]+", "-", cn.lower()).strip("-") or "client"
        issued = make_leaf(
            ca,
            subject,
            key_type=key_type or self.pki.key_type,
            ekus=oids,
            not_before=not_before,
            not_after=not_after,
            emails=list(emails) if emails is not None else [f"{default_email}@mtlscheck.test"],
        )
        with self._lock:
            self._count += 1
            n = self._count
        stem = f"{n:03d}-{re.sub(r'[^A-Za-z0-9.-]+', '-', name or cn).strip('-') or 'client'}"
        # Like --save-certs: 0700, never through a link planted at "minted", and not under a
        # directory another user could change (see mtlscheck._write.private_dir).
        out = private_dir(self.directory / "minted", "mtls_pki minted directory")
        cert_path, key_path = out / f"{stem}.pem", out / f"{stem}.key"
        write_pem(cert_path, issued.cert, *issued.chain)
        write_private_key(key_path, issued.key)
        return MintedIdentity(
            name or cn, cert_path, key_path, issued.cert, issued.key, issued.chain
        )

    def __repr__(self) -> str:
        return f"<MtlsPKI {self.directory}>"
