"""``mtlscheck pki`` sub-commands, invoked on the sub-app itself (real files)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12
from typer.testing import CliRunner

from mtlscheck._cli_pki import pki_app
from mtlscheck._errors import InputError, UsageError
from mtlscheck._pki import PKI, init_pki


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_init_prints_summary_snippets_and_password(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "pki"
    result = runner.invoke(pki_app, ["init", str(target), "--hosts", "localhost, ::1"])
    assert result.exit_code == 0, result.output
    pki = PKI.load(target)
    assert pki.hosts == ("localhost", "::1")
    out = result.output
    for role in pki.roles:
        assert role in out
    assert "ssl_verify_client on;" in out
    assert "SSLVerifyClient require" in out
    assert "curl --cacert" in out and "https://localhost:8443/" in out
    line = next(ln for ln in out.splitlines() if "password (generated" in ln)
    password = line.rsplit(": ", 1)[1].strip()
    assert pki.p12 is not None
    pkcs12.load_key_and_certificates(pki.p12.read_bytes(), password.encode())
    assert stat.S_IMODE(pki.ca_key.stat().st_mode) == 0o600


def test_init_password_from_env(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_P12_PW", "from-env")
    result = runner.invoke(
        pki_app, ["init", str(tmp_path), "--p12-password-env", "MY_P12_PW", "--key-type", "rsa"]
    )
    assert result.exit_code == 0, result.output
    assert "from-env" not in result.output
    assert "$MY_P12_PW" in result.output
    pki = PKI.load(tmp_path)
    assert pki.key_type == "rsa"
    assert pki.p12 is not None
    pkcs12.load_key_and_certificates(pki.p12.read_bytes(), b"from-env")


def test_init_unset_env_is_an_error(runner: CliRunner, tmp_path: Path) -> None:
    """An unset variable must not silently become a generated password (issue 8)."""
    result = runner.invoke(
        pki_app, ["init", str(tmp_path / "p"), "--p12-password-env", "MTLSCHECK_SURELY_UNSET_VAR"]
    )
    assert isinstance(result.exception, UsageError)
    assert "MTLSCHECK_SURELY_UNSET_VAR is not set" in str(result.exception)
    assert not (tmp_path / "p").exists()


def test_init_refuses_existing_without_force(runner: CliRunner, tmp_path: Path) -> None:
    init_pki(tmp_path)
    result = runner.invoke(pki_app, ["init", str(tmp_path)])
    assert isinstance(result.exception, InputError)
    assert "--force" in str(result.exception)
    result = runner.invoke(pki_app, ["init", str(tmp_path), "--force"])
    assert result.exit_code == 0, result.output


def test_init_bad_input(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(pki_app, ["init", str(tmp_path), "--hosts", " , "])
    assert isinstance(result.exception, UsageError)
    result = runner.invoke(pki_app, ["init", str(tmp_path), "--key-type", "dsa"])
    assert result.exit_code == 2  # click's own usage error


def test_nginx_and_apache_print_plain_snippets(runner: CliRunner, tmp_path: Path) -> None:
    pki, _ = init_pki(tmp_path)
    result = runner.invoke(
        pki_app, ["nginx", str(tmp_path), "--listen", "127.0.0.1:8443", "--server-name", "h.test"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# mtlscheck test PKI: nginx")
    assert "    listen 127.0.0.1:8443 ssl;\n    server_name h.test;\n" in result.output
    assert f"ssl_client_certificate {pki.ca_cert};" in result.output
    assert result.output.endswith("}\n")

    result = runner.invoke(pki_app, ["apache", str(tmp_path), "--listen", "9443"])
    assert result.exit_code == 0, result.output
    assert "Listen 9443 https\n<VirtualHost *:9443>\n" in result.output
    assert result.output.endswith("</VirtualHost>\n")

    result = runner.invoke(pki_app, ["apache", str(tmp_path), "--document-root", "/srv/www"])
    assert 'DocumentRoot "/srv/www"' in result.output


def test_snippet_errors(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(pki_app, ["nginx", str(tmp_path / "none")])
    assert isinstance(result.exception, InputError)
    result = runner.invoke(pki_app, ["apache", str(tmp_path)])
    assert isinstance(result.exception, InputError)
    assert "manifest.json" in str(result.exception)
    init_pki(tmp_path)
    result = runner.invoke(pki_app, ["nginx", str(tmp_path), "--listen", "80 ssl; evil"])
    assert isinstance(result.exception, UsageError)
