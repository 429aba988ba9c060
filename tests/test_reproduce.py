"""Every printed ``curl`` and ``openssl s_client`` command gets the answer the probe got.

A reproduce command that connects elsewhere, sends another SNI, checks another name or
presents another certificate sends the user chasing a problem mtlscheck did not see.  So each
command the probe printed is run, as printed (through ``sh -c``), against the built-in
reference server in all three modes and both TLS versions, and its *outcome class* (the HTTP
status; a TLS-level rejection; our side refusing the server) must equal the probe's.

Three ways to address the server, each a way the commands could go wrong:
``plain`` (URL by IP), ``servername`` (URL by IP, SNI and name check by ``--servername``:
curl applies ``--connect-to`` only to the URL's host, so the URL must name the servername)
and ``resolve`` (URL by name, address by ``--resolve``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mtlscheck import check
from mtlscheck._model import Outcome, OutcomeKind, ProbeResult, Verdict
from mtlscheck._pki import PKI, init_pki
from mtlscheck._secrets import P12_PASSWORD_ENV
from mtlscheck._server import ReferenceServer

MODES = ("nginx", "apache", "optional")
NAME = "mtls.test"  # the only name in the server certificate of the "named" PKI
CMD_TIMEOUT = 15.0


@pytest.fixture(scope="module")
def pkis(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[PKI, str]]:
    base = tmp_path_factory.mktemp("reproduce")
    return {
        "ip": init_pki(base / "ip", hosts=("127.0.0.1",)),
        "named": init_pki(base / "named", hosts=(NAME,)),
    }


def probe_class(o: Outcome) -> tuple[str, ...]:
    if o.kind is OutcomeKind.HTTP:
        return ("http", str(o.status))
    if o.kind is OutcomeKind.TLS_ALERT or o.is_tls_hangup:
        return ("tls-rejected",)
    if o.kind is OutcomeKind.TLS_LOCAL:
        return ("server-refused",)
    return ("other", str(o.kind), o.reason or "")


def curl_class(proc: subprocess.CompletedProcess[str]) -> tuple[str, ...]:
    if proc.returncode == 0:
        return ("http", proc.stdout.strip())
    err = proc.stderr
    # curl's own verification of the server ("SSL certificate problem: ...", name mismatch)
    if "SSL certificate problem" in err or "certificate subject name" in err:
        return ("server-refused",)
    # 35 handshake failed (alert), 56 receive failure (TLS 1.3 alert after the handshake),
    # 55 send failure (reset), 60 "SSL certificate verification failed" = the server's
    # certificate_expired alert (curl files it under verification).
    if proc.returncode == 52:  # "Empty reply from server": plain HTTP met a hang-up
        return ("other", "connect", "closed")
    if proc.returncode in (35, 55, 56) or "SSL certificate verification failed" in err:
        return ("tls-rejected",)
    return ("curl-error", str(proc.returncode), err.strip()[:200])


def openssl_class(rc: int, out: str, err: str) -> tuple[str, ...]:
    m = re.search(r"^HTTP/1\.[01] (\d{3})", out, re.MULTILINE)
    if m:
        return ("http", m.group(1))
    if "verify error" in err:  # -verify_return_error: s_client refused the server
        return ("server-refused",)
    if re.search(r"alert|SSL routines|errno=104|Connection reset", err):
        return ("tls-rejected",)
    return ("openssl-error", str(rc), err.strip()[-200:])


def run_curl(cmd: str, env: dict[str, str]) -> tuple[str, ...]:
    proc = subprocess.run(
        ["sh", "-c", cmd], capture_output=True, text=True, timeout=CMD_TIMEOUT, env=env
    )
    return curl_class(proc)


def run_openssl(cmd: str, host: str, env: dict[str, str]) -> tuple[str, ...]:
    """Run the printed s_client line and type an HTTP request into it, as a user would.

    stdin stays open until s_client exits: on end of input it would hang up before reading
    the answer (and a TLS 1.3 rejection only shows on that read).
    """
    request = f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            ["sh", "-c", cmd], stdin=subprocess.PIPE, stdout=out, stderr=err, env=env
        )
        assert proc.stdin is not None
        try:
            try:
                proc.stdin.write(request)
                proc.stdin.flush()
            except BrokenPipeError:
                pass  # s_client already ended (an alert in the handshake): its output says why
            rc = proc.wait(CMD_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        finally:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
        out.seek(0)
        err.seek(0)
        return openssl_class(
            rc, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
        )


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTLSCHECK_")}
    env.update(extra)
    env.pop("SSLKEYLOGFILE", None)
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env.pop(proxy, None)
    return env


def _compare(results: tuple[ProbeResult, ...], host: str, env: dict[str, str]) -> None:
    ran = [r for r in results if r.verdict is not Verdict.SKIP]
    assert ran, "no probe ran"
    mismatches = []
    for r in ran:
        assert r.outcome is not None
        want = probe_class(r.outcome)
        got_curl = run_curl(r.curl, env)
        # No TLS, no s_client line: the plaintext probe prints curl http:// only.
        got_openssl = run_openssl(r.openssl, host, env) if r.openssl else want
        if got_curl != want or got_openssl != want:
            mismatches.append(
                f"{r.name}: probe {want}, curl {got_curl}, openssl {got_openssl}\n"
                f"  curl: {r.curl}\n  openssl: {r.openssl}"
            )
    assert not mismatches, "\n".join(mismatches)


@pytest.fixture
def save_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="mtlscheck-repro-") as tmp:
        yield Path(tmp) / "certs"


@pytest.mark.parametrize("style", ["plain", "servername", "resolve"])
@pytest.mark.parametrize("mode", MODES)
def test_every_printed_command_gets_the_probes_outcome_class(
    pkis: dict[str, tuple[PKI, str]], mode: str, style: str, save_dir: Path
) -> None:
    pki, _ = pkis["ip" if style == "plain" else "named"]
    with ReferenceServer.from_pki_dir(pki.directory, mode=mode) as srv:
        port = srv.port
        servername = address = None
        if style == "plain":
            url, host = f"https://127.0.0.1:{port}/", "127.0.0.1"
        elif style == "servername":
            url, host, servername = f"https://127.0.0.1:{port}/", NAME, NAME
        else:
            url, host, address = f"https://{NAME}:{port}/", NAME, "127.0.0.1"
        result = check(
            url,
            pki=pki.directory,
            probes=["all"],
            tls="both",
            save_certs=save_dir,
            servername=servername,
            address=address,
        )
        classes = {probe_class(r.outcome) for r in result.results if r.outcome is not None}
        # The comparison means something only if the probes saw both sides.
        assert ("http", "200") in classes
        if mode != "optional":
            assert len(classes) > 1, classes
        _compare(result.results, host, _env())


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_pkcs12_identity_commands_take_the_password_from_the_environment(
    pkis: dict[str, tuple[PKI, str]], version: str
) -> None:
    pki, password = pkis["ip"]
    p12 = pki.directory / "valid.p12"
    with ReferenceServer.from_pki_dir(pki.directory, mode="apache") as srv:
        result = check(
            srv.url,
            cert=p12,
            key_password=password.encode(),
            cacert=pki.ca_cert,
            probes=["valid", "no-cert"],
            tls=version,
        )
        valid = next(r for r in result.results if r.probe == "valid")
        assert valid.outcome is not None and valid.outcome.status == 200
        assert password not in valid.curl and password not in valid.openssl
        assert f"${P12_PASSWORD_ENV}" in valid.curl
        assert f"env:{P12_PASSWORD_ENV}" in shlex.split(valid.openssl)
        _compare(result.results, "127.0.0.1", _env(**{P12_PASSWORD_ENV: password}))


def test_the_printed_curl_names_the_servername_in_its_url() -> None:
    """The bug itself, without a server: --connect-to only applies to the URL's host."""
    from mtlscheck._commands import curl_command
    from mtlscheck._tls import TLSSettings

    s = TLSSettings(host="localhost", port=8443, servername="api.internal", version="1.3")
    argv = shlex.split(curl_command("https://localhost:8443/health?x=1", s, None))
    assert argv[-1] == "https://api.internal:8443/health?x=1"
    assert argv[argv.index("--connect-to") + 1] == "api.internal:8443:localhost:8443"
    assert argv[argv.index("-H") + 1] == "Host: localhost:8443"  # the probe's Host header
    s = TLSSettings(host="api.example", port=443, address="::1", servername="other.example")
    argv = shlex.split(curl_command("https://api.example/", s, None))
    assert argv[-1] == "https://other.example/"
    assert argv[argv.index("--connect-to") + 1] == "other.example:443:[::1]:443"
    assert "--resolve" not in argv
    assert argv[argv.index("-H") + 1] == "Host: api.example"


