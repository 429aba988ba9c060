"""The console report for fleets and for one target.

Several targets: a summary table (target, layered verdict, passed/failed, most severe finding)
first, then details for the failed targets only (all with -v).  One target: a probe x TLS
version matrix, fixes for the chosen --server only and each once, wrapped finding text
indented, and one line for a port where nothing listens.  Checked on built results and on a
real nginx fleet through the CLI.
"""

from __future__ import annotations

import io
import re
import socket
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from servers import NginxServer
from test_report import NOW, OK_TARGET, PROBES, TARGET, _facts, _probe

from mtlscheck._cli import main
from mtlscheck._model import (
    AuthVerdict,
    Finding,
    Outcome,
    OutcomeKind,
    ProbeResult,
    RunResult,
    Severity,
    TargetResult,
    Verdict,
)
from mtlscheck._pki import PKI
from mtlscheck._report.console import ConsoleReporter

V = AuthVerdict
REFUSED_URL = "https://localhost:1/"


@pytest.fixture(autouse=True)
def _plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS"):
        monkeypatch.delenv(var, raising=False)


def render(run: RunResult, *, verbose: bool = False, width: int | None = None) -> str:
    buf = io.StringIO()
    ConsoleReporter(color=False, now=NOW, width=width).render(run, buf, verbose=verbose)
    return buf.getvalue()


def _refused() -> TargetResult:
    results = tuple(
        ProbeResult(p, REFUSED_URL, v, "rejected", Verdict.ERROR,
                    Outcome(OutcomeKind.CONNECT, reason="refused"))
        for p in ("no-cert", "valid", "expired", "wrong-ca") for v in ("1.2", "1.3")
    )  # fmt: skip
    finding = Finding("connection-refused", Severity.ERROR, "nothing listens on port 1")
    return TargetResult(REFUSED_URL, results, findings=(finding,))


def _two_versions() -> TargetResult:
    results = []
    for r in PROBES[:4]:
        for v in ("1.2", "1.3"):
            results.append(replace(r, tls_version=v))
    return TargetResult(
        TARGET.target,
        tuple(results),
        findings=TARGET.findings,
        server_profile="nginx",
        auth_verdict=V.FAIL_OPEN,
        auth_reason="a certificate is requested, but expired got in",
    )


def test_several_targets_summary_first_then_failed_details() -> None:
    ok = replace(OK_TARGET, auth_verdict=V.ENFORCED_TLS)
    run = RunResult((_two_versions(), ok, _refused()))
    text = render(run)
    lines = text.splitlines()
    assert re.match(r"target\s+client auth\s+passed/failed\s+most severe finding", lines[0])
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:5]}
    assert rows[TARGET.target][:4] == ["fail-open", "6/2", "error", "expired-cert-accepted"]
    assert rows[TARGET.target][4] == "(+1)"
    assert rows["https://ok.example"] == ["enforced-tls", "1/0", "-"]
    assert rows[REFUSED_URL] == ["inconclusive", "0/8", "error", "connection-refused"]
    assert "client auth: 1 enforced-tls, 1 fail-open, 1 inconclusive" in text
    # details: the failed targets only, after the table; the refused one is one line
    assert text.index("Target " + TARGET.target) > text.index("client auth: 1 enforced-tls")
    assert "Target https://ok.example" not in text
    assert f"Target {REFUSED_URL}  nothing listening (connect refused)" in lines
    assert "1 target met every expectation (-v shows their details)" in text
    verbose = render(run, verbose=True)
    assert "Target https://ok.example" in verbose
    assert "No probe reached a TLS server: nothing listening (connect refused)" in verbose


def test_one_target_is_a_probe_by_tls_version_matrix() -> None:
    text = render(RunResult((_two_versions(),)))
    assert "client auth: fail-open (a certificate is requested, but expired got in)" in text
    header = next(line for line in text.splitlines() if line.startswith("probe"))
    assert re.match(r"probe\s+expected\s+TLS 1\.2\s+TLS 1\.3$", header)
    rows = [line for line in text.splitlines() if line.startswith(("no-cert ", "expired "))]
    assert len(rows) == 2  # one row per probe, not one per probe and version
    assert re.match(r"no-cert\s+rejected\s+pass http 400 .*pass http 400", rows[0])
    assert re.match(r"expired\s+rejected\s+FAIL http 200\s+FAIL http 200$", rows[1])
    assert "[tls1.2]" not in header


def test_a_shared_fix_is_printed_once_and_others_servers_not_at_all() -> None:
    fixes = (("nginx", "ssl_verify_client on;"), ("apache", "SSLVerifyClient require"))
    findings = (
        Finding("expired-cert-accepted", Severity.ERROR, "expired got in", fixes=fixes),
        Finding("foreign-ca-accepted", Severity.ERROR, "wrong-ca got in", fixes=fixes),
    )
    t = replace(TARGET, findings=findings, server_profile="nginx")
    text = render(RunResult((t,)))
    assert text.count("ssl_verify_client on;") == 1
    assert "fix (nginx): as for expired-cert-accepted above" in text
    assert "SSLVerifyClient" not in text
    generic = render(RunResult((replace(t, server_profile="generic"),)))
    assert generic.count("ssl_verify_client on;") == 1
    assert generic.count("SSLVerifyClient require") == 1


