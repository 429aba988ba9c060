"""The probes and findings of issue 11 against real servers: each configured to show the
problem, and configured correctly so that it must not show.

- ``forged-headers`` / ``identity-header-trusted``: nginx ``ssl_verify_client optional``
  proxying to a small backend that trusts ``X-SSL-Client-Verify``, with and without
  ``proxy_set_header`` overwriting the client's own header;
- ``sni-mismatch`` / ``sni-host-bypass``: two sites on one port, one with client auth and one
  without - Caddy with ``strict_sni_host insecure_off`` (the harness template sets it) routes by
  Host and lets the request through; nginx answers 421 Misdirected Request;
- ``plaintext`` / ``plaintext-accepted``: HAProxy in tcp mode sending TLS to an mTLS frontend and
  everything else to a plain one (a listener that takes both); nginx answers its 400 page;
- ``ca-names-empty``: gunicorn (Python's ssl names no CA); nginx names its client CA file;
- ``ca-names-public``: nginx whose client CA file is the system bundle plus our CA;
- the ``node`` and ``gunicorn`` rejection profiles, measured.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import require_server
from node_server import NodeServer
from servers import (
    HOST,
    CaddyServer,
    GunicornServer,
    HAProxyServer,
    NginxServer,
    UvicornServer,
    combined_pem,
)

from mtlscheck import check
from mtlscheck._model import OutcomeKind, ProbeResult, TargetResult, Verdict
from mtlscheck._pki import PKI
from mtlscheck._truststore import public_ca_names, system_bundle


def codes(res: TargetResult) -> set[str]:
    return {f.code for f in res.findings}


def by_probe(res: TargetResult, probe: str) -> list[ProbeResult]:
    """Its results over both TLS versions, or its one result without TLS (``plaintext``);
    never an empty list to loop over."""
    got = [r for r in res.results if r.probe == probe]
    want: list[str | None] = [None] if probe == "plaintext" else ["1.2", "1.3"]
    assert [r.tls_version for r in got] == want, got
    return got


# --------------------------------------------------------------------------- forged headers


class _TrustingBackend(http.server.BaseHTTPRequestHandler):
    """Lets in whoever's request says X-SSL-Client-Verify: SUCCESS (what backends do)."""

    def do_GET(self) -> None:
        ok = self.headers.get("X-SSL-Client-Verify") == "SUCCESS"
        body = b"ok\n" if ok else b"forbidden\n"
        self.send_response(200 if ok else 403)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[int]:
    srv = http.server.ThreadingHTTPServer((HOST, 0), _TrustingBackend)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield int(srv.server_address[1])
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)


def _proxy(server_pki: PKI, backend: int, overwrite: bool) -> Callable[[int], str]:
    set_header = "proxy_set_header X-SSL-Client-Verify $ssl_client_verify;" if overwrite else ""
    return lambda port: (
        f"""server {{
    listen {HOST}:{port} ssl;
    server_name localhost;
    ssl_certificate {server_pki.server_cert};
    ssl_certificate_key {server_pki.server_key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_client_certificate {server_pki.ca_cert};
    ssl_verify_client optional;
    location / {{
        proxy_pass http://{HOST}:{backend};
        {set_header}
    }}
}}
"""
    )


def test_forged_headers_trusted_by_the_backend_is_found(
    nginx_factory: Callable[..., NginxServer], server_pki: PKI, test_pki_dir: Path, backend: int
) -> None:
    srv = nginx_factory(_proxy(server_pki, backend, overwrite=False))
    res = check(srv.url, pki=test_pki_dir, probes="no-cert,forged-headers", timeout=5)
    for r in by_probe(res, "no-cert"):
        assert r.outcome is not None and r.outcome.status == 403, r
    for r in by_probe(res, "forged-headers"):
        assert r.outcome is not None and r.outcome.status == 200, r
        assert r.verdict is Verdict.FAIL
        assert "X-SSL-Client-Verify: SUCCESS" in r.curl  # the command does what the probe did
    found = next(f for f in res.findings if f.code == "identity-header-trusted")
    assert found.severity == "error"
    assert "proxy_set_header X-SSL-Client-Verify $ssl_client_verify" in dict(found.fixes)["nginx"]


