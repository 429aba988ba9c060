"""The OCSP responder (``mtlscheck pki ocsp-serve``) and ``pki init --ocsp-url``.

Requests are built with cryptography's OCSP request builder and, as an independent client,
with ``openssl ocsp``; the responder runs on 127.0.0.1 in a thread (``OcspServer``) or as the
real CLI process (stopped by its pid).  Real nginx and Apache asking it: ``test_ocsp_real.py``.
"""

from __future__ import annotations

import base64
import http.client
import re
import shutil
import signal
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from mtlscheck._cli import main
from mtlscheck._ocsp import (
    OcspServer,
    Responder,
    check_ocsp_url,
    decode_get_path,
    issuer_key_hash,
    listen_address,
)
from mtlscheck._pki import PKI, init_pki, make_crl, make_leaf, write_pem

OCSP_URL = "http://127.0.0.1:9/ocsp"  # never contacted: what the certificates name


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    pki, _ = init_pki(tmp_path_factory.mktemp("ocsp") / "pki", ocsp_url=OCSP_URL)
    return pki


@pytest.fixture(scope="module")
def server(pki: PKI) -> Iterator[OcspServer]:
    with OcspServer(Responder(pki), log=None) as srv:
        yield srv


def request(
    pki: PKI, role: str, *, issuer: str = "ca", nonce: bytes | None = None, algo: str = "sha1"
) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        pki.issued(role).cert,
        pki.issued(issuer).cert,
        hashes.SHA1() if algo == "sha1" else hashes.SHA256(),
    )
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _port(srv: OcspServer | int) -> int:
    return srv if isinstance(srv, int) else srv.port


def post(srv: OcspServer | int, body: bytes, path: str = "/ocsp") -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", _port(srv), timeout=10)
    try:
        conn.request("POST", path, body, {"Content-Type": "application/ocsp-request"})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type") or "", resp.read()
    finally:
        conn.close()


def get(srv: OcspServer, path: str) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type") or "", resp.read()
    finally:
        conn.close()


def ask(srv: OcspServer | int, body: bytes) -> ocsp.OCSPResponse:
    status, ctype, data = post(srv, body)
    assert status == 200 and ctype == "application/ocsp-response"
    return ocsp.load_der_ocsp_response(data)


def verify_signature(resp: ocsp.OCSPResponse, signer: x509.Certificate) -> None:
    key = signer.public_key()
    from cryptography.hazmat.primitives.asymmetric import ec

    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert resp.signature_hash_algorithm is not None
    key.verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(resp.signature_hash_algorithm))


# --------------------------------------------------------------------------- statuses


def test_revoked_good_and_signed_by_the_ca(pki: PKI, server: OcspServer) -> None:
    ca = pki.issued("ca").cert
    resp = ask(server, request(pki, "revoked"))
    assert resp.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert resp.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert resp.serial_number == pki.issued("revoked").cert.serial_number
    crl = x509.load_pem_x509_crl(
        pki.crl.read_bytes().split(b"-----END X509 CRL-----")[0] + (b"-----END X509 CRL-----")
    )
    entry = crl.get_revoked_certificate_by_serial_number(resp.serial_number)
    assert entry is not None and resp.revocation_time_utc == entry.revocation_date_utc
    assert (
        resp.responder_key_hash == x509.SubjectKeyIdentifier.from_public_key(ca.public_key()).digest
    )
    assert resp.certificates == [ca]  # Apache finds the signer only in the response
    verify_signature(resp, ca)
    assert resp.next_update_utc is not None
    assert resp.this_update_utc <= datetime.now(UTC) < resp.next_update_utc

    for role in ("valid", "expired", "server", "no-client-eku"):
        r = ask(server, request(pki, role))
        assert r.certificate_status is ocsp.OCSPCertStatus.GOOD, role


def test_intermediate_issued_leaf_is_answered_by_the_intermediate(
    pki: PKI, server: OcspServer
) -> None:
    resp = ask(server, request(pki, "intermediate", issuer="intermediate-ca", algo="sha256"))
    assert resp.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert isinstance(resp.hash_algorithm, hashes.SHA256)  # the CertID comes back as asked
    verify_signature(resp, pki.issued("intermediate-ca").cert)
    # and the intermediate CA itself, as Apache's "SSLOCSPEnable on" asks for the whole chain
    assert ask(server, request(pki, "intermediate-ca")).certificate_status is (
        ocsp.OCSPCertStatus.GOOD
    )


def test_serial_the_pki_never_issued_is_unknown(pki: PKI, server: OcspServer) -> None:
    stranger = make_leaf(pki.issued("ca"), "minted elsewhere")
    body = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(stranger.cert, pki.issued("ca").cert, hashes.SHA1())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    assert ask(server, body).certificate_status is ocsp.OCSPCertStatus.UNKNOWN


