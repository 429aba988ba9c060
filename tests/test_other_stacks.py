"""Verdicts on TLS stacks that are not OpenSSL, and on a front end with its own verify options:

* **GnuTLS**: ``gnutls-serv --http`` (Debian gnutls-bin).  ``--require-client-cert`` alone
  requires *a* certificate but verifies nothing; ``--verify-client-cert`` verifies one that is
  sent but lets a client without one in; both together is "required".  ``-a`` never asks.
  GnuTLS refuses every bad certificate with ``access_denied``, a missing one in TLS 1.2 with
  ``decode_error`` (in 1.3 ``certificate_required``), does not check extendedKeyUsage, and
  answers a ClientHello of a version it has switched off with ``handshake_failure`` - not
  ``protocol_version``.
* **Java JSSE**, the stack under Tomcat, Jetty and Spring Boot: ``tests/java/MtlsServer.java``
  (one JVM, many listeners).  ``com.sun.net.httpserver.HttpsServer`` closes a refused
  connection without flushing JSSE's alert (a hang-up after the CertificateRequest - and,
  for a TLS version it does not offer, a hang-up before any ServerHello); a blocking
  ``SSLServerSocket`` sends JSSE's alerts (``bad_certificate`` for none,
  ``certificate_unknown`` for a bad one, ``protocol_version``).  Revocation from a CRL file
  (PKIX with a CertStore, like Tomcat's ``certificateRevocationListFile``).
* **nghttpx** (Debian nghttp2-proxy, OpenSSL inside) in front of a plain HTTP backend:
  ``--verify-client`` (required; no optional mode, no CRL option),
  ``--verify-client-tolerate-expired`` and off.

Each configuration is probed with every certificate probe a ``--pki`` directory allows, over
TLS 1.2 and 1.3, ``RUNS`` times; every run must give the same outcomes.  What is right was
checked by hand with ``openssl s_client -msg`` (the alerts and hang-ups on the wire) and the
servers' logs.  A server that refuses a certificate it should accept, or lets one in it should
refuse, is reported as the server does it - e.g. GnuTLS's missing EKU check is a real
``client-eku-not-enforced`` - never smoothed over.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from servers import HOST, INSTALL_HINT, RealServer, _CommandLineServer, free_port, group_pids
from stability import CERT_PROBES, run, stable

import mtlscheck
from mtlscheck._model import AuthVerdict, OutcomeKind, Phase, ProbeResult, TargetResult, Verdict
from mtlscheck._pki import PKI

pytestmark = pytest.mark.realserver

ROOT = Path(__file__).resolve().parent.parent
JAVA_SOURCE = Path(__file__).resolve().parent / "java" / "MtlsServer.java"
STOREPASS = "changeit"
FOREIGN = ("wrong-ca", "self-signed", "lookalike-ca", "chain-missing")


def require(cls: type[RealServer]) -> None:
    """Fail, never skip, when a server is missing: scripts/install-test-deps.sh installs
    every one of them, and a skip would hide this module's whole point in CI."""
    if not cls.available():
        pytest.fail(f"{cls.binary} is missing ({cls.package}): {INSTALL_HINT}", pytrace=False)


# --------------------------------------------------------------------------- servers

_SHIM = Path(__file__).parent / "shim" / "loopback_bind.c"


