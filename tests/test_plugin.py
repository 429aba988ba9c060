"""The pytest plugin, tested as a user would: pytester projects without a conftest.

Suite files point at the real nginx started by THIS session (``nginx_mtls``), with the session
PKI's paths written into the file.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mtlscheck import _suite
from mtlscheck._pki import PKI

pytest_plugins = ["pytester"]


def _suite_text(url: str, pki: PKI, extra: str = "") -> str:
    valid = pki.role("valid")
    return f"""
[defaults]
server = "nginx"
cacert = "{pki.ca_cert}"
identity = {{ cert = "{valid.cert}", key = "{valid.key}" }}
ca = {{ cert = "{pki.ca_cert}", key = "{pki.ca_key}" }}

[[targets]]
name = "api.internal"
url = "{url}"
{extra}
"""


@pytest.fixture
def staging(pytester: pytest.Pytester, nginx_mtls: object, server_pki: PKI) -> pytest.Pytester:
    url = nginx_mtls.url  # type: ignore[attr-defined]
    pytester.makefile(".toml", mtls_staging=_suite_text(url, server_pki))
    return pytester


@pytest.fixture
def failing(pytester: pytest.Pytester, nginx_mtls: object, server_pki: PKI) -> pytest.Pytester:
    url = nginx_mtls.url  # type: ignore[attr-defined]
    text = _suite_text(url, server_pki, 'probes = ["no-cert"]\nexpect = { no-cert = "accepted" }')
    pytester.makefile(".toml", mtls_staging=text)
    return pytester


def test_suite_items_pass_with_node_ids(staging: pytest.Pytester) -> None:
    res = staging.runpytest("-v", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=8)
    res.stdout.fnmatch_lines(
        [
            "*mtlscheck: suite target mtls_staging.toml::api.internal -> https://localhost:*",
            "mtls_staging.toml::api.internal::no-cert[[]tls1.2[]] PASSED*",
            "mtls_staging.toml::api.internal::expired[[]tls1.3[]] PASSED*",
        ]
    )


def test_target_probed_once(staging: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = _suite.SuiteTarget.run

    def counting(self: _suite.SuiteTarget, **kw: object) -> object:
        calls.append(self.name)
        return real(self, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(_suite.SuiteTarget, "run", counting)
    staging.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=8)
    assert calls == ["api.internal"]


def test_failure_shows_probe_row_and_findings(failing: pytest.Pytester) -> None:
    res = failing.runpytest("-p", "no:cacheprovider")
    res.assert_outcomes(failed=2)
    out = res.stdout.str()
    res.stdout.fnmatch_lines(
        [
            "*api.internal (https://localhost:*): no-cert[[]tls1.3[]] did not meet its expectation",
            "*probe*tls*expected*actual*verdict",
            "*no-cert*1.3*accepted*http 400 (No required SSL certificate was sent)*FAIL",
            "*certificate requested: yes; client certificate sent: no*",
            "*reproduce: curl*",
            "findings:*",
        ]
    )
    assert "Traceback" not in out and "def runtest" not in out and "_pytest_support" not in out


def test_junit_xml(failing: pytest.Pytester) -> None:
    failing.runpytest("-p", "no:cacheprovider", "--junitxml=out.xml")
    root = ET.parse(failing.path / "out.xml").getroot()
    cases = root.findall(".//testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("mtls_staging.toml.api.internal", "no-cert[tls1.2]"),
        ("mtls_staging.toml.api.internal", "no-cert[tls1.3]"),
    ]
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message", "").startswith("no-cert[tls1.3]: expected accepted, got http 400")
    assert "findings:" in (failure.text or "")
    props = {p.get("name"): p.get("value") for p in cases[1].iter("property")}
    assert props["expected"] == "accepted" and props["verdict"] == "fail"


def test_xdist(staging: pytest.Pytester) -> None:
    res = staging.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", "--junitxml=x.xml")
    res.assert_outcomes(passed=8)
    assert len(ET.parse(staging.path / "x.xml").getroot().findall(".//testcase")) == 8


def test_xdist_failure_text(failing: pytest.Pytester) -> None:
    res = failing.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    res.assert_outcomes(failed=2)
    res.stdout.fnmatch_lines(["*no-cert*1.2*accepted*http 400*FAIL"])
    assert "Traceback" not in res.stdout.str()


def test_suite_error_is_one_line(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", mtls_bad='[[targets]]\nurl = "https://x.test/"\nprobes = ["nope"]\n')
    res = pytester.runpytest("-p", "no:cacheprovider")
    res.assert_outcomes(errors=1)
    res.stdout.fnmatch_lines(["*mtls_bad.toml:3: unknown probe 'nope'*"])
    assert "Traceback" not in res.stdout.str()


def test_unreachable_target_is_reported(pytester: pytest.Pytester) -> None:
    port = _closed_port()
    pytester.makefile(
        ".toml",
        mtls_down=f'[[targets]]\nname = "down"\nurl = "https://127.0.0.1:{port}/"\n'
        'probes = ["no-cert"]\ntls = "1.3"\n',
    )
    res = pytester.runpytest("-p", "no:cacheprovider")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*no-cert*1.3*rejected*connect refused*ERROR"])


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


ZERO_SETUP = """
def test_valid(mtls_server, mtls_probe):
    assert mtls_probe(mtls_server.url, "valid") == "accepted"

def test_no_cert(mtls_server, mtls_probe):
    assert mtls_probe(mtls_server.url, "no-cert") == "rejected"
