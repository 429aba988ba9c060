"""``mtlscheck explain``: every pattern is tested with lines CAPTURED from real programs here.

A module fixture runs the real servers (nginx at ``error_log ... info``, Apache at
``LogLevel ssl:info`` and at ``warn``, HAProxy, Caddy with ``debug``) and real clients (curl,
openssl s_client, Python ssl, Caddy's Go reverse proxy, Java, Node) against them, and keeps
what each wrote.  No test line is typed in by hand.  Then: each capture is recognised by the
expected pattern with the expected finding code, every pattern has such a capture, and for real
misconfigurations from test_diagnose the log line explains to the code the probe found.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require_server
from offline_helpers import LogCursor, curl, role_args
from servers import HOST, ApacheServer, CaddyServer, HAProxyServer, NginxServer, RealServer

from mtlscheck._explain import PATTERNS, explain
from mtlscheck._pki import PKI

pytestmark = pytest.mark.realserver

JAVA = shutil.which("java")
NODE = shutil.which("node")


class DebugCaddy(CaddyServer):
    """Caddy logs TLS handshake errors only with the ``debug`` global option."""

    def render(self) -> str:
        return super().render().replace("\tadmin off", "\tdebug\n\tadmin off", 1)


def _python_client(port: int, tls: str, pki: PKI, role: str | None) -> str:
    """What Python's ssl module raises (the client's view)."""
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    version = ssl.TLSVersion.TLSv1_3 if tls == "1.3" else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = version
    if role is not None:
        args = role_args(pki, role)
        ctx.load_cert_chain(str(args["cert"]), str(args["key"]))
    try:
        with (
            socket.create_connection((HOST, port), timeout=10) as raw,
            ctx.wrap_socket(raw, server_hostname="localhost") as tls_sock,
        ):
            tls_sock.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
            return repr(tls_sock.recv(200))
    except (OSError, ssl.SSLError) as exc:
        return f"{type(exc).__name__}: {exc}"


def _run(argv: list[str], stdin: str = "") -> str:
    res = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60, check=False)
    return res.stdout + res.stderr


_JAVA_CLIENT = """
import javax.net.ssl.*;
import java.security.cert.X509Certificate;
public class Client {
    public static void main(String[] a) throws Exception {
        TrustManager[] all = { new X509TrustManager() {
            public void checkClientTrusted(X509Certificate[] c, String s) {}
            public void checkServerTrusted(X509Certificate[] c, String s) {}
            public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; } } };
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, all, null);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1",
                Integer.parseInt(a[0]))) {
            s.setEnabledProtocols(new String[] {a[1]});
            s.startHandshake();
            s.setSoTimeout(5000);
            if (a[2].equals("write")) {
                s.getOutputStream().write("GET / HTTP/1.0\\r\\n\\r\\n".getBytes());
                s.getOutputStream().flush();
            }
            System.out.println(s.getInputStream().read());
        } catch (Exception e) { System.out.println(e); }
    }
}
"""

_NODE_CLIENT = """
const https = require('https');
const [url, tls, ca] = process.argv.slice(1);
const opts = {minVersion: tls, maxVersion: tls};
if (ca) opts.ca = require('fs').readFileSync(ca);
https.get(url, opts, r => { console.log('status', r.statusCode); r.resume(); })
  .on('error', e => console.log('Error:', e.code, e.message));
"""


def _java(
    port: int, tls: str, mode: str, want: str, tmp: pytest.TempPathFactory, tries: int = 3
) -> str:
    """Run the Java client; what a Java client sees races with the server's close, so up to
    ``tries`` runs until the output shows ``want`` (the last output otherwise)."""
    src = tmp.mktemp("java") / "Client.java"
    src.write_text(_JAVA_CLIENT)
    text = ""
    for _ in range(tries):
        text = _run(["java", str(src), str(port), tls, mode])
        if want in text:
            break
    return text


def _caddy_proxy(apache: RealServer, nginx: RealServer, pki: PKI) -> str:
    """Caddy as a Go TLS CLIENT: /apache presents no client certificate to an Apache that
    requires one; /nginx does not trust nginx's server certificate."""
    return f"""http://127.0.0.1:{{port}} {{
    bind 127.0.0.1
    handle /apache* {{
        reverse_proxy https://127.0.0.1:{apache.port} {{
            transport http {{
                tls_trusted_ca_certs {pki.ca_cert}
                tls_server_name localhost
            }}
        }}
    }}
    handle /nginx* {{
        reverse_proxy https://127.0.0.1:{nginx.port} {{
            transport http {{
                tls
                tls_server_name localhost
            }}
        }}
    }}
}}
"""


