"""Bad input, systematically: every case is one ``mtlscheck: error:`` line and exit 2.

The table covers the command line (probe, pki, typer's own parsing), suite files and the
Python API.  Each case asserts exit code 2 (or :class:`UsageError`/:class:`InputError`),
exactly one stderr line starting ``mtlscheck: error:``, no traceback, and that nothing was
written: neither in the working directory, nor in ``$TMPDIR``, nor next to the input files.

Targets are a closed port on 127.0.0.1: if a check let a bad value through, the run would go on
to probe and end with exit 3, so a missing check fails here instead of passing by accident.
The positive counterparts (Ed25519/Ed448 CAs that mint, ``probes="all"``, suites that stop
before the first probe) run against the built-in reference server.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519

from mtlscheck import _pki
from mtlscheck._api import check
from mtlscheck._cli import main
from mtlscheck._errors import InputError, MtlscheckError, UsageError
from mtlscheck._identity import load_identity
from mtlscheck._pki import PKI, Issued, init_pki, make_ca, make_leaf
from mtlscheck._probes import CATALOGUE
from mtlscheck._server import ReferenceServer
from mtlscheck._suite import load_suite

PREFIX = "mtlscheck: error: "


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- input files


def _write_key(path: Path, key: Any) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _write_certs(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return path


def _suite(url: str, body: str = "") -> str:
    return f'[[targets]]\nurl = "{url}"\n{body}'


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Paths and URLs the cases refer to as ``{name}``; every file is made here, up front."""
    d = tmp_path_factory.mktemp("bad-input")
    pki, _ = init_pki(d / "pki")
    url = f"https://127.0.0.1:{_closed_port()}/"
    (d / "empty.pem").write_bytes(b"")
    (d / "garbage.pem").write_bytes(b"not a certificate\n\x00\x01\x02" * 10)
    (d / "adir").mkdir()
    os.mkfifo(d / "fifo")
    with open(d / "big.pem", "wb") as fh:  # sparse: 2 MiB that cost no disk
        fh.truncate(2 * 1024 * 1024)
    valid = pki.role("valid")
    assert valid.key is not None
    cert_only = d / "cert-only.pem"
    cert_only.write_bytes(valid.cert.read_bytes())
    paths: dict[str, str] = {
        "dir": str(d),
        "pki": str(pki.directory),
        "url": url,
        "cert": str(valid.cert),
        "key": str(valid.key),
        "other_key": str(pki.role("expired").key),
        "ca": str(pki.ca_cert),
        "ca_key": str(pki.ca_key),
        "cert_only": str(cert_only),
        "empty": str(d / "empty.pem"),
        "garbage": str(d / "garbage.pem"),
        "adir": str(d / "adir"),
        "fifo": str(d / "fifo"),
        "big": str(d / "big.pem"),
        "missing": str(d / "missing.pem"),
        "zero": "/dev/zero",
    }
    # Suite files, one per case (written now, so the cases only read).
    suites = {
        "ipv6_open": _suite("https://[::1/"),
        "ipv6_bad": _suite("https://[zz]/"),
        "nested_arrays": "x = " + "[" * 5000 + "]" * 5000 + "\n" + _suite(url),
        "nested_tables": "x = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n" + _suite(url),
        "dotted_key": "a" + ".a" * 20000 + " = 1\n" + _suite(url),
        "port_zero": _suite("https://127.0.0.1:0/"),
        "empty_probes": _suite(url, "probes = []\n"),
        "blank_probe": _suite(url, 'probes = [""]\n'),
        "nan_timeout": _suite(url, "timeout = nan\n"),
        "inf_timeout": _suite(url, "timeout = inf\n"),
        "bad_method": _suite(url, 'method = "GE T"\n'),
        "bad_header_name": _suite(url, 'headers = { "X A" = "v" }\n'),
        "header_newline": _suite(url, 'headers = { X-A = "a\\r\\nInjected: 1" }\n'),
        "long_label": _suite(url, f'servername = "{"a" * 64}.example"\n'),
        "garbage_cacert": _suite(url, f'cacert = "{d / "garbage.pem"}"\n'),
        "later_identity": _suite(url) + f'\n[[targets]]\nname = "second"\nurl = "{url}"\n'
        f'identity = {{ cert = "{d / "garbage.pem"}", key = "{valid.key}" }}\n',
        "later_no_key": _suite(url) + f'\n[[targets]]\nname = "second"\nurl = "{url}"\n'
        f'identity = {{ cert = "{cert_only}" }}\n',
        "unset_password_env": _suite(url, 'key_password_env = "MTLSCHECK_TEST_SURELY_UNSET"\n'),
        "fifo_identity": _suite(url, f'identity = {{ cert = "{d / "fifo"}" }}\n'),
        "zero_ca": _suite(url, 'ca = { cert = "/dev/zero", key = "/dev/zero" }\n'),
        "bad_toml": '[[targets]]\nurl = "https://x/\n',
        "no_targets": "[defaults]\nserver = 'nginx'\n",
        "unknown_key": _suite(url, "colour = 1\n"),
        "bad_profile": _suite(url, 'server = "ngnix"\n'),
        "unknown_home": _suite(url, 'cacert = "~no-such-user-mtlscheck/ca.pem"\n'),
        "long_path": _suite(url, f'identity = {{ cert = "{"x" * 5000}" }}\n'),
    }
    for name, text in suites.items():
        (d / f"mtls_{name}.toml").write_text(text, encoding="utf-8")
        paths[f"suite_{name}"] = str(d / f"mtls_{name}.toml")
    return paths


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture
def quiet_dirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> Iterator[Callable[[], None]]:
    """An empty working directory and $TMPDIR; the returned check asserts they stay empty
    and that the input directory did not change."""
    cwd, tmp = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.delenv("MTLSCHECK_TEST_SURELY_UNSET", raising=False)
    before = _tree(Path(env["dir"]))

    def nothing_written() -> None:
        assert list(cwd.iterdir()) == [], "a file was written in the working directory"
        assert list(tmp.iterdir()) == [], "a file was left in $TMPDIR"
        assert _tree(Path(env["dir"])) == before, "the input directory changed"

    yield nothing_written


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...] = ()
    """Command line (``{name}`` refers to :func:`env`); empty for an API case."""
    api: Callable[[dict[str, str]], object] | None = None
    says: str = ""
    """A fragment the one error line must contain (lower-cased comparison)."""


