"""The pytest plugin with several targets: ``mtls_probe(url, url, ...)`` and
``--mtls-targets FILE``, probed concurrently in one pool; pytester projects as a user has them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mtlscheck._pki import PKI
from mtlscheck._server import ReferenceServer

pytest_plugins = ["pytester"]


SEVERAL = """
import socket
import time

import pytest


@pytest.fixture
def silent_urls():
    # Listeners that complete TCP (the kernel's backlog) and never say a word: each probe
    # of them lasts its whole timeout.
    socks = []
    for _ in range(3):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        socks.append(s)
    yield [f"https://127.0.0.1:{s.getsockname()[1]}/" for s in socks]
    for s in socks:
        s.close()


def test_modes_in_one_call(mtls_server_factory, mtls_probe):
    nginx, apache, optional = (mtls_server_factory(m) for m in ("nginx", "apache", "optional"))
    runs = mtls_probe(nginx.url, apache.url, optional.url, "no-cert")
    assert len(runs) == 3
    assert [r.target for r in runs] == [nginx.url, apache.url, optional.url]
    assert runs[nginx.url] == "400" and runs[nginx.url].server_profile == "nginx"
    assert runs[apache.url] == "alert" and runs[1] == "rejected"
    assert runs[optional.url] == "accepted"
    assert runs != "rejected"
    assert runs[nginx.url]["no-cert[tls1.3]"].outcome.status == 400
    assert mtls_probe([nginx.url, apache.url], "no-cert") == "rejected"
    assert mtls_probe([nginx.url], "valid")["valid"] == "accepted"  # a list: always ProbeRuns


def test_one_pool_not_one_after_another(silent_urls, mtls_probe):
    start = time.monotonic()
    runs = mtls_probe(silent_urls, "no-cert", tls="1.3", timeout=1)
    elapsed = time.monotonic() - start
    assert [r.outcome.reason for r in runs] == ["timeout"] * 3
    assert elapsed < 2.5, elapsed  # one after another: 3 s


def test_selected_probe_keeps_the_run_facts(mtls_server, mtls_probe, tmp_path):
    run = mtls_probe(mtls_server.url, "no-cert", "expired", save_certs=tmp_path / "certs")
    expired = run["expired"]
    assert expired.certs_dir == str((tmp_path / "certs").resolve())
    assert expired.auth_verdict == run.auth_verdict and str(run.auth_verdict) == "enforced-tls"
    assert [r.probe for r in expired] == ["expired", "expired"]


def test_failure_text_names_the_target(mtls_server_factory, mtls_probe):
    nginx, optional = mtls_server_factory("nginx"), mtls_server_factory("optional")
    assert mtls_probe(nginx.url, optional.url, "no-cert", tls="1.3") == "rejected"
"""


def test_several_urls(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_several=SEVERAL)
    res = pytester.runpytest("-p", "no:cacheprovider")
    res.assert_outcomes(passed=3, failed=1)
    res.stdout.fnmatch_lines(
        [
            "*assert mtls probe of 2 targets == 'rejected'",
            "*https://127.0.0.1:*/  enforced-http  ok",
            "*https://127.0.0.1:*/  fail-open  no match",
            "*no-cert[[]tls1.3[]]  http 200*<- no match",
        ]
    )


@pytest.fixture
def apache_like(server_pki: PKI) -> Iterator[ReferenceServer]:
    with ReferenceServer.from_pki_dir(server_pki.directory, mode="apache") as srv:
        yield srv


def test_targets_file(
    pytester: pytest.Pytester, nginx_mtls: object, apache_like: ReferenceServer, server_pki: PKI
) -> None:
    url = nginx_mtls.url  # type: ignore[attr-defined]
    listing = pytester.path / "targets.txt"
    listing.write_text(f"# after the deploy\n{url}\n\n{apache_like.url}  # legacy\n{url}\n")
    pytester.makepyfile(
        """
        def test_fleet(mtls_probe):
            runs = mtls_probe("no-cert", "valid", server="generic")
            assert len(runs) == 2
            assert runs["no-cert"] == "rejected" and runs["valid"] == "accepted"
            assert {str(r.auth_verdict) for r in runs} == {"enforced-http", "enforced-tls"}
        """
    )
    res = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        f"--mtls-targets={listing.name}",
        f"--mtls-pki={server_pki.directory}",
        f"--mtls-cacert={server_pki.ca_cert}",
    )
    res.assert_outcomes(passed=1)
    res.stdout.fnmatch_lines([f"mtlscheck: probing 2 targets from {listing} (from --mtls-targets)"])


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("# nothing yet\n\n", "no URL in it"),
        ("https://a.test/\nhttp://b.test/\n", "not an https:// URL"),
        (b"\xff\xfe", "not UTF-8 text"),
        (None, "stdin is not available here"),
    ],
)
def test_bad_targets_file_is_a_usage_error(
    pytester: pytest.Pytester, content: str | bytes | None, says: str
) -> None:
    pytester.makepyfile("def test_x(mtls_probe):\n    mtls_probe('no-cert')\n")
    name = "-"
    if content is not None:
        path: Path = pytester.path / "targets.txt"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        name = path.name
    res = pytester.runpytest("-p", "no:cacheprovider", f"--mtls-targets={name}")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines([f"ERROR: --mtls-targets *{says}*"])
    assert "Traceback" not in res.stderr.str() + res.stdout.str()


def test_targets_file_from_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (pytester.path / "t.txt").write_text("https://a.test/\n")
    monkeypatch.setenv("MTLSCHECK_TARGETS", str(pytester.path / "t.txt"))
    pytester.makepyfile("def test_x(mtls_settings):\n    assert mtls_settings.target_list\n")
    res = pytester.runpytest("-p", "no:cacheprovider")
    res.assert_outcomes(passed=1)
    res.stdout.fnmatch_lines(["mtlscheck: probing 1 targets from *t.txt (from MTLSCHECK_TARGETS)"])


SHARED = """
import http.client

import pytest

PORTS = {}


def _get(srv):
    conn = http.client.HTTPSConnection(srv.host, srv.port, context=srv.ssl_context())
    conn.request("GET", "/")
    status = conn.getresponse().status
    conn.close()
    return status


@pytest.mark.parametrize("mtls_server", ["nginx", "apache", "optional"], indirect=True)
@pytest.mark.parametrize("round", [1, 2])
def test_modes(mtls_server, round):
    assert mtls_server.requests == []  # the other round's request is gone
    assert _get(mtls_server) == 200
    assert len(mtls_server.requests) == 1
    PORTS.setdefault(str(mtls_server.mode), set()).add(mtls_server.port)


def test_one_server_per_mode():
    assert sorted(PORTS) == ["apache", "nginx", "optional"]
    assert all(len(ports) == 1 for ports in PORTS.values()), PORTS
    assert len(set().union(*PORTS.values())) == 3


def test_stop_in_a_test(mtls_server):
    PORTS["stopped"] = mtls_server.port
    mtls_server.stop()


def test_next_test_gets_a_running_server(mtls_server, mtls_probe):
    assert mtls_server.requests == []
    assert mtls_probe(mtls_server.url, "valid", tls="1.3") == "accepted"
    assert _get(mtls_server) == 200


def test_factory_servers_stay_per_test(mtls_server_factory, mtls_server):
    own = mtls_server_factory("apache")
    assert own.port != mtls_server.port
"""


def test_mtls_server_is_shared_per_mode_with_fresh_requests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_shared=SHARED)
    res = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    res.assert_outcomes(passed=10)