def test_wrapped_finding_text_is_indented() -> None:
    long = " ".join(["the server lets clients without a certificate in"] * 4)
    fix = "ssl_verify_client on;  " + " ".join(["instead of optional"] * 6)
    f = Finding("client-auth-optional", Severity.ERROR, long, evidence=("no-cert[tls1.3]",),
                fixes=(("nginx", fix),))  # fmt: skip
    text = render(RunResult((replace(TARGET, findings=(f,)),)), width=70)
    block = text[text.index("Findings") :].splitlines()[1:]
    block = block[: next(i for i, line in enumerate(block) if not line.strip())]
    assert block[0].startswith("ERROR   client-auth-optional: ")
    message = [line for line in block[1:] if not line.lstrip().startswith(("evidence", "fix"))]
    assert message and all(line.startswith(" " * 8) for line in block[1:])
    fix_at = next(i for i, line in enumerate(block) if "fix (nginx): " in line)
    indent = block[fix_at].index("ssl_verify_client")
    assert fix_at + 1 < len(block)  # the fix wrapped
    assert all(
        line.startswith(" " * indent) and line[indent] != " " for line in block[fix_at + 1 :]
    )
    assert max(len(line) for line in block) <= 70


def test_error_cells_keep_their_reason_and_skips_their_note() -> None:
    text = render(RunResult((TARGET,)))
    assert "error tls-local untrusted" in text
    assert "our side refused the server certificate" in text
    assert text.count("revoked: skipped: no CA key to sign a revoked certificate") == 1
    negotiated = replace(
        TARGET,
        results=(
            _probe(
                "valid",
                Verdict.PASS,
                Outcome(OutcomeKind.HTTP, status=200),
                tls_version=None,
                facts=_facts(),
            ),
        ),
    )
    text = render(RunResult((negotiated,)))
    assert re.search(r"^valid\s+rejected\s+pass http 200 \(1\.3\)$", text, re.M), text


def test_ten_thousand_targets_are_one_summary_line_each() -> None:
    many = tuple(replace(OK_TARGET, target=f"https://h{i}.example/") for i in range(10_000))
    text = render(RunResult(many))
    assert len(text.splitlines()) == 10_000 + 6


def _failing(i: int, kind: int) -> TargetResult:
    """A failing target; targets of one ``kind`` share findings and probe verdicts."""
    t = _two_versions()
    finding = Finding(f"kind-{kind}", Severity.ERROR, f"problem of kind {kind}")
    return replace(t, target=f"https://h{i}.example/", findings=(*t.findings, finding))


def test_failing_targets_with_the_same_result_are_detailed_once() -> None:
    """A misconfiguration rolled out to a fleet fails the same way on every host: one set of
    details, the other hosts named under it, not a thousand identical matrices."""
    run = RunResult(tuple(_failing(i, i % 3) for i in range(1_000)))
    text = render(run)
    assert text.count("Target https://h") == 3  # one per kind
    assert "Target https://h0.example/" in text and "Target https://h2.example/" in text
    assert (
        "333 more targets with the same result: https://h3.example/, https://h6.example/, "
        "https://h9.example/, https://h12.example/, https://h15.example/ and 328 more "
        "(-v shows each)"
    ) in " ".join(text.split())
    assert "not detailed" not in text
    assert render(run, verbose=True).count("Target https://h") == 1_000


def test_many_distinct_failures_are_detailed_up_to_a_limit_and_counted() -> None:
    run = RunResult((*(_failing(i, i) for i in range(25)), OK_TARGET))
    text = render(run)
    assert text.count("Target https://h") == 20
    assert "5 more failing targets not detailed here" in text
    assert "1 target met every expectation" in text


# --------------------------------------------------------------------------- real nginx


def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.realserver
def test_console_fleet_against_real_nginx(
    nginx_factory: Callable[..., NginxServer],
    nginx_mtls: NginxServer,
    server_pki: PKI,
    test_pki_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths = {"server_cert": server_pki.server_cert, "server_key": server_pki.server_key,
             "client_ca": server_pki.ca_cert, "crl": server_pki.crl}  # fmt: skip
    optional = nginx_factory(NginxServer.mtls_fragment(**paths, verify="optional"))
    down = f"https://localhost:{_refused_port()}/"
    rc = main(["probe", nginx_mtls.url, optional.url, down, "--pki", str(test_pki_dir),
               "--server", "nginx", "--probes", "no-cert,valid,expired", "--no-color"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 3
    lines = out.splitlines()
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:5]}
    assert rows[nginx_mtls.url][:2] == ["enforced-http", "6/0"]
    assert rows[optional.url][:2] == ["fail-open", "4/2"]  # optional refuses a bad cert
    assert rows[optional.url][2:4] == ["error", "client-auth-optional"]
    assert rows[down][:2] == ["inconclusive", "0/6"]
    assert f"Target {nginx_mtls.url}" not in out  # passed: no details
    assert f"Target {optional.url}  server profile: nginx" in out
    assert f"Target {down}  nothing listening (connect refused)" in lines
    # nginx profile: nginx's fixes only
    assert "fix (nginx):" in out and "fix (apache)" not in out and "fix (haproxy)" not in out


def test_markdown_details_a_rolled_out_misconfiguration_once() -> None:
    """The same grouping for the CI job summary, which GitHub refuses above 1 MiB."""
    from mtlscheck._report.markdown import MarkdownReporter

    run = RunResult(tuple(_failing(i, i % 3) for i in range(1_000)))
    buf = io.StringIO()
    MarkdownReporter().render(run, buf)
    text = buf.getvalue()
    assert len(text.encode()) < 1024 * 1024
    assert text.count("https://h0.example/") >= 2  # summary row + its section
    assert "333 more target(s) with the same result: https://h3.example/" in text
    assert "not detailed" not in text
    verbose = io.StringIO()
    MarkdownReporter().render(run, verbose, verbose=True)
    assert "more target(s) with the same result" not in verbose.getvalue()
