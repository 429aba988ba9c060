"""`mtlscheck lint` on configurations the real servers accept.

Every configuration here is first written out by tests/servers.py exactly as the server would
be started with it and passed through the server's own check (``nginx -t``, ``apache2 -t``,
``haproxy -c``): lint findings are about configurations that deploy, not about typos.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import require_server
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from servers import (
    APACHE_MODULES,
    ApacheServer,
    HAProxyServer,
    NginxServer,
    RealServer,
    free_port,
)

from mtlscheck._cli import main
from mtlscheck._diagnose import Code
from mtlscheck._lint import lint_config
from mtlscheck._lint._model import LintResult
from mtlscheck._model import Severity
from mtlscheck._pki import PKI

pytestmark = pytest.mark.realserver

C = Code


def accepted_config(
    cls: type[RealServer], fragment: str, workdir: Path, extra: dict[str, str] | None = None
) -> Path:
    """Write the complete config the harness would start ``cls`` with (plus ``extra`` files
    relative to the work dir, for includes) and assert the server's own check accepts it."""
    require_server(cls)
    srv = cls(fragment)
    srv.workdir = workdir
    srv.port = free_port()
    workdir.chmod(0o755)
    srv.docroot.mkdir()
    (srv.docroot / "index.html").write_text("ok\n")
    srv.prepare()
    for name, text in (extra or {}).items():
        target = workdir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text.replace("{workdir}", str(workdir)).replace("{port}", str(srv.port)))
    srv.config_text = srv.render()
    srv.config_path.write_text(srv.config_text)
    cmd = srv.check_command()
    assert cmd is not None
    res = subprocess.run(cmd, capture_output=True, env=srv.environment(), timeout=20, check=False)
    out = (res.stdout + res.stderr).decode(errors="replace")
    assert res.returncode == 0, f"{cls.name} rejected the config:\n{out}\n{srv.config_text}"
    return srv.config_path


@pytest.fixture
def workdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="mtlscheck-lint-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def files(server_pki: PKI) -> Iterator[dict[str, Path]]:
    """Extra CA/CRL files built from the test PKI: bundles, an expired CRL, a root-only CRL."""
    d = Path(tempfile.mkdtemp(prefix="mtlscheck-lint-files-"))
    d.chmod(0o755)
    root, inter = server_pki.issued("ca"), server_pki.issued("intermediate-ca")
    now = datetime.now(UTC)

    def crl(issuer: Any, last: datetime, nxt: datetime) -> bytes:
        b = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer.cert.subject)
            .last_update(last)
            .next_update(nxt)
        )
        return b.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)

    out = {
        "root+inter": d / "root-inter.pem",
        "expired-crl": d / "expired.crl",
        "root-crl": d / "root.crl",
        "public": d / "public-bundle.pem",
    }
    out["root+inter"].write_bytes(
        server_pki.ca_cert.read_bytes() + server_pki.role("intermediate-ca").cert.read_bytes()
    )
    out["expired-crl"].write_bytes(
        crl(root, now - timedelta(days=30), now - timedelta(days=1))
        + crl(inter, now, now + timedelta(days=30))
    )
    out["root-crl"].write_bytes(crl(root, now, now + timedelta(days=30)))
    from mtlscheck._lint._certs import _system_bundle

    bundle = _system_bundle()
    assert bundle is not None, "no system CA bundle (ca-certificates)"
    out["public"].write_bytes(bundle.read_bytes() + server_pki.ca_cert.read_bytes())
    yield out
    shutil.rmtree(d, ignore_errors=True)


def by_code(result: LintResult) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for f in result.findings:
        found.setdefault(f.code, []).append(f)
    return found


def line_of(path: Path, f: Any) -> str:
    assert f.loc is not None, f
    return f.loc.file.read_text().splitlines()[f.loc.line - 1]


