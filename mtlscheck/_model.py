"""Result data: what a probe saw, as frozen dataclasses and enums.

Everything a report, the diagnosis rules, the JSON output or a pytest assertion needs is here,
and none of it imports OpenSSL or httpx: results can be built, compared and serialised without
the network stack, which keeps ``import mtlscheck`` and the pytest plugin light.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

__all__ = [
    "AuthVerdict",
    "CertInfo",
    "Finding",
    "HandshakeFacts",
    "Outcome",
    "OutcomeKind",
    "Phase",
    "ProbeResult",
    "RevocationInfo",
    "RunResult",
    "Severity",
    "TargetResult",
    "Verdict",
    "slim_target",
]


class OutcomeKind(StrEnum):
    """What kind of answer a probe got (DESIGN.md §4)."""

    HTTP = "http"
    """The server answered the HTTP request; see :attr:`Outcome.status`."""
    TLS_ALERT = "tls-alert"
    """The server refused at the TLS layer with an alert; see :attr:`Outcome.alert`."""
    TLS_LOCAL = "tls-local"
    """Our side refused: the server certificate is untrusted or does not match the host."""
    CONNECT = "connect"
    """No usable connection: refused, reset, closed, timeout, dns."""
    NOT_TLS = "not-tls"
    """The port answered, but not with TLS (typically plain HTTP)."""
    TLS_VERSION = "tls-version"
    """The server refused the TLS version we offered (``protocol_version``): a fact about
    the server's protocol list, never a verdict on a client certificate."""
    INTERNAL = "internal-error"
    """mtlscheck itself failed (a bug): says nothing about the server (exit code 4)."""


class Phase(StrEnum):
    """When a TLS failure arrived, which matters because TLS 1.3 rejects late."""

    HANDSHAKE = "handshake"
    AFTER_HANDSHAKE = "after-handshake"


class Verdict(StrEnum):
    """How a probe's outcome compares with its expectation."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    """The probe could not be built (e.g. no CA key to mint an expired certificate)."""
    ERROR = "error"
    """The probe ran, but the outcome says nothing about client auth (e.g. our side refused)."""


class AuthVerdict(StrEnum):
    """Per target, the one answer to "is client authentication enforced?" (README)."""

    ENFORCED_TLS = "enforced-tls"
    """Required at the TLS layer: a missing or bad certificate fails the TLS connection."""
    ENFORCED_HTTP = "enforced-http"
    """The TLS layer lets a missing or bad certificate through; HTTP rejects it (nginx's 400,
    495/496, an application's 401/403)."""
    FAIL_OPEN = "fail-open"
    """A certificate is requested, but a missing or bad one gets in."""
    OFF = "off"
    """No certificate is requested at all."""
    PER_LOCATION = "per-location"
    """The certificate is requested only after the request (renegotiation / post-handshake)."""
    INCONCLUSIVE = "inconclusive"
    """The probes do not show it (see the reason)."""


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


# Connect reasons that, *with a TLS phase set*, mean the server hung up during or right after
# the TLS handshake - which is how some servers reject a client certificate.  Without a phase
# (the server hung up before any ServerHello) they are not a verdict on the certificate.
TLS_PHASE_HANGUPS = frozenset({"reset", "closed"})

REJECT_STATUSES = frozenset({400, 401, 403, 495, 496})
"""HTTP answers that mean "your certificate was refused" (495/496: nginx's internal codes)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The observable answer of the server to one probe."""

    kind: OutcomeKind
    status: int | None = None
    """HTTP status, for ``http``."""
    alert: str | None = None
    """IANA alert name in snake_case (``unknown_ca``), for ``tls-alert``."""
    phase: Phase | None = None
    """For ``tls-alert`` and TLS-phase hang-ups: during or after the handshake."""
    reason: str | None = None
    """For ``connect``: refused|reset|closed|timeout|dns|unreachable|bad-http|error; for
    ``tls-local``: a short cause; for ``tls-version``: ``not-offered``."""
    detail: str = ""
    """Free text: nginx's 400 reason, the OpenSSL error string, ..."""
    server: str = ""
    """For ``http``: the ``Server`` header, if the server sent one."""

    @property
    def is_acceptance(self) -> bool:
        """An HTTP 2xx/3xx: the server let the client in."""
        return (
            self.kind is OutcomeKind.HTTP and self.status is not None and 200 <= self.status < 400
        )

    @property
    def is_refusal(self) -> bool:
        """Looks like a rejection - any alert, a TLS-phase hang-up, HTTP 400/401/403/495/496 -
        before asking whether it is about the certificate (:mod:`mtlscheck._verdict`)."""
        return (
            self.kind is OutcomeKind.TLS_ALERT
            or self.is_tls_hangup
            or (self.kind is OutcomeKind.HTTP and self.status in REJECT_STATUSES)
        )

    @property
    def is_tls_hangup(self) -> bool:
        """A reset/close once the TLS conversation had started: a (crude) rejection."""
        return (
            self.kind is OutcomeKind.CONNECT
            and self.reason in TLS_PHASE_HANGUPS
            and self.phase is not None
        )

    @property
    def summary(self) -> str:
        """Short human form, e.g. ``http 400`` or ``tls-alert unknown_ca (after-handshake)``."""
        if self.kind is OutcomeKind.HTTP:
            return f"http {self.status}"
        if self.kind is OutcomeKind.TLS_ALERT:
            return f"tls-alert {self.alert} ({self.phase})"
        if self.kind is OutcomeKind.CONNECT:
            return f"connect {self.reason}" + (f" ({self.phase})" if self.phase else "")
        if self.kind is OutcomeKind.TLS_LOCAL:
            return f"tls-local {self.reason}"
        if self.kind is OutcomeKind.TLS_VERSION:
            return f"tls-version {self.reason}"
        return str(self.kind)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "status": self.status,
            "alert": self.alert,
            "phase": None if self.phase is None else str(self.phase),
            "reason": self.reason,
            "detail": self.detail,
            "server": self.server or None,
        }