def _per_location(pki: PKI) -> str:
    return (
        f"<VirtualHost {HOST}:{{port}}>\n"
        "    ServerName localhost\n    SSLEngine on\n    SSLProtocol -all +TLSv1.2 +TLSv1.3\n"
        f'    SSLCertificateFile "{pki.server_cert}"\n'
        f'    SSLCertificateKeyFile "{pki.server_key}"\n'
        f'    SSLCACertificateFile "{pki.ca_cert}"\n'
        "    SSLVerifyDepth 2\n"
        "    <Location />\n        SSLVerifyClient require\n    </Location>\n"
        "</VirtualHost>\n"
    )


@pytest.fixture(scope="module")
def captured(
    server_pki: PKI, mtls_paths: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """origin -> text a real program wrote (log lines since the request, or client output)."""
    for cls in (NginxServer, ApacheServer, HAProxyServer, CaddyServer):
        require_server(cls)
    pki, ca = server_pki, server_pki.ca_cert
    out: dict[str, str] = {}

    def probe(srv: RealServer, name: str, *, tls: str = "1.3", role: str | None = None,
              cacert: Path | None = ca, chain: bool = True) -> None:  # fmt: skip
        cursor = LogCursor(srv)
        args = role_args(pki, role, send_chain=chain) if role else {}
        _, client = curl(srv.url, cacert=cacert, tls=tls, **args)
        out[f"{srv.name} log: {name}"] = cursor.new()
        out[f"curl->{srv.name}: {name}"] = client

    with NginxServer(NginxServer.mtls_fragment(**mtls_paths)) as ng:
        probe(ng, "no-cert")
        for role in ("expired", "wrong-ca", "self-signed"):
            probe(ng, role, role=role)
        probe(ng, "untrusted-server", cacert=None)
        if NODE:
            out["node->nginx: untrusted-server"] = _run(
                ["node", "-e", _NODE_CLIENT, ng.url, "TLSv1.3"]
            )
        with ApacheServer(ApacheServer.mtls_fragment(**mtls_paths)) as ap:
            for tls in ("1.2", "1.3"):
                probe(ap, f"no-cert tls{tls}", tls=tls)
                probe(ap, f"expired tls{tls}", tls=tls, role="expired")
                out[f"python->apache: no-cert tls{tls}"] = _python_client(ap.port, tls, pki, None)
                out[f"python->apache: wrong-ca tls{tls}"] = _python_client(
                    ap.port, tls, pki, "wrong-ca"
                )
            probe(ap, "untrusted-server", cacert=None)
            valid = role_args(pki, "valid")
            _, out["curl->apache: key mismatch"] = curl(
                ap.url, cacert=ca, cert=valid["cert"], key=role_args(pki, "expired")["key"]
            )
            out["s_client->apache: no-cert tls1.3"] = _run(
                ["openssl", "s_client", "-connect", f"127.0.0.1:{ap.port}", "-tls1_3",
                 "-CAfile", str(ca), "-servername", "localhost", "-ign_eof"],
                "GET / HTTP/1.0\r\n\r\n",
            )  # fmt: skip
            if NODE:
                for v in ("TLSv1.2", "TLSv1.3"):
                    out[f"node->apache: no-cert {v}"] = _run(
                        ["node", "-e", _NODE_CLIENT, ap.url, v, str(ca)]
                    )
            if JAVA:
                # Java reads first: the TLS 1.3 alert arrives after its handshake completed
                out["java->apache: no-cert TLSv1.3"] = _java(
                    ap.port, "TLSv1.3", "read", "Received fatal alert", tmp_path_factory
                )
            with DebugCaddy(_caddy_proxy(ap, ng, pki)) as proxy:
                for path in ("apache", "nginx"):
                    cursor = LogCursor(proxy)
                    _run(
                        ["curl", "-sS", "--max-time", "10", f"http://127.0.0.1:{proxy.port}/{path}"]
                    )
                    out[f"go client->{path}"] = cursor.new()

    warn = ApacheServer.mtls_fragment(**mtls_paths).replace(
        "    SSLEngine on\n", "    SSLEngine on\n    LogLevel warn\n"
    )
    with ApacheServer(warn) as ap:
        probe(ap, "LogLevel warn: expired", role="expired")
        probe(ap, "LogLevel warn: no-cert")
    with ApacheServer(ApacheServer.mtls_fragment(**mtls_paths, verify_depth=1)) as ap:
        probe(ap, "depth 1: intermediate", role="intermediate")
    with ApacheServer(_per_location(pki)) as ap:
        probe(ap, "per-location: no-cert tls1.2", tls="1.2")
        probe(ap, "per-location: no-cert tls1.3")
        cursor = LogCursor(ap)
        _python_client(ap.port, "1.3", pki, None)  # Python offers no post-handshake auth
        out["apache2 log: per-location: python no PHA"] = cursor.new()
    with HAProxyServer(HAProxyServer.mtls_fragment(**mtls_paths)) as hp:
        probe(hp, "no-cert")
        probe(hp, "expired", role="expired")
        if JAVA:
            # writing first, Java meets the socket HAProxy closed after its alert
            out["java->haproxy: no-cert TLSv1.2"] = _java(
                hp.port, "TLSv1.2", "write", "SocketException", tmp_path_factory
            )
        if NODE:
            out["node->haproxy: no-cert TLSv1.3"] = _run(
                ["node", "-e", _NODE_CLIENT, hp.url, "TLSv1.3", str(ca)]
            )
    with DebugCaddy(CaddyServer.mtls_fragment(**{**mtls_paths, "crl": None})) as cd:
        probe(cd, "no-cert")
        for role in ("expired", "wrong-ca", "no-client-eku"):
            probe(cd, role, role=role)
        probe(cd, "untrusted-server", cacert=None, tls="1.2")
    return out


# (origin, pattern expected to recognise it, a finding code it must name)
EXPECTED = [
    ("nginx log: no-cert", "nginx-no-cert", "valid-cert-rejected"),
    ("curl->nginx: no-cert", "nginx-400-no-cert", "ca-names-exclude-client-issuer"),
    ("nginx log: expired", "nginx-verify-error", "valid-cert-rejected"),
    ("curl->nginx: expired", "nginx-400-cert-error", "valid-cert-rejected"),
    ("nginx log: wrong-ca", "nginx-verify-error", "chain-incomplete"),
    ("nginx log: self-signed", "nginx-verify-error", "valid-cert-rejected"),
    ("nginx log: untrusted-server", "nginx-client-alert", "server-cert-untrusted"),
    ("curl->nginx: untrusted-server", "curl-60-server", "server-cert-untrusted"),
    ("node->nginx: untrusted-server", "node-server-untrusted", "server-cert-untrusted"),
    ("apache2 log: no-cert tls1.2", "apache-no-cert", "valid-cert-rejected"),
    ("apache2 log: no-cert tls1.3", "apache-handshake-error", None),
    ("curl->apache2: no-cert tls1.2", "curl-35", "valid-cert-rejected"),
    ("curl->apache2: no-cert tls1.2", "openssl-alert", "ca-names-exclude-client-issuer"),
    ("curl->apache2: no-cert tls1.3", "curl-56", "client-cert-rejected-after-handshake"),
    ("curl->apache2: no-cert tls1.3", "openssl-alert", "valid-cert-rejected"),
    ("apache2 log: expired tls1.3", "apache-verify-error", "valid-cert-rejected"),
    ("curl->apache2: expired tls1.2", "curl-60-alert", "valid-cert-rejected"),
    ("curl->apache2: expired tls1.3", "openssl-alert", "valid-cert-rejected"),
    ("python->apache: no-cert tls1.3", "python-alert", "valid-cert-rejected"),
    ("python->apache: wrong-ca tls1.2", "python-alert", "chain-incomplete"),
    ("apache2 log: untrusted-server", "apache-client-alert", "server-cert-untrusted"),
    ("curl->apache: key mismatch", "curl-58", None),
    ("s_client->apache: no-cert tls1.3", "openssl-alert", "valid-cert-rejected"),
    ("node->apache: no-cert TLSv1.2", "openssl-alert", "valid-cert-rejected"),
    ("node->apache: no-cert TLSv1.3", "python-alert", "valid-cert-rejected"),
    ("java->apache: no-cert TLSv1.3", "java-alert", "valid-cert-rejected"),
    ("java->haproxy: no-cert TLSv1.2", "client-hangup", "valid-cert-rejected"),
    ("go client->apache", "go-client-alert", "valid-cert-rejected"),
    ("go client->nginx", "go-client-server-untrusted", "server-cert-untrusted"),
    ("apache2 log: LogLevel warn: expired", "apache-verify-error", "valid-cert-rejected"),
    ("apache2 log: depth 1: intermediate", "apache-depth", "verify-depth-too-small"),
    ("apache2 log: per-location: no-cert tls1.2", "apache-renegotiation-failed",
     "per-location-client-auth"),
    ("apache2 log: per-location: no-cert tls1.3", "apache-pha-missing-cert",
     "per-location-client-auth"),
    ("apache2 log: per-location: python no PHA", "apache-no-pha", "per-location-client-auth"),
    ("haproxy log: no-cert", "haproxy-handshake-failure", "valid-cert-rejected"),
    ("haproxy log: expired", "haproxy-not-trusted", "valid-cert-rejected"),
    ("caddy log: no-cert", "go-server-no-cert", "valid-cert-rejected"),
    ("caddy log: expired", "go-server-expired", "valid-cert-rejected"),
    ("caddy log: wrong-ca", "go-server-unknown-authority", "chain-incomplete"),
    ("caddy log: no-client-eku", "go-server-key-usage", "valid-cert-rejected"),
    ("caddy log: untrusted-server", "go-server-client-alert", "server-cert-untrusted"),
    ("node->haproxy: no-cert TLSv1.3", "python-alert", "valid-cert-rejected"),
]  # fmt: skip


def _needs(origin: str) -> None:
    """Fail, not skip: scripts/install-test-deps.sh installs both (a JDK and Node.js)."""
    if origin.startswith("java") and JAVA is None:
        pytest.fail("java is missing: run scripts/install-test-deps.sh", pytrace=False)
    if origin.startswith("node") and NODE is None:
        pytest.fail("node is missing: run scripts/install-test-deps.sh", pytrace=False)


@pytest.mark.parametrize(
    ("origin", "pattern", "code"), EXPECTED, ids=[f"{e[0]}|{e[1]}" for e in EXPECTED]
)
def test_captured_line_is_explained(
    captured: dict[str, str], origin: str, pattern: str, code: str | None
) -> None:
    _needs(origin)
    text = captured[origin]
    result = explain(text)
    by_pattern = {e.pattern: e for e in result.explanations}
    assert pattern in by_pattern, f"{origin}:\n{text[-1500:]}\n-> {list(by_pattern)}"
    e = by_pattern[pattern]
    if code is not None:
        assert code in e.codes, (origin, e)
    assert e.says and e.causes
    if e.codes:
        assert e.fixes and e.confirm.startswith("mtlscheck probe ")


def test_every_pattern_is_tested_with_a_capture() -> None:
    assert {p.id for p in PATTERNS} <= {e[1] for e in EXPECTED}


def test_server_log_alerts_are_read_in_the_other_direction(captured: dict[str, str]) -> None:
    """The same 'tlsv1 alert unknown ca' text: in curl's output the SERVER refused the client
    certificate; in Apache's log the CLIENT refused the server certificate."""
    client = explain(captured["python->apache: wrong-ca tls1.2"])
    server = explain(captured["apache2 log: untrusted-server"])
    assert "server-cert-untrusted" not in client.codes
    assert "server-cert-untrusted" in server.codes
    assert "valid-cert-rejected" not in server.codes


def test_nginx_log_at_a_higher_level_is_called_silent() -> None:
    text = "2026/12/02 04:50:58 [error] 16988#16988: *2 open() failed (2: No such file)\n"
    notes = " ".join(explain(text).notes)
    assert "error_log /var/log/nginx/error.log info;" in notes
    conf = explain("error_log /var/log/nginx/error.log warn;\nLogLevel warn\n")
    assert any("logs at warn" in n for n in conf.notes)
    assert any("LogLevel ssl:info" in n for n in conf.notes)


def test_apache_at_warn_is_called_silent(captured: dict[str, str]) -> None:
    """At LogLevel warn Apache logs nothing for a client without a certificate: explain says
    that the level, not the server, is silent."""
    text = captured["apache2 log: LogLevel warn: no-cert"]
    result = explain(text or "[Wed Dec 02 04:52:42.722875 2026] [core:warn] [pid 1] AH00000: x\n")
    assert any("LogLevel" in n for n in result.notes)


def test_identical_lines_are_counted(captured: dict[str, str]) -> None:
    line = next(ln for ln in captured["nginx log: expired"].splitlines() if "verify error" in ln)
    (e,) = explain("\n".join([line] * 5)).explanations
    assert e.count == 5


# --------------------------------------------------------------------------- probe agreement

# test_diagnose case -> the code its probe finds and explain must name from the server's log
AGREEMENT = {
    "nginx-wrong-ca-file": "valid-cert-rejected",
    # with ssl_crl, depth 0 and a missing CRL both log (3): the probe names both causes under
    # valid-cert-rejected; explain of (3) names both codes
    "nginx-verify-depth-0": "valid-cert-rejected",
    "nginx-crl-root-only": "valid-cert-rejected",
    # without ssl_crl nginx logs (20) for a chain cut off at its depth
    "nginx-verify-depth-0-no-crl": "verify-depth-too-small",
    "nginx-correct-intermediate-client": "chain-incomplete",
    "apache-verify-depth-1": "verify-depth-too-small",
    "apache-per-location": "per-location-client-auth",
    "caddy-other-ca": "valid-cert-rejected",
}


@pytest.fixture(scope="module")
def diagnose_cases() -> Iterator[dict[str, object]]:
    import test_diagnose

    yield {c.id: c for c in test_diagnose.CASES}


@pytest.mark.parametrize(("case_id", "code"), sorted(AGREEMENT.items()))
def test_explain_of_the_log_names_the_code_the_probe_found(
    case_id: str,
    code: str,
    diagnose_cases: dict[str, object],
    server_pki: PKI,
    test_pki_dir: Path,
) -> None:
    from test_diagnose import Case, run_case

    case = diagnose_cases[case_id]
    assert isinstance(case, Case)
    require_server(case.server)
    cls: type[RealServer] = DebugCaddy if case.server is CaddyServer else case.server
    with cls(case.fragment(server_pki)) as srv:
        cursor = LogCursor(srv)
        result = run_case(case, server_pki, test_pki_dir, srv.url)
        log = cursor.new()
    found = {f.code for f in result.findings}
    explained = explain(log)
    what = f"{case_id}: probe {sorted(found)}, explain {explained.codes}\n{log[-2000:]}"
    assert code in found, what
    assert code in explained.codes, what


def test_no_input_notes_every_server(tmp_path: Path) -> None:
    result = explain("hello\n")
    assert result.explanations == ()
    (note,) = result.notes
    assert "nginx" in note and "Apache" in note and "Caddy" in note and "HAProxy" in note
    assert os.sep  # the note does not depend on the platform
