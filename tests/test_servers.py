"""Smoke tests for the real-server harness (tests/servers.py) with curl as the client.

Observed rejection of a client without a certificate (curl 7.88 / OpenSSL 3.0):
- nginx (ssl_verify_client on): handshake completes, HTTP 400 "No required SSL certificate
  was sent" on TLS 1.2 and 1.3.
- Apache (require) and HAProxy (verify required): TLS 1.2 alert 40 handshake_failure during the
  handshake (curl exit 35); TLS 1.3 alert 116 certificate_required on the first read (exit 56).
- Caddy 2.6 (require_and_verify, Go crypto/tls): TLS 1.2 alert 42 bad_certificate (exit 35);
  TLS 1.3 the alert is sent and the connection closed at once, so curl usually fails to send its
  request (exit 55, "Send failure" / "getpeername() failed") before it can read the alert.
- stunnel 5.68 (verifyChain + requireCert) and gunicorn 20.1 (--cert-reqs 2, Python ssl), both
  OpenSSL: TLS 1.2 alert 40 handshake_failure (exit 35); TLS 1.3 certificate_required then an
  immediate close, so curl gets exit 56 (alert read) or 55 (lost the race), varying by run.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from servers import (
    SERVER_CLASSES,
    ApacheServer,
    NginxServer,
    RealServer,
    ServerError,
    pid_exists,
    port_accepts,
    port_is_free,
    process_group_exists,
)

from mtlscheck._pki import PKI

pytestmark = pytest.mark.realserver

TLS_VERSIONS = {"1.2": ["--tlsv1.2", "--tls-max", "1.2"], "1.3": ["--tlsv1.3"]}


@dataclass
class CurlResult:
    rc: int
    status: int
    body: str
    stderr: str


def curl(url: str, pki: PKI, tls: str, role: str | None = None) -> CurlResult:
    cmd = ["curl", "-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"]
    cmd += ["--cacert", str(pki.ca_cert), *TLS_VERSIONS[tls]]
    if role is not None:
        r = pki.role(role)
        assert r.key is not None
        cmd += ["--cert", str(r.send_file), "--key", str(r.key)]
    res = subprocess.run(
        [*cmd, url], capture_output=True, text=True, timeout=15, stdin=subprocess.DEVNULL
    )
    body, _, code = res.stdout.rpartition("\n")
    return CurlResult(res.returncode, int(code or 0), body, res.stderr.strip())


def factory_for(request: pytest.FixtureRequest, name: str) -> Callable[..., RealServer]:
    fixture = {
        "nginx": "nginx",
        "apache2": "apache",
        "haproxy": "haproxy",
        "caddy": "caddy",
        "stunnel": "stunnel",
        "gunicorn": "gunicorn",
        "uvicorn": "uvicorn",
    }
    factory: Callable[..., RealServer] = request.getfixturevalue(f"{fixture[name]}_factory")
    return factory


def default_fragment(name: str, paths: dict[str, Path], **knobs: str) -> str:
    kwargs = dict(paths)
    if name in ("caddy", "gunicorn", "uvicorn"):
        del kwargs["crl"]  # Caddy 2.6, gunicorn 20.1, uvicorn: no CRL for client certs
    return SERVER_CLASSES[name].mtls_fragment(**kwargs, **knobs)  # type: ignore[attr-defined]


def assert_rejected(name: str, tls: str, res: CurlResult, url: str) -> None:
    what = f"{name} TLS {tls} without client cert: {res}"
    if name == "nginx":
        assert res.rc == 0, what
        assert res.status == 400, what
        assert "No required SSL certificate was sent" in res.body, what
        return
    assert res.rc != 0 and res.status == 0, what
    if name == "uvicorn":
        # Measured: asyncio's SSL transport closes without sending OpenSSL's alert.
        assert res.rc in ((35,) if tls == "1.2" else (52, 55, 56)), what
        return
    if tls == "1.2":
        assert res.rc == 35, what
        alert = "bad certificate" if name == "caddy" else "handshake failure"
        assert alert in res.stderr, what
    elif name in ("caddy", "stunnel", "gunicorn"):  # alert and close at once: curl may lose it
        assert res.rc in (55, 56), what
    else:
        assert res.rc == 56, what
        assert "alert certificate required" in res.stderr, what


@pytest.mark.parametrize("tls", sorted(TLS_VERSIONS))
@pytest.mark.parametrize("name", sorted(SERVER_CLASSES))
def test_default_mtls_accepts_valid_rejects_missing(
    request: pytest.FixtureRequest,
    name: str,
    tls: str,
    server_pki: PKI,
    mtls_paths: dict[str, Path],
) -> None:
    server = factory_for(request, name)(default_fragment(name, mtls_paths))
    ok = curl(server.url, server_pki, tls, role="valid")
    assert (ok.rc, ok.status, ok.body.strip()) == (0, 200, "ok"), f"{ok}\n{server.logs()}"
    # by IP too: no SNI must not bypass client auth (Caddy did with a host-bound site)
    ok_ip = curl(server.url_ip, server_pki, tls, role="valid")
    assert (ok_ip.rc, ok_ip.status) == (0, 200), ok_ip
    assert_rejected(name, tls, curl(server.url, server_pki, tls), server.url)
    assert_rejected(name, tls, curl(server.url_ip, server_pki, tls), server.url_ip)


@pytest.mark.parametrize("name", sorted(SERVER_CLASSES))
def test_stop_ends_process_group_and_frees_port(
    request: pytest.FixtureRequest, name: str, mtls_paths: dict[str, Path]
) -> None:
    server = factory_for(request, name)(default_fragment(name, mtls_paths))
    pid, port, workdir = server.pid, server.port, server.workdir
    assert pid_exists(pid) and port_accepts(port)
    server.stop()
    assert not pid_exists(pid)
    assert not process_group_exists(pid), "workers/children left behind"
    assert port_is_free(port)
    assert workdir is not None and not workdir.exists()
    server.stop()  # idempotent


@pytest.mark.parametrize("tls", sorted(TLS_VERSIONS))
def test_session_fixtures_use_pki_snippets(
    nginx_mtls: NginxServer, apache_mtls: ApacheServer, server_pki: PKI, tls: str
) -> None:
    for name, server in (("nginx", nginx_mtls), ("apache2", apache_mtls)):
        ok = curl(server.url, server_pki, tls, role="valid")
        assert (ok.rc, ok.status, ok.body.strip()) == (0, 200, "ok"), f"{name}: {ok}"
        # an intermediate-issued client sends its chain: accepted with depth 2 + both CRLs
        inter = curl(server.url, server_pki, tls, role="intermediate")
        assert (inter.rc, inter.status) == (0, 200), f"{name}: {inter}"
        assert_rejected(name, tls, curl(server.url, server_pki, tls), server.url)


def test_optional_verify_lets_clients_without_cert_through(
    nginx_factory: Callable[..., NginxServer],
    server_pki: PKI,
    mtls_paths: dict[str, Path],
) -> None:
    server = nginx_factory(NginxServer.mtls_fragment(**mtls_paths, verify="optional"))
    res = curl(server.url, server_pki, "1.3")
    assert (res.rc, res.status) == (0, 200), res


def test_tls12_only_knob(request: pytest.FixtureRequest, mtls_paths: dict[str, Path]) -> None:
    server = factory_for(request, "haproxy")(
        default_fragment("haproxy", mtls_paths, protocols="TLSv1.2")
    )
    res = subprocess.run(
        ["curl", "-sS", "--tlsv1.3", "-o", "/dev/null", server.url],
        capture_output=True,
        text=True,
        timeout=15,
    )
    assert res.returncode == 35, res.stderr


def test_bad_fragment_fails_with_readable_error() -> None:
    with pytest.raises(ServerError, match=r"(?s)rejected its configuration.*no_such_directive"):
        NginxServer("server { no_such_directive on; }").start()


def test_port_clash_reports_server_log(mtls_paths: dict[str, Path]) -> None:
    # The port accepts (nginx holds it) but not for Apache: start() must not mistake nginx
    # for a ready Apache, and must report Apache's own error log.
    with NginxServer(NginxServer.mtls_fragment(**mtls_paths)) as first:
        clash = ApacheServer(ApacheServer.mtls_fragment(**mtls_paths), port=first.port)
        with pytest.raises(ServerError, match=r"(?s)exited with status.*[Aa]ddress already in use"):
            clash.start()
        assert first.running