@dataclass(frozen=True, slots=True)
class CertInfo:
    """A certificate as a report shows it."""

    subject: str
    issuer: str
    not_before: str
    """ISO 8601, UTC."""
    not_after: str
    """ISO 8601, UTC."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": self.not_before,
            "not_after": self.not_after,
        }


@dataclass(frozen=True, slots=True)
class HandshakeFacts:
    """What one connection revealed about the server's TLS side, recorded as it happened."""

    protocol: str | None = None
    """``TLSv1.2`` / ``TLSv1.3``; None if the handshake did not complete."""
    cipher: str | None = None
    cert_requested: bool = False
    """The server sent a CertificateRequest during the handshake (seen in the handshake
    itself, not inferred from the CA list, which may legitimately be empty)."""
    ca_names: tuple[str, ...] = ()
    """Distinguished names (RFC 4514) the server advertised as acceptable client CAs."""
    client_cert_sent: bool = False
    """We had a certificate to send and the server asked for one."""
    cert_requested_after_handshake: bool = False
    """The server asked for the certificate only once the handshake was done: TLS 1.2
    renegotiation or TLS 1.3 post-handshake auth (Apache ``SSLVerifyClient`` in a
    ``<Location>``)."""
    post_handshake_auth: bool = False
    """Our client offered TLS 1.3 post-handshake authentication (as curl does)."""
    client_chain: tuple[CertInfo, ...] = ()
    """The certificates we presented (leaf first), whether or not the server asked."""
    server_chain: tuple[CertInfo, ...] = ()
    handshake_completed: bool = False
    server_hello_seen: bool = False
    """The server answered the ClientHello: a TLS server was reached."""
    session_ticket: bool = False
    """TLS 1.3: the server answered our Finished with a NewSessionTicket, i.e. its TLS layer
    accepted the client (certificate included) before any HTTP was sent."""
    alert_received: str | None = None
    alert_sent: str | None = None
    server_verify_error: str | None = None
    """Why the server certificate did not verify (recorded even with ``--insecure``)."""
    hostname_matches: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "cipher": self.cipher,
            "cert_requested": self.cert_requested,
            "ca_names": list(self.ca_names),
            "ca_names_count": len(self.ca_names),
            "client_cert_sent": self.client_cert_sent,
            "cert_requested_after_handshake": self.cert_requested_after_handshake,
            "post_handshake_auth": self.post_handshake_auth,
            "client_chain": [c.to_dict() for c in self.client_chain],
            "server_chain": [c.to_dict() for c in self.server_chain],
            "handshake_completed": self.handshake_completed,
            "server_hello_seen": self.server_hello_seen,
            "session_ticket": self.session_ticket,
            "alert_received": self.alert_received,
            "alert_sent": self.alert_sent,
            "server_verify_error": self.server_verify_error,
            "hostname_matches": self.hostname_matches,
        }


