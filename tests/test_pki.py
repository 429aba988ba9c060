"""The test PKI: real files, real certificates, verified with cryptography's own verifier."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from mtlscheck._errors import InputError, UsageError
from mtlscheck._pki import (
    CLIENT_ROLES,
    PKI,
    ROLES,
    Issued,
    init_pki,
    is_self_signed,
    make_ca,
    make_crl,
    make_leaf,
    new_key,
    write_pem,
    write_private_key,
)
from mtlscheck._snippets import apache_config, curl_command, nginx_config

CLIENT = ExtendedKeyUsageOID.CLIENT_AUTH
SERVER = ExtendedKeyUsageOID.SERVER_AUTH


@pytest.fixture(scope="module")
def pki_pw(tmp_path_factory: pytest.TempPathFactory) -> tuple[PKI, str]:
    return init_pki(tmp_path_factory.mktemp("pki") / "pki")


@pytest.fixture(scope="module")
def pki(pki_pw: tuple[PKI, str]) -> PKI:
    return pki_pw[0]


def _ekus(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def _client_verify(pki: PKI, role: str, *, with_chain: bool = True) -> None:
    trust = pki.issued("ca").cert
    leaf = pki.issued(role)
    verifier = PolicyBuilder().store(Store([trust])).time(datetime.now(UTC)).build_client_verifier()
    verifier.verify(leaf.cert, list(leaf.chain) if with_chain else [])


# --------------------------------------------------------------------------- layout


def test_roles_and_files(pki: PKI) -> None:
    assert tuple(pki.roles) == ROLES
    for name, role in pki.roles.items():
        assert role.name == name
        assert role.cert == pki.directory / f"{name}.pem"
        assert role.key == pki.directory / f"{name}.key"
        assert role.cert.is_file() and role.key.is_file()
    assert pki.ca_cert.name == "ca.pem" and pki.ca_key.name == "ca.key"
    assert pki.server_cert.name == "server.pem" and pki.server_key.name == "server.key"
    assert pki.roles["intermediate"].chain == pki.directory / "intermediate-chain.pem"
    assert pki.roles["intermediate"].send_file == pki.roles["intermediate"].chain
    assert pki.roles["valid"].chain is None
    assert pki.roles["valid"].send_file == pki.roles["valid"].cert
    assert pki.crl == pki.directory / "crl.pem"
    assert pki.p12 == pki.directory / "valid.p12"
    assert pki.key_type == "ec"
    assert pki.hosts == ("localhost", "127.0.0.1")
    assert pki.www is not None and (pki.www / "index.html").read_text() == "ok\n"


def test_manifest_is_relative(pki: PKI) -> None:
    data = json.loads((pki.directory / "manifest.json").read_text())
    assert data["version"] == 1
    assert data["key_type"] == "ec"
    assert data["hosts"] == ["localhost", "127.0.0.1"]
    assert data["crl"] == "crl.pem" and data["p12"] == "valid.p12"
    assert data["roles"]["valid"] == {"cert": "valid.pem", "key": "valid.key", "chain": None}
    assert data["roles"]["intermediate"]["chain"] == "intermediate-chain.pem"


def test_private_keys_are_0600(pki: PKI) -> None:
    for role in pki.roles.values():
        assert role.key is not None
        assert stat.S_IMODE(role.key.stat().st_mode) == 0o600, role.key
        key = serialization.load_pem_private_key(role.key.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        assert key.curve.name == "secp256r1"
        assert b"BEGIN PRIVATE KEY" in role.key.read_bytes()  # PKCS#8
    assert pki.p12 is not None
    assert stat.S_IMODE(pki.p12.stat().st_mode) == 0o600


def test_load_round_trip(pki: PKI) -> None:
    again = PKI.load(str(pki.directory))
    assert again == pki
    issued = again.issued("intermediate")
    on_disk = pki.roles["intermediate"].cert.read_bytes()
    assert issued.cert == x509.load_pem_x509_certificate(on_disk)
    assert issued.chain == (pki.issued("intermediate-ca").cert,)
    assert issued.key.public_key() == issued.cert.public_key()


# --------------------------------------------------------------------------- certificate content


def test_every_cert_is_well_formed(pki: PKI) -> None:
    serials = set()
    for name in ROLES:
        cert = pki.issued(name).cert
        serials.add(cert.serial_number)
        assert cert.serial_number > 2**64
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        assert bc.critical
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        if name in ("ca", "intermediate-ca", "other-ca"):
            assert bc.value.ca
            assert ku.key_cert_sign and ku.crl_sign and not ku.digital_signature
        else:
            assert not bc.value.ca
            assert ku.digital_signature and not ku.key_cert_sign and not ku.key_encipherment
            _ekus(cert)
        if name in ("ca", "other-ca", "self-signed"):
            assert is_self_signed(cert)
        else:
            assert not is_self_signed(cert)
            cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert len(serials) == len(ROLES)


def test_ca_hierarchy(pki: PKI) -> None:
    ca, inter = pki.issued("ca"), pki.issued("intermediate-ca")
    inter.cert.verify_directly_issued_by(ca.cert)
    bc = inter.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert bc.path_length == 0
    assert inter.chain == ()  # issued by the root: nothing to send after it
    assert pki.issued("other-ca").cert.subject != ca.cert.subject


def test_ekus_per_role(pki: PKI) -> None:
    for name in (
        "valid",
        "expired",
        "not-yet-valid",
        "revoked",
        "self-signed",
        "intermediate",
        "wrong-ca",
    ):
        assert _ekus(pki.issued(name).cert) == [CLIENT], name
    assert _ekus(pki.issued("no-client-eku").cert) == [SERVER]
    assert _ekus(pki.issued("server").cert) == [SERVER]


def test_server_san(pki: PKI) -> None:
    cert = pki.issued("server").cert
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    verifier = (
        PolicyBuilder()
        .store(Store([pki.issued("ca").cert]))
        .build_server_verifier(x509.DNSName("localhost"))
    )
    verifier.verify(cert, [])


def test_validity_windows(pki: PKI) -> None:
    now = datetime.now(UTC)
    expired = pki.issued("expired").cert
    assert expired.not_valid_after_utc < now - timedelta(hours=12)
    assert expired.not_valid_before_utc < expired.not_valid_after_utc
    future = pki.issued("not-yet-valid").cert
    assert future.not_valid_before_utc > now + timedelta(days=7)
    for name in ("valid", "revoked", "intermediate", "server", "ca"):
        cert = pki.issued(name).cert
        assert cert.not_valid_before_utc < now < cert.not_valid_after_utc
        assert cert.not_valid_after_utc > now + timedelta(days=300)


def test_crl(pki: PKI) -> None:
    crls = [
        x509.load_pem_x509_crl(block)
        for block in pki.crl.read_bytes().split(b"-----END X509 CRL-----")
        if b"BEGIN" in block
        for block in [block + b"-----END X509 CRL-----\n"]
    ]
    assert len(crls) == 2
    root_crl, inter_crl = crls
    ca, inter = pki.issued("ca"), pki.issued("intermediate-ca")
    assert root_crl.issuer == ca.cert.subject
    assert root_crl.is_signature_valid(ca.cert.public_key())  # type: ignore[arg-type]
    assert not root_crl.is_signature_valid(inter.cert.public_key())  # type: ignore[arg-type]
    assert [r.serial_number for r in root_crl] == [pki.issued("revoked").cert.serial_number]
    assert root_crl.next_update_utc is not None
    assert root_crl.next_update_utc > datetime.now(UTC) + timedelta(days=30)
    assert inter_crl.issuer == inter.cert.subject
    assert inter_crl.is_signature_valid(inter.cert.public_key())  # type: ignore[arg-type]
    assert list(inter_crl) == []


# --------------------------------------------------------------------------- verification


def test_valid_and_intermediate_verify(pki: PKI) -> None:
    _client_verify(pki, "valid")
    _client_verify(pki, "revoked")  # the verifier does not do revocation; the CRL does
    _client_verify(pki, "intermediate")
    chain_file = pki.roles["intermediate"].chain
    assert chain_file is not None
    sent = x509.load_pem_x509_certificates(chain_file.read_bytes())
    assert sent == [pki.issued("intermediate").cert, pki.issued("intermediate-ca").cert]


@pytest.mark.parametrize(
    "role", ["wrong-ca", "self-signed", "expired", "not-yet-valid", "no-client-eku"]
)
def test_bad_roles_do_not_verify(pki: PKI, role: str) -> None:
    with pytest.raises(VerificationError) as info:
        _client_verify(pki, role)
    if role != "self-signed":  # (a self-signed leaf has no AKI, which the verifier wants)
        assert "missing required extension" not in str(info.value)  # the right reason


def test_intermediate_without_chain_does_not_verify(pki: PKI) -> None:
    with pytest.raises(VerificationError):
        _client_verify(pki, "intermediate", with_chain=False)


def test_p12_loads_with_password(pki_pw: tuple[PKI, str]) -> None:
    pki, password = pki_pw
    assert len(password) >= 16
    assert pki.p12 is not None
    data = pki.p12.read_bytes()
    key, cert, extra = pkcs12.load_key_and_certificates(data, password.encode())
    assert cert == pki.issued("valid").cert
    assert key is not None and key.public_key() == cert.public_key()
    assert extra == []
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(data, b"wrong")


# --------------------------------------------------------------------------- errors


def test_no_overwrite_without_force(pki: PKI, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="use --force"):
        init_pki(pki.directory)
    (tmp_path / "other.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        init_pki(tmp_path)
    assert not (tmp_path / "ca.pem").exists()


def test_force_overwrites_and_keeps_other_files(tmp_path: Path) -> None:
    first, _ = init_pki(tmp_path, p12_password="one")
    (tmp_path / "notes.txt").write_text("keep me")
    old_serial = first.issued("valid").cert.serial_number
    second, password = init_pki(tmp_path, force=True, p12_password="two")
    assert password == "two"
    assert second.issued("valid").cert.serial_number != old_serial
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    assert stat.S_IMODE(second.ca_key.stat().st_mode) == 0o600
    assert second.p12 is not None
    pkcs12.load_key_and_certificates(second.p12.read_bytes(), b"two")


def test_empty_existing_directory_is_fine(tmp_path: Path) -> None:
    init_pki(tmp_path)
    assert (tmp_path / "manifest.json").is_file()


def test_unknown_role(pki: PKI) -> None:
    with pytest.raises(InputError, match=r"unknown role 'nope'.*available: ca, "):
        pki.role("nope")
    with pytest.raises(InputError, match="unknown role"):
        pki.issued("nope")
    with pytest.raises(InputError, match="unknown role"):
        curl_command(pki, "https://x/", "nope")


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        PKI.load(tmp_path / "missing")
    with pytest.raises(InputError, match=r"no manifest\.json.*mtlscheck pki init"):
        PKI.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(InputError, match=r"invalid .*manifest\.json"):
        PKI.load(tmp_path)
    (tmp_path / "manifest.json").write_text('{"version": 99}')
    with pytest.raises(InputError, match="unsupported version"):
        PKI.load(tmp_path)


def test_load_missing_file(tmp_path: Path) -> None:
    init_pki(tmp_path)
    (tmp_path / "wrong-ca.pem").unlink()
    with pytest.raises(InputError, match=r"wrong-ca cert: file .*wrong-ca\.pem is missing"):
        PKI.load(tmp_path)


def test_bad_hosts(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        init_pki(tmp_path / "a", hosts=())
    with pytest.raises(UsageError):
        init_pki(tmp_path / "b", hosts=("bad host;",))
    assert not (tmp_path / "b").exists()


def test_write_private_key_mode_and_force(tmp_path: Path) -> None:
    key = new_key()
    path = tmp_path / "k.key"
    path.write_text("old")
    path.chmod(0o644)
    with pytest.raises(InputError, match="exists; use --force"):
        write_private_key(path, key)
    assert path.read_text() == "old"
    write_private_key(path, key, force=True, password=b"pw")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=b"pw")
    assert loaded.public_key() == key.public_key()
    with pytest.raises(InputError):
        write_pem(path, make_ca("x").cert)


# --------------------------------------------------------------------------- building blocks


def test_make_ca_with_exact_name_lookalike(pki: PKI) -> None:
    trusted = pki.issued("ca")
    lookalike = make_ca(trusted.cert.subject)
    assert lookalike.cert.subject == trusted.cert.subject
    assert is_self_signed(lookalike.cert)
    leaf = make_leaf(lookalike, "valid-client", emails=["valid-client@mtlscheck.test"])
    assert leaf.cert.issuer == trusted.cert.subject
    with pytest.raises(InvalidSignature):
        leaf.cert.verify_directly_issued_by(trusted.cert)
    with pytest.raises(VerificationError):
        PolicyBuilder().store(Store([trusted.cert])).build_client_verifier().verify(leaf.cert, [])


def test_string_subject() -> None:
    ca = make_ca("Example CA")
    assert ca.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Example CA"
    org = ca.cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    assert org == "mtlscheck test PKI"


def test_deep_chain_order() -> None:
    root = make_ca("root")
    i1 = make_ca("i1", issuer=root, path_length=1)
    i2 = make_ca("i2", issuer=i1, path_length=0)
    leaf = make_leaf(i2, "deep", emails=["deep@mtlscheck.test"])
    assert i1.chain == ()
    assert i2.chain == (i1.cert,)
    assert leaf.chain == (i2.cert, i1.cert)  # nearest first, as a client sends them
    PolicyBuilder().store(Store([root.cert])).max_chain_depth(3).build_client_verifier().verify(
        leaf.cert, list(leaf.chain)
    )


def test_make_leaf_options() -> None:
    ca = make_ca("ca")
    key = new_key()
    leaf = make_leaf(ca, "both", key=key, client=True, server=True, hosts=["a.example", "::1"])
    assert leaf.key is key
    assert _ekus(leaf.cert) == [CLIENT, SERVER]
    san = leaf.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["a.example"]
    none = make_leaf(ca, "none", ekus=[])
    with pytest.raises(x509.ExtensionNotFound):
        none.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    selfsigned = make_leaf(None, "me")
    assert is_self_signed(selfsigned.cert) and selfsigned.chain == ()
    with pytest.raises(UsageError):
        make_leaf(ca, "bad", not_before=datetime(2030, 1, 1))  # naive datetime
    crl = make_crl(ca, [1, 2, 3])
    assert sorted(r.serial_number for r in crl) == [1, 2, 3]
    assert isinstance(Issued(cert=ca.cert, key=ca.key), Issued)


def test_rsa_variant(tmp_path: Path) -> None:
    pki, _ = init_pki(tmp_path, key_type="rsa", hosts=["example.test"])
    assert PKI.load(tmp_path).key_type == "rsa"
    valid = pki.issued("valid")
    assert isinstance(valid.key, rsa.RSAPrivateKey) and valid.key.key_size == 2048
    ku = valid.cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.key_encipherment
    ca_ku = pki.issued("ca").cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert not ca_ku.key_encipherment
    _client_verify(pki, "valid")
    _client_verify(pki, "intermediate")
    with pytest.raises(VerificationError):
        _client_verify(pki, "wrong-ca")


# --------------------------------------------------------------------------- snippets


def test_nginx_config(pki: PKI) -> None:
    text = nginx_config(pki, listen="127.0.0.1:8443")
    assert "listen 127.0.0.1:8443 ssl;" in text
    assert f"ssl_certificate     {pki.server_cert};" in text
    assert f"ssl_certificate_key {pki.server_key};" in text
    assert f"ssl_client_certificate {pki.ca_cert};" in text
    assert f"ssl_crl {pki.crl};" in text
    for line in (
        "ssl_verify_client on;",
        "ssl_verify_depth 2;",
        "ssl_protocols TLSv1.2 TLSv1.3;",
        'return 200 "ok\\n";',
    ):
        assert line in text
    assert text.count("{") == text.count("}")
    assert "root /srv/x;" in nginx_config(pki, root="/srv/x")
    assert "listen 443 ssl;" in nginx_config(pki)
    with pytest.raises(UsageError):
        nginx_config(pki, listen="443; evil")


def test_apache_config(pki: PKI) -> None:
    text = apache_config(pki, listen="127.0.0.1:8443", server_name="example.test")
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert lines[0] == "Listen 127.0.0.1:8443 https"
    assert lines[1] == "<VirtualHost 127.0.0.1:8443>"
    assert lines[-1] == "</VirtualHost>"
    for line in (
        "ServerName example.test",
        "SSLEngine on",
        "SSLVerifyClient require",
        "SSLVerifyDepth 2",
        "SSLCARevocationCheck chain",
        "SSLProtocol -all +TLSv1.2 +TLSv1.3",
        f'SSLCertificateFile "{pki.server_cert}"',
        f'SSLCertificateKeyFile "{pki.server_key}"',
        f'SSLCACertificateFile "{pki.ca_cert}"',
        f'SSLCARevocationFile "{pki.crl}"',
        f'DocumentRoot "{pki.www}"',
    ):
        assert f"    {line}" in text or line in lines[:2], line
    plain = apache_config(pki, listen="8443", document_root="/var/www/html")
    assert "<VirtualHost *:8443>" in plain and 'DocumentRoot "/var/www/html"' in plain


def test_curl_command(pki: PKI) -> None:
    d = pki.directory
    assert curl_command(pki, "https://localhost:8443/") == (
        f"curl --cacert {d}/ca.pem --cert {d}/valid.pem --key {d}/valid.key https://localhost:8443/"
    )
    assert f"--cert {d}/intermediate-chain.pem " in curl_command(pki, "https://h/", "intermediate")


def test_client_roles_constant() -> None:
    assert set(CLIENT_ROLES) <= set(ROLES)
    assert "server" not in CLIENT_ROLES and "ca" not in CLIENT_ROLES
