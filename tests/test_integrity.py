"""Verdict integrity against real servers: what our side caused is never the server's doing.

- a TLS version the server refuses is its own outcome (tls-version), never a rejection;
- every requested version refused: exit 3 with one line saying so;
- local problems (a --cacert that is not PEM) are input errors before any connection;
- a bug of ours is internal-error (exit 4), with its traceback, never an outcome of the server;
- one deadline per probe and one for the run (--deadline); fds above 1024 work (selectors).
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from servers import NginxServer

import mtlscheck
from mtlscheck import InputError, Outcome, OutcomeKind, RunResult, Verdict
from mtlscheck._pki import PKI

pytestmark = pytest.mark.realserver


def _paths(pki: PKI) -> dict[str, Path]:
    return {
        "server_cert": pki.server_cert,
        "server_key": pki.server_key,
        "client_ca": pki.ca_cert,
        "crl": pki.crl,
    }


@pytest.fixture(scope="module")
def nginx_tls12_only(server_pki: PKI) -> Iterator[NginxServer]:
    with NginxServer(NginxServer.mtls_fragment(**_paths(server_pki), protocols="TLSv1.2")) as srv:
        yield srv


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mtlscheck", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1"},
    )


# ------------------------------------------------------------------ refused TLS versions


def test_tls13_against_a_tls12_only_server_is_never_a_rejection(
    nginx_tls12_only: NginxServer, test_pki_dir: Path
) -> None:
    res = mtlscheck.check(
        nginx_tls12_only.url,
        pki=test_pki_dir,
        probes=["no-cert", "valid", "expired", "wrong-ca"],
        tls="1.3",
    )
    assert res.results, "the refused probes must still be reported"
    for r in res.results:
        assert r.outcome is not None and r.outcome.kind is OutcomeKind.TLS_VERSION, r
        assert r.verdict is Verdict.ERROR, r  # never pass (no-cert) nor fail (valid)
        assert "TLS 1.3" in r.reason
    codes = {f.code for f in res.findings}
    assert "tls13-not-offered" in codes
    assert "valid-cert-rejected" not in codes
    assert RunResult((res,)).exit_code == 3


def test_cli_says_in_one_line_that_every_version_was_refused(
    nginx_tls12_only: NginxServer, test_pki_dir: Path
) -> None:
    p = _cli("probe", nginx_tls12_only.url, "--pki", str(test_pki_dir), "--tls", "1.3")
    assert p.returncode == 3, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("mtlscheck:")]
    assert any("refused every requested TLS version (1.3)" in ln for ln in lines), p.stderr
    assert "Traceback" not in p.stderr


def test_both_versions_reports_the_missing_one_once(
    nginx_tls12_only: NginxServer, test_pki_dir: Path
) -> None:
    res = mtlscheck.check(nginx_tls12_only.url, pki=test_pki_dir, probes=["no-cert", "valid"])
    assert {r.tls_version for r in res.results} == {"1.2"}
    assert all(r.verdict is Verdict.PASS for r in res.results), res.results
    assert [v for v, _ in res.unsupported_versions] == ["1.3"]
    assert "tls13-not-offered" in {f.code for f in res.findings}


def test_tls13_only_server_reports_tls12_once(
    nginx_factory: Callable[..., NginxServer], server_pki: PKI, test_pki_dir: Path
) -> None:
    srv = nginx_factory(NginxServer.mtls_fragment(**_paths(server_pki), protocols="TLSv1.3"))
    res = mtlscheck.check(srv.url, pki=test_pki_dir, probes=["no-cert", "valid"])
    assert {r.tls_version for r in res.results} == {"1.3"}
    assert all(r.verdict is Verdict.PASS for r in res.results), res.results
    finding = next(f for f in res.findings if f.code == "tls12-not-offered")
    assert finding.severity == "info" and "only TLS 1.3 was probed" in finding.message
    assert RunResult((res,)).exit_code == 0


# ------------------------------------------------------------------ local problems first


def test_cacert_that_is_not_pem_is_an_input_error_before_connecting(
    nginx_mtls: NginxServer, tmp_path: Path
) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("this is not a certificate\n")
    with pytest.raises(InputError):
        mtlscheck.check(nginx_mtls.url, cacert=bad, probes=["no-cert"])
    p = _cli("probe", nginx_mtls.url, "--cacert", str(bad), "--probes", "no-cert")
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert p.stderr.startswith("mtlscheck: error:"), p.stderr
    assert "Traceback" not in p.stderr


def test_many_open_file_descriptors_do_not_break_probes(
    nginx_mtls: NginxServer, test_pki_dir: Path
) -> None:
    """select() fails for fds above 1024; every probe used to come back "unreachable"."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2200:
        pytest.skip(f"the hard limit of open files ({hard}) is too low to test fds > 1024")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2200), hard))
    held = [socket.socket() for _ in range(1100)]
    try:
        assert max(s.fileno() for s in held) > 1024
        res = mtlscheck.check(nginx_mtls.url, pki=test_pki_dir, probes=["no-cert", "valid"])
    finally:
        for s in held:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert all(r.verdict is Verdict.PASS for r in res.results), [
        (r.name, r.outcome) for r in res.results
    ]


