"""Expectations: a tiny language for "what should this probe get", and server profiles.

Grammar (alternatives joined by ``|``)::

    200            exact HTTP status          2xx / 4xx     HTTP status class
    accepted       HTTP 2xx or 3xx            rejected      any refusal (see below)
    alert          any TLS alert              alert:unknown_ca   that alert
    alert@handshake / alert:certificate_required@after-handshake   alert in that phase
    closed / reset a TLS-phase hang-up        connect:refused|timeout|dns|...
    not-tls        plain text on a TLS port   tls-local      our side refused

``rejected`` is deliberately a class: nginx answers HTTP 400 (its 495/496 internally), Apache
sends an alert (during the handshake on TLS 1.2, after it on TLS 1.3), some servers just hang
up.  A server profile narrows the class to the member that server really produces.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from mtlscheck._alerts import ALERT_NAMES
from mtlscheck._errors import UsageError
from mtlscheck._model import REJECT_STATUSES, Outcome, OutcomeKind, Phase

__all__ = ["REJECT_STATUSES", "Expectation", "ServerProfile", "default_expectation"]

# REJECT_STATUSES lives with Outcome.is_refusal (mtlscheck._model); re-exported here.


_CONNECT_REASONS = frozenset(
    {
        "refused",
        "reset",
        "closed",
        "timeout",
        "dns",
        "unreachable",
        "bad-http",
        "bad-tls",
        "cancelled",
        "error",
    }
)
_TERM = re.compile(
    r"^(?:(?P<status>[1-5]\d\d)|(?P<cls>[1-5])xx|(?P<word>accepted|rejected|not-tls|tls-local|closed|reset)"
    r"|alert(?::(?P<alert>[a-z0-9_]+))?(?:@(?P<phase>handshake|after-handshake))?"
    r"|connect:(?P<reason>[a-z-]+))$"
)


@functools.lru_cache(maxsize=256)
def _parsed(term: str) -> re.Match[str]:
    """A validated term's groups, parsed once (verdicts match every outcome against them)."""
    m = _TERM.match(term)
    assert m is not None, term  # Expectation.parse validated it
    return m


@dataclass(frozen=True)
class _Term:
    text: str

    def matches(self, o: Outcome) -> bool:
        m = _parsed(self.text)
        if m["status"]:
            return o.kind is OutcomeKind.HTTP and o.status == int(m["status"])
        if m["cls"]:
            return (
                o.kind is OutcomeKind.HTTP
                and o.status is not None
                and o.status // 100 == int(m["cls"])
            )
        word = m["word"]
        if word == "accepted":
            return o.is_acceptance
        if word == "rejected":
            return o.is_refusal
        if word == "not-tls":
            return o.kind is OutcomeKind.NOT_TLS
        if word == "tls-local":
            return o.kind is OutcomeKind.TLS_LOCAL
        if word in ("closed", "reset"):
            return o.kind is OutcomeKind.CONNECT and o.reason == word
        if m["reason"]:
            return o.kind is OutcomeKind.CONNECT and o.reason == m["reason"]
        # alert[:name][@phase]
        if o.kind is not OutcomeKind.TLS_ALERT:
            return False
        if m["alert"] and o.alert != m["alert"]:
            return False
        return not m["phase"] or o.phase == Phase(m["phase"])


@dataclass(frozen=True)
class Expectation:
    """A parsed expectation expression; ``str()`` gives it back in canonical form."""

    terms: tuple[str, ...]
    from_default: bool = field(default=False, compare=False)
    """Made by :func:`default_expectation`, not written by the user: ``--server auto`` judges
    only these again under the detected profile (an explicit ``--expect x=rejected`` stays
    as written, though it reads the same).  Not part of equality."""

    @classmethod
    def parse(cls, text: str) -> Expectation:
        raw = [t.strip().lower() for t in str(text).split("|")]
        if not raw or any(not t for t in raw):
            raise UsageError(f"empty expectation in {text!r}")
        for t in raw:
            m = _TERM.match(t)
            if m is None:
                raise UsageError(
                    f"bad expectation {t!r}: use e.g. 200, 2xx, 400|403, accepted, rejected, "
                    "alert, alert:unknown_ca, alert@after-handshake, closed, connect:refused, "
                    "not-tls"
                )
            if m["alert"] and m["alert"] not in ALERT_NAMES.values():
                raise UsageError(f"unknown TLS alert {m['alert']!r} in expectation {text!r}")
            if m["reason"] and m["reason"] not in _CONNECT_REASONS:
                raise UsageError(f"unknown connect reason {m['reason']!r} in expectation {text!r}")
        return cls(tuple(raw))

    def matches(self, outcome: Outcome) -> bool:
        return any(_Term(t).matches(outcome) for t in self.terms)

    def mentions_failure(self) -> bool:
        """True when the user explicitly expects a non-answer (then it is not an ``error``)."""
        return any(t.startswith(("connect:", "not-tls", "tls-local")) for t in self.terms)

    def __str__(self) -> str:
        return "|".join(self.terms)


