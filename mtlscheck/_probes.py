"""The probe catalogue: every probe is one :class:`ProbeSpec`, registered in :data:`CATALOGUE`.

A spec says everything about its probe in one place (sslyze's plugin specs are the model):
what it presents, what it needs, how its identity is built - or why it is skipped -, its role
in a ``--pki`` directory, how its request differs from the plain one (extra headers, another
SNI, plain HTTP), and its default expectation.  The diagnosis refers to probes by
:class:`ProbeName`, so a misspelt probe is a type error, not a rule that silently never fires.

Identity sources, in order: an explicit ``--identity NAME=CERT[,KEY]``; the user's own identity
where the probe derives from it (``valid``, ``chain-missing``); the probe's role in a ``--pki``
directory; a certificate minted on the spot (from the trusted CA given by ``--ca-cert/--ca-key``,
or from a throwaway CA).  A probe that has none of these is *skipped with the reason* - never
faked with an untrusted signature, which would turn "expired" into "unknown CA".
"""

from __future__ import annotations

import datetime as _dt
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from mtlscheck._errors import UsageError
from mtlscheck._identity import ClientIdentity

if TYPE_CHECKING:
    from mtlscheck._pki import PKI, Issued

__all__ = [
    "CATALOGUE",
    "DEFAULT_IDENTITY_HEADERS",
    "DEFAULT_PROBES",
    "IdentitySources",
    "ProbeName",
    "ProbeRequest",
    "ProbeSpec",
    "RequestOptions",
    "RequestSpec",
    "Skip",
    "other_servername",
    "pki_identity",
    "probe_request",
    "resolve_identities",
    "select_probes",
]


class ProbeName(StrEnum):
    """Every probe's name: the strings of ``--probes``, results and JSON."""

    NO_CERT = "no-cert"
    VALID = "valid"
    EXPIRED = "expired"
    WRONG_CA = "wrong-ca"
    NOT_YET_VALID = "not-yet-valid"
    REVOKED = "revoked"
    NO_CLIENT_EKU = "no-client-eku"
    SELF_SIGNED = "self-signed"
    LOOKALIKE_CA = "lookalike-ca"
    CHAIN_MISSING = "chain-missing"
    FORGED_HEADERS = "forged-headers"
    SNI_MISMATCH = "sni-mismatch"
    PLAINTEXT = "plaintext"


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


# --------------------------------------------------------------------------- request changes

DEFAULT_IDENTITY_HEADERS: tuple[tuple[str, str], ...] = (
    # nginx's documented forwarding names ($ssl_client_verify, $ssl_client_s_dn, ...)
    ("X-SSL-Client-Verify", "SUCCESS"),
    ("X-SSL-Client-DN", "CN=admin,O=mtlscheck forged"),
    ("X-SSL-Client-Cert", "-----BEGIN%20CERTIFICATE-----%0Aforged%0A-----END%20CERTIFICATE-----"),
    # Apache mod_ssl's variable names as headers, and ingress-nginx's defaults
    ("ssl-client-verify", "SUCCESS"),
    ("ssl-client-subject-dn", "CN=admin,O=mtlscheck forged"),
    # Envoy's forward_client_cert_details
    ("X-Forwarded-Client-Cert", 'Hash=00;Subject="CN=admin,O=mtlscheck forged"'),
    # RFC 9440: a byte sequence (base64 between colons); the content is not a certificate
    ("Client-Cert", ":bXRsc2NoZWNrIGZvcmdlZA==:"),
)
"""Headers that backends behind a TLS terminator often take as the client's identity.  A
correct proxy overwrites or removes them; a probe that sends them without a certificate finds
the proxy that passes them through to a backend that believes them."""


@dataclass(frozen=True)
class RequestSpec:
    """How a probe's request differs from the plain one (fixed per probe)."""

    identity_headers: bool = False
    """Send the run's identity-header set (``--forged-header``, default
    :data:`DEFAULT_IDENTITY_HEADERS`)."""
    other_servername: bool = False
    """Send another name as SNI (``--other-servername``), keep ``Host:`` of the target."""
    plain_http: bool = False
    """Plain HTTP/1.1 over TCP to the TLS port: no TLS at all."""


@dataclass(frozen=True)
class RequestOptions:
    """The run's settings for the request changes (CLI/API options)."""

    identity_headers: tuple[tuple[str, str], ...] = DEFAULT_IDENTITY_HEADERS
    other_servername: str | None = None
    """None: a random name under each target's domain (see :func:`other_servername`)."""
    label: str = field(default_factory=lambda: f"mtlscheck-{secrets.token_hex(4)}")
    """The random label of that name: drawn once per run, so both TLS versions and the
    reproduce command use the same name."""