@dataclass(frozen=True)
class RevocationInfo:
    """What the ``revoked`` probe says about revocation checking (JSON ``probes[].revocation``).

    Whether the server refused the revoked certificate, and which mechanisms could have
    refused it: a CRL (one mtlscheck knows to list it, or distribution points in the
    certificate) and OCSP (responder URLs in the certificate's Authority Information Access).
    A server can also be given a responder of its own (``ssl_ocsp_responder``,
    ``SSLOCSPDefaultResponder``) for certificates that name none.
    """

    enforced: bool | None
    """True: refused; False: it got in (``revocation-not-checked``); None: the outcome says
    nothing about client auth (our side refused, no TLS server, ...)."""
    how: str = ""
    """The outcome it rests on (``tls-alert certificate_revoked (handshake)``, ``http 200``)."""
    by_revocation: bool = False
    """The server named revocation as the reason (alert ``certificate_revoked``); nginx's 400
    does not say why, so a refusal there is enforcement without this confirmation."""
    crl_file: str | None = None
    """A CRL file known to list the certificate (the ``--pki`` directory's ``crl.pem``)."""
    crl_urls: tuple[str, ...] = ()
    """CRL distribution points named in the certificate."""
    ocsp_urls: tuple[str, ...] = ()
    """OCSP responder URLs named in the certificate (``pki init --ocsp-url``)."""

    @property
    def mechanisms(self) -> tuple[str, ...]:
        """``crl`` and/or ``ocsp``: what the certificate and PKI offer a server to refuse it."""
        found = []
        if self.crl_file or self.crl_urls:
            found.append("crl")
        if self.ocsp_urls:
            found.append("ocsp")
        return tuple(found)

    def to_dict(self) -> dict[str, Any]:
        return {
            "enforced": self.enforced,
            "how": self.how,
            "by_revocation": self.by_revocation,
            "mechanisms": list(self.mechanisms),
            "crl_file": self.crl_file,
            "crl_urls": list(self.crl_urls),
            "ocsp_urls": list(self.ocsp_urls),
        }


