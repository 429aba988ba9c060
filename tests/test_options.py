"""The one options model: CheckOptions, its metadata, the layering rule, and the README
tables that must say what the metadata says."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest

import mtlscheck
from mtlscheck._options import (
    FIELDS,
    PYTEST_OPTIONS,
    SUITE_KEYS,
    CheckOptions,
    layer,
    parse_text,
)

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _table_rows(heading: str) -> list[list[str]]:
    """The rows of the first Markdown table after the line ``heading`` starts."""
    lines = README.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif rows:
            break
    return rows[1:]  # after the separator


def test_options_are_frozen_and_derived_with_replace() -> None:
    base = CheckOptions(pki="./pki")
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.tls = "1.3"  # type: ignore[misc]
    derived = base.merge(tls="1.3")
    assert (derived.pki, derived.tls, base.tls) == ("./pki", "1.3", "both")
    with pytest.raises(TypeError):
        base.merge(no_such_option=1)


def test_check_and_check_many_reject_unknown_keywords_before_probing() -> None:
    with pytest.raises(TypeError):
        mtlscheck.check("https://127.0.0.1:1/", no_such_option=1)
    with pytest.raises(TypeError):
        mtlscheck.check_many(["https://127.0.0.1:1/"], no_such_option=1)
    assert "options" in inspect.signature(mtlscheck.check).parameters
    assert mtlscheck.CheckOptions is CheckOptions


def test_layer_replaces_upwards_merges_tables_and_skips_unset() -> None:
    got = layer(
        [
            ({"timeout": 3.0, "expect": {"a": "1", "b": "2"}, "tls": "1.2"}, "low"),
            ({"timeout": None, "expect": {"b": "3"}}, "mid"),
            ({"tls": "1.3"}, "high"),
        ]
    )
    assert got == {
        "timeout": (3.0, "low"),
        "expect": ({"a": "1", "b": "3"}, "mid"),
        "tls": ("1.3", "high"),
    }


def test_parse_text_kinds(tmp_path: Path) -> None:
    by = {s.name: s for s in PYTEST_OPTIONS}
    assert parse_text(by["timeout"], "2.5", tmp_path) == 2.5
    assert parse_text(by["cert"], "c.pem", tmp_path) == str(tmp_path / "c.pem")
    assert parse_text(by["targets"], "-", tmp_path) == "-"
    with pytest.raises(mtlscheck.UsageError, match="timeout must be positive"):
        parse_text(by["timeout"], "nan", tmp_path)
    with pytest.raises(mtlscheck.UsageError):
        parse_text(by["target"], "ftp://x/", tmp_path)


def test_every_field_is_a_check_keyword_with_the_same_default() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(CheckOptions)}
    assert [s.name for s in FIELDS] == list(defaults)
    assert CheckOptions().as_kwargs() == defaults


def test_readme_pytest_options_table_matches_the_metadata() -> None:
    rows = _table_rows("| command line | environment | ini | meaning |")
    table = {r[2].strip("`"): (r[0].split()[0].strip("`"), r[1].strip("`")) for r in rows if r[0]}
    assert table == {s.ini: (s.flag, s.env) for s in PYTEST_OPTIONS}


def test_readme_suite_keys_table_matches_the_metadata() -> None:
    rows = _table_rows("| key | type | meaning (the `probe` option it mirrors) |")
    assert {r[0].strip("`") for r in rows} == set(SUITE_KEYS)
    for r in rows:
        flags = {s.cli for s in FIELDS if s.toml == r[0].strip("`") and s.cli}
        mirrored = set(re.findall(r"--[a-z-]+", r[2]))
        if mirrored:
            assert mirrored & flags, (r[0], mirrored, flags)


def test_readme_probe_options_table_names_every_cli_flag() -> None:
    rows = _table_rows("| option | meaning |")
    documented = set(re.findall(r"--[a-z-]+", " ".join(r[0] for r in rows)))
    assert {s.cli for s in FIELDS if s.cli} <= documented


def test_suite_layer_pairs_fields_that_share_a_key() -> None:
    from mtlscheck._options import suite_layer

    got = suite_layer({"cert": "c.pem", "key": "c.key", "ca_key": "ca.key", "timeout": 3.0,
                       "key_password": b"pw", "tls": None})  # fmt: skip
    assert got == {"timeout": 3.0, "identity": ("c.pem", "c.key"), "ca": (None, "ca.key")}


_SAMPLE = {"--probes": ["all"], "--cert": ["c.pem"], "--key": ["c.key"], "--ca-cert": ["c"],
           "--ca-key": ["k"], "--pki": ["d"], "--identity": ["valid=c.pem"],
           "--expect": ["valid=200"], "--user-from-url": [], "--resolve": ["h:1:127.0.0.1"],
           "--key-password-env": ["PW"], "--forged-header": ["A: b"],
           "--forged-headers-only": [], "--other-servername": ["x.example"]}  # fmt: skip


@pytest.mark.parametrize("flag", sorted(_SAMPLE))
def test_probe_suite_refuses_every_option_the_file_gives(
    flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The refusal list comes from the metadata (``suite_override``), not a copy of it."""
    from mtlscheck._cli import main

    suite = tmp_path / "s.toml"
    suite.write_text('[[targets]]\nurl = "https://127.0.0.1:1/"\n')
    assert main(["probe", "--suite", str(suite), flag, *_SAMPLE[flag]]) == 2
    assert f"drop {flag}" in capsys.readouterr().err


def test_the_refusal_sample_covers_every_flag_the_metadata_refuses() -> None:
    assert {s.cli for s in FIELDS if s.cli and not s.suite_override} == set(_SAMPLE)


def test_prepare_takes_options_or_keywords_and_keywords_win() -> None:
    from mtlscheck._api import prepare

    url = "https://127.0.0.1:1/"
    by_kw = prepare(url, tls="1.3", server="nginx", probes=["no-cert"])
    by_opts = prepare(url, options=CheckOptions(tls="1.3", server="nginx", probes=["no-cert"]))
    same = ("target", "profile", "probes", "versions", "expectations")
    assert [getattr(by_kw, a) for a in same] == [getattr(by_opts, a) for a in same]
    both = prepare(url, options=CheckOptions(tls="1.2", probes=["no-cert"]), tls="1.3")
    assert both.versions == ("1.3",)
    with pytest.raises(mtlscheck.UsageError, match="bad TLS version"):
        prepare(url, options=CheckOptions(tls="1.4"))


def test_every_metadata_flag_is_a_probe_option() -> None:
    """The typer declarations of ``probe`` are still written out; they must name the flags
    the metadata names (a renamed flag fails here, not in a user's script)."""
    import typer

    from mtlscheck._cli import app

    probe = typer.main.get_command(app).commands["probe"]  # type: ignore[attr-defined]
    flags = {o for p in probe.params for o in p.opts}
    assert {s.cli for s in FIELDS if s.cli} <= flags