def test_overwritten_identity_headers_are_not_a_finding(
    nginx_factory: Callable[..., NginxServer], server_pki: PKI, test_pki_dir: Path, backend: int
) -> None:
    srv = nginx_factory(_proxy(server_pki, backend, overwrite=True))
    res = check(srv.url, pki=test_pki_dir, probes="no-cert,valid,forged-headers", timeout=5)
    for r in by_probe(res, "forged-headers"):
        assert r.outcome is not None and r.outcome.status == 403, r
        assert r.verdict is Verdict.PASS  # a 403 after a CertificateRequest is tied to it
    assert all(r.outcome and r.outcome.status == 200 for r in by_probe(res, "valid"))
    assert "identity-header-trusted" not in codes(res)


def test_users_replace_the_identity_header_set(
    nginx_factory: Callable[..., NginxServer], server_pki: PKI, test_pki_dir: Path, backend: int
) -> None:
    """--forged-headers-only with headers this backend does not read: nothing to find."""
    srv = nginx_factory(_proxy(server_pki, backend, overwrite=False))
    res = check(
        srv.url,
        pki=test_pki_dir,
        probes="no-cert,forged-headers",
        forged_headers=[("X-Client-Cert-Ok", "yes")],
        forged_headers_only=True,
        timeout=5,
    )
    for r in by_probe(res, "forged-headers"):
        assert r.outcome is not None and r.outcome.status == 403
        assert "X-Client-Cert-Ok: yes" in r.curl and "X-SSL-Client-Verify" not in r.curl
    assert "identity-header-trusted" not in codes(res)


# --------------------------------------------------------------------------- SNI / Host


def test_sni_host_bypass_is_found_on_caddy_routing_by_host(
    caddy_factory: Callable[..., CaddyServer], server_pki: PKI, test_pki_dir: Path
) -> None:
    cert, key, ca = server_pki.server_cert, server_pki.server_key, server_pki.ca_cert

    def sites(port: int) -> str:
        return f"""https://localhost:{port} {{
    bind {HOST}
    tls {cert} {key} {{
        client_auth {{
            mode require_and_verify
            trusted_ca_cert_file {ca}
        }}
    }}
    respond "protected" 200
}}
https://public.localhost:{port} {{
    bind {HOST}
    tls {cert} {key}
    respond "public" 200
}}
"""

    srv = caddy_factory(sites)
    res = check(
        srv.url,
        pki=test_pki_dir,
        probes="no-cert,valid,sni-mismatch",
        other_servername="public.localhost",
        timeout=5,
    )
    assert all(r.verdict is Verdict.PASS for r in by_probe(res, "no-cert"))
    for r in by_probe(res, "sni-mismatch"):
        assert r.outcome is not None and r.outcome.status == 200, r
        assert r.facts is not None and not r.facts.cert_requested  # the other vhost's TLS
        assert "--connect-to public.localhost:" in r.curl
        assert "-servername public.localhost" in r.openssl
    found = next(f for f in res.findings if f.code == "sni-host-bypass")
    assert found.severity == "error" and "strict_sni_host on" in dict(found.fixes)["caddy"]