def paths(pki: PKI, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "server_cert": pki.server_cert,
        "server_key": pki.server_key,
        "client_ca": pki.ca_cert,
        "crl": pki.crl,
    }
    base.update(over)
    return base


def add_to_location(frag: str, text: str) -> str:
    marker = "        default_type text/plain;\n"
    assert marker in frag
    return frag.replace(marker, marker + text)


@dataclass(frozen=True)
class Case:
    id: str
    server: type[RealServer]
    fragment: Callable[[PKI, dict[str, Path]], str]
    expect: dict[Code, tuple[Severity, str]] = field(default_factory=dict)
    """code -> (severity, text on the line the finding points at)"""
    absent: frozenset[Code] = frozenset()
    clean: bool = False
    """No finding of severity error or warning."""
    says: dict[Code, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)


def ng(**kw: Any) -> Callable[[PKI, dict[str, Path]], str]:
    return lambda p, f: NginxServer.mtls_fragment(**{**paths(p), **kw})


def ap(**kw: Any) -> Callable[[PKI, dict[str, Path]], str]:
    return lambda p, f: ApacheServer.mtls_fragment(**{**paths(p), **kw})


def hp(**kw: Any) -> Callable[[PKI, dict[str, Path]], str]:
    return lambda p, f: HAProxyServer.mtls_fragment(**{**paths(p), **kw})


E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

