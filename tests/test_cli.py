"""The ``mtlscheck`` command line: demo, JSON/JUnit output, exit codes, and bad input.

Everything runs in-process through :func:`mtlscheck._cli.main` (fast); one subprocess run of
``python -m mtlscheck`` proves the console-script path prints no traceback either.  Targets are
the built-in reference server and tiny sockets made here (refused, silent, plain HTTP, hang-up).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from mtlscheck._cli import main
from mtlscheck._pki import PKI, init_pki
from mtlscheck._server import ReferenceServer

ERROR_PREFIX = "mtlscheck: error: "


# --------------------------------------------------------------------------- helpers


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def ran(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The probes of the first target that ran (not skipped: e.g. expired without a CA key)."""
    probes = doc["targets"][0]["probes"]
    skipped = [p for p in probes if p["verdict"] == "skip"]
    assert all(p["outcome"] is None and p["reason"] for p in skipped), skipped
    out = [p for p in probes if p["verdict"] != "skip"]
    assert out
    return out


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    rc, out, err = run(capsys, *argv, "--format", "json")
    assert "Traceback" not in err
    return rc, json.loads(out)


def assert_one_error_line(err: str) -> str:
    """Exactly one line on stderr, the ``mtlscheck: error:`` one, and no traceback."""
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(ERROR_PREFIX), err
    return lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    p, _ = init_pki(tmp_path_factory.mktemp("cli") / "pki")
    return p


@pytest.fixture(scope="module")
def apache_ref(pki: PKI) -> Iterator[ReferenceServer]:
    with ReferenceServer.from_pki_dir(pki.directory, mode="apache") as srv:
        yield srv