@dataclass(frozen=True)
class ProbeRequest:
    """One probe's request changes, resolved for a target: what the runner applies."""

    headers: tuple[tuple[str, str], ...] = ()
    """Sent in addition to the target's headers (after them, replacing a same-named one)."""
    servername: str | None = None
    """The SNI to send instead of the target's; ``Host:`` stays the URL's host."""
    plain_http: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.headers or self.servername or self.plain_http)


def other_servername(host: str, label: str) -> str:
    """A name no server is configured for, under the target's domain: the handshake then goes
    to whatever vhost the server picks for an unknown SNI (often the default one)."""
    from mtlscheck._hostname import is_ip_address

    if is_ip_address(host):
        return f"{label}.invalid"  # an IP has no domain; .invalid is reserved (RFC 2606)
    parts = host.rstrip(".").split(".")
    parent = ".".join(parts[1:]) if len(parts) > 1 else host
    return f"{label}.{parent}"


# --------------------------------------------------------------------------- identity builders

Build = Callable[[ProbeName, IdentitySources], ClientIdentity | Skip | None]
"""One way to build a probe's identity: an identity, a Skip (it cannot be built, and says
why), or None (not from here: try the next source)."""


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


def _minted(issued: Issued, name: str, src: IdentitySources) -> ClientIdentity:
    return _save(ClientIdentity(issued.cert, issued.key, issued.chain), name, src.save_dir)


def _by_trusted_ca(
    **leaf: object,
) -> Build:
    """Mint from the trusted CA (``--ca-cert/--ca-key``): a trusted signature on a bad leaf.
    ``not_before``/``not_after`` are offsets from now in days; other keywords go to
    :func:`mtlscheck._pki.make_leaf`."""

    def build(name: ProbeName, src: IdentitySources) -> ClientIdentity | Skip:
        from mtlscheck import _pki

        if src.ca is None:
            return Skip(
                "needs the trusted CA's key to mint it: give --ca-cert/--ca-key, --pki DIR "
                f"or --identity {name}=CERT,KEY"
            )
        now = _dt.datetime.now(_dt.UTC)
        kwargs = dict(leaf)
        for when in ("not_before", "not_after"):
            if when in kwargs:
                days = kwargs[when]
                assert isinstance(days, int)
                kwargs[when] = now + _dt.timedelta(days=days)
        issued = _pki.make_leaf(
            _pki.Issued(src.ca.cert, src.ca.key, src.ca.chain),
            _subject(src),
            **kwargs,  # type: ignore[arg-type]
        )
        return _minted(issued, name, src)

    return build


def _by_throwaway_ca(name: ProbeName, src: IdentitySources) -> ClientIdentity:
    from mtlscheck import _pki

    foreign = _pki.make_ca("mtlscheck throwaway CA")
    return _minted(_pki.make_leaf(foreign, _subject(src)), name, src)


def _self_signed(name: ProbeName, src: IdentitySources) -> ClientIdentity:
    from mtlscheck import _pki

    return _minted(_pki.make_leaf(None, _subject(src)), name, src)


def _lookalike(name: ProbeName, src: IdentitySources) -> ClientIdentity | Skip:
    from mtlscheck import _pki

    ca_cert = src.ca.cert if src.ca is not None else src.ca_cert
    if ca_cert is None:
        return Skip(
            "needs the trusted CA's certificate (its name): give --ca-cert, --pki DIR "
            "or --identity lookalike-ca=CERT,KEY"
        )
    return _minted(_pki.make_leaf(_pki.make_ca(ca_cert.subject), _subject(src)), name, src)


def _users_identity(name: ProbeName, src: IdentitySources) -> ClientIdentity | None:
    return src.valid


def _users_leaf_alone(name: ProbeName, src: IdentitySources) -> ClientIdentity | None:
    if src.valid is None or not src.valid.chain:
        return None
    return _save(ClientIdentity(src.valid.cert, src.valid.key, ()), name, src.save_dir)


def _no_certificate(name: ProbeName, src: IdentitySources) -> None:
    """Presents nothing: the probe runs without a client certificate."""
    return None


# --------------------------------------------------------------------------- the spec