def test_nginx_refuses_a_host_other_than_the_sni_with_421(
    nginx_factory: Callable[..., NginxServer], server_pki: PKI, test_pki_dir: Path
) -> None:
    cert, key, ca = server_pki.server_cert, server_pki.server_key, server_pki.ca_cert

    def blocks(port: int) -> str:
        return f"""server {{
    listen {HOST}:{port} ssl;
    server_name localhost;
    ssl_certificate {cert}; ssl_certificate_key {key}; ssl_protocols TLSv1.2 TLSv1.3;
    ssl_client_certificate {ca}; ssl_verify_client on;
    location / {{ return 200 "protected\\n"; }}
}}
server {{
    listen {HOST}:{port} ssl;
    server_name public.localhost;
    ssl_certificate {cert}; ssl_certificate_key {key}; ssl_protocols TLSv1.2 TLSv1.3;
    location / {{ return 200 "public\\n"; }}
}}
"""

    srv = nginx_factory(blocks)
    for other in ("public.localhost", None):  # the open vhost, and a random unknown name
        res = check(
            srv.url,
            pki=test_pki_dir,
            probes="no-cert,sni-mismatch",
            other_servername=other,
            server="nginx",
            timeout=5,
        )
        for r in by_probe(res, "sni-mismatch"):
            assert r.outcome is not None and r.outcome.status in (421, 400), r
            assert r.verdict is Verdict.PASS, r
        assert "sni-host-bypass" not in codes(res)
    # the named open vhost gets 421; an unknown name falls to the default (mTLS) server: 400
    res = check(srv.url, probes="sni-mismatch", other_servername="public.localhost",
                cacert=server_pki.ca_cert, timeout=5)  # fmt: skip
    assert all(r.outcome and r.outcome.status == 421 for r in by_probe(res, "sni-mismatch"))


# --------------------------------------------------------------------------- plain HTTP


def test_a_port_that_takes_plain_http_too_is_found(
    haproxy_factory: Callable[..., HAProxyServer], server_pki: PKI, test_pki_dir: Path
) -> None:
    pem = combined_pem(server_pki.server_cert, server_pki.server_key)
    frag = f"""frontend mux
    mode tcp
    bind {HOST}:{{port}}
    tcp-request inspect-delay 2s
    tcp-request content accept if {{ req.ssl_hello_type 1 }}
    tcp-request content accept if {{ req.len gt 0 }}
    use_backend be_tls if {{ req.ssl_hello_type 1 }}
    default_backend be_plain

backend be_tls
    mode tcp
    server tls unix@{{workdir}}/tls.sock

backend be_plain
    mode tcp
    server plain unix@{{workdir}}/plain.sock

frontend fe_tls
    bind unix@{{workdir}}/tls.sock ssl crt {pem} ca-file {server_pki.ca_cert} verify required
    http-request return status 200 content-type text/plain string "ok"

frontend fe_plain
    bind unix@{{workdir}}/plain.sock
    http-request return status 200 content-type text/plain string "ok"
"""
    srv = haproxy_factory(frag)
    res = check(srv.url, pki=test_pki_dir, probes="no-cert,valid,plaintext", timeout=5)
    assert all(r.verdict is Verdict.PASS for r in by_probe(res, "no-cert")), res.results
    assert all(r.verdict is Verdict.PASS for r in by_probe(res, "valid")), res.results
    for r in by_probe(res, "plaintext"):
        assert r.outcome is not None and r.outcome.kind is OutcomeKind.HTTP
        assert r.outcome.status == 200 and r.verdict is Verdict.FAIL
        assert r.curl.endswith(f"http://localhost:{srv.port}/") and r.openssl == ""
    found = next(f for f in res.findings if f.code == "plaintext-accepted")
    assert found.severity == "error"


