"""Reporters: what users and CI rely on in each output format."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from mtlscheck._errors import UsageError
from mtlscheck._model import (
    CertInfo,
    Commands,
    Finding,
    HandshakeFacts,
    Outcome,
    OutcomeKind,
    Phase,
    ProbeResult,
    RunResult,
    Severity,
    TargetResult,
    Verdict,
)
from mtlscheck._report import FORMATS, Reporter, get_reporter
from mtlscheck._report._base import short_http_reason, target_host
from mtlscheck._report.console import ConsoleReporter

URL = "https://api.internal:8443/health"
NOW = datetime(2026, 5, 1, tzinfo=UTC)
SERVER_CERT = CertInfo(
    subject="CN=api.internal",
    issuer="CN=Internal Server CA [prod]",  # brackets: must not be taken for rich markup
    not_before="2026-01-01T00:00:00+00:00",
    not_after="2026-05-08T00:00:00+00:00",  # 7 days after NOW: flagged
)
CA_DN = "CN=Client CA,O=Example"


def _facts(**kw: object) -> HandshakeFacts:
    base: dict[str, object] = {
        "protocol": "TLSv1.3",
        "cipher": "TLS_AES_256_GCM_SHA384",
        "cert_requested": True,
        "ca_names": (CA_DN,),
        "server_chain": (SERVER_CERT,),
        "handshake_completed": True,
        "hostname_matches": True,
    }
    base.update(kw)
    return HandshakeFacts(**base)  # type: ignore[arg-type]


def _probe(probe: str, verdict: Verdict, outcome: Outcome | None, **kw: object) -> ProbeResult:
    base: dict[str, object] = {
        "probe": probe,
        "target": URL,
        "tls_version": "1.3",
        "expected": "rejected",
        "verdict": verdict,
        "outcome": outcome,
        "curl": f"curl -sS -o /dev/null -w '%{{http_code}}' --tlsv1.3 {URL} # {probe}",
        "openssl": f"openssl s_client -connect api.internal:8443 -tls1_3 # {probe}",
        "duration_ms": 12.5,
    }
    base.update(kw)
    base["commands"] = Commands(str(base.pop("curl")), str(base.pop("openssl")))
    return ProbeResult(**base)  # type: ignore[arg-type]


NGINX_400 = Outcome(
    OutcomeKind.HTTP,
    status=400,
    detail="<html><head><title>400 No required SSL certificate was sent</title></head></html>",
)
LATE_ALERT = Outcome(
    OutcomeKind.TLS_ALERT, alert="unknown_ca", phase=Phase.AFTER_HANDSHAKE, detail="sslv3 alert"
)

PROBES = (
    _probe("no-cert", Verdict.PASS, NGINX_400, facts=_facts(client_cert_sent=False)),
    _probe(
        "valid",
        Verdict.PASS,
        Outcome(OutcomeKind.HTTP, status=200),
        expected="accepted",
        facts=_facts(client_cert_sent=True),
    ),
    _probe(
        "expired",
        Verdict.FAIL,
        Outcome(OutcomeKind.HTTP, status=200),
        facts=_facts(client_cert_sent=True),
    ),
    _probe(
        "wrong-ca",
        Verdict.PASS,
        LATE_ALERT,
        facts=_facts(client_cert_sent=True, alert_received="unknown_ca"),
    ),
    _probe(
        "revoked",
        Verdict.SKIP,
        None,
        reason="no CA key to sign a revoked certificate (--ca-key)",
        curl="",
        openssl="",
        duration_ms=0.0,
    ),
    _probe(
        "self-signed",
        Verdict.ERROR,
        Outcome(OutcomeKind.TLS_LOCAL, reason="untrusted", detail="certificate verify failed"),
        reason="our side refused the server certificate",
        facts=_facts(handshake_completed=False, server_verify_error="self-signed certificate"),
    ),
)
FINDINGS = (
    Finding(
        code="expired-cert-accepted",
        severity=Severity.ERROR,
        message="An expired client certificate was accepted.",
        evidence=("expired[tls1.3]",),
        fixes=(
            ("apache", "SSLVerifyClient require"),
            ("nginx", "ssl_verify_client on;\nssl_client_certificate /etc/ssl/ca.pem;"),
        ),
    ),
    Finding(
        code="revocation-not-checked",
        severity=Severity.WARNING,
        message="Revocation could not be tested.",
        evidence=("revoked[tls1.3]",),
        fixes=(("nginx", "ssl_crl /etc/ssl/ca.crl;"),),
    ),
)
TARGET = TargetResult(
    target=URL,
    results=PROBES,
    unsupported_versions=(("1.2", "handshake failed: protocol_version"),),
    findings=FINDINGS,
    server_profile="nginx",
    insecure=True,
)
OK_TARGET = TargetResult(
    target="https://ok.example",
    results=(
        ProbeResult(
            probe="no-cert",
            target="https://ok.example",
            tls_version=None,
            expected="rejected",
            verdict=Verdict.PASS,
            outcome=Outcome(
                OutcomeKind.TLS_ALERT, alert="certificate_required", phase=Phase.AFTER_HANDSHAKE
            ),
            facts=HandshakeFacts(protocol="TLSv1.2", cert_requested=True),
        ),
    ),
)
RUN = RunResult(targets=(TARGET, OK_TARGET))


def render(fmt: str, run: RunResult = RUN, *, verbose: bool = False, **kw: object) -> str:
    buf = io.StringIO()
    reporter: Reporter = (
        ConsoleReporter(now=NOW, **kw)  # type: ignore[arg-type]
        if fmt == "console"
        else get_reporter(fmt)
    )
    reporter.render(run, buf, verbose=verbose)
    return buf.getvalue()


@pytest.fixture(autouse=True)
def _plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS"):
        monkeypatch.delenv(var, raising=False)


# -- the interface -----------------------------------------------------------------------------


def test_formats_and_get_reporter() -> None:
    assert FORMATS == ("console", "json", "junit", "markdown", "sarif")
    for fmt in FORMATS:
        reporter = get_reporter(fmt)
        assert reporter.name == fmt
        assert isinstance(reporter, Reporter)
    assert get_reporter(" JSON ").name == "json"


def test_unknown_format_is_a_usage_error_listing_choices() -> None:
    with pytest.raises(UsageError) as exc:
        get_reporter("yaml")
    assert exc.value.exit_code == 2
    for fmt in FORMATS:
        assert fmt in str(exc.value)


def test_report_package_does_not_import_rich() -> None:
    code = (
        "import sys, io\n"
        "from mtlscheck._report import get_reporter\n"
        "from mtlscheck._model import RunResult\n"
        "for f in ('json', 'junit', 'markdown', 'sarif'):\n"
        "    get_reporter(f).render(RunResult(), io.StringIO())\n"
        "assert 'rich' not in sys.modules, sorted(m for m in sys.modules if 'rich' in m)\n"
        "get_reporter('console')\n"
        "assert 'rich' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- json --------------------------------------------------------------------------------------


def test_json_round_trips_with_everything_ci_needs() -> None:
    text = render("json")
    assert text.endswith("}\n")
    doc = json.loads(text)
    assert list(doc)[:2] == ["schema", "tool"]
    assert doc["schema"] == 1
    assert doc["ok"] is False
    assert doc["exit_code"] == 1
    t = doc["targets"][0]
    assert t["target"] == URL and t["insecure"] is True and t["server_profile"] == "nginx"
    assert t["unsupported_versions"] == [
        {"version": "1.2", "reason": "handshake failed: protocol_version"}
    ]
    probes = {p["probe"]: p for p in t["probes"]}
    assert [p["verdict"] for p in t["probes"]] == ["pass", "pass", "fail", "pass", "skip", "error"]
    assert probes["no-cert"]["outcome"]["kind"] == "http"
    assert probes["no-cert"]["outcome"]["status"] == 400
    late = probes["wrong-ca"]["outcome"]
    assert (late["kind"], late["alert"], late["phase"]) == (
        "tls-alert",
        "unknown_ca",
        "after-handshake",
    )
    assert probes["revoked"]["outcome"] is None
    assert "CA key" in probes["revoked"]["reason"]
    facts = probes["valid"]["facts"]
    assert facts["cert_requested"] is True
    assert facts["ca_names"] == [CA_DN]
    assert facts["server_chain"][0]["not_after"] == SERVER_CERT.not_after
    assert probes["expired"]["curl"].startswith("curl ")
    assert [f["code"] for f in t["findings"]] == ["expired-cert-accepted", "revocation-not-checked"]
    assert t["findings"][0]["fixes"]["nginx"].startswith("ssl_verify_client on;")


def test_json_is_stable() -> None:
    assert render("json") == render("json")
    assert render("json", verbose=True) == render("json")


# -- junit -------------------------------------------------------------------------------------


def test_junit_counts_and_names() -> None:
    root = ET.fromstring(render("junit"))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "7",
        "1",
        "1",
        "1",
    )
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [URL, "https://ok.example"]
    suite = suites[0]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("6", "1", "1")
    assert suite.get("skipped") == "1"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [p.name for p in PROBES]
    assert {c.get("classname") for c in cases} == {"mtlscheck.api.internal"}
    assert abs(float(cases[0].get("time", "")) - 0.0125) < 0.001
    assert suites[1].find("testcase").get("name") == "no-cert"  # type: ignore[union-attr]


def test_junit_failure_error_skip_elements() -> None:
    suite = ET.fromstring(render("junit")).findall("testsuite")[0]
    by_name = {c.get("name"): c for c in suite.findall("testcase")}
    for passed in ("no-cert[tls1.3]", "valid[tls1.3]", "wrong-ca[tls1.3]"):
        assert len(by_name[passed]) == 0
    failure = by_name["expired[tls1.3]"].find("failure")
    assert failure is not None
    assert failure.get("message") == "expected rejected, got http 200"
    assert "curl -sS" in (failure.text or "")
    error = by_name["self-signed[tls1.3]"].find("error")
    assert error is not None and error.get("message") == "our side refused the server certificate"
    skipped = by_name["revoked[tls1.3]"].find("skipped")
    assert skipped is not None and "CA key" in (skipped.get("message") or "")
    out = suite.findtext("system-out") or ""
    assert "expired-cert-accepted" in out and "revocation-not-checked" in out
    assert "NOT verified" in out and "TLS 1.2: not offered" in out


def test_junit_survives_control_characters() -> None:
    garbage = Outcome(OutcomeKind.NOT_TLS, detail="HTTP/1.1 400\x00\x07\x1b[0m")
    probe = _probe("no-cert", Verdict.FAIL, garbage)
    run = RunResult(targets=(TargetResult(target=URL, results=(probe,)),))
    root = ET.fromstring(render("junit", run))
    assert root.get("failures") == "1"


# -- console -----------------------------------------------------------------------------------


def test_console_plain_output_has_the_essentials() -> None:
    text = render("console", color=False)
    assert "\x1b" not in text
    assert URL in text and "nginx" in text
    assert "server certificate NOT verified (--insecure)" in text
    for p in PROBES:
        assert p.probe in text  # one row per probe, one column per TLS version
    assert "TLS 1.3" in text
    assert "http 400 (No required SSL certificate was sent)" in text
    assert "tls-alert unknown_ca (after-handshake)" in text
    assert "tls-local untrusted" in text
    assert "skipped: no CA key to sign a revoked certificate (--ca-key)" in text
    assert "3 passed, 1 failed, 1 skipped, 1 error" in text
    # the passing target is in the summary table; its details only with -v
    assert "https://ok.example" in text and "1 target met every expectation" in text
    assert "1 passed, 0 failed, 0 skipped, 0 errors" in render("console", color=False, verbose=True)
    assert "TLS 1.2: not offered by the server — handshake failed: protocol_version" in text
    assert "expired-cert-accepted" in text and "revocation-not-checked" in text
    assert "evidence: expired[tls1.3]" in text
    assert all(line == line.rstrip() for line in text.splitlines())
    assert max(len(line) for line in text.splitlines()) <= 120


def test_console_handshake_panel() -> None:
    text = render("console", color=False)
    assert "Handshake (from valid[tls1.3])" in text
    assert "TLS_AES_256_GCM_SHA384" in text
    assert "client certificate requested  yes" in text
    assert CA_DN in text
    assert "CN=Internal Server CA [prod]" in text  # not eaten as markup
    assert "expires in 7 days" in text
    # second target (details with -v): requested, but with an empty CA list
    assert "none sent (empty list)" in render("console", color=False, verbose=True)


def test_console_flags_expired_server_cert_and_missing_request() -> None:
    old = CertInfo("CN=old", "CN=ca", "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z")
    probe = _probe(
        "valid",
        Verdict.FAIL,
        Outcome(OutcomeKind.HTTP, status=200),
        facts=_facts(cert_requested=False, ca_names=(), server_chain=(old,)),
    )
    run = RunResult(targets=(TargetResult(target=URL, results=(probe,)),))
    text = render("console", run, color=False)
    assert "EXPIRED" in text
    assert "client certificate requested  no" in text


def test_console_fixes_for_the_server_profile_only() -> None:
    nginx = render("console", color=False)
    assert "fix (nginx)" in nginx and "fix (apache)" not in nginx
    apache_target = TargetResult(
        target=URL, results=PROBES, findings=FINDINGS, server_profile="apache"
    )
    apache = render("console", RunResult(targets=(apache_target,)), color=False)
    assert "fix (apache)" in apache
    # revocation-not-checked has no Apache fix: rather all fixes than none
    assert "ssl_crl /etc/ssl/ca.crl;" in apache
    generic = render(
        "console",
        RunResult(targets=(replace(apache_target, server_profile="generic"),)),
        color=False,
    )
    assert generic.index("fix (apache)") < generic.index("fix (nginx)")


def test_console_curl_of_failing_probes_only_unless_verbose() -> None:
    def curl(p: str) -> str:
        return next(r.curl for r in PROBES if r.probe == p)

    text = render("console", color=False)
    assert curl("expired") in text and curl("self-signed") in text
    assert curl("valid") not in text and "openssl s_client" not in text

    verbose = render("console", color=False, verbose=True)
    for r in PROBES:
        assert r.curl in verbose
        assert r.openssl in verbose
    assert "alert received: unknown_ca (after-handshake)" in verbose
    assert "client certificate sent: yes" in verbose
    assert "server verify error: self-signed certificate" in verbose


def test_console_colour_is_forced_or_follows_the_terminal() -> None:
    assert "\x1b[" in render("console", color=True)
    assert "\x1b" not in render("console", color=None)  # StringIO is not a terminal

    class FakeTTY(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = FakeTTY()
    ConsoleReporter(color=None, width=100).render(RUN, tty)
    assert "\x1b[" in tty.getvalue()
    tty = FakeTTY()
    ConsoleReporter(color=False, width=100).render(RUN, tty)
    assert "\x1b" not in tty.getvalue()


def test_console_honours_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("FORCE_COLOR", "1")  # forces a terminal, but colours stay off
    text = render("console", color=None)
    assert "\x1b[31m" not in text and "\x1b[1;31m" not in text and "\x1b[32m" not in text


def test_console_unreachable_and_empty() -> None:
    refused = _probe("no-cert", Verdict.ERROR, Outcome(OutcomeKind.CONNECT, reason="refused"))
    run = RunResult(targets=(TargetResult(target=URL, results=(refused,)),))
    assert render("console", run, color=False).strip() == (
        f"Target {URL}  nothing listening (connect refused)"
    )
    assert "No probe reached a TLS server" in render("console", run, color=False, verbose=True)
    assert "No targets" in render("console", RunResult(), color=False)


# -- markdown ----------------------------------------------------------------------------------


def test_markdown_table_and_findings() -> None:
    expect_alt = _probe("no-cert", Verdict.PASS, NGINX_400, expected="400|403")
    run = RunResult(targets=(TargetResult(target=URL, results=(expect_alt,)), TARGET))
    text = render("markdown", run, verbose=True)  # the passing target's table needs -v
    assert "| Probe | TLS | Expected | Actual | Verdict |" in text
    assert "`400\\|403`" in text  # pipes escaped: the table keeps its five columns
    for line in text.splitlines():
        if line.startswith("| `"):
            assert line.replace("\\|", "").count("|") == 6
    assert "server certificate NOT verified (--insecure)" in text
    assert "`expired-cert-accepted`" in text
    assert "3 passed, 1 failed, 1 skipped, 1 error" in text
    verbose = render("markdown", verbose=True)
    assert all(r.curl in verbose for r in PROBES)


# -- helpers -----------------------------------------------------------------------------------


def test_helpers() -> None:
    plain = Outcome(OutcomeKind.HTTP, status=400, detail="The SSL certificate error")
    assert short_http_reason(plain) == "The SSL certificate error"
    assert short_http_reason(Outcome(OutcomeKind.HTTP, status=400, detail="Bad Request")) == ""
    assert short_http_reason(Outcome(OutcomeKind.HTTP, status=403, detail="x")) == ""
    assert target_host("https://api.internal:8443/x") == "api.internal"
    assert target_host("[::1]:443") == "::1"
    assert target_host("api.internal") == "api.internal"
