"""OCSP against REAL servers: nginx (``ssl_ocsp``) and Apache (``SSLOCSPEnable``) asking the
responder of ``mtlscheck pki ocsp-serve``, run as the CLI process and stopped by its pid.

Without a CRL and with OCSP off, the ``revoked`` probe gets in (``revocation-not-checked``, and
the responder hears nothing); with OCSP on, the server asks the responder, which says
"revoked", and the probe is refused (no finding).  Two ways to reach the responder:

* a responder set on the server, for certificates that name none (the session PKI):
  nginx ``ssl_ocsp_responder``, Apache ``SSLOCSPDefaultResponder`` + ``SSLOCSPOverrideResponder``;
* the URL in the certificates' AIA (a PKI made with ``--ocsp-url``): ``ssl_ocsp on`` /
  ``SSLOCSPEnable on`` alone.

What the servers did when this was written (nginx 1.22, Apache 2.4.6x, OpenSSL 3.0):
nginx asks by GET and answers the revoked certificate with its 400 page (log: "certificate
revoked"); Apache asks by POST with a nonce and sends alert ``certificate_revoked`` (log
AH03239 "certificate status: revoked").  Apache verifies the response only against the
certificates inside it, so the responder always includes the signer's.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import require_server
from servers import ApacheServer, NginxServer, RealServer, free_port

from mtlscheck import check
from mtlscheck._diagnose import Code
from mtlscheck._model import TargetResult
from mtlscheck._pki import PKI, init_pki

pytestmark = pytest.mark.realserver

PROBES = ["valid", "revoked", "expired"]


@dataclass
class ResponderProcess:
    """``mtlscheck pki ocsp-serve`` as a child process; its request log is a file."""

    proc: subprocess.Popen[str]
    url: str
    log: Path

    def answers(self) -> list[str]:
        """The request lines logged so far (one per OCSP request)."""
        return [ln for ln in self.log.read_text().splitlines() if " -> " in ln]

    def stop(self) -> None:
        """SIGTERM by pid: the responder's normal way to end; it must exit 0."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            pytest.fail(f"ocsp-serve did not stop on SIGTERM:\n{self.log.read_text()}")
        assert self.proc.returncode == 0, self.log.read_text()


def start_responder(pki_dir: Path, log: Path, *args: str) -> ResponderProcess:
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mtlscheck", "pki", "ocsp-serve", str(pki_dir), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    line = proc.stdout.readline() if ready else ""
    m = re.search(r"listening on (http://\S+/)", line)
    if m is None:
        proc.kill()
        proc.wait(10)
        pytest.fail(f"ocsp-serve did not start: {line!r}\n{log.read_text()}")
    return ResponderProcess(proc, m.group(1), log)


@contextlib.contextmanager
def running(pki_dir: Path, *args: str) -> Iterator[ResponderProcess]:
    with tempfile.TemporaryDirectory(prefix="mtlscheck-ocsp-log-") as tmp:
        rp = start_responder(pki_dir, Path(tmp) / "ocsp.log", *args)
        try:
            yield rp
        finally:
            rp.stop()


@pytest.fixture(scope="module")
def responder(test_pki_dir: Path) -> Iterator[ResponderProcess]:
    """For the session PKI, whose certificates name no responder: servers are told its URL."""
    with running(test_pki_dir, "--listen", "127.0.0.1:0") as rp:
        yield rp


@pytest.fixture(scope="module")
def aia_pki() -> Iterator[PKI]:
    """A PKI made with ``--ocsp-url http://127.0.0.1:PORT/ocsp`` (PORT free right now)."""
    base = Path(tempfile.mkdtemp(prefix="mtlscheck-test-ocsp-pki-"))
    base.chmod(0o755)  # like conftest's PKI: server workers may need to traverse it
    pki, _ = init_pki(base / "pki", ocsp_url=f"http://127.0.0.1:{free_port()}/ocsp")
    yield pki
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def aia_responder(aia_pki: PKI) -> Iterator[ResponderProcess]:
    """Listening where the certificates point: ocsp-serve's default without --listen."""
    with running(aia_pki.directory) as rp:
        assert aia_pki.ocsp_url is not None
        want = urllib.parse.urlsplit(aia_pki.ocsp_url)
        assert urllib.parse.urlsplit(rp.url).port == want.port
        yield rp


