"""Diagnosis rules on hand-built results: rare paths the real servers do not show easily."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mtlscheck._diagnose import RULES, Code, diagnose
from mtlscheck._expect import ServerProfile
from mtlscheck._fixes import FIXES
from mtlscheck._model import (
    CertInfo,
    Finding,
    HandshakeFacts,
    Outcome,
    OutcomeKind,
    Phase,
    ProbeResult,
    RevocationInfo,
    Severity,
    Verdict,
)

ROOT = "O=test,CN=root"
OTHER = "O=test,CN=other"


def cert(subject: str = "CN=client", issuer: str = ROOT, days: int = 30) -> CertInfo:
    now = datetime.now(UTC)
    return CertInfo(
        subject=subject,
        issuer=issuer,
        not_before=(now - timedelta(days=400)).isoformat(),
        not_after=(now + timedelta(days=days)).isoformat(),
    )


def http(status: int, detail: str = "") -> Outcome:
    return Outcome(OutcomeKind.HTTP, status=status, detail=detail)


def alert(name: str, phase: Phase = Phase.AFTER_HANDSHAKE) -> Outcome:
    return Outcome(OutcomeKind.TLS_ALERT, alert=name, phase=phase)


def res(probe: str, version: str, outcome: Outcome, **facts: Any) -> ProbeResult:
    base: dict[str, Any] = {
        "protocol": f"TLSv{version}",
        "cert_requested": True,
        "ca_names": (ROOT,),
        "handshake_completed": True,
        "post_handshake_auth": True,
    }
    if probe != "no-cert":
        base["client_chain"] = (cert(),)
    base.update(facts)
    return ProbeResult(
        probe, "https://x/", version, "rejected", Verdict.PASS, outcome, HandshakeFacts(**base)
    )


def found(results: list[ProbeResult], **kw: Any) -> dict[str, Finding]:
    out = {f.code: f for f in diagnose(results, **kw)}
    assert len(out) == len(diagnose(results, **kw)), "a code is reported twice"
    return out


def test_codes_are_kebab_case_unique_and_have_fixes() -> None:
    values = [c.value for c in Code]
    assert len(values) == len(set(values))
    for v in values:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", v), v
    explained_only = {Code.CLIENT_CERT_REJECTED_AFTER_HANDSHAKE}
    for c in Code:
        if c in explained_only:
            continue
        assert c.value in FIXES, f"no fix text for {c}"
    client_auth = {
        Code.CLIENT_AUTH_NOT_REQUESTED,
        Code.CLIENT_AUTH_OPTIONAL,
        Code.FOREIGN_CA_ACCEPTED,
        Code.EXPIRED_CERT_ACCEPTED,
        Code.REVOCATION_NOT_CHECKED,
        Code.CA_NAMES_EXCLUDE_CLIENT_ISSUER,
        Code.VERIFY_DEPTH_TOO_SMALL,
        Code.CLIENT_CA_INCOMPLETE,
        Code.CLIENT_AUTH_CHECKED_OVER_HTTP,
        Code.TLS13_NOT_OFFERED,
        Code.PER_LOCATION_CLIENT_AUTH,
    }
    for c in client_auth:
        assert {"nginx", "apache"} <= set(FIXES[c.value]), c


def test_no_results_no_findings() -> None:
    assert diagnose([]) == ()


def test_correct_nginx_has_no_findings() -> None:
    rs = [
        res("no-cert", "1.3", http(400, "No required SSL certificate was sent")),
        res("valid", "1.3", http(200)),
        res("expired", "1.3", http(400, "The SSL certificate error")),
    ]
    assert found(rs) == {}


def test_errors_come_first() -> None:
    rs = [
        res("no-cert", "1.3", http(200)),
        res("expired", "1.3", alert("certificate_expired")),
    ]
    sev = [f.severity for f in diagnose(rs)]
    assert sev == sorted(sev, key=[Severity.ERROR, Severity.WARNING, Severity.INFO].index)
    assert Code.CLIENT_AUTH_OPTIONAL in found(rs)
    assert Code.CLIENT_CERT_REJECTED_AFTER_HANDSHAKE in found(rs)


def test_not_requested_but_refused_is_a_warning_not_a_guess() -> None:
    """No CertificateRequest and 403 for everyone: the refusal is not TLS client auth."""
    rs = [
        res("no-cert", "1.2", http(403, "Forbidden"), cert_requested=False, ca_names=()),
        res("valid", "1.2", http(403, "Forbidden"), cert_requested=False, ca_names=()),
    ]
    f = found(rs)
    assert f[Code.CLIENT_AUTH_NOT_REQUESTED].severity is Severity.WARNING
    assert "inconclusive" in f[Code.CLIENT_AUTH_NOT_REQUESTED].message
    assert "inconclusive" in f[Code.VALID_CERT_REJECTED].message


def test_per_location_without_pha_is_inconclusive() -> None:
    """A client that could not offer post-handshake auth gets 403 on TLS 1.3: say so."""
    rs = [
        res("valid", "1.3", http(403), cert_requested=False, post_handshake_auth=False),
        res("no-cert", "1.3", http(403), cert_requested=False, post_handshake_auth=False),
    ]
    f = found(rs)[Code.PER_LOCATION_CLIENT_AUTH]
    assert f.message.startswith("inconclusive")
    assert "valid[tls1.3]" in f.evidence


def test_late_request_is_per_location_not_optional() -> None:
    late = {"cert_requested": False, "cert_requested_after_handshake": True}
    rs = [
        res("no-cert", "1.2", alert("handshake_failure"), **late),
        res("valid", "1.2", http(200), **late),
    ]
    f = found(rs)
    assert set(f) >= {Code.PER_LOCATION_CLIENT_AUTH}
    assert Code.CLIENT_AUTH_OPTIONAL not in f
    assert Code.CLIENT_AUTH_NOT_REQUESTED not in f
    assert "renegotiation (TLS 1.2)" in f[Code.PER_LOCATION_CLIENT_AUTH].message


def test_lookalike_only_means_name_matching() -> None:
    rs = [
        res("valid", "1.2", http(200)),
        res("wrong-ca", "1.2", alert("unknown_ca", Phase.HANDSHAKE)),
        res("lookalike-ca", "1.2", http(200)),
    ]
    f = found(rs)[Code.FOREIGN_CA_ACCEPTED]
    assert "name" in f.message
    assert "lookalike-ca[tls1.2]" in f.evidence


def test_expired_own_certificate_blames_our_side() -> None:
    rs = [res("valid", "1.3", alert("certificate_expired"), client_chain=(cert(days=-1),))]
    f = found(rs)[Code.VALID_CERT_REJECTED]
    assert "our side" in f.message
    assert [s for s, _ in f.fixes] == ["client"]


def test_valid_rejected_by_go_server_is_inconclusive() -> None:
    rs = [res("valid", "1.3", alert("bad_certificate"))]
    f = found(rs)[Code.VALID_CERT_REJECTED]
    assert "inconclusive" in f.message and "Go" in f.message


def test_valid_rejected_alert_cause_named() -> None:
    f = found([res("valid", "1.2", alert("certificate_revoked", Phase.HANDSHAKE))])
    assert "revoked" in f[Code.VALID_CERT_REJECTED].message


def test_ca_names_excluding_issuer_but_accepted_is_a_warning() -> None:
    rs = [res("valid", "1.2", http(200), ca_names=(OTHER,))]
    f = found(rs)[Code.CA_NAMES_EXCLUDE_CLIENT_ISSUER]
    assert f.severity is Severity.WARNING


def test_ca_names_matching_an_intermediate_is_fine() -> None:
    chain = (cert(issuer="CN=inter"), cert(subject="CN=inter", issuer=ROOT))
    rs = [res("valid", "1.2", http(200), client_chain=chain, ca_names=("CN=inter",))]
    assert Code.CA_NAMES_EXCLUDE_CLIENT_ISSUER not in found(rs)


def test_untrusted_server_stops_client_auth_findings() -> None:
    local = Outcome(
        OutcomeKind.TLS_LOCAL, reason="server-cert-untrusted", phase=Phase.HANDSHAKE, detail="x"
    )
    rs = [res("no-cert", "1.3", local), res("valid", "1.3", local)]
    assert set(found(rs)) == {Code.SERVER_CERT_UNTRUSTED}


def test_insecure_reports_server_problems_as_warnings_and_still_diagnoses() -> None:
    facts = {"server_verify_error": "self-signed certificate (depth 0)", "hostname_matches": False}
    rs = [res("no-cert", "1.3", http(200), **facts), res("valid", "1.3", http(200), **facts)]
    f = found(rs, insecure=True)
    assert f[Code.SERVER_CERT_UNTRUSTED].severity is Severity.WARNING
    assert f[Code.SERVER_HOSTNAME_MISMATCH].severity is Severity.WARNING
    assert f[Code.CLIENT_AUTH_OPTIONAL].severity is Severity.ERROR


def test_partial_timeouts_are_a_warning() -> None:
    to = Outcome(OutcomeKind.CONNECT, reason="timeout", phase=Phase.AFTER_HANDSHAKE)
    rs = [res("no-cert", "1.3", to), res("valid", "1.3", http(200))]
    assert found(rs)[Code.TIMEOUT].severity is Severity.WARNING
    rs = [res("no-cert", "1.3", to)]
    assert found(rs)[Code.TIMEOUT].severity is Severity.ERROR


def test_dns_failure() -> None:
    o = Outcome(OutcomeKind.CONNECT, reason="dns", detail="cannot resolve x")
    rs = [res("no-cert", "1.3", o, handshake_completed=False, cert_requested=False)]
    assert set(found(rs)) == {Code.TARGET_UNREACHABLE}


def test_tls13_not_offered_from_unsupported() -> None:
    rs = [res("valid", "1.2", http(200))]
    f = found(rs, unsupported=(("1.3", "refused"),))
    assert f[Code.TLS13_NOT_OFFERED].severity is Severity.WARNING


def test_skipped_probes_are_ignored() -> None:
    skipped = ProbeResult("revoked", "https://x/", "1.3", "rejected", Verdict.SKIP, reason="no")
    assert diagnose([skipped]) == ()


def test_profile_is_accepted() -> None:
    rs = [res("no-cert", "1.3", http(200))]
    assert Code.CLIENT_AUTH_OPTIONAL in found(rs, profile=ServerProfile.APACHE)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
def test_every_rule_copes_with_nothing(rule: Any) -> None:
    from mtlscheck._diagnose import Evidence

    assert list(rule(Evidence((), ServerProfile.GENERIC, (), False))) == []


# --------------------------------------------------------------------------- chains (issue 7/8a)

INTER = "O=test,CN=inter"
CHAIN = (cert(issuer=INTER), cert(subject=INTER, issuer=ROOT))
NGINX_CERT_ERROR = "The SSL certificate error"


def test_intermediate_only_ca_file_is_a_missing_anchor_not_a_depth() -> None:
    """The CA names hold our intermediate but not its root: nginx's 'unable to get issuer
    certificate', whatever ssl_verify_depth says."""
    rs = [res("valid", "1.3", http(400, NGINX_CERT_ERROR), client_chain=CHAIN, ca_names=(INTER,))]
    f = found(rs)
    assert Code.VERIFY_DEPTH_TOO_SMALL not in f
    assert Code.CA_NAMES_EXCLUDE_CLIENT_ISSUER not in f
    inc = f[Code.CLIENT_CA_INCOMPLETE]
    assert inc.severity is Severity.ERROR
    assert ROOT in inc.message and INTER in inc.message
    assert "unable to get issuer certificate" in inc.message
    assert inc.fixes[0][0] == "nginx" and "ssl_trusted_certificate" in inc.fixes[0][1]
    assert "ca-verify-file" in dict(inc.fixes)["haproxy"]
    assert str(Code.CLIENT_CA_INCOMPLETE) in f[Code.VALID_CERT_REJECTED].message
    assert f[Code.VALID_CERT_REJECTED].fixes == inc.fixes


