"""``mtlscheck explain | verify | inspect`` on the command line: output, JSON, exit codes, bad
input (one ``mtlscheck: error:`` line, exit 2), and passwords from the environment or a prompt.
Files come from a PKI made by mtlscheck._pki; no network."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from offline_helpers import crl_files
from test_cli import _run_in_pty, assert_one_error_line

from mtlscheck._cli import main
from mtlscheck._pki import PKI

NGINX_LINE = (
    "2026/12/02 04:50:58 [info] 16988#16988: *6 client SSL certificate verify error: "
    "(10:certificate has expired) while reading client request headers, client: 127.0.0.1"
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    rc, out, err = run(capsys, *argv, "--format", "json")
    assert "Traceback" not in err
    doc = json.loads(out)
    assert doc["tool"] == "mtlscheck"
    return rc, doc


@pytest.fixture(scope="module")
def files(server_pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("offline")
    out = crl_files(server_pki, d)
    key = serialization.load_pem_private_key(server_pki.role("valid").key.read_bytes(), None)  # type: ignore[union-attr]
    enc = d / "enc.key"
    enc.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"s3cret"),
        )
    )
    der = d / "valid.der"
    from cryptography import x509

    der.write_bytes(
        x509.load_pem_x509_certificate(server_pki.role("valid").cert.read_bytes()).public_bytes(
            serialization.Encoding.DER
        )
    )
    junk = d / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    empty = d / "empty.log"
    empty.write_text("")
    return {**out, "enc": enc, "der": der, "junk": junk, "empty": empty}


# --------------------------------------------------------------------------- explain


def test_explain_text_argument(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "explain", NGINX_LINE)
    assert rc == 0 and err == ""
    assert "[nginx]" in out and "certificate has expired" in out
    assert "valid-cert-rejected" in out and "mtlscheck probe" in out


def test_explain_file_and_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "error.log"
    log.write_text(f"{NGINX_LINE}\n{NGINX_LINE}\nsomething else\n")
    rc, doc = run_json(capsys, "explain", "--file", str(log))
    assert rc == 0
    (e,) = doc["explanations"]
    assert e["pattern"] == "nginx-verify-error" and e["count"] == 2
    assert e["codes"][0] == "valid-cert-rejected" and e["fixes"] and e["confirm"]
    assert doc["lines"] == 3


def test_explain_stdin_subprocess() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "mtlscheck", "explain"],
        input="curl: (56) OpenSSL SSL_read: error:0A00045C:SSL routines::tlsv13 alert "
        "certificate required, errno 0\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert "certificate_required" in res.stdout and "curl exit 56" in res.stdout


def test_explain_unrecognised_says_which_log_levels(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "explain", "all quiet here")
    assert rc == 0
    assert "error_log /var/log/nginx/error.log info;" in out and "LogLevel ssl:info" in out


def test_explain_escapes_control_characters(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "explain", NGINX_LINE + "\x1b[2J\x07")
    assert rc == 0 and "\x1b" not in out and "\\x1b" in out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["explain", "--file", "/nonexistent/error.log"], "file not found"),
        (["explain", "--file", "EMPTY"], "input is empty"),
        (["explain", "x", "--file", "EMPTY"], "not both"),
        (["explain", "x", "--format", "xml"], "--format"),
    ],
)
def test_explain_bad_input(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path], argv: list[str], says: str
) -> None:
    argv = [str(files["empty"]) if a == "EMPTY" else a for a in argv]
    rc, _, err = run(capsys, *argv)
    assert rc == 2
    assert says in assert_one_error_line(err)


# --------------------------------------------------------------------------- verify


def test_verify_exit_codes_and_json(
    capsys: pytest.CaptureFixture[str], server_pki: PKI, files: dict[str, Path]
) -> None:
    ca, crl = str(server_pki.ca_cert), str(server_pki.crl)
    rc, out, _ = run(capsys, "verify", str(server_pki.role("valid").cert), "--ca", ca, "--crl", crl)
    assert rc == 0 and out.startswith("VERIFIED")
    rc, out, _ = run(
        capsys, "verify", str(server_pki.role("revoked").cert), "--ca", ca, "--crl", crl
    )
    assert rc == 1 and out.startswith("NOT VERIFIED")
    assert "client SSL certificate verify error: (23:certificate revoked)" in out
    rc, doc = run_json(
        capsys, "verify", str(server_pki.role("intermediate").cert), "--ca", ca,
        "--chain", str(server_pki.role("intermediate-ca").cert), "--crl", str(files["root-only"]),
    )  # fmt: skip
    assert rc == 1 and doc["verified"] is False
    assert doc["openssl_error"]["openssl_error"] == 3
    assert doc["depth_needed"] == {"nginx_ssl_verify_depth": 1, "apache_SSLVerifyDepth": 2}
    assert [c["source"] for c in doc["chain"]] == ["sent", "sent", "ca file"]


def test_verify_pkcs12_and_at(
    capsys: pytest.CaptureFixture[str],
    server_pki: PKI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cryptography.hazmat.primitives.serialization import pkcs12

    valid = server_pki.issued("valid")
    p12 = tmp_path / "c.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"c", valid.key, valid.cert, None, serialization.BestAvailableEncryption(b"pw")
        )
    )
    monkeypatch.setenv("P12PW", "pw")
    ca = str(server_pki.ca_cert)
    rc, out, _ = run(capsys, "verify", str(p12), "--ca", ca, "--password-env", "P12PW")
    assert rc == 0, out
    rc, out, _ = run(capsys, "verify", str(p12), "--ca", ca, "--password-env", "P12PW",
                     "--at", "2000-01-01")  # fmt: skip
    assert rc == 1 and "(9:certificate is not yet valid)" in out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["verify", "VALID", "--ca", "/nonexistent.pem"], "file not found"),
        (["verify", "VALID", "--ca", "JUNK"], "cannot parse"),
        (["verify", "VALID", "--ca", "VALIDKEY"], "no certificate in --ca"),
        (["verify", "VALID", "--ca", "CA", "--at", "next tuesday"], "--at"),
        (["verify", "VALID", "--ca", "CA", "--crl", "CA"], "CRL"),
        (["verify", "VALID", "--ca", "CA", "--password-env", "MTLSCHECK_UNSET_VAR"], "not set"),
    ],
)
def test_verify_bad_input(
    capsys: pytest.CaptureFixture[str],
    server_pki: PKI,
    files: dict[str, Path],
    argv: list[str],
    says: str,
) -> None:
    sub = {
        "VALID": server_pki.role("valid").cert,
        "VALIDKEY": server_pki.role("valid").key,
        "CA": server_pki.ca_cert,
        "JUNK": files["junk"],
    }
    rc, _, err = run(capsys, *[str(sub.get(a, a)) for a in argv])
    assert rc == 2
    assert says in assert_one_error_line(err)


# --------------------------------------------------------------------------- inspect


def test_inspect_chain_key_and_crl(
    capsys: pytest.CaptureFixture[str], server_pki: PKI, files: dict[str, Path]
) -> None:
    inter = server_pki.role("intermediate")
    rc, out, err = run(
        capsys, "inspect", str(inter.send_file), str(inter.key), str(server_pki.ca_cert),
        str(files["stale"]),
    )  # fmt: skip
    assert rc == 0, err
    assert "CN=intermediate-client" in out and "EKU:          clientAuth" in out
    assert "issued by it (AKI = SKI, signature ok)" in out
    assert "ok: the key in" in out and "matches O=mtlscheck test PKI,CN=intermediate-client" in out
    assert "EXPIRED" in out and "refuse every client" in out  # the stale CRL
    assert "SHA-256:" in out and "day(s) left" in out


def test_inspect_key_that_matches_nothing_and_revoked(
    capsys: pytest.CaptureFixture[str], server_pki: PKI
) -> None:
    rc, doc = run_json(
        capsys, "inspect", str(server_pki.role("revoked").cert), str(server_pki.role("valid").key),
        str(server_pki.crl), str(server_pki.ca_cert),
    )  # fmt: skip
    assert rc == 0
    checks = {(c["check"], c["ok"]) for c in doc["checks"]}
    assert ("key-matches-cert", False) in checks
    assert ("revoked", False) in checks and ("crl-issuer", True) in checks
    cert = doc["files"][0]["items"][0]
    assert cert["kind"] == "certificate" and cert["client_auth"] is True and cert["ca"] is False


def test_inspect_der_pkcs12_and_encrypted_key(
    capsys: pytest.CaptureFixture[str],
    server_pki: PKI,
    files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rc, doc = run_json(capsys, "inspect", str(files["der"]))
    assert rc == 0 and doc["files"][0]["format"] == "DER"
    monkeypatch.setenv("KEYPW", "s3cret")
    rc, doc = run_json(
        capsys, "inspect", str(server_pki.role("valid").cert), str(files["enc"]),
        "--password-env", "KEYPW",
    )  # fmt: skip
    assert rc == 0
    assert [c["ok"] for c in doc["checks"] if c["check"] == "key-matches-cert"] == [True]


def test_inspect_pkcs12_needs_a_password(
    capsys: pytest.CaptureFixture[str], server_pki: PKI
) -> None:
    assert server_pki.p12 is not None
    rc, _, err = run(capsys, "inspect", str(server_pki.p12))
    assert rc == 2
    assert "needs a password" in assert_one_error_line(err)


@pytest.mark.parametrize(("password", "code"), [(b"s3cret", 0), (b"n0pe-x", 2)])
def test_inspect_password_prompt_on_a_terminal(
    files: dict[str, Path], password: bytes, code: int
) -> None:
    rc, screen = _run_in_pty(
        [sys.executable, "-m", "mtlscheck", "inspect", str(files["enc"])], password
    )
    assert "Password for" in screen
    assert password.decode() not in screen  # not echoed
    assert rc == code, screen
    if code == 0:
        assert "private-key" in screen
    else:
        assert "mtlscheck: error: wrong password" in screen and "Traceback" not in screen


@pytest.mark.parametrize(
    ("name", "says"),
    [("junk", "cannot parse"), ("empty", "is empty")],
)
def test_inspect_bad_input(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path], name: str, says: str
) -> None:
    rc, _, err = run(capsys, "inspect", str(files[name]))
    assert rc == 2
    assert says in assert_one_error_line(err)