CASES = [
    # --- nginx ------------------------------------------------------------------------------
    Case("nginx-correct", NginxServer, ng(), clean=True),
    Case(
        "nginx-optional",
        NginxServer,
        ng(verify="optional"),
        {C.CLIENT_AUTH_OPTIONAL: (E, "ssl_verify_client optional")},
    ),
    Case(
        "nginx-optional-checked-in-server",
        NginxServer,
        lambda p, f: NginxServer.mtls_fragment(**paths(p), verify="optional").replace(
            "    location / {",
            "    if ($ssl_client_verify != SUCCESS) { return 403; }\n    location / {",
        ),
        clean=True,
    ),
    Case(
        "nginx-optional-checked-in-one-location",
        NginxServer,
        lambda p, f: add_to_location(
            NginxServer.mtls_fragment(**paths(p), verify="optional"),
            "        if ($ssl_client_verify != SUCCESS) { return 403; }\n",
        ).replace(
            "    location / {", '    location /public { return 200 "open\\n"; }\n    location / {'
        ),
        {C.CLIENT_AUTH_OPTIONAL: (W, "location /public")},
    ),
    Case(
        "nginx-optional-checked-through-map",
        NginxServer,
        lambda p, f: (
            "map $ssl_client_verify $mtls_bad { default 1; SUCCESS 0; }\n"
            + add_to_location(
                NginxServer.mtls_fragment(**paths(p), verify="optional"),
                "        if ($mtls_bad) { return 403; }\n",
            )
        ),
        clean=True,
    ),
    Case(
        "nginx-optional-forwarded-to-backend",
        NginxServer,
        lambda p, f: add_to_location(
            NginxServer.mtls_fragment(**paths(p), verify="optional"),
            "        proxy_set_header X-Client-Verify $ssl_client_verify;\n",
        ),
        {C.CLIENT_AUTH_OPTIONAL: (W, "ssl_verify_client optional")},
        says={C.CLIENT_AUTH_OPTIONAL: "passed on to the backend"},
    ),
    Case(
        "nginx-optional_no_ca",
        NginxServer,
        ng(verify="optional_no_ca"),
        {
            C.CLIENT_AUTH_OPTIONAL: (E, "optional_no_ca"),
            C.FOREIGN_CA_ACCEPTED: (E, "optional_no_ca"),
        },
    ),
    Case(
        "nginx-no-ssl_verify_client",
        NginxServer,
        lambda p, f: "\n".join(
            ln
            for ln in NginxServer.mtls_fragment(**paths(p)).splitlines()
            if "ssl_verify_client" not in ln
        ),
        {C.CLIENT_AUTH_NOT_REQUESTED: (E, "server {")},
    ),
    Case(
        "nginx-ca-file-intermediate-only",
        NginxServer,
        lambda p, f: NginxServer.mtls_fragment(
            **paths(p, client_ca=p.role("intermediate-ca").cert, crl=None)
        ),
        {C.CLIENT_CA_INCOMPLETE: (E, "ssl_client_certificate")},
        says={C.CLIENT_CA_INCOMPLETE: "(2:unable to get issuer certificate)"},
    ),
    Case(
        "nginx-ca-file-server-cert",
        NginxServer,
        lambda p, f: NginxServer.mtls_fragment(**paths(p, client_ca=p.server_cert)),
        {C.VALID_CERT_REJECTED: (E, "ssl_client_certificate")},
        says={C.VALID_CERT_REJECTED: "holds no CA certificate"},
    ),
    Case(
        "nginx-ca-file-public-cas",
        NginxServer,
        lambda p, f: NginxServer.mtls_fragment(**paths(p, client_ca=f["public"], crl=None)),
        {C.FOREIGN_CA_ACCEPTED: (E, "ssl_client_certificate")},
        says={C.FOREIGN_CA_ACCEPTED: "public CAs from the system trust store"},
    ),
    Case(
        "nginx-trusted-certificate-foreign",
        NginxServer,
        lambda p, f: NginxServer.mtls_fragment(**paths(p)).replace(
            "    ssl_verify_client on;",
            f"    ssl_trusted_certificate {p.role('other-ca').cert};\n    ssl_verify_client on;",
        ),
        {C.FOREIGN_CA_ACCEPTED: (W, "ssl_trusted_certificate")},
        says={C.FOREIGN_CA_ACCEPTED: "without advertising them"},
    ),
    Case(
        "nginx-trusted-certificate-completes-chain",
        NginxServer,
        lambda p, f: NginxServer.mtls_fragment(
            **paths(p, client_ca=p.role("intermediate-ca").cert, crl=None)
        ).replace(
            "    ssl_verify_client on;",
            f"    ssl_trusted_certificate {p.ca_cert};\n    ssl_verify_client on;",
        ),
        {C.FOREIGN_CA_ACCEPTED: (INFO, "ssl_trusted_certificate")},
        absent=frozenset({C.CLIENT_CA_INCOMPLETE}),
    ),
    Case(
        "nginx-no-ssl_crl",
        NginxServer,
        ng(crl=None),
        {C.REVOCATION_NOT_CHECKED: (W, "ssl_verify_client on")},
    ),
    Case(
        "nginx-expired-crl",
        NginxServer,
        lambda p, f: NginxServer.mtls_fragment(**paths(p, crl=f["expired-crl"])),
        {C.VALID_CERT_REJECTED: (E, "ssl_crl")},
        says={C.VALID_CERT_REJECTED: "(12:CRL has expired)"},
    ),
    Case(
        "nginx-crl-for-one-level-only",
        NginxServer,
        lambda p, f: NginxServer.mtls_fragment(
            **paths(p, client_ca=f["root+inter"], crl=f["root-crl"])
        ),
        {C.VALID_CERT_REJECTED: (E, "ssl_crl")},
        says={C.VALID_CERT_REJECTED: "no CRL from CN=mtlscheck test intermediate CA"},
    ),
    Case(
        "nginx-depth-0-with-intermediate",
        NginxServer,
        lambda p, f: NginxServer.mtls_fragment(
            **paths(p, client_ca=f["root+inter"]), verify_depth=0
        ),
        {C.VERIFY_DEPTH_TOO_SMALL: (E, "ssl_verify_depth 0")},
    ),
    Case(
        # OpenSSL's depth counts intermediates: 1 is enough for leaf <- intermediate <- root.
        "nginx-depth-1-with-intermediate",
        NginxServer,
        lambda p, f: NginxServer.mtls_fragment(
            **paths(p, client_ca=f["root+inter"]), verify_depth=1
        ),
        clean=True,
    ),
    Case(
        "nginx-tls12-only",
        NginxServer,
        ng(protocols="TLSv1.2"),
        {C.TLS13_NOT_OFFERED: (W, "ssl_protocols TLSv1.2")},
    ),
    Case(
        "nginx-error-log-hides-client-errors",
        NginxServer,
        lambda p, f: NginxServer.mtls_fragment(**paths(p)).replace(
            "    server_name localhost;",
            "    server_name localhost;\n    error_log {workdir}/server-error.log notice;",
        ),
        {C.CLIENT_CERT_ERRORS_NOT_LOGGED: (INFO, "error_log")},
    ),
    Case(
        "nginx-listen-without-ssl",
        NginxServer,
        lambda p, f: NginxServer.mtls_fragment(**paths(p)).replace(" ssl;", ";", 1),
        {C.NOT_TLS: (E, "server {")},
    ),
    Case(
        "nginx-include",
        NginxServer,
        lambda p, f: "include {workdir}/sites/*.conf;\n",
        {C.CLIENT_AUTH_OPTIONAL: (E, "ssl_verify_client optional")},
        extra={"sites/mtls.conf": "__NGINX_OPTIONAL__"},
    ),
    # --- Apache -----------------------------------------------------------------------------
    Case("apache-correct", ApacheServer, ap(), clean=True),
    Case(
        "apache-optional",
        ApacheServer,
        ap(verify="optional"),
        {C.CLIENT_AUTH_OPTIONAL: (E, "SSLVerifyClient optional")},
    ),
    Case(
        "apache-optional-with-require-expr",
        ApacheServer,
        lambda p, f: ApacheServer.mtls_fragment(**paths(p), verify="optional").replace(
            "</VirtualHost>",
            '    <Location "/">\n'
            "        Require expr %{SSL_CLIENT_VERIFY} == 'SUCCESS'\n"
            "    </Location>\n</VirtualHost>",
        ),
        clean=True,
    ),
    Case(
        "apache-optional_no_ca",
        ApacheServer,
        ap(verify="optional_no_ca", crl=None),
        {
            C.CLIENT_AUTH_OPTIONAL: (E, "optional_no_ca"),
            C.FOREIGN_CA_ACCEPTED: (E, "optional_no_ca"),
        },
    ),
    Case(
        "apache-crl-without-check",
        ApacheServer,
        lambda p, f: ApacheServer.mtls_fragment(**paths(p)).replace(
            "    SSLCARevocationCheck chain\n", ""
        ),
        {C.REVOCATION_NOT_CHECKED: (E, "SSLCARevocationFile")},
    ),
    Case(
        "apache-per-location",
        ApacheServer,
        lambda p, f: (
            ApacheServer.mtls_fragment(**paths(p))
            .replace("    SSLVerifyClient require\n", "")
            .replace(
                "</VirtualHost>",
                "    <Location /admin>\n        SSLVerifyClient require\n    </Location>\n"
                "</VirtualHost>",
            )
        ),
        {C.PER_LOCATION_CLIENT_AUTH: (W, "SSLVerifyClient require")},
        absent=frozenset({C.CLIENT_AUTH_NOT_REQUESTED}),
    ),
    Case(
        "apache-per-location-with-h2",
        ApacheServer,
        lambda p, f: (
            f"LoadModule http2_module {APACHE_MODULES}/mod_http2.so\n"
            + ApacheServer.mtls_fragment(**paths(p))
            .replace("    SSLVerifyClient require\n", "    Protocols h2 http/1.1\n")
            .replace(
                "</VirtualHost>",
                "    <Location /admin>\n        SSLVerifyClient require\n    </Location>\n"
                "</VirtualHost>",
            )
        ),
        # measured: curl --http2 gets HTTP_1_1_REQUIRED, retries over HTTP/1.1 and gets 200
        {C.PER_LOCATION_CLIENT_AUTH: (W, "SSLVerifyClient require")},
        says={C.PER_LOCATION_CLIENT_AUTH: "HTTP_1_1_REQUIRED"},
    ),
    Case(
        "apache-depth-1-with-intermediate",
        ApacheServer,
        lambda p, f: ApacheServer.mtls_fragment(
            **paths(p, client_ca=f["root+inter"]), verify_depth=1
        ),
        {C.VERIFY_DEPTH_TOO_SMALL: (E, "SSLVerifyDepth 1")},
        says={C.VERIFY_DEPTH_TOO_SMALL: "need depth 2"},
    ),
    Case(
        "apache-tls12-only",
        ApacheServer,
        ap(protocols="TLSv1.2"),
        {C.TLS13_NOT_OFFERED: (W, "SSLProtocol -all +TLSv1.2")},
    ),
    Case(
        "apache-loglevel-hides-client-errors",
        ApacheServer,
        lambda p, f: ApacheServer.mtls_fragment(**paths(p)).replace(
            "    SSLEngine on\n", "    SSLEngine on\n    LogLevel warn\n"
        ),
        {C.CLIENT_CERT_ERRORS_NOT_LOGGED: (INFO, "LogLevel warn")},
    ),
    Case(
        "apache-include",
        ApacheServer,
        lambda p, f: "IncludeOptional {workdir}/sites/*.conf\n",
        {C.CLIENT_AUTH_OPTIONAL: (E, "SSLVerifyClient optional")},
        extra={"sites/mtls.conf": "__APACHE_OPTIONAL__"},
    ),
    # --- HAProxy ----------------------------------------------------------------------------
    Case("haproxy-correct", HAProxyServer, hp(), clean=True),
    Case(
        "haproxy-optional",
        HAProxyServer,
        hp(verify="optional"),
        {C.CLIENT_AUTH_OPTIONAL: (E, "verify optional")},
    ),
    Case(
        "haproxy-optional-with-deny",
        HAProxyServer,
        lambda p, f: (
            HAProxyServer.mtls_fragment(**paths(p), verify="optional")
            + "    http-request deny unless { ssl_c_used ssl_c_verify 0 }\n"
        ),
        clean=True,
    ),
    Case(
        "haproxy-verify-none",
        HAProxyServer,
        hp(verify="off", crl=None),
        {C.CLIENT_AUTH_NOT_REQUESTED: (E, "verify none")},
    ),
    Case(
        "haproxy-crt-ignore-err-all",
        HAProxyServer,
        lambda p, f: HAProxyServer.mtls_fragment(**paths(p)).replace(
            " verify required", " verify required crt-ignore-err all"
        ),
        {
            C.EXPIRED_CERT_ACCEPTED: (E, "crt-ignore-err all"),
            C.FOREIGN_CA_ACCEPTED: (E, "crt-ignore-err all"),
            C.REVOCATION_NOT_CHECKED: (E, "crt-ignore-err all"),
        },
    ),
    Case(
        "haproxy-ca-ignore-err-10",
        HAProxyServer,
        lambda p, f: HAProxyServer.mtls_fragment(**paths(p)).replace(
            " verify required", " verify required ca-ignore-err 10"
        ),
        {C.EXPIRED_CERT_ACCEPTED: (E, "ca-ignore-err 10")},
        absent=frozenset({C.FOREIGN_CA_ACCEPTED}),
    ),
    Case(
        "haproxy-no-crl-file",
        HAProxyServer,
        hp(crl=None),
        {C.REVOCATION_NOT_CHECKED: (W, "bind")},
    ),
    Case(
        "haproxy-global-no-tlsv13",
        HAProxyServer,
        lambda p, f: (
            "global\n    ssl-default-bind-options no-tlsv13\n\n"
            + HAProxyServer.mtls_fragment(**paths(p)).replace(
                " ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3", ""
            )
        ),
        {C.TLS13_NOT_OFFERED: (W, "ssl-default-bind-options no-tlsv13")},
    ),
    Case(
        "apache-crl-check-leaf-missing-issuer-crl",
        ApacheServer,
        lambda p, f: ApacheServer.mtls_fragment(
            **paths(p, client_ca=f["root+inter"], crl=f["root-crl"])
        ).replace("SSLCARevocationCheck chain", "SSLCARevocationCheck leaf"),
        {C.VALID_CERT_REJECTED: (E, "SSLCARevocationFile")},
        says={C.VALID_CERT_REJECTED: "SSLCARevocationCheck leaf"},
    ),
    Case(
        "apache-ifmodule-not-loaded-is-ignored",
        ApacheServer,
        lambda p, f: (
            "<IfModule mod_nonexistent.c>\n"
            + ApacheServer.mtls_fragment(**paths(p), verify="optional", port="1")
            + "</IfModule>\n"
            + ApacheServer.mtls_fragment(**paths(p))
        ),
        clean=True,
    ),
    Case(
        "haproxy-tls12-only",
        HAProxyServer,
        hp(protocols="TLSv1.2"),
        {C.TLS13_NOT_OFFERED: (W, "ssl-max-ver TLSv1.2")},
    ),
]