class Reproduce(Protocol):
    """The command lines that reproduce a probe.  The engine's recipe builds them on access
    (:class:`mtlscheck._reproduce.ProbeCommands`); a report read back from JSON has them as
    text (:class:`Commands`)."""

    @property
    def curl(self) -> str: ...

    @property
    def openssl(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Commands:
    """Reproduce commands given as text."""

    curl: str = ""
    openssl: str = ""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe against one target over one TLS version."""

    probe: str
    target: str
    tls_version: str | None
    """``1.2`` / ``1.3``, or None when the version was left to negotiation."""
    expected: str
    """The expectation expression the outcome was matched against."""
    verdict: Verdict
    outcome: Outcome | None = None
    """None when the probe was skipped."""
    facts: HandshakeFacts | None = None
    reason: str = ""
    """Why the probe was skipped or errored; empty otherwise."""
    commands: Reproduce | None = None
    """How to reproduce the probe by hand (see :attr:`curl` and :attr:`openssl`)."""
    duration_ms: float = 0.0
    traceback: str = ""
    """For an ``internal-error`` outcome: where mtlscheck failed (shown with ``-v``, in JSON)."""
    revocation: RevocationInfo | None = None
    """For the ``revoked`` probe: was revocation enforced, and by which mechanism could it be."""

    @property
    def curl(self) -> str:
        """A ``curl`` command line that reproduces the probe ("" when there is none)."""
        return "" if self.commands is None else self.commands.curl

    @property
    def openssl(self) -> str:
        """An ``openssl s_client`` command line that reproduces the handshake."""
        return "" if self.commands is None else self.commands.openssl

    @property
    def name(self) -> str:
        """``probe[tls1.3]`` style id used in reports and test ids."""
        return self.probe if self.tls_version is None else f"{self.probe}[tls{self.tls_version}]"

    def to_dict(self) -> dict[str, Any]:
        return {
            "probe": self.probe,
            "target": self.target,
            "tls_version": self.tls_version,
            "expected": self.expected,
            "verdict": str(self.verdict),
            "outcome": None if self.outcome is None else self.outcome.to_dict(),
            "facts": None if self.facts is None else self.facts.to_dict(),
            "reason": self.reason,
            "curl": self.curl,
            "openssl": self.openssl,
            "duration_ms": round(self.duration_ms, 1),
            "traceback": self.traceback or None,
            "revocation": None if self.revocation is None else self.revocation.to_dict(),
        }


@dataclass(frozen=True)
class Finding:
    """A diagnosis: a stable ``code`` (public contract), why, and how to fix it per server."""

    code: str
    severity: Severity
    message: str
    evidence: tuple[str, ...] = ()
    """The probe ids (``no-cert[tls1.3]``) and facts the finding rests on."""
    fixes: tuple[tuple[str, str], ...] = ()
    """(server, fix) pairs, e.g. ``("nginx", "ssl_verify_client on;")``."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": str(self.severity),
            "message": self.message,
            "evidence": list(self.evidence),
            "fixes": {server: fix for server, fix in self.fixes},
        }


