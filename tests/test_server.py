"""Real loopback TLS against the reference server, for TLS 1.2 and 1.3.

The PKI is built here with cryptography (not mtlscheck._pki) so these tests only depend on the
server module itself.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import secrets
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import SSL

from mtlscheck._server import (
    NGINX_CERT_ERROR_BODY,
    NGINX_NO_CERT_BODY,
    ReferenceServer,
    ServerMode,
)

VERSIONS = ["1.2", "1.3"]
_NOW = dt.datetime.now(dt.UTC)


# --------------------------------------------------------------------------- test PKI


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _make_ca(cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(secrets.randbits(127))
        .not_valid_before(_NOW - dt.timedelta(days=1))
        .not_valid_after(_NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _make_leaf(
    cn: str,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    *,
    server: bool = False,
    expired: bool = False,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = ca
    key = _key()
    if expired:
        start, end = _NOW - dt.timedelta(days=10), _NOW - dt.timedelta(days=1)
    else:
        start, end = _NOW - dt.timedelta(days=1), _NOW + dt.timedelta(days=30)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(secrets.randbits(127))
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(ca_key, hashes.SHA256()), key


@dataclass
class Pki:
    dir: Path
    ca: Path
    server_cert: Path
    server_key: Path
    crl: Path
    clients: dict[str, tuple[Path, Path]] = field(default_factory=dict)

    def server(self, **kw: object) -> ReferenceServer:
        return ReferenceServer(
            cert=self.server_cert,
            key=self.server_key,
            client_ca=self.ca,
            **kw,  # type: ignore[arg-type]
        )


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Path:
    path.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca = _make_ca("mtlscheck test CA")
    foreign = _make_ca("foreign CA")
    _write(d / "ca", *ca)
    _write(d / "server", *_make_leaf("server", ca, server=True))
    clients = {}
    for role, (cert, key) in {
        "valid": _make_leaf("valid client", ca),
        "expired": _make_leaf("expired client", ca, expired=True),
        "wrong-ca": _make_leaf("foreign client", foreign),
        "revoked": _make_leaf("revoked client", ca),
    }.items():
        base = _write(d / role, cert, key)
        clients[role] = (base.with_suffix(".pem"), base.with_suffix(".key"))
    revoked_serial = x509.load_pem_x509_certificate(
        clients["revoked"][0].read_bytes()
    ).serial_number
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca[0].subject)
        .last_update(_NOW - dt.timedelta(hours=1))
        .next_update(_NOW + dt.timedelta(days=7))
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(revoked_serial)
            .revocation_date(_NOW - dt.timedelta(minutes=5))
            .build()
        )
        .sign(ca[1], hashes.SHA256())
    )
    (d / "crl.pem").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    return Pki(
        dir=d,
        ca=d / "ca.pem",
        server_cert=d / "server.pem",
        server_key=d / "server.key",
        crl=d / "crl.pem",
        clients=clients,
    )


# --------------------------------------------------------------------------- client side


@dataclass
class Result:
    handshake_error: str | None = None
    read_error: str | None = None
    response: bytes = b""
    cert_requested: bool = False
    protocol: str = ""

    @property
    def status(self) -> int | None:
        if not self.response.startswith(b"HTTP/1.1 "):
            return None
        return int(self.response.split(b" ", 2)[1])

    def header(self, name: str) -> str | None:
        head = self.response.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        for line in head.split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.lower() == name.lower():
                return value.strip()
        return None

    @property
    def body(self) -> bytes:
        return self.response.split(b"\r\n\r\n", 1)[1]


def _reasons(exc: SSL.Error) -> str:
    try:
        return "; ".join(str(e[2]) for e in exc.args[0])
    except (IndexError, TypeError):
        return repr(exc)


def probe(
    server: ReferenceServer,
    version: str,
    client: tuple[Path, Path] | None = None,
    ca: Path | None = None,
) -> Result:
    """One connection, one handshake, one request, read to EOF: what the engine does."""
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    v = {"1.2": SSL.TLS1_2_VERSION, "1.3": SSL.TLS1_3_VERSION}[version]
    ctx.set_min_proto_version(v)
    ctx.set_max_proto_version(v)
    if ca is not None:
        ctx.load_verify_locations(str(ca))
        ctx.set_verify(SSL.VERIFY_PEER)
    if client is not None:
        ctx.use_certificate_file(str(client[0]))
        ctx.use_privatekey_file(str(client[1]))
    result = Result()

    def info(conn: SSL.Connection, where: int, ret: int) -> None:
        if b"read server certificate request" in conn.get_state_string():
            result.cert_requested = True

    ctx.set_info_callback(info)
    sock = socket.create_connection(("127.0.0.1", server.port))
    # Kernel-level timeouts keep the socket blocking for pyOpenSSL (a Python timeout would
    # make it non-blocking and surface as WantReadError) while no test can hang forever.
    tv = struct.pack("ll", 5, 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
    conn = SSL.Connection(ctx, sock)
    conn.set_connect_state()
    try:
        try:
            conn.do_handshake()
        except SSL.Error as exc:
            result.handshake_error = _reasons(exc)
            return result
        result.protocol = conn.get_protocol_version_name()
        try:
            conn.sendall(b"GET /probe HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: t\r\n\r\n")
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                result.response += chunk
        except SSL.ZeroReturnError:
            pass
        except SSL.SysCallError as exc:
            if result.response and exc.args[0] == -1:  # EOF without close_notify after data
                pass
            else:
                result.read_error = f"syscall {exc.args}"
        except SSL.Error as exc:
            result.read_error = _reasons(exc)
        return result
    finally:
        sock.close()


@pytest.fixture
def make_server(pki: Pki) -> Iterator[Callable[..., ReferenceServer]]:
    servers: list[ReferenceServer] = []

    def make(**kw: object) -> ReferenceServer:
        srv = pki.server(**kw).start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


def _alert(text: str | None) -> str:
    """Alert name from an OpenSSL reason ('tlsv13 alert certificate required' -> ...).

    OpenSSL 3 says 'sslv3 alert handshake failure', OpenSSL 4 'tls alert handshake failure':
    compare only what follows 'alert '.
    """
    assert text is not None
    assert "alert " in text, text
    return text.split("alert ", 1)[1].split(";")[0].strip()


# --------------------------------------------------------------------------- apache mode


@pytest.mark.parametrize("version", VERSIONS)
def test_apache_valid_cert_gets_200(make_server, pki: Pki, version: str) -> None:
    srv = make_server(mode="apache")
    r = probe(srv, version, pki.clients["valid"], ca=pki.ca)
    assert (r.handshake_error, r.read_error, r.status) == (None, None, 200)
    assert r.protocol == f"TLSv{version}"
    assert r.cert_requested
    assert r.body == b"ok\n"
    assert r.header("Content-Type") == "text/plain"
    assert r.header("Content-Length") == "3"
    assert r.header("Connection") == "close"
    assert r.header("X-Client-Verify") == "SUCCESS"
    assert r.header("X-Client-Subject") == "CN=valid client"
    [rec] = srv.requests
    assert (rec.method, rec.path, rec.client_subject, rec.verify, rec.status) == (
        "GET",
        "/probe",
        "CN=valid client",
        "SUCCESS",
        200,
    )
    assert rec.protocol == f"TLSv{version}"


def test_apache_no_cert_tls12_fails_in_handshake(make_server, pki: Pki) -> None:
    srv = make_server(mode=ServerMode.APACHE)
    r = probe(srv, "1.2", ca=pki.ca)
    assert r.cert_requested
    assert _alert(r.handshake_error) == "handshake failure"
    assert srv.requests == []


def test_apache_no_cert_tls13_fails_on_first_read(make_server, pki: Pki) -> None:
    srv = make_server(mode=ServerMode.APACHE)
    r = probe(srv, "1.3", ca=pki.ca)
    assert r.handshake_error is None, "TLS 1.3 client finishes its handshake first"
    assert _alert(r.read_error) == "certificate required"
    assert r.response == b""
    assert srv.requests == []


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("role", "alert"), [("wrong-ca", "unknown ca"), ("expired", "certificate expired")]
)
def test_apache_bad_cert_alert(make_server, pki: Pki, version: str, role: str, alert: str) -> None:
    srv = make_server(mode="apache")
    r = probe(srv, version, pki.clients[role], ca=pki.ca)
    if version == "1.2":
        assert _alert(r.handshake_error) == alert
    else:
        assert r.handshake_error is None
        assert _alert(r.read_error) == alert
    assert srv.requests == []


# --------------------------------------------------------------------------- nginx mode


@pytest.mark.parametrize("version", VERSIONS)
def test_nginx_no_cert_gets_400_page(make_server, pki: Pki, version: str) -> None:
    srv = make_server(mode="nginx")
    r = probe(srv, version, ca=pki.ca)
    assert (r.handshake_error, r.read_error, r.status) == (None, None, 400)
    assert r.cert_requested
    assert r.body == NGINX_NO_CERT_BODY
    assert b"No required SSL certificate was sent" in r.body
    assert r.header("Content-Type") == "text/html"
    assert r.header("Content-Length") == str(len(NGINX_NO_CERT_BODY))
    assert r.header("Server") == "nginx"
    assert r.header("X-Client-Verify") == "NONE"
    assert r.header("X-Client-Subject") == ""
    [rec] = srv.requests
    assert (rec.status, rec.client_subject, rec.verify) == (400, None, "NONE")


@pytest.mark.parametrize("version", VERSIONS)
def test_nginx_foreign_ca_gets_cert_error_page(make_server, pki: Pki, version: str) -> None:
    srv = make_server(mode="nginx")
    r = probe(srv, version, pki.clients["wrong-ca"], ca=pki.ca)
    assert (r.handshake_error, r.read_error, r.status) == (None, None, 400)
    assert r.body == NGINX_CERT_ERROR_BODY
    assert b"<title>400 The SSL certificate error</title>" in r.body
    assert r.header("X-Client-Verify") == "FAILED:unable to get local issuer certificate"
    assert r.header("X-Client-Subject") == "CN=foreign client"


@pytest.mark.parametrize("version", VERSIONS)
def test_nginx_expired_cert_error(make_server, pki: Pki, version: str) -> None:
    srv = make_server(mode="nginx")
    r = probe(srv, version, pki.clients["expired"], ca=pki.ca)
    assert r.status == 400
    assert r.body == NGINX_CERT_ERROR_BODY
    assert r.header("X-Client-Verify") == "FAILED:certificate has expired"


@pytest.mark.parametrize("version", VERSIONS)
def test_nginx_valid_cert_gets_200(make_server, pki: Pki, version: str) -> None:
    srv = make_server(mode="nginx")
    r = probe(srv, version, pki.clients["valid"], ca=pki.ca)
    assert (r.handshake_error, r.read_error, r.status) == (None, None, 200)
    assert r.body == b"ok\n"
    assert r.header("X-Client-Verify") == "SUCCESS"
    assert r.header("X-Client-Subject") == "CN=valid client"


def test_nginx_body_is_byte_exact() -> None:
    assert NGINX_NO_CERT_BODY == (
        b"<html>\r\n<head><title>400 No required SSL certificate was sent</title></head>\r\n"
        b"<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n"
        b"<center>No required SSL certificate was sent</center>\r\n"
        b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
    assert NGINX_CERT_ERROR_BODY == (
        b"<html>\r\n<head><title>400 The SSL certificate error</title></head>\r\n"
        b"<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n"
        b"<center>The SSL certificate error</center>\r\n"
        b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )


# --------------------------------------------------------------------------- optional / no request


@pytest.mark.parametrize("version", VERSIONS)
def test_optional_accepts_everyone(make_server, pki: Pki, version: str) -> None:
    srv = make_server(mode="optional")
    r = probe(srv, version, ca=pki.ca)
    assert (r.handshake_error, r.read_error, r.status) == (None, None, 200)
    assert r.cert_requested, "optional still sends a CertificateRequest"
    assert r.header("X-Client-Verify") == "NONE"
    bad = probe(srv, version, pki.clients["wrong-ca"], ca=pki.ca)
    assert bad.status == 200
    assert bad.header("X-Client-Verify") == "FAILED:unable to get local issuer certificate"
    assert [rec.verify for rec in srv.requests] == [
        "NONE",
        "FAILED:unable to get local issuer certificate",
    ]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("mode", list(ServerMode))
def test_request_cert_false_sends_no_certificate_request(
    make_server, pki: Pki, version: str, mode: ServerMode
) -> None:
    srv = make_server(mode=mode, request_cert=False)
    r = probe(srv, version, ca=pki.ca)
    assert not r.cert_requested
    assert r.status == 200
    assert r.header("X-Client-Verify") == "NONE"
    # Even a client that has a certificate does not get to send it.
    with_cert = probe(srv, version, pki.clients["valid"], ca=pki.ca)
    assert with_cert.status == 200
    assert with_cert.header("X-Client-Subject") == ""


def test_request_cert_false_with_stdlib_client(make_server, pki: Pki) -> None:
    srv = make_server(mode="apache", request_cert=False)
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    with (
        socket.create_connection(("127.0.0.1", srv.port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(b"GET /std HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := tls.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"\r\n\r\nok\n")


# --------------------------------------------------------------------------- revocation


@pytest.mark.parametrize("version", VERSIONS)
def test_revoked_cert_rejected_with_crl(make_server, pki: Pki, version: str) -> None:
    apache = make_server(mode="apache", crl=pki.crl)
    r = probe(apache, version, pki.clients["revoked"], ca=pki.ca)
    assert _alert(r.handshake_error or r.read_error) == "certificate revoked"
    assert probe(apache, version, pki.clients["valid"], ca=pki.ca).status == 200

    nginx = make_server(mode="nginx", crl=str(pki.crl))
    r = probe(nginx, version, pki.clients["revoked"], ca=pki.ca)
    assert r.status == 400
    assert r.body == NGINX_CERT_ERROR_BODY
    assert r.header("X-Client-Verify") == "FAILED:certificate revoked"


def test_revoked_cert_accepted_without_crl(make_server, pki: Pki) -> None:
    srv = make_server(mode="apache")
    assert probe(srv, "1.3", pki.clients["revoked"], ca=pki.ca).status == 200


# --------------------------------------------------------------------------- versions, config


def test_version_bounds(make_server, pki: Pki) -> None:
    srv = make_server(mode="apache", max_version="1.2")
    assert probe(srv, "1.2", pki.clients["valid"], ca=pki.ca).status == 200
    r = probe(srv, "1.3", pki.clients["valid"], ca=pki.ca)
    assert r.handshake_error is not None


@pytest.mark.parametrize(
    "kw",
    [{"min_version": "1.1"}, {"max_version": "1.4"}, {"min_version": "1.3", "max_version": "1.2"}],
)
def test_bad_versions_rejected(pki: Pki, kw: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        pki.server(**kw)


def test_bad_mode_rejected(pki: Pki) -> None:
    with pytest.raises(ValueError):
        pki.server(mode="haproxy")


def test_from_pki_dir(pki: Pki) -> None:
    manifest = {
        "roles": {
            "ca": {"cert": "ca.pem", "key": "ca.key"},
            "server": {"cert": "server.pem", "key": "server.key"},
        },
        "crl": "crl.pem",
    }
    (pki.dir / "manifest.json").write_text(json.dumps(manifest))
    with ReferenceServer.from_pki_dir(pki.dir, mode="nginx") as srv:
        assert srv.url == f"https://127.0.0.1:{srv.port}/"
        assert srv.crl == pki.crl
        r = probe(srv, "1.3", pki.clients["revoked"], ca=pki.ca)
        assert r.header("X-Client-Verify") == "FAILED:certificate revoked"
    assert ReferenceServer.from_pki_dir(pki.dir, crl=None).crl is None


# --------------------------------------------------------------------------- robustness


def _our_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("mtlscheck-server")]


def test_stop_frees_port_and_threads_despite_silent_client(pki: Pki) -> None:
    srv = pki.server(mode="nginx").start()
    port = srv.port
    assert probe(srv, "1.3", pki.clients["valid"], ca=pki.ca).status == 200
    silent = socket.create_connection(("127.0.0.1", port))  # connects, never speaks
    half = socket.create_connection(("127.0.0.1", port))
    half.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing
    time.sleep(0.2)
    assert len(_our_threads()) >= 3
    t0 = time.monotonic()
    srv.stop()
    assert time.monotonic() - t0 < 1.0
    assert _our_threads() == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    rebind = socket.socket()
    rebind.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    rebind.bind(("127.0.0.1", port))
    rebind.close()
    silent.close()
    half.close()


def test_silent_client_is_timed_out(make_server, pki: Pki) -> None:
    srv = make_server(mode="apache", timeout=0.3)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        t0 = time.monotonic()
        assert s.recv(100) == b""  # the server gives up and closes
        assert time.monotonic() - t0 < 3


def test_garbage_and_resets_are_quiet(
    make_server, pki: Pki, capfd: pytest.CaptureFixture[str]
) -> None:
    srv = make_server(mode="nginx")
    hooked: list[object] = []
    old_hook = threading.excepthook
    threading.excepthook = hooked.append
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # plain HTTP to a TLS port
            s.recv(100)
        reset = socket.create_connection(("127.0.0.1", srv.port))
        reset.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        reset.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        reset.close()  # RST mid-handshake
        time.sleep(0.3)
        assert probe(srv, "1.2", pki.clients["valid"], ca=pki.ca).status == 200
    finally:
        threading.excepthook = old_hook
    assert hooked == []
    assert "Traceback" not in capfd.readouterr().err
    assert len(srv.requests) == 1


def test_request_head_split_across_reads_and_bounded(make_server, pki: Pki) -> None:
    srv = make_server(mode="optional")
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    with (
        socket.create_connection(("127.0.0.1", srv.port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        for part in (b"POST /split HT", b"TP/1.1\r\nHost: x\r", b"\n\r", b"\n"):
            tls.sendall(part)
            time.sleep(0.05)
        assert tls.recv(4096).startswith(b"HTTP/1.1 200 OK")
    assert [(r.method, r.path) for r in srv.requests] == [("POST", "/split")]

    with (
        socket.create_connection(("127.0.0.1", srv.port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 40000)
        data = b""
        with contextlib.suppress(OSError):
            while chunk := tls.recv(4096):
                data += chunk
        assert data == b""  # oversized head: closed without an answer
    assert len(srv.requests) == 1


def test_malformed_request_line_gets_400(make_server, pki: Pki) -> None:
    srv = make_server(mode="optional")
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    with (
        socket.create_connection(("127.0.0.1", srv.port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(b"NONSENSE\r\n\r\n")
        assert tls.recv(4096).startswith(b"HTTP/1.1 400 Bad Request")


def test_url_names_the_address_it_listens_on(pki: Pki) -> None:
    """ReferenceServer.url used to say 127.0.0.1 whatever host it was given."""
    with pki.server(host="127.0.0.2") as srv:
        assert srv.url == f"https://127.0.0.2:{srv.port}/"