# ------------------------------------------------------------------ our own bugs


def test_a_bug_of_ours_is_internal_error_not_a_server_outcome(
    nginx_mtls: NginxServer, test_pki_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mtlscheck._runner as runner

    def broken(*args: object, **kwargs: object) -> tuple[int, bytes]:
        raise KeyError("a bug")

    monkeypatch.setattr(runner, "_http", broken)
    res = mtlscheck.check(nginx_mtls.url, pki=test_pki_dir, probes=["valid"], tls="1.3")
    (r,) = res.results
    assert r.outcome is not None and r.outcome.kind is OutcomeKind.INTERNAL
    assert r.verdict is Verdict.ERROR
    assert "KeyError" in r.traceback and "broken" in r.traceback
    assert not res.findings or all(f.code != "valid-cert-rejected" for f in res.findings)
    assert RunResult((res,)).exit_code == 4
    assert RunResult((res,)).to_dict()["targets"][0]["probes"][0]["traceback"]


def test_missing_post_handshake_auth_binding_does_not_break_probes(
    nginx_mtls: NginxServer, test_pki_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PHA switch lives in pyOpenSSL's private binding; if a release moves it, probes
    must still run (only the post-handshake-auth offer is lost)."""
    import mtlscheck._tls as tls

    monkeypatch.setitem(sys.modules, "OpenSSL._util", None)  # import now raises ImportError
    assert tls._pha_function() is None
    # Every client context made now goes through the failing import.
    res = mtlscheck.check(nginx_mtls.url, pki=test_pki_dir, probes=["no-cert", "valid"])
    assert all(r.verdict is Verdict.PASS for r in res.results)
    # ... and the facts say the offer was not made, instead of what the import found at start
    assert all(r.facts is not None and not r.facts.post_handshake_auth for r in res.results)


# ------------------------------------------------------------------ deadlines


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.monotonic()
    fn()
    return time.monotonic() - t0


def test_run_deadline_cuts_a_run_short(silent_port: int) -> None:
    import mtlscheck._transport

    url = f"https://127.0.0.1:{silent_port}/"
    holder: list[mtlscheck.TargetResult] = []
    wall = _timed(
        lambda: holder.append(
            mtlscheck.check(url, probes=["no-cert"], insecure=True, timeout=30, deadline=1.0)
        )
    )
    assert wall < 1.5, wall
    assert all(r.outcome is not None and r.outcome.reason == "timeout" for r in holder[0].results)


def test_cli_deadline_and_bad_values(silent_port: int) -> None:
    url = f"https://127.0.0.1:{silent_port}/"
    p = _cli("probe", url, "-k", "--probes", "no-cert", "--timeout", "30", "--deadline", "1")
    assert p.returncode == 3, p.stderr
    for bad in ("0", "-1", "nan", "inf"):
        p = _cli("probe", url, "-k", "--deadline", bad)
        assert p.returncode == 2, (bad, p.stderr)
        assert p.stderr.startswith("mtlscheck: error:"), p.stderr


# ------------------------------------------------------------------ which probes run


def test_default_run_tries_every_probe_the_material_allows(
    nginx_factory: Callable[..., NginxServer], server_pki: PKI, test_pki_dir: Path
) -> None:
    """A server without ssl_crl used to pass the default smoke check with --pki (exit 0):
    `revoked` is not among the four, and nothing said so."""
    no_crl = {k: v for k, v in _paths(server_pki).items() if k != "crl"}
    srv = nginx_factory(NginxServer.mtls_fragment(**no_crl))
    res = mtlscheck.check(srv.url, pki=test_pki_dir, tls="1.3")
    ran = {r.probe for r in res.results}
    assert {"revoked", "not-yet-valid", "chain-missing"} <= ran
    assert not ran & {"forged-headers", "sni-mismatch", "plaintext"}  # these stay opt-in
    assert "revocation-not-checked" in {f.code for f in res.findings}
    assert RunResult((res,)).exit_code == 1
    # Named probes are exactly what runs; with no CA key nothing is minted or added.
    only = mtlscheck.check(srv.url, pki=test_pki_dir, tls="1.3", probes=["no-cert", "valid"])
    assert [r.probe for r in only.results] == ["no-cert", "valid"]


def test_a_bug_outside_the_connection_is_still_internal_error(
    nginx_mtls: NginxServer, test_pki_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in building a probe's result (here: its verdict) ends that probe as
    internal-error; the other probes and the run go on."""
    import mtlscheck._fleet as fleet

    real = fleet.judge

    def broken(outcome: Outcome, facts: object, expected: object, version: object) -> object:
        if facts is not None and getattr(facts, "client_cert_sent", False):
            raise ZeroDivisionError("a bug")
        return real(outcome, facts, expected, version)  # type: ignore[arg-type]

    monkeypatch.setattr(fleet, "judge", broken)
    res = mtlscheck.check(nginx_mtls.url, pki=test_pki_dir, probes=["no-cert", "valid"], tls="1.3")
    by = {r.probe: r for r in res.results}
    assert by["valid"].outcome is not None and by["valid"].outcome.kind is OutcomeKind.INTERNAL
    assert "ZeroDivisionError" in by["valid"].traceback
    assert by["no-cert"].verdict is Verdict.PASS
    assert RunResult((res,)).exit_code == 4


def test_a_bug_in_a_reproduce_command_costs_that_line_not_the_report(
    nginx_mtls: NginxServer, test_pki_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commands are built while the report is written (not for every probe of a fleet): a bug
    there must leave the verdicts and the rest of the report standing."""
    import mtlscheck._commands as commands

    def broken(*args: object, **kwargs: object) -> str:
        raise ZeroDivisionError("a bug")

    res = mtlscheck.check(nginx_mtls.url, pki=test_pki_dir, probes=["no-cert", "valid"], tls="1.3")
    monkeypatch.setattr(commands, "curl_command", broken)
    by = {r.probe: r for r in res.results}
    assert by["valid"].verdict is Verdict.PASS and by["no-cert"].verdict is Verdict.PASS
    assert by["valid"].curl.startswith("# mtlscheck could not build this command (a bug)")
    assert "ZeroDivisionError" in by["valid"].curl
    assert by["valid"].openssl.startswith("openssl s_client")
    assert json.loads(json.dumps(RunResult((res,)).to_dict()))["exit_code"] == 0


def test_cli_turns_an_escaped_bug_into_one_line_and_exit_4(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import mtlscheck._api as api
    from mtlscheck._cli import main

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(api, "check_many", broken)
    monkeypatch.delenv("MTLSCHECK_TRACEBACK", raising=False)
    assert main(["probe", "https://localhost:1/", "-k"]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mtlscheck: error: internal error"), err
    assert "Traceback" not in err