def _extra(case: Case, pki: PKI) -> dict[str, str]:
    body = {
        "__NGINX_OPTIONAL__": NginxServer.mtls_fragment(**paths(pki), verify="optional"),
        "__APACHE_OPTIONAL__": ApacheServer.mtls_fragment(**paths(pki), verify="optional"),
    }
    return {name: body.get(text, text) for name, text in case.extra.items()}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_lint_check(case: Case, server_pki: PKI, files: dict[str, Path], workdir: Path) -> None:
    frag = case.fragment(server_pki, files)
    extra = _extra(case, server_pki)
    cfg = accepted_config(case.server, frag, workdir, extra)
    result = lint_config(cfg)
    found = by_code(result)
    what = "\n".join(f"{f.loc}: {f.severity} {f.code}: {f.message}" for f in result.findings)
    for code, (severity, text) in case.expect.items():
        assert str(code) in found, f"{case.id}: no {code}\n{what}"
        hits = [f for f in found[str(code)] if f.severity is severity]
        assert hits, f"{case.id}: {code} not with severity {severity}\n{what}"
        assert any(text in line_of(cfg, f) for f in hits), f"{case.id}: {code} line\n{what}"
        if code in case.says:
            assert any(case.says[code] in f.message for f in hits), what
    for code in case.absent:
        assert str(code) not in found, f"{case.id}: unexpected {code}\n{what}"
    if case.clean:
        assert [f for f in result.findings if f.severity is not Severity.INFO] == [], what
    if extra:
        assert any(f.loc and f.loc.file.parent.name == "sites" for f in result.findings), what
        assert len(result.files) == 2
    assert result.exit_code == (1 if any(f.severity is E for f in result.findings) else 0)


