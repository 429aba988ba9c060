"""Fleets against real servers: many targets in one pool, a layered verdict for each.

- 100 targets mixing nginx (required / optional / off), Apache (required), a silent port and a
  refused port: every target gets the verdict its configuration deserves, and the silent ones
  do not hold up the rest beyond the timeout;
- the layered verdict (enforced-tls, enforced-http, fail-open, off, per-location, inconclusive)
  for each real-server configuration;
- the CLI takes several URLs and --targets FILE (or stdin).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from servers import ApacheServer, CaddyServer, HAProxyServer, NginxServer

import mtlscheck
from mtlscheck import AuthVerdict, RunResult
from mtlscheck._pki import PKI

pytestmark = pytest.mark.realserver
V = AuthVerdict


def _paths(pki: PKI) -> dict[str, Path]:
    return {
        "server_cert": pki.server_cert,
        "server_key": pki.server_key,
        "client_ca": pki.ca_cert,
        "crl": pki.crl,
    }


def _refused_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_hundred_mixed_targets_get_their_verdicts(
    nginx_factory: Callable[..., NginxServer],
    apache_mtls: ApacheServer,
    nginx_mtls: NginxServer,
    server_pki: PKI,
    test_pki_dir: Path,
    silent_port: int,
) -> None:
    optional = nginx_factory(NginxServer.mtls_fragment(**_paths(server_pki), verify="optional"))
    off = nginx_factory(NginxServer.mtls_fragment(**_paths(server_pki), verify="off"))
    refused = _refused_port()
    kinds = {
        "enforced-http": (nginx_mtls.url, V.ENFORCED_HTTP),
        "enforced-tls": (apache_mtls.url, V.ENFORCED_TLS),
        "fail-open": (optional.url, V.FAIL_OPEN),
        "off": (off.url, V.OFF),
        "silent": (f"https://localhost:{silent_port}/", V.INCONCLUSIVE),
        "refused": (f"https://localhost:{refused}/", V.INCONCLUSIVE),
    }
    order = list(kinds)
    urls: list[str] = []
    want: list[AuthVerdict] = []
    for i in range(100):
        base, verdict = kinds[order[i % len(order)]]
        urls.append(f"{base.rstrip('/')}/t{i}")
        want.append(verdict)
    timeout = 2.0
    t0 = time.monotonic()
    run = mtlscheck.check_many(urls, pki=test_pki_dir, timeout=timeout)
    wall = time.monotonic() - t0
    got = [t.auth_verdict for t in run.targets]
    assert [t.target for t in run.targets] == urls  # input order, whatever finished first
    wrong = [(u, w, g) for u, w, g in zip(urls, want, got, strict=True) if w != g]
    assert not wrong, wrong[:5]
    # The silent targets (17 of them, 8 probes each) cost one timeout, not 136 of them.
    assert wall < 4 * timeout + 10, wall
    assert run.exit_code == 3  # some targets could not be reached at all
    silent = next(t for t in run.targets if str(silent_port) in t.target)
    assert all(r.outcome is not None and r.outcome.reason == "timeout" for r in silent.results)


def test_layered_verdicts_of_real_configurations(
    nginx_factory: Callable[..., NginxServer],
    apache_factory: Callable[..., ApacheServer],
    haproxy_factory: Callable[..., HAProxyServer],
    caddy_factory: Callable[..., CaddyServer],
    server_pki: PKI,
    test_pki_dir: Path,
) -> None:
    p = _paths(server_pki)
    no_crl = {k: v for k, v in p.items() if k != "crl"}
    cases = [
        (nginx_factory(NginxServer.mtls_fragment(**p)), V.ENFORCED_HTTP),
        (nginx_factory(NginxServer.mtls_fragment(**p, verify="optional")), V.FAIL_OPEN),
        (nginx_factory(NginxServer.mtls_fragment(**p, verify="optional_no_ca")), V.FAIL_OPEN),
        (nginx_factory(NginxServer.mtls_fragment(**p, verify="off")), V.OFF),
        (apache_factory(ApacheServer.mtls_fragment(**p)), V.ENFORCED_TLS),
        (apache_factory(ApacheServer.mtls_fragment(**p, verify="optional")), V.FAIL_OPEN),
        (haproxy_factory(HAProxyServer.mtls_fragment(**p)), V.ENFORCED_TLS),
        (haproxy_factory(HAProxyServer.mtls_fragment(**p, verify="off")), V.OFF),
        (caddy_factory(CaddyServer.mtls_fragment(**no_crl)), V.ENFORCED_TLS),
    ]
    run = mtlscheck.check_many(
        [srv.url for srv, _ in cases], pki=test_pki_dir, probes=["no-cert", "valid", "wrong-ca"]
    )
    for (srv, want), res in zip(cases, run.targets, strict=True):
        assert res.auth_verdict == want, (srv, res.auth_verdict, res.auth_reason)
        assert res.auth_reason
        assert res.to_dict()["verdict"] == str(want)


def test_per_location_verdict(
    apache_factory: Callable[..., ApacheServer], server_pki: PKI, test_pki_dir: Path
) -> None:
    from test_diagnose import apache_per_location

    srv = apache_factory(apache_per_location(server_pki))
    res = mtlscheck.check(srv.url, pki=test_pki_dir, probes=["no-cert", "valid"])
    assert res.auth_verdict == V.PER_LOCATION, res.auth_reason


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mtlscheck", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_cli_many_urls_and_targets_file(
    nginx_mtls: NginxServer, apache_mtls: ApacheServer, test_pki_dir: Path, tmp_path: Path
) -> None:
    listing = tmp_path / "targets.txt"
    listing.write_text(f"# the fleet\n\n{apache_mtls.url}  # apache\n")
    p = _cli(
        "probe", nginx_mtls.url, "--targets", str(listing), "--pki", str(test_pki_dir),
        "--format", "json", "--concurrency", "4", "--per-host", "2",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert [t["target"] for t in doc["targets"]] == [nginx_mtls.url, apache_mtls.url]
    assert [t["verdict"] for t in doc["targets"]] == ["enforced-http", "enforced-tls"]
    p = _cli("probe", "--targets", "-", "--pki", str(test_pki_dir), "--format", "json",
             stdin=nginx_mtls.url + "\n")  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert len(json.loads(p.stdout)["targets"]) == 1


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--targets", "{empty}"), "no URL in it"),
        (("--concurrency", "0"), "--concurrency must be"),
        (("--per-host", "0"), "--per-host must be"),
        (("{url}", "{url}", "--resolve", "localhost:1:127.0.0.1"), "--resolve applies to one URL"),
    ],
)
def test_cli_fleet_bad_input(args: tuple[str, ...], says: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    argv = [a.format(empty=empty, url="https://localhost:1/") for a in args]
    if "--targets" not in argv and "{url}" not in args:
        argv.insert(0, "https://localhost:1/")
    p = _cli("probe", *argv)
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith("mtlscheck: error:") and says in p.stderr, p.stderr


def test_fleet_result_exit_codes_are_per_run() -> None:
    assert RunResult(()).exit_code == 0


def test_server_auto_names_each_server_from_evidence(
    nginx_mtls: NginxServer,
    apache_mtls: ApacheServer,
    caddy_factory: Callable[..., CaddyServer],
    server_pki: PKI,
    test_pki_dir: Path,
) -> None:
    no_crl = {k: v for k, v in _paths(server_pki).items() if k != "crl"}
    caddy = caddy_factory(CaddyServer.mtls_fragment(**no_crl))
    run = mtlscheck.check_many(
        [nginx_mtls.url, apache_mtls.url, caddy.url],
        pki=test_pki_dir,
        server="auto",
        probes=["no-cert", "valid", "expired", "wrong-ca"],
    )
    got = [(t.server_profile, t.server_profile_reason.split(" ")[0]) for t in run.targets]
    assert got == [("nginx", "Server:"), ("apache", "Server:"), ("caddy", "Server:")]
    for t in run.targets:
        assert t.ok, [(r.name, r.expected, r.outcome) for r in t.results]
        # judged under the detected profile, not under the generic "rejected"
        no_cert = next(r for r in t.results if r.probe == "no-cert")
        assert (
            no_cert.expected
            == {"nginx": "400|403", "apache": "alert", "caddy": "alert"}[t.server_profile]
        )
    doc = run.to_dict()["targets"][0]
    assert doc["server_profile"] == "nginx" and doc["server_profile_reason"].startswith("Server:")


def test_json_is_spooled_target_by_target_and_the_run_keeps_slim_copies(
    nginx_mtls: NginxServer, apache_mtls: ApacheServer, test_pki_dir: Path
) -> None:
    """A large fleet's JSON report is written target by target while the run goes on; the run
    keeps slim copies. The document is the same one the in-memory reporter writes."""
    import io

    from mtlscheck._report._json import JsonSpool, to_document

    urls = [f"{base}t{i}" for i in range(12) for base in (nginx_mtls.url, apache_mtls.url)]
    urls.append(f"https://localhost:{_refused_port()}/")
    full: dict[str, mtlscheck.TargetResult] = {}
    spool = JsonSpool()
    run = mtlscheck.check_many(
        urls,
        pki=test_pki_dir,
        probes=["no-cert", "valid", "expired"],
        target_sink=spool.add,
        on_target=lambda t: full.__setitem__(t.target, t),
    )
    out = io.StringIO()
    spool.render(run, out)
    spool.close()
    doc = json.loads(out.getvalue())
    assert doc == to_document(RunResult(tuple(full[u] for u in urls)))
    assert [t["target"] for t in doc["targets"]] == urls  # input order, not finishing order
    assert doc["exit_code"] == run.exit_code == 3
    kept = [r for t in run.targets for r in t.results]
    assert kept and all(r.curl == "" and r.openssl == "" for r in kept)
    assert all(t.auth_verdict == full[t.target].auth_verdict for t in run.targets)


def test_cli_json_report_of_a_fleet(
    nginx_mtls: NginxServer, apache_mtls: ApacheServer, test_pki_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "fleet.json"
    urls = [nginx_mtls.url, apache_mtls.url]
    p = _cli("probe", *urls, "--pki", str(test_pki_dir), "--format", "json", "-o", str(out))
    assert p.returncode == 0, p.stderr
    doc = json.loads(out.read_text())
    assert [t["target"] for t in doc["targets"]] == urls
    assert all(pr["curl"].startswith("curl ") for t in doc["targets"] for pr in t["probes"])
    assert not list(tmp_path.glob(".fleet.json.*"))  # no temporary file left behind


def test_a_fleet_loads_its_files_once(test_pki_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """URLs sharing their options share one validation: the PKI is read once, not per URL;
    each URL is still checked on its own (a bad one is still a usage error)."""
    from mtlscheck._pki import PKI as PKIClass

    loads: list[object] = []
    real = PKIClass.load.__func__  # type: ignore[attr-defined]

    def counting(cls: type[PKIClass], *args: object, **kwargs: object) -> PKIClass:
        loads.append(args)
        return real(cls, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(PKIClass, "load", classmethod(counting))
    urls = [f"https://localhost:{_refused_port()}/t{i}" for i in range(20)]
    run = mtlscheck.check_many(urls, pki=test_pki_dir, probes=["no-cert"], tls="1.3")
    assert len(run.targets) == 20 and len(loads) == 1
    with pytest.raises(mtlscheck.UsageError):
        mtlscheck.check_many([urls[0], "https://u:pw@localhost:1/"], pki=test_pki_dir)


def test_unfinished_targets_stay_within_a_window(
    monkeypatch: pytest.MonkeyPatch, server_pki: PKI, test_pki_dir: Path
) -> None:
    """Jobs are interleaved within windows of targets: a 10,000-target run must not keep every
    target unfinished (and every probe result in memory) until its last round, or streaming
    finished targets to a report would save nothing."""
    import threading

    import mtlscheck._fleet as fleet

    monkeypatch.setattr(fleet, "WINDOW", 4)
    lock = threading.Lock()
    started: set[str] = set()
    finished: set[str] = set()
    most = 0

    def on_result(r: mtlscheck.ProbeResult) -> None:
        nonlocal most
        with lock:
            started.add(r.target)
            most = max(most, len(started - finished))

    def on_target(t: mtlscheck.TargetResult) -> None:
        with lock:
            finished.add(t.target)

    with mtlscheck.ReferenceServer(
        cert=server_pki.server_cert,
        key=server_pki.server_key,
        client_ca=server_pki.ca_cert,
        mode="nginx",
    ) as srv:
        urls = [f"{srv.url}t{i}" for i in range(24)]
        run = mtlscheck.check_many(
            urls,
            pki=test_pki_dir,
            probes=["no-cert", "valid", "expired"],
            tls="1.3",
            concurrency=2,
            per_host=2,
            on_result=on_result,
            on_target=on_target,
        )
    assert [t.target for t in run.targets] == urls and all(t.ok for t in run.targets)
    assert len(finished) == 24
    # a window of 4, plus the next window's first targets while the last jobs run
    assert 4 <= most <= 4 + 2