"""


def test_zero_setup_two_asserts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_zero=ZERO_SETUP)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_disabled_with_p_no(pytester: pytest.Pytester, server_pki: PKI) -> None:
    pytester.makepyfile(test_zero=ZERO_SETUP)
    pytester.makefile(".toml", mtls_x=_suite_text("https://localhost:1/", server_pki))
    res = pytester.runpytest("-p", "no:mtlscheck", "-p", "no:cacheprovider")
    res.assert_outcomes(errors=2)  # the fixtures are gone, the suite is not collected
    res.stdout.fnmatch_lines(["*fixture 'mtls_server' not found*"])
    assert "mtls_x.toml" not in res.stdout.str()


def test_assertion_explains_mismatch(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.mtls(server_mode="nginx")
        def test_it(mtls_server, mtls_probe):
            assert mtls_probe(mtls_server.url, "no-cert", tls="1.3") == "accepted"
        """
    )
    res = pytester.runpytest("-p", "no:cacheprovider", "-vv")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(
        [
            "*assert mtls probe no-cert of https://127.0.0.1:*/ == 'accepted'",
            "*expected: accepted",
            "*no-cert[[]tls1.3[]]  http 400 (No required SSL certificate was sent)  <- no match",
            "*findings:*",
            "*handshake: protocol TLSv1.3*certificate requested: yes*",
        ]
    )


def test_marker_and_ci_options_probe_real_nginx(
    pytester: pytest.Pytester, nginx_mtls: object, server_pki: PKI
) -> None:
    url = nginx_mtls.url  # type: ignore[attr-defined]
    valid = server_pki.role("valid")
    pytester.makepyfile(
        f"""
        import pytest

        def test_from_options(mtls_probe):
            assert mtls_probe("no-cert") == "400"
            assert mtls_probe("valid") == "accepted"

        @pytest.mark.mtls({url!r}, server="nginx")
        def test_from_marker(mtls_probe):
            run = mtls_probe("no-cert", "expired")
            assert run["no-cert"] == "rejected" and run["expired[tls1.3]"] == "400"
            assert run.ok
        """
    )
    res = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        f"--mtls-target={url}",
        f"--mtls-cacert={server_pki.ca_cert}",
        f"--mtls-cert={valid.cert}",
        f"--mtls-key={valid.key}",
        f"--mtls-ca-cert={server_pki.ca_cert}",
        f"--mtls-ca-key={server_pki.ca_key}",
        "--mtls-timeout=5",
    )
    res.assert_outcomes(passed=2)
    res.stdout.fnmatch_lines([f"mtlscheck: probing target {url} (from --mtls-target)"])


def test_option_precedence(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\nmtls_target = https://ini.test/\nmtls_cacert = ca/ini.pem\n")
    pytester.makepyfile(
        """
        def test_show(mtls_settings):
            print("CACERT", mtls_settings.get("cacert"), mtls_settings.sources["cacert"])
        """
    )

    def header(*args: str) -> str:
        res = pytester.runpytest("-p", "no:cacheprovider", "-s", *args)
        line = next(x for x in res.outlines if x.startswith("mtlscheck: probing target"))
        cacert = next(x for x in res.outlines if "CACERT" in x)
        return line.removeprefix("mtlscheck: probing target ") + " | " + cacert

    ini = header()
    assert ini.startswith("https://ini.test/ (from ini mtls_target)")
    assert f"CACERT {pytester.path / 'ca' / 'ini.pem'} ini mtls_cacert" in ini
    monkeypatch.setenv("MTLSCHECK_TARGET", "https://env.test/")
    assert header().startswith("https://env.test/ (from MTLSCHECK_TARGET)")
    assert header("--mtls-target=https://cli.test/").startswith(
        "https://cli.test/ (from --mtls-target)"
    )


def test_no_header_without_target(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    res = pytester.runpytest("-p", "no:cacheprovider")
    assert "mtlscheck" not in "\n".join(x for x in res.outlines if "plugins:" not in x)


def test_server_modes_mint_and_own_client(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import datetime as dt
        import http.client
        import pytest

        @pytest.mark.parametrize(
            "mtls_server, no_cert",
            [("nginx", "400"), ("apache", "alert"), ("optional", "accepted")],
            indirect=["mtls_server"],
        )
        def test_modes(mtls_server, mtls_probe, no_cert):
            assert mtls_probe(mtls_server.url, "no-cert") == no_cert

        def test_minted(mtls_server, mtls_probe, mtls_pki):
            now = dt.datetime.now(dt.timezone.utc)
            old = mtls_pki.mint_client("old", not_before=now - dt.timedelta(days=9),
                                       not_after=now - dt.timedelta(days=2))
            assert old.certificate.not_valid_after_utc < now
            assert mtls_probe(mtls_server.url, "valid", cert=old.cert, key=old.key) == "rejected"
            server_only = mtls_pki.mint_client("srv", ekus=["serverAuth"])
            assert mtls_probe(mtls_server.url, "valid", cert=server_only.cert,
                              key=server_only.key) == "rejected"
            ok = mtls_pki.mint_client("team-client")
            assert mtls_probe(mtls_server.url, "valid", cert=ok.cert, key=ok.key) == "200"

        @pytest.mark.mtls(server_mode="nginx")
        def test_my_client(mtls_server):
            conn = http.client.HTTPSConnection(
                mtls_server.host, mtls_server.port, context=mtls_server.ssl_context())
            conn.request("GET", "/")
            resp = conn.getresponse()
            assert resp.status == 200
            assert resp.headers["X-Client-Verify"] == "SUCCESS"
            assert mtls_server.requests[-1].client_subject.endswith("CN=valid-client")
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=5)


def test_plugin_import_is_light() -> None:
    code = (
        "import sys, mtlscheck.pytest_plugin\n"
        "heavy = [m for m in ('httpx', 'rich', 'typer', 'OpenSSL', 'cryptography', 'httpcore')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)