# --------------------------------------------------------------------------- --client-cert


@pytest.fixture
def nginx_conf(server_pki: PKI, workdir: Path) -> Path:
    """A correct nginx config (CA = the test root, CRLs of root and intermediate)."""
    return accepted_config(NginxServer, NginxServer.mtls_fragment(**paths(server_pki)), workdir)


@pytest.mark.parametrize(
    ("role", "code", "error"),
    [
        ("valid", None, None),
        ("intermediate", None, None),
        ("expired", C.VALID_CERT_REJECTED, "(10:certificate has expired)"),
        ("revoked", C.VALID_CERT_REJECTED, "(23:certificate revoked)"),
        ("wrong-ca", C.VALID_CERT_REJECTED, "(20:unable to get local issuer certificate)"),
        ("self-signed", C.VALID_CERT_REJECTED, "(18:self-signed certificate)"),
        ("no-client-eku", C.VALID_CERT_REJECTED, "(26:unsuitable certificate purpose)"),
    ],
)
def test_client_cert_verified_like_the_server(
    server_pki: PKI, nginx_conf: Path, role: str, code: Code | None, error: str | None
) -> None:
    """Each error is the one nginx logs for that certificate (OpenSSL's own verifier)."""
    result = lint_config(nginx_conf, client_cert=server_pki.role(role).send_file)
    found = by_code(result)
    if code is None:
        assert [f for f in result.findings if f.severity is not INFO] == [], found
        return
    assert error is not None
    assert any(error in f.message for f in found[str(code)]), found
    assert result.exit_code == 1


