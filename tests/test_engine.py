"""The probe engine against the built-in reference server: rare paths and identity formats.

Covers what the real-server tests cannot set up cheaply: what each probe presented (the
reference server records the client certificate per request), our side refusing the server
(untrusted, hostname mismatch, ``--insecure``), the expectation language, and the identity file
formats (PKCS#12, DER, combined PEM).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import mtlscheck
from mtlscheck._cli import main
from mtlscheck._errors import UsageError
from mtlscheck._expect import Expectation
from mtlscheck._model import Outcome, OutcomeKind, Phase, ProbeResult, TargetResult, Verdict
from mtlscheck._pki import PKI, init_pki
from mtlscheck._server import ReferenceServer

P12_PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    p, password = init_pki(tmp_path_factory.mktemp("engine") / "pki", p12_password=P12_PASSWORD)
    assert password == P12_PASSWORD
    return p


@pytest.fixture(scope="module")
def apache_ref(pki: PKI) -> Iterator[ReferenceServer]:
    with ReferenceServer.from_pki_dir(pki.directory, mode="apache") as srv:
        yield srv


@pytest.fixture(scope="module")
def nginx_ref(pki: PKI) -> Iterator[ReferenceServer]:
    with ReferenceServer.from_pki_dir(pki.directory, mode="nginx") as srv:
        yield srv


def subject(path: Path) -> str:
    return x509.load_pem_x509_certificate(path.read_bytes()).subject.rfc4514_string()


def one(result: TargetResult) -> ProbeResult:
    assert len(result.results) == 1, result.results
    return result.results[0]


# --------------------------------------------------------------------------- TLS 1.3 late reject


def test_apache_tls13_no_cert_is_alert_after_handshake(
    apache_ref: ReferenceServer, pki: PKI
) -> None:
    r = one(mtlscheck.check(apache_ref.url, pki=pki.directory, tls="1.3", probes=["no-cert"]))
    assert r.outcome == Outcome(
        OutcomeKind.TLS_ALERT,
        alert="certificate_required",
        phase=Phase.AFTER_HANDSHAKE,
        detail=r.outcome.detail if r.outcome else "",
    )
    assert r.verdict is Verdict.PASS
    assert r.facts is not None and r.facts.handshake_completed
    assert r.facts.alert_received == "certificate_required"


def test_apache_tls12_no_cert_is_alert_in_handshake(apache_ref: ReferenceServer, pki: PKI) -> None:
    r = one(mtlscheck.check(apache_ref.url, pki=pki.directory, tls="1.2", probes=["no-cert"]))
    assert r.outcome is not None
    assert (r.outcome.kind, r.outcome.alert, r.outcome.phase) == (
        OutcomeKind.TLS_ALERT,
        "handshake_failure",
        Phase.HANDSHAKE,
    )
    assert r.facts is not None and not r.facts.handshake_completed
    assert r.facts.cert_requested


def test_apache_profile_does_not_accept_an_http_rejection(
    nginx_ref: ReferenceServer, pki: PKI
) -> None:
    r = one(
        mtlscheck.check(
            nginx_ref.url, pki=pki.directory, tls="1.3", probes=["no-cert"], server="apache"
        )
    )
    assert r.outcome is not None and r.outcome.status == 400
    assert r.verdict is Verdict.FAIL


# --------------------------------------------------------------------------- what each probe sends


def test_each_probe_presents_its_identity(nginx_ref: ReferenceServer, pki: PKI) -> None:
    """nginx mode answers every probe over HTTP and records the certificate it was shown."""
    before = len(nginx_ref.requests)
    result = mtlscheck.check(
        nginx_ref.url,
        pki=pki.directory,
        tls="1.3",
        server="nginx",
        workers=1,
        probes=["no-cert", "valid", "expired", "wrong-ca"],
    )
    seen = nginx_ref.requests[before:]
    assert [r.probe for r in result.results] == ["no-cert", "valid", "expired", "wrong-ca"]
    assert len(seen) == 4
    by_verify = {rec.client_subject: rec.verify for rec in seen}
    assert by_verify[None] == "NONE"
    valid_subject = subject(pki.role("valid").cert)
    assert by_verify[valid_subject] == "SUCCESS"
    failed = [rec for rec in seen if rec.verify.startswith("FAILED:")]
    assert len(failed) == 2
    assert any("expired" in rec.verify for rec in failed), failed
    assert all(rec.protocol == "TLSv1.3" for rec in seen)
    assert {rec.status for rec in seen} == {200, 400}
    assert all(r.verdict is Verdict.PASS for r in result.results)


def test_expired_skipped_without_ca_key(apache_ref: ReferenceServer, pki: PKI) -> None:
    valid = pki.role("valid")
    result = mtlscheck.check(
        apache_ref.url, cert=valid.cert, key=valid.key, cacert=pki.ca_cert, tls="1.3"
    )
    expired = next(r for r in result.results if r.probe == "expired")
    assert expired.verdict is Verdict.SKIP and expired.outcome is None
    assert "ca" in expired.reason.lower()
    assert result.ok  # a skip is not a failure


# --------------------------------------------------------------------------- our side refuses


def test_hostname_mismatch_is_tls_local_error(apache_ref: ReferenceServer, pki: PKI) -> None:
    before = len(apache_ref.requests)
    result = mtlscheck.check(
        apache_ref.url, pki=pki.directory, tls="1.3", probes=["valid"], servername="wrong.example"
    )
    r = one(result)
    assert r.outcome is not None
    assert (r.outcome.kind, r.outcome.reason) == (OutcomeKind.TLS_LOCAL, "hostname-mismatch")
    assert r.verdict is Verdict.ERROR
    assert r.facts is not None and r.facts.hostname_matches is False
    assert len(apache_ref.requests) == before, "no request is sent to a server we refused"
    assert not result.ok and result.reachable


def test_untrusted_server_uses_system_store(apache_ref: ReferenceServer, pki: PKI) -> None:
    valid = pki.role("valid")
    before = len(apache_ref.requests)
    result = mtlscheck.check(
        apache_ref.url, cert=valid.cert, key=valid.key, tls="1.3", probes=["valid", "no-cert"]
    )
    for r in result.results:
        assert r.outcome is not None
        assert (r.outcome.kind, r.outcome.reason) == (
            OutcomeKind.TLS_LOCAL,
            "server-cert-untrusted",
        )
        assert r.verdict is Verdict.ERROR
        assert r.facts is not None and r.facts.server_verify_error
        # The facts are recorded anyway: this is what the user needs to see.
        assert r.facts.server_chain and r.facts.cert_requested
    assert len(apache_ref.requests) == before
    assert result.insecure is False


def test_untrusted_server_cli_exit_1(
    apache_ref: ReferenceServer, pki: PKI, capsys: pytest.CaptureFixture[str]
) -> None:
    valid = pki.role("valid")
    rc = main(["probe", apache_ref.url, "--cert", str(valid.cert), "--key", str(valid.key),
               "--tls", "1.3", "-p", "valid", "--format", "json"])  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert doc["targets"][0]["probes"][0]["verdict"] == "error"


def test_insecure_proceeds_and_says_so(apache_ref: ReferenceServer, pki: PKI) -> None:
    valid = pki.role("valid")
    result = mtlscheck.check(
        apache_ref.url,
        cert=valid.cert,
        key=valid.key,
        insecure=True,
        tls="1.3",
        probes=["valid", "no-cert"],
    )
    assert result.insecure is True
    res = {r.probe: r for r in result.results}
    assert res["valid"].outcome is not None and res["valid"].outcome.status == 200
    assert res["no-cert"].outcome is not None
    assert res["no-cert"].outcome.alert == "certificate_required"
    assert all(r.verdict is Verdict.PASS for r in result.results)
    # The server chain and why it is untrusted are still recorded.
    facts = res["valid"].facts
    assert facts is not None and facts.server_verify_error and facts.server_chain
    assert result.to_dict()["insecure"] is True
    assert "-k" in res["valid"].curl.split() or "--insecure" in res["valid"].curl


def test_resolve_connects_elsewhere_but_checks_the_url_host(
    apache_ref: ReferenceServer, pki: PKI, capsys: pytest.CaptureFixture[str]
) -> None:
    port = apache_ref.port
    common = ["--pki", str(pki.directory), "--tls", "1.3", "-p", "valid", "--format", "json"]
    rc = main(["probe", f"https://localhost:{port}/", "--resolve", f"localhost:{port}:127.0.0.1",
               *common])  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0, doc
    rc = main(["probe", f"https://wrong.example:{port}/",
               "--resolve", f"wrong.example:{port}:127.0.0.1", *common])  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert doc["targets"][0]["probes"][0]["outcome"]["reason"] == "hostname-mismatch"


# --------------------------------------------------------------------------- expectations


@pytest.mark.parametrize(
    ("expr", "outcome", "matches"),
    [
        ("200", Outcome(OutcomeKind.HTTP, status=200), True),
        ("200", Outcome(OutcomeKind.HTTP, status=204), False),
        ("2xx", Outcome(OutcomeKind.HTTP, status=204), True),
        ("2xx", Outcome(OutcomeKind.HTTP, status=302), False),
        ("400|403", Outcome(OutcomeKind.HTTP, status=403), True),
        ("400|403", Outcome(OutcomeKind.HTTP, status=401), False),
        ("accepted", Outcome(OutcomeKind.HTTP, status=302), True),
        ("accepted", Outcome(OutcomeKind.HTTP, status=400), False),
        ("accepted", Outcome(OutcomeKind.TLS_ALERT, alert="unknown_ca"), False),
        ("rejected", Outcome(OutcomeKind.HTTP, status=400), True),
        ("rejected", Outcome(OutcomeKind.HTTP, status=496), True),
        ("rejected", Outcome(OutcomeKind.HTTP, status=200), False),
        ("rejected", Outcome(OutcomeKind.HTTP, status=500), False),
        ("rejected", Outcome(OutcomeKind.TLS_ALERT, alert="bad_certificate"), True),
        ("rejected", Outcome(OutcomeKind.CONNECT, reason="reset", phase=Phase.HANDSHAKE), True),
        ("rejected", Outcome(OutcomeKind.CONNECT, reason="refused"), False),
        ("rejected", Outcome(OutcomeKind.CONNECT, reason="timeout"), False),
        ("rejected", Outcome(OutcomeKind.TLS_LOCAL, reason="server-cert-untrusted"), False),
        ("rejected", Outcome(OutcomeKind.NOT_TLS), False),
        ("alert:unknown_ca", Outcome(OutcomeKind.TLS_ALERT, alert="unknown_ca"), True),
        ("alert:unknown_ca", Outcome(OutcomeKind.TLS_ALERT, alert="bad_certificate"), False),
        ("alert:unknown_ca", Outcome(OutcomeKind.HTTP, status=400), False),
        (
            "alert@after-handshake",
            Outcome(OutcomeKind.TLS_ALERT, alert="x", phase=Phase.AFTER_HANDSHAKE),
            True,
        ),
        (
            "alert@after-handshake",
            Outcome(OutcomeKind.TLS_ALERT, alert="x", phase=Phase.HANDSHAKE),
            False,
        ),
        (
            "alert:certificate_required@after-handshake",
            Outcome(
                OutcomeKind.TLS_ALERT, alert="certificate_required", phase=Phase.AFTER_HANDSHAKE
            ),
            True,
        ),
        ("ALERT:Unknown_CA", Outcome(OutcomeKind.TLS_ALERT, alert="unknown_ca"), True),
        ("connect:refused", Outcome(OutcomeKind.CONNECT, reason="refused"), True),
        ("not-tls", Outcome(OutcomeKind.NOT_TLS), True),
    ],
)
def test_expectation_matching(expr: str, outcome: Outcome, matches: bool) -> None:
    assert Expectation.parse(expr).matches(outcome) is matches


def test_expectation_canonical_form() -> None:
    assert str(Expectation.parse(" 400 | 403 ")) == "400|403"
    assert str(Expectation.parse("Alert:Unknown_CA")) == "alert:unknown_ca"


@pytest.mark.parametrize(
    "expr",
    ["", "|", "200|", "20", "600", "2xxx", "ok", "alert:", "alert:no_such_alert",
     "alert@during", "connect:maybe", "400 403", "accepted rejected"],
)  # fmt: skip
def test_bad_expectation_raises_usage_error(expr: str) -> None:
    with pytest.raises(UsageError):
        Expectation.parse(expr)


def test_expect_override_via_api(apache_ref: ReferenceServer, pki: PKI) -> None:
    r = one(
        mtlscheck.check(
            apache_ref.url,
            pki=pki.directory,
            tls="1.3",
            probes=["wrong-ca"],
            expect={"wrong-ca": "alert:unknown_ca@after-handshake"},
        )
    )
    assert r.expected == "alert:unknown_ca@after-handshake"
    assert r.verdict is Verdict.PASS


# --------------------------------------------------------------------------- identity formats


def _valid_passes(
    apache_ref: ReferenceServer, pki: PKI, capsys: pytest.CaptureFixture[str], *args: str
) -> dict[str, object]:
    rc = main(["probe", apache_ref.url, "--cacert", str(pki.ca_cert), "--tls", "1.3",
               "-p", "valid", "--format", "json", *args])  # fmt: skip
    cap = capsys.readouterr()
    assert rc == 0, cap.err + cap.out
    p = json.loads(cap.out)["targets"][0]["probes"][0]
    assert p["outcome"]["status"] == 200 and p["facts"]["client_cert_sent"] is True
    return p


def test_pkcs12_identity(
    apache_ref: ReferenceServer,
    pki: PKI,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert pki.p12 is not None
    monkeypatch.setenv("MTLSCHECK_T_P12", P12_PASSWORD)
    before = len(apache_ref.requests)
    _valid_passes(
        apache_ref, pki, capsys, "--cert", str(pki.p12), "--key-password-env", "MTLSCHECK_T_P12"
    )
    assert apache_ref.requests[before].client_subject == subject(pki.role("valid").cert)


def test_pkcs12_wrong_password(
    pki: PKI, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MTLSCHECK_T_P12", "wrong")
    rc = main(["probe", "https://127.0.0.1:1/", "--cert", str(pki.p12),
               "--key-password-env", "MTLSCHECK_T_P12"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("mtlscheck: error:") and "PKCS#12" in err and "Traceback" not in err


def test_pkcs12_without_password_is_a_clear_error(
    pki: PKI, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["probe", "https://127.0.0.1:1/", "--cert", str(pki.p12)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "--key-password-env" in err and "Traceback" not in err


def test_der_certificate_and_key(
    apache_ref: ReferenceServer, pki: PKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    valid = pki.role("valid")
    assert valid.key is not None
    cert = x509.load_pem_x509_certificate(valid.cert.read_bytes())
    key = serialization.load_pem_private_key(valid.key.read_bytes(), None)
    (tmp_path / "c.der").write_bytes(cert.public_bytes(serialization.Encoding.DER))
    (tmp_path / "k.der").write_bytes(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    _valid_passes(
        apache_ref, pki, capsys, "--cert", str(tmp_path / "c.der"), "--key", str(tmp_path / "k.der")
    )


def test_combined_pem(
    apache_ref: ReferenceServer, pki: PKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    valid = pki.role("valid")
    assert valid.key is not None
    combined = tmp_path / "combined.pem"
    combined.write_bytes(valid.cert.read_bytes() + valid.key.read_bytes())
    _valid_passes(apache_ref, pki, capsys, "--cert", str(combined))


def test_encrypted_key_with_right_password(
    apache_ref: ReferenceServer,
    pki: PKI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    valid = pki.role("valid")
    assert valid.key is not None
    key = serialization.load_pem_private_key(valid.key.read_bytes(), None)
    enc = tmp_path / "enc.key"
    enc.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw-123"),
        )
    )
    monkeypatch.setenv("MTLSCHECK_T_KEYPW", "pw-123")
    _valid_passes(
        apache_ref,
        pki,
        capsys,
        "--cert",
        str(valid.cert),
        "--key",
        str(enc),
        "--key-password-env",
        "MTLSCHECK_T_KEYPW",
    )


def test_intermediate_chain_in_cert_file(
    apache_ref: ReferenceServer, pki: PKI, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cert file holding leaf + intermediate: the chain is sent and the server accepts."""
    inter = pki.role("intermediate")
    assert inter.chain is not None and inter.key is not None
    _valid_passes(apache_ref, pki, capsys, "--cert", str(inter.chain), "--key", str(inter.key))
