"""``--server auto``: pick each target's server profile from what its probes saw.

A fleet mixes servers, so one ``--server`` per run does not fit.  The evidence, strongest first:

1. the ``Server`` header of any HTTP answer (``nginx``, ``Apache``, ``Caddy``, ``gunicorn``, ...);
2. a server-specific answer: nginx's own 400 certificate pages;
3. Go's ``crypto/tls`` (Caddy, Traefik, Go services) answers every certificate problem with
   ``bad_certificate``, where OpenSSL names it (``unknown_ca``, ``certificate_expired``).

Without such evidence the profile stays ``generic`` - the reason says so - rather than guess:
OpenSSL-based terminators (Apache, HAProxy, stunnel) reject alike and cannot be told apart.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

from mtlscheck._expect import Expectation, ServerProfile
from mtlscheck._model import OutcomeKind, ProbeResult
from mtlscheck._outcome import NGINX_CERT_REASONS
from mtlscheck._probes import CATALOGUE
from mtlscheck._runner import default_expectations
from mtlscheck._verdict import judge

__all__ = ["detect_profile", "rejudge"]

_BY_SERVER_HEADER: dict[str, ServerProfile] = {
    "nginx": ServerProfile.NGINX,
    "openresty": ServerProfile.NGINX,
    "apache": ServerProfile.APACHE,
    "caddy": ServerProfile.CADDY,
    "gunicorn": ServerProfile.GUNICORN,
    "uvicorn": ServerProfile.UVICORN,
    "envoy": ServerProfile.ENVOY,
    "istio-envoy": ServerProfile.ENVOY,
}
_OPENSSL_NAMES = frozenset({"unknown_ca", "certificate_expired", "unsupported_certificate"})


def _header_product(value: str) -> str:
    """``nginx/1.22.1`` -> ``nginx``; ``Apache/2.4.57 (Debian)`` -> ``apache``."""
    m = re.match(r"\s*([A-Za-z][A-Za-z0-9._-]*)", value)
    return m.group(1).lower() if m else ""


def detect_profile(results: Sequence[ProbeResult]) -> tuple[ServerProfile, str]:
    """The profile the evidence names, and why (one line)."""
    ran = [r for r in results if r.outcome is not None]
    for r in ran:
        o = r.outcome
        assert o is not None
        if o.kind is OutcomeKind.HTTP and o.server:
            product = _header_product(o.server)
            if product in _BY_SERVER_HEADER:
                return _BY_SERVER_HEADER[product], f"Server: {o.server[:40]} ({r.name})"
    for r in ran:
        o = r.outcome
        assert o is not None
        if o.kind is OutcomeKind.HTTP and o.status == 400 and o.detail in NGINX_CERT_REASONS:
            return ServerProfile.NGINX, f"nginx's 400 page {o.detail!r} ({r.name})"
    alerts = {
        r.outcome.alert
        for r in ran
        if r.outcome is not None
        and r.outcome.kind is OutcomeKind.TLS_ALERT
        and r.probe in CATALOGUE
        and not CATALOGUE[r.probe].accepts
        and r.probe != "no-cert"
    }
    if "bad_certificate" in alerts and not alerts & _OPENSSL_NAMES:
        return (
            ServerProfile.GO,
            "bad_certificate for every bad certificate: Go's crypto/tls (Caddy, Traefik, Go)",
        )
    return (
        ServerProfile.GENERIC,
        "no Server header or server-specific answer names the server",
    )


def rejudge(
    results: Sequence[ProbeResult],
    profile: ServerProfile,
    expectations: Mapping[str, Expectation],
) -> list[ProbeResult]:
    """Results judged again under ``profile`` where the plan's expectation came from the
    ``auto`` default (:attr:`Expectation.from_default`).  A user's ``--expect`` stays as it
    was - also ``--expect x=rejected``, which reads exactly like the default."""
    out: list[ProbeResult] = []
    for r in results:
        spec = CATALOGUE.get(r.probe)
        planned = expectations.get(r.probe)
        if r.outcome is None or spec is None or spec.accepts or spec.expectation is not None:
            out.append(r)
            continue
        if planned is None or not planned.from_default:
            out.append(r)
            continue
        expected: Expectation = default_expectations([r.probe], profile, {})[r.probe]
        verdict, why = judge(r.outcome, r.facts, expected, r.tls_version)
        out.append(dataclasses.replace(r, expected=str(expected), verdict=verdict, reason=why))
    return out
