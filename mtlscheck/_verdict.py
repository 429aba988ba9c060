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

__all__ = ["CERT_ALERTS", "against_control", "judge", "tied_to_certificate"]

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
