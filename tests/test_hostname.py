"""The server-name check and the A-label conversion, held to the tools a user checks us against.

Each row is one certificate (its SAN, or only a subject CN) and one name.  The row says what
mtlscheck must answer, and the test asks the references the same question about the same
certificate:

* ``openssl x509 -checkhost / -checkip`` (OpenSSL's ``X509_check_host`` with flags 0), given
  the A-label form of the name;
* Python's ``ssl`` (a real handshake over memory BIOs, ``check_hostname`` on, the certificate as
  the only trust anchor), given the name as typed.

Where a reference is known to answer otherwise, the row names it and why, and the test checks
that it really does (so the documented difference cannot go stale).  Measured with OpenSSL 3.0
and curl 7.88 (libidn2), which agrees with every ``expected`` value below: it strips a trailing
dot, refuses partial wildcards and ``*.example``, and maps ``faß`` with IDNA 2008.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import ssl
import subprocess
import tempfile
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mtlscheck._errors import UsageError
from mtlscheck._hostname import (
    _ip,
    _openssl_matches,
    _python_matches,
    name_matches,
    to_ascii_host,
)

PARTIAL = "openssl -checkhost allows partial wildcards; Python's ssl and curl do not"
TRAILING_DOT = "Python's ssl hands the trailing dot to OpenSSL, curl strips it (as we do)"
IDNA2003 = "Python's ssl maps ß to ss (IDNA 2003); curl/libidn2 and we use IDNA 2008"
BRACKETS = "Python's ssl takes no [brackets] around an IPv6 literal"


@dataclass(frozen=True)
class Row:
    san: tuple[str, ...]
    """DNS names; ``IP:`` prefixes an iPAddress.  Empty: no SAN extension at all."""
    name: str
    expected: bool
    cn: str = "cn.invalid"
    openssl_differs: str = ""
    pyssl_differs: str = ""

    @property
    def id(self) -> str:
        return f"{','.join(self.san) or 'CN=' + self.cn}~{self.name}"


ROWS = [
    # exact names, case, trailing dots
    Row(("example.com",), "example.com", True),
    Row(("example.com",), "EXAMPLE.Com", True),
    Row(("Example.COM",), "example.com", True),
    Row(("example.com",), "example.com.", True, pyssl_differs=TRAILING_DOT),
    Row(("example.com.",), "example.com", False),
    Row(("example.com",), "www.example.com", False),
    Row(("a_b.internal",), "a_b.internal", True),
    # wildcards: one whole left-most label, at least two labels below it
    Row(("*.example.com",), "foo.example.com", True),
    Row(("*.example.com",), "FOO.Example.COM", True),
    Row(("*.example.com",), "example.com", False),
    Row(("*.example.com",), "a.b.example.com", False),
    Row(("*.example",), "foo.example", False),  # the old hand-written check said True
    Row(("*.com",), "example.com", False),
    Row(("f*.example.com",), "foo.example.com", False, openssl_differs=PARTIAL),
    Row(("*oo.example.com",), "foo.example.com", False, openssl_differs=PARTIAL),
    Row(("foo.*.example.com",), "foo.bar.example.com", False),
    Row(("*.example.com",), "my_host.example.com", False),
    Row(("*.example.com",), "xn--bcher-kva.example.com", True),
    Row(("other.example", "*.example.com"), "api.example.com", True),
    # internationalised names: the SAN holds the A-label, the URL may hold the U-label
    Row(("xn--bcher-kva.example",), "bücher.example", True),
    Row(("xn--bcher-kva.example",), "BÜCHER.example", True),
    Row(("xn--bcher-kva.example",), "xn--bcher-kva.example", True),
    Row(("xn--bcher-kva.example",), "bucher.example", False),
    Row(("*.xn--bcher-kva.example",), "shop.bücher.example", True),
    Row(("xn--fa-hia.example",), "faß.example", True, pyssl_differs=IDNA2003),
    Row(("fass.example",), "faß.example", False, pyssl_differs=IDNA2003),
    # IP addresses: only iPAddress SANs count, never a DNS SAN or the CN spelling them
    Row(("IP:127.0.0.1",), "127.0.0.1", True),
    Row(("IP:127.0.0.1",), "127.0.0.2", False),
    Row(("127.0.0.1",), "127.0.0.1", False),
    Row(("example.com",), "127.0.0.1", False),
    Row(("IP:::ffff:127.0.0.1",), "127.0.0.1", False),
    Row(("IP:::1",), "::1", True),
    Row(("IP:::1",), "[::1]", True, pyssl_differs=BRACKETS),
    Row(("IP:2001:db8::1",), "2001:DB8:0:0::1", True),
    Row(("IP:2001:db8::1",), "2001:db8::2", False),
    Row((), "127.0.0.1", False, cn="127.0.0.1"),
    # the subject CN counts only when there is no DNS name at all
    Row((), "cn.example", True, cn="cn.example"),
    Row((), "a.cn.example", True, cn="*.cn.example"),
    Row(("other.example",), "cn.example", False, cn="cn.example"),
    Row(("IP:127.0.0.1",), "cn.example", True, cn="cn.example"),
]


def make_cert(row: Row) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, row.cn)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
    )
    names: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address(s[3:])) if s.startswith("IP:") else x509.DNSName(s)
        for s in row.san
    ]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hashes.SHA256()), key


def openssl_says(cert: x509.Certificate, name: str) -> bool:
    """``openssl x509 -checkhost`` / ``-checkip`` for the same certificate and name."""
    pem = cert.public_bytes(serialization.Encoding.PEM)
    ip = _ip(name.strip("[]"))
    args = ["-checkip", str(ip)] if ip is not None else ["-checkhost", name]
    out = subprocess.run(
        ["openssl", "x509", "-noout", *args], input=pem, capture_output=True, check=True
    ).stdout.decode()
    assert "does match" in out or "does NOT match" in out, out
    return "does NOT match" not in out


def pyssl_says(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, name: str) -> bool:
    """Python's ``ssl``: a client handshake with check_hostname, over memory BIOs."""
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.NamedTemporaryFile() as cf, tempfile.NamedTemporaryFile() as kf:
        cf.write(pem)
        kf.write(key_pem)
        cf.flush()
        kf.flush()
        server_ctx.load_cert_chain(cf.name, kf.name)
    client_ctx = ssl.create_default_context(cadata=pem.decode())
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    try:
        client = client_ctx.wrap_bio(c_in, c_out, server_hostname=name)
    except (ValueError, UnicodeError):
        return False  # Python refuses the name itself (e.g. [::1])
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        try:
            client.do_handshake()
            return True
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLCertVerificationError as exc:
            assert exc.verify_code in (62, 64), exc  # hostname / IP mismatch, nothing else
            return False
        s_in.write(c_out.read())
        with contextlib.suppress(ssl.SSLWantReadError):
            server.do_handshake()
        c_in.write(s_out.read())
    raise AssertionError("the in-memory handshake did not finish")


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_name_check_agrees_with_openssl_and_python_ssl(row: Row) -> None:
    cert, key = make_cert(row)
    assert name_matches(cert, row.name) is row.expected

    host = to_ascii_host(row.name)
    # The answer came from OpenSSL's own check (not the fallback), and the fallback agrees.
    assert _openssl_matches(cert, host, _ip(host)) is row.expected
    assert _python_matches(cert, host, _ip(host)) is row.expected

    from_openssl = openssl_says(cert, host)
    assert from_openssl is (row.expected ^ bool(row.openssl_differs)), row.openssl_differs
    from_pyssl = pyssl_says(cert, key, row.name)
    assert from_pyssl is (row.expected ^ bool(row.pyssl_differs)), row.pyssl_differs


@pytest.mark.parametrize(
    ("name", "ascii"),
    [
        ("example.com", "example.com"),
        ("API.Example.COM", "api.example.com"),
        ("example.com.", "example.com"),
        ("a_b.internal", "a_b.internal"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.Example.", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("faß.example", "xn--fa-hia.example"),
        ("ドメイン.テスト", "xn--eckwd4c7c.xn--zckzah"),
        ("bücher\u3002example", "xn--bcher-kva.example"),  # ideographic full stop
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
    ],
)
def test_to_ascii_host(name: str, ascii: str) -> None:
    assert to_ascii_host(name) == ascii


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "a..b",
        "example.com..",
        "bad host",
        "x:y",
        "*.example",
        "☃.example",
        "xn--zz-.example",
        "ü." + "a" * 64,
        "ab.\u0301x",
    ],
)
def test_to_ascii_host_refuses_invalid_names(name: str) -> None:
    with pytest.raises(UsageError) as err:
        to_ascii_host(name)
    message = str(err.value)
    assert message and "\n" not in message


def test_an_invalid_name_matches_nothing() -> None:
    cert, _ = make_cert(Row(("*.example.com",), "", True))
    assert name_matches(cert, "bad host.example.com") is False