@functools.cache
def loopback_shim() -> Path:
    """The loopback-bind shim, compiled once per test process (a C compiler comes with
    scripts/install-test-deps.sh)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.fail(f"no C compiler to build {_SHIM.name}: {INSTALL_HINT}", pytrace=False)
    out = Path(tempfile.mkdtemp(prefix="mtlscheck-shim-")) / "loopback_bind.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", str(out), str(_SHIM), "-ldl"], check=True)
    return out


class GnutlsServer(_CommandLineServer):
    """``gnutls-serv --http`` (answers any GET with a 200 status page).  It has no bind
    option and would listen on every address of the port: it runs with
    ``tests/shim/loopback_bind.c`` preloaded, which turns its wildcard binds into 127.0.0.1
    and ::1 (test servers listen on loopback only)."""

    name = "gnutls-serv"
    binary = "/usr/bin/gnutls-serv"
    package: ClassVar[str] = "Debian gnutls-bin"

    def run_command(self) -> list[str]:
        return ["env", f"LD_PRELOAD={loopback_shim()}", *super().run_command()]

    @staticmethod
    def fragment(
        pki: PKI, *, require: bool, verify: bool, request: bool = True, priority: str = ""
    ) -> str:
        args = ["--http", "-q", "--port", "{port}", "--x509cafile", str(pki.ca_cert)]
        args += ["--x509keyfile", str(pki.server_key), "--x509certfile", str(pki.server_cert)]
        args += ["--x509crlfile", str(pki.crl)]
        if require:
            args.append("--require-client-cert")
        if verify:
            args.append("--verify-client-cert")
        if not request:
            args.append("--disable-client-cert")
        if priority:
            args.append(f"--priority={priority}")
        return "\n".join(args)


class NghttpxServer(_CommandLineServer):
    """nghttpx as the TLS front end of a plain HTTP/1.1 backend on 127.0.0.1."""

    name = "nghttpx"
    binary = "/usr/sbin/nghttpx"
    package: ClassVar[str] = "Debian nghttp2-proxy"

    def log_files(self) -> list[Path]:
        return [self._wd / "output.log", self._wd / "error.log"]

    def stop(self) -> None:
        # On SIGTERM the master exits at once and its worker ~1-2 s later, when it notices the
        # master's IPC socket closed; an orphaned worker is then reaped only by init.  The
        # worker holds nothing worth a clean exit: kill it first (the master reaps it), then
        # stop the master as usual.
        proc = self.proc
        if proc is not None and proc.poll() is None:
            workers = [pid for pid in group_pids(proc.pid) if pid != proc.pid]
            for pid in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 1
            while set(workers) & set(group_pids(proc.pid)) and time.monotonic() < deadline:
                time.sleep(0.01)
        super().stop()

    @staticmethod
    def fragment(pki: PKI, backend: int, *extra: str) -> str:
        args = [
            "--conf=/dev/null",  # not /etc/nghttpx/nghttpx.conf
            f"--frontend={HOST},{{port}}",
            f"--backend={HOST},{backend}",
            "--workers=1",
            "--no-ocsp",
            "--errorlog-file={workdir}/error.log",
            *extra,
            str(pki.server_key),
            str(pki.server_cert),
        ]
        return "\n".join(args)


class JavaServer(_CommandLineServer):
    """``java tests/java/MtlsServer.java`` (the source launcher compiles it: needs a JDK)."""

    name = "java"
    binary = shutil.which("java") or "/usr/bin/java"
    package: ClassVar[str] = "Debian default-jdk-headless"

    @classmethod
    def available(cls) -> bool:
        return super().available() and shutil.which("javac") is not None

    def run_command(self) -> list[str]:
        # A small heap and the C1 compiler only: it starts faster and a test needs no more.
        opts = ["-Xmx96m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto"]
        return [self.binary, *opts, str(JAVA_SOURCE), *self.arguments()]


# --------------------------------------------------------------------------- fixtures


class _Backend(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def backend() -> Iterator[int]:
    """A plain HTTP/1.1 backend (stdlib, a thread in this process) for nghttpx."""
    server = http.server.ThreadingHTTPServer((HOST, 0), _Backend)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()
    thread.join(5)


# Java listeners: (name, mode, protocols, kind).  One JVM serves them all.
JAVA_LISTENERS = (
    ("need", "need", "TLSv1.2+TLSv1.3", "httpserver"),
    ("want", "want", "TLSv1.2+TLSv1.3", "httpserver"),
    ("none", "none", "TLSv1.2+TLSv1.3", "httpserver"),
    ("need-1.2", "need", "TLSv1.2", "httpserver"),
    ("need-1.3", "need", "TLSv1.3", "httpserver"),
    ("socket-need", "need", "TLSv1.2+TLSv1.3", "socket"),
    ("socket-want", "want", "TLSv1.2+TLSv1.3", "socket"),
    ("socket-need-1.2", "need", "TLSv1.2", "socket"),
    ("socket-need-1.3", "need", "TLSv1.3", "socket"),
)


@dataclass
class JavaListeners:
    server: JavaServer
    ports: dict[str, int] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"https://localhost:{self.ports[name]}/"


@pytest.fixture(scope="module")
def java(server_pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JavaListeners]:
    """One JVM with every listener of JAVA_LISTENERS (Java starts in seconds, not ms)."""
    require(JavaServer)
    keytool = shutil.which("keytool")
    if keytool is None:
        pytest.fail(f"keytool is missing (a JDK: {JavaServer.package}): {INSTALL_HINT}")
    stores = tmp_path_factory.mktemp("java-stores")
    issued = server_pki.issued("server")
    (stores / "server.p12").write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"server", issued.key, issued.cert, None, BestAvailableEncryption(STOREPASS.encode())
        )
    )
    # A PKCS#12 truststore must mark its certificates trusted for Java: keytool does that.
    trust = ["-keystore", str(stores / "trust.p12"), "-storepass", STOREPASS]
    trust += ["-file", str(server_pki.ca_cert)]
    subprocess.run(
        [keytool, "-importcert", "-noprompt", "-storetype", "PKCS12", "-alias", "ca", *trust],
        check=True,
        capture_output=True,
        timeout=60,
    )
    ports = {name: free_port() for name, *_ in JAVA_LISTENERS[:-1]}
    args = ["--keystore", str(stores / "server.p12"), "--storepass", STOREPASS]
    args += ["--truststore", str(stores / "trust.p12"), "--crl", str(server_pki.crl)]
    for name, mode, protocols, kind in JAVA_LISTENERS:
        # The last listener takes the harness's {port}: the JVM binds them in order, so once
        # that one accepts, all do.
        port = str(ports[name]) if name in ports else "{port}"
        spec = f"{port}:{mode}:{protocols}" + (":socket" if kind == "socket" else "")
        args += ["--listen", spec]
    server = JavaServer("\n".join(args), startup_timeout=90)
    with server:
        ports[JAVA_LISTENERS[-1][0]] = server.port
        yield JavaListeners(server, ports)


@contextlib.contextmanager
def started(cls: type[RealServer], fragment: str) -> Iterator[RealServer]:
    require(cls)
    with cls(fragment) as server:
        yield server


# --------------------------------------------------------------------------- judging


def describe(res: TargetResult, logs: str = "") -> str:
    lines = [f"layered: {res.auth_verdict} ({res.auth_reason}); refused {res.unsupported_versions}"]
    lines += [
        f"  {r.probe}[{r.tls_version}]: {r.verdict.value} {r.outcome} {r.reason}"
        for r in res.results
    ]
    lines += [f"  finding {f.code}: {f.message[:160]}" for f in res.findings]
    return "\n".join(lines) + ("\n" + logs[-1500:] if logs else "")


IN = "200"  # the server let the probe in (HTTP 200)
HANGUP = "hang-up"  # refused with a TLS-phase close/reset, no alert


def refusals(
    no_cert: str | tuple[str, str], bad: str, **other: str | tuple[str, str]
) -> dict[str, str | tuple[str, str]]:
    """Expected outcome per probe: an alert name (or (TLS 1.2, TLS 1.3) alert names), IN or
    HANGUP; ``bad`` for every bad certificate not named in ``other``."""
    table: dict[str, str | tuple[str, str]] = {p: bad for p in CERT_PROBES}
    table.update({"no-cert": no_cert, "valid": IN})
    table.update({p.replace("_", "-"): v for p, v in other.items()})
    return table


def check_probes(
    got: dict[tuple[str, str | None], ProbeResult],
    table: dict[str, str | tuple[str, str]],
    versions: tuple[str, ...],
    what: str,
) -> None:
    assert sorted(got) == sorted((p, v) for p in table for v in versions), what
    for (probe, tls), r in got.items():
        assert tls is not None
        want = table[probe]
        if isinstance(want, tuple):
            want = want[0 if tls == "1.2" else 1]
        o = r.outcome
        assert o is not None and r.facts is not None, what
        if want == IN:
            assert (o.kind, o.status) == (OutcomeKind.HTTP, 200), f"{probe}[{tls}]\n{what}"
            want_verdict = Verdict.PASS if probe == "valid" else Verdict.FAIL
            assert r.verdict is want_verdict, f"{probe}[{tls}]\n{what}"
            continue
        # Refused at the TLS layer, after the CertificateRequest: TLS 1.3 checks the
        # certificate after the client's Finished, so its refusal comes on the first read.
        assert r.facts.cert_requested, f"{probe}[{tls}]\n{what}"
        if want == HANGUP:
            assert o.is_tls_hangup, f"{probe}[{tls}]\n{what}"
        else:
            assert (o.kind, o.alert) == (OutcomeKind.TLS_ALERT, want), f"{probe}[{tls}]\n{what}"
        phase = Phase.AFTER_HANDSHAKE if tls == "1.3" else Phase.HANDSHAKE
        assert o.phase is phase, f"{probe}[{tls}]\n{what}"
        assert r.verdict is Verdict.PASS, f"{probe}[{tls}]\n{what}"


def check_layered(res: TargetResult, table: dict[str, str | tuple[str, str]], what: str) -> None:
    """The per-target verdict follows from the table: a bad certificate let in is fail-open,
    no CertificateRequest is off, every bad one refused at the TLS layer is enforced-tls."""
    let_in = sorted(p for p, w in table.items() if w == IN and p != "valid")
    requested = any(r.facts is not None and r.facts.cert_requested for r in res.results)
    if not requested:
        assert res.auth_verdict is AuthVerdict.OFF, what
    elif let_in:
        assert res.auth_verdict is AuthVerdict.FAIL_OPEN, what
        assert any(p in res.auth_reason for p in let_in), what
    else:
        assert res.auth_verdict is AuthVerdict.ENFORCED_TLS, what
        assert "not proven" not in res.auth_reason, what


def findings(res: TargetResult) -> set[str]:
    return {f.code for f in res.findings}


# --------------------------------------------------------------------------- GnuTLS

GNUTLS_REFUSE = refusals(("decode_error", "certificate_required"), "access_denied")
GNUTLS_CASES = [
    # --require-client-cert --verify-client-cert: required.  GnuTLS checks no EKU.
    ("required", True, True, True, {**GNUTLS_REFUSE, "no-client-eku": IN}),
    # --verify-client-cert: a certificate that is sent must verify; none gets in.
    ("verify-only", False, True, True, {**GNUTLS_REFUSE, "no-cert": IN, "no-client-eku": IN}),
    # --require-client-cert alone: any certificate, verified or not, gets in.
    (
        "require-only",
        True,
        False,
        True,
        {**{p: IN for p in CERT_PROBES}, "no-cert": GNUTLS_REFUSE["no-cert"]},
    ),
    # neither: requested, never verified, never required.
    ("request-only", False, False, True, {p: IN for p in CERT_PROBES}),
    # --disable-client-cert: never asked.
    ("off", False, False, False, {p: IN for p in CERT_PROBES}),
]


@pytest.mark.parametrize(
    ("require_", "verify", "asks", "table"),
    [c[1:] for c in GNUTLS_CASES],
    ids=[c[0] for c in GNUTLS_CASES],
)
def test_gnutls_verdicts(
    require_: bool,
    verify: bool,
    asks: bool,
    table: dict[str, str | tuple[str, str]],
    test_pki_dir: Path,
    server_pki: PKI,
) -> None:
    frag = GnutlsServer.fragment(server_pki, require=require_, verify=verify, request=asks)
    with started(GnutlsServer, frag) as server:
        runs = run(server.url, test_pki_dir)
        logs = server.logs()
    what = describe(runs[0], logs)
    got = stable(runs, what)
    check_probes(got, table, ("1.2", "1.3"), what)
    assert all(r.facts is not None and r.facts.cert_requested is asks for r in got.values())
    check_layered(runs[0], table, what)
    codes = findings(runs[0])
    if table["no-client-eku"] == IN and asks:
        assert "client-eku-not-enforced" in codes, what
    if table["no-cert"] == IN and asks:
        assert "client-auth-optional" in codes, what
    if table["wrong-ca"] == IN and asks:
        assert {"foreign-ca-accepted", "expired-cert-accepted"} <= codes, what
    if not asks:
        assert "client-auth-not-requested" in codes, what


# --------------------------------------------------------------------------- Java JSSE

JSSE_SOCKET_REFUSE = refusals("bad_certificate", "certificate_unknown")
JAVA_CASES = [
    ("need", refusals(HANGUP, HANGUP)),
    ("want", {**refusals(HANGUP, HANGUP), "no-cert": IN}),
    ("none", {p: IN for p in CERT_PROBES}),
    ("socket-need", JSSE_SOCKET_REFUSE),
    ("socket-want", {**JSSE_SOCKET_REFUSE, "no-cert": IN}),
]


@pytest.mark.parametrize(("listener", "table"), JAVA_CASES, ids=[c[0] for c in JAVA_CASES])
def test_java_jsse_verdicts(
    listener: str,
    table: dict[str, str | tuple[str, str]],
    java: JavaListeners,
    test_pki_dir: Path,
) -> None:
    """JSSE verifies the chain, the dates, extendedKeyUsage and (given a CRL) revocation: every
    bad certificate is refused.  HttpsServer hangs up without the alert - after a
    CertificateRequest, which makes the hang-up a refusal of the certificate."""
    runs = run(java.url(listener), test_pki_dir)
    what = describe(runs[0], java.server.logs())
    got = stable(runs, what)
    check_probes(got, table, ("1.2", "1.3"), what)
    check_layered(runs[0], table, what)
    codes = findings(runs[0])
    if listener.endswith("want"):
        assert "client-auth-optional" in codes, what
    if listener == "none":
        assert "client-auth-not-requested" in codes, what


# --------------------------------------------------------------------------- nghttpx

NGHTTPX_REFUSE = refusals(
    ("handshake_failure", "certificate_required"),
    "unknown_ca",
    expired="certificate_expired",
    not_yet_valid="bad_certificate",
    no_client_eku="unsupported_certificate",
    revoked=IN,  # nghttpx has no CRL option
)
NGHTTPX_CASES = [
    ("verify-client", ("--verify-client",), NGHTTPX_REFUSE),
    (
        "tolerate-expired",
        ("--verify-client", "--verify-client-tolerate-expired"),
        {**NGHTTPX_REFUSE, "expired": IN},
    ),
    ("off", (), {p: IN for p in CERT_PROBES}),
]


@pytest.mark.parametrize(
    ("extra", "table"), [c[1:] for c in NGHTTPX_CASES], ids=[c[0] for c in NGHTTPX_CASES]
)
def test_nghttpx_verdicts(
    extra: tuple[str, ...],
    table: dict[str, str | tuple[str, str]],
    backend: int,
    test_pki_dir: Path,
    server_pki: PKI,
) -> None:
    if extra:
        extra = (*extra, f"--verify-client-cacert={server_pki.ca_cert}")
    with started(NghttpxServer, NghttpxServer.fragment(server_pki, backend, *extra)) as server:
        runs = run(server.url, test_pki_dir)
        logs = server.logs()
    what = describe(runs[0], logs)
    got = stable(runs, what)
    check_probes(got, table, ("1.2", "1.3"), what)
    check_layered(runs[0], table, what)
    codes = findings(runs[0])
    if extra:
        assert "revocation-not-checked" in codes, what
    if table["expired"] == IN and extra:
        assert "expired-cert-accepted" in codes, what
        assert "foreign-ca-accepted" not in codes, what


# --------------------------------------------------------------------------- one TLS version

VERSION_PROBES = ("no-cert", "valid", "expired", "wrong-ca")


def _gnutls_one(pki: PKI, version: str) -> str:
    return GnutlsServer.fragment(
        pki, require=True, verify=True, priority=f"NORMAL:-VERS-ALL:+VERS-TLS{version}"
    )


def _nghttpx_one(pki: PKI, backend: int, version: str) -> str:
    bound = f"TLSv{version}"
    return NghttpxServer.fragment(
        pki,
        backend,
        "--verify-client",
        f"--verify-client-cacert={pki.ca_cert}",
        f"--tls-min-proto-version={bound}",
        f"--tls-max-proto-version={bound}",
    )


# (id, stack, offered version, how the other version is refused)
VERSION_CASES = [
    pytest.param("gnutls", "1.2"),
    pytest.param("gnutls", "1.3"),
    pytest.param("java", "1.2"),
    pytest.param("java", "1.3"),
    pytest.param("java-socket", "1.2"),
    pytest.param("java-socket", "1.3"),
    pytest.param("nghttpx", "1.2"),
    pytest.param("nghttpx", "1.3"),
]


@pytest.mark.parametrize(
    ("stack", "offered"),
    VERSION_CASES,
    ids=[f"{p.values[0]}-{p.values[1]}-only" for p in VERSION_CASES],
)
def test_a_version_the_server_does_not_offer_is_reported_once(
    stack: str,
    offered: str,
    request: pytest.FixtureRequest,
    test_pki_dir: Path,
    server_pki: PKI,
) -> None:
    """A server that offers one TLS version: ``--tls both`` reports the other once as not
    offered (finding tls13-not-offered / tls12-not-offered), judges the offered one, and exits
    0 - however the server turns the other version down: protocol_version (OpenSSL, JSSE's
    SSLServerSocket), handshake_failure (GnuTLS) or a hang-up before the ServerHello (Java's
    HttpsServer)."""
    other = "1.3" if offered == "1.2" else "1.2"
    with contextlib.ExitStack() as stack_:
        if stack == "gnutls":
            server: RealServer = stack_.enter_context(
                started(GnutlsServer, _gnutls_one(server_pki, offered))
            )
            url = server.url
        elif stack == "nghttpx":
            backend = request.getfixturevalue("backend")
            server = stack_.enter_context(
                started(NghttpxServer, _nghttpx_one(server_pki, backend, offered))
            )
            url = server.url
        else:
            java: JavaListeners = request.getfixturevalue("java")
            prefix = "socket-" if stack == "java-socket" else ""
            server, url = java.server, java.url(f"{prefix}need-{offered}")
        runs = run(url, test_pki_dir, VERSION_PROBES)
        logs = server.logs()
    res = runs[0]
    what = describe(res, logs)
    got = stable(runs, what)
    assert [v for v, _ in res.unsupported_versions] == [other], what
    assert {v for _, v in got} == {offered}, what
    assert sorted(p for p, _ in got) == sorted(VERSION_PROBES), what
    for r in got.values():
        assert r.verdict is Verdict.PASS, what
    assert res.auth_verdict is AuthVerdict.ENFORCED_TLS, what
    assert "not proven" not in res.auth_reason, what
    code = "tls13-not-offered" if other == "1.3" else "tls12-not-offered"
    assert code in findings(res), what
    assert "target-unreachable" not in findings(res), what
    assert mtlscheck.RunResult(targets=(res,)).exit_code == 0, what


# --------------------------------------------------------------------------- the CLI


def cli(url: str, pki_dir: Path, tls: str, probes: str) -> tuple[int, dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTLSCHECK_")}
    args = ["--server", "generic", "--tls", tls, "--probes", probes, "--format", "json"]
    args += ["--timeout", "5"]
    proc = subprocess.run(
        [sys.executable, "-m", "mtlscheck", "probe", url, "--pki", str(pki_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_cli_verdicts_and_exit_codes(
    java: JavaListeners, backend: int, test_pki_dir: Path, server_pki: PKI
) -> None:
    """The CLI's JSON and exit code say what the API says: required client auth on each stack,
    one TLS version at a time, is ``enforced-tls`` with exit 0; an optional one ``fail-open``
    with exit 1."""
    require(GnutlsServer)
    require(NghttpxServer)
    gnutls_req = GnutlsServer.fragment(server_pki, require=True, verify=True)
    gnutls_opt = GnutlsServer.fragment(server_pki, require=False, verify=True)
    ngx = NghttpxServer.fragment(
        server_pki, backend, "--verify-client", f"--verify-client-cacert={server_pki.ca_cert}"
    )
    with (
        GnutlsServer(gnutls_req) as g_req,
        GnutlsServer(gnutls_opt) as g_opt,
        NghttpxServer(ngx) as n_req,
    ):
        cases = [
            (g_req.url, "no-cert,valid,expired,wrong-ca,revoked", 0, "enforced-tls"),
            (g_opt.url, "no-cert,valid,expired,wrong-ca", 1, "fail-open"),
            (java.url("need"), "no-cert,valid,expired,wrong-ca,revoked", 0, "enforced-tls"),
            (java.url("socket-need"), "no-cert,valid,no-client-eku", 0, "enforced-tls"),
            (n_req.url, "no-cert,valid,expired,wrong-ca", 0, "enforced-tls"),
        ]
        for url, probes, want_code, want_verdict in cases:
            for tls in ("1.2", "1.3"):
                code, doc = cli(url, test_pki_dir, tls, probes)
                what = f"{url} --tls {tls}: {json.dumps(doc)[:3000]}"
                assert code == want_code, what
                assert doc["exit_code"] == want_code, what
                (target,) = doc["targets"]  # type: ignore[misc]
                assert target["verdict"] == want_verdict, what
                for p in target["probes"]:
                    assert p["tls_version"] == tls, what
                    assert p["verdict"] in ("pass", "fail"), what
                    if p["outcome"]["kind"] != "http":
                        assert p["facts"]["cert_requested"] is True, what
                        assert p["verdict"] == "pass", what
