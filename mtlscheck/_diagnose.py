"""Findings: rules over all probe results and handshake facts of one target (DESIGN.md §5).

Each rule is one small function ``rule(ev) -> Iterable[Finding]`` over an :class:`Evidence`
view of the results; :data:`RULES` lists them in report order.  Finding codes are a public
contract (:class:`Code`); the fix texts are data in :mod:`mtlscheck._fixes`.

Principles:

* only outcomes that say something about client auth count as "accepted" / "rejected": an
  untrusted server certificate, a hostname mismatch, a refused connection or plain text are our
  side or the network, and get their own findings, never a client-auth one;
* messages cite the probes (``no-cert[tls1.3]``) and what came back;
* where the evidence allows more than one cause, the message says "likely" or "inconclusive".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from mtlscheck._expect import ServerProfile
from mtlscheck._fixes import fixes_for
from mtlscheck._model import (
    Finding,
    OutcomeKind,
    Phase,
    ProbeResult,
    Severity,
)
from mtlscheck._probes import CATALOGUE
from mtlscheck._probes import ProbeName as P
from mtlscheck._verdict import HELLO_REFUSALS

__all__ = ["Code", "diagnose"]


class Code(StrEnum):
    """Finding codes: stable, kebab-case, part of the public contract."""

    CLIENT_AUTH_NOT_REQUESTED = "client-auth-not-requested"
    CLIENT_AUTH_OPTIONAL = "client-auth-optional"
    PER_LOCATION_CLIENT_AUTH = "per-location-client-auth"
    VALID_CERT_REJECTED = "valid-cert-rejected"
    CA_NAMES_EXCLUDE_CLIENT_ISSUER = "ca-names-exclude-client-issuer"
    VERIFY_DEPTH_TOO_SMALL = "verify-depth-too-small"
    CLIENT_CA_INCOMPLETE = "client-ca-incomplete"
    CLIENT_AUTH_CHECKED_OVER_HTTP = "client-auth-checked-over-http"
    EXPIRED_CERT_ACCEPTED = "expired-cert-accepted"
    NOT_YET_VALID_CERT_ACCEPTED = "not-yet-valid-cert-accepted"
    FOREIGN_CA_ACCEPTED = "foreign-ca-accepted"
    CLIENT_EKU_NOT_ENFORCED = "client-eku-not-enforced"
    REVOCATION_NOT_CHECKED = "revocation-not-checked"
    CHAIN_INCOMPLETE = "chain-incomplete"
    TLS13_NOT_OFFERED = "tls13-not-offered"
    TLS12_NOT_OFFERED = "tls12-not-offered"
    SERVER_CERT_UNTRUSTED = "server-cert-untrusted"
    SERVER_HOSTNAME_MISMATCH = "server-hostname-mismatch"
    NOT_TLS = "not-tls"
    CONNECTION_REFUSED = "connection-refused"
    TIMEOUT = "timeout"
    TARGET_UNREACHABLE = "target-unreachable"
    CLIENT_CERT_REJECTED_AFTER_HANDSHAKE = "client-cert-rejected-after-handshake"
    IDENTITY_HEADER_TRUSTED = "identity-header-trusted"
    SNI_HOST_BYPASS = "sni-host-bypass"
    PLAINTEXT_ACCEPTED = "plaintext-accepted"
    CA_NAMES_EMPTY = "ca-names-empty"
    CA_NAMES_PUBLIC = "ca-names-public"
    # Found by `mtlscheck lint` only: what a config shows and no probe can see.
    CLIENT_CERT_ERRORS_NOT_LOGGED = "client-cert-errors-not-logged"
    REFERENCED_FILE_UNREADABLE = "referenced-file-unreadable"


# Probes presenting a certificate that a correct server must refuse, and what is wrong with it.
_FOREIGN = (P.WRONG_CA, P.SELF_SIGNED, P.LOOKALIKE_CA)
_NGINX_NO_CERT = "No required SSL certificate was sent"
_NGINX_CERT_ERROR = "SSL certificate error"

# Alerts that name the certificate's problem: OpenSSL's, never Go's (bad_certificate for all).
_OPENSSL_CERT_ALERTS = frozenset({"unknown_ca", "certificate_expired", "unsupported_certificate"})

# Alerts OpenSSL servers send for a refused certificate, and what they mean.
_ALERT_CAUSE = {
    "unknown_ca": "the server does not trust the certificate's issuer (or is missing an "
    "intermediate)",
    "certificate_expired": "the server says the certificate has expired",
    "certificate_revoked": "the server says the certificate is revoked",
    "unsupported_certificate": "the server refuses its key usage (extendedKeyUsage lacks "
    "clientAuth?)",
    "handshake_failure": "the server saw no acceptable certificate",
    "certificate_required": "the server saw no certificate",
    "decrypt_error": "the certificate's signature or our CertificateVerify did not check out",
    "internal_error": "the server's verification failed internally (Apache sends this when "
    "SSLVerifyDepth is exceeded)",
    "access_denied": "the server refused the certificate by policy",
}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Evidence:
    """The results of one target, with the questions rules ask of them."""

    results: tuple[ProbeResult, ...]
    profile: ServerProfile
    unsupported: tuple[tuple[str, str], ...]
    insecure: bool

    def ran(self, probe: P | None = None) -> list[ProbeResult]:
        """Results that have an outcome (not skipped), of one probe or all.

        "All" leaves out probes that speak no TLS (``plaintext``): their hang-ups and answers
        are about the port, and only their own rule reads them, by name.
        """
        if probe is None:
            return [r for r in self.results if r.outcome is not None and not _plain(r)]
        name = P(probe)  # a misspelt name fails here, not silently
        return [r for r in self.results if r.outcome is not None and r.probe == name]

    def about_client_auth(self, probe: P | None = None) -> list[ProbeResult]:
        """Results whose outcome says something about client auth (see module doc)."""
        return [r for r in self.ran(probe) if accepted(r) or rejected(r)]

    def accepted(self, probe: P) -> list[ProbeResult]:
        return [r for r in self.ran(probe) if accepted(r)]

    def rejected(self, probe: P) -> list[ProbeResult]:
        return [r for r in self.ran(probe) if rejected(r)]

    @property
    def requested_in_handshake(self) -> list[ProbeResult]:
        return [r for r in self.ran() if r.facts is not None and r.facts.cert_requested]

    @property
    def requested_late(self) -> list[ProbeResult]:
        return [
            r for r in self.ran() if r.facts is not None and r.facts.cert_requested_after_handshake
        ]

    @property
    def completed(self) -> list[ProbeResult]:
        return [r for r in self.ran() if r.facts is not None and r.facts.handshake_completed]

    @property
    def server(self) -> str | None:
        """The server family: the profile if given, else what the answers give away (nginx's
        400 pages; Go's bad_certificate for every bad certificate, and where OpenSSL says
        handshake_failure or certificate_required for a missing one - unless bad certificates
        got certificate_unknown: Java's JSSE, which says bad_certificate for a missing one
        too).  None when unknown."""
        if self.profile is not ServerProfile.GENERIC:
            return str(self.profile)
        for r in self.ran():
            o = r.outcome
            if o is not None and o.kind is OutcomeKind.HTTP and "SSL certificate" in o.detail:
                return "nginx"
        bad = self._alerts(certificate=True)
        if "certificate_unknown" in bad:
            # JSSE: certificate_unknown for every bad certificate, bad_certificate for none
            jsse = bad == {"certificate_unknown"} and self._alerts(certificate=False) <= {
                "bad_certificate"
            }
            return "tomcat" if jsse else None
        if ("bad_certificate" in bad and not bad & _OPENSSL_CERT_ALERTS) or any(
            r.outcome and r.outcome.alert == "bad_certificate" for r in self.ran(P.NO_CERT)
        ):
            return "caddy"  # Go's crypto/tls: Caddy, Traefik, Go services
        return None

    def _alerts(self, *, certificate: bool) -> set[str | None]:
        """Alerts that refused rejection probes presenting a certificate (or presenting none)."""
        out: set[str | None] = set()
        for r in self.ran():
            spec = CATALOGUE.get(r.probe)
            o = r.outcome
            if spec is None or spec.accepts or o is None or o.kind is not OutcomeKind.TLS_ALERT:
                continue
            if spec.no_certificate is not certificate:
                out.add(o.alert)
        return out

    def hint(self, by_server: dict[str, str], unknown: str) -> str:
        """The server-specific text, or ``unknown`` when the server is not recognised."""
        return by_server.get(self.server or "", unknown)

    @property
    def auth_not_requested(self) -> bool:
        """Handshakes completed and the server never asked for a certificate, in or after."""
        return bool(self.completed) and not self.requested_in_handshake and not self.requested_late


def _plain(r: ProbeResult) -> bool:
    spec = CATALOGUE.get(r.probe)
    return spec is not None and spec.request.plain_http


def accepted(r: ProbeResult) -> bool:
    return r.outcome is not None and r.outcome.is_acceptance


def rejected(r: ProbeResult) -> bool:
    return r.outcome is not None and r.outcome.is_refusal


def said(r: ProbeResult) -> str:
    """``no-cert[tls1.3] got http 400 "No required SSL certificate was sent"``."""
    o = r.outcome
    if o is None:
        return f"{r.name} was skipped"
    text = o.summary
    if o.kind is OutcomeKind.HTTP and o.detail:
        text += f' "{o.detail}"'
    return f"{r.name} got {text}"


def names(rs: Iterable[ProbeResult]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r.name for r in rs))


def ca_list(names: Sequence[str], limit: int = 4) -> str:
    """An advertised CA list for a message: folded when long (JSON facts keep every name)."""
    if len(names) <= limit:
        return "; ".join(names)
    return f"{len(names)} CA names: {'; '.join(names[:limit])}; and {len(names) - limit} more"


def listing(rs: Sequence[ProbeResult], limit: int = 3) -> str:
    """Human list of what came back, at most ``limit`` items."""
    parts = [said(r) for r in rs[:limit]]
    if len(rs) > limit:
        parts.append(f"and {len(rs) - limit} more")
    return "; ".join(parts)


def _finding(
    code: Code,
    severity: Severity,
    message: str,
    evidence: Iterable[str],
    fix_key: str | None = None,
    **values: str,
) -> Finding:
    return Finding(
        code=str(code),
        severity=severity,
        message=message,
        evidence=tuple(dict.fromkeys(evidence)),
        fixes=fixes_for(fix_key or str(code), **values),
    )


# --------------------------------------------------------------------------- our side, network

Rule = Callable[[Evidence], Iterable[Finding]]

_READS: dict[Rule, tuple[P, ...]] = {}


def reads(*probes: P) -> Callable[[Rule], Rule]:
    """Mark the probes whose results a rule judges (beyond all results in general): a test
    checks that every probe is read by some rule, or its spec says why none is needed."""

    def mark(rule: Rule) -> Rule:
        _READS[rule] = probes
        return rule

    return mark


def probes_read(rule: Rule) -> tuple[P, ...]:
    return _READS.get(rule, ())


def rule_connection(ev: Evidence) -> Iterable[Finding]:
    """Refused / timed out / unresolvable: nothing about client auth can be said from these."""
    ran = ev.ran()
    for reason, code, what in (
        ("refused", Code.CONNECTION_REFUSED, "the TCP connection was refused"),
        ("timeout", Code.TIMEOUT, "no answer within the timeout"),
    ):
        hit = [
            r
            for r in ran
            if r.outcome is not None
            and r.outcome.kind is OutcomeKind.CONNECT
            and r.outcome.reason == reason
        ]
        if not hit:
            continue
        everywhere = len(hit) == len(ran)
        phases = {str(r.outcome.phase) for r in hit if r.outcome and r.outcome.phase}
        when = f" (during: {', '.join(sorted(phases))})" if phases else ""
        yield _finding(
            code,
            Severity.ERROR if everywhere else Severity.WARNING,
            f"{what} for {'every probe' if everywhere else f'{len(hit)} of {len(ran)} probes'}"
            f"{when}: {listing(hit, 2)}"
            + ("" if everywhere else "; the other probes got an answer (flaky server or limits?)"),
            names(hit),
        )
    other = [
        r
        for r in ran
        if (
            r.outcome is not None
            and r.outcome.kind is OutcomeKind.CONNECT
            and (
                r.outcome.reason in ("dns", "unreachable", "error")
                # a hang-up before any ServerHello: something listens, but it does not do TLS
                # with us (a TCP proxy with no backend, a wrong port, a TLS-level block)
                or (r.outcome.reason in ("closed", "reset") and r.outcome.phase is None)
            )
        )
        # ... or an alert instead of a ServerHello: the server shares no TLS version or cipher
        # suite with our ClientHello (GnuTLS and servers without TLS 1.3 send handshake_failure
        # rather than protocol_version).  Not for a probe that changes the SNI: refusing that
        # one is its expected answer.
        or (_refused_hello(r) and not _other_sni(r))
    ]
    if other:
        detail = other[0].outcome.detail if other[0].outcome else ""
        first = other[0].outcome
        if first is not None and _refused_hello(other[0]):
            detail = f"the server answered our ClientHello with {first.alert}, no ServerHello"
            if first.alert in HELLO_REFUSALS:
                detail += ": it shares no TLS version or cipher suite with it"
        yield _finding(
            Code.TARGET_UNREACHABLE,
            Severity.ERROR,
            f"could not reach the target: {listing(other, 2)} ({detail})",
            names(other),
        )


def _refused_hello(r: ProbeResult) -> bool:
    """The server answered the ClientHello with an alert, not a ServerHello."""
    o, f = r.outcome, r.facts
    return (
        o is not None
        and o.kind is OutcomeKind.TLS_ALERT
        and f is not None
        and not (f.server_hello_seen or f.cert_requested or f.handshake_completed)
    )


def _other_sni(r: ProbeResult) -> bool:
    spec = CATALOGUE.get(r.probe)
    return spec is not None and spec.request.other_servername


def rule_not_tls(ev: Evidence) -> Iterable[Finding]:
    hit = [r for r in ev.ran() if r.outcome is not None and r.outcome.kind is OutcomeKind.NOT_TLS]
    if hit:
        yield _finding(
            Code.NOT_TLS,
            Severity.ERROR,
            f"the port does not speak TLS ({listing(hit, 1)}): plain HTTP on an https:// URL?",
            names(hit),
        )


def rule_server_cert(ev: Evidence) -> Iterable[Finding]:
    """Our side refused the server (or would have, under --insecure): never a client-auth
    finding, and the probes it stopped say nothing about client auth."""
    for reason, code, fact in (
        ("server-cert-untrusted", Code.SERVER_CERT_UNTRUSTED, "server_verify_error"),
        ("hostname-mismatch", Code.SERVER_HOSTNAME_MISMATCH, "hostname_matches"),
    ):
        stopped = [
            r
            for r in ev.ran()
            if r.outcome is not None
            and r.outcome.kind is OutcomeKind.TLS_LOCAL
            and r.outcome.reason == reason
        ]
        if stopped:
            detail = stopped[0].outcome.detail if stopped[0].outcome else ""
            yield _finding(
                code,
                Severity.ERROR,
                f"our client refused the server before sending any request ({detail}): "
                f"{len(stopped)} probe(s) say nothing about client auth; "
                "fix the trust/name (or use --insecure) and run again",
                names(stopped),
            )
            continue
        if ev.insecure:
            seen = [
                r
                for r in ev.ran()
                if r.facts is not None
                and (
                    r.facts.server_verify_error
                    if fact == "server_verify_error"
                    else r.facts.hostname_matches is False
                )
            ]
            if seen:
                f = seen[0].facts
                why = (
                    f.server_verify_error
                    if f is not None and fact == "server_verify_error"
                    else "the certificate does not cover the host name"
                )
                yield _finding(
                    code,
                    Severity.WARNING,
                    f"the server certificate would not be accepted by a verifying client "
                    f"({why}); probed anyway because of --insecure",
                    names(seen[:2]),
                )


def rule_tls13(ev: Evidence) -> Iterable[Finding]:
    """A refused version is a fact about the server's protocol list, reported once; when
    every requested version is refused, nothing about client auth could be probed."""
    refused = {v for v, _ in ev.unsupported}
    probed = sorted(
        {r.tls_version for r in ev.ran() if r.tls_version and r.tls_version not in refused}
    )
    rest = (
        f"only TLS {', '.join(probed)} was probed"
        if probed
        else "no requested TLS version is offered, so client authentication was not probed"
    )
    for version, why in ev.unsupported:
        code, severity = (
            (Code.TLS13_NOT_OFFERED, Severity.WARNING)
            if version == "1.3"
            else (Code.TLS12_NOT_OFFERED, Severity.INFO)
        )
        yield _finding(
            code, severity, f"TLS {version} is not offered: {why}; {rest}", (f"tls{version}",)
        )


# --------------------------------------------------------------------------- requesting


def rule_not_requested(ev: Evidence) -> Iterable[Finding]:
    if not ev.auth_not_requested:
        return
    let_in = [r for r in ev.about_client_auth() if accepted(r) and r.probe != P.VALID]
    blocked = [r for r in ev.about_client_auth() if rejected(r)]
    if let_in:
        yield _finding(
            Code.CLIENT_AUTH_NOT_REQUESTED,
            Severity.ERROR,
            "the server never asks for a client certificate (no CertificateRequest in "
            f"{len(ev.completed)} handshake(s), none after them), so anyone gets in: "
            f"{listing(let_in)}",
            names(let_in),
        )
    elif blocked:
        yield _finding(
            Code.CLIENT_AUTH_NOT_REQUESTED,
            Severity.WARNING,
            "the server never asks for a client certificate (no CertificateRequest), yet "
            f"refuses: {listing(blocked)}; the refusal comes from elsewhere (an HTTP rule, a "
            "proxy), not from TLS client auth (inconclusive)",
            names(blocked),
        )


@reads(P.VALID)
def rule_per_location(ev: Evidence) -> Iterable[Finding]:
    late = ev.requested_late
    if late and not ev.requested_in_handshake:
        versions = sorted({r.tls_version or "?" for r in late})
        how = " and ".join(
            "renegotiation (TLS 1.2)" if v == "1.2" else "post-handshake auth (TLS 1.3)"
            for v in versions
        )
        where = ev.hint(
            {
                "tomcat": "Tomcat: a CLIENT-CERT <login-config> on a connector with "
                'certificateVerification="none"'
            },
            "Apache SSLVerifyClient inside <Location>/<Directory>",
        )
        refusal = ev.hint({"tomcat": "401"}, "403 (Apache logs AH10158)")
        unasked = _unasked_on_tls13(ev)
        yield _finding(
            Code.PER_LOCATION_CLIENT_AUTH,
            Severity.WARNING,
            "the server asks for the client certificate only after the request, by "
            f"{how} ({where}): "
            f"{listing(late, 2)}; our client, like curl, answers it, but Go clients, browsers "
            f"and HTTP/2 cannot and get {refusal}"
            + (
                "; on TLS 1.3 it did not ask at all, although this client offered "
                f"post-handshake auth ({listing(unasked, 1)}): {_NO_PHA}"
                if unasked
                else ""
            ),
            names([*late, *unasked]),
        )
        return
    # No request at all on TLS 1.3 and a 403 for the valid certificate: per-location auth that
    # needs post-handshake auth, which our client could not offer.
    suspects = [
        r
        for r in ev.ran(P.VALID)
        if r.tls_version == "1.3"
        and r.facts is not None
        and r.facts.handshake_completed
        and not r.facts.cert_requested
        and not r.facts.post_handshake_auth
        and r.outcome is not None
        and r.outcome.kind is OutcomeKind.HTTP
        and r.outcome.status == 403
    ]
    if suspects:
        yield _finding(
            Code.PER_LOCATION_CLIENT_AUTH,
            Severity.WARNING,
            "inconclusive: no CertificateRequest in the TLS 1.3 handshake and "
            f"{listing(suspects, 1)}: typical of Apache SSLVerifyClient inside <Location>, "
            "which needs post-handshake auth, and this client could not offer it; re-check "
            "with curl --tlsv1.3 --cert ... or over TLS 1.2",
            names(suspects),
        )


_NO_PHA = (
    "the server cannot ask for a certificate after a TLS 1.3 handshake (Tomcat with JSSE has "
    "no post-handshake auth: its CLIENT-CERT login answers 401 to every client that did not "
    "send a certificate in the handshake)"
)


def _unasked_on_tls13(ev: Evidence) -> list[ProbeResult]:
    """``valid`` refused over HTTP on TLS 1.3 with no certificate request at all, although our
    client offered post-handshake auth, while TLS 1.2 asks after the request: a server that
    can renegotiate but has no post-handshake auth (Tomcat on JSSE)."""
    if not any(r.tls_version == "1.2" for r in ev.requested_late):
        return []
    return [
        r
        for r in ev.ran(P.VALID)
        if r.tls_version == "1.3"
        and r.facts is not None
        and r.facts.handshake_completed
        and r.facts.post_handshake_auth
        and not r.facts.cert_requested
        and not r.facts.cert_requested_after_handshake
        and r.outcome is not None
        and r.outcome.kind is OutcomeKind.HTTP
        and r.outcome.status in (401, 403)
    ]


@reads(P.NO_CERT)
def rule_optional(ev: Evidence) -> Iterable[Finding]:
    if not (ev.requested_in_handshake or ev.requested_late):
        return
    let_in = ev.accepted(P.NO_CERT)
    if not let_in:
        return
    req = ev.requested_in_handshake or ev.requested_late
    yield _finding(
        Code.CLIENT_AUTH_OPTIONAL,
        Severity.ERROR,
        "the server asks for a client certificate but lets clients without one in: "
        f"{listing(let_in)} (CertificateRequest seen in {req[0].name}): "
        + ev.hint(
            {
                "nginx": "nginx ssl_verify_client optional (or optional_no_ca) without a check "
                "of $ssl_client_verify",
                "apache": "Apache SSLVerifyClient optional (or optional_no_ca) without "
                "Require expr %{SSL_CLIENT_VERIFY} == 'SUCCESS'",
                "haproxy": "HAProxy verify optional without a check of ssl_c_verify",
                "caddy": "Caddy client_auth mode request or verify_if_given",
                "tomcat": 'Tomcat certificateVerification="optional" (or "optionalNoCA") '
                "without a CLIENT-CERT <security-constraint> on the URL",
                "go": "Go tls.Config ClientAuth VerifyClientCertIfGiven or RequestClientCert "
                "without a check of r.TLS.VerifiedChains in the handler",
            },
            "e.g. nginx ssl_verify_client optional, Apache SSLVerifyClient optional, HAProxy "
            "verify optional or Caddy mode request, with no check of the verify result",
        ),
        names([*let_in, req[0]]),
    )


# --------------------------------------------------------------------------- the valid cert


def _client_issuers(r: ProbeResult) -> set[str]:
    """Names of every CA above the leaf we presented (issuers and intermediate subjects)."""
    if r.facts is None:
        return set()
    chain = r.facts.client_chain
    return {c.issuer for c in chain} | {c.subject for c in chain[1:]}


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _own_cert_problem(r: ProbeResult) -> str | None:
    """Something wrong with the certificate we presented, from its own dates."""
    if r.facts is None or not r.facts.client_chain:
        return None
    leaf = r.facts.client_chain[0]
    now = _now()
    after, before = _parse_time(leaf.not_after), _parse_time(leaf.not_before)
    if after is not None and after < now:
        return f"the certificate expired on {leaf.not_after}"
    if before is not None and before > now:
        return f"the certificate is not valid before {leaf.not_before}"
    return None


def _ca_names_exclude(ev: Evidence) -> tuple[list[ProbeResult], str] | None:
    """Valid results whose advertised CA names do not include any CA of our chain."""
    for r in ev.ran(P.VALID):
        f = r.facts
        if f is None or not f.ca_names or not f.client_chain:
            continue
        if not _client_issuers(r) & set(f.ca_names):
            return [r], f.client_chain[0].issuer
    return None


def _chain_root(r: ProbeResult) -> str | None:
    """The name of the root our chain ends in: the issuer of the last certificate we sent."""
    return r.facts.client_chain[-1].issuer if r.facts is not None and r.facts.client_chain else None


def _anchor_missing(r: ProbeResult) -> tuple[tuple[str, ...], str] | None:
    """A refused chain (leaf + intermediates) whose intermediate the server advertises while
    its root is not among the CA names: (advertised CAs of our chain, the root).

    nginx, Apache and HAProxy send every CA of their client CA file as CA names, and OpenSSL
    only ends a chain at a self-signed trust anchor: a file with the intermediate alone fails
    every client with "unable to get issuer certificate" (verify error 2), whatever the depth.
    """
    f = r.facts
    root = _chain_root(r)
    if f is None or root is None or len(f.client_chain) < 2 or not f.ca_names:
        return None
    ours = tuple(n for n in f.ca_names if n in _client_issuers(r))
    if not ours or root in f.ca_names:
        return None
    return ours, root


def _depth_suspect(ev: Evidence, rejected_valid: list[ProbeResult]) -> bool:
    """The full chain was refused with a generic certificate error although the server
    advertises its root (or sends no CA names): typical of a verify depth smaller than the
    chain.  When it advertises an intermediate but not the root, the cause is the missing
    trust anchor instead (client-ca-incomplete), whatever the depth."""
    for r in rejected_valid:
        f, o = r.facts, r.outcome
        if f is None or o is None or len(f.client_chain) < 2:
            continue
        if f.ca_names and _chain_root(r) not in f.ca_names:
            continue
        nginx_error = o.kind is OutcomeKind.HTTP and _NGINX_CERT_ERROR in o.detail
        apache_depth = o.kind is OutcomeKind.TLS_ALERT and o.alert == "internal_error"
        if nginx_error or apache_depth:
            return True
    return False


def _revocation_ruled_out(ev: Evidence) -> bool:
    """The revoked probe got in: the server checks neither a CRL nor OCSP, so no failing
    revocation check can be what refuses the valid certificate."""
    return bool(ev.accepted(P.REVOKED))


def _depth_likely(ev: Evidence, rejected_valid: list[ProbeResult]) -> bool:
    """The verify depth is the likely cause, not just one of two.

    Apache names it (internal_error, logged as "Certificate Chain too long").  nginx's 400
    "certificate error" for a chain is also what a revocation check failing on that chain
    gives: a CRL missing for one of its CAs ("(3:unable to get certificate CRL)" - which nginx
    also logs for a too-small depth once ssl_crl is set: OpenSSL stops building the chain at
    the depth and then finds no CRL for the last CA it reached), or an OCSP responder nginx
    cannot reach.  Only when the revoked probe got in - nothing checks revocation - is the
    depth what is left (measured with nginx 1.22: depth 0, and a CRL for the root only).
    """
    if not _depth_suspect(ev, rejected_valid):
        return False
    chain_too_long = any(
        r.outcome is not None
        and r.outcome.kind is OutcomeKind.TLS_ALERT
        and r.outcome.alert == "internal_error"
        for r in rejected_valid
    )
    return chain_too_long or _revocation_ruled_out(ev)


_REVOCATION_FAILS = (
    "no CRL for one of its CAs (ssl_crl / SSLCARevocationFile / crl-file need the CRL of the "
    "root AND of every intermediate; nginx logs '(3:unable to get certificate CRL)'), an "
    "expired CRL ('(12:CRL has expired)'), or an OCSP responder the server cannot reach "
    "(nginx ssl_ocsp on: 'certificate status request failed'; Apache SSLOCSPEnable: AH01974 "
    "'could not connect to OCSP responder')"
)


def _ocsp_note(ev: Evidence) -> str:
    """``; the certificates name the OCSP responder URL`` when the revoked probe's
    certificate names one (see mtlscheck._revocation), else empty."""
    urls = [u for r in ev.ran(P.REVOKED) if r.revocation for u in r.revocation.ocsp_urls]
    if not urls:
        return ""
    return f"; the certificates name the OCSP responder {urls[0]}"


def _sent_certificate(r: ProbeResult) -> bool:
    return r.facts is not None and bool(r.facts.client_chain)


@reads(P.VALID)
def rule_valid_rejected(ev: Evidence) -> Iterable[Finding]:
    # A refusal of the ClientHello itself came before the server saw any certificate.
    rej = [r for r in ev.rejected(P.VALID) if not _refused_hello(r)]
    if not rej:
        return
    first = rej[0]
    o = first.outcome
    assert o is not None
    own = _own_cert_problem(first)
    excluded = _ca_names_exclude(ev)
    cause: str
    fix_key = str(Code.VALID_CERT_REJECTED)
    if own is not None:
        cause = f"likely cause: our side, {own}"
        fix_key = "valid-cert-rejected/client"
    elif excluded is not None:
        cause = (
            f"likely cause: the server trusts another CA; it advertises "
            f"{ca_list(excluded[0][0].facts.ca_names) if excluded[0][0].facts else '?'}, "
            f"not the issuer {excluded[1]} (see {Code.CA_NAMES_EXCLUDE_CLIENT_ISSUER})"
        )
        fix_key = str(Code.CA_NAMES_EXCLUDE_CLIENT_ISSUER)
    elif (anchor := next(filter(None, map(_anchor_missing, rej)), None)) is not None:
        cause = (
            f"likely cause: the server trusts the intermediate {'; '.join(anchor[0])} but not "
            f"the root {anchor[1]} above it (see {Code.CLIENT_CA_INCOMPLETE})"
        )
        fix_key = str(Code.CLIENT_CA_INCOMPLETE)
    elif _depth_likely(ev, rej):
        cause = (
            "likely cause: the verify depth is smaller than the chain "
            f"(see {Code.VERIFY_DEPTH_TOO_SMALL})"
        )
    elif _depth_suspect(ev, rej):
        # nginx's generic 400 for a chain: a failing revocation check before the depth guess
        cause = (
            f"likely cause: a revocation check that fails for this chain - {_REVOCATION_FAILS} "
            "- or a verify depth smaller than the chain (with ssl_crl set nginx logs "
            "'(3:unable to get certificate CRL)' for that too; `mtlscheck lint` on the config "
            "tells them apart)"
            + (
                "; the revoked probe would too: if it gets in, nothing checks revocation and "
                "the depth is the cause"
                if not ev.ran(P.REVOKED)
                else ""
            )
            + _ocsp_note(ev)
        )
        fix_key = "valid-cert-rejected/revocation"
    elif (
        o.kind is OutcomeKind.TLS_ALERT
        and o.alert == "handshake_failure"
        and _sent_certificate(first)
        and not _revocation_ruled_out(ev)
    ):
        cause = (
            "likely cause: the server's OCSP check failed - Apache answers a certificate it "
            "could not get an OCSP status for with handshake_failure (SSLOCSPEnable on with a "
            "responder it cannot reach: AH01974 'could not connect to OCSP responder'), and so "
            "refuses every client" + _ocsp_note(ev)
        )
        fix_key = "valid-cert-rejected/revocation"
    elif (
        o.kind is OutcomeKind.TLS_ALERT
        and o.alert == "unknown_ca"
        and first.facts is not None
        and first.facts.ca_names
        and not _revocation_ruled_out(ev)
    ):
        # The CA names include a CA of our chain (else _ca_names_exclude above): the server
        # knows the issuer.  OpenSSL sends unknown_ca for "unable to get certificate CRL" too.
        cause = (
            "likely cause: a CRL missing for one CA of the chain - the server advertises the "
            "chain's CA, and OpenSSL answers 'unable to get certificate CRL' with unknown_ca "
            "as well (Apache SSLCARevocationCheck chain, HAProxy crl-file: the CRL of the root "
            "AND of every intermediate) - or an intermediate the server lacks"
        )
        fix_key = "valid-cert-rejected/revocation"
    elif o.kind is OutcomeKind.TLS_ALERT and o.alert in _ALERT_CAUSE:
        cause = f"the alert says: {_ALERT_CAUSE[str(o.alert)]}"
    elif o.kind is OutcomeKind.TLS_ALERT and o.alert == "bad_certificate":
        cause = (
            "inconclusive: bad_certificate is what Go servers (Caddy, Traefik, net/http) send "
            "for every reason; the server log names it (Go: 'tls: failed to verify client "
            "certificate: ...')"
        )
    elif o.kind is OutcomeKind.TLS_ALERT and o.alert == "certificate_unknown":
        cause = (
            "inconclusive: certificate_unknown is what Java's JSSE (Tomcat, Jetty, Spring "
            "Boot) sends for every reason; start the JVM with -Djava.security.debug=certpath "
            "to see which"
        )
    elif o.kind is OutcomeKind.HTTP and _NGINX_NO_CERT in o.detail:
        cause = (
            "nginx says no certificate was sent although we sent one: the certificate was "
            "probably dropped by a proxy in front, or the request went to another server { }"
        )
    elif o.kind is OutcomeKind.HTTP and _NGINX_CERT_ERROR in o.detail:
        cause = "inconclusive: nginx only says 'certificate error'; its error.log names the reason"
        if not _revocation_ruled_out(ev):
            cause += (
                "; a revocation check that fails for every client is a common one: "
                f"{_REVOCATION_FAILS}{_ocsp_note(ev)}"
            )
    elif first in _unasked_on_tls13(ev):
        cause = (
            "likely cause: the server asks for the certificate after the request on TLS 1.2 "
            f"only; {_NO_PHA} (see {Code.PER_LOCATION_CLIENT_AUTH})"
        )
        fix_key = str(Code.PER_LOCATION_CLIENT_AUTH)
    elif o.kind is OutcomeKind.HTTP and o.status in (401, 403):
        late = first.facts is not None and first.facts.cert_requested_after_handshake
        cause = (
            "inconclusive: an HTTP-level refusal after the handshake"
            + (" and a late certificate request" if late else "")
            + " (an access rule such as Apache SSLRequire / Require expr, or the application)"
        )
    else:
        cause = "inconclusive: the server log names the reason"
    yield _finding(
        Code.VALID_CERT_REJECTED,
        Severity.ERROR,
        f"the valid client certificate is refused: {listing(rej, 2)}; {cause}",
        names(rej),
        fix_key,
    )


@reads(P.VALID)
def rule_ca_names(ev: Evidence) -> Iterable[Finding]:
    found = _ca_names_exclude(ev)
    if found is None:
        return
    (r,), issuer = found[0], found[1]
    f = r.facts
    assert f is not None
    refused = bool(ev.rejected(P.VALID))
    yield _finding(
        Code.CA_NAMES_EXCLUDE_CLIENT_ISSUER,
        Severity.ERROR if refused else Severity.WARNING,
        f"the server advertises the client CAs {ca_list(f.ca_names)} ({r.name}), which do "
        f"not include {issuer}, the issuer of the valid certificate"
        + (
            ": it trusts the wrong CA file"
            if refused
            else "; it is accepted anyway (trusted without being advertised, e.g. nginx "
            "ssl_trusted_certificate), but clients that pick a certificate by CA name will "
            "not offer it"
        ),
        (r.name,),
    )


@reads(P.VALID)
def rule_depth(ev: Evidence) -> Iterable[Finding]:
    rej = ev.rejected(P.VALID)
    if not rej or _own_cert_problem(rej[0]) is not None or not _depth_likely(ev, rej):
        return
    f = rej[0].facts
    n = len(f.client_chain) if f is not None else 2
    root = _chain_root(rej[0])
    why = (
        f"although the server advertises its root {root}"
        if f is not None and root in f.ca_names
        else "(the server sends no CA names, so this is read from the error alone)"
    )
    yield _finding(
        Code.VERIFY_DEPTH_TOO_SMALL,
        Severity.ERROR,
        f"likely: the server's verify depth is too small for the {n}-certificate client "
        f"chain (leaf + intermediates), which is refused {why}: {listing(rej, 2)}; "
        + (
            "Apache answers internal_error and logs 'Certificate Chain too long'"
            if any(r.outcome is not None and r.outcome.alert == "internal_error" for r in rej)
            else ev.hint(
                {
                    # measured with nginx 1.22 / OpenSSL 3: the depth limit stops the chain
                    # building, so the error is never "certificate chain too long"
                    "nginx": "nginx's error.log shows a verify error that hides the depth "
                    "(20 'unable to get local issuer certificate', or 3 'unable to get "
                    "certificate CRL' with ssl_crl): OpenSSL stops building the chain at the "
                    "depth limit",
                },
                "the server log names a chain error ('certificate chain too long', or with "
                "OpenSSL 3 'unable to get local issuer certificate')",
            )
        ),
        names(rej),
        n=str(n),
    )


@reads(P.VALID)
def rule_client_ca_incomplete(ev: Evidence) -> Iterable[Finding]:
    rej = ev.rejected(P.VALID)
    if not rej or _own_cert_problem(rej[0]) is not None:
        return
    hit = [(r, found) for r in rej if (found := _anchor_missing(r)) is not None]
    if not hit:
        return
    (r, (advertised, root)) = hit[0]
    yield _finding(
        Code.CLIENT_CA_INCOMPLETE,
        Severity.ERROR,
        f"likely: the server's client CA file holds the intermediate {'; '.join(advertised)} "
        f"but not its root {root} (the CA names it advertises: "
        f"{ca_list(r.facts.ca_names if r.facts else ())}); OpenSSL ends a chain only at a "
        "self-signed trust anchor, so every client of that intermediate is refused whatever "
        f"the verify depth: {listing([x for x, _ in hit], 2)}; "
        + ev.hint(
            {
                "nginx": "nginx logs 'client SSL certificate verify error: (2:unable to get "
                "issuer certificate)'",
                "apache": "Apache logs AH02276 'Certificate Verification: Error (2): unable to "
                "get issuer certificate'",
                "haproxy": "HAProxy logs 'SSL client CA chain cannot be verified'",
            },
            "the server log says 'unable to get issuer certificate' (verify error 2)",
        ),
        names(x for x, _ in hit),
    )


@reads(P.NO_CERT)
def rule_checked_over_http(ev: Evidence) -> Iterable[Finding]:
    """The certificate is requested but not required in TLS, and an HTTP rule refuses clients
    without one: secure where the rule applies.  Explains a 403 where nginx's own check says
    400 (the nginx profile accepts both)."""
    req = ev.requested_in_handshake
    no_cert = ev.ran(P.NO_CERT)
    if not req or not no_cert or ev.accepted(P.NO_CERT):
        return
    by_http = [
        r
        for r in no_cert
        if r.outcome is not None
        and r.outcome.kind is OutcomeKind.HTTP
        and r.outcome.status in (401, 403)
        and r.facts is not None
        and r.facts.cert_requested
        and r.facts.handshake_completed
    ]
    if not by_http:
        return
    yield _finding(
        Code.CLIENT_AUTH_CHECKED_OVER_HTTP,
        Severity.INFO,
        "the server asks for a client certificate but does not require it in TLS; an HTTP rule "
        f"refuses clients without one instead: {listing(by_http, 2)}.  Secure for the probed "
        "URL, but only where that rule applies: every protected location needs it ("
        + ev.hint(
            {
                "nginx": "nginx ssl_verify_client optional with "
                "if ($ssl_client_verify != SUCCESS) { return 403; }; nginx's own check "
                "(ssl_verify_client on) answers 400 for every location",
                "apache": "Apache SSLVerifyClient optional with "
                "Require expr %{SSL_CLIENT_VERIFY} == 'SUCCESS'",
                "haproxy": "HAProxy verify optional with an http-request deny on ssl_c_verify",
                "tomcat": 'Tomcat certificateVerification="optional" with a CLIENT-CERT '
                "<login-config> and a <security-constraint> on the URL, which answers 401",
                "go": "Go VerifyClientCertIfGiven with a check of r.TLS.VerifiedChains in the "
                "handler",
            },
            "e.g. nginx ssl_verify_client optional with a $ssl_client_verify check, Apache "
            "SSLVerifyClient optional with Require expr",
        )
        + ")",
        names([*by_http, req[0]]),
    )


@reads(P.CHAIN_MISSING, P.VALID)
def rule_chain(ev: Evidence) -> Iterable[Finding]:
    missing_rej = ev.rejected(P.CHAIN_MISSING)
    full_ok = [
        r for r in ev.accepted(P.VALID) if r.facts is not None and len(r.facts.client_chain) > 1
    ]
    if missing_rej and full_ok:
        yield _finding(
            Code.CHAIN_INCOMPLETE,
            Severity.INFO,
            "the server cannot build the client chain itself: the leaf alone is refused "
            f"({listing(missing_rej, 1)}) while leaf + intermediate is accepted "
            f"({full_ok[0].name}); every client must send its intermediate",
            names([*missing_rej, full_ok[0]]),
        )


# --------------------------------------------------------------------------- bad certs let in


def _let_in_rule(
    probes: Sequence[P], code: Code, severity: Severity, what: str, dates_only: str = ""
) -> Rule:
    """``dates_only``: the text when certificates of foreign CAs ARE refused - the chain is
    verified, only the validity period is not (nghttpx --verify-client-tolerate-expired)."""

    def rule(ev: Evidence) -> Iterable[Finding]:
        if ev.auth_not_requested:
            return  # client-auth-not-requested says it all
        hit = [r for p in probes for r in ev.accepted(p)]
        if not hit:
            return
        chain_checked = any(ev.rejected(p) for p in _FOREIGN)
        text = dates_only if dates_only and chain_checked else what
        yield _finding(code, Severity(severity), f"{text}: {listing(hit)}", names(hit))

    rule.__name__ = f"rule_{code.name.lower()}"
    return reads(*probes)(rule)


rule_expired = _let_in_rule(
    (P.EXPIRED,),
    Code.EXPIRED_CERT_ACCEPTED,
    Severity.ERROR,
    "an expired certificate from the trusted CA is accepted (the certificate is requested but "
    "not verified)",
    "an expired certificate from the trusted CA is accepted (certificates of foreign CAs are "
    "refused: the chain is verified, its validity period is not)",
)
rule_not_yet_valid = _let_in_rule(
    (P.NOT_YET_VALID,),
    Code.NOT_YET_VALID_CERT_ACCEPTED,
    Severity.ERROR,
    "a certificate that is not valid yet is accepted (the certificate is not verified)",
    "a certificate that is not valid yet is accepted (certificates of foreign CAs are refused: "
    "the chain is verified, its validity period is not)",
)
rule_eku = _let_in_rule(
    (P.NO_CLIENT_EKU,),
    Code.CLIENT_EKU_NOT_ENFORCED,
    Severity.WARNING,
    "a certificate without extendedKeyUsage clientAuth (serverAuth only) is accepted as a "
    "client certificate",
)


@reads(*_FOREIGN)
def rule_foreign(ev: Evidence) -> Iterable[Finding]:
    if ev.auth_not_requested:
        return
    hit = [r for p in _FOREIGN for r in ev.accepted(p)]
    if not hit:
        return
    only_lookalike = {r.probe for r in hit} == {P.LOOKALIKE_CA} and bool(
        ev.rejected(P.WRONG_CA) or ev.rejected(P.SELF_SIGNED)
    )
    if only_lookalike:
        yield _finding(
            Code.FOREIGN_CA_ACCEPTED,
            Severity.ERROR,
            "a certificate from a foreign CA that only COPIES the trusted CA's name is "
            f"accepted ({listing(hit)}) while other foreign CAs are refused: something "
            "checks the issuer name instead of the signature",
            names(hit),
            "foreign-ca-accepted/lookalike",
        )
        return
    trusted = [
        r
        for r in hit
        if r.probe != P.LOOKALIKE_CA  # shares the trusted CA's name by design
        and r.facts is not None
        and _client_issuers(r) & set(r.facts.ca_names)
    ]
    if trusted:
        f = trusted[0].facts
        assert f is not None
        yield _finding(
            Code.FOREIGN_CA_ACCEPTED,
            Severity.ERROR,
            f"certificates from CAs the server should not trust are accepted: {listing(hit)}; "
            f"the server advertises their issuer ({ca_list(f.ca_names)}), so its trusted CA "
            "file holds that CA (the wrong file, or more than your CA)",
            names(hit),
            "foreign-ca-accepted/trusted-file",
        )
        return
    yield _finding(
        Code.FOREIGN_CA_ACCEPTED,
        Severity.ERROR,
        f"certificates from CAs the server should not trust are accepted: {listing(hit)}; "
        + ev.hint(
            {
                "nginx": "nginx does not verify the CA (ssl_verify_client optional_no_ca) or "
                "ssl_client_certificate holds more than your CA",
                "apache": "Apache does not verify the CA (SSLVerifyClient optional_no_ca) or "
                "SSLCACertificateFile holds more than your CA",
                "haproxy": "HAProxy ignores verify errors (crt-ignore-err / ca-ignore-err) or "
                "ca-file holds more than your CA",
                "caddy": "Caddy client_auth mode require/request does not verify, or "
                "trusted_ca_cert_file holds more than your CA",
                "go": "Go ClientAuth RequestClientCert / RequireAnyClientCert does not verify, "
                "or ClientCAs holds more than your CA",
                "tomcat": "the truststore holds more than your CA (without truststoreFile "
                "Tomcat on JSSE trusts the JRE's cacerts)",
            },
            "the CA is not verified (nginx/Apache optional_no_ca, Caddy mode require/request, "
            "HAProxy crt-ignore-err) or the trusted CA file holds more than your CA",
        ),
        names(hit),
    )


@reads(P.REVOKED)
def rule_revocation(ev: Evidence) -> Iterable[Finding]:
    if ev.auth_not_requested:
        return
    hit = ev.accepted(P.REVOKED)
    if not hit:
        return
    verifies = bool(ev.rejected(P.EXPIRED) or ev.rejected(P.WRONG_CA))
    # Which mechanisms could have refused it (a CRL listing it, an OCSP URL in the
    # certificate): set on the results by mtlscheck._revocation.annotate.
    from mtlscheck._revocation import mechanism_text

    mechanisms = mechanism_text([r.revocation for r in hit if r.revocation is not None])
    yield _finding(
        Code.REVOCATION_NOT_CHECKED,
        Severity.ERROR,
        f"a revoked certificate is accepted: {listing(hit)}"
        + (
            "; other bad certificates are refused, so the CRL/OCSP check is what is missing ("
            + ev.hint(
                {
                    "go": "Go's crypto/tls checks no revocation at all: neither CRL nor OCSP",
                    "caddy": "Caddy, like every server on Go's crypto/tls, checks no "
                    "revocation at all",
                    "traefik": "Traefik's clientAuth checks no revocation",
                    "tomcat": "Tomcat without certificateRevocationListFile (or ocspEnabled)",
                },
                "nginx without ssl_crl or ssl_ocsp, Apache without SSLCARevocationCheck or "
                "SSLOCSPEnable, HAProxy without crl-file, Caddy and Go, which check none",
            )
            + ")"
            if verifies
            else ""
        )
        + (f"; {mechanisms}" if mechanisms else ""),
        names(hit),
    )


# --------------------------------------------------------------------------- explanations


def rule_late_alert(ev: Evidence) -> Iterable[Finding]:
    late = [
        r
        for r in ev.ran()
        if r.outcome is not None
        and r.outcome.phase is Phase.AFTER_HANDSHAKE
        and (r.outcome.kind is OutcomeKind.TLS_ALERT or r.outcome.is_tls_hangup)
        and r.facts is not None
        and r.facts.handshake_completed
        and r.facts.cert_requested  # late requests (renegotiation, PHA): per-location-client-auth
        and (r.tls_version == "1.3" or r.facts.protocol == "TLSv1.3")
    ]
    if not late:
        return
    yield _finding(
        Code.CLIENT_CERT_REJECTED_AFTER_HANDSHAKE,
        Severity.INFO,
        f"{len(late)} probe(s) completed the handshake and were refused on the first read "
        f"({listing(late, 2)}): in TLS 1.3 the client finishes first and the server checks "
        "the certificate afterwards, so 'handshake OK, then the request failed' is a "
        "certificate rejection, not a network problem",
        names(late),
    )


# --------------------------------------------------------------------------- around client auth


def _refused_plainly(ev: Evidence, r: ProbeResult) -> list[ProbeResult]:
    """The plain ``no-cert`` results of the same TLS version as ``r`` when none of them was
    accepted: the baseline a no-certificate variant must differ from."""
    base = [x for x in ev.ran(P.NO_CERT) if x.tls_version == r.tls_version]
    return base if base and not any(accepted(x) for x in base) else []


@reads(P.FORGED_HEADERS)
def rule_identity_headers(ev: Evidence) -> Iterable[Finding]:
    """No certificate is refused, the same plus identity headers is let in: something behind
    the TLS terminator believes headers the client sent."""
    hit = [(r, base) for r in ev.accepted(P.FORGED_HEADERS) if (base := _refused_plainly(ev, r))]
    if not hit:
        return
    base = hit[0][1]
    yield _finding(
        Code.IDENTITY_HEADER_TRUSTED,
        Severity.ERROR,
        f"without a certificate the request is refused ({listing(base, 1)}), but with the "
        f"client's own identity headers (X-SSL-Client-Verify: SUCCESS, X-SSL-Client-DN, "
        f"X-Forwarded-Client-Cert, Client-Cert, ...) it is let in ({listing([x for x, _ in hit])}"
        "): a proxy passes these headers on instead of overwriting them, and the backend "
        "believes them - anyone can claim any identity",
        names([*(x for x, _ in hit), *base]),
    )


@reads(P.SNI_MISMATCH)
def rule_sni_host(ev: Evidence) -> Iterable[Finding]:
    """Client auth configured per SNI vhost, requests routed by Host: another SNI skips it."""
    hit = [(r, base) for r in ev.accepted(P.SNI_MISMATCH) if (base := _refused_plainly(ev, r))]
    if not hit:
        return
    r, base = hit[0]
    f = r.facts
    asked = f is not None and (f.cert_requested or f.cert_requested_after_handshake)
    yield _finding(
        Code.SNI_HOST_BYPASS,
        Severity.ERROR,
        "without a certificate the protected name is refused "
        f"({listing(base, 1)}), but a handshake with another name as SNI and Host: of the "
        f"protected name is let in ({listing([x for x, _ in hit])}"
        + ("" if asked else "; that handshake had no CertificateRequest")
        + "): client authentication follows the SNI's virtual host while requests are "
        "routed by Host, so any client can pick a vhost without client auth"
        + ev.hint(
            {
                "caddy": " (Caddy: strict_sni_host is turned off)",
                "haproxy": " (HAProxy: a crt-list line without verify, and use_backend on "
                "the Host header)",
            },
            "",
        ),
        names([*(x for x, _ in hit), *base]),
    )


@reads(P.PLAINTEXT)
def rule_plaintext(ev: Evidence) -> Iterable[Finding]:
    """The TLS port also serves plain HTTP: clients skip client auth by not speaking TLS."""
    hit = [r for r in ev.ran(P.PLAINTEXT) if accepted(r)]
    if not hit:
        return
    served = [
        r
        for r in hit
        if not (r.outcome and r.outcome.detail.lower().startswith("redirect to https://"))
    ]
    if served:
        yield _finding(
            Code.PLAINTEXT_ACCEPTED,
            Severity.ERROR,
            f"the TLS port answers plain HTTP ({listing(served, 1)}): a client that does not "
            "speak TLS at all skips client authentication (a listener that takes both, or a "
            "service mesh sidecar in permissive mode)",
            names(served),
        )
        return
    yield _finding(
        Code.PLAINTEXT_ACCEPTED,
        Severity.INFO,
        f"the TLS port answers plain HTTP only with a redirect to https ({listing(hit, 1)}): "
        "no content is served in clear, but plain HTTP reaches an HTTP stack on this port",
        names(hit),
    )


# --------------------------------------------------------------------------- CA names audit


def _asked(ev: Evidence) -> dict[str, list[ProbeResult]]:
    """Results with a CertificateRequest in the handshake, by TLS version."""
    out: dict[str, list[ProbeResult]] = {}
    for r in ev.requested_in_handshake:
        out.setdefault(r.tls_version or "?", []).append(r)
    return out


def rule_ca_names_empty(ev: Evidence) -> Iterable[Finding]:
    """A CertificateRequest naming no CA: clients cannot tell which certificate to send."""
    empty = {
        v: rs for v, rs in _asked(ev).items() if not any(r.facts and r.facts.ca_names for r in rs)
    }
    if not empty:
        return
    rs = [r for v in sorted(empty) for r in empty[v][:1]]
    yield _finding(
        Code.CA_NAMES_EMPTY,
        Severity.WARNING,
        "the server asks for a client certificate but names no acceptable CA "
        f"(TLS {', '.join(sorted(empty))}: {listing(rs, 2)}): clients that choose their "
        "certificate by the advertised CA names (Java's default key manager, some agents) then "
        "send none or the wrong one"
        + ev.hint(
            {
                "nginx": " (nginx: the CA is in ssl_trusted_certificate only; "
                "ssl_client_certificate is what nginx advertises)"
            },
            "",
        ),
        names(rs),
    )


def rule_ca_names_public(ev: Evidence) -> Iterable[Finding]:
    """Public web CAs among the advertised client CAs: a public bundle as client CA file."""
    seen = [r for r in ev.requested_in_handshake if r.facts is not None and r.facts.ca_names]
    if not seen:
        return
    from mtlscheck._truststore import public_ca_names

    public = public_ca_names()
    if not public:
        return
    f = seen[0].facts
    assert f is not None
    found = [n for n in f.ca_names if n in public]
    if not found:
        return
    yield _finding(
        Code.CA_NAMES_PUBLIC,
        Severity.ERROR if len(found) > 1 else Severity.WARNING,
        f"{len(found)} of the {len(f.ca_names)} client CAs the server advertises are public web "
        f"CAs from the system trust store ({ca_list(found, 3)}; {seen[0].name}): its client CA "
        "file is, or includes, a public bundle, so anyone holding a certificate from those CAs "
        "passes the TLS check (a certificate for any web site qualifies if the server does not "
        "also require extendedKeyUsage clientAuth or check the subject)",
        (seen[0].name,),
    )


RULES: tuple[Rule, ...] = (
    rule_connection,
    rule_not_tls,
    rule_server_cert,
    rule_not_requested,
    rule_optional,
    rule_checked_over_http,
    rule_per_location,
    rule_valid_rejected,
    rule_ca_names,
    rule_ca_names_empty,
    rule_ca_names_public,
    rule_client_ca_incomplete,
    rule_depth,
    rule_foreign,
    rule_expired,
    rule_not_yet_valid,
    rule_revocation,
    rule_eku,
    rule_identity_headers,
    rule_sni_host,
    rule_plaintext,
    rule_chain,
    rule_tls13,
    rule_late_alert,
)

_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def diagnose(
    results: Sequence[ProbeResult],
    *,
    profile: ServerProfile = ServerProfile.GENERIC,
    unsupported: tuple[tuple[str, str], ...] = (),
    insecure: bool = False,
) -> tuple[Finding, ...]:
    """Findings for one target, most severe first (rule order within a severity)."""
    ev = Evidence(tuple(results), profile, tuple(unsupported), insecure)
    found: list[Finding] = []
    for rule in RULES:
        found.extend(rule(ev))
    server = ev.server
    if server is not None:  # the fix for the server we recognised first
        found = [
            replace(f, fixes=tuple(sorted(f.fixes, key=lambda fx: fx[0] != server))) for f in found
        ]
    return tuple(sorted(found, key=lambda f: _ORDER[f.severity]))
