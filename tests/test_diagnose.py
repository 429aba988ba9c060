"""Findings against REAL servers: every finding code comes from a real misconfiguration.

One case = one server configuration, started once, probed once with only the probes (and TLS
versions) the case needs.  What each misconfiguration produced when this was written (nginx
1.22, Apache 2.4, HAProxy 2.6, Caddy 2.6; OpenSSL 3 client offering post-handshake auth):

============================  ==============================================================
nginx verify optional         no-cert -> http 200 on 1.2 and 1.3, CertificateRequest sent
nginx no ssl_verify_client    no CertificateRequest; every probe http 200
nginx other-ca client file    valid -> 400 "The SSL certificate error"; CA names = other CA;
                              wrong-ca -> 200
nginx no ssl_crl              revoked -> 200, expired -> 400
nginx TLSv1.2 only            1.3 handshake refused with protocol_version
nginx verify_depth 0          leaf+intermediate -> 400 "The SSL certificate error"
nginx verify_depth 2          leaf+intermediate 200, the leaf alone 400 (chain-incomplete)
nginx optional_no_ca          no-cert, wrong-ca, lookalike-ca -> 200; expired -> 400
nginx plain listen            the port answers plain HTTP (not-tls)
Apache optional(_no_ca)       no-cert -> 200; optional_no_ca (no CRL) also lets wrong-ca in
                              (with SSLCARevocationCheck chain the missing CRL of the foreign
                              CA still refuses it: unknown_ca)
Apache CRL without check      SSLCARevocationFile alone: revoked -> 200
Apache per-location           no CertificateRequest in the handshake; renegotiation (1.2) or
                              post-handshake auth (1.3) after the request; valid -> 200,
                              expired -> certificate_expired after the handshake
Apache SSLVerifyDepth 1       leaf+intermediate -> alert internal_error
HAProxy verify optional/none  no-cert -> 200 / no CertificateRequest at all
Caddy mode request            everything -> 200 although a certificate is requested
Caddy mode require            no-cert refused (bad_certificate); expired/foreign -> 200
Caddy other CA                valid -> bad_certificate (Go sends it for every reason)
============================  ==============================================================
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import require_server
from servers import HOST, ApacheServer, CaddyServer, HAProxyServer, NginxServer, RealServer

from mtlscheck import check
from mtlscheck._diagnose import Code
from mtlscheck._model import Severity, TargetResult, Verdict
from mtlscheck._pki import PKI

pytestmark = pytest.mark.realserver

ALL = ["all"]
BAD = ["no-cert", "valid", "expired", "wrong-ca", "self-signed", "lookalike-ca"]

# Codes that speak about client auth: never produced when our side refused the server.
CLIENT_AUTH_CODES = {
    Code.CLIENT_AUTH_NOT_REQUESTED,
    Code.CLIENT_AUTH_OPTIONAL,
    Code.PER_LOCATION_CLIENT_AUTH,
    Code.VALID_CERT_REJECTED,
    Code.CA_NAMES_EXCLUDE_CLIENT_ISSUER,
    Code.VERIFY_DEPTH_TOO_SMALL,
    Code.EXPIRED_CERT_ACCEPTED,
    Code.NOT_YET_VALID_CERT_ACCEPTED,
    Code.FOREIGN_CA_ACCEPTED,
    Code.CLIENT_EKU_NOT_ENFORCED,
    Code.REVOCATION_NOT_CHECKED,
    Code.CHAIN_INCOMPLETE,
    Code.CLIENT_CA_INCOMPLETE,
    Code.CLIENT_AUTH_CHECKED_OVER_HTTP,
}


def paths(pki: PKI, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "server_cert": pki.server_cert,
        "server_key": pki.server_key,
        "client_ca": pki.ca_cert,
        "crl": pki.crl,
    }
    base.update(over)
    return base


def nginx_no_verify(pki: PKI) -> str:
    """The most common omission: a CA file but no ssl_verify_client line at all."""
    frag = NginxServer.mtls_fragment(**paths(pki, crl=None), verify="off")
    return "\n".join(ln for ln in frag.splitlines() if "ssl_verify_client" not in ln) + "\n"


def nginx_plain(pki: PKI) -> str:
    return (
        "server {\n"
        f"    listen {HOST}:{{port}};\n"
        f"    ssl_certificate {pki.server_cert};\n"
        f"    ssl_certificate_key {pki.server_key};\n"
        '    location / { return 200 "ok\\n"; }\n'
        "}\n"
    )


def apache_crl_without_check(pki: PKI) -> str:
    frag = ApacheServer.mtls_fragment(**paths(pki))
    assert "SSLCARevocationCheck chain" in frag
    return frag.replace("    SSLCARevocationCheck chain\n", "")


def root_crl_only(pki: PKI) -> Path:
    """A CRL file with the root CA's CRL and not the intermediate's (the PKI's crl.pem holds
    both): every intermediate-issued client is refused with "unable to get certificate CRL"."""
    from cryptography import x509

    root = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes()).subject
    marker = b"-----END X509 CRL-----"
    blocks = [b.strip() + b"\n" + marker + b"\n" for b in pki.crl.read_bytes().split(marker)]
    mine = [b for b in blocks[:-1] if x509.load_pem_x509_crl(b).issuer == root]
    assert len(mine) == 1 and len(blocks) - 1 == 2, "crl.pem: a root and an intermediate CRL"
    out = pki.directory / "root-only-crl.pem"
    out.write_bytes(mine[0])
    return out


def intermediate_only(server: type[RealServer]) -> Callable[[PKI], str]:
    """The client CA file holds the intermediate CA and not its root (issue 7, item 8a)."""
    return lambda p: server.mtls_fragment(
        **paths(p, client_ca=p.role("intermediate-ca").cert, crl=None)
    )


def nginx_intermediate_advertised_root_trusted(pki: PKI) -> str:
    """The client-ca-incomplete fix for nginx: advertise the intermediate, trust the root."""
    frag = intermediate_only(NginxServer)(pki)
    return frag.replace(
        "    ssl_verify_client on;",
        f"    ssl_trusted_certificate {pki.ca_cert};\n    ssl_verify_client on;",
    )


def nginx_optional_with_403(pki: PKI, mode: str = "optional") -> str:
    """ssl_verify_client optional + the documented $ssl_client_verify check (item 8b)."""
    frag = NginxServer.mtls_fragment(**paths(pki), verify=mode)
    marker = "        default_type text/plain;\n"
    assert marker in frag
    return frag.replace(
        marker, marker + "        if ($ssl_client_verify != SUCCESS) { return 403; }\n"
    )


def apache_per_location(pki: PKI) -> str:
    return (
        f"<VirtualHost {HOST}:{{port}}>\n"
        "    ServerName localhost\n"
        "    SSLEngine on\n"
        "    SSLProtocol -all +TLSv1.2 +TLSv1.3\n"
        f'    SSLCertificateFile "{pki.server_cert}"\n'
        f'    SSLCertificateKeyFile "{pki.server_key}"\n'
        f'    SSLCACertificateFile "{pki.ca_cert}"\n'
        "    SSLVerifyDepth 2\n"
        "    <Location />\n"
        "        SSLVerifyClient require\n"
        "    </Location>\n"
        "</VirtualHost>\n"
    )


@dataclass(frozen=True)
class Case:
    id: str
    server: type[RealServer]
    fragment: Callable[[PKI], str]
    probes: list[str] = field(default_factory=lambda: list(BAD))
    tls: str = "both"
    present: frozenset[str] = frozenset()
    """Codes that must be found."""
    absent: frozenset[str] = frozenset()
    """Codes that must NOT be found."""
    no_errors: bool = False
    """A correct configuration: no finding of severity error."""
    identity: str | None = None
    """PKI role to use as the valid identity (default: the PKI's ``valid``)."""
    check_kwargs: dict[str, Any] = field(default_factory=dict)
    says: dict[str, str] = field(default_factory=dict)
    """code -> text its message must contain (the cause named for this server)."""
    log: str = ""
    """Text the server's own log must contain: the finding's cause is what the server saw."""


def codes(*cs: Code) -> frozenset[str]:
    return frozenset(str(c) for c in cs)


C = Code
CASES = [
    # --- correct configurations: no error finding -------------------------------------------
    Case(
        "nginx-correct",
        NginxServer,
        lambda p: NginxServer.mtls_fragment(**paths(p)),
        ALL,
        no_errors=True,
        absent=codes(C.CLIENT_CERT_REJECTED_AFTER_HANDSHAKE),  # nginx answers 400 over HTTP
    ),
    Case(
        "apache-correct",
        ApacheServer,
        lambda p: ApacheServer.mtls_fragment(**paths(p)),
        ALL,
        no_errors=True,
        present=codes(C.CLIENT_CERT_REJECTED_AFTER_HANDSHAKE),  # TLS 1.3 alerts come late
    ),
    Case(
        "haproxy-correct",
        HAProxyServer,
        lambda p: HAProxyServer.mtls_fragment(**paths(p)),
        ALL,
        no_errors=True,
        present=codes(C.CLIENT_CERT_REJECTED_AFTER_HANDSHAKE),
    ),
    Case(
        # Caddy 2.6 cannot check CRLs, so `revoked` is left out here (see caddy-no-crl).
        "caddy-correct",
        CaddyServer,
        lambda p: CaddyServer.mtls_fragment(**paths(p, crl=None)),
        [*BAD, "not-yet-valid", "no-client-eku", "chain-missing"],
        no_errors=True,
    ),
    Case(
        "nginx-correct-intermediate-client",
        NginxServer,
        lambda p: NginxServer.mtls_fragment(**paths(p)),
        ["valid", "chain-missing"],
        identity="intermediate",
        no_errors=True,
        present=codes(C.CHAIN_INCOMPLETE),
    ),
    # --- nginx ---------------------------------------------------------------------------------
    Case(
        "nginx-verify-optional",
        NginxServer,
        lambda p: NginxServer.mtls_fragment(**paths(p), verify="optional"),
        ["no-cert", "valid", "expired"],
        present=codes(C.CLIENT_AUTH_OPTIONAL),
        absent=codes(C.CLIENT_AUTH_NOT_REQUESTED, C.VALID_CERT_REJECTED, C.EXPIRED_CERT_ACCEPTED),
    ),
    Case(
        "nginx-verify-optional_no_ca",
        NginxServer,
        lambda p: NginxServer.mtls_fragment(**paths(p), verify="optional_no_ca"),
        present=codes(C.CLIENT_AUTH_OPTIONAL, C.FOREIGN_CA_ACCEPTED),
        absent=codes(C.EXPIRED_CERT_ACCEPTED),
    ),
    Case(
        "nginx-no-ssl_verify_client",
        NginxServer,
        nginx_no_verify,
        ["no-cert", "valid", "expired", "wrong-ca"],
        present=codes(C.CLIENT_AUTH_NOT_REQUESTED),
        absent=codes(C.CLIENT_AUTH_OPTIONAL, C.EXPIRED_CERT_ACCEPTED, C.FOREIGN_CA_ACCEPTED),
    ),
    Case(
        "nginx-wrong-ca-file",
        NginxServer,
        lambda p: NginxServer.mtls_fragment(
            **paths(p, client_ca=p.role("other-ca").cert, crl=None)
        ),
        ["no-cert", "valid", "wrong-ca"],
        present=codes(
            C.VALID_CERT_REJECTED, C.CA_NAMES_EXCLUDE_CLIENT_ISSUER, C.FOREIGN_CA_ACCEPTED
        ),
        absent=codes(C.CLIENT_AUTH_OPTIONAL, C.CLIENT_AUTH_NOT_REQUESTED),
        says={
            C.VALID_CERT_REJECTED: "the server trusts another CA",
            C.FOREIGN_CA_ACCEPTED: "advertises their issuer",
        },
    ),
    Case(
        "nginx-no-ssl_crl",
        NginxServer,
        lambda p: NginxServer.mtls_fragment(**paths(p, crl=None)),
        ["valid", "revoked", "expired"],
        present=codes(C.REVOCATION_NOT_CHECKED),
        absent=codes(C.EXPIRED_CERT_ACCEPTED),
        says={C.REVOCATION_NOT_CHECKED: "CRL/OCSP check is what is missing"},
    ),
    Case(
        "nginx-tls12-only",
        NginxServer,
        lambda p: NginxServer.mtls_fragment(**paths(p), protocols="TLSv1.2"),
        ["no-cert", "valid"],
        present=codes(C.TLS13_NOT_OFFERED),
        no_errors=True,
    ),
    Case(
        # With ssl_crl the truncated chain fails on the CRL (3), exactly as a CRL missing for
        # the intermediate does (nginx-crl-root-only): from the client side the two look the
        # same, so the finding names both and no depth finding is guessed.
        "nginx-verify-depth-0",
        NginxServer,
        lambda p: NginxServer.mtls_fragment(**paths(p), verify_depth=0),
        ["valid", "chain-missing"],
        identity="intermediate",
        present=codes(C.VALID_CERT_REJECTED),
        absent=codes(
            C.VERIFY_DEPTH_TOO_SMALL,
            C.CA_NAMES_EXCLUDE_CLIENT_ISSUER,
            C.CHAIN_INCOMPLETE,
            C.CLIENT_CA_INCOMPLETE,
        ),
        says={C.VALID_CERT_REJECTED: "verify depth smaller than the chain"},
        log="client SSL certificate verify error: (3:unable to get certificate CRL)",
    ),
    Case(
        # Without a CRL the revoked probe gets in: nothing checks revocation, so the depth is
        # what is left.  nginx logs (20), never "certificate chain too long".
        "nginx-verify-depth-0-no-crl",
        NginxServer,
        lambda p: NginxServer.mtls_fragment(**paths(p, crl=None), verify_depth=0),
        ["valid", "chain-missing", "revoked"],
        identity="intermediate",
        present=codes(C.VALID_CERT_REJECTED, C.VERIFY_DEPTH_TOO_SMALL, C.REVOCATION_NOT_CHECKED),
        absent=codes(C.CA_NAMES_EXCLUDE_CLIENT_ISSUER, C.CHAIN_INCOMPLETE, C.CLIENT_CA_INCOMPLETE),
        says={C.VERIFY_DEPTH_TOO_SMALL: "advertises its root"},
        log="client SSL certificate verify error: (20:unable to get local issuer certificate)",
    ),
    Case(
        # A CRL for the root only: every intermediate-issued client is refused.  Used to be
        # diagnosed as verify-depth-too-small (the depth, 2, was enough).
        "nginx-crl-root-only",
        NginxServer,
        lambda p: NginxServer.mtls_fragment(**paths(p, crl=root_crl_only(p))),
        ["valid", "chain-missing", "revoked"],
        identity="intermediate",
        present=codes(C.VALID_CERT_REJECTED),
        absent=codes(C.VERIFY_DEPTH_TOO_SMALL, C.REVOCATION_NOT_CHECKED, C.CLIENT_CA_INCOMPLETE),
        says={C.VALID_CERT_REJECTED: "no CRL for one of its CAs"},
        log="client SSL certificate verify error: (3:unable to get certificate CRL)",
    ),
    Case(
        # Used to be diagnosed as verify-depth-too-small ("advertises its root", a depth of 2
        # that was already set).  nginx logs "(2:unable to get issuer certificate)".
        "nginx-client-ca-intermediate-only",
        NginxServer,
        intermediate_only(NginxServer),
        ["valid", "chain-missing"],
        identity="intermediate",
        present=codes(C.VALID_CERT_REJECTED, C.CLIENT_CA_INCOMPLETE),
        absent=codes(
            C.VERIFY_DEPTH_TOO_SMALL, C.CA_NAMES_EXCLUDE_CLIENT_ISSUER, C.CHAIN_INCOMPLETE
        ),
        says={
            C.VALID_CERT_REJECTED: str(C.CLIENT_CA_INCOMPLETE),
            C.CLIENT_CA_INCOMPLETE: "(2:unable to get issuer certificate)",
        },
        log="(2:unable to get issuer certificate)",
    ),
    Case(
        "nginx-client-ca-intermediate-advertised-root-trusted",
        NginxServer,
        nginx_intermediate_advertised_root_trusted,
        ["valid", "no-cert", "wrong-ca"],
        identity="intermediate",
        no_errors=True,
        absent=codes(C.CLIENT_CA_INCOMPLETE, C.VALID_CERT_REJECTED),
    ),
    Case(
        # The documented way to protect some locations only: secure, and the nginx profile
        # accepts its 403 (see test_nginx_optional_with_403_meets_the_nginx_profile).
        "nginx-optional-with-403-check",
        NginxServer,
        nginx_optional_with_403,
        ["no-cert", "valid", "expired", "wrong-ca"],
        present=codes(C.CLIENT_AUTH_CHECKED_OVER_HTTP),
        absent=codes(C.CLIENT_AUTH_OPTIONAL, C.CLIENT_AUTH_NOT_REQUESTED),
        no_errors=True,
        says={C.CLIENT_AUTH_CHECKED_OVER_HTTP: "$ssl_client_verify"},
        check_kwargs={"server": "nginx"},
    ),
    # --- Apache --------------------------------------------------------------------------------
    Case(
        "apache-verify-optional",
        ApacheServer,
        lambda p: ApacheServer.mtls_fragment(**paths(p), verify="optional"),
        ["no-cert", "valid", "wrong-ca"],
        present=codes(C.CLIENT_AUTH_OPTIONAL),
        absent=codes(C.FOREIGN_CA_ACCEPTED, C.VALID_CERT_REJECTED),
    ),
    Case(
        "apache-verify-optional_no_ca",
        ApacheServer,
        # without a CRL: with SSLCARevocationCheck chain, a foreign chain fails on "unable to
        # get certificate CRL" and is refused (unknown_ca) even under optional_no_ca
        lambda p: ApacheServer.mtls_fragment(**paths(p, crl=None), verify="optional_no_ca"),
        ["no-cert", "valid", "wrong-ca", "self-signed"],
        present=codes(C.CLIENT_AUTH_OPTIONAL, C.FOREIGN_CA_ACCEPTED),
    ),
    Case(
        "apache-crl-without-revocation-check",
        ApacheServer,
        apache_crl_without_check,
        ["valid", "revoked", "expired"],
        present=codes(C.REVOCATION_NOT_CHECKED),
    ),
    Case(
        "apache-per-location",
        ApacheServer,
        apache_per_location,
        ["no-cert", "valid", "expired"],
        present=codes(C.PER_LOCATION_CLIENT_AUTH),
        absent=codes(C.VALID_CERT_REJECTED, C.CLIENT_AUTH_OPTIONAL, C.CLIENT_AUTH_NOT_REQUESTED),
    ),
    Case(
        "apache-verify-depth-1",
        ApacheServer,
        lambda p: ApacheServer.mtls_fragment(**paths(p), verify_depth=1),
        ["valid"],
        identity="intermediate",
        present=codes(C.VALID_CERT_REJECTED, C.VERIFY_DEPTH_TOO_SMALL),
        says={C.VERIFY_DEPTH_TOO_SMALL: "Apache answers internal_error"},
    ),
    Case(
        # Apache (SSLCARevocationCheck chain) with a CRL for the root only: unknown_ca,
        # although it advertises the root.
        "apache-crl-root-only",
        ApacheServer,
        lambda p: ApacheServer.mtls_fragment(**paths(p, crl=root_crl_only(p))),
        ["valid", "revoked"],
        identity="intermediate",
        present=codes(C.VALID_CERT_REJECTED),
        absent=codes(C.VERIFY_DEPTH_TOO_SMALL, C.REVOCATION_NOT_CHECKED, C.CLIENT_CA_INCOMPLETE),
        says={C.VALID_CERT_REJECTED: "a CRL missing for one CA of the chain"},
        log="unable to get certificate CRL",
    ),
    Case(
        "apache-client-ca-intermediate-only",
        ApacheServer,
        intermediate_only(ApacheServer),
        ["valid"],
        identity="intermediate",
        present=codes(C.VALID_CERT_REJECTED, C.CLIENT_CA_INCOMPLETE),
        absent=codes(C.VERIFY_DEPTH_TOO_SMALL),
        says={C.CLIENT_CA_INCOMPLETE: "AH02276"},
        check_kwargs={"server": "apache"},
        log="Error (2): unable to get issuer certificate",
    ),
    # --- HAProxy -------------------------------------------------------------------------------
    Case(
        "haproxy-verify-optional",
        HAProxyServer,
        lambda p: HAProxyServer.mtls_fragment(**paths(p), verify="optional"),
        ["no-cert", "valid", "expired"],
        present=codes(C.CLIENT_AUTH_OPTIONAL),
        absent=codes(C.EXPIRED_CERT_ACCEPTED),
    ),
    Case(
        "haproxy-verify-none",
        HAProxyServer,
        lambda p: HAProxyServer.mtls_fragment(**paths(p, crl=None), verify="off"),
        ["no-cert", "valid", "expired"],
        present=codes(C.CLIENT_AUTH_NOT_REQUESTED),
        absent=codes(C.CLIENT_AUTH_OPTIONAL),
    ),
    Case(
        "haproxy-client-ca-intermediate-only",
        HAProxyServer,
        intermediate_only(HAProxyServer),
        ["valid"],
        identity="intermediate",
        present=codes(C.VALID_CERT_REJECTED, C.CLIENT_CA_INCOMPLETE),
        absent=codes(C.VERIFY_DEPTH_TOO_SMALL),
        log="SSL client CA chain cannot be verified",
    ),
    # --- Caddy ---------------------------------------------------------------------------------
    Case(
        "caddy-mode-request",
        CaddyServer,
        lambda p: CaddyServer.mtls_fragment(**paths(p, crl=None), verify="request"),
        ["no-cert", "valid", "expired", "not-yet-valid", "wrong-ca", "no-client-eku"],
        present=codes(
            C.CLIENT_AUTH_OPTIONAL,
            C.EXPIRED_CERT_ACCEPTED,
            C.NOT_YET_VALID_CERT_ACCEPTED,
            C.FOREIGN_CA_ACCEPTED,
            C.CLIENT_EKU_NOT_ENFORCED,
        ),
    ),
    Case(
        "caddy-mode-require",
        CaddyServer,
        lambda p: CaddyServer.mtls_fragment(**paths(p, crl=None), verify="require"),
        ["no-cert", "valid", "expired", "wrong-ca", "no-client-eku"],
        present=codes(C.EXPIRED_CERT_ACCEPTED, C.FOREIGN_CA_ACCEPTED, C.CLIENT_EKU_NOT_ENFORCED),
        absent=codes(C.CLIENT_AUTH_OPTIONAL, C.CLIENT_AUTH_NOT_REQUESTED),
    ),
    Case(
        "caddy-no-crl",
        CaddyServer,
        lambda p: CaddyServer.mtls_fragment(**paths(p, crl=None)),
        ["valid", "revoked", "expired"],
        present=codes(C.REVOCATION_NOT_CHECKED),
    ),
    Case(
        "caddy-other-ca",
        CaddyServer,
        lambda p: CaddyServer.mtls_fragment(
            **paths(p, client_ca=p.role("other-ca").cert, crl=None)
        ),
        ["no-cert", "valid"],
        present=codes(C.VALID_CERT_REJECTED, C.CA_NAMES_EXCLUDE_CLIENT_ISSUER),
        says={C.VALID_CERT_REJECTED: "bad_certificate"},
    ),
    # --- our side: never a client-auth finding ------------------------------------------------
    Case(
        "nginx-untrusted-server-cert",
        NginxServer,
        lambda p: NginxServer.mtls_fragment(**paths(p), verify="optional"),
        ["no-cert", "valid", "expired"],
        present=codes(C.SERVER_CERT_UNTRUSTED),
        absent=frozenset(str(c) for c in CLIENT_AUTH_CODES),
        check_kwargs={"cacert": "other-ca"},
    ),
    Case(
        "nginx-hostname-mismatch",
        NginxServer,
        lambda p: NginxServer.mtls_fragment(**paths(p), verify="optional"),
        ["no-cert", "valid"],
        present=codes(C.SERVER_HOSTNAME_MISMATCH),
        absent=frozenset(str(c) for c in CLIENT_AUTH_CODES),
        check_kwargs={"servername": "not-the-server.example"},
    ),
    Case(
        "nginx-plain-http-port",
        NginxServer,
        nginx_plain,
        ["no-cert"],
        present=codes(C.NOT_TLS),
        absent=frozenset(str(c) for c in CLIENT_AUTH_CODES),
    ),
]


def run_case(case: Case, pki: PKI, pki_dir: Path, url: str) -> TargetResult:
    kwargs: dict[str, Any] = {"probes": case.probes, "pki": pki_dir, "tls": case.tls}
    if case.identity is not None:
        role = pki.role(case.identity)
        kwargs.update(cert=role.send_file, key=role.key)
    for name, value in case.check_kwargs.items():
        kwargs[name] = pki.role(value).cert if name == "cacert" else value
    return check(url, **kwargs)


def describe(result: TargetResult) -> str:
    lines = [f"{r.name}: {r.outcome.summary if r.outcome else r.reason}" for r in result.results]
    lines += [f"{f.severity} {f.code}: {f.message}" for f in result.findings]
    return "\n".join(lines)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_real_misconfiguration(case: Case, server_pki: PKI, test_pki_dir: Path) -> None:
    require_server(case.server)
    with case.server(case.fragment(server_pki)) as srv:
        result = run_case(case, server_pki, test_pki_dir, srv.url)
        logs = srv.logs()
    found = {f.code for f in result.findings}
    what = f"{case.id}:\n{describe(result)}\n--- server logs ---\n{logs[-2000:]}"
    assert case.present <= found, what
    assert not (case.absent & found), what
    messages = {f.code: f.message for f in result.findings}
    for code, text in case.says.items():
        assert text in messages.get(code, ""), what
    assert case.log in logs, what
    if case.no_errors:
        assert [f for f in result.findings if f.severity is Severity.ERROR] == [], what
    for f in result.findings:
        assert f.message and f.evidence, f
        if f.code in CLIENT_AUTH_CODES and f.code != Code.CHAIN_INCOMPLETE:
            servers = {s for s, _ in f.fixes}
            assert {"nginx", "apache"} <= servers or f.code == Code.VALID_CERT_REJECTED, f


def test_optional_finding_cites_probe_and_fix(
    server_pki: PKI, test_pki_dir: Path, nginx_factory: Callable[..., NginxServer]
) -> None:
    """The message names the probe and TLS version, the fix names the nginx line to change."""
    srv = nginx_factory(NginxServer.mtls_fragment(**paths(server_pki), verify="optional"))
    result = check(srv.url, probes=["no-cert"], pki=test_pki_dir, tls="1.3", server="nginx")
    (f,) = [f for f in result.findings if f.code == Code.CLIENT_AUTH_OPTIONAL]
    assert f.severity is Severity.ERROR
    assert "no-cert[tls1.3]" in f.message and "http 200" in f.message
    assert "no-cert[tls1.3]" in f.evidence
    assert "$ssl_client_verify" in f.message  # worded for nginx, not for every server
    assert f.fixes[0][0] == "nginx"
    fixes = dict(f.fixes)
    assert "ssl_verify_client on;" in fixes["nginx"]
    assert "SSLVerifyClient require" in fixes["apache"]
    assert "verify required" in fixes["haproxy"]
    assert "require_and_verify" in fixes["caddy"]


def test_per_location_probes_get_the_real_verdict(
    server_pki: PKI, test_pki_dir: Path, apache_factory: Callable[..., ApacheServer]
) -> None:
    """Like curl, the probes answer the late CertificateRequest: valid gets 200 and expired
    the real alert, on TLS 1.2 (renegotiation) and 1.3 (post-handshake auth) alike."""
    srv = apache_factory(apache_per_location(server_pki))
    result = check(srv.url, probes=["valid", "expired"], pki=test_pki_dir, server="apache")
    by = {r.name: r for r in result.results}
    for v in ("1.2", "1.3"):
        valid, expired = by[f"valid[tls{v}]"], by[f"expired[tls{v}]"]
        assert valid.outcome is not None and valid.outcome.status == 200, describe(result)
        assert valid.facts is not None
        assert not valid.facts.cert_requested and valid.facts.cert_requested_after_handshake
        assert expired.outcome is not None and expired.outcome.alert == "certificate_expired"
    (f,) = [f for f in result.findings if f.code == Code.PER_LOCATION_CLIENT_AUTH]
    assert "renegotiation (TLS 1.2)" in f.message and "post-handshake auth (TLS 1.3)" in f.message
    assert "<VirtualHost>" in dict(f.fixes)["apache"]


def test_connection_refused(test_pki_dir: Path) -> None:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port = s.getsockname()[1]
    result = check(f"https://127.0.0.1:{port}/", probes=["no-cert", "valid"], pki=test_pki_dir)
    assert [f.code for f in result.findings] == [Code.CONNECTION_REFUSED]
    assert result.findings[0].severity is Severity.ERROR


def test_timeout(silent_port: int, test_pki_dir: Path) -> None:
    result = check(
        f"https://127.0.0.1:{silent_port}/",
        probes=["no-cert"],
        pki=test_pki_dir,
        timeout=0.5,
        tls="1.3",
    )
    assert [f.code for f in result.findings] == [Code.TIMEOUT]
    assert "no-cert[tls1.3]" in result.findings[0].evidence


@pytest.mark.parametrize("mode", ["optional", "optional_no_ca"])
def test_nginx_optional_with_403_meets_the_nginx_profile(
    mode: str, server_pki: PKI, test_pki_dir: Path, nginx_factory: Callable[..., NginxServer]
) -> None:
    """Issue 7, item 8b: `ssl_verify_client optional` (or optional_no_ca) plus
    `if ($ssl_client_verify != SUCCESS) { return 403; }` refuses every bad certificate (nginx's
    own 400 for a failed verification, the rule's 403 for none or, under optional_no_ca, an
    unknown CA).  That is secure, so every probe passes under --server nginx (the profile
    expects 400|403), and an info finding says where the 403 comes from."""
    srv = nginx_factory(nginx_optional_with_403(server_pki, mode))
    result = check(srv.url, probes=ALL, pki=test_pki_dir, server="nginx")
    what = describe(result)
    by = {r.name: r for r in result.results}
    for v in ("1.2", "1.3"):
        no_cert = by[f"no-cert[tls{v}]"].outcome
        assert no_cert is not None and no_cert.status == 403, what  # the rule, not nginx's 400
    assert all(r.verdict is Verdict.PASS for r in result.results), what
    assert result.ok, what
    f = {x.code: x for x in result.findings}
    assert Code.CLIENT_AUTH_CHECKED_OVER_HTTP in f, what
    assert [x for x in result.findings if x.severity is not Severity.INFO] == [], what
