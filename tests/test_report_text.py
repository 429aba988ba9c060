"""The one plain-text renderer (mtlscheck/_report/_text.py) and where it shows up: JUnit,
Markdown and the pytest failure text say the same things in the same words."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

from test_report import PROBES, RUN, TARGET

from mtlscheck._model import AuthVerdict, Finding, RunResult, Severity, TargetResult
from mtlscheck._report import get_reporter
from mtlscheck._report._text import (
    finding_lines,
    fix_plan,
    fixes_for_profile,
    most_severe,
    probe_lines,
    verdict_line,
)

FIXES = (
    ("nginx", "ssl_verify_client on;"),
    ("apache", "SSLVerifyClient require"),
    ("client", "pass --cacert"),
)


def test_fixes_for_the_chosen_server_only_and_all_for_generic() -> None:
    assert fixes_for_profile(FIXES, "generic") == list(FIXES)
    assert fixes_for_profile(FIXES, "apache") == [FIXES[1], FIXES[2]]
    assert fixes_for_profile(FIXES, "nginx") == [FIXES[0], FIXES[2]]
    # no fix for this server: every fix rather than none
    assert fixes_for_profile(FIXES, "tomcat") == list(FIXES)
    assert fixes_for_profile((("client", "x"),), "nginx") == [("client", "x")]


def test_a_fix_shared_by_several_findings_is_shown_once() -> None:
    shared = ("nginx", "ssl_verify_client on;")
    findings = [
        Finding("expired-cert-accepted", Severity.ERROR, "expired got in", fixes=(shared,)),
        Finding("foreign-ca-accepted", Severity.ERROR, "wrong-ca got in", fixes=(shared,)),
    ]
    plan = fix_plan(findings, "nginx")
    assert [fx.same_as for _, fixes in plan for fx in fixes] == [None, "expired-cert-accepted"]
    lines = finding_lines(findings, "nginx")
    assert sum("ssl_verify_client on;" in line for line in lines) == 1
    assert "      fix (nginx): as for expired-cert-accepted above" in lines


def test_multi_line_fixes_are_indented_under_their_label() -> None:
    lines = finding_lines(TARGET.findings, "nginx")
    i = lines.index("      fix (nginx): ssl_verify_client on;")
    assert lines[i + 1] == "          ssl_client_certificate /etc/ssl/ca.pem;"


def test_probe_lines_and_verdict_line() -> None:
    expired = next(r for r in PROBES if r.probe == "expired")
    lines = probe_lines(expired)
    assert lines[:2] == ["expected: rejected", "actual: http 200"]
    assert any(line.startswith("handshake: protocol TLSv1.3; cipher ") for line in lines)
    assert lines[-1].startswith("reproduce: curl ")
    assert not any(line.startswith("openssl:") for line in lines)
    assert probe_lines(expired, openssl=True)[-1].startswith("openssl: openssl s_client")
    t = TargetResult("https://x/", (), auth_verdict=AuthVerdict.OFF, auth_reason="no request")
    assert verdict_line(t) == "client auth: off (no request)"
    assert most_severe(TARGET) is TARGET.findings[0]
    assert most_severe(t) is None


def test_junit_and_pytest_text_share_the_renderer() -> None:
    from mtlscheck._pytest_support import ProbeRun

    buf = io.StringIO()
    get_reporter("junit").render(RUN, buf)
    suite = ET.fromstring(buf.getvalue()).findall("testsuite")[0]
    failure = next(c for c in suite.findall("testcase") if c.get("name") == "expired[tls1.3]")
    body = failure.findtext("failure") or ""
    expired = next(r for r in PROBES if r.probe == "expired")
    for line in probe_lines(expired, expected=False):
        assert line in body
    pytest_text = "\n".join(ProbeRun.of(TARGET).explain("rejected"))
    out = suite.findtext("system-out") or ""
    for line in finding_lines(TARGET.findings, "nginx", limit=2):
        assert line in pytest_text
        assert line in out


def test_junit_properties_carry_the_layered_verdict() -> None:
    t = TargetResult(
        "https://gw.example/",
        TARGET.results,
        auth_verdict=AuthVerdict.ENFORCED_HTTP,
        auth_reason="the TLS layer lets no-cert through and HTTP refuses it",
    )
    buf = io.StringIO()
    get_reporter("junit").render(RunResult(targets=(t,)), buf)
    suite = ET.fromstring(buf.getvalue()).find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["verdict"] == "enforced-http"
    assert props["verdict_reason"] == "the TLS layer lets no-cert through and HTTP refuses it"
    assert "client auth: enforced-http" in (suite.findtext("system-out") or "")


def _markdown(run: RunResult, verbose: bool = False) -> str:
    buf = io.StringIO()
    get_reporter("markdown").render(run, buf, verbose=verbose)
    return buf.getvalue()


def test_markdown_summary_table_comes_first_for_several_targets() -> None:
    from test_report import OK_TARGET

    bad = TargetResult(
        TARGET.target,
        TARGET.results,
        findings=TARGET.findings,
        server_profile="nginx",
        auth_verdict=AuthVerdict.FAIL_OPEN,
        auth_reason="a certificate is requested, but expired got in",
    )
    text = _markdown(RunResult((bad, OK_TARGET)))
    lines = text.splitlines()
    assert lines[0] == "## mtlscheck: 2 targets"
    assert lines[2] == "| Target | Client auth | Passed | Failed | Most severe finding |"
    assert lines[4] == (
        f"| `{TARGET.target}` | 🔴 `fail-open` | 3 | 2 | 🔴 error `expired-cert-accepted` (+1) |"
    )
    assert lines[5] == "| `https://ok.example` | ⚪ `inconclusive` | 1 | 0 | — |"
    # then the failed target's section only; the passing one with -v
    assert f"### mtlscheck: `{TARGET.target}`" in text
    assert "### mtlscheck: `https://ok.example`" not in text
    assert "### mtlscheck: `https://ok.example`" in _markdown(RunResult((bad, OK_TARGET)), True)
    verdict = "**Client auth:** 🔴 `fail-open` — a certificate is requested, but expired got in"
    assert verdict in text
    # one target: no summary table, straight to its section
    assert _markdown(RunResult((bad,))).startswith(f"### mtlscheck: `{TARGET.target}`")


def test_markdown_fixes_once_and_details_from_the_shared_renderer() -> None:
    shared = ("nginx", "ssl_verify_client on;")
    findings = (
        Finding("expired-cert-accepted", Severity.ERROR, "expired got in", fixes=(shared,)),
        Finding("foreign-ca-accepted", Severity.ERROR, "wrong-ca got in", fixes=(shared,)),
    )
    t = TargetResult(TARGET.target, TARGET.results, findings=findings, server_profile="nginx")
    text = _markdown(RunResult((t,)))
    assert text.count("`ssl_verify_client on;`") == 1
    assert "  - fix (nginx): as for `expired-cert-accepted` above" in text
    expired = next(r for r in PROBES if r.probe == "expired")
    for line in probe_lines(expired, commands=False):
        assert f"\n{line}\n" in text
    assert f"\n{expired.curl}\n" in text


def test_a_refused_tls_version_has_a_fix_for_every_named_server() -> None:
    """A Tomcat or Go user told a version is not offered gets their server's setting, not
    every other server's (the fallback when a finding has no fix for the profile)."""
    from mtlscheck._fixes import fixes_for

    for code in ("tls13-not-offered", "tls12-not-offered"):
        fixes = fixes_for(code)
        for server in ("nginx", "apache", "haproxy", "caddy", "tomcat", "go"):
            shown = fixes_for_profile(fixes, server)
            assert [s for s, _ in shown] == [server], (code, server, shown)