def cli(id: str, *argv: str, says: str = "") -> Case:
    return Case(id, tuple(argv), says=says)


def api(id: str, call: Callable[[dict[str, str]], object], says: str = "") -> Case:
    return Case(id, api=call, says=says)


P = ("probe", "{url}")

CASES: list[Case] = [
    # -- unbounded or blocking input files
    cli("cert-dev-zero", *P, "--cert", "{zero}", "--key", "{key}", says="not a regular file"),
    cli("key-dev-zero", *P, "--cert", "{cert}", "--key", "{zero}", says="not a regular file"),
    cli("ca-cert-dev-zero", *P, "--ca-cert", "{zero}", "--ca-key", "{ca_key}", says="device"),
    cli("ca-cert-alone-dev-zero", *P, "--ca-cert", "{zero}", says="device"),
    cli("cacert-dev-zero", *P, "--cacert", "{zero}", says="device"),
    cli("suite-dev-zero", "probe", "--suite", "{zero}", says="device"),
    cli("cert-fifo", *P, "--cert", "{fifo}", "--key", "{key}", says="fifo"),
    cli("key-fifo", *P, "--cert", "{cert}", "--key", "{fifo}", says="fifo"),
    cli("cacert-fifo", *P, "--cacert", "{fifo}", says="fifo"),
    cli("suite-fifo", "probe", "--suite", "{fifo}", says="fifo"),
    cli("cert-too-big", *P, "--cert", "{big}", "--key", "{key}", says="too large"),
    cli("suite-too-big", "probe", "--suite", "{big}", says="too large"),
    cli("cert-directory", *P, "--cert", "{adir}", "--key", "{key}", says="directory"),
    cli("identity-fifo", *P, "--identity", "valid={fifo},{key}", says="fifo"),
    # -- unusable files
    cli("cert-missing", *P, "--cert", "{missing}", "--key", "{key}", says="not found"),
    cli("cert-empty", *P, "--cert", "{empty}", "--key", "{key}"),
    cli("cert-garbage", *P, "--cert", "{garbage}", "--key", "{key}"),
    cli("key-garbage", *P, "--cert", "{cert}", "--key", "{garbage}", says="private key"),
    cli("key-mismatch", *P, "--cert", "{cert}", "--key", "{other_key}", says="does not match"),
    cli("cacert-empty", *P, "--cacert", "{empty}", says="no pem certificate"),
    cli("cacert-garbage", *P, "--cacert", "{garbage}", says="no pem certificate"),
    cli("cacert-is-a-key", *P, "--cacert", "{key}", says="no pem certificate"),
    cli("cacert-missing", *P, "--cacert", "{missing}", says="not found"),
    cli("pki-missing", *P, "--pki", "{missing}", says="does not exist"),
    cli("pki-not-a-pki", *P, "--pki", "{adir}", says="not a mtlscheck pki"),
    # -- identities and keys
    cli("identity-without-key", *P, "--identity", "valid={cert_only}", says="valid=cert,key"),
    cli("identity-unknown-probe", *P, "--identity", "vald={cert},{key}", says="did you mean"),
    cli("identity-no-equals", *P, "--identity", "valid", says="name=value"),
    cli("key-without-cert", *P, "--key", "{key}", says="--key needs --cert"),
    cli("ca-key-without-ca-cert", *P, "--ca-key", "{ca_key}", says="--ca-key needs --ca-cert"),
    cli(
        "password-env-unset",
        *P,
        "--cert",
        "{cert}",
        "--key",
        "{key}",
        "--key-password-env",
        "MTLSCHECK_TEST_SURELY_UNSET",
        says="not set",
    ),
    # -- values
    cli("timeout-nan", *P, "--timeout", "nan", says="timeout"),
    cli("timeout-inf", *P, "--timeout", "inf", says="timeout"),
    cli("timeout-negative", *P, "--timeout", "-1", says="timeout"),
    cli("timeout-zero", *P, "--timeout", "0", says="timeout"),
    cli("timeout-huge", *P, "--timeout", "1e300", says="timeout"),
    cli("method-space", *P, "--method", "GE T", says="method"),
    cli("method-empty", *P, "--method", "", says="method"),
    cli("method-crlf", *P, "--method", "GET\r\nX: y", says="method"),
    cli("header-no-colon", *P, "-H", "Authorization Bearer sekrit", says="name: value"),
    cli("header-empty-name", *P, "-H", ": v", says="name: value"),
    cli("header-space-in-name", *P, "-H", "X A: v", says="header name"),
    cli("header-crlf-value", *P, "-H", "X-A: a\r\nInjected: b", says="one line"),
    cli("header-non-ascii", *P, "-H", "X-A: caf\u00e9", says="ascii"),
    cli("servername-long-label", *P, "--servername", "a" * 64 + ".example", says="63"),
    cli("servername-empty-label", *P, "--servername", "a..example", says="host name"),
    cli("servername-space", *P, "--servername", "bad host", says="host name"),
    cli("url-port-zero", "probe", "https://127.0.0.1:0/", says="port 0"),
    cli("url-port-too-big", "probe", "https://127.0.0.1:70000/", says="port"),
    cli("url-ipv6-unclosed", "probe", "https://[::1/", says="bad url"),
    cli("url-ipv6-garbage", "probe", "https://[zz]/", says="bad url"),
    cli("url-http", "probe", "http://127.0.0.1/", says="https://"),
    cli("url-no-host", "probe", "https:///x", says="no host"),
    cli("url-long-label", "probe", "https://" + "a" * 64 + ".example/", says="63"),
    cli("url-space", "probe", "https://exa mple/", says="spaces"),
    cli("url-missing", "probe", says="missing url"),
    cli("probes-empty", *P, "--probes", "", says="names no probe"),
    cli("probes-comma", *P, "--probes", ",", says="names no probe"),
    cli("probe-typo", *P, "--probes", "vald", says="did you mean 'valid'"),
    cli("profile-typo", *P, "--server", "ngnix", says="did you mean 'nginx'"),
    cli("tls-bad", *P, "--tls", "1.4", says="tls version"),
    cli("expect-bad", *P, "--expect", "expired=sometimes", says="bad expectation"),
    cli("expect-unknown-probe", *P, "--expect", "bogus=400", says="unknown probe"),
    cli("expect-unknown-alert", *P, "--expect", "expired=alert:nonsense", says="alert"),
    cli("resolve-malformed", *P, "--resolve", "nonsense", says="host:port:addr"),
    cli("resolve-other-host", *P, "--resolve", "other:1:127.0.0.1", says="does not match"),
    cli("resolve-port-zero", *P, "--resolve", "127.0.0.1:0:127.0.0.1", says="port"),
    cli("resolve-bad-address", *P, "--resolve", "{host_port}:bad addr", says="host name"),
    cli("format-typo", *P, "--format", "jsn", says="did you mean 'json'"),
    cli("suite-with-url", "probe", "{url}", "--suite", "{suite_no_targets}", says="--suite"),
    # -- typer/click's own parsing: one line, a hint, a guess
    cli("option-typo", *P, "--probs", "all", says="did you mean '--probes'"),
    cli("command-typo", "prob", "{url}", says="did you mean 'probe'"),
    cli("timeout-not-a-number", *P, "--timeout", "abc", says="mtlscheck probe --help"),
    cli("option-without-value", *P, "--timeout", says="mtlscheck probe --help"),
    # probe takes several URLs (a fleet); a second argument that is no URL is still one line
    cli("extra-argument", *P, "extra", says="not an https:// URL: 'extra'"),
    cli("demo-mode-typo", "demo", "--mode", "ngin", says="did you mean 'nginx'"),
    # -- pki
    cli(
        "pki-init-password-env-unset",
        "pki",
        "init",
        "{dir}/new-pki",
        "--p12-password-env",
        "MTLSCHECK_TEST_SURELY_UNSET",
        says="not set",
    ),
    cli("pki-init-bad-host", "pki", "init", "{dir}/new-pki", "--hosts", "bad host!"),
    cli(
        "pki-init-key-type",
        "pki",
        "init",
        "{dir}/new-pki",
        "--key-type",
        "dsa",
        says="mtlscheck pki init --help",
    ),
    cli("pki-init-no-dir", "pki", "init", says="missing argument"),
    cli("pki-nginx-port-too-big", "pki", "nginx", "{pki}", "--listen", "70000", says="1-65535"),
    cli("pki-apache-port-zero", "pki", "apache", "{pki}", "--listen", "0", says="1-65535"),
    cli("pki-nginx-listen-garbage", "pki", "nginx", "{pki}", "--listen", "::1:443"),
    cli("pki-nginx-root-injection", "pki", "nginx", "{pki}", "--root", "/srv; return 200"),
    cli("pki-nginx-not-a-pki", "pki", "nginx", "{adir}", says="not a mtlscheck pki"),
    # -- suite files through the command line
    cli("suite-ipv6-unclosed", "probe", "--suite", "{suite_ipv6_open}", says=":2:"),
    cli("suite-ipv6-garbage", "probe", "--suite", "{suite_ipv6_bad}", says=":2:"),
    cli("suite-nested-arrays", "probe", "--suite", "{suite_nested_arrays}", says="nesting"),
    cli("suite-nested-tables", "probe", "--suite", "{suite_nested_tables}", says="nesting"),
    cli("suite-dotted-key", "probe", "--suite", "{suite_dotted_key}", says="dotted key"),
    cli("suite-port-zero", "probe", "--suite", "{suite_port_zero}", says="port 0"),
    cli("suite-empty-probes", "probe", "--suite", "{suite_empty_probes}", says="no probe"),
    cli("suite-blank-probe", "probe", "--suite", "{suite_blank_probe}", says="no probe"),
    cli("suite-nan-timeout", "probe", "--suite", "{suite_nan_timeout}", says="timeout"),
    cli("suite-inf-timeout", "probe", "--suite", "{suite_inf_timeout}", says="timeout"),
    cli("suite-bad-method", "probe", "--suite", "{suite_bad_method}", says="method"),
    cli("suite-bad-header", "probe", "--suite", "{suite_bad_header_name}", says="header"),
    cli("suite-header-crlf", "probe", "--suite", "{suite_header_newline}", says="one line"),
    cli("suite-long-label", "probe", "--suite", "{suite_long_label}", says="63"),
    cli("suite-garbage-cacert", "probe", "--suite", "{suite_garbage_cacert}", says="cacert"),
    cli("suite-later-identity", "probe", "--suite", "{suite_later_identity}", says="second"),
    cli("suite-later-no-key", "probe", "--suite", "{suite_later_no_key}", says="second"),
    cli("suite-password-env", "probe", "--suite", "{suite_unset_password_env}", says="not set"),
    cli("suite-fifo-identity", "probe", "--suite", "{suite_fifo_identity}", says="fifo"),
    cli("suite-dev-zero-ca", "probe", "--suite", "{suite_zero_ca}", says="device"),
    cli("suite-bad-toml", "probe", "--suite", "{suite_bad_toml}", says="invalid toml"),
    cli("suite-no-targets", "probe", "--suite", "{suite_no_targets}", says="no targets"),
    cli("suite-unknown-key", "probe", "--suite", "{suite_unknown_key}", says="unknown key"),
    cli("suite-bad-profile", "probe", "--suite", "{suite_bad_profile}", says="server profile"),
    cli("suite-unknown-home", "probe", "--suite", "{suite_unknown_home}", says="unusable path"),
    cli("suite-long-path", "probe", "--suite", "{suite_long_path}", says="unusable path"),
    cli("pki-long-path", *P, "--pki", "x" * 5000, says="unusable"),
    cli("cert-long-path", *P, "--cert", "x" * 5000, says="file name too long"),
    # -- the Python API
    api("api-probes-empty-string", lambda e: check(e["url"], probes=""), "no probe"),
    api("api-probes-empty-list", lambda e: check(e["url"], probes=[]), "no probe"),
    api("api-probe-typo", lambda e: check(e["url"], probes="vald"), "did you mean"),
    api("api-timeout-nan", lambda e: check(e["url"], timeout=float("nan")), "timeout"),
    api("api-timeout-bool", lambda e: check(e["url"], timeout=True), "timeout"),
    api("api-method", lambda e: check(e["url"], method="G T"), "method"),
    api("api-header", lambda e: check(e["url"], headers=[("X", "a\nb")]), "one line"),
    api("api-cacert-empty", lambda e: check(e["url"], cacert=e["empty"]), "no pem"),
    api("api-servername", lambda e: check(e["url"], servername="a" * 64), "63"),
    api("api-address", lambda e: check(e["url"], address="not an address"), "host name"),
    api("api-port-zero", lambda e: check("https://127.0.0.1:0/"), "port 0"),
    api("api-url-ipv6", lambda e: check("https://[::1/"), "bad url"),
    api("api-url-not-str", lambda e: check(42), "string"),  # type: ignore[arg-type]
    api("api-tls", lambda e: check(e["url"], tls="1.4"), "tls version"),
    api("api-server", lambda e: check(e["url"], server="ngnix"), "did you mean"),
    api("api-expect", lambda e: check(e["url"], expect={"valid": "x"}), "expectation"),
    api("api-cert-fifo", lambda e: check(e["url"], cert=e["fifo"], key=e["key"]), "fifo"),
    api(
        "api-identity-no-key",
        lambda e: check(e["url"], identities={"valid": (e["cert_only"], None)}),
        "valid=cert,key",
    ),
    api("api-load-identity-zero", lambda e: load_identity("/dev/zero"), "device"),
    api("api-load-suite-fifo", lambda e: load_suite(e["fifo"]), "fifo"),
    api("api-load-suite-nested", lambda e: load_suite(e["suite_nested_arrays"]), "nesting"),
    api("api-pki-load-not-a-pki", lambda e: PKI.load("/dev"), "not a mtlscheck pki"),
]


