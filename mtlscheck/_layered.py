"""One answer per target: is client authentication enforced, and at which layer?

Scanners that judge only the TLS layer call nginx's ``ssl_verify_client on`` "optional": nginx
finishes the handshake without a certificate and refuses over HTTP.  The probes see both layers,
so the answer is layered:

* ``off`` - no connection ever saw a CertificateRequest;
* ``per-location`` - the certificate is asked for only after the request (renegotiation in
  TLS 1.2, post-handshake auth in TLS 1.3);
* ``fail-open`` - a certificate is asked for, but a client without one, or with a bad one, got
  an HTTP 2xx/3xx;
* ``enforced-tls`` - every rejection probe was refused at the TLS layer (alert or hang-up);
* ``enforced-http`` - at least one was let through TLS and refused over HTTP (nginx's 400,
  495/496, an application's 401/403);
* ``inconclusive`` - the probes cannot tell (nothing reached, every rejection unproven, ...).

Only refusals that pass the evidence rule (:mod:`mtlscheck._verdict`) count as enforcement.
"""

from __future__ import annotations

from collections.abc import Sequence

from mtlscheck._model import AuthVerdict, OutcomeKind, ProbeResult, Verdict
from mtlscheck._probes import CATALOGUE, RequestSpec
from mtlscheck._verdict import tied_to_certificate

__all__ = ["layered_verdict"]


def _accepted(r: ProbeResult) -> bool:
    return r.outcome is not None and r.outcome.is_acceptance


def _names(rs: Sequence[ProbeResult]) -> str:
    seen: list[str] = []
    for r in rs:
        if r.probe not in seen:
            seen.append(r.probe)
    return ", ".join(seen[:4]) + (f" and {len(seen) - 4} more" if len(seen) > 4 else "")


def layered_verdict(
    results: Sequence[ProbeResult], unsupported: Sequence[tuple[str, str]] = ()
) -> tuple[AuthVerdict, str]:
    """The target's :class:`AuthVerdict` and a one-line reason."""
    V = AuthVerdict
    ran = [r for r in results if r.outcome is not None]
    if not ran:
        if unsupported:
            return V.INCONCLUSIVE, "the server refused every requested TLS version"
        return V.INCONCLUSIVE, "no probe ran"
    talked = [r for r in ran if r.facts is not None and r.facts.server_hello_seen]
    if not talked:
        return V.INCONCLUSIVE, "no TLS server answered (" + ran[0].outcome.summary + ")"  # type: ignore[union-attr]
    if all(r.outcome is not None and r.outcome.kind is OutcomeKind.TLS_VERSION for r in ran):
        return V.INCONCLUSIVE, "the server refused every requested TLS version"

    asked = [r for r in talked if r.facts is not None and r.facts.cert_requested]
    late = [r for r in talked if r.facts is not None and r.facts.cert_requested_after_handshake]
    # Every probe without a valid certificate that gets in makes the target fail-open; only the
    # certificate probes (no request changes: not forged headers, another SNI or plain HTTP,
    # whose refusals are not about a certificate) can prove enforcement.
    let_in = [
        r for r in ran if r.probe in CATALOGUE and not CATALOGUE[r.probe].accepts and _accepted(r)
    ]
    bad = [
        r
        for r in ran
        if r.probe in CATALOGUE
        and not CATALOGUE[r.probe].accepts
        and CATALOGUE[r.probe].request == RequestSpec()
        and CATALOGUE[r.probe].expectation is None
    ]

    if not asked and not late:
        if any(r.facts is not None and r.facts.handshake_completed for r in talked):
            return V.OFF, "no connection saw a CertificateRequest"
        return (
            V.INCONCLUSIVE,
            "no handshake completed, so whether a certificate is asked for is unknown",
        )
    if let_in:
        return V.FAIL_OPEN, f"a certificate is requested, but {_names(let_in)} got in"
    if late and not asked:
        return (
            V.PER_LOCATION,
            "the certificate is requested only after the request "
            "(TLS 1.2 renegotiation / TLS 1.3 post-handshake auth)",
        )
    # The probe's own verdict already weighed the evidence, including the valid probe as
    # the control (an `error` refusal is inconclusive); the outcome must also be tied to the
    # certificate, whatever the user's expectation said.
    proven = [
        r
        for r in bad
        if r.outcome is not None
        and r.verdict is not Verdict.ERROR
        and r.outcome.is_refusal
        and tied_to_certificate(r.outcome, r.facts)
    ]
    if not bad:
        return V.INCONCLUSIVE, "no rejection probe ran (no-cert, expired, wrong-ca, ...)"
    if not proven:
        return (
            V.INCONCLUSIVE,
            "no rejection probe was refused with evidence tied to the certificate",
        )
    unproven = [r for r in bad if r not in proven]
    if any(r.probe == "no-cert" for r in unproven) and not any(
        r.probe == "no-cert" for r in proven
    ):
        return V.INCONCLUSIVE, "no-cert was not refused with evidence: " + (
            unproven[0].reason or unproven[0].outcome.summary  # type: ignore[union-attr]
        )
    over_http = [r for r in proven if r.outcome is not None and r.outcome.kind is OutcomeKind.HTTP]
    note = f"; not proven: {_names(unproven)}" if unproven else ""
    if over_http:
        return (
            V.ENFORCED_HTTP,
            f"the TLS layer lets {_names(over_http)} through and HTTP refuses it{note}",
        )
    return V.ENFORCED_TLS, f"every rejection probe was refused at the TLS layer{note}"
