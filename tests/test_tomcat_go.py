"""The ``tomcat`` and ``go`` server profiles, proven on the real servers.

* **Apache Tomcat 10.1** from Debian's ``libtomcat10-java`` jars, run with the JDK's ``java`` from
  a private ``CATALINA_BASE`` made here (never the system service): the NIO connector on JSSE,
  Tomcat's default.  One JVM, one connector per ``certificateVerification``: ``required``,
  ``optional``, ``none`` (truststore + CRL), and ``required`` with ``caCertificateFile`` alone.
  The ROOT webapp protects ``/secure/`` with a CLIENT-CERT ``<login-config>`` (a MemoryRealm
  user named by the valid certificate's subject).
* **Go net/http** (Debian ``golang-go``): ``tests/go/mtls_server.go``, built once per session
  into a temporary directory (standard library only, no network), one listener per
  ``tls.ClientAuthType`` plus ``VerifyClientCertIfGiven`` with the handler's check of
  ``r.TLS.VerifiedChains``.

Each configuration is probed with the default probes of a ``--pki`` directory (all ten
certificate probes) over TLS 1.2 and 1.3, through the CLI (``--format json``), ``RUNS`` times
under each of ``--server tomcat|go``, ``auto`` and ``generic``; every run must give the same
outcomes, and the three profiles the same verdicts.  What is right was checked by hand with
curl and ``openssl s_client`` and the servers' logs (Go logs every refused handshake's reason):

* Tomcat (JSSE) refuses a missing certificate with ``bad_certificate`` (also on TLS 1.3, where
  OpenSSL says ``certificate_required``) and every bad one with ``certificate_unknown``, as
  alerts; it checks the CRL given with ``certificateRevocationListFile``.  With JSSE
  ``caCertificateFile`` is ignored: the JRE's cacerts become the trust store (140+ public CA
  names advertised, the valid certificate refused) - a real finding, not smoothed over.
* A CLIENT-CERT login on a ``certificateVerification="none"`` connector asks for the
  certificate by renegotiation on TLS 1.2 (per-location) and not at all on TLS 1.3 (JSSE has no
  post-handshake auth; Tomcat warns at start-up): every client gets 401 there, the valid one
  too.  On an ``optional`` connector the certificate comes in the handshake; a client without
  one gets 401 on TLS 1.3 - refused over HTTP, which the ``tomcat`` profile takes (as nginx's
  takes 403).
* Go 1.19 answers every certificate problem with ``bad_certificate`` (the missing certificate
  on TLS 1.3 too) and never checks revocation: the revoked probe gets in everywhere, which is
  the finding ``revocation-not-checked``.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import pytest
from servers import INSTALL_HINT, free_port, listening_inodes, port_accepts, socket_inodes
from stability import CERT_PROBES, RUNS

from mtlscheck._cli import main
from mtlscheck._pki import PKI

pytestmark = pytest.mark.realserver

GO_SOURCE = Path(__file__).resolve().parent / "go" / "mtls_server.go"
JARS = Path("/usr/share/java")
TOMCAT_JARS = tuple(
    JARS / f"tomcat10-{name}.jar"
    for name in (
        "catalina", "coyote", "util", "util-scan", "juli", "api", "servlet-api",
        "jaspic-api", "annotations-api", "el-api", "jni",
    )
)  # fmt: skip
STOREPASS = "changeit"
PROBES = CERT_PROBES
BAD = tuple(p for p in PROBES if p not in ("no-cert", "valid"))
VERSIONS = ("1.2", "1.3")
AFTER = "after-handshake"


# --------------------------------------------------------------------------- what is right


@dataclass(frozen=True)
class Want:
    """One probe on one TLS version: its outcome (``alert:NAME@PHASE`` or ``http:STATUS``),
    its verdict, and where the server asked for a certificate (in the handshake, after it)."""

    outcome: str
    verdict: str
    asked: tuple[bool, bool]


@dataclass(frozen=True)
class Case:
    id: str
    server: str  # tomcat | go
    listener: str
    path: str
    want: dict[tuple[str, str], Want]
    layered: str
    exit_code: int
    findings: frozenset[str]
    auto: str  # the profile --server auto must detect
    messages: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """finding code -> texts its message must contain (under every profile)."""


Spec = str | tuple[str, ...]
"""An expected outcome: one for both TLS versions, or one per version (1.2, 1.3)."""


def _alert(name: str, version: str, *, late: bool = False) -> str:
    phase = AFTER if late or version == "1.3" else "handshake"
    return f"alert:{name}@{phase}"


def table(
    each: Mapping[str, Spec], verdicts: Mapping[str, str], asked: tuple[bool, bool]
) -> dict[tuple[str, str], Want]:
    """``each``: probe -> outcome (one for both versions, or a (1.2, 1.3) pair)."""
    out = {}
    for probe in PROBES:
        spec = each[probe]
        for i, v in enumerate(VERSIONS):
            outcome = spec[i] if isinstance(spec, tuple) else spec
            out[(probe, v)] = Want(outcome, verdicts.get(probe, "pass"), asked)
    return out


def alerts(none: str, bad: str, *, late: bool = False) -> dict[str, Spec]:
    """A missing certificate refused with ``none``, every bad one with ``bad``, valid in."""
    out: dict[str, Spec] = {
        "no-cert": tuple(_alert(none, v, late=late) for v in VERSIONS),
        "valid": "http:200",
    }
    for p in BAD:
        out[p] = tuple(_alert(bad, v, late=late) for v in VERSIONS)
    return out


def everyone_in() -> dict[str, Spec]:
    return dict.fromkeys(PROBES, "http:200")


FAIL_ALL_BAD = {p: "fail" for p in ("no-cert", *BAD)}
ASKED = (True, False)
NOT_ASKED = (False, False)


def tomcat_cases() -> list[Case]:
    required = alerts("bad_certificate", "certificate_unknown")
    optional = {**required, "no-cert": "http:200"}
    cafile = {**required, "valid": tuple(_alert("certificate_unknown", v) for v in VERSIONS)}
    # /secure/ on the "none" connector: renegotiation on 1.2, nothing (and 401) on 1.3
    loc_none = {p: (_alert("certificate_unknown", "1.2", late=True), "http:401") for p in PROBES}
    loc_none["no-cert"] = (_alert("bad_certificate", "1.2", late=True), "http:401")
    loc_none["valid"] = ("http:200", "http:401")
    loc_none_want = table(loc_none, {}, NOT_ASKED)
    for p in PROBES:
        loc_none_want[(p, "1.2")] = Want(loc_none_want[(p, "1.2")].outcome, "pass", (False, True))
        loc_none_want[(p, "1.3")] = Want("http:401", "error", NOT_ASKED)
    # /secure/ on the "optional" connector: the certificate comes in the handshake; without
    # one, Tomcat renegotiates on 1.2 and answers 401 on 1.3.
    loc_opt = {**required, "no-cert": (_alert("bad_certificate", "1.2", late=True), "http:401")}
    loc_opt_want = table(loc_opt, {}, ASKED)
    loc_opt_want[("no-cert", "1.2")] = Want(
        loc_opt_want[("no-cert", "1.2")].outcome, "pass", (True, True)
    )
    after = "client-cert-rejected-after-handshake"
    return [
        Case("tomcat-required", "tomcat", "required", "/", table(required, {}, ASKED),
             "enforced-tls", 0, frozenset({after}), "tomcat"),
        Case("tomcat-optional", "tomcat", "optional", "/",
             table(optional, {"no-cert": "fail"}, ASKED),
             "fail-open", 1, frozenset({"client-auth-optional", after}), "tomcat",
             {"client-auth-optional": ('certificateVerification="optional"',)}),
        Case("tomcat-none", "tomcat", "none", "/", table(everyone_in(), FAIL_ALL_BAD, NOT_ASKED),
             "off", 1, frozenset({"client-auth-not-requested"}), "generic"),
        Case("tomcat-cafile-ignored", "tomcat", "cafile", "/",
             table(cafile, {"valid": "fail"}, ASKED), "enforced-tls", 1,
             frozenset({"valid-cert-rejected", "ca-names-exclude-client-issuer",
                        "ca-names-public", after}), "tomcat"),
        Case("tomcat-client-cert-none", "tomcat", "none", "/secure/", loc_none_want,
             "per-location", 1, frozenset({"valid-cert-rejected", "per-location-client-auth"}),
             "tomcat",
             {"per-location-client-auth": ("Tomcat", "renegotiation (TLS 1.2)",
                                           "post-handshake auth"),
              "valid-cert-rejected": ("TLS 1.2 only", "post-handshake auth")}),
        Case("tomcat-client-cert-optional", "tomcat", "optional", "/secure/", loc_opt_want,
             "enforced-http", 0, frozenset({"client-auth-checked-over-http", after}), "tomcat",
             {"client-auth-checked-over-http": ("CLIENT-CERT",)}),
    ]  # fmt: skip


def go_cases() -> list[Case]:
    after = "client-cert-rejected-after-handshake"
    require = alerts("bad_certificate", "bad_certificate")
    require["revoked"] = "http:200"  # crypto/tls checks no revocation
    if_given = {**require, "no-cert": "http:200"}
    check = {**require, "no-cert": "http:401"}
    require_any: dict[str, Spec] = {
        **everyone_in(),
        "no-cert": tuple(_alert("bad_certificate", v) for v in VERSIONS),
    }
    unverified = {"client-auth-optional", "foreign-ca-accepted", "expired-cert-accepted",
                  "not-yet-valid-cert-accepted", "revocation-not-checked",
                  "client-eku-not-enforced"}  # fmt: skip
    no_revocation = {"revocation-not-checked": ("Go's crypto/tls", "checks no revocation")}
    return [
        Case("go-require", "go", "require", "/", table(require, {"revoked": "fail"}, ASKED),
             "fail-open", 1, frozenset({"revocation-not-checked", after}), "go", no_revocation),
        Case("go-verify-if-given", "go", "verify-if-given", "/",
             table(if_given, {"revoked": "fail", "no-cert": "fail"}, ASKED), "fail-open", 1,
             frozenset({"client-auth-optional", "revocation-not-checked", after}), "go",
             {**no_revocation, "client-auth-optional": ("VerifyClientCertIfGiven",)}),
        Case("go-verify-if-given-checked", "go", "verify-if-given+check", "/",
             table(check, {"revoked": "fail"}, ASKED), "fail-open", 1,
             frozenset({"client-auth-checked-over-http", "revocation-not-checked", after}), "go",
             {**no_revocation, "client-auth-checked-over-http": ("r.TLS.VerifiedChains",)}),
        Case("go-request", "go", "request", "/", table(everyone_in(), FAIL_ALL_BAD, ASKED),
             "fail-open", 1, frozenset(unverified), "generic"),
        Case("go-require-any", "go", "require-any", "/",
             table(require_any, {p: "fail" for p in BAD}, ASKED), "fail-open", 1,
             frozenset(unverified - {"client-auth-optional"} | {after}), "generic"),
        Case("go-none", "go", "none", "/", table(everyone_in(), FAIL_ALL_BAD, NOT_ASKED), "off", 1,
             frozenset({"client-auth-not-requested"}), "generic"),
    ]  # fmt: skip


# --------------------------------------------------------------------------- servers


def _wait_owned(proc: subprocess.Popen[bytes], ports: list[int], deadline: float) -> bool:
    """Every port accepts and is one of ``proc``'s sockets (not someone else's)."""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        mine = socket_inodes(proc.pid)
        if all(port_accepts(p) and listening_inodes(p) & mine for p in ports):
            return True
        time.sleep(0.1)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM by pid (Tomcat's shutdown hook stops it cleanly), SIGKILL after 10 s."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _subject_for_realm(pki: PKI) -> str:
    """The valid certificate's subject as Tomcat's default X509UsernameRetriever names it
    (``X500Principal.toString()``: the last RDN first, ``", "`` between them)."""
    cert = pki.issued("valid").cert
    return ", ".join(rdn.rfc4514_string() for rdn in reversed(cert.subject.rdns))


TOMCAT_CONNECTOR = """    <Connector port="{port}" address="127.0.0.1" SSLEnabled="true"
               scheme="https" secure="true"
               protocol="org.apache.coyote.http11.Http11NioProtocol">
      <SSLHostConfig certificateVerification="{verify}" protocols="TLSv1.2+TLSv1.3" {trust}>
        <Certificate certificateFile={cert} certificateKeyFile={key}/>
      </SSLHostConfig>
    </Connector>
