"""From an outcome to a verdict, with the evidence rule that keeps a verdict honest.

A refusal only proves that the server checks client certificates when it is *tied to the
certificate*.  A server that hangs up on everyone, answers the ClientHello with an alert, or
refuses our TLS version also "rejects" a client without a certificate - and would make every
rejection probe pass against a server that does no client authentication at all.

Evidence that ties a refusal to the certificate (any one is enough):

* the server sent a CertificateRequest - in the handshake, by renegotiation (TLS 1.2) or by
  post-handshake authentication (TLS 1.3): it asked, so its refusal can be about the answer;
* a certificate alert (``certificate_required``, ``bad_certificate``, ``unknown_ca``, ...) that
  came after the server's ServerHello;
* a certificate-specific HTTP answer: nginx's 400 certificate pages, its 495/496, or 400/401/403
  from a server that asked for a certificate.

Without evidence the verdict is ``error`` ("inconclusive"), never ``pass`` or ``fail``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from mtlscheck._expect import Expectation
from mtlscheck._model import HandshakeFacts, Outcome, OutcomeKind, ProbeResult, Verdict
from mtlscheck._outcome import NGINX_CERT_REASONS

__all__ = [
    "CERT_ALERTS",
    "HELLO_REFUSALS",
    "against_control",
    "judge",
    "refused_versions",
    "tied_to_certificate",
]

CERT_ALERTS = frozenset(
    {
        "certificate_required",
        "bad_certificate",
        "unsupported_certificate",
        "certificate_revoked",
        "certificate_expired",
        "certificate_unknown",
        "unknown_ca",
        "access_denied",
    }
)
"""Alerts that only ever concern a certificate (RFC 8446 §6.2)."""

HELLO_REFUSALS = frozenset({"handshake_failure", "protocol_version", "insufficient_security"})
"""Alerts a server answers a ClientHello with when it shares no version or cipher suite with
it.  RFC 8446 wants ``protocol_version`` for a version the server does not offer, but a server
that does not implement TLS 1.3 at all reads our TLS 1.3 ClientHello as a TLS 1.2 one whose
cipher suites are all TLS 1.3 suites (``handshake_failure``: no shared cipher), and GnuTLS
answers a version it has switched off with ``handshake_failure`` too."""


def tied_to_certificate(o: Outcome, facts: HandshakeFacts | None) -> bool:
    """The evidence rule (module docstring)."""
    asked = facts is not None and (facts.cert_requested or facts.cert_requested_after_handshake)
    if o.kind is OutcomeKind.TLS_ALERT:
        hello = facts is not None and facts.server_hello_seen
        return asked or (hello and o.alert in CERT_ALERTS)
    if o.is_tls_hangup:
        return asked
    if o.kind is OutcomeKind.HTTP:
        if o.status in (495, 496):
            return True
        if o.status == 400 and o.detail in NGINX_CERT_REASONS:
            return True
        return asked and o.status in (400, 401, 403)
    return False


def _inconclusive(o: Outcome, facts: HandshakeFacts | None) -> str:
    if (facts is None or not facts.server_hello_seen) and o.alert in HELLO_REFUSALS:
        return (
            f"inconclusive: the server refused our ClientHello ({o.summary}) before any "
            "ServerHello: it shares no TLS version or cipher suite with it (a server without "
            "this TLS version answers so), and no certificate was ever asked for"
        )
    if facts is None or not facts.server_hello_seen:
        return (
            f"inconclusive: {o.summary} came before any ServerHello, so no certificate was "
            "ever asked for"
        )
    return (
        f"inconclusive: {o.summary}, but the server never sent a CertificateRequest, so the "
        "refusal is not about a client certificate"
    )


def judge(
    outcome: Outcome,
    facts: HandshakeFacts | None,
    expectation: Expectation,
    version: str | None = None,
) -> tuple[Verdict, str]:
    """The verdict and, for ``error``, why the outcome says nothing about client auth."""
    if outcome.kind is OutcomeKind.INTERNAL:
        return Verdict.ERROR, f"internal error (a bug in mtlscheck): {outcome.detail}"
    if outcome.kind is OutcomeKind.TLS_VERSION:
        which = f"TLS {version}" if version else "the TLS version offered"
        return Verdict.ERROR, f"the server does not offer {which} (protocol_version)"
    if (
        outcome.is_refusal
        and not tied_to_certificate(outcome, facts)
        and not expectation.mentions_failure()
    ):
        return Verdict.ERROR, _inconclusive(outcome, facts)
    if expectation.matches(outcome):
        return Verdict.PASS, ""
    if outcome.kind in (OutcomeKind.TLS_LOCAL, OutcomeKind.NOT_TLS) or (
        outcome.kind is OutcomeKind.CONNECT and not outcome.is_tls_hangup
    ):
        return Verdict.ERROR, outcome.detail or outcome.summary
    return Verdict.FAIL, ""


def _certificate_specific(o: Outcome, facts: HandshakeFacts | None) -> bool:
    """Evidence that names the certificate itself, not just "a certificate was asked for"."""
    if o.kind is OutcomeKind.TLS_ALERT:
        return facts is not None and facts.server_hello_seen and o.alert in CERT_ALERTS
    if o.kind is OutcomeKind.HTTP:
        return o.status in (495, 496) or (o.status == 400 and o.detail in NGINX_CERT_REASONS)
    return False


def _same_refusal(a: Outcome, b: Outcome) -> bool:
    if a.is_tls_hangup and b.is_tls_hangup:
        return True  # closed or reset: which one comes first is the network's choice
    if a.kind is not b.kind:
        return False
    if a.kind is OutcomeKind.HTTP:
        return a.status == b.status
    return a.kind is OutcomeKind.TLS_ALERT and a.alert == b.alert


def against_control(results: Sequence[ProbeResult]) -> list[ProbeResult]:
    """The ``valid`` probe is the control: a refusal it gets too says nothing about a bad
    certificate.

    A server whose backend is down hangs up on every client after the handshake, and one that
    answers 403 to everybody refuses ``no-cert`` too; with a CertificateRequest on the wire the
    per-probe rule would count both as rejections.  When ``valid`` on the same TLS version got
    the same refusal, a rejection probe's pass stands only on evidence that names the
    certificate itself (a certificate alert, nginx's certificate pages, 495/496); otherwise it
    becomes ``error`` (inconclusive).
    """
    from mtlscheck._probes import CATALOGUE

    control = {
        r.tls_version: r.outcome for r in results if r.probe == "valid" and r.outcome is not None
    }
    out: list[ProbeResult] = []
    for r in results:
        spec = CATALOGUE.get(r.probe)
        valid = control.get(r.tls_version)
        if (
            r.verdict is Verdict.PASS
            and spec is not None
            and not spec.accepts
            and spec.expectation is None
            and r.outcome is not None
            and valid is not None
            and r.outcome.is_refusal
            and valid.is_refusal
            and _same_refusal(r.outcome, valid)
            and not _certificate_specific(r.outcome, r.facts)
        ):
            r = dataclasses.replace(
                r,
                verdict=Verdict.ERROR,
                reason=f"inconclusive: the valid certificate gets the same {valid.summary}, "
                "so this refusal is not about the certificate",
            )
        out.append(r)
    return out


def _hello_refusal(r: ProbeResult) -> str | None:
    """How the server turned down this probe's ClientHello: the alert, ``"hang-up"``, or None
    when it answered with a ServerHello (or the probe failed in some other way)."""
    o, f = r.outcome, r.facts
    if o is None or (f is not None and (f.server_hello_seen or f.cert_requested)):
        return None
    if o.kind is OutcomeKind.TLS_VERSION:
        return "protocol_version"
    if o.kind is OutcomeKind.TLS_ALERT and o.alert in HELLO_REFUSALS:
        return o.alert
    if o.kind is OutcomeKind.CONNECT and o.phase is None and o.reason in ("closed", "reset"):
        return "hang-up"
    return None


def refused_versions(
    results: Sequence[ProbeResult], versions: Sequence[str]
) -> tuple[tuple[str, str], ...]:
    """The TLS versions the server does not offer, each with what showed it (sorted).

    ``protocol_version`` on every probe of a version says so outright.  Not every server sends
    it: GnuTLS and servers without TLS 1.3 answer ``handshake_failure`` (see
    :data:`HELLO_REFUSALS`), and Java's ``HttpsServer`` closes without flushing JSSE's alert.
    Such a refusal of every ClientHello of one version, before any ServerHello, is taken as the
    version refused only when another version's ClientHello got a ServerHello from the same
    target: the two hellos differ only in the version and its cipher suites.  Alone, a
    ``handshake_failure`` or a hang-up before the ServerHello could be anything (no shared
    cipher, a server that drops connections) and stays what it is.
    """
    probed = {
        v: [r for r in results if r.tls_version == v and r.outcome is not None] for v in versions
    }
    answered = {
        v
        for v, rs in probed.items()
        if any(r.facts is not None and r.facts.server_hello_seen for r in rs)
    }
    out: list[tuple[str, str]] = []
    for v in sorted(set(versions)):
        rs = probed[v]
        if not rs:
            continue
        if all(r.outcome is not None and r.outcome.kind is OutcomeKind.TLS_VERSION for r in rs):
            out.append(
                (v, f"the server does not offer TLS {v} (handshake refused with protocol_version)")
            )
            continue
        how = {_hello_refusal(r) for r in rs}
        others = sorted(answered - {v})
        if None in how or not others:
            continue
        alerts = sorted(h for h in how if h is not None and h != "hang-up")
        got = " or ".join(alerts + (["a hang-up"] if "hang-up" in how else []))
        out.append(
            (
                v,
                f"the server does not offer TLS {v} (every TLS {v} ClientHello got {got} "
                f"before any ServerHello; TLS {', '.join(others)} got a ServerHello)",
            )
        )
    return tuple(out)