@pytest.mark.parametrize("kind", ["nginx", "haproxy"])
def test_a_tls_only_port_refuses_plain_http(
    kind: str,
    nginx_mtls: NginxServer,
    haproxy_factory: Callable[..., HAProxyServer],
    mtls_paths: dict[str, Path],
    test_pki_dir: Path,
) -> None:
    url = nginx_mtls.url
    if kind == "haproxy":
        url = haproxy_factory(HAProxyServer.mtls_fragment(**mtls_paths)).url
    res = check(url, pki=test_pki_dir, probes="no-cert,plaintext", timeout=5)
    for r in by_probe(res, "plaintext"):
        assert r.outcome is not None and r.verdict is Verdict.PASS, r
        if kind == "nginx":  # its own page: "The plain HTTP request was sent to HTTPS port"
            assert r.outcome.status == 400 and "plain HTTP" in r.outcome.detail
        else:
            assert r.outcome.kind is OutcomeKind.CONNECT and r.outcome.phase is None
    assert "plaintext-accepted" not in codes(res)
    assert not {"target-unreachable", "not-tls"} & codes(res)  # plain probes stay out of those


# --------------------------------------------------------------------------- CA names audit


def test_gunicorn_names_no_client_ca(gunicorn_mtls: GunicornServer, test_pki_dir: Path) -> None:
    res = check(gunicorn_mtls.url, pki=test_pki_dir, probes="no-cert,valid", timeout=5)
    asked = [r for r in res.results if r.facts is not None and r.facts.cert_requested]
    assert asked and all(r.facts is not None and r.facts.ca_names == () for r in asked)
    assert "ca-names-empty" in codes(res)
    assert "ca-names-exclude-client-issuer" not in codes(res)  # an empty list excludes nothing


def test_nginx_names_its_client_ca(nginx_mtls: NginxServer, test_pki_dir: Path) -> None:
    res = check(nginx_mtls.url, pki=test_pki_dir, probes="no-cert,valid", timeout=5)
    assert not {"ca-names-empty", "ca-names-public"} & codes(res)
    assert all(
        r.facts and r.facts.ca_names for r in res.results if r.facts and r.facts.cert_requested
    )


def test_a_public_bundle_as_client_ca_file_is_found(
    nginx_factory: Callable[..., NginxServer], server_pki: PKI, test_pki_dir: Path
) -> None:
    bundle = system_bundle()
    assert bundle is not None and public_ca_names(), "the system trust store is missing"
    ca_file = test_pki_dir.parent / "public-plus-ours.pem"
    ca_file.write_bytes(bundle.read_bytes() + server_pki.ca_cert.read_bytes())
    srv = nginx_factory(
        NginxServer.mtls_fragment(
            server_cert=server_pki.server_cert,
            server_key=server_pki.server_key,
            client_ca=ca_file,
        )
    )
    res = check(srv.url, pki=test_pki_dir, probes="no-cert,valid", tls="1.3", timeout=5)
    facts = next(r.facts for r in res.results if r.probe == "valid")
    assert facts is not None and len(facts.ca_names) > 100  # the full list, as sent
    assert facts.to_dict()["ca_names"] == list(facts.ca_names)
    found = next(f for f in res.findings if f.code == "ca-names-public")
    assert found.severity == "error" and "and " in found.message  # folded, not 150 names
    assert len(found.message) < 1500
    assert "ca-names-exclude-client-issuer" not in codes(res)  # our CA is in the list


# --------------------------------------------------------------------------- profiles


@pytest.fixture
def node_factory() -> Iterator[Callable[..., NodeServer]]:
    require_server(NodeServer)
    started: list[NodeServer] = []

    def make(fragment: str) -> NodeServer:
        srv = NodeServer(fragment)
        started.append(srv)
        return srv.start()

    yield make
    for srv in started:
        srv.stop()


_BAD = "no-cert,valid,expired,wrong-ca,self-signed,no-client-eku"


@pytest.mark.parametrize("verify", ["required", "app"])
def test_node_profile_matches_both_documented_setups(
    verify: str,
    node_factory: Callable[..., NodeServer],
    mtls_paths: dict[str, Path],
    test_pki_dir: Path,
) -> None:
    paths = {k: v for k, v in mtls_paths.items() if k != "crl"}
    srv = node_factory(NodeServer.settings(**paths, verify=verify))
    res = check(srv.url, pki=test_pki_dir, probes=_BAD, server="node", timeout=5)
    assert res.results and all(r.verdict is Verdict.PASS for r in res.results), [
        (r.name, r.outcome and r.outcome.summary, r.verdict) for r in res.results
    ]
    if verify == "app":
        assert "client-auth-checked-over-http" in codes(res)


