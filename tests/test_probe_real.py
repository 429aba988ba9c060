"""The probe engine against real nginx and Apache httpd, configured as ``mtlscheck pki`` prints.

Observed (nginx 1.22 / Apache 2.4 with OpenSSL 3.0, pinned per TLS version):
- nginx ``ssl_verify_client on``: the handshake completes on 1.2 and 1.3 and every rejection is
  HTTP 400 — "No required SSL certificate was sent" (no-cert) or "The SSL certificate error"
  (expired, wrong-ca).  CertificateRequest seen, the root CA among the CA names.
- Apache ``SSLVerifyClient require``: TLS 1.2 rejects in the handshake with alerts
  handshake_failure (no-cert), certificate_expired (expired), unknown_ca (wrong-ca); TLS 1.3
  sends certificate_required / certificate_expired / unknown_ca after the handshake, on the
  first read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from servers import ApacheServer, NginxServer

import mtlscheck
from mtlscheck._cli import main
from mtlscheck._model import OutcomeKind, Phase, ProbeResult, TargetResult, Verdict
from mtlscheck._pki import PKI
from mtlscheck._probes import CATALOGUE, RequestSpec

pytestmark = pytest.mark.realserver

VERSIONS = ["1.2", "1.3"]
CORE = ("no-cert", "valid", "expired", "wrong-ca")
# Without --probes, every certificate probe the given material can build runs too: --pki holds
# them all (the probes that change the request - forged headers, SNI, plain HTTP - stay opt-in).
PKI_DEFAULT = tuple(name for name, spec in CATALOGUE.items() if spec.request == RequestSpec())


def by_probe(result: TargetResult) -> dict[str, ProbeResult]:
    out = {r.probe: r for r in result.results}
    assert len(out) == len(result.results), "one result per probe when the version is pinned"
    return out


def root_ca_name(pki: PKI) -> str:
    from cryptography import x509

    return x509.load_pem_x509_certificate(pki.ca_cert.read_bytes()).subject.rfc4514_string()


def describe(result: TargetResult) -> str:
    return "\n".join(
        f"{r.name}: {r.verdict} {r.outcome.summary if r.outcome else r.reason}"
        for r in result.results
    )


# --------------------------------------------------------------------------- nginx


@pytest.fixture(scope="module")
def nginx_results(
    nginx_mtls: NginxServer, test_pki_dir: Path
) -> dict[tuple[str, str], TargetResult]:
    """The core four probes per (profile, version), run once for the module."""
    return {
        (profile, tls): mtlscheck.check(
            nginx_mtls.url, pki=test_pki_dir, tls=tls, server=profile, timeout=5
        )
        for profile in ("nginx", "generic")
        for tls in VERSIONS
    }


@pytest.mark.parametrize("tls", VERSIONS)
@pytest.mark.parametrize("profile", ["nginx", "generic"])
def test_nginx_rejects_with_http_400(
    nginx_results: dict[tuple[str, str], TargetResult],
    server_pki: PKI,
    profile: str,
    tls: str,
) -> None:
    result = nginx_results[profile, tls]
    res = by_probe(result)
    assert set(res) == set(PKI_DEFAULT), describe(result)
    expected_status = {"no-cert": 400, "valid": 200, "expired": 400, "wrong-ca": 400}
    for name, status in expected_status.items():
        r = res[name]
        assert r.tls_version == tls
        assert r.outcome is not None and r.outcome.kind is OutcomeKind.HTTP, describe(result)
        assert r.outcome.status == status, describe(result)
        assert r.verdict is Verdict.PASS, describe(result)
        assert r.facts is not None
        assert r.facts.protocol == f"TLSv{tls}"
        assert r.facts.cert_requested is True
        assert root_ca_name(server_pki) in r.facts.ca_names
        assert r.facts.server_chain and "CN=localhost" in r.facts.server_chain[0].subject
    # nginx says which kind of rejection it was; the outcome keeps that reason.
    assert res["no-cert"].outcome.detail == "No required SSL certificate was sent"  # type: ignore[union-attr]
    assert "certificate error" in res["expired"].outcome.detail  # type: ignore[union-attr]
    assert result.ok and result.server_profile == profile
    assert result.unsupported_versions == ()


def test_nginx_expectation_follows_profile(
    nginx_results: dict[tuple[str, str], TargetResult],
) -> None:
    """The nginx profile narrows "rejected" to 400 (or 403 from a $ssl_client_verify rule);
    generic keeps the whole class."""
    assert by_probe(nginx_results["nginx", "1.3"])["no-cert"].expected == "400|403"
    assert by_probe(nginx_results["generic", "1.3"])["no-cert"].expected == "rejected"
    assert by_probe(nginx_results["nginx", "1.3"])["valid"].expected == "accepted"


def test_nginx_under_apache_profile_fails(nginx_mtls: NginxServer, test_pki_dir: Path) -> None:
    """A profile that expects an alert must not be satisfied by nginx's 400."""
    result = mtlscheck.check(
        nginx_mtls.url, pki=test_pki_dir, tls="1.3", server="apache", probes=["no-cert"]
    )
    (r,) = result.results
    assert r.outcome is not None and r.outcome.status == 400
    assert r.verdict is Verdict.FAIL
    assert not result.ok