def test_missing_anchor_on_an_alerting_server_and_a_longer_chain() -> None:
    """Apache/HAProxy answer unknown_ca; a chain with two intermediates whose upper one is
    advertised is missing its root just the same."""
    chain = (
        cert(issuer="CN=inter2"),
        cert(subject="CN=inter2", issuer=INTER),
        cert(subject=INTER, issuer=ROOT),
    )
    rs = [res("valid", "1.2", alert("unknown_ca", Phase.HANDSHAKE), client_chain=chain,
              ca_names=(INTER,))]  # fmt: skip
    f = found(rs, profile=ServerProfile.APACHE)
    assert "AH02276" in f[Code.CLIENT_CA_INCOMPLETE].message
    assert Code.VERIFY_DEPTH_TOO_SMALL not in f


def test_root_trusted_without_being_advertised_and_accepted_is_fine() -> None:
    """nginx ssl_trusted_certificate / HAProxy ca-verify-file: the intermediate advertised, the
    root trusted; the valid certificate gets in, so nothing is wrong."""
    rs = [res("valid", "1.3", http(200), client_chain=CHAIN, ca_names=(INTER,))]
    assert found(rs) == {}


# The revoked probe got in: nothing checks revocation, so nginx's 400 for the chain is no
# failing CRL/OCSP check and the depth is what is left.
NO_REVOCATION = res("revoked", "1.3", http(200))