@dataclass(frozen=True)
class TargetResult:
    """Every probe run against one target, plus what was learned about the target as a whole."""

    target: str
    results: tuple[ProbeResult, ...]
    unsupported_versions: tuple[tuple[str, str], ...] = ()
    """(version, why) for TLS versions the server does not offer; reported once, not per probe."""
    findings: tuple[Finding, ...] = ()
    server_profile: str = "generic"
    insecure: bool = False
    """The server certificate was not verified (``--insecure``)."""
    certs_dir: str | None = None
    """Where minted certificates were kept (``--save-certs``)."""
    certs_removed: bool = False
    """Certificates were minted into a temporary directory that is gone: reproduce commands
    naming them need a rerun with ``--save-certs``."""
    auth_verdict: AuthVerdict = AuthVerdict.INCONCLUSIVE
    """Is client authentication enforced, and at which layer (:class:`AuthVerdict`); JSON
    ``targets[].verdict``."""
    auth_reason: str = ""
    """Why, in one line; JSON ``targets[].verdict_reason``."""
    server_profile_reason: str = ""
    """With ``--server auto``: the evidence that picked :attr:`server_profile`."""

    @property
    def ok(self) -> bool:
        return all(r.verdict in (Verdict.PASS, Verdict.SKIP) for r in self.results)

    def select(self, probe: str) -> TargetResult:
        """This result narrowed to one probe (``"expired"``) or one probe at one TLS version
        (``"expired[tls1.3]"``).

        Everything else about the target (findings, layered verdict, ``certs_dir``, ...) is
        kept: it still describes the run the narrowed results came from.  ``KeyError`` names
        the probes that did run.
        """
        picked = tuple(r for r in self.results if probe in (r.probe, r.name))
        if not picked:
            ran = ", ".join(r.name for r in self.results) or "no probe"
            raise KeyError(f"{probe!r}: this run has {ran}")
        return replace(self, results=picked)

    def matches(self, expr: str) -> bool:
        """Whether every probe result's outcome matches the expectation expression ``expr``
        (``"rejected"``, ``"400|403"``, ``"alert:unknown_ca"``; see :class:`Expectation`).

        A skipped probe has no outcome and never matches, and an empty result matches
        nothing: an assertion must not pass because nothing ran.  A malformed ``expr`` is a
        :class:`~mtlscheck.UsageError`.
        """
        from mtlscheck._expect import Expectation  # imports this module: import on use

        exp = Expectation.parse(expr)
        return bool(self.results) and all(
            r.outcome is not None and exp.matches(r.outcome) for r in self.results
        )

    @property
    def reachable(self) -> bool:
        """False when no probe reached a TLS server at all (exit code 3)."""
        K = OutcomeKind
        ran = [r for r in self.results if r.outcome is not None]
        if not ran:
            return True
        # An alert that answered the ClientHello itself (no ServerHello) does not count: like
        # a hang-up there, it means no TLS session with the requested versions and suites
        # (GnuTLS and servers without TLS 1.3 refuse a version with handshake_failure).
        return any(
            (r.facts is not None and r.facts.server_hello_seen)  # a TLS server answered
            or (
                r.outcome is not None
                and (
                    r.outcome.kind in (K.HTTP, K.TLS_LOCAL)
                    or r.outcome.is_tls_hangup
                    or (r.outcome.kind is K.TLS_ALERT and r.outcome.phase is Phase.AFTER_HANDSHAKE)
                )
            )
            for r in ran
        )

    @property
    def hello_refused(self) -> str | None:
        """The alert(s) every probe got in answer to its ClientHello, when that is all that
        came back (no ServerHello anywhere): ``handshake_failure``; None otherwise."""
        outcomes = [r.outcome for r in self.results if r.outcome is not None]
        if not outcomes or any(
            r.facts is not None and r.facts.server_hello_seen for r in self.results
        ):
            return None
        alerts = {
            o.alert
            for o in outcomes
            if o.kind is OutcomeKind.TLS_ALERT and o.phase is not Phase.AFTER_HANDSHAKE
        }
        if len(alerts) != 1 or any(o.kind is not OutcomeKind.TLS_ALERT for o in outcomes):
            return None
        return alerts.pop()

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "verdict": str(self.auth_verdict),
            "verdict_reason": self.auth_reason,
            "server_profile": self.server_profile,
            "server_profile_reason": self.server_profile_reason or None,
            "insecure": self.insecure,
            "certs_dir": self.certs_dir,
            "certs_removed": self.certs_removed,
            "unsupported_versions": [
                {"version": v, "reason": w} for v, w in self.unsupported_versions
            ],
            "probes": [r.to_dict() for r in self.results],
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class RunResult:
    """A whole run: one or more targets."""

    targets: tuple[TargetResult, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.targets)

    @property
    def internal_error(self) -> bool:
        """Some probe failed because of a bug in mtlscheck (exit code 4)."""
        return any(
            r.outcome is not None and r.outcome.kind is OutcomeKind.INTERNAL
            for t in self.targets
            for r in t.results
        )

    @property
    def exit_code(self) -> int:
        """0 all met, 1 some not met, 3 a target could not be reached at all, 4 our own bug
        (DESIGN.md §7)."""
        if self.internal_error:
            return 4
        if any(not t.reachable for t in self.targets):
            return 3
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, Any]:
        from mtlscheck._version import __version__

        return {
            "tool": "mtlscheck",
            "version": __version__,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "targets": [t.to_dict() for t in self.targets],
        }


_SLIM_HELLO = HandshakeFacts(server_hello_seen=True)
_SLIM_NONE = HandshakeFacts()


def slim_target(target: TargetResult) -> TargetResult:
    """What a run keeps of a target a reporter already wrote out: verdicts, outcomes, reasons
    and findings - everything the exit code, a summary and a baseline need - without the
    handshake details, commands and tracebacks that make up most of a result's size."""
    return replace(
        target,
        results=tuple(
            replace(
                r,
                facts=None
                if r.facts is None
                else (_SLIM_HELLO if r.facts.server_hello_seen else _SLIM_NONE),
                commands=None,
                traceback="",
            )
            for r in target.results
        ),
    )