class ServerProfile(StrEnum):
    """What a rejection looks like on a given server; ``generic`` accepts any refusal."""

    GENERIC = "generic"
    AUTO = "auto"
    """Per target, the profile its probes' evidence names (see mtlscheck._autodetect)."""
    NGINX = "nginx"
    APACHE = "apache"
    HAPROXY = "haproxy"
    CADDY = "caddy"
    TRAEFIK = "traefik"
    INGRESS_NGINX = "ingress-nginx"
    ENVOY = "envoy"
    NODE = "node"
    TOMCAT = "tomcat"
    GO = "go"
    GUNICORN = "gunicorn"
    UVICORN = "uvicorn"


_REJECT_BY_PROFILE: Mapping[ServerProfile, str] = {
    ServerProfile.GENERIC: "rejected",
    # Probed like generic; each target is then judged again under the profile it shows.
    ServerProfile.AUTO: "rejected",
    # ssl_verify_client on: the handshake completes, then 400 (internally 495/496).  403 too:
    # ssl_verify_client optional plus `if ($ssl_client_verify != SUCCESS) { return 403; }` is
    # the documented nginx way to protect some locations only, and just as secure for them
    # (the diagnosis notes it as client-auth-checked-over-http).
    ServerProfile.NGINX: "400|403",
    # SSLVerifyClient require: an alert, in the handshake (TLS 1.2) or on the first read (1.3).
    ServerProfile.APACHE: "alert",
    ServerProfile.HAPROXY: "alert",
    # Go's crypto/tls answers bad_certificate (or certificate_required on 1.3) as alerts.
    ServerProfile.CADDY: "alert",
    # Traefik: the same crypto/tls (clientAuthType RequireAndVerifyClientCert; Traefik docs
    # "TLS > Client Authentication").
    ServerProfile.TRAEFIK: "alert",
    # Measured (tests/test_tomcat_go.py, Go 1.19 net/http): RequireAndVerifyClientCert answers
    # bad_certificate for a missing certificate and for every bad one, in the handshake (1.2) or
    # on the first read (1.3).  401/403: VerifyClientCertIfGiven plus the handler's check of
    # r.TLS.VerifiedChains, the Go way to protect some handlers only, refuses over HTTP.
    ServerProfile.GO: "alert|401|403",
    # The controller is nginx: auth-tls-verify-client "on" answers 400 like ssl_verify_client
    # on (ingress-nginx docs "Annotations > Client Certificate Authentication").
    ServerProfile.INGRESS_NGINX: "400|403",
    # BoringSSL with require_client_certificate: an alert (Envoy API docs,
    # "DownstreamTlsContext.require_client_certificate").
    ServerProfile.ENVOY: "alert",
    # Measured (tests/test_more_servers.py, Node 20): rejectUnauthorized answers a missing
    # certificate with an alert but hangs up on a bad one (Node verifies after OpenSSL's
    # handshake and destroys the socket); the documented application check of
    # req.socket.authorized answers 401 (or 403).
    ServerProfile.NODE: "alert|closed|401|403",
    # Measured (tests/test_tomcat_go.py, Tomcat 10.1 NIO with JSSE): certificateVerification=
    # "required" answers bad_certificate for a missing certificate and certificate_unknown for
    # every bad one, as alerts (1.2: in the handshake; 1.3: on the first read).  401/403: a
    # CLIENT-CERT <login-config> (the servlet way to protect some URLs only) refuses a client
    # whose certificate did not come in the handshake with 401 - on TLS 1.3 always, since
    # JSSE cannot ask for it after the handshake (no post-handshake auth).
    ServerProfile.TOMCAT: "alert|401|403",
    # Python's ssl (--cert-reqs 2 / --ssl-cert-reqs 2): an alert, during the handshake on
    # TLS 1.2 and right after it on 1.3 (measured for gunicorn; uvicorn uses the same module).
    ServerProfile.GUNICORN: "alert",
    # Measured (tests/test_more_probes_real.py, Debian's uvicorn 0.17): asyncio's SSL transport
    # closes the connection without sending OpenSSL's alert - a hang-up after the
    # CertificateRequest, in the handshake (1.2) or right after it (1.3).
    ServerProfile.UVICORN: "alert|closed|reset",
}


def default_expectation(probe_accepts: bool, profile: ServerProfile) -> Expectation:
    """The expectation a probe gets unless the user overrides it with ``--expect``."""
    if probe_accepts:
        return Expectation(("accepted",), from_default=True)
    return replace(Expectation.parse(_REJECT_BY_PROFILE[profile]), from_default=True)