def test_depth_finding_needs_the_root_advertised_and_says_so() -> None:
    rs = [
        res("valid", "1.3", http(400, NGINX_CERT_ERROR), client_chain=CHAIN, ca_names=(ROOT,)),
        NO_REVOCATION,
    ]
    f = found(rs)
    assert Code.CLIENT_CA_INCOMPLETE not in f
    depth = f[Code.VERIFY_DEPTH_TOO_SMALL]
    assert f"advertises its root {ROOT}" in depth.message
    assert "unable to get local issuer certificate" in depth.message  # what nginx 1.22 logs


def test_depth_without_ca_names_does_not_claim_the_root_is_advertised() -> None:
    rs = [
        res("valid", "1.3", http(400, NGINX_CERT_ERROR), client_chain=CHAIN, ca_names=()),
        NO_REVOCATION,
    ]
    depth = found(rs)[Code.VERIFY_DEPTH_TOO_SMALL]
    assert "advertises" not in depth.message and "no CA names" in depth.message


@pytest.mark.parametrize("revoked", [None, "refused"])
def test_a_failing_revocation_check_is_named_before_the_depth(revoked: str | None) -> None:
    """nginx answers a chain it has no CRL for (or whose OCSP responder is down) with the same
    400 as a chain longer than its depth: unless the revoked probe got in, both are named and
    no depth finding is guessed."""
    rs = [res("valid", "1.3", http(400, NGINX_CERT_ERROR), client_chain=CHAIN, ca_names=(ROOT,))]
    if revoked:
        rs.append(res("revoked", "1.3", http(400, NGINX_CERT_ERROR)))
    f = found(rs, profile=ServerProfile.NGINX)
    assert Code.VERIFY_DEPTH_TOO_SMALL not in f
    msg = f[Code.VALID_CERT_REJECTED].message
    assert "no CRL for one of its CAs" in msg and "(3:unable to get certificate CRL)" in msg
    assert "OCSP responder the server cannot reach" in msg
    assert "verify depth smaller than the chain" in msg
    assert ("the revoked probe would too" in msg) is (revoked is None)
    fix = dict(f[Code.VALID_CERT_REJECTED].fixes)["nginx"]
    assert "EVERY CA of the chain" in fix and "ssl_ocsp" in fix