def test_commands_refuse_an_untrusted_server_like_the_probe(
    pkis: dict[str, tuple[PKI, str]],
) -> None:
    """No --cacert: the probe refuses the test server's certificate before sending anything;
    curl does too, and s_client only with -verify_return_error (it carries on by default)."""
    pki, _ = pkis["ip"]
    valid = pki.role("valid")
    with ReferenceServer.from_pki_dir(pki.directory, mode="nginx") as srv:
        result = check(
            srv.url, cert=valid.cert, key=valid.key, probes=["no-cert", "valid"], tls="both"
        )
        assert {probe_class(r.outcome) for r in result.results if r.outcome} == {
            ("server-refused",)
        }
        _compare(result.results, "127.0.0.1", _env())


@pytest.mark.parametrize("form", ["der", "encrypted-pem"])
def test_der_and_encrypted_key_identities_reproduce(
    pkis: dict[str, tuple[PKI, str]], form: str, tmp_path: Path
) -> None:
    """A DER certificate/key needs --cert-type/--key-type (-certform/-keyform), an encrypted
    key its password (--pass / -pass env:); without them curl and s_client fail or prompt."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from mtlscheck._secrets import KEY_PASSWORD_ENV

    pki, _ = pkis["ip"]
    valid = pki.role("valid")
    cert = x509.load_pem_x509_certificate(valid.cert.read_bytes())
    key = serialization.load_pem_private_key(valid.key.read_bytes(), None)
    password = "k3y-pass"
    if form == "der":
        cpath, kpath = tmp_path / "c.der", tmp_path / "k.der"
        cpath.write_bytes(cert.public_bytes(serialization.Encoding.DER))
        kpath.write_bytes(
            key.private_bytes(  # type: ignore[union-attr]
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_password = None
    else:
        cpath, kpath = valid.cert, tmp_path / "k.pem"
        kpath.write_bytes(
            key.private_bytes(  # type: ignore[union-attr]
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(password.encode()),
            )
        )
        key_password = password.encode()
    kpath.chmod(0o600)
    with ReferenceServer.from_pki_dir(pki.directory, mode="apache") as srv:
        result = check(
            srv.url,
            cert=cpath,
            key=kpath,
            key_password=key_password,
            cacert=pki.ca_cert,
            probes=["valid"],
            tls="1.3",
        )
        (r,) = result.results
        assert r.outcome is not None and r.outcome.status == 200
        if form == "der":
            assert "--cert-type DER" in r.curl and "-certform DER" in r.openssl
        else:
            assert password not in r.curl + r.openssl
            assert f"${KEY_PASSWORD_ENV}" in r.curl
        _compare(result.results, "127.0.0.1", _env(**{KEY_PASSWORD_ENV: password}))