@pytest.mark.parametrize("tls", VERSIONS)
def test_nginx_via_cli_explicit_files_json(
    nginx_mtls: NginxServer,
    server_pki: PKI,
    tls: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    valid = server_pki.role("valid")
    assert valid.key is not None
    rc = main(
        [
            "probe",
            nginx_mtls.url,
            "--cert", str(valid.send_file),
            "--key", str(valid.key),
            "--ca-cert", str(server_pki.ca_cert),
            "--ca-key", str(server_pki.ca_key),
            "--cacert", str(server_pki.ca_cert),
            "--tls", tls,
            "--server", "nginx",
            "--format", "json",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert rc == 0, out
    assert doc["ok"] is True and doc["exit_code"] == 0
    (target,) = doc["targets"]
    got = {p["probe"]: p for p in target["probes"]}
    # the four, plus what --ca-cert/--ca-key can mint (not revoked or chain-missing: no PKI)
    assert set(CORE) < set(got) <= set(PKI_DEFAULT)
    assert {"revoked", "chain-missing"}.isdisjoint(got)
    assert {k: v["outcome"]["status"] for k, v in got.items()} == {
        k: 200 if k == "valid" else 400 for k in got
    }
    for p in got.values():
        assert p["verdict"] == "pass"
        assert p["tls_version"] == tls
        assert p["facts"]["protocol"] == f"TLSv{tls}"
        assert p["facts"]["cert_requested"] is True
        assert root_ca_name(server_pki) in p["facts"]["ca_names"]
        assert p["curl"].startswith("curl ") and nginx_mtls.url in p["curl"]


# --------------------------------------------------------------------------- Apache

_BAD_CERT_ALERTS = {"expired": "certificate_expired", "wrong-ca": "unknown_ca"}
APACHE_ALERTS = {
    "1.2": {"no-cert": "handshake_failure", **_BAD_CERT_ALERTS},
    "1.3": {"no-cert": "certificate_required", **_BAD_CERT_ALERTS},
}
APACHE_PHASE = {"1.2": Phase.HANDSHAKE, "1.3": Phase.AFTER_HANDSHAKE}


@pytest.mark.parametrize("tls", VERSIONS)
def test_apache_rejects_with_specific_alert(
    apache_mtls: ApacheServer, test_pki_dir: Path, server_pki: PKI, tls: str
) -> None:
    result = mtlscheck.check(apache_mtls.url, pki=test_pki_dir, tls=tls, server="apache", timeout=5)
    res = by_probe(result)
    assert set(res) == set(PKI_DEFAULT), describe(result)
    valid = res["valid"]
    assert valid.outcome is not None and valid.outcome.kind is OutcomeKind.HTTP
    assert valid.outcome.status == 200
    for name, alert in APACHE_ALERTS[tls].items():
        o = res[name].outcome
        assert o is not None, describe(result)
        assert o.kind is OutcomeKind.TLS_ALERT, describe(result)
        assert o.alert == alert, describe(result)
        assert o.phase is APACHE_PHASE[tls], describe(result)
        facts = res[name].facts
        assert facts is not None and facts.cert_requested is True
        # The CA names come with the CertificateRequest, even when the handshake then fails.
        assert root_ca_name(server_pki) in facts.ca_names
        assert facts.handshake_completed is (tls == "1.3")
    for r in res.values():
        assert r.verdict is Verdict.PASS, describe(result)
    assert result.ok


@pytest.mark.parametrize("tls", VERSIONS)
def test_apache_specific_alert_expectation_via_cli(
    apache_mtls: ApacheServer, test_pki_dir: Path, tls: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--expect`` with an alert name and phase matches what Apache really sends."""
    alert = APACHE_ALERTS[tls]["no-cert"]
    phase = APACHE_PHASE[tls]
    rc = main(
        ["probe", apache_mtls.url, "--pki", str(test_pki_dir), "--tls", tls, "-p", "no-cert",
         "--expect", f"no-cert=alert:{alert}@{phase}", "--format", "json"]
    )  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0, doc
    (p,) = doc["targets"][0]["probes"]
    assert p["outcome"] == {
        "kind": "tls-alert",
        "status": None,
        "alert": alert,
        "phase": str(phase),
        "reason": None,
        "detail": p["outcome"]["detail"],
        "server": None,
    }
    # The wrong phase must not match.
    other = "handshake" if phase is Phase.AFTER_HANDSHAKE else "after-handshake"
    rc = main(
        ["probe", apache_mtls.url, "--pki", str(test_pki_dir), "--tls", tls, "-p", "no-cert",
         "--expect", f"no-cert=alert@{other}", "--format", "json"]
    )  # fmt: skip
    capsys.readouterr()
    assert rc == 1


# --------------------------------------------------------------------------- no client auth


@pytest.fixture
def nginx_no_client_auth(
    nginx_factory: Callable[..., NginxServer], mtls_paths: dict[str, Path]
) -> NginxServer:
    return nginx_factory(NginxServer.mtls_fragment(**mtls_paths, verify="off"))


@pytest.mark.parametrize("tls", VERSIONS)
def test_server_not_asking_for_cert_fails_no_cert(
    nginx_no_client_auth: NginxServer, test_pki_dir: Path, tls: str
) -> None:
    result = mtlscheck.check(
        nginx_no_client_auth.url, pki=test_pki_dir, tls=tls, probes=["no-cert", "valid"]
    )
    res = by_probe(result)
    nc = res["no-cert"]
    assert nc.outcome is not None and nc.outcome.kind is OutcomeKind.HTTP
    assert nc.outcome.status == 200
    assert nc.verdict is Verdict.FAIL
    assert nc.facts is not None and nc.facts.cert_requested is False
    assert nc.facts.ca_names == ()
    assert res["valid"].verdict is Verdict.PASS
    assert not result.ok


def test_server_not_asking_for_cert_exit_code_1(
    nginx_no_client_auth: NginxServer, test_pki_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(
        ["probe", nginx_no_client_auth.url, "--pki", str(test_pki_dir), "--tls", "1.3",
         "--server", "nginx", "--no-color"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 1, out
    assert "no-cert" in out and "fail" in out


# --------------------------------------------------------------------------- versions


def test_tls_both_against_tls12_only_server(
    nginx_factory: Callable[..., NginxServer], mtls_paths: dict[str, Path], test_pki_dir: Path
) -> None:
    srv = nginx_factory(NginxServer.mtls_fragment(**mtls_paths, protocols="TLSv1.2"))
    result = mtlscheck.check(srv.url, pki=test_pki_dir, tls="both", server="nginx")
    assert [v for v, _ in result.unsupported_versions] == ["1.3"]
    assert {r.tls_version for r in result.results} == {"1.2"}
    assert sorted(r.probe for r in result.results) == sorted(PKI_DEFAULT)
    assert all(r.verdict is Verdict.PASS for r in result.results), describe(result)
    assert result.ok
    doc = result.to_dict()
    assert [u["version"] for u in doc["unsupported_versions"]] == ["1.3"]