@dataclass(frozen=True)
class ProbeSpec:
    """Everything about one probe (module docstring)."""

    name: ProbeName
    accepts: bool
    """Default expectation: accepted (True) or rejected (False), narrowed by the server profile."""
    description: str
    """What it presents (and sends), in one line: ``--list-probes`` and the README table."""
    needs: str
    default: bool = False
    """Run without ``--probes`` (the core four)."""
    no_certificate: bool = False
    """Presents no client certificate at all (:attr:`build` is then empty)."""
    from_user: Build | None = None
    """Derived from the user's own identity, tried before the PKI role."""
    pki_role: str | None = None
    """Its role in a ``--pki`` directory (:data:`mtlscheck._pki.ROLES`)."""
    pki_leaf_only: bool = False
    """Present the PKI role's leaf without the intermediates it is issued under."""
    mint: Build | None = None
    """Minted on the spot when neither the user nor the PKI gives it."""
    skip: str = ""
    """Why it is skipped when no source gives an identity."""
    request: RequestSpec = RequestSpec()
    expectation: str | None = None
    """A default expectation that replaces accepted/rejected (and ignores the profile): for a
    probe whose refusal is not about a certificate (``plaintext``)."""
    expect_also: str = ""
    """Added to the profile's default expectation: another answer a correct server gives."""
    no_finding: str = ""
    """Why no diagnosis rule reads this probe (a test asks every probe for one or the other)."""

    @property
    def builds(self) -> bool:
        """It has a way to get its identity: presents nothing, derives, has a role, or mints."""
        return self.no_certificate or any((self.from_user, self.pki_role, self.mint))


_NEED_IDENTITY = "--ca-cert/--ca-key, --pki or --identity"
_P = ProbeName

CATALOGUE: Mapping[str, ProbeSpec] = {
    p.name: p
    for p in (
        ProbeSpec(
            _P.NO_CERT,
            False,
            "no client certificate at all",
            "nothing",
            default=True,
            no_certificate=True,
        ),
        ProbeSpec(
            _P.VALID,
            True,
            "the valid client identity",
            "--cert/--key, --pki or --identity valid=...",
            default=True,
            from_user=_users_identity,
            pki_role="valid",
            skip="no client identity: give --cert/--key, --pki DIR or --identity valid=CERT,KEY",
        ),
        ProbeSpec(
            _P.EXPIRED,
            False,
            "valid subject, expired, signed by the trusted CA",
            "--ca-cert/--ca-key, --pki or --identity expired=...",
            default=True,
            pki_role="expired",
            mint=_by_trusted_ca(not_before=-30, not_after=-1),
        ),
        ProbeSpec(
            _P.WRONG_CA,
            False,
            "a certificate from a throwaway CA the server does not trust",
            "nothing (minted on the spot)",
            default=True,
            pki_role="wrong-ca",
            mint=_by_throwaway_ca,
        ),
        ProbeSpec(
            _P.NOT_YET_VALID,
            False,
            "valid subject, validity starting in 30 days, trusted CA",
            _NEED_IDENTITY,
            pki_role="not-yet-valid",
            mint=_by_trusted_ca(not_before=30, not_after=395),
        ),
        ProbeSpec(
            _P.REVOKED,
            False,
            "a certificate its trusted CA revoked (on the CRL; OCSP says revoked)",
            "--pki or --identity revoked=...",
            pki_role="revoked",
            skip="needs a certificate the trusted CA revoked (on its CRL / OCSP): "
            "give --pki DIR or --identity revoked=CERT,KEY",
        ),
        ProbeSpec(
            _P.NO_CLIENT_EKU,
            False,
            "trusted CA, but extendedKeyUsage serverAuth only",
            _NEED_IDENTITY,
            pki_role="no-client-eku",
            mint=_by_trusted_ca(client=False, server=True, ekus=[ExtendedKeyUsageOID.SERVER_AUTH]),
        ),
        ProbeSpec(
            _P.SELF_SIGNED,
            False,
            "a self-signed certificate with the valid subject",
            "nothing",
            pki_role="self-signed",
            mint=_self_signed,
        ),
        ProbeSpec(
            _P.LOOKALIKE_CA,
            False,
            "a foreign CA with exactly the trusted CA's name: catches name-only checks",
            "--ca-cert (the trusted CA's name), --pki or --identity",
            # No PKI role: minted from the trusted CA's name even with --pki.
            mint=_lookalike,
        ),
        ProbeSpec(
            _P.CHAIN_MISSING,
            False,
            "the intermediate-issued leaf sent WITHOUT its intermediate: rejected unless "
            "the server holds the intermediate itself",
            "a valid identity with intermediates, or --pki",
            from_user=_users_leaf_alone,
            pki_role="intermediate",
            pki_leaf_only=True,
            skip="the valid identity carries no intermediate certificates; nothing to leave out",
        ),
        ProbeSpec(
            _P.FORGED_HEADERS,
            False,
            "no client certificate, but headers that backends take as the verified client "
            "identity (X-SSL-Client-Verify: SUCCESS, X-Forwarded-Client-Cert, Client-Cert, ...)",
            "nothing (--forged-header adds to or replaces the set)",
            no_certificate=True,
            request=RequestSpec(identity_headers=True),
        ),
        ProbeSpec(
            _P.SNI_MISMATCH,
            False,
            "no client certificate; SNI of another name, Host: of the protected one",
            "nothing (--other-servername NAME; default a random name under the target's domain)",
            no_certificate=True,
            request=RequestSpec(other_servername=True),
            # nginx, Apache, Caddy and Traefik refuse a Host that the SNI's vhost does not
            # serve with 421 Misdirected Request (RFC 9110 §15.5.20): correct, not a bypass.
            expect_also="421",
        ),
        ProbeSpec(
            _P.PLAINTEXT,
            False,
            "plain HTTP/1.1 (no TLS at all) to the TLS port",
            "nothing",
            no_certificate=True,
            request=RequestSpec(plain_http=True),
            # Refused plain HTTP: an HTTP error page (nginx/Apache/Go answer 400), a hang-up,
            # or TLS bytes back.  Not about a certificate, so no evidence rule applies.
            expectation="4xx|5xx|connect:closed|connect:reset|connect:bad-http|alert",
        ),
    )
}