def test_nginx_certificate_error_names_revocation_and_the_certificates_responder() -> None:
    url = "http://ocsp.test/ocsp"
    revoked = replace(
        res("revoked", "1.3", http(400, NGINX_CERT_ERROR)),
        revocation=RevocationInfo(enforced=None, ocsp_urls=(url,)),
    )
    rs = [res("valid", "1.3", http(400, NGINX_CERT_ERROR)), revoked]
    msg = found(rs)[Code.VALID_CERT_REJECTED].message
    assert "a revocation check that fails for every client" in msg
    assert f"the certificates name the OCSP responder {url}" in msg
    # the revoked probe got in: no revocation check, so none is named
    rs = [res("valid", "1.3", http(400, NGINX_CERT_ERROR)), res("revoked", "1.3", http(200))]
    assert "revocation check" not in found(rs)[Code.VALID_CERT_REJECTED].message


def test_apache_handshake_failure_for_a_sent_certificate_points_at_ocsp() -> None:
    """Measured: Apache with SSLOCSPEnable and a responder it cannot reach answers every
    certificate with handshake_failure (AH01974)."""
    rs = [res("valid", "1.2", alert("handshake_failure", Phase.HANDSHAKE))]
    f = found(rs, profile=ServerProfile.APACHE)[Code.VALID_CERT_REJECTED]
    assert "OCSP check failed" in f.message and "AH01974" in f.message
    assert "SSLOCSPEnable" in dict(f.fixes)["apache"]
    rs.append(res("revoked", "1.2", http(200)))  # nothing checks revocation: not OCSP then
    f = found(rs, profile=ServerProfile.APACHE)[Code.VALID_CERT_REJECTED]
    assert "OCSP" not in f.message and "no acceptable certificate" in f.message


