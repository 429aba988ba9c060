"""Secrets in the URL's query (``?access_token=...``, ``?sig=...``) reach no report.

Pre-signed URLs, API gateways and webhooks take credentials as query parameters.  The probe
sends the query as given (the server may need it), but every report format, every printed
URL and every error line shows the values of secret-looking parameters as ``<redacted>``;
the printed ``curl`` takes the whole query from ``$MTLSCHECK_QUERY`` and, with it set,
sends exactly what the probe sent (checked against a recording server).
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_secrets import _render_all

from mtlscheck import check
from mtlscheck._cli import main
from mtlscheck._commands import curl_command
from mtlscheck._model import RunResult
from mtlscheck._pki import PKI, init_pki
from mtlscheck._report import FORMATS
from mtlscheck._secrets import redact_text, redact_url
from mtlscheck._server import ReferenceServer
from mtlscheck._tls import TLSSettings

pytest_plugins = ["pytester"]

TOKEN, SIG, KEY = "tok-Q9w8e7r6", "sig-Z1x2c3v4", "key-A5s6d7f8"
SECRETS = (TOKEN, SIG, KEY)
QUERY = f"access_token={TOKEN}&page=2&sig={SIG}&api_key={KEY}"
PATH = f"/items?{QUERY}"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    p, _ = init_pki(tmp_path_factory.mktemp("query-secrets") / "pki")
    return p


@pytest.fixture(scope="module")
def server(pki: PKI) -> Iterator[ReferenceServer]:
    with ReferenceServer.from_pki_dir(pki.directory, mode="nginx") as srv:
        yield srv


def _url(server: ReferenceServer) -> str:
    return server.url.rstrip("/") + PATH


# --------------------------------------------------------------------------- the rule


def test_secret_parameter_names() -> None:
    from mtlscheck._secrets import is_secret_param

    for name in ("token", "access_token", "id_token", "refresh_token", "api_key", "apikey",
                 "API-Key", "key", "subscription-key", "accessKey", "password", "passwd",
                 "pass", "pwd", "secret", "client_secret", "sig", "signature",
                 "X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "auth",
                 "session", "sessionid", "PHPSESSID", "sid", "jwt", "api%5Fkey"):  # fmt: skip
        assert is_secret_param(name), name
    for name in ("page", "x", "q", "sort", "id", "keyid", "user", "format", "limit", ""):
        assert not is_secret_param(name), name


def test_redacting_urls_and_text() -> None:
    from mtlscheck._secrets import has_secret_query, public_query, redact_query

    url = "https://h/path?token=abc&x=1"
    assert redact_url(url) == "https://h/path?token=<redacted>&x=1"
    assert redact_url(f"https://u:pw@h/{PATH}") == (
        "https://<redacted>@h//items?access_token=<redacted>&page=2&sig=<redacted>"
        "&api_key=<redacted>"
    )
    assert redact_url("https://h/cb#access_token=abc&state=s") == (
        "https://h/cb#access_token=<redacted>&state=s"
    )
    assert redact_url("https://h/p?x=1&key") == "https://h/p?x=1&key"  # no value, nothing to hide
    assert redact_url("https://h/p?x=1;token=abc") == "https://h/p?x=1;token=<redacted>"
    assert redact_query("a=1&password=p%40ss&b=") == "a=1&password=<redacted>&b="
    # free text: URLs and request lines alike; what was redacted stays so
    text = f"GET {PATH} HTTP/1.1 failed; see https://h{PATH} (and 'https://h/?sig={SIG}')"
    red = redact_text(text)
    assert not [s for s in SECRETS if s in red], red
    assert "page=2" in red and redact_text(red) == red
    # the printed command's reference to the environment is what it must keep
    cmd = 'curl "https://h/items?$MTLSCHECK_QUERY"'
    assert redact_text(cmd) == cmd
    # prose with a question mark or a '#' is left alone
    for prose in ("Was a certificate requested? yes", "see issue #12", "a=b c?d"):
        assert redact_text(prose) == prose
    assert has_secret_query(url) and not has_secret_query("https://h/p?x=1&page=2")
    assert public_query(QUERY) == "page=2"


def test_curl_takes_a_secret_query_from_the_environment() -> None:
    s = TLSSettings(host="api.example", port=8443)
    argv = shlex.split(curl_command(f"https://api.example:8443{PATH}", s, None))
    assert argv[-1] == "https://api.example:8443/items?$MTLSCHECK_QUERY"  # shlex: no expansion
    # a query without secrets is printed as it is
    argv = shlex.split(curl_command("https://api.example:8443/items?page=2", s, None))
    assert argv[-1] == "https://api.example:8443/items?page=2"
    # another SNI (--servername, sni-mismatch): the URL names it, the query still from env
    s2 = TLSSettings(host="api.example", port=8443, servername="other.example")
    argv = shlex.split(curl_command(f"https://api.example:8443{PATH}", s2, None))
    assert argv[-1] == "https://other.example:8443/items?$MTLSCHECK_QUERY"
    # plain HTTP (the plaintext probe): secrets never in clear, not even from the environment
    cmd = curl_command(f"https://api.example:8443{PATH}", s, None, plain_http=True)
    assert shlex.split(cmd)[-1] == "http://api.example:8443/items?page=2"


# --------------------------------------------------------------------------- real probes


def test_the_probe_sends_the_query_and_no_report_shows_its_secrets(
    server: ReferenceServer, pki: PKI
) -> None:
    result = check(_url(server), pki=pki.directory, probes=["no-cert", "valid"], tls="1.3")
    assert {r.path for r in server.requests} == {PATH}  # sent as given, both probes
    assert [r.verdict for r in result.results] == ["pass", "pass"]
    for name, text in _render_all(RunResult((result,)), FORMATS).items():
        leaked = [s for s in SECRETS if s in text]
        assert not leaked, f"{name} report leaks {leaked}"
        assert "page=2" in text, name
    from mtlscheck._report._json import to_document

    doc = to_document(RunResult((result,)))
    assert doc["targets"][0]["target"] == (
        server.url.rstrip("/") + "/items?access_token=<redacted>&page=2&sig=<redacted>"
        "&api_key=<redacted>"
    )


def test_the_printed_curl_sends_what_the_probe_sent(server: ReferenceServer, pki: PKI) -> None:
    result = check(_url(server), pki=pki.directory, probes=["valid"], tls="1.3")
    curl = result.results[0].curl
    assert not [s for s in SECRETS if s in curl], curl
    assert '?$MTLSCHECK_QUERY"' in curl
    server.requests.clear()
    env = dict(os.environ, MTLSCHECK_QUERY=QUERY)
    proc = subprocess.run(["sh", "-c", curl], capture_output=True, text=True, env=env, timeout=15)
    assert proc.stdout.strip() == "200", proc.stderr
    assert [r.path for r in server.requests] == [PATH]


def test_cli_output_and_error_lines_carry_no_query_secret(
    server: ReferenceServer, pki: PKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["probe", _url(server), "--pki", str(pki.directory), "-p", "no-cert,valid"]
    for fmt in FORMATS:
        out = tmp_path / f"report.{fmt}"
        # expect 200 for no-cert so the run fails and prints the reproduce commands
        rc = main([*base, "--tls", "1.3", "-v", "-e", "no-cert=200", "-f", fmt, "-o", str(out)])
        assert rc == 1
        captured = capsys.readouterr()
        text = out.read_text(encoding="utf-8") + captured.out + captured.err
        assert not [s for s in SECRETS if s in text], fmt
    # a target that cannot be reached: the error line names it, redacted
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc = main(["probe", f"https://127.0.0.1:{port}{PATH}", "-k", "-p", "no-cert", "--tls", "1.3"])
    captured = capsys.readouterr()
    assert rc == 3, captured.err
    assert "access_token=<redacted>" in captured.err
    assert not [s for s in SECRETS if s in captured.out + captured.err], captured.err


def test_pytest_texts_carry_no_query_secret(
    pytester: pytest.Pytester, server: ReferenceServer, pki: PKI
) -> None:
    """The plugin's header, suite lines and failure text name the URL: redacted too."""
    pytester.makefile(
        ".toml",
        mtls_query=f"""
[[targets]]
name = "q"
url = "{_url(server)}"
cacert = "{pki.ca_cert}"
probes = ["no-cert"]
tls = "1.3"
expect = {{ no-cert = "accepted" }}
""",
    )
    res = pytester.runpytest("-p", "no:cacheprovider", "-v", f"--mtls-target={_url(server)}")
    res.assert_outcomes(failed=1)
    out = res.stdout.str() + res.stderr.str()
    assert not [s for s in SECRETS if s in out], out
    assert out.count("access_token=<redacted>") >= 4, out  # header, suite line, failure text
