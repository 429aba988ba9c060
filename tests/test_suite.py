"""Suite files: parsing (errors with FILE:LINE), layering, running, and ``probe --suite``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mtlscheck._cli import main
from mtlscheck._errors import InputError
from mtlscheck._pki import PKI
from mtlscheck._server import ReferenceServer
from mtlscheck._suite import load_suite, parse_suite, run_suite


def _write(tmp_path: Path, text: str, name: str = "mtls_t.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(InputError) as info:
        load_suite(_write(tmp_path, text))
    return str(info.value)


def test_minimal_target_defaults(tmp_path: Path) -> None:
    suite = load_suite(_write(tmp_path, '[[targets]]\nurl = "https://api.internal:8443/h"\n'))
    (t,) = suite.targets
    assert t.name == "api.internal" and t.url == "https://api.internal:8443/h"
    assert t.probes == ("no-cert", "valid", "expired", "wrong-ca")
    assert t.versions == ("1.2", "1.3")
    assert t.probe_names[:2] == ("no-cert[tls1.2]", "no-cert[tls1.3]")
    assert t.line == 1


def test_layers_identities_and_relative_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for f in ("c.pem", "c.key", "ca.pem", "ca.key", "bundle.pem"):
        (tmp_path / f).write_text("x")
    monkeypatch.setenv("STAGING_HOST", "gw.example")
    text = """
[defaults]
server = "nginx"
tls = "1.3"
timeout = 3
expect = { expired = "400", wrong-ca = "400|403" }

[identities.ops]
cert = "c.pem"
key = "c.key"

[[targets]]
url = "https://${STAGING_HOST}/"
identity = "ops"
ca = { cert = "ca.pem", key = "ca.key" }
cacert = "bundle.pem"
expect = { expired = "403" }
headers = { Host = "gw.example" }

[[targets]]
name = "second"
url = "https://gw.example:9443/"
probes = ["no-cert", "revoked"]
tls = ["1.2", "1.3"]
server = "apache"
"""
    a, b = load_suite(_write(tmp_path, text), defaults={"timeout": 9.0}).targets
    assert a.name == "gw.example" and a.url == "https://gw.example/"
    assert a.versions == ("1.3",)
    assert a.options["timeout"] == 3.0
    assert a.options["expect"] == {"expired": "403", "wrong-ca": "400|403"}
    assert a.options["cert"] == str(tmp_path / "c.pem")
    assert a.options["ca_key"] == str(tmp_path / "ca.key")
    assert a.options["cacert"] == str(tmp_path / "bundle.pem")
    assert a.options["headers"] == (("Host", "gw.example"),)
    assert b.probes == ("no-cert", "revoked") and b.versions == ("1.2", "1.3")
    assert b.options["server"] == "apache" and "cert" not in b.options
    assert a.line == 12 and b.line == 20


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[targets]]\nurl = "https://x/\n', "mtls_t.toml:2: invalid TOML"),
        ("[defaults]\nserver = 'nginx'\n", "no targets"),
        ('[[targets]]\nurl = "http://x/"\n', ":2: url must be https://"),
        ('[[targets]]\nurl = "https://x/"\nfoo = 1\n', ":3: unknown key 'foo' in target #1"),
        ('[[targets]]\nurl = "https://x/"\n\n[[targets]]\nurl = "https://x/a"\n', "duplicate"),
        ('[[targets]]\nurl = "https://x/"\nprobes = ["nah"]\n', ":3: unknown probe 'nah'"),
        ('[[targets]]\nurl = "https://x/"\ntls = "1.1"\n', ":3: bad TLS version"),
        (
            '[[targets]]\nurl = "https://x/"\ntimeout = -1\n',
            ":3: timeout must be a positive number",
        ),
        ('[[targets]]\nurl = "https://x/"\nidentity = "ops"\n', ":3: unknown identity 'ops'"),
        (
            '[[targets]]\nurl = "https://x/"\nidentity = { cert = "missing.pem" }\n',
            "missing.pem does not exist",
        ),
        ('[[targets]]\nurl = "https://x/"\nserver = "iis"\n', ":3: unknown server profile"),
        (
            '[[targets]]\nurl = "https://x/"\n[targets.expect]\nexpired = "sometimes"\n',
            ":4: bad expectation 'sometimes'",
        ),
        ('[[targets]]\nurl = "https://${NOPE_NOT_SET}/"\n', "NOPE_NOT_SET is not set"),
        ('version = 2\n[[targets]]\nurl = "https://x/"\n', ":1: unsupported suite version"),
    ],
)
def test_errors_are_one_line_with_location(tmp_path: Path, text: str, message: str) -> None:
    msg = _error(tmp_path, text)
    assert message in msg
    assert msg.startswith(str(tmp_path / "mtls_t.toml"))
    assert "\n" not in msg


def test_missing_file() -> None:
    with pytest.raises(InputError, match="suite file not found"):
        load_suite("/nonexistent/mtls_x.toml")


@pytest.fixture
def ref_server(server_pki: PKI) -> Iterator[ReferenceServer]:
    with ReferenceServer.from_pki_dir(server_pki.directory, mode="nginx") as srv:
        yield srv


def test_run_suite_one_result_per_target(ref_server: ReferenceServer, server_pki: PKI) -> None:
    text = f"""
