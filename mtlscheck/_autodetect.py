"""``--server auto``: pick each target's server profile from what its probes saw.

A fleet mixes servers, so one ``--server`` per run does not fit.  The evidence, strongest first:

1. the ``Server`` header of any HTTP answer (``nginx``, ``Apache``, ``Caddy``, ``gunicorn``, ...);
2. a server-specific answer: nginx's own 400 certificate pages;
3. Go's ``crypto/tls`` (Caddy, Traefik, Go services) answers every certificate problem with
   ``bad_certificate``, where OpenSSL names it (``unknown_ca``, ``certificate_expired``);
   Java's JSSE (Tomcat, Jetty, Spring Boot) answers every bad certificate with
   ``certificate_unknown`` and a missing one with ``bad_certificate``, also on TLS 1.3 where
   OpenSSL, BoringSSL and newer Go say ``certificate_required`` (measured with Tomcat 10.1).

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


def _alerts(results: Sequence[ProbeResult], *, certificate: bool) -> set[str | None]:
    """The alerts that refused the rejection probes presenting a (bad) certificate, or those
    presenting none (``no-cert``, ``forged-headers``, ``sni-mismatch``): the two answers a
    TLS stack gives differently.  ``plaintext`` speaks no TLS and is left out."""
    out: set[str | None] = set()
    for r in results:
        spec = CATALOGUE.get(r.probe)
        o = r.outcome
        if spec is None or spec.accepts or spec.request.plain_http or o is None:
            continue
        if o.kind is OutcomeKind.TLS_ALERT and spec.no_certificate is not certificate:
            out.add(o.alert)
    return out


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
    alerts = _alerts(ran, certificate=True)
    if "bad_certificate" in alerts and not alerts & _OPENSSL_NAMES:
        return (
            ServerProfile.GO,
            "bad_certificate for every bad certificate: Go's crypto/tls (Caddy, Traefik, Go)",
        )
    if alerts == {"certificate_unknown"} and _alerts(ran, certificate=False) <= {"bad_certificate"}:
        return (
            ServerProfile.TOMCAT,
            "certificate_unknown for every bad certificate: Java's JSSE (Tomcat, Jetty, "
            "Spring Boot)",
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
