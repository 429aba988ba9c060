"""Verify a client certificate against what a site trusts, with OpenSSL's own verifier.

pyOpenSSL's ``X509Store``/``X509StoreContext`` run ``X509_verify_cert`` - the code nginx,
Apache and HAProxy run - so the error comes out as the server logs it:
``(20:unable to get local issuer certificate)``.  Two server behaviours are applied on top,
because pyOpenSSL does not expose them:

* the SSL-client purpose (a server verifies client certificates with it): set on the store
  when the binding has ``X509_STORE_set_purpose``, else checked from the extendedKeyUsage
  with OpenSSL's error 26;
* the verify depth, whose meaning differs: nginx and HAProxy pass it to OpenSSL (the number
  of intermediates allowed, error 22), Apache checks it itself (the certificates above the
  leaf, up to and including the root: "Certificate Chain too long").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509

from mtlscheck._lint._certs import has_client_eku

__all__ = ["ClientVerdict", "verify_client"]


@dataclass(frozen=True)
class ClientVerdict:
    ok: bool
    error: str = ""
    """``(20:unable to get local issuer certificate)`` - OpenSSL's number and text."""
    error_code: int = 0
    chain: tuple[x509.Certificate, ...] = ()
    """The verified chain, leaf first, root last (empty when not verified)."""

    @property
    def intermediates(self) -> int:
        return max(len(self.chain) - 2, 0)


def _set_client_purpose(store: Any) -> bool:
    """Set OpenSSL's SSL-client purpose on a pyOpenSSL store (private binding: guarded)."""
    try:
        from OpenSSL._util import lib

        return bool(lib.X509_STORE_set_purpose(store._store, lib.X509_PURPOSE_SSL_CLIENT))
    except Exception:
        return False


def verify_client(
    leaf: x509.Certificate,
    sent: Sequence[x509.Certificate],
    trusted: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList] = (),
    *,
    crl_mode: str = "none",
    at: datetime | None = None,
) -> ClientVerdict:
    """Verify ``leaf`` (with the intermediates the client sends) against ``trusted``.

    ``crl_mode``: ``none``, ``leaf`` (only the leaf's issuer's CRL, Apache
    ``SSLCARevocationCheck leaf``) or ``chain`` (every level: nginx ``ssl_crl``, HAProxy
    ``crl-file``, Apache ``chain``).
    """
    from OpenSSL import crypto

    store = crypto.X509Store()
    for ca in trusted:
        store.add_cert(crypto.X509.from_cryptography(ca))
    flags = 0
    if crl_mode in ("leaf", "chain"):
        for crl in crls:
            store.add_crl(crl)
        flags |= crypto.X509StoreFlags.CRL_CHECK
        if crl_mode == "chain":
            flags |= crypto.X509StoreFlags.CRL_CHECK_ALL
    if flags:
        store.set_flags(flags)
    if at is not None:
        store.set_time(at)
    purpose_set = _set_client_purpose(store)
    ctx = crypto.X509StoreContext(
        store,
        crypto.X509.from_cryptography(leaf),
        [crypto.X509.from_cryptography(c) for c in sent],
    )
    try:
        verified = ctx.get_verified_chain()
    except crypto.X509StoreContextError as exc:
        code = int(exc.errors[0]) if exc.errors else 0
        text = str(exc.errors[2]) if len(exc.errors) > 2 else str(exc)
        return ClientVerdict(False, f"({code}:{text})", code)
    chain = tuple(c.to_cryptography() for c in verified)
    if not purpose_set and has_client_eku(leaf) is False:
        return ClientVerdict(False, "(26:unsuitable certificate purpose)", 26, chain)
    return ClientVerdict(True, chain=chain)