def nginx(ocsp: str) -> Callable[[PKI, str], str]:
    """nginx requiring client certificates, no CRL; ``ocsp``: off, responder (ssl_ocsp on +
    ssl_ocsp_responder URL) or aia (ssl_ocsp on: the certificate's URL)."""

    def fragment(pki: PKI, url: str) -> str:
        frag = NginxServer.mtls_fragment(
            server_cert=pki.server_cert, server_key=pki.server_key, client_ca=pki.ca_cert
        )
        lines = {"off": [], "responder": ["ssl_ocsp on;", f"ssl_ocsp_responder {url};"]}.get(
            ocsp, ["ssl_ocsp on;"]
        )
        marker = "    ssl_verify_client on;\n"
        assert marker in frag and "ssl_crl" not in frag
        return frag.replace(marker, marker + "".join(f"    {ln}\n" for ln in lines))

    return fragment


def apache(ocsp: str) -> Callable[[PKI, str], str]:
    """Apache with SSLVerifyClient require, no CRL; ``ocsp``: off, responder (SSLOCSPEnable on,
    SSLOCSPDefaultResponder URL, SSLOCSPOverrideResponder on) or aia (SSLOCSPEnable on)."""

    def fragment(pki: PKI, url: str) -> str:
        frag = ApacheServer.mtls_fragment(
            server_cert=pki.server_cert, server_key=pki.server_key, client_ca=pki.ca_cert
        )
        lines = {
            "off": [],
            "responder": [
                "SSLOCSPEnable on",
                f"SSLOCSPDefaultResponder {url}",
                "SSLOCSPOverrideResponder on",
            ],
        }.get(ocsp, ["SSLOCSPEnable on"])
        assert "SSLCARevocation" not in frag
        return frag.replace(
            "</VirtualHost>", "".join(f"    {ln}\n" for ln in lines) + "</VirtualHost>"
        )

    return fragment


@dataclass(frozen=True)
class Case:
    id: str
    server: type[RealServer]
    fragment: Callable[[PKI, str], str]
    aia: bool
    """Use the PKI whose certificates name the responder (else the session PKI)."""
    ocsp_on: bool
    server_log: str = ""
    """What the server's own log says when OCSP refused the certificate."""


CASES = [
    Case("nginx-ocsp-off", NginxServer, nginx("off"), aia=False, ocsp_on=False),
    Case("nginx-ocsp-off-aia", NginxServer, nginx("off"), aia=True, ocsp_on=False),
    Case(
        "nginx-ssl_ocsp_responder",
        NginxServer,
        nginx("responder"),
        aia=False,
        ocsp_on=True,
        server_log="certificate revoked",
    ),
    Case(
        "nginx-ssl_ocsp-aia",
        NginxServer,
        nginx("aia"),
        aia=True,
        ocsp_on=True,
        server_log="certificate revoked",
    ),
    Case("apache-ocsp-off", ApacheServer, apache("off"), aia=False, ocsp_on=False),
    Case("apache-ocsp-off-aia", ApacheServer, apache("off"), aia=True, ocsp_on=False),
    Case(
        "apache-SSLOCSPDefaultResponder",
        ApacheServer,
        apache("responder"),
        aia=False,
        ocsp_on=True,
        server_log="certificate status: revoked",
    ),
    Case(
        "apache-SSLOCSPEnable-aia",
        ApacheServer,
        apache("aia"),
        aia=True,
        ocsp_on=True,
        server_log="certificate status: revoked",
    ),
]