def test_node_profile_fails_requestcert_without_a_check(
    node_factory: Callable[..., NodeServer], mtls_paths: dict[str, Path], test_pki_dir: Path
) -> None:
    paths = {k: v for k, v in mtls_paths.items() if k != "crl"}
    srv = node_factory(NodeServer.settings(**paths, verify="optional"))
    res = check(srv.url, pki=test_pki_dir, probes=_BAD, server="node", timeout=5)
    assert {r.probe for r in res.results if r.verdict is Verdict.FAIL} == set(_BAD.split(",")) - {
        "valid"
    }
    assert "client-auth-optional" in codes(res)
    fix = dict(next(f for f in res.findings if f.code == "client-auth-optional").fixes)
    assert "req.socket.authorized" in fix["node"]
    assert next(iter(dict(res.findings[0].fixes))) == "node"  # the profile's fix first


def test_gunicorn_profile(gunicorn_mtls: GunicornServer, test_pki_dir: Path) -> None:
    res = check(gunicorn_mtls.url, pki=test_pki_dir, probes=_BAD, server="gunicorn", timeout=5)
    assert res.results and all(r.verdict is Verdict.PASS for r in res.results), [
        (r.name, r.outcome and r.outcome.summary, r.verdict) for r in res.results
    ]


def test_gunicorn_profile_fails_cert_optional(
    gunicorn_factory: Callable[..., GunicornServer],
    mtls_paths: dict[str, Path],
    test_pki_dir: Path,
) -> None:
    paths = {k: v for k, v in mtls_paths.items() if k != "crl"}
    srv = gunicorn_factory(GunicornServer.mtls_fragment(**paths, verify="optional"))
    res = check(srv.url, pki=test_pki_dir, probes=_BAD, server="gunicorn", timeout=5)
    assert {r.probe for r in res.results if r.verdict is Verdict.FAIL} == {"no-cert"}
    fix = dict(next(f for f in res.findings if f.code == "client-auth-optional").fixes)
    assert "--cert-reqs 2" in fix["gunicorn"]


def test_uvicorn_profile(
    uvicorn_factory: Callable[..., UvicornServer], mtls_paths: dict[str, Path], test_pki_dir: Path
) -> None:
    """uvicorn --ssl-cert-reqs 2 (Python's ssl under asyncio): every bad certificate gets a
    hang-up without an alert (asyncio does not flush OpenSSL's alert), in the handshake on
    TLS 1.2 and right after it on TLS 1.3 - a rejection only because a CertificateRequest
    came first (the evidence rule)."""
    paths = {k: v for k, v in mtls_paths.items() if k != "crl"}
    srv = uvicorn_factory(UvicornServer.mtls_fragment(**paths))
    res = check(srv.url, pki=test_pki_dir, probes=_BAD, server="uvicorn", timeout=5)
    assert res.results and all(r.verdict is Verdict.PASS for r in res.results), [
        (r.name, r.outcome and r.outcome.summary, r.verdict) for r in res.results
    ]
    assert all(
        r.outcome is not None and r.outcome.is_tls_hangup and r.facts and r.facts.cert_requested
        for r in res.results
        if r.probe != "valid"
    )
    assert res.auth_verdict == "enforced-tls"
    optional = uvicorn_factory(UvicornServer.mtls_fragment(**paths, verify="optional"))
    res = check(optional.url, pki=test_pki_dir, probes=_BAD, server="uvicorn", timeout=5)
    assert {r.probe for r in res.results if r.verdict is Verdict.FAIL} == {"no-cert"}
    assert "client-auth-optional" in codes(res)