DEFAULT_PROBES: tuple[ProbeName, ...] = tuple(p.name for p in CATALOGUE.values() if p.default)


def select_probes(names: str | Sequence[str] | None) -> tuple[ProbeName, ...]:
    """Validate ``--probes``: None means the default set, ``all`` the whole catalogue.

    A string is one entry (``"all"``, ``"valid,expired"``), never a sequence of characters.
    Given but naming no probe (``--probes ""``, ``[]``) is an error: running nothing and
    reporting success would be a silent pass.
    """
    if names is None:
        return DEFAULT_PROBES
    if isinstance(names, str):
        names = [names]
    out: list[ProbeName] = []
    for raw in names:
        if not isinstance(raw, str):
            raise UsageError(f"probe names must be strings, got {raw!r}")
        for name in (n.strip() for n in raw.split(",")):
            if not name:
                continue
            if name == "all":
                out.extend(p.name for p in CATALOGUE.values())
                continue
            if name not in CATALOGUE:
                from mtlscheck._validate import closest

                raise UsageError(
                    f"unknown probe {name!r}{closest(name, (*CATALOGUE, 'all'))}; "
                    f"known: {', '.join(CATALOGUE)}"
                )
            out.append(ProbeName(name))
    if not out:
        raise UsageError(
            "--probes names no probe; give probe names (see --list-probes) or 'all', "
            "or leave it out for the default set"
        )
    return tuple(dict.fromkeys(out))


def _identity(spec: ProbeSpec, src: IdentitySources) -> ClientIdentity | Skip | None:
    if spec.no_certificate:
        return None
    if spec.name in src.overrides:
        return src.overrides[spec.name]
    if spec.from_user is not None and (got := spec.from_user(spec.name, src)) is not None:
        return got
    if spec.pki_role is not None and src.pki is not None:
        got = pki_identity(src.pki, spec.pki_role, with_chain=not spec.pki_leaf_only)
        if got is not None:
            return got
    if spec.mint is not None and (got := spec.mint(spec.name, src)) is not None:
        return got
    return Skip(spec.skip or f"no way to build probe {spec.name!r}")


def resolve_identities(
    probes: Sequence[str], src: IdentitySources
) -> dict[str, ClientIdentity | Skip | None]:
    """Identity (None: no certificate; or Skip) of every probe, built once per run."""
    return {name: _identity(CATALOGUE[name], src) for name in probes}


def probe_request(name: str, host: str, options: RequestOptions) -> ProbeRequest | None:
    """The request changes of probe ``name`` against ``host`` (None: it has none)."""
    spec = CATALOGUE[name].request
    if spec == RequestSpec():
        return None
    return ProbeRequest(
        headers=options.identity_headers if spec.identity_headers else (),
        servername=(options.other_servername or other_servername(host, options.label))
        if spec.other_servername
        else None,
        plain_http=spec.plain_http,
    )