def test_unknown_ca_from_a_server_that_advertises_the_issuer_points_at_a_missing_crl() -> None:
    rs = [res("valid", "1.2", alert("unknown_ca", Phase.HANDSHAKE), client_chain=CHAIN)]
    f = found(rs, profile=ServerProfile.APACHE)[Code.VALID_CERT_REJECTED]
    assert "a CRL missing for one CA of the chain" in f.message
    rs.append(res("revoked", "1.2", http(200)))
    f = found(rs, profile=ServerProfile.APACHE)[Code.VALID_CERT_REJECTED]
    assert "CRL" not in f.message and "does not trust" in f.message


# --------------------------------------------------------------------------- 403 (issue 7/8b)


def test_no_cert_refused_over_http_after_a_request_is_explained() -> None:
    """ssl_verify_client optional + `if ($ssl_client_verify != SUCCESS) { return 403; }`."""
    rs = [
        res("no-cert", "1.3", http(403, "403 Forbidden")),
        res("valid", "1.3", http(200)),
        res("expired", "1.3", http(400, NGINX_CERT_ERROR)),
    ]
    f = found(rs, profile=ServerProfile.NGINX)
    assert set(f) == {Code.CLIENT_AUTH_CHECKED_OVER_HTTP}
    info = f[Code.CLIENT_AUTH_CHECKED_OVER_HTTP]
    assert info.severity is Severity.INFO
    assert "$ssl_client_verify" in info.message and "no-cert[tls1.3]" in info.evidence
    assert info.fixes[0][0] == "nginx"


def test_not_checked_over_http_when_no_cert_gets_in_or_nothing_was_requested() -> None:
    assert Code.CLIENT_AUTH_CHECKED_OVER_HTTP not in found([res("no-cert", "1.3", http(200))])
    unrequested = [res("no-cert", "1.3", http(403), cert_requested=False, ca_names=())]
    assert Code.CLIENT_AUTH_CHECKED_OVER_HTTP not in found(unrequested)
    nginx_own = [res("no-cert", "1.3", http(400, "No required SSL certificate was sent"))]
    assert Code.CLIENT_AUTH_CHECKED_OVER_HTTP not in found(nginx_own)


def test_nginx_profile_accepts_its_400_and_an_http_rule_403_only() -> None:
    from mtlscheck._expect import default_expectation

    expect = default_expectation(False, ServerProfile.NGINX)
    assert expect.matches(http(400, NGINX_CERT_ERROR)) and expect.matches(http(403))
    assert not expect.matches(http(200)) and not expect.matches(alert("unknown_ca"))
    assert not expect.matches(http(401))
