"""The probe catalogue: which identity each probe presents, and where that identity comes from.

A probe is data (:class:`ProbeSpec`); building its identity is the only logic here.  Sources, in
order: an explicit ``--identity NAME=CERT[,KEY]``, the matching role of a ``--pki`` directory,
a certificate minted on the spot from the trusted CA (``--ca-cert/--ca-key``), and for
``wrong-ca`` a throwaway CA.  A probe that has none of these is *skipped with the reason* —
never faked with an untrusted signature, which would turn "expired" into "unknown CA".
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from mtlscheck._errors import UsageError
from mtlscheck._identity import ClientIdentity

if TYPE_CHECKING:
    from mtlscheck._pki import PKI

__all__ = [
    "CATALOGUE",
    "DEFAULT_PROBES",
    "IdentitySources",
    "ProbeSpec",
    "Skip",
    "pki_identity",
    "resolve_identities",
    "select_probes",
]


@dataclass(frozen=True)
class ProbeSpec:
    name: str
    accepts: bool
    """Default expectation: accepted (True) or rejected (False)."""
    description: str
    needs: str


CATALOGUE: Mapping[str, ProbeSpec] = {
    p.name: p
    for p in (
        ProbeSpec("no-cert", False, "no client certificate at all", "nothing"),
        ProbeSpec(
            "valid",
            True,
            "the valid client identity",
            "--cert/--key, --pki or --identity valid=...",
        ),
        ProbeSpec(
            "expired",
            False,
            "valid subject, expired, signed by the trusted CA",
            "--ca-cert/--ca-key, --pki or --identity expired=...",
        ),
        ProbeSpec(
            "wrong-ca",
            False,
            "a certificate from a throwaway CA the server does not trust",
            "nothing (minted on the spot)",
        ),
        ProbeSpec(
            "not-yet-valid",
            False,
            "valid subject, validity starting in 30 days, trusted CA",
            "--ca-cert/--ca-key, --pki or --identity",
        ),
        ProbeSpec(
            "revoked",
            False,
            "a certificate the server's CRL lists",
            "--pki or --identity revoked=...",
        ),
        ProbeSpec(
            "no-client-eku",
            False,
            "trusted CA, but extendedKeyUsage serverAuth only",
            "--ca-cert/--ca-key, --pki or --identity",
        ),
        ProbeSpec(
            "self-signed", False, "a self-signed certificate with the valid subject", "nothing"
        ),
        ProbeSpec(
            "lookalike-ca",
            False,
            "a foreign CA with exactly the trusted CA's name: catches name-only checks",
            "--ca-cert (the trusted CA's name), --pki or --identity",
        ),
        ProbeSpec(
            "chain-missing",
            False,
            "the intermediate-issued leaf sent WITHOUT its intermediate: rejected unless "
            "the server holds the intermediate itself",
            "a valid identity with intermediates, or --pki",
        ),
    )
}

DEFAULT_PROBES: tuple[str, ...] = ("no-cert", "valid", "expired", "wrong-ca")


def select_probes(names: str | Sequence[str] | None) -> tuple[str, ...]:
    """Validate ``--probes``: None means the default set, ``all`` the whole catalogue.

    A string is one entry (``"all"``, ``"valid,expired"``), never a sequence of characters.
    Given but naming no probe (``--probes ""``, ``[]``) is an error: running nothing and
    reporting success would be a silent pass.
    """
    if names is None:
        return DEFAULT_PROBES
    if isinstance(names, str):
        names = [names]
    out: list[str] = []
    for raw in names:
        if not isinstance(raw, str):
            raise UsageError(f"probe names must be strings, got {raw!r}")
        for name in (n.strip() for n in raw.split(",")):
            if not name:
                continue
            if name == "all":
                out.extend(CATALOGUE)
                continue
            if name not in CATALOGUE:
                from mtlscheck._validate import closest

                raise UsageError(
                    f"unknown probe {name!r}{closest(name, (*CATALOGUE, 'all'))}; "
                    f"known: {', '.join(CATALOGUE)}"
                )
            out.append(name)
    if not out:
        raise UsageError(
            "--probes names no probe; give probe names (see --list-probes) or 'all', "
            "or leave it out for the default set"
        )
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class Skip:
    """Why a probe cannot run."""

    reason: str


@dataclass(frozen=True)
class IdentitySources:
    """Everything a probe identity can be built from."""

    valid: ClientIdentity | None = None
    ca: ClientIdentity | None = None
    """The CA the server trusts, with its key: allows minting trusted-but-bad certificates."""
    ca_cert: x509.Certificate | None = None
    """The trusted CA's certificate alone (no key): enough for ``lookalike-ca``."""
    pki: PKI | None = None
    """A loaded ``--pki`` directory: its roles are used as they are."""
    overrides: Mapping[str, ClientIdentity] = field(default_factory=dict)
    save_dir: Path | None = None
    """Where minted certificates are written so the reproduce commands work."""


def _subject(src: IdentitySources) -> x509.Name:
    if src.valid is not None:
        return src.valid.cert.subject
    return x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "mtlscheck-probe")])