def test_the_table_is_large() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(
    case: Case,
    env: dict[str, str],
    quiet_dirs: Callable[[], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    values = {**env, "host_port": env["url"].removeprefix("https://").rstrip("/")}
    if case.api is not None:
        with pytest.raises((UsageError, InputError)) as info:
            case.api(values)
        line = PREFIX + str(info.value)
        assert "\n" not in str(info.value)
        assert info.value.exit_code == 2
    else:
        argv = [a.format(**values) for a in case.argv]
        rc = main(argv)
        cap = capsys.readouterr()
        assert "Traceback" not in cap.err
        lines = [ln for ln in cap.err.splitlines() if ln.strip()]
        assert len(lines) == 1, cap.err
        line = lines[0]
        assert line.startswith(PREFIX), cap.err
        assert rc == 2, cap.err
        assert cap.out == "", "nothing on stdout for a usage error"
    assert case.says.lower() in line.lower(), line
    assert len(line) < 400, line
    quiet_dirs()


def test_credentials_in_a_malformed_header_are_not_echoed(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["probe", env["url"], "-H", "Authorization Bearer s3cr3t-token"]) == 2
    assert "s3cr3t-token" not in capsys.readouterr().err
    assert main(["probe", env["url"], "-H", "X-Api-Key: s3cr3t\x01token"]) == 2
    assert "s3cr3t" not in capsys.readouterr().err


# --------------------------------------------------------------------------- suites


@pytest.fixture
def counting_listener() -> Iterator[tuple[int, list[int]]]:
    """A TCP port that counts the connections it accepts (and closes them)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    s.settimeout(0.1)
    accepted: list[int] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = s.accept()
            except OSError:
                continue
            accepted.append(1)
            conn.close()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield int(s.getsockname()[1]), accepted
    stop.set()
    t.join(2)
    s.close()


@pytest.mark.parametrize(
    "second",
    [
        'identity = {{ cert = "{garbage}", key = "{key}" }}',
        'identity = {{ cert = "{cert_only}" }}',
        'cacert = "{empty}"',
        'method = "G T"',
        'servername = "{long}.example"',
        'key_password_env = "MTLSCHECK_TEST_SURELY_UNSET"',
    ],
)
def test_suite_is_validated_before_the_first_probe(
    second: str,
    env: dict[str, str],
    tmp_path: Path,
    counting_listener: tuple[int, list[int]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MTLSCHECK_TEST_SURELY_UNSET", raising=False)
    port, accepted = counting_listener
    bad = second.format(**env, long="a" * 64)
    suite = tmp_path / "mtls_two.toml"
    suite.write_text(
        f'[[targets]]\nname = "first"\nurl = "https://127.0.0.1:{port}/"\ntimeout = 1\n'
        f'\n[[targets]]\nname = "second"\nurl = "https://127.0.0.1:{port}/"\n{bad}\n',
        encoding="utf-8",
    )
    rc = main(["probe", "--suite", str(suite)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith(PREFIX) and err.count("\n") == 1, err
    assert f"{suite}:6: target second:" in err
    assert accepted == [], "the first target was probed before the second was validated"


# --------------------------------------------------------------------------- Ed25519 / Ed448


def _ed_ca(kind: str, d: Path) -> tuple[Path, Path, Issued]:
    """A root CA with an Ed25519 or Ed448 key, written as PEM files."""
    key = (
        ed25519.Ed25519PrivateKey.generate()
        if kind == "ed25519"
        else ed448.Ed448PrivateKey.generate()
    )
    now = _pki._now()
    name = _pki._name(f"mtlscheck {kind} test CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _pki._BACKDATE)
        .not_valid_after(now + _pki._CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_pki._key_usage(ca=True, rsa_key=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, None)
    )
    return (
        _write_certs(d / f"{kind}-ca.pem", cert),
        _write_key(d / f"{kind}-ca.key", key),
        Issued(cert, key),
    )


@pytest.mark.parametrize("kind", ["ed25519", "ed448"])
def test_ed_ca_key_mints_every_probe(kind: str, env: dict[str, str], tmp_path: Path) -> None:
    ca_pem, ca_key, ca = _ed_ca(kind, tmp_path)
    pki = PKI.load(env["pki"])
    # The CA's own building blocks sign with it too (intermediate, leaf, CRL).
    inter = make_ca("mtlscheck ed intermediate", issuer=ca)
    assert inter.cert.signature_hash_algorithm is None
    _pki.make_crl(ca, [inter.cert.serial_number])
    with ReferenceServer(
        cert=pki.server_cert, key=pki.server_key, client_ca=ca_pem, mode="apache"
    ) as srv:
        result = check(
            srv.url,
            probes=["expired", "not-yet-valid", "no-client-eku", "lookalike-ca", "wrong-ca"],
            ca_cert=ca_pem,
            ca_key=ca_key,
            cacert=pki.ca_cert,
            tls="1.3",
            timeout=5,
        )
    assert [r.verdict.value for r in result.results] == ["pass"] * 5, result.results


def test_ed25519_client_with_chain_runs_chain_missing(env: dict[str, str], tmp_path: Path) -> None:
    """chain-missing saves the user's own key; an Ed25519 key used to hit a wrong assert."""
    pki = PKI.load(env["pki"])
    root = pki.issued("ca")
    inter = make_ca("mtlscheck test intermediate for ed25519", issuer=root, path_length=0)
    leaf_key = ed25519.Ed25519PrivateKey.generate()
    leaf = make_leaf(inter, "ed25519-client", key=leaf_key)
    chain = _write_certs(tmp_path / "client-chain.pem", leaf.cert, inter.cert)
    key = _write_key(tmp_path / "client.key", leaf_key)
    with ReferenceServer(
        cert=pki.server_cert, key=pki.server_key, client_ca=pki.ca_cert, mode="apache"
    ) as srv:
        result = check(
            srv.url, probes=["valid", "chain-missing"], cert=chain, key=key, pki=None,
            cacert=pki.ca_cert, tls="1.3", timeout=5,
        )  # fmt: skip
    verdicts = {r.probe: r.verdict.value for r in result.results}
    assert verdicts == {"valid": "pass", "chain-missing": "pass"}, result.results


def test_one_private_key_vocabulary() -> None:
    from mtlscheck import _identity

    assert _pki.PrivateKey is _identity.PrivateKey


# --------------------------------------------------------------------------- smaller cases


def test_probes_all_as_a_string_means_the_catalogue(env: dict[str, str]) -> None:
    result = check(env["url"], probes="all", timeout=2)
    assert tuple(dict.fromkeys(r.probe for r in result.results)) == tuple(CATALOGUE)


def test_p12_password_from_the_environment_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MTLSCHECK_TEST_P12", "chosen-password")
    assert (
        main(["pki", "init", str(tmp_path / "p"), "--p12-password-env", "MTLSCHECK_TEST_P12"]) == 0
    )
    out = capsys.readouterr().out
    assert "chosen-password" not in out and "generated" not in out
    ident = load_identity(tmp_path / "p" / "valid.p12", password=b"chosen-password")
    assert "CN=valid-client" in ident.subject


def test_usage_error_hint_names_the_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pki", "nginx", "x", "--lisen", "8443"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "mtlscheck: error: no such option --lisen (did you mean '--listen'?); "
        "see 'mtlscheck pki nginx --help'\n"
    )


def test_errors_are_mtlscheck_errors() -> None:
    """The two classes the table accepts are the documented ones, both exit code 2."""
    assert issubclass(UsageError, MtlscheckError) and issubclass(InputError, MtlscheckError)
    assert UsageError.exit_code == InputError.exit_code == 2