def test_foreign_ca_is_unauthorized(pki: PKI, server: OcspServer) -> None:
    resp = ask(server, request(pki, "wrong-ca", issuer="other-ca"))
    assert resp.response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_nonce_is_echoed(pki: PKI, server: OcspServer) -> None:
    resp = ask(server, request(pki, "valid", nonce=b"0123456789abcdef"))
    assert resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == (
        b"0123456789abcdef"
    )
    plain = ask(server, request(pki, "valid"))
    with pytest.raises(x509.ExtensionNotFound):
        plain.extensions.get_extension_for_class(x509.OCSPNonce)


@pytest.mark.parametrize("body", [b"", b"not der at all", b"\x30\x03\x02\x01\x01"])
def test_malformed_request(server: OcspServer, body: bytes) -> None:
    resp = ask(server, body)
    assert resp.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_http_limits_and_index(server: OcspServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("POST", "/")
    conn.putheader("Content-Length", str(1024 * 1024))
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()
    status, ctype, body = get(server, "/")
    assert status == 200 and ctype.startswith("text/plain") and b"OCSP responder" in body


# --------------------------------------------------------------------------- GET


def test_get_under_a_base_path_encoded_or_not(pki: PKI, server: OcspServer) -> None:
    der = request(pki, "revoked")
    b64 = base64.b64encode(der).decode()
    for path in (
        "/ocsp/" + urllib.parse.quote(b64, safe=""),  # RFC 6960 A.1
        "/" + b64,  # '/' and '+' left as they are, no base path
        "/a/b/" + urllib.parse.quote(b64, safe="/"),
    ):
        status, ctype, data = get(server, path)
        assert status == 200 and ctype == "application/ocsp-response", path
        resp = ocsp.load_der_ocsp_response(data)
        assert resp.certificate_status is ocsp.OCSPCertStatus.REVOKED, path
    status, _, data = get(server, "/ocsp/%%%notbase64")
    assert ocsp.load_der_ocsp_response(data).response_status is (
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )


def test_decode_get_path_finds_slashes_inside_the_base64(pki: PKI) -> None:
    for nonce in range(40):  # some encodings hold '/', some do not
        der = request(pki, "valid", nonce=nonce.to_bytes(16, "big"))
        b64 = base64.b64encode(der).decode()
        assert decode_get_path("/base/path/" + b64) == der
    assert decode_get_path("/") is None
    assert decode_get_path("/favicon.ico") is None


# --------------------------------------------------------------------------- delegation, reload


def test_delegated_responder_certificate(pki: PKI) -> None:
    with OcspServer(Responder(pki, delegated=True), log=None) as srv:
        resp = ask(srv, request(pki, "revoked"))
    assert resp.certificate_status is ocsp.OCSPCertStatus.REVOKED
    (signer,) = resp.certificates
    ca = pki.issued("ca").cert
    signer.verify_directly_issued_by(ca)
    eku = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    signer.extensions.get_extension_for_class(x509.OCSPNoCheck)
    assert (
        resp.responder_key_hash
        == x509.SubjectKeyIdentifier.from_public_key(signer.public_key()).digest
    )
    verify_signature(resp, signer)


def test_crl_replaced_under_a_running_responder(tmp_path: Path) -> None:
    pki, _ = init_pki(tmp_path / "pki")
    with OcspServer(Responder(pki), log=None) as srv:
        assert ask(srv, request(pki, "valid")).certificate_status is ocsp.OCSPCertStatus.GOOD
        ca, inter = pki.issued("ca"), pki.issued("intermediate-ca")
        serials = [pki.issued("revoked").cert.serial_number, pki.issued("valid").cert.serial_number]
        write_pem(pki.crl, make_crl(ca, serials), make_crl(inter, []), force=True)
        assert ask(srv, request(pki, "valid")).certificate_status is (ocsp.OCSPCertStatus.REVOKED)


def test_issuer_key_hash_is_the_sha1_key_identifier(pki: PKI) -> None:
    key = pki.issued("ca").cert.public_key()
    assert issuer_key_hash(key, hashes.SHA1()) == (
        x509.SubjectKeyIdentifier.from_public_key(key).digest
    )


# --------------------------------------------------------------------------- openssl ocsp


@pytest.mark.parametrize("delegated", [False, True])
def test_openssl_ocsp_client_agrees(pki: PKI, delegated: bool) -> None:
    """An independent client: ``openssl ocsp`` verifies the signature against the root and
    reads the status (with a nonce, its default)."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is missing"
    with OcspServer(Responder(pki, delegated=delegated), log=None) as srv:
        for role, issuer, want in (
            ("revoked", "ca", "revoked"),
            ("valid", "ca", "good"),
            ("intermediate", "intermediate-ca", "good"),
        ):
            res = subprocess.run(
                [
                    openssl,
                    "ocsp",
                    "-url",
                    srv.url + "ocsp",
                    "-issuer",
                    str(pki.role(issuer).cert),
                    "-cert",
                    str(pki.role(role).cert),
                    "-CAfile",
                    str(pki.ca_cert),
                    "-verify_other",
                    str(pki.role("intermediate-ca").cert),
                ],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            out = res.stdout + res.stderr
            assert res.returncode == 0, out
            assert "Response verify OK" in out, out
            assert f"{pki.role(role).cert}: {want}" in out, out


# --------------------------------------------------------------------------- pki init --ocsp-url


def aia_urls(cert: x509.Certificate) -> list[str]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        str(d.access_location.value)
        for d in aia
        if d.access_method == AuthorityInformationAccessOID.OCSP
    ]


def test_init_ocsp_url_names_the_responder_in_what_the_pki_issues(pki: PKI) -> None:
    assert pki.ocsp_url == OCSP_URL
    named = {"intermediate-ca", "server", "valid", "expired", "not-yet-valid", "revoked"}
    named |= {"no-client-eku", "intermediate"}
    for role in pki.roles:
        urls = aia_urls(pki.issued(role).cert)
        assert urls == ([OCSP_URL] if role in named else []), role
    assert PKI.load(pki.directory).ocsp_url == OCSP_URL


def test_init_without_ocsp_url_has_no_aia(tmp_path: Path) -> None:
    plain, _ = init_pki(tmp_path / "pki")
    assert plain.ocsp_url is None
    assert all(aia_urls(plain.issued(r).cert) == [] for r in plain.roles)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://127.0.0.1/ocsp", "http://"),
        ("ftp://x/", "http://"),
        ("http://", "no host"),
        ("http://user:pw@127.0.0.1/", "user:password"),
        ("http://127.0.0.1/?a=1", "query"),
        ("http://127.0.0.1:99999/", "port"),
        ("http://127.0.0.1:0/", "port"),
        ("http://bad host/", "one line"),
        ("http://127.0.0.1/x;y", "';'"),
        ("", "one line"),
    ],
)
def test_bad_ocsp_url_is_one_error_line(
    url: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["pki", "init", str(tmp_path / "pki"), "--ocsp-url", url])
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mtlscheck: error: ") and says in lines[0]
    assert not (tmp_path / "pki").exists()  # validated before anything is written


def test_check_ocsp_url_accepts_names_ports_and_paths() -> None:
    for url in ("http://ocsp.example.test", "http://127.0.0.1:8888/", "http://[::1]:80/a/b"):
        assert check_ocsp_url(url) == url


@pytest.mark.parametrize(
    ("value", "want"),
    [("8888", ("127.0.0.1", 8888)), ("0", ("127.0.0.1", 0)), ("[::1]:81", ("::1", 81))],
)
def test_listen_address(value: str, want: tuple[str, int]) -> None:
    assert listen_address(value) == want


# --------------------------------------------------------------------------- the CLI process


def start_cli(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mtlscheck", "pki", "ocsp-serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"listening on (http://\S+/)", line)
    if m is None:
        proc.kill()
        proc.wait(10)
        pytest.fail(f"no start line: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    return proc, m.group(1)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_serves_until_a_signal_then_exits_0(pki: PKI, sig: signal.Signals) -> None:
    proc, url = start_cli(str(pki.directory), "--listen", "127.0.0.1:0")
    try:
        port = urllib.parse.urlsplit(url).port
        assert port
        assert ask(port, request(pki, "revoked")).certificate_status is (
            ocsp.OCSPCertStatus.REVOKED
        )
    finally:
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert re.search(r"POST serial [0-9a-f]+ \(revoked\) -> revoked", err), err
    assert "OCSP responder stopped" in err
    assert "warning: the certificates name" in err  # port 0 is not what they name


def test_cli_busy_port_and_not_a_pki(pki: PKI, tmp_path: Path) -> None:
    with OcspServer(Responder(pki), log=None) as busy:
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "mtlscheck",
                "pki",
                "ocsp-serve",
                str(pki.directory),
                "--listen",
                f"127.0.0.1:{busy.port}",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        f"mtlscheck: error: cannot listen on 127.0.0.1:{busy.port}: Address already in use"
    ]
    res = subprocess.run(
        [sys.executable, "-m", "mtlscheck", "pki", "ocsp-serve", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert res.returncode == 2 and "is not a mtlscheck PKI" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_delegate_lifetime_is_short(pki: PKI) -> None:
    responder = Responder(pki, delegated=True)
    for authority in responder.authorities:
        left = authority.signer_cert.not_valid_after_utc - datetime.now(UTC)
        assert timedelta(hours=23) < left <= timedelta(days=1)