[defaults]
pki = "{server_pki.directory}"
server = "nginx"
tls = "1.3"

[[targets]]
name = "good"
url = "{ref_server.url}"

[[targets]]
name = "bad"
url = "{ref_server.url}"
probes = ["no-cert"]
expect = {{ no-cert = "accepted" }}
"""
    run = run_suite(parse_suite(text, "/tmp/mtls_inline.toml"))
    good, bad = run.targets
    assert good.ok and [r.name for r in good.results] == [
        "no-cert[tls1.3]",
        "valid[tls1.3]",
        "expired[tls1.3]",
        "wrong-ca[tls1.3]",
    ]
    assert not bad.ok and run.exit_code == 1


def test_cli_suite(
    ref_server: ReferenceServer,
    server_pki: PKI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ok = _write(
        tmp_path,
        f'[defaults]\npki = "{server_pki.directory}"\nserver = "nginx"\n\n'
        f'[[targets]]\nurl = "{ref_server.url}"\nprobes = ["no-cert", "valid"]\n',
    )
    assert main(["probe", "--suite", str(ok), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [p["probe"] for p in doc["targets"][0]["probes"]] == ["no-cert"] * 2 + ["valid"] * 2

    bad = _write(
        tmp_path,
        ok.read_text() + 'expect = { valid = "403" }\n',
        name="mtls_bad.toml",
    )
    assert main(["probe", "--suite", str(bad), "--format", "json"]) == 1
    capsys.readouterr()
    assert main(["probe", "--suite", str(ok), "https://x/"]) == 2
    assert "drop URL" in capsys.readouterr().err
    broken = _write(tmp_path, "[[targets]]\nnope = 1\n", name="mtls_broken.toml")
    assert main(["probe", "--suite", str(broken)]) == 2
    assert f"{broken}:2: unknown key 'nope'" in capsys.readouterr().err


def test_user_from_url_key(tmp_path: Path) -> None:
    """A suite target with credentials in its URL needs user_from_url = true, like the CLI's
    --user-from-url; without it the file is refused before any probe, password not echoed."""
    from mtlscheck import InputError
    from mtlscheck._suite import load_suite

    f = tmp_path / "mtls.toml"
    f.write_text(
        '[[targets]]\nname = "a"\nurl = "https://u:s3cret@localhost:1/"\n'
        "user_from_url = true\ninsecure = true\n"
    )
    suite = load_suite(f)
    suite.validate()
    assert suite.targets[0].options["user_from_url"] is True
    f.write_text('[[targets]]\nname = "a"\nurl = "https://u:s3cret@localhost:1/"\n')
    with pytest.raises(InputError) as err:
        load_suite(f).validate()
    assert "s3cret" not in str(err.value) and "user-from-url" in str(err.value)