def test_client_cert_with_key_and_depth(server_pki: PKI, workdir: Path) -> None:
    role = server_pki.role("intermediate")
    cfg = accepted_config(
        NginxServer, NginxServer.mtls_fragment(**paths(server_pki), verify_depth=0), workdir
    )
    result = lint_config(cfg, client_cert=role.send_file, client_key=role.key)
    found = by_code(result)
    assert {str(C.VERIFY_DEPTH_TOO_SMALL), str(C.VALID_CERT_REJECTED)} <= set(found)
    assert str(C.CHAIN_INCOMPLETE) not in found  # refused anyway: not "must send the chain"


def test_client_cert_against_the_wrong_ca_file(server_pki: PKI, workdir: Path) -> None:
    frag = NginxServer.mtls_fragment(
        **paths(server_pki, client_ca=server_pki.role("other-ca").cert, crl=None)
    )
    cfg = accepted_config(NginxServer, frag, workdir)
    found = by_code(lint_config(cfg, client_cert=server_pki.role("valid").cert))
    assert {
        str(C.VALID_CERT_REJECTED),
        str(C.FOREIGN_CA_ACCEPTED),
        str(C.CA_NAMES_EXCLUDE_CLIENT_ISSUER),
    } <= set(found)


def test_intermediate_client_must_send_its_chain(server_pki: PKI, nginx_conf: Path) -> None:
    found = by_code(lint_config(nginx_conf, client_cert=server_pki.role("intermediate").send_file))
    (f,) = found[str(C.CHAIN_INCOMPLETE)]
    assert f.severity is INFO and "intermediate CA" in f.message


