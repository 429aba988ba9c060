"""``mtlscheck verify``: every error from a real certificate minted by mtlscheck._pki, and the
lines it predicts checked against what real nginx and Apache logged for the same certificate."""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import require_server
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from offline_helpers import LogCursor, crl_files, curl, role_args
from servers import ApacheServer, NginxServer, RealServer

from mtlscheck._identity import load_certificates
from mtlscheck._pki import PKI, make_leaf, new_key
from mtlscheck._verify import VerifyResult, load_crls, verify_client_cert


@pytest.fixture(scope="module")
def crls(server_pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("crls")
    d.chmod(0o755)  # the servers' workers read it
    return {"both": server_pki.crl, **crl_files(server_pki, d)}


def verify(
    pki: PKI,
    role: str,
    *,
    crl: Path | None = None,
    send_chain: bool = True,
    **kw: Any,
) -> VerifyResult:
    sent = load_certificates(role_args(pki, role, send_chain=send_chain)["cert"])
    cas = load_certificates(pki.ca_cert)
    return verify_client_cert(sent, cas, crls=load_crls(crl) if crl else (), **kw)


def logged(r: VerifyResult, server: str) -> str:
    return dict(r.server_logs)[server]


def test_valid_certificate_verifies(server_pki: PKI) -> None:
    r = verify(server_pki, "valid", crl=server_pki.crl)
    assert r.verified and r.issues == () and r.server_logs == ()
    assert r.eku == ("clientAuth",) and "digital_signature" in r.key_usage
    assert [c.source for c in r.chain] == ["sent", "ca file"]
    assert r.intermediates == 0 and r.crl_checked


@pytest.mark.parametrize(
    ("role", "number", "code"),
    [
        ("expired", 10, "valid-cert-rejected"),
        ("not-yet-valid", 9, "valid-cert-rejected"),
        ("revoked", 23, "valid-cert-rejected"),
        ("no-client-eku", 26, "valid-cert-rejected"),
        ("wrong-ca", 20, "chain-incomplete"),
        ("self-signed", 18, "ca-names-exclude-client-issuer"),
    ],
)
def test_each_openssl_error_from_a_real_certificate(
    server_pki: PKI, role: str, number: int, code: str
) -> None:
    r = verify(server_pki, role, crl=server_pki.crl)
    assert not r.verified
    assert r.openssl_error is not None and r.openssl_error.number == number
    assert code in r.codes and r.codes[0] == "valid-cert-rejected"
    assert logged(r, "apache").startswith(f"AH02039: Certificate Verification: Error ({number}): ")


def test_revoked_is_only_found_with_the_crl(server_pki: PKI) -> None:
    assert verify(server_pki, "revoked").verified
    assert "no CRL given" in verify(server_pki, "revoked").notes[0]
    assert logged(verify(server_pki, "revoked", crl=server_pki.crl), "nginx") == (
        "client SSL certificate verify error: (23:certificate revoked)"
    )


def test_missing_intermediate(server_pki: PKI) -> None:
    r = verify(server_pki, "intermediate", send_chain=False, crl=server_pki.crl)
    assert not r.verified and not r.anchored
    assert r.codes == ("valid-cert-rejected", "chain-incomplete")
    assert "mtlscheck test intermediate CA" in r.issues[0].message
    # nginx goes on after the error and logs the last one; Apache logs the first
    assert logged(r, "nginx").endswith("(21:unable to verify the first certificate)")
    assert logged(r, "apache").endswith("Error (20): unable to get local issuer certificate")
    full = verify(server_pki, "intermediate", crl=server_pki.crl)
    assert full.verified and full.intermediates == 1
    assert full.chain_order.startswith("in order")


@pytest.mark.parametrize(
    ("depth", "verified", "nginx", "apache"),
    [
        (0, False, "(3:unable to get certificate CRL)", "AH02040"),
        (1, False, None, "AH02040"),  # nginx counts intermediates, Apache counts the root too
        (2, True, None, None),
    ],
)
def test_depth(
    server_pki: PKI, depth: int, verified: bool, nginx: str | None, apache: str | None
) -> None:
    r = verify(server_pki, "intermediate", crl=server_pki.crl, depth=depth)
    assert r.verified is verified
    logs = dict(r.server_logs)
    assert (nginx is None) == ("nginx" not in logs)
    if nginx:
        assert logs["nginx"].endswith(nginx)
    if apache:
        assert logs["apache"].startswith(apache) and f"only {depth})" in logs["apache"]
        assert "verify-depth-too-small" in r.codes
    if not verified:
        assert not r.verified


def test_default_depth_warns_for_apache(server_pki: PKI) -> None:
    r = verify(server_pki, "intermediate")
    assert r.verified
    (warning,) = [i for i in r.issues if i.severity == "warning"]
    assert "SSLVerifyDepth 2" in warning.message and "is enough" in warning.message


def test_crl_past_next_update_refuses_every_client(server_pki: PKI, crls: dict[str, Path]) -> None:
    r = verify(server_pki, "valid", crl=crls["stale"])
    assert not r.verified
    assert r.openssl_error is not None and r.openssl_error.number == 12
    assert "EVERY client" in r.openssl_error.message
    # the same CRLs, checked at a date past their nextUpdate
    later = _dt.datetime.now(_dt.UTC) + _dt.timedelta(days=400)
    assert verify(server_pki, "valid", crl=server_pki.crl, at=later).openssl_error is not None


def test_crl_missing_for_one_level(server_pki: PKI, crls: dict[str, Path]) -> None:
    r = verify(server_pki, "intermediate", crl=crls["root-only"])
    assert not r.verified
    (issue,) = [i for i in r.issues if i.number == 3]
    assert issue.depth == 0 and "intermediate CA" in issue.message
    assert logged(r, "nginx").endswith("(3:unable to get certificate CRL)")
    assert verify(server_pki, "valid", crl=crls["root-only"]).verified  # root level is there


def test_at_checks_another_date(server_pki: PKI) -> None:
    later = verify(server_pki, "valid", at=_dt.datetime.now(_dt.UTC) + _dt.timedelta(days=400))
    assert later.openssl_error is not None and later.openssl_error.number == 10
    r = verify(server_pki, "valid", at=_dt.datetime(2000, 1, 1, tzinfo=_dt.UTC))
    assert r.openssl_error is not None and r.openssl_error.number == 9


def test_chain_order_and_stray_certificates(server_pki: PKI) -> None:
    leaf = load_certificates(server_pki.role("intermediate").cert)[0]
    inter = load_certificates(server_pki.role("intermediate-ca").cert)[0]
    other = load_certificates(server_pki.role("other-ca").cert)[0]
    r = verify_client_cert([leaf, other, inter], load_certificates(server_pki.ca_cert))
    assert r.verified  # OpenSSL finds the issuer anywhere in what was sent
    assert "OUT OF ORDER" in r.chain_order and "mtlscheck unrelated CA" in r.chain_order


def test_key_usage_without_digital_signature(server_pki: PKI) -> None:
    """A key-encipherment-only leaf fails OpenSSL's SSL-client purpose like a missing EKU."""

    ca = server_pki.issued("ca")
    leaf = make_leaf(ca, "ku-client", key=new_key("ec"))
    ku_only = (
        x509.CertificateBuilder()
        .subject_name(leaf.cert.subject)
        .issuer_name(ca.cert.subject)
        .public_key(leaf.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(leaf.cert.not_valid_before_utc)
        .not_valid_after(leaf.cert.not_valid_after_utc)
        .add_extension(
            x509.KeyUsage(False, False, True, False, False, False, False, False, False), True
        )
        .sign(ca.key, hashes.SHA256())
    )
    r = verify_client_cert([ku_only], [ca.cert])
    assert r.openssl_error is not None and r.openssl_error.number == 26
    assert "keyUsage lacks digitalSignature" in r.openssl_error.message


# --------------------------------------------------------------------------- real servers

_NGINX = re.compile(r"client SSL certificate verify error: \(\d+:[^)]*\)")
_APACHE = re.compile(
    r"AH0(?:2039|2276): Certificate Verification: (Error \(\d+\): [^\[\n]*[^\[\s])"
)
_APACHE_DEPTH = re.compile(r"AH02040: [^\n]*\)")

# (id, server class, fragment kwargs, crl variant, [(role, send chain)])
AGREEMENT = [
    ("crl-both", ("expired", "not-yet-valid", "revoked", "no-client-eku", "wrong-ca",
                  "self-signed", "intermediate/leaf-only"), "both", {}),
    ("crl-stale", ("valid",), "stale", {}),
    ("crl-root-only", ("intermediate",), "root-only", {}),
    ("depth-0", ("intermediate",), "both", {"verify_depth": 0}),
    ("depth-1", ("intermediate",), "both", {"verify_depth": 1}),
]  # fmt: skip


@pytest.mark.realserver
@pytest.mark.parametrize("server", [NginxServer, ApacheServer], ids=["nginx", "apache"])
@pytest.mark.parametrize(("case", "roles", "crl", "kw"), AGREEMENT, ids=[a[0] for a in AGREEMENT])
def test_verify_predicts_what_the_real_server_logs(
    server: type[RealServer],
    case: str,
    roles: tuple[str, ...],
    crl: str,
    kw: dict[str, Any],
    server_pki: PKI,
    crls: dict[str, Path],
    mtls_paths: dict[str, Path],
    request: pytest.FixtureRequest,
) -> None:
    """For each certificate: the server refuses it, and the line it logged is the one verify
    said it would log (nginx: the last OpenSSL error; Apache: the first, or AH02040)."""
    require_server(server)
    factory: Callable[..., RealServer] = request.getfixturevalue(
        f"{server.name.rstrip('2')}_factory"
    )
    srv = factory(server.mtls_fragment(**{**mtls_paths, "crl": crls[crl], **kw}))  # type: ignore[attr-defined]
    for spec in roles:
        role, _, how = spec.partition("/")
        args = role_args(server_pki, role, send_chain=how != "leaf-only")
        cursor = LogCursor(srv)
        rc, out = curl(srv.url, cacert=server_pki.ca_cert, **args)
        log = cursor.new()
        result = verify(
            server_pki,
            role,
            crl=crls[crl],
            send_chain=how != "leaf-only",
            depth=kw.get("verify_depth"),
        )
        what = f"{case} {spec}: curl {rc} {out[-200:]}\n{log[-1500:]}\n{result.server_logs}"
        if server is NginxServer and "nginx" not in dict(result.server_logs):
            assert "ok" in out, what  # verify says nginx accepts it: so does nginx
            continue
        assert not result.verified, what
        if server is NginxServer:
            m = _NGINX.search(log)
            assert m is not None, what
            assert m.group(0) == logged(result, "nginx"), what
        elif (depth := _APACHE_DEPTH.search(log)) is not None:
            assert depth.group(0) == logged(result, "apache"), what
        else:
            m = _APACHE.search(log)
            assert m is not None, what
            assert logged(result, "apache").endswith(m.group(1)), what