def describe(result: TargetResult) -> str:
    lines = [f"{r.name}: {r.outcome.summary if r.outcome else r.reason}" for r in result.results]
    lines += [f"{f.severity} {f.code}: {f.message}" for f in result.findings]
    return "\n".join(lines)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_ocsp_on_real_server(
    case: Case, request: pytest.FixtureRequest, test_pki_dir: Path, server_pki: PKI
) -> None:
    require_server(case.server)
    if case.aia:
        pki: PKI = request.getfixturevalue("aia_pki")
        rp: ResponderProcess = request.getfixturevalue("aia_responder")
    else:
        pki, rp = server_pki, request.getfixturevalue("responder")
    before = len(rp.answers())
    with case.server(case.fragment(pki, rp.url)) as srv:
        result = check(srv.url, probes=PROBES, pki=pki.directory)
        logs = srv.logs()
    heard = rp.answers()[before:]
    what = f"{case.id}:\n{describe(result)}\n--- responder ---\n" + "\n".join(heard)
    what += f"\n--- server logs ---\n{logs[-2000:]}"
    codes = {f.code for f in result.findings}
    by = {r.name: r for r in result.results}

    for v in ("1.2", "1.3"):
        valid, revoked = by[f"valid[tls{v}]"], by[f"revoked[tls{v}]"]
        assert valid.outcome is not None and valid.outcome.status == 200, what
        info = revoked.revocation
        assert info is not None, what
        assert info.ocsp_urls == ((pki.ocsp_url,) if case.aia else ()), what
        assert info.crl_file == str(pki.crl), what  # the PKI's CRL lists it: also a mechanism
        assert info.mechanisms == (("crl", "ocsp") if case.aia else ("crl",)), what
        if case.ocsp_on:
            assert info.enforced is True, what
            # Apache names the cause in its alert; nginx's 400 page does not.
            assert info.by_revocation is (case.server is ApacheServer), what
        else:
            assert info.enforced is False, what
            assert info.how == "http 200", what

    revoked_asked = [ln for ln in heard if "(revoked) -> revoked" in ln]
    if case.ocsp_on:
        assert Code.REVOCATION_NOT_CHECKED not in codes, what
        assert Code.VALID_CERT_REJECTED not in codes, what
        assert revoked_asked, what  # the server asked, and the responder said "revoked"
        assert case.server_log in logs, what
    else:
        assert Code.REVOCATION_NOT_CHECKED in codes, what
        assert heard == [], what  # nobody asked
        (f,) = [f for f in result.findings if f.code == Code.REVOCATION_NOT_CHECKED]
        assert f"the CRL {pki.crl} lists it" in f.message, what
        if case.aia:
            assert f"names the OCSP responder {pki.ocsp_url}" in f.message, what
        else:
            assert "names no OCSP responder" in f.message, what
            assert "ssl_ocsp_responder" in f.message and "SSLOCSPDefaultResponder" in f.message


def test_responder_stopped_by_pid_frees_its_port(test_pki_dir: Path) -> None:
    """The fixture's way to stop it (SIGTERM by pid) ends the process and closes the port."""
    with running(test_pki_dir, "--listen", "127.0.0.1:0", "--quiet") as rp:
        port = urllib.parse.urlsplit(rp.url).port
        assert port is not None
        pid = rp.proc.pid
    assert rp.proc.returncode == 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    deadline = time.monotonic() + 5
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                break
        assert time.monotonic() < deadline, "port still accepting after stop"
        time.sleep(0.05)


@pytest.mark.parametrize("server", [NginxServer, ApacheServer], ids=["nginx", "apache"])
def test_unreachable_responder_refuses_everyone(server: type[RealServer], server_pki: PKI) -> None:
    """OCSP on, nobody at the responder URL: nginx ('OCSP responder prematurely closed
    connection', 'certificate status request failed') and Apache (AH01974 'could not connect
    to OCSP responder') refuse every client, valid included - valid-cert-rejected names the
    unreachable responder as a likely cause, and the revoked probe's refusal is then not
    counted as a revocation check."""
    require_server(server)
    dead = f"http://127.0.0.1:{free_port()}/"
    frag = (nginx if server is NginxServer else apache)("responder")(server_pki, dead)
    with server(frag) as srv:
        result = check(srv.url, probes=["valid", "revoked"], pki=server_pki.directory)
        logs = srv.logs()
    what = f"{describe(result)}\n--- server logs ---\n{logs[-2000:]}"
    codes = {f.code for f in result.findings}
    assert Code.VALID_CERT_REJECTED in codes, what
    assert Code.REVOCATION_NOT_CHECKED not in codes, what
    # The finding names the unreachable responder among the causes, and its fix says what the
    # server logs for it and what to change (nginx: 400 page; Apache: handshake_failure).
    (f,) = [f for f in result.findings if f.code == Code.VALID_CERT_REJECTED]
    assert "OCSP responder the server cannot reach" in f.message or (
        "OCSP check failed" in f.message and "AH01974" in f.message
    ), what
    fix = dict(f.fixes)["nginx" if server is NginxServer else "apache"]
    assert ("ssl_ocsp" if server is NginxServer else "SSLOCSPEnable") in fix, what
    assert ("certificate status request failed" if server is NginxServer else "AH01974") in fix
    for r in result.results:
        if r.probe == "revoked":
            assert r.revocation is not None and r.revocation.enforced is None, what
            assert "valid is refused too" in r.revocation.how, what
    assert ("OCSP responder" if server is NginxServer else "AH01974") in logs, what
