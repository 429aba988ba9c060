"""The lint checks: rules over one :class:`Site` and the CA/CRL files it names.

Each rule is ``rule(site, ctx) -> Iterable[LintFinding]``; :data:`RULES` lists them.  Codes are
the probes' codes (:class:`mtlscheck._diagnose.Code`), so a config, a probe and a log line name
one problem alike; messages say which directive causes it and what a probe would see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from mtlscheck._diagnose import Code
from mtlscheck._fixes import fixes_for
from mtlscheck._lint import _certs
from mtlscheck._lint._certs import Loaded, short_name
from mtlscheck._lint._model import Area, LintFinding, Loc, Server, Setting, Site, Verify
from mtlscheck._lint._verifier import verify_client
from mtlscheck._model import Severity

__all__ = ["RULES", "Context", "check_site"]

CRL_SOON = timedelta(days=7)
_SHA = hashes.SHA256()
# OpenSSL stops building the chain at the depth limit, so the error is not "chain too long".
_TRUNCATED = (
    "(OpenSSL stops building the chain at the limit: the log says (20:unable to get local "
    "issuer certificate), or (3:unable to get certificate CRL) with a CRL)"
)

_VERIFY_WORD = {
    Server.NGINX: ("ssl_verify_client", "$ssl_client_verify", "ssl_client_certificate"),
    Server.APACHE: ("SSLVerifyClient", "SSL_CLIENT_VERIFY", "SSLCACertificateFile"),
    Server.HAPROXY: ("verify", "ssl_c_verify", "ca-file"),
}
_CHECK_HOWTO = {
    Server.NGINX: "if ($ssl_client_verify != SUCCESS) { return 403; }",
    Server.APACHE: "Require expr %{SSL_CLIENT_VERIFY} == 'SUCCESS'",
    Server.HAPROXY: "http-request deny unless { ssl_c_used ssl_c_verify 0 }",
}
# OpenSSL verify errors HAProxy's crt-ignore-err/ca-ignore-err can name, and what ignoring
# them lets in.
_IGNORED = {
    9: (Code.NOT_YET_VALID_CERT_ACCEPTED, "certificates that are not valid yet"),
    10: (Code.EXPIRED_CERT_ACCEPTED, "expired certificates"),
    2: (Code.FOREIGN_CA_ACCEPTED, "certificates from CAs it does not trust"),
    18: (Code.FOREIGN_CA_ACCEPTED, "self-signed certificates"),
    19: (Code.FOREIGN_CA_ACCEPTED, "chains ending in an untrusted self-signed CA"),
    20: (Code.FOREIGN_CA_ACCEPTED, "certificates from CAs it does not trust"),
    21: (Code.FOREIGN_CA_ACCEPTED, "certificates from CAs it does not trust"),
    23: (Code.REVOCATION_NOT_CHECKED, "revoked certificates"),
    26: (Code.CLIENT_EKU_NOT_ENFORCED, "certificates without extendedKeyUsage clientAuth"),
}
_ERR_NAMES = {
    "X509_V_ERR_CERT_NOT_YET_VALID": 9,
    "X509_V_ERR_CERT_HAS_EXPIRED": 10,
    "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT": 2,
    "X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT": 18,
    "X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN": 19,
    "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY": 20,
    "X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE": 21,
    "X509_V_ERR_CERT_REVOKED": 23,
    "X509_V_ERR_INVALID_PURPOSE": 26,
}


@dataclass
class Context:
    """What the rules share: the clock, the client certificate, and a cache of loaded files."""

    now: datetime
    client: tuple[x509.Certificate, tuple[x509.Certificate, ...]] | None = None
    _cache: dict[tuple[str, Path], Loaded] = field(default_factory=dict)

    def certs(self, p: Path) -> Loaded:
        key = ("certs", p)
        if key not in self._cache:
            self._cache[key] = _certs.load_certs(p)
        return self._cache[key]

    def crls(self, p: Path) -> Loaded:
        key = ("crls", p)
        if key not in self._cache:
            self._cache[key] = _certs.load_crls(p)
        return self._cache[key]

    def trust(self, site: Site) -> list[x509.Certificate]:
        """Every certificate the site trusts for client certificates (CA + trusted files)."""
        out: list[x509.Certificate] = []
        for s in (*site.ca_files, *site.trusted_files):
            out.extend(self.certs(s.value).certs)
        return out

    def advertised(self, site: Site) -> list[x509.Certificate]:
        if site.ca_names_file is not None:
            return list(self.certs(site.ca_names_file.value).certs)
        out: list[x509.Certificate] = []
        for s in site.ca_files:
            out.extend(self.certs(s.value).certs)
        return out

    def crl_list(self, site: Site) -> list[x509.CertificateRevocationList]:
        out: list[x509.CertificateRevocationList] = []
        for s in site.crl_files:
            out.extend(self.crls(s.value).crls)
        return out


def _fix(code: Code | str, server: Server, key: str | None = None, **values: str) -> str:
    return dict(fixes_for(key or str(code), **values)).get(str(server), "")


def finding(
    code: Code,
    severity: Severity,
    message: str,
    site: Site,
    at: Setting[Any] | Loc | None = None,
    fix_key: str | None = None,
    **values: str,
) -> LintFinding:
    loc = at.loc if isinstance(at, Setting) else at
    return LintFinding(
        code=str(code),
        severity=severity,
        message=message,
        loc=loc or site.loc,
        site=site.name,
        fix=_fix(code, site.server, fix_key, **values),
    )


def _requests_cert(site: Site) -> bool:
    return site.verify.value is not Verify.OFF or any(
        a.verify is not None and a.verify.value is not Verify.OFF for a in site.areas
    )


def _where(s: Setting[Any]) -> str:
    return f"{s.text} ({s.loc})" if s.loc is not None else s.text


Rule = Callable[[Site, Context], Iterable[LintFinding]]

# --------------------------------------------------------------------------- requesting


def rule_not_requested(site: Site, ctx: Context) -> Iterable[LintFinding]:
    if _requests_cert(site):
        return
    ca_word = _VERIFY_WORD[site.server][2]
    if site.ca_files or site.trusted_files:
        yield finding(
            Code.CLIENT_AUTH_NOT_REQUESTED,
            Severity.ERROR,
            f"{ca_word} is set ({site.ca_files[0].loc if site.ca_files else '?'}) but "
            f"{site.verify.text}: the server never asks for a client certificate, so anyone "
            "gets in (a probe: no CertificateRequest, no-cert accepted)",
            site,
            site.verify,
        )
    else:
        yield finding(
            Code.CLIENT_AUTH_NOT_REQUESTED,
            Severity.WARNING,
            f"this TLS server does not authenticate clients ({site.verify.text}, no {ca_word}); "
            "fine for a public site, not for an mTLS one",
            site,
            site.verify,
        )


def _unchecked(site: Site) -> list[Area]:
    return [a for a in site.areas if not a.checks_verify]


def _optional(site: Site, verify: Setting[Verify], areas: Sequence[Area]) -> Iterable[LintFinding]:
    word, var, _ = _VERIFY_WORD[site.server]
    if site.checks_verify:
        return
    checked = [a for a in areas if a.checks_verify]
    forwarded = site.forwards_verify or any(a.forwards_verify for a in areas)
    open_areas = [a for a in areas if not a.checks_verify]
    if checked and open_areas:
        yield finding(
            Code.CLIENT_AUTH_OPTIONAL,
            Severity.WARNING,
            f"{verify.text} lets clients without a certificate in; {var} is checked in "
            f"{', '.join(a.name for a in checked[:3])} but not in "
            f"{', '.join(f'{a.name} ({a.loc.line})' for a in open_areas[:4])}: intended to be "
            "open?",
            site,
            open_areas[0].loc,
        )
        return
    if checked:
        return
    if forwarded:
        yield finding(
            Code.CLIENT_AUTH_OPTIONAL,
            Severity.WARNING,
            f"{verify.text} lets clients without a certificate in; {var} is only passed on to "
            "the backend, so the application must refuse them (lint cannot see whether it "
            f"does). Safer: {_CHECK_HOWTO[site.server]}",
            site,
            verify,
        )
        return
    yield finding(
        Code.CLIENT_AUTH_OPTIONAL,
        Severity.ERROR,
        f"{verify.text} requests a client certificate but lets clients without one in, and "
        f"nothing checks {var} (a probe: no-cert gets 200). Use {word} "
        f"{'on' if site.server is Server.NGINX else 'require'} or check it: "
        f"{_CHECK_HOWTO[site.server]}",
        site,
        verify,
    )


def rule_optional(site: Site, ctx: Context) -> Iterable[LintFinding]:
    if site.verify.value in (Verify.OPTIONAL, Verify.OPTIONAL_NO_CA):
        yield from _optional(site, site.verify, site.areas)
    for a in site.areas:
        optional = a.verify is not None and a.verify.value is not Verify.OFF
        if optional and a.verify is not None and a.verify.value is not Verify.REQUIRE:
            yield from _optional(site, a.verify, [a])


def rule_optional_no_ca(site: Site, ctx: Context) -> Iterable[LintFinding]:
    settings = [site.verify, *(a.verify for a in site.areas if a.verify is not None)]
    for s in settings:
        if s.value is not Verify.OPTIONAL_NO_CA:
            continue
        _, var, _ = _VERIFY_WORD[site.server]
        if site.checks_verify:
            yield finding(
                Code.FOREIGN_CA_ACCEPTED,
                Severity.INFO,
                f"{s.text} does not verify the certificate's CA: only the check of {var} keeps "
                "certificates from foreign CAs out; 'optional' verifies in TLS as well",
                site,
                s,
            )
        else:
            yield finding(
                Code.FOREIGN_CA_ACCEPTED,
                Severity.ERROR,
                f"{s.text} accepts a certificate from ANY CA (self-signed too) without checking "
                f"it, and nothing checks {var} (a probe: wrong-ca and self-signed get in)",
                site,
                s,
            )


def rule_per_location(site: Site, ctx: Context) -> Iterable[LintFinding]:
    late = [
        a
        for a in site.areas
        if a.verify is not None
        and a.verify.value is not Verify.OFF
        and a.verify.value is not site.verify.value
    ]
    if not late:
        return
    a = late[0]
    assert a.verify is not None
    where = ", ".join(f"{x.name} ({x.loc.line})" for x in late[:4])
    msg = (
        f"{a.verify.text} inside {where}: the certificate is asked for only after the request "
        "(renegotiation on TLS 1.2, post-handshake auth on TLS 1.3); curl answers, but Go "
        "clients and browsers without post-handshake auth get 403 (AH10158)"
    )
    if site.http2 is not None and site.http2.value:
        msg += (
            f"; and {_where(site.http2)} enables HTTP/2, which forbids both (RFC 8740): Apache "
            "answers such a request over h2 with HTTP_1_1_REQUIRED (logged as 403); curl and "
            "browsers retry over HTTP/1.1 on a new connection, other h2 clients fail. Move "
            "SSLVerifyClient to the <VirtualHost> or drop h2 from Protocols"
        )
    yield finding(Code.PER_LOCATION_CLIENT_AUTH, Severity.WARNING, msg, site, a.verify)


# --------------------------------------------------------------------------- CA files


def rule_unreadable(site: Site, ctx: Context) -> Iterable[LintFinding]:
    if not _requests_cert(site):
        return
    for s in (*site.ca_files, *site.trusted_files):
        err = ctx.certs(s.value).error
        if err:
            yield finding(
                Code.REFERENCED_FILE_UNREADABLE,
                Severity.WARNING,
                f"{_where(s)}: {err}; the checks of its CAs are skipped",
                site,
                s,
            )
    for s in site.crl_files:
        err = ctx.crls(s.value).error
        if err:
            yield finding(
                Code.REFERENCED_FILE_UNREADABLE,
                Severity.WARNING,
                f"{_where(s)}: {err}; the CRL checks are skipped",
                site,
                s,
            )


def rule_ca_content(site: Site, ctx: Context) -> Iterable[LintFinding]:
    if not _requests_cert(site) or site.verify.value is Verify.OPTIONAL_NO_CA:
        return
    trust = ctx.trust(site)
    if not trust:
        return
    at = (site.ca_files or site.trusted_files)[0]
    public = _certs.public_cas(trust)
    if public:
        names = ", ".join(short_name(c.subject) for c in public[:3])
        yield finding(
            Code.FOREIGN_CA_ACCEPTED,
            Severity.ERROR,
            f"{len(public)} of the {len(trust)} certificates trusted for client certificates "
            f"are public CAs from the system trust store ({names}"
            f"{', ...' if len(public) > 3 else ''}): "
            "anyone with a certificate from them gets in. Trust only the CA that issues your "
            "client certificates",
            site,
            at,
        )
    cas = [c for c in trust if _certs.is_ca(c)]
    if not cas:
        leaves = ", ".join(short_name(c.subject) for c in trust[:2])
        yield finding(
            Code.VALID_CERT_REJECTED,
            Severity.ERROR,
            f"{_where(at)} holds no CA certificate, only {leaves} (a server or client "
            "certificate?): no client certificate can be verified against it",
            site,
            at,
        )
        return
    dangling = [c for c in cas if _certs.ca_level(c, cas) is None]
    if dangling:
        every = len(dangling) == len(cas)
        yield finding(
            Code.CLIENT_CA_INCOMPLETE,
            Severity.ERROR if every else Severity.WARNING,
            f"{_where(at)} holds the intermediate CA "
            f"{', '.join(short_name(c.subject) for c in dangling[:3])} but not the root above "
            "it: OpenSSL only ends a chain at a self-signed CA, so "
            + ("every client" if every else "every client under it")
            + " is refused with (2:unable to get issuer certificate), whatever the depth. "
            "Add the root CA"
            + (
                " (or trust it with ssl_trusted_certificate)" if site.server is Server.NGINX else ""
            ),
            site,
            at,
        )


def rule_trusted_certificate(site: Site, ctx: Context) -> Iterable[LintFinding]:
    """nginx ``ssl_trusted_certificate`` verifies clients too, without advertising its CAs."""
    if not site.trusted_files or not _requests_cert(site):
        return
    shown = ctx.advertised(site)
    advertised = {c.fingerprint(_SHA) for c in shown}
    for s in site.trusted_files:
        extra = [
            c
            for c in ctx.certs(s.value).certs
            if _certs.is_ca(c) and c.fingerprint(_SHA) not in advertised
        ]
        if not extra:
            continue
        names = ", ".join(short_name(c.subject) for c in extra[:3])
        # The documented pattern: advertise the intermediate, trust its root here.
        parents = all(any(a.issuer == c.subject for a in shown) for c in extra)
        if parents:
            yield finding(
                Code.FOREIGN_CA_ACCEPTED,
                Severity.INFO,
                f"{_where(s)} completes the chain of the advertised CA(s) with {names}: "
                "nginx trusts it for client certificates too, so certificates it issued "
                "directly (not only through the advertised intermediate) are accepted",
                site,
                s,
            )
            continue
        yield finding(
            Code.FOREIGN_CA_ACCEPTED,
            Severity.WARNING,
            f"{_where(s)}: nginx trusts these CAs for client certificates as well, without "
            f"advertising them ({names}). If the file is for OCSP stapling of the server's own "
            "chain, clients with certificates from those CAs get in; if they are your client "
            "CAs, put them in ssl_client_certificate so clients are told which CA to use",
            site,
            s,
        )


# --------------------------------------------------------------------------- revocation


def _crl_mode(site: Site) -> str:
    """How the server checks CRLs: none, leaf or chain."""
    if not site.crl_files:
        return "none"
    if site.crl_check is None:
        return "chain"  # nginx ssl_crl, HAProxy crl-file: every level
    mode = site.crl_check.value
    return mode if mode in ("leaf", "chain") else "none"


def rule_crl(site: Site, ctx: Context) -> Iterable[LintFinding]:
    if not _requests_cert(site) or site.verify.value is Verify.OPTIONAL_NO_CA:
        return
    check = site.crl_check
    if not site.crl_files:
        if check is not None and check.value in ("leaf", "chain"):
            yield finding(
                Code.VALID_CERT_REJECTED,
                Severity.ERROR,
                f"{_where(check)} without SSLCARevocationFile/Path: there is no CRL to check, "
                "so every client is refused with (3:unable to get certificate CRL)",
                site,
                check,
            )
            return
        what = {
            Server.NGINX: "no ssl_crl",
            Server.APACHE: "no SSLCARevocationFile",
            Server.HAPROXY: "no crl-file on the bind line",
        }[site.server]
        yield finding(
            Code.REVOCATION_NOT_CHECKED,
            Severity.WARNING,
            f"{what}: a revoked client certificate is accepted until it expires (a probe: "
            "revoked gets in)",
            site,
            site.verify,
        )
        return
    if check is not None and check.value not in ("leaf", "chain"):
        yield finding(
            Code.REVOCATION_NOT_CHECKED,
            Severity.ERROR,
            f"{_where(site.crl_files[0])} without SSLCARevocationCheck chain (or leaf): Apache "
            f"2.4 does not check the CRL ({check.text}), so revoked certificates get in",
            site,
            site.crl_files[0],
        )
        return
    crls = ctx.crl_list(site)
    if not crls:
        return  # unreadable: reported by rule_unreadable
    cas = [c for c in ctx.trust(site) if _certs.is_ca(c)]
    need = cas
    if _crl_mode(site) == "leaf":  # only CAs that issue leaves (not another CA in the file)
        need = [c for c in cas if not any(o is not c and _issues(c, o) for o in cas)]
    missing = [c for c in need if _certs.crl_for(c, crls) is None]
    at = site.crl_files[0]
    if missing and cas:
        yield finding(
            Code.VALID_CERT_REJECTED,
            Severity.ERROR,
            f"{_where(at)} has no CRL from "
            f"{', '.join(short_name(c.subject) for c in missing[:3])}: the server checks "
            + (
                "the issuing CA's CRL (SSLCARevocationCheck leaf), "
                if _crl_mode(site) == "leaf"
                else "every level of the chain, "
            )
            + "so clients under that CA are refused with (3:unable to get certificate CRL). Give "
            "one CRL per CA",
            site,
            at,
        )
    for ca in cas:
        crl = _certs.crl_for(ca, crls)
        if crl is None or crl.next_update_utc is None:
            continue
        nxt = crl.next_update_utc
        if nxt < ctx.now:
            yield finding(
                Code.VALID_CERT_REJECTED,
                Severity.ERROR,
                f"{_where(at)}: the CRL of {short_name(ca.subject)} expired on "
                f"{nxt:%Y-%m-%d %H:%M} UTC (nextUpdate): every client under that CA is "
                "refused with (12:CRL has expired). Publish a fresh CRL",
                site,
                at,
            )
        elif nxt - ctx.now < CRL_SOON:
            yield finding(
                Code.VALID_CERT_REJECTED,
                Severity.WARNING,
                f"{_where(at)}: the CRL of {short_name(ca.subject)} expires on "
                f"{nxt:%Y-%m-%d %H:%M} UTC (nextUpdate); from then every client under that "
                "CA is refused with (12:CRL has expired)",
                site,
                at,
            )


def _issues(ca: x509.Certificate, other: x509.Certificate) -> bool:
    return other.issuer == ca.subject and not _certs.is_self_signed(other)


# --------------------------------------------------------------------------- depth, protocols


def _depth_ok(site: Site, intermediates: int) -> bool:
    if site.depth is None:
        return True
    if site.server is Server.APACHE:  # Apache counts the certificates above the leaf
        return intermediates + 1 <= site.depth.value
    return intermediates <= site.depth.value  # OpenSSL: intermediates allowed


def _depth_needed(site: Site, intermediates: int) -> int:
    return intermediates + 1 if site.server is Server.APACHE else intermediates


def rule_depth(site: Site, ctx: Context) -> Iterable[LintFinding]:
    if site.depth is None or not _requests_cert(site):
        return
    cas = [c for c in ctx.trust(site) if _certs.is_ca(c)]
    levels = [(lv, c) for c in cas if (lv := _certs.ca_level(c, cas)) is not None]
    if not levels:
        return
    deepest, ca = max(levels, key=lambda x: x[0])
    if _depth_ok(site, deepest):
        return
    n = _depth_needed(site, deepest)
    yield finding(
        Code.VERIFY_DEPTH_TOO_SMALL,
        Severity.ERROR,
        f"{_where(site.depth)}: clients issued by {short_name(ca.subject)} have "
        f"{deepest} intermediate CA(s) in their chain and need depth {n}; they are refused "
        + (
            "(Certificate Chain too long, TLS alert internal_error)"
            if site.server is Server.APACHE
            else _TRUNCATED
        ),
        site,
        site.depth,
        n=str(n),
    )


def rule_tls13(site: Site, ctx: Context) -> Iterable[LintFinding]:
    if "TLSv1.3" in site.protocols.value:
        return
    yield finding(
        Code.TLS13_NOT_OFFERED,
        Severity.WARNING,
        f"{site.protocols.text}: TLS 1.3 is not offered "
        f"(versions: {', '.join(sorted(site.protocols.value)) or 'none'})",
        site,
        site.protocols,
    )


def rule_log_level(site: Site, ctx: Context) -> Iterable[LintFinding]:
    lv = site.log_level
    if lv is None or not _requests_cert(site) or lv.value in ("info", "debug"):
        return
    if site.server is Server.NGINX:
        what = (
            "nginx logs client-certificate errors ('client sent no required SSL certificate', "
            "'client SSL certificate verify error: (20:...)') at level info"
        )
    else:
        what = (
            "Apache's mod_ssl logs a missing certificate (AH02008) and verify errors (AH02276) "
            "at level info"
        )
    yield finding(
        Code.CLIENT_CERT_ERRORS_NOT_LOGGED,
        Severity.INFO,
        f"{_where(lv)}: {what}, so a refused client leaves no trace in the error log",
        site,
        lv,
    )


def rule_ignore_err(site: Site, ctx: Context) -> Iterable[LintFinding]:
    """HAProxy ``crt-ignore-err`` / ``ca-ignore-err``: verify errors that are let through."""
    for s in site.ignore_errors:
        ids: set[int] = set()
        for part in s.value.split(","):
            part = part.strip()
            if part.lower() == "all":
                ids |= set(_IGNORED)
            elif part.isdigit():
                ids.add(int(part))
            elif part.upper() in _ERR_NAMES:
                ids.add(_ERR_NAMES[part.upper()])
        if s.text.startswith("ca-ignore-err"):
            ids -= {18}  # errors on the CA certificates above the leaf
        by_code: dict[Code, list[str]] = {}
        for i in sorted(ids & set(_IGNORED)):
            code, what = _IGNORED[i]
            by_code.setdefault(code, [])
            if what not in by_code[code]:
                by_code[code].append(what)
        on_ca = s.text.startswith("ca-ignore-err")
        for code, whats in by_code.items():
            yield finding(
                code,
                Severity.ERROR,
                f"{s.text} on the bind line lets {' and '.join(whats)} in"
                + (" (errors on the CA certificates above the leaf)" if on_ca else "")
                + ": the verify error is ignored",
                site,
                s,
            )


# --------------------------------------------------------------------------- the client cert


def rule_client_cert(site: Site, ctx: Context) -> Iterable[LintFinding]:
    if ctx.client is None or not _requests_cert(site):
        return
    leaf, sent = ctx.client
    trust = ctx.trust(site)
    if not trust:
        return
    crl_mode = _crl_mode(site)
    verdict = verify_client(leaf, sent, trust, ctx.crl_list(site), crl_mode=crl_mode, at=ctx.now)
    subject = short_name(leaf.subject)
    at = (site.ca_files or site.trusted_files)[0]
    issuers = {leaf.issuer, *(c.issuer for c in sent), *(c.subject for c in sent)}
    advertised = {c.subject for c in ctx.advertised(site)}
    depth_ok = _depth_ok(site, verdict.intermediates)
    if verdict.ok and not depth_ok:
        n = _depth_needed(site, verdict.intermediates)
        yield finding(
            Code.VALID_CERT_REJECTED,
            Severity.ERROR,
            f"the client certificate {subject} will be refused: its chain is longer than "
            + (
                "SSLVerifyDepth allows (Certificate Chain too long)"
                if site.server is Server.APACHE
                else "the verify depth allows " + _TRUNCATED
            ),
            site,
            site.depth or at,
        )
        yield finding(
            Code.VERIFY_DEPTH_TOO_SMALL,
            Severity.ERROR,
            f"the client certificate {subject} verifies, but its chain has "
            f"{verdict.intermediates} intermediate CA(s) and {_where(site.depth or at)} allows "
            f"fewer: it is refused (needs depth {n})",
            site,
            site.depth or at,
            n=str(n),
        )
    elif not verdict.ok:
        yield finding(
            Code.VALID_CERT_REJECTED,
            Severity.ERROR,
            f"the client certificate {subject} does not verify against {_where(at)}"
            f"{' with the CRLs' if crl_mode != 'none' else ''}: {verdict.error} - the server "
            "will refuse it with this error",
            site,
            at,
        )
        if verdict.error_code in (2, 20) and not (issuers & {c.subject for c in trust}):
            names = ", ".join(short_name(c.subject) for c in trust if _certs.is_ca(c))
            yield finding(
                Code.FOREIGN_CA_ACCEPTED,
                Severity.ERROR,
                f"{_where(at)} does not hold the client certificate's CA but trusts {names}: "
                "the wrong file? Whoever holds a certificate from those CAs gets in",
                site,
                at,
                "foreign-ca-accepted/trusted-file",
            )
    if advertised and not (issuers & advertised):
        yield finding(
            Code.CA_NAMES_EXCLUDE_CLIENT_ISSUER,
            Severity.ERROR if not verdict.ok else Severity.WARNING,
            "the CA names the server advertises "
            f"({', '.join(short_name(n) for n in list(advertised)[:3])}) "
            f"do not include the issuer of {subject} ({short_name(leaf.issuer)}): clients that "
            "pick their certificate by CA name (browsers, Java, Go) offer none",
            site,
            site.ca_names_file or at,
        )
    if verdict.ok and depth_ok and len(verdict.chain) > 2:
        in_file = {c.fingerprint(_SHA) for c in trust}
        needed = [c for c in verdict.chain[1:-1] if c.fingerprint(_SHA) not in in_file]
        if needed:
            yield finding(
                Code.CHAIN_INCOMPLETE,
                Severity.INFO,
                f"the intermediate {short_name(needed[0].subject)} is not in {_where(at)}: "
                "clients must send it with their certificate (a leaf alone is refused)",
                site,
                at,
            )


def rule_plain(site: Site, ctx: Context) -> Iterable[LintFinding]:
    if site.plain:
        yield finding(
            Code.NOT_TLS,
            Severity.ERROR,
            "certificates are configured but no 'listen' of this server has 'ssl': the port "
            "speaks plain HTTP (a probe: not-tls)",
            site,
            site.loc,
        )


RULES: tuple[Rule, ...] = (
    rule_not_requested,
    rule_optional,
    rule_optional_no_ca,
    rule_per_location,
    rule_unreadable,
    rule_ca_content,
    rule_trusted_certificate,
    rule_client_cert,
    rule_crl,
    rule_depth,
    rule_ignore_err,
    rule_tls13,
    rule_log_level,
)


def check_site(site: Site, ctx: Context) -> list[LintFinding]:
    if site.plain:
        return list(rule_plain(site, ctx))
    out: list[LintFinding] = []
    for rule in RULES:
        out.extend(rule(site, ctx))
    return out