def _save(ident: ClientIdentity, name: str, save_dir: Path | None) -> ClientIdentity:
    """Write a minted identity (leaf + chain, key 0600) so curl/openssl can reuse it."""
    if save_dir is None:
        return ident
    from mtlscheck._pki import write_pem, write_private_key

    # save_dir is ours (a 0700 temporary directory, or --save-certs checked by _api): files
    # from an earlier run are replaced, a link planted in their place is refused.
    cert_path = save_dir / f"{name}.pem"
    key_path = save_dir / f"{name}.key"
    write_pem(cert_path, ident.cert, *ident.chain, force=True)
    # Not only minted keys come here: chain-missing saves the user's own key, which may be
    # Ed25519 or Ed448; write_private_key takes every PrivateKey.
    write_private_key(key_path, ident.key, force=True)
    return ClientIdentity(
        ident.cert, ident.key, ident.chain, cert_path=cert_path, key_path=key_path
    )


def pki_identity(pki: PKI, role: str, *, with_chain: bool = True) -> ClientIdentity | None:
    """Role ``role`` of a loaded PKI directory as an identity (None when it has no such role
    or the role has no key); ``with_chain=False`` presents the leaf alone."""
    if role not in pki.roles or pki.roles[role].key is None:
        return None
    r = pki.roles[role]
    issued = pki.issued(role)
    if with_chain:
        return ClientIdentity(
            issued.cert, issued.key, issued.chain, cert_path=r.send_file, key_path=r.key
        )
    return ClientIdentity(issued.cert, issued.key, (), cert_path=r.cert, key_path=r.key)


def _mint(name: str, src: IdentitySources) -> ClientIdentity | Skip:
    from mtlscheck import _pki

    now = _dt.datetime.now(_dt.UTC)
    subject = _subject(src)
    trusted = None if src.ca is None else _pki.Issued(src.ca.cert, src.ca.key, src.ca.chain)
    need_ca = Skip(
        "needs the trusted CA's key to mint it: give --ca-cert/--ca-key, --pki DIR "
        f"or --identity {name}=CERT,KEY"
    )
    issued: _pki.Issued
    if name == "expired":
        if trusted is None:
            return need_ca
        issued = _pki.make_leaf(
            trusted,
            subject,
            not_before=now - _dt.timedelta(days=30),
            not_after=now - _dt.timedelta(days=1),
        )
    elif name == "not-yet-valid":
        if trusted is None:
            return need_ca
        issued = _pki.make_leaf(
            trusted,
            subject,
            not_before=now + _dt.timedelta(days=30),
            not_after=now + _dt.timedelta(days=395),
        )
    elif name == "no-client-eku":
        if trusted is None:
            return need_ca
        issued = _pki.make_leaf(
            trusted, subject, client=False, server=True, ekus=[ExtendedKeyUsageOID.SERVER_AUTH]
        )
    elif name == "wrong-ca":
        foreign = _pki.make_ca("mtlscheck throwaway CA")
        issued = _pki.make_leaf(foreign, subject)
    elif name == "self-signed":
        issued = _pki.make_leaf(None, subject)
    elif name == "lookalike-ca":
        ca_cert = src.ca.cert if src.ca is not None else src.ca_cert
        if ca_cert is None:
            return Skip(
                "needs the trusted CA's certificate (its name): give --ca-cert, --pki DIR "
                "or --identity lookalike-ca=CERT,KEY"
            )
        issued = _pki.make_leaf(_pki.make_ca(ca_cert.subject), subject)
    elif name == "revoked":
        return Skip(
            "needs a certificate the server's CRL lists: "
            "give --pki DIR or --identity revoked=CERT,KEY"
        )
    elif name == "valid":
        return Skip("no client identity: give --cert/--key, --pki DIR or --identity valid=CERT,KEY")
    elif name == "chain-missing":
        return Skip("the valid identity carries no intermediate certificates; nothing to leave out")
    else:  # pragma: no cover - catalogue and this function are kept in step
        return Skip(f"no way to build probe {name!r}")
    ident = ClientIdentity(issued.cert, issued.key, issued.chain)
    return _save(ident, name, src.save_dir)


def resolve_identities(
    probes: Sequence[str], src: IdentitySources
) -> dict[str, ClientIdentity | Skip | None]:
    """Identity (or None for ``no-cert``, or Skip) of every probe, built once per run."""
    out: dict[str, ClientIdentity | Skip | None] = {}
    for name in probes:
        ident: ClientIdentity | Skip | None
        if name == "no-cert":
            ident = None
        elif name in src.overrides:
            ident = src.overrides[name]
        elif name == "valid" and src.valid is not None:
            ident = src.valid
        elif name == "chain-missing" and src.valid is not None and src.valid.chain:
            ident = _save(ClientIdentity(src.valid.cert, src.valid.key, ()), name, src.save_dir)
        elif src.pki is not None and name == "chain-missing":
            ident = pki_identity(src.pki, "intermediate", with_chain=False) or _mint(name, src)
        elif src.pki is not None and name not in ("lookalike-ca",):
            ident = pki_identity(src.pki, name) or _mint(name, src)
        else:
            ident = _mint(name, src)
        out[name] = ident
    return out