@pytest.fixture(scope="module")
def files(pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Bad and odd input files."""
    d = tmp_path_factory.mktemp("files")
    key = serialization.load_pem_private_key(pki.role("valid").key.read_bytes(), None)  # type: ignore[union-attr]
    enc = d / "enc.key"
    enc.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"right-password"),
        )
    )
    garbage = d / "garbage.pem"
    garbage.write_bytes(b"this is not a certificate\n\x00\x01\x02")
    return {"enc_key": enc, "garbage": garbage, "dir": d}


@pytest.fixture
def plain_http_port() -> Iterator[int]:
    class Quiet(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def hangup_port() -> Iterator[int]:
    """Accepts every connection and closes it at once, before any TLS byte."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                c, _ = s.accept()
            except OSError:
                return
            c.close()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield s.getsockname()[1]
    stop.set()
    s.close()


# --------------------------------------------------------------------------- demo


@pytest.mark.parametrize("mode", ["nginx", "apache"])
def test_demo_correct_setups_pass(mode: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, doc = run_json(capsys, "demo", "--mode", mode)
    assert rc == 0
    assert doc["ok"] is True and doc["exit_code"] == 0
    (target,) = doc["targets"]
    assert target["server_profile"] == mode
    probes = target["probes"]
    # The demo runs every probe over both versions (plaintext, which has no TLS, once).
    assert {p["tls_version"] for p in probes if p["probe"] != "plaintext"} == {"1.2", "1.3"}
    assert [p["tls_version"] for p in probes if p["probe"] == "plaintext"] == [None]
    assert {"no-cert", "valid", "expired", "wrong-ca", "revoked"} <= {p["probe"] for p in probes}
    assert all(p["verdict"] == "pass" for p in probes), [
        (p["probe"], p["tls_version"], p["outcome"]) for p in probes if p["verdict"] != "pass"
    ]
    nc = {p["tls_version"]: p["outcome"] for p in probes if p["probe"] == "no-cert"}
    if mode == "nginx":
        assert nc["1.2"]["status"] == nc["1.3"]["status"] == 400
    else:
        assert nc["1.2"]["alert"] == "handshake_failure" and nc["1.2"]["phase"] == "handshake"
        assert nc["1.3"]["alert"] == "certificate_required"
        assert nc["1.3"]["phase"] == "after-handshake"


def test_demo_optional_mode_fails_no_cert(capsys: pytest.CaptureFixture[str]) -> None:
    rc, doc = run_json(capsys, "demo", "--mode", "optional", "--tls", "1.3")
    assert rc == 1
    assert doc["ok"] is False and doc["exit_code"] == 1
    probes = doc["targets"][0]["probes"]
    failed = {p["probe"] for p in probes if p["verdict"] == "fail"}
    assert "no-cert" in failed
    nc = next(p for p in probes if p["probe"] == "no-cert")
    assert nc["outcome"]["kind"] == "http" and nc["outcome"]["status"] == 200
    assert nc["facts"]["cert_requested"] is True  # optional: asks, but lets you in anyway
    assert next(p for p in probes if p["probe"] == "valid")["verdict"] == "pass"


def test_demo_console_report(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "demo", "--mode", "apache", "--tls", "1.2", "--no-color")
    assert rc == 0
    assert "\x1b[" not in out
    assert "TLS 1.2" in out and "no-cert" in out and "handshake_failure" in out
    assert "client auth: enforced-tls" in out
    assert "0 failed" in out


def test_demo_bad_mode(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "demo", "--mode", "iis")
    assert rc == 2
    assert "--mode" in assert_one_error_line(err)


# --------------------------------------------------------------------------- JSON and JUnit

PROBE_KEYS = {"probe", "target", "tls_version", "expected", "verdict", "outcome", "facts",
              "reason", "curl", "openssl", "duration_ms"}  # fmt: skip
OUTCOME_KEYS = {"kind", "status", "alert", "phase", "reason", "detail"}
FACT_KEYS = {"protocol", "cipher", "cert_requested", "ca_names", "client_cert_sent",
             "server_chain", "handshake_completed", "alert_received", "alert_sent",
             "server_verify_error", "hostname_matches"}  # fmt: skip


def test_json_schema(
    apache_ref: ReferenceServer, pki: PKI, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, doc = run_json(capsys, "probe", apache_ref.url, "--pki", str(pki.directory), "--tls", "1.3",
                       "--server", "apache")  # fmt: skip
    assert rc == 0
    assert doc["schema"] == 1
    assert doc["tool"] == "mtlscheck"
    from mtlscheck._version import __version__

    assert doc["version"] == __version__
    assert {"schema", "tool", "version", "ok", "exit_code", "targets"} <= set(doc)
    (t,) = doc["targets"]
    assert {"target", "server_profile", "insecure", "unsupported_versions", "probes",
            "findings"} <= set(t)  # fmt: skip
    assert t["target"] == apache_ref.url
    assert t["insecure"] is False and t["unsupported_versions"] == []
    assert isinstance(t["findings"], list)
    # the four first; then what the --pki material can also build (all certificate probes)
    assert [p["probe"] for p in t["probes"]][:4] == ["no-cert", "valid", "expired", "wrong-ca"]
    assert "revoked" in [p["probe"] for p in t["probes"]]
    for p in t["probes"]:
        assert set(p) >= PROBE_KEYS
        assert p["verdict"] in ("pass", "fail", "skip", "error")
        assert set(p["outcome"]) >= OUTCOME_KEYS
        assert set(p["facts"]) >= FACT_KEYS
        assert p["facts"]["protocol"] == "TLSv1.3"
        assert p["facts"]["cipher"]
        leaf = p["facts"]["server_chain"][0]
        assert {"subject", "issuer", "not_before", "not_after"} <= set(leaf)
        assert "CN=localhost" in leaf["subject"]
        assert p["curl"].startswith("curl ") and "--tlsv1.3" in p["curl"]
        assert p["openssl"].startswith("openssl s_client")
    valid = t["probes"][1]
    assert valid["outcome"] == {"kind": "http", "status": 200, "alert": None, "phase": None,
                                "reason": None, "detail": "",
                                "server": "mtlscheck-reference/apache"}  # fmt: skip
    assert valid["expected"] == "accepted"


def test_output_file(
    apache_ref: ReferenceServer, pki: PKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "report.json"
    rc, out, err = run(capsys, "probe", apache_ref.url, "--pki", str(pki.directory), "--tls", "1.2",
                       "-p", "no-cert", "--format", "json", "--output", str(out_file))  # fmt: skip
    assert rc == 0
    assert out == ""
    assert str(out_file) in err
    doc = json.loads(out_file.read_text())
    assert doc["targets"][0]["probes"][0]["outcome"]["alert"] == "handshake_failure"


def test_junit_parses(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "demo", "--mode", "optional", "--tls", "1.2", "--format", "junit")
    assert rc == 1
    root = ET.fromstring(out)
    cases = list(root.iter("testcase"))
    assert len(cases) >= 4
    names = [c.get("name") or "" for c in cases]
    failed = [c.get("name") or "" for c in cases if c.find("failure") is not None]
    assert any("no-cert" in n for n in failed), names
    assert not any(n.startswith("valid[") for n in failed), failed
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    assert sum(int(s.get("failures", "0")) for s in suites) == len(failed)
    assert sum(int(s.get("tests", "0")) for s in suites) == len(cases)


# --------------------------------------------------------------------------- exit codes


def test_exit_0_all_met(
    apache_ref: ReferenceServer, pki: PKI, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run(capsys, "probe", apache_ref.url, "--pki", str(pki.directory), "--tls", "1.3")
    assert rc == 0, err


def test_exit_1_expectation_not_met(
    apache_ref: ReferenceServer, pki: PKI, capsys: pytest.CaptureFixture[str]
) -> None:
    # Apache answers with an alert; an nginx-style expectation of 400 is not met.
    rc, doc = run_json(capsys, "probe", apache_ref.url, "--pki", str(pki.directory),
                       "--tls", "1.3", "--expect", "no-cert=400")  # fmt: skip
    assert rc == 1 and doc["exit_code"] == 1
    nc = doc["targets"][0]["probes"][0]
    assert nc["probe"] == "no-cert" and nc["verdict"] == "fail" and nc["expected"] == "400"


def test_exit_3_refused(capsys: pytest.CaptureFixture[str]) -> None:
    rc, doc = run_json(capsys, "probe", f"https://127.0.0.1:{free_port()}/", "--tls", "1.3")
    assert rc == 3 and doc["exit_code"] == 3
    for p in ran(doc):
        assert p["outcome"]["kind"] == "connect" and p["outcome"]["reason"] == "refused"


def test_exit_3_dns(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "probe", "https://nonexistent.invalid/", "--tls", "1.3",
                       "-p", "no-cert", "--format", "json")  # fmt: skip
    assert rc == 3
    assert "nonexistent.invalid" in assert_one_error_line(err)
    (p,) = json.loads(out)["targets"][0]["probes"]
    assert p["outcome"]["kind"] == "connect" and p["outcome"]["reason"] == "dns"
    assert p["verdict"] == "error"


def test_exit_3_silent_port_bounded_by_timeout(
    silent_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    t0 = time.monotonic()
    rc, out, err = run(capsys, "probe", f"https://127.0.0.1:{silent_port}/", "--timeout", "1",
                       "--tls", "1.3", "--format", "json")  # fmt: skip
    elapsed = time.monotonic() - t0
    assert rc == 3, err
    assert 0.9 <= elapsed < 3.5, elapsed
    assert "timeout" in assert_one_error_line(err)
    for p in ran(json.loads(out)):
        assert p["outcome"]["kind"] == "connect" and p["outcome"]["reason"] == "timeout"
        assert p["outcome"]["phase"] is None  # no ServerHello: no TLS phase


def test_exit_3_plain_http_port(plain_http_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "probe", f"https://127.0.0.1:{plain_http_port}/", "--tls", "both",
                       "--format", "json")  # fmt: skip
    assert rc == 3
    assert "not-tls" in assert_one_error_line(err)
    assert all(p["outcome"]["kind"] == "not-tls" for p in ran(json.loads(out)))


@pytest.mark.parametrize("tls", ["1.2", "1.3"])
def test_hangup_mid_handshake(
    hangup_port: int, pki: PKI, tls: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = run(capsys, "probe", f"https://127.0.0.1:{hangup_port}/", "--pki",
                       str(pki.directory), "--tls", tls, "--format", "json")  # fmt: skip
    assert "Traceback" not in err
    probes = json.loads(out)["targets"][0]["probes"]
    for p in probes:
        o = p["outcome"]
        # No ServerHello ever came: not a TLS-phase rejection, so no phase...
        assert (o["kind"], o["phase"]) == ("connect", None), o
        assert o["reason"] in ("closed", "reset"), o
        # ...and never a "pass" for a rejection probe: the server saw no certificate.
        assert p["verdict"] == "error", p
    assert rc == 3  # nothing answered TLS: the target is unreachable
    findings = {f["code"] for f in json.loads(out)["targets"][0]["findings"]}
    assert "target-unreachable" in findings


def test_hangup_before_server_hello_is_not_a_pass(
    hangup_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, _ = run(capsys, "probe", f"https://127.0.0.1:{hangup_port}/", "-p", "no-cert",
                   "--tls", "1.3")  # fmt: skip
    assert rc != 0


# --------------------------------------------------------------------------- bad input


# (arguments with {placeholders}, text the one error line must contain)
BAD_INPUT: dict[str, tuple[str, str]] = {
    "missing cert": ("--cert /nonexistent/c.pem --key {key}", "not found"),
    "missing key": ("--cert {cert} --key /nonexistent/c.key", "not found"),
    "cert is a directory": ("--cert {dir} --key {key}", "directory"),
    "cert under a file": ("--cert {cert}/x.pem --key {key}", "not a directory"),
    "garbage cert": ("--cert {garbage} --key {key}", "neither a PEM nor"),
    "garbage key": ("--cert {cert} --key {garbage}", "private key"),
    "key mismatch": ("--cert {cert} --key {other_key}", "does not match"),
    "wrong key password": (
        "--cert {cert} --key {enc_key} --key-password-env MTLSCHECK_T_WRONG",
        "wrong password",
    ),
    "encrypted key, no password": ("--cert {cert} --key {enc_key}", "--key-password-env"),
    "password env unset": (
        "--cert {cert} --key {enc_key} --key-password-env MTLSCHECK_T_UNSET",
        "MTLSCHECK_T_UNSET",
    ),
    "missing cacert": ("--cacert /nonexistent/ca.pem", "not found"),
    "bad expect": ("--expect no-cert=bogus", "bogus"),
    "bad expect alert": ("--expect no-cert=alert:no_such_alert", "no_such_alert"),
    "expect without =": ("--expect no-cert", "--expect"),
    "unknown probe": ("-p no-such-probe", "no-such-probe"),
    "unknown server profile": ("--server iis", "iis"),
    "malformed resolve": ("--resolve garbage", "--resolve"),
    "resolve for another host": ("--resolve other.example:1:127.0.0.1", "--resolve"),
    "bad tls version": ("--tls 1.1", "1.1"),
    "key without cert": ("--key {key}", "--cert"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_one_line_exit_2(
    case: str,
    apache_ref: ReferenceServer,
    pki: PKI,
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MTLSCHECK_T_WRONG", "not-the-password")
    monkeypatch.delenv("MTLSCHECK_T_UNSET", raising=False)
    template, needle = BAD_INPUT[case]
    values = {
        "cert": pki.role("valid").cert,
        "key": pki.role("valid").key,
        "other_key": pki.role("expired").key,
        **files,
    }
    args = [a.format(**values) for a in template.split()]
    before = len(apache_ref.requests)
    rc, out, err = run(capsys, "probe", apache_ref.url, "--tls", "1.3", *args)
    assert rc == 2, (out, err)
    line = assert_one_error_line(err)
    assert needle.lower() in line.lower(), line
    assert out == ""
    assert len(apache_ref.requests) == before, "input errors are found before any connection"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a mode-000 file anyway")
def test_unreadable_cert(pki: PKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "c.pem"
    f.write_bytes(pki.role("valid").cert.read_bytes())
    f.chmod(0)
    rc, _, err = run(capsys, "probe", "https://127.0.0.1:1/", "--cert", str(f),
                     "--key", str(pki.role("valid").key))  # fmt: skip
    assert rc == 2
    assert "not readable" in assert_one_error_line(err)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/", "ftp://example.com/", "not a url", "https://"],
)
def test_url_must_be_https(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "probe", url)
    assert rc == 2
    assert_one_error_line(err)


def test_missing_url(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "probe")
    assert rc == 2
    assert "URL" in assert_one_error_line(err)


def test_unknown_option_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "probe", "https://127.0.0.1:1/", "--no-such-option")
    assert rc == 2
    assert "Traceback" not in err and "--no-such-option" in err


def test_console_script_path_no_traceback(tmp_path: Path) -> None:
    """``python -m mtlscheck``: the real entry point maps errors to one line and exit 2."""
    res = subprocess.run(
        [sys.executable, "-m", "mtlscheck", "probe", "https://127.0.0.1:1/",
         "--cert", str(tmp_path / "missing.pem"), "--key", str(tmp_path / "missing.key")],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert res.returncode == 2, res.stderr
    line = assert_one_error_line(res.stderr)
    assert "missing.pem" in line
    assert res.stdout == ""


def test_list_probes(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "probe", "--list-probes")
    assert rc == 0
    for name in ("no-cert", "valid", "expired", "wrong-ca", "revoked", "chain-missing"):
        assert name in out


def test_save_certs_keeps_minted_certificates_for_the_reproduce_commands(
    apache_ref: ReferenceServer, pki: PKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keep = tmp_path / "minted"
    rc, doc = run_json(capsys, "probe", apache_ref.url, "--cacert", str(pki.ca_cert),
                       "--ca-cert", str(pki.ca_cert), "--ca-key", str(pki.ca_key),
                       "-p", "expired", "--tls", "1.3", "--save-certs", str(keep),
                       "--format", "json")  # fmt: skip
    assert rc == 0
    target = doc["targets"][0]
    assert target["certs_dir"] == str(keep.resolve())
    assert target["certs_removed"] is False
    curl = target["probes"][0]["curl"]
    assert str(keep / "expired.pem") in curl
    assert (keep / "expired.pem").is_file()
    assert (keep / "expired.key").stat().st_mode & 0o777 == 0o600
    # Without --save-certs the console says the minted files are gone.
    rc, out, _ = run(capsys, "probe", apache_ref.url, "--cacert", str(pki.ca_cert),
                     "-p", "wrong-ca", "--tls", "1.3", "--expect", "wrong-ca=200",
                     "--no-color")  # fmt: skip
    assert rc == 1
    assert "rerun with --save-certs DIR" in out


def test_unreachable_target_shows_no_empty_handshake_panel(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc, out, _ = run(capsys, "probe", f"https://127.0.0.1:{port}/", "--tls", "1.3", "--no-color")
    assert rc == 3
    # nothing listening: one line, not a table of refused probes
    assert out.splitlines() == [
        f"Target https://127.0.0.1:{port}/  nothing listening (connect refused)"
    ]
    rc, out, _ = run(capsys, "probe", f"https://127.0.0.1:{port}/", "--tls", "1.3", "--no-color",
                     "-v")  # fmt: skip
    assert rc == 3
    assert "Handshake" not in out
    assert "connection-refused" in out


def _run_in_pty(argv: list[str], answer: bytes, timeout: float = 20.0) -> tuple[int, str]:
    """Run argv on a pseudo-terminal, type ``answer`` at the password prompt, return
    (exit code, everything the terminal showed)."""
    import pty
    import select as _select

    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execvp(argv[0], argv)
    seen = b""
    answered = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = _select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        if not answered and b"Password for" in seen:
            os.write(fd, answer + b"\n")
            answered = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode("utf-8", "replace")


@pytest.mark.parametrize(("password", "code"), [(b"right-password", 0), (b"nope", 2)])
def test_encrypted_key_password_prompt_on_a_terminal(
    apache_ref: ReferenceServer, pki: PKI, files: dict[str, Path], password: bytes, code: int
) -> None:
    rc, screen = _run_in_pty(
        [sys.executable, "-m", "mtlscheck", "probe", apache_ref.url, "--cacert", str(pki.ca_cert),
         "--cert", str(pki.role("valid").cert), "--key", str(files["enc_key"]),
         "-p", "valid", "--tls", "1.3", "--no-color"],
        password,
    )  # fmt: skip
    assert "Password for" in screen
    assert "right-password" not in screen and "nope" not in screen  # not echoed
    assert rc == code, screen
    if code == 0:
        assert "http 200" in screen
    else:
        assert "mtlscheck: error: wrong password for private key" in screen
        assert "Traceback" not in screen


def test_save_certs_never_overwrites_a_users_directory(
    apache_ref: ReferenceServer, pki: PKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "expired.pem").write_text("my own file\n")
    rc, _, err = run(capsys, "probe", apache_ref.url, "--pki", str(pki.directory),
                     "-p", "wrong-ca", "--save-certs", str(mine))  # fmt: skip
    assert rc == 2
    assert "not empty" in assert_one_error_line(err)
    assert (mine / "expired.pem").read_text() == "my own file\n"
    # A directory mtlscheck wrote may be reused: the same command runs twice.
    kept = tmp_path / "kept"
    for _ in range(2):
        rc, _, err = run(capsys, "probe", apache_ref.url, "--pki", str(pki.directory),
                         "-p", "wrong-ca", "--tls", "1.3", "--save-certs", str(kept))  # fmt: skip
        assert rc == 0, err


@pytest.fixture
def mute_tls_port(pki: PKI) -> Iterator[int]:
    """Completes the TLS handshake, then never answers the HTTP request."""
    from OpenSSL import SSL

    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ctx.use_certificate_file(str(pki.server_cert))
    ctx.use_privatekey_file(str(pki.server_key))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            held.append(sock)
            conn = SSL.Connection(ctx, sock)
            conn.set_accept_state()
            with contextlib.suppress(SSL.Error):
                conn.do_handshake()

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()
    for sock in held:
        sock.close()


def test_server_silent_after_handshake_is_reached_but_not_judged(
    mute_tls_port: int, pki: PKI, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, doc = run_json(capsys, "probe", f"https://127.0.0.1:{mute_tls_port}/", "--cacert",
                       str(pki.ca_cert), "-p", "no-cert", "--tls", "1.2", "--timeout", "1",
                       "--format", "json")  # fmt: skip
    probe = doc["targets"][0]["probes"][0]
    assert probe["outcome"]["reason"] == "timeout"
    assert probe["outcome"]["phase"] == "after-handshake"
    assert probe["verdict"] == "error"
    # A TLS server was reached: this is "not met" (1), not "unreachable" (3).
    assert rc == 1