def test_ca_file_gone_after_the_check(server_pki: PKI, workdir: Path) -> None:
    """lint often runs away from the server: a CA file missing there is a finding, not exit 2."""
    ca = workdir / "client-ca.pem"
    shutil.copy(server_pki.ca_cert, ca)
    cfg = accepted_config(
        NginxServer, NginxServer.mtls_fragment(**paths(server_pki, client_ca=ca)), workdir
    )
    ca.unlink()
    result = lint_config(cfg)
    (f,) = by_code(result)[str(C.REFERENCED_FILE_UNREADABLE)]
    assert "ssl_client_certificate" in line_of(cfg, f) and "not found" in f.message
    assert f.severity is W


# --------------------------------------------------------------------------- outputs, CLI


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["lint", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_console_json_sarif(
    server_pki: PKI, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = accepted_config(
        NginxServer, NginxServer.mtls_fragment(**paths(server_pki), verify="optional"), workdir
    )
    lineno = next(
        i for i, ln in enumerate(cfg.read_text().splitlines(), 1) if "ssl_verify_client" in ln
    )
    code, out, _ = run_cli([str(cfg)], capsys)
    assert code == 1
    assert f"{cfg}:{lineno}: error: client-auth-optional:" in out

    code, out, _ = run_cli([str(cfg), "--format", "json"], capsys)
    doc = json.loads(out)
    assert code == 1 and doc["exit_code"] == 1 and doc["server"] == "nginx"
    (f,) = [f for f in doc["findings"] if f["code"] == "client-auth-optional"]
    assert (f["file"], f["line"], f["severity"]) == (str(cfg), lineno, "error")
    assert "ssl_verify_client on" in f["fix"]

    code, out, _ = run_cli([str(cfg), "-f", "sarif"], capsys)
    sarif = json.loads(out)
    assert code == 1 and sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    (res,) = [r for r in run["results"] if r["ruleId"] == "client-auth-optional"]
    assert res["level"] == "error" and rule_ids[res["ruleIndex"]] == "client-auth-optional"
    loc = res["locations"][0]["physicalLocation"]
    assert loc["region"]["startLine"] == lineno
    assert loc["artifactLocation"]["uri"] == cfg.as_uri()  # outside the working directory


def test_sarif_uri_relative_below_cwd(
    server_pki: PKI, workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    cfg = accepted_config(HAProxyServer, HAProxyServer.mtls_fragment(**paths(server_pki)), workdir)
    monkeypatch.chdir(workdir)
    code, out, _ = run_cli(["haproxy.cfg", "-f", "sarif", "--client-cert",
                            str(server_pki.role("expired").cert)], capsys)  # fmt: skip
    assert code == 1
    run = json.loads(out)["runs"][0]
    art = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert art == {"uri": "haproxy.cfg", "uriBaseId": "%SRCROOT%"}
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == workdir.resolve().as_uri() + "/"
    assert cfg.exists()


def test_clean_config_exits_0_and_writes_output(
    server_pki: PKI, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = accepted_config(ApacheServer, ApacheServer.mtls_fragment(**paths(server_pki)), workdir)
    report = workdir / "lint.json"
    code, out, err = run_cli([str(cfg), "-f", "json", "-o", str(report)], capsys)
    assert code == 0 and out == "" and "report written" in err
    assert json.loads(report.read_text())["ok"] is True


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["/nonexistent/nginx.conf"], "not found"),
        (["/dev/zero", "--server", "nginx"], "not a regular file"),
        (["{workdir}"], "directory"),
        (["{workdir}/broken-nginx.conf"], "broken-nginx.conf:2"),
        (["{workdir}/broken-apache.conf"], "never closed"),
        (["{workdir}/plain.txt"], "cannot tell which server"),
        (["{workdir}/broken-nginx.conf", "--format", "xml"], "--format"),
        (["{workdir}/broken-nginx.conf", "--server", "iis"], "--server"),
        (["{workdir}/ok-haproxy.cfg", "--client-key", "/etc/hostname"], "--client-key needs"),
        (["{workdir}/ok-haproxy.cfg", "--client-cert", "/etc/hostname"], "certificate"),
        (["{workdir}/loop-apache.conf"], "include loop"),
        (["{workdir}/deep-nginx.conf"], "nested too deeply"),
        (["{workdir}/latin1-haproxy.cfg"], "not UTF-8"),
        (["{workdir}/missing-include-nginx.conf"], "not found"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    args: list[str], says: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "broken-nginx.conf").write_text("http {\n  server { listen 443 ssl;\n")
    (workdir / "broken-apache.conf").write_text("<VirtualHost *:443>\nSSLEngine on\n")
    (workdir / "plain.txt").write_text("hello\n")
    (workdir / "ok-haproxy.cfg").write_text("frontend f\n    bind :443 ssl crt x.pem\n")
    (workdir / "loop-apache.conf").write_text(f"Include {workdir}/loop-apache.conf\n")
    (workdir / "deep-nginx.conf").write_text("a {" * 5000 + "}" * 5000)
    (workdir / "latin1-haproxy.cfg").write_bytes(b"frontend f\xe9\n")
    (workdir / "missing-include-nginx.conf").write_text("include /nonexistent/x.conf;\n")
    code, out, err = run_cli([a.replace("{workdir}", str(workdir)) for a in args], capsys)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mtlscheck: error: "), err
    assert says in lines[0], err
    assert "Traceback" not in err and out == ""