"""

TOMCAT_WEB_XML = """<?xml version="1.0" encoding="UTF-8"?>
<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee" version="6.0" metadata-complete="true">
  <servlet>
    <servlet-name>default</servlet-name>
    <servlet-class>org.apache.catalina.servlets.DefaultServlet</servlet-class>
  </servlet>
  <servlet-mapping><servlet-name>default</servlet-name><url-pattern>/</url-pattern></servlet-mapping>
  <welcome-file-list><welcome-file>index.html</welcome-file></welcome-file-list>
  <security-constraint>
    <web-resource-collection>
      <web-resource-name>secure</web-resource-name><url-pattern>/secure/*</url-pattern>
    </web-resource-collection>
    <auth-constraint><role-name>client</role-name></auth-constraint>
  </security-constraint>
  <login-config><auth-method>CLIENT-CERT</auth-method></login-config>
  <security-role><role-name>client</role-name></security-role>
</web-app>
"""


@dataclass
class Running:
    ports: dict[str, int]
    log: Path

    def url(self, listener: str, path: str) -> str:
        return f"https://localhost:{self.ports[listener]}{path}"


def _tomcat_base(base: Path, pki: PKI, ports: dict[str, int]) -> None:
    for d in ("conf", "logs", "temp", "work", "lib", "webapps/ROOT/WEB-INF", "webapps/ROOT/secure",
              "webapps/ROOT/META-INF"):  # fmt: skip
        (base / d).mkdir(parents=True, exist_ok=True)
    trust = (
        f"truststoreFile={quoteattr(str(base / 'conf' / 'client-ca.p12'))} "
        f'truststorePassword="{STOREPASS}" truststoreType="PKCS12" '
        f"certificateRevocationListFile={quoteattr(str(pki.crl))}"
    )
    connectors = {
        "required": ("required", trust),
        "optional": ("optional", trust),
        "none": ("none", trust),
        # JSSE ignores caCertificateFile (an OpenSSL-implementation attribute)
        "cafile": ("required", f"caCertificateFile={quoteattr(str(pki.ca_cert))}"),
    }
    text = "".join(
        TOMCAT_CONNECTOR.format(
            port=ports[name],
            verify=verify,
            trust=extra,
            cert=quoteattr(str(pki.server_cert)),
            key=quoteattr(str(pki.server_key)),
        )
        for name, (verify, extra) in connectors.items()
    )
    (base / "conf" / "server.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<Server port="-1" shutdown="SHUTDOWN">\n'
        '  <Service name="Catalina">\n' + text + '    <Engine name="Catalina" '
        'defaultHost="localhost">\n      <Realm className="org.apache.catalina.realm.MemoryRealm" '
        'pathname="conf/tomcat-users.xml"/>\n      <Host name="localhost" appBase="webapps" '
        'unpackWARs="false" autoDeploy="false"/>\n    </Engine>\n  </Service>\n</Server>\n'
    )
    (base / "conf" / "tomcat-users.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<tomcat-users>\n  <role rolename="client"/>\n'
        f'  <user username={quoteattr(_subject_for_realm(pki))} password="" '
        'roles="client"/>\n</tomcat-users>\n'
    )
    root = base / "webapps" / "ROOT"
    (root / "index.html").write_text("ok\n")
    (root / "secure" / "index.html").write_text("secure ok\n")
    (root / "WEB-INF" / "web.xml").write_text(TOMCAT_WEB_XML)
    # no class-path scan for TLDs and web fragments: it only costs start-up time here
    (root / "META-INF" / "context.xml").write_text(
        '<Context><JarScanner scanClassPath="false" scanManifest="false"/></Context>\n'
    )


@pytest.fixture(scope="module")
def tomcat(server_pki: PKI) -> Iterator[Running]:
    java, keytool = shutil.which("java"), shutil.which("keytool")
    missing = [str(j) for j in TOMCAT_JARS if not j.is_file()]
    if java is None or keytool is None:
        pytest.fail(f"java/keytool missing (Debian default-jdk-headless): {INSTALL_HINT}")
    if missing:
        pytest.fail(f"{missing[0]} is missing (Debian libtomcat10-java): {INSTALL_HINT}")
    base = Path(tempfile.mkdtemp(prefix="mtlscheck-tomcat-"))
    try:
        # the truststore: PKCS#12 with a trusted-certificate entry, which only keytool writes
        (base / "conf").mkdir()
        subprocess.run(
            [keytool, "-importcert", "-noprompt", "-alias", "client-ca", "-file",
             str(server_pki.ca_cert), "-keystore", str(base / "conf" / "client-ca.p12"),
             "-storetype", "PKCS12", "-storepass", STOREPASS],
            check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=60, cwd=base,
        )  # fmt: skip
        log = base / "output.log"
        for _attempt in range(3):  # a port taken between free_port() and Tomcat's bind
            ports = {name: free_port() for name in ("required", "optional", "none", "cafile")}
            _tomcat_base(base, server_pki, ports)
            command = [
                java, "-Xmx128m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                "-cp", ":".join(map(str, TOMCAT_JARS)),
                f"-Dcatalina.base={base}", f"-Dcatalina.home={base}",
                f"-Djava.io.tmpdir={base / 'temp'}",
                "org.apache.catalina.startup.Bootstrap", "start",
            ]  # fmt: skip
            with open(log, "wb") as out:
                proc = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    cwd=base, start_new_session=True,
                )  # fmt: skip
            if _wait_owned(proc, list(ports.values()), time.monotonic() + 40):
                break
            _stop(proc)
        else:
            pytest.fail(f"Tomcat did not start:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            yield Running(ports, log)
        finally:
            _stop(proc)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def go_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tests/go/mtls_server.go`` built once per session (GOCACHE/GOPATH in a temp dir, no
    module proxy: the standard library only)."""
    go = shutil.which("go")
    if go is None:
        pytest.fail(f"go is missing (Debian golang-go): {INSTALL_HINT}")
    work = tmp_path_factory.mktemp("go")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "GOCACHE": str(work / "cache"),
        "GOPATH": str(work / "path"),
        "GOPROXY": "off",
        "GOFLAGS": "",
        "GO111MODULE": "off",
        "GOTOOLCHAIN": "local",
    }
    binary = work / "mtls_server"
    res = subprocess.run(
        [go, "build", "-o", str(binary), str(GO_SOURCE)],
        env=env, cwd=GO_SOURCE.parent, capture_output=True, stdin=subprocess.DEVNULL,
        timeout=600, check=False,
    )  # fmt: skip
    assert res.returncode == 0, (res.stdout + res.stderr).decode(errors="replace")
    return binary


GO_MODES = ("require", "verify-if-given", "verify-if-given+check", "request", "require-any", "none")


@pytest.fixture(scope="module")
def go_server(
    go_binary: Path, server_pki: PKI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    log = tmp_path_factory.mktemp("go-server") / "stderr.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [str(go_binary), "-cert", str(server_pki.server_cert), "-key",
             str(server_pki.server_key), "-ca", str(server_pki.ca_cert), *GO_MODES],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, start_new_session=True,
        )  # fmt: skip
    try:
        assert proc.stdout is not None
        ports: dict[str, int] = {}
        deadline, buf = time.monotonic() + 20, b""
        while b"ready\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
                pytest.fail(f"Go server not ready: {buf!r} {log.read_text(errors='replace')}")
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                pytest.fail(f"Go server exited: {buf!r} {log.read_text(errors='replace')}")
            buf += chunk
        for line in buf.decode().splitlines():
            if line.startswith("listening "):
                _, mode, port = line.split()
                ports[mode] = int(port)
        assert sorted(ports) == sorted(GO_MODES), buf
        yield Running(ports, log)
    finally:
        _stop(proc)


# --------------------------------------------------------------------------- probing


def outcome_text(o: dict[str, Any]) -> str:
    if o["kind"] == "tls-alert":
        return f"alert:{o['alert']}@{o['phase']}"
    if o["kind"] == "http":
        return f"http:{o['status']}"
    return f"{o['kind']}:{o.get('reason')}@{o.get('phase')}"


def probe(
    capsys: pytest.CaptureFixture[str], url: str, pki: Path, server: str, *extra: str
) -> tuple[int, dict[str, Any]]:
    rc = main(["probe", url, "--pki", str(pki), "--server", server, "--timeout", "5",
               "--format", "json", *extra])  # fmt: skip
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err, cap.err
    return rc, json.loads(cap.out)


def got(doc: dict[str, Any]) -> dict[tuple[str, str], tuple[str, str, tuple[bool, bool]]]:
    out = {}
    for p in doc["targets"][0]["probes"]:
        f = p["facts"] or {}
        asked = (bool(f.get("cert_requested")), bool(f.get("cert_requested_after_handshake")))
        out[(p["probe"], p["tls_version"])] = (outcome_text(p["outcome"]), p["verdict"], asked)
    return out


def check_case(
    case: Case, url: str, pki_dir: Path, capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    want = {k: (w.outcome, w.verdict, w.asked) for k, w in case.want.items()}
    for server in (case.server, "auto", "generic"):
        for run in range(RUNS):
            rc, doc = probe(capsys, url, pki_dir, server)
            t = doc["targets"][0]
            what = (
                f"{case.id} --server {server} run {run + 1}: exit {rc}, {t['verdict']} "
                f"({t['verdict_reason']}), profile {t['server_profile']} "
                f"({t['server_profile_reason']})\n"
                + "\n".join(f"  {k}: {v}" for k, v in sorted(got(doc).items()))
                + "\n  findings: "
                + ", ".join(f["code"] for f in t["findings"])
                + "\n"
                + log.read_text(errors="replace")[-1500:]
            )
            assert got(doc) == want, what
            assert (rc, doc["exit_code"]) == (case.exit_code, case.exit_code), what
            assert t["verdict"] == case.layered, what
            profile = {case.server: case.server, "auto": case.auto}.get(server, "generic")
            assert t["server_profile"] == profile, what
            codes = {f["code"] for f in t["findings"]}
            assert codes == case.findings, what
            for f in t["findings"]:
                for text in case.messages.get(f["code"], ()):
                    assert text in f["message"] or text in f["fixes"].get(case.server, ""), (
                        f"{f['code']}: {text!r} not in {f['message']!r} / its fix\n{what}"
                    )
                if f["severity"] in ("error", "warning") and server != "generic":
                    # a named (or detected) profile has its own fix for what it gets wrong
                    assert profile == "generic" or profile in f["fixes"], (f["code"], what)


@pytest.mark.parametrize("case", tomcat_cases(), ids=lambda c: c.id)
def test_tomcat(
    case: Case, tomcat: Running, test_pki_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check_case(case, tomcat.url(case.listener, case.path), test_pki_dir, capsys, tomcat.log)


@pytest.mark.parametrize("case", go_cases(), ids=lambda c: c.id)
def test_go(
    case: Case, go_server: Running, test_pki_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check_case(case, go_server.url(case.listener, case.path), test_pki_dir, capsys, go_server.log)


def test_tomcat_detected_with_every_probe(
    tomcat: Running, test_pki_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``forged-headers`` and ``sni-mismatch`` present no certificate, so JSSE refuses them with
    ``bad_certificate`` like ``no-cert``: that must not make Tomcat look like Go (Go's sign is
    bad_certificate for a bad certificate)."""
    _, doc = probe(capsys, tomcat.url("required", "/"), test_pki_dir, "auto", "--probes", "all")
    t = doc["targets"][0]
    seen = {(p["probe"], p["tls_version"]): p["outcome"] for p in t["probes"]}
    what = json.dumps({f"{k}": outcome_text(o) for k, o in seen.items()}, indent=1)
    assert seen[("forged-headers", "1.2")]["alert"] == "bad_certificate", what
    assert t["server_profile"] == "tomcat", (t["server_profile_reason"], what)
    assert "JSSE" in t["server_profile_reason"]
    assert t["verdict"] == "enforced-tls", what
