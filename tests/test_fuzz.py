"""Fuzzing (hypothesis) of everything that parses user input.

The expectation language, suite files (as raw text, as generated TOML and as mutations of a
real suite), URLs and ``--resolve``, header/method/host-name checks, and PEM/DER/PKCS#12
loading.  None may raise anything but the documented errors (:class:`UsageError`,
:class:`InputError`); a ``TypeError``, ``ValueError``, ``RecursionError`` or ``MemoryError``
escaping one of them would be a traceback for the user.

``MTLSCHECK_FUZZ_EXAMPLES`` scales the number of examples (default: a CI-friendly run of a few
seconds per property; a hunt for new bugs sets it to a few thousand).  The example database is
off, so the run writes nothing into the tree.
"""

from __future__ import annotations

import math
import os
import string
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtlscheck._errors import InputError, MtlscheckError, UsageError
from mtlscheck._expect import Expectation
from mtlscheck._identity import load_certificates, load_identity
from mtlscheck._pki import PKI, init_pki
from mtlscheck._probes import CATALOGUE, select_probes
from mtlscheck._runner import Target
from mtlscheck._suite import OPTION_KEYS, parse_suite
from mtlscheck._validate import (
    check_header,
    check_hostname,
    check_method,
    check_timeout,
    parse_https_url,
    parse_resolve,
)

SCALE = int(os.environ.get("MTLSCHECK_FUZZ_EXAMPLES", "150"))


def fuzz(examples: int = SCALE) -> Any:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    p, _ = init_pki(tmp_path_factory.mktemp("fuzz") / "pki", p12_password="pw")
    return p


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-files")


# --------------------------------------------------------------------------- expectations

TERMS = ["200", "2xx", "4xx", "400", "accepted", "rejected", "alert", "alert:unknown_ca",
         "alert@after-handshake", "alert:bad_certificate@handshake", "closed", "reset",
         "connect:refused", "not-tls", "tls-local", "|", " ", "@", ":", "x"]  # fmt: skip


@fuzz(SCALE * 4)
@given(st.one_of(st.text(), st.lists(st.sampled_from(TERMS)).map("".join)))
def test_expectation_parser(text: str) -> None:
    try:
        parsed = Expectation.parse(text)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    assert Expectation.parse(str(parsed)) == parsed  # the canonical form parses to itself


# --------------------------------------------------------------------------- suites

_scalar = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(["1.2", "1.3", "both", "nginx", "all", "valid", "no-cert", "GET",
                     "https://127.0.0.1:1/", "https://[::1]:8443/x", "${HOME}", "${NOPE_X}"]),
)  # fmt: skip
_value = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from([*OPTION_KEYS, *CATALOGUE, "cert", "key", "x"]), inner, max_size=4
        ),
    ),
    max_leaves=12,
)


def _toml_key(k: str) -> str:
    if k and all(c in string.ascii_letters + string.digits + "_-" for c in k):
        return k
    return _toml_str(k)


def _toml_str(s: str) -> str:
    out = []
    for c in s:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF:
            out.append(f"\\u{ord(c) if ord(c) < 0xD800 else 0xFFFD:04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return "{" + ", ".join(f"{_toml_key(k)} = {_toml(x)}" for k, x in v.items()) + "}"


@st.composite
def suite_documents(draw: st.DrawFn) -> str:
    """Suites made of the real keys with random values: far more of them get past TOML."""
    lines = []
    if draw(st.booleans()):
        lines.append("[defaults]")
        for k, v in draw(st.dictionaries(st.sampled_from(OPTION_KEYS), _value, max_size=4)).items():
            lines.append(f"{_toml_key(k)} = {_toml(v)}")
    for _ in range(draw(st.integers(0, 3))):
        lines.append("[[targets]]")
        if draw(st.integers(0, 9)):
            url = draw(st.one_of(st.sampled_from(["https://127.0.0.1:1/", "https://a.test/"]),
                                 st.text(max_size=30)))  # fmt: skip
            lines.append(f"url = {_toml_str(url)}")
        keys = st.sampled_from([*OPTION_KEYS, "name", "bogus"])
        for k, v in draw(st.dictionaries(keys, _value, max_size=5)).items():
            lines.append(f"{_toml_key(k)} = {_toml(v)}")
    return "\n".join(lines) + "\n"


GOOD_SUITE = """version = 1
[defaults]
server = "nginx"
tls = ["1.2", 1.3]
timeout = 2.5
expect = {{ expired = "400|403", wrong-ca = "alert:unknown_ca@handshake" }}

[identities.ops]
cert = "{cert}"
key = "{key}"

[[targets]]
name = "api"
url = "https://127.0.0.1:8443/health?x=1"
identity = "ops"
ca = {{ cert = "{ca}", key = "{ca_key}" }}
probes = ["no-cert", "valid", "all"]
headers = {{ Host = "api.test", X-Trace = "1" }}
servername = "api.test"
method = "HEAD"

[[targets]]
url = "https://[::1]:9443/"
identities = {{ revoked = {{ cert = "{cert}", key = "{key}" }} }}
insecure = true
"""


@st.composite
def mutated_suites(draw: st.DrawFn, base: str) -> str:
    text = base
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "repeat"]))
        if op == "insert":
            text = text[:i] + draw(st.text(alphabet='[]{}=".,\n#\\ 0a', max_size=8)) + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 20)) :]
        else:
            text = text[:i] + text[i : i + 5] * draw(st.integers(2, 200)) + text[i + 5 :]
    return text


def _parse_and_validate(text: str, where: Path) -> None:
    try:
        suite = parse_suite(text, where / "mtls_fuzz.toml")
    except InputError as exc:
        assert "\n" not in str(exc)
        assert len(str(exc)) < 1000, str(exc)
        return
    try:
        suite.validate()  # loads files and checks values, never connects
    except InputError as exc:
        assert "\n" not in str(exc)


@fuzz()
@given(st.text())
def test_suite_parser_raw_text(workdir: Path, text: str) -> None:
    _parse_and_validate(text, workdir)


@fuzz(SCALE * 2)
@given(suite_documents())
def test_suite_parser_generated_documents(workdir: Path, text: str) -> None:
    _parse_and_validate(text, workdir)


@fuzz(SCALE * 2)
@given(st.data())
def test_suite_parser_mutations_of_a_real_suite(
    pki: PKI, workdir: Path, data: st.DataObject
) -> None:
    valid = pki.role("valid")
    base = GOOD_SUITE.format(cert=valid.cert, key=valid.key, ca=pki.ca_cert, ca_key=pki.ca_key)
    parse_suite(base, workdir / "mtls_fuzz.toml").validate()  # the base itself is good
    _parse_and_validate(data.draw(mutated_suites(base)), workdir)


# --------------------------------------------------------------------------- URLs, --resolve

_host = st.one_of(
    st.sampled_from(["localhost", "127.0.0.1", "[::1]", "[zz]", "[::1", "a" * 64, "b\u00fccher.de",
                     "xn--", "-a.b", "a..b", "", "[fe80::1%25eth0]", "user:pw@h", "h:"]),
    st.text(max_size=20),
)  # fmt: skip
_port = st.one_of(st.none(), st.integers(-5, 70000).map(str), st.text(max_size=6))


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["https://", "http://", "HTTPS://", "", "https:/"]))
    port = draw(_port)
    path = draw(st.sampled_from(["/", "", "/x?y=1#f", "/\u00e9", " /"]))
    return f"{scheme}{draw(_host)}{'' if port is None else ':' + port}{path}"


@fuzz(SCALE * 4)
@given(st.one_of(urls(), st.text()))
def test_url_parsing(url: str) -> None:
    try:
        host, port = parse_https_url(url)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    assert 0 < port < 65536 and host
    Target(url=url)  # what the probe uses accepts what the parser accepted


@fuzz(SCALE * 4)
@given(st.one_of(st.text(), st.builds("{}:{}:{}".format, _host, _port, _host)), urls())
def test_resolve_parsing(value: str, url: str) -> None:
    try:
        addr = parse_resolve(value, url)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    assert addr and "[" not in addr


@fuzz(SCALE * 4)
@given(st.text(), st.text(), st.text(), st.text())
def test_value_checks(name: str, value: str, method: str, host: str) -> None:
    for call in (
        lambda: check_header(name, value),
        lambda: check_method(method),
        lambda: check_hostname(host, "--servername"),
        lambda: select_probes(name),
        lambda: select_probes([name, value]),
    ):
        try:
            call()
        except UsageError as exc:
            assert "\n" not in str(exc)


@fuzz()
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.booleans()))
def test_timeout_check(value: float) -> None:
    try:
        out = check_timeout(value)
    except UsageError:
        return
    assert 0 < out <= 3600 and math.isfinite(out)


# --------------------------------------------------------------------------- PEM / DER / PKCS#12


def _samples(pki: PKI) -> dict[str, bytes]:
    valid = pki.role("valid")
    assert valid.key is not None
    pem = valid.cert.read_bytes()
    der = load_certificates(valid.cert)[0].public_bytes(serialization.Encoding.DER)
    key_pem = valid.key.read_bytes()
    key = serialization.load_pem_private_key(key_pem, None)
    key_der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert pki.p12 is not None
    return {
        "pem": pem,
        "der": der,
        "key_pem": key_pem,
        "key_der": key_der,
        "combined": pem + key_pem,
        "p12": pki.p12.read_bytes(),
        "p12_nopw": pkcs12.serialize_key_and_certificates(
            b"x",
            key,
            load_certificates(valid.cert)[0],
            None,
            serialization.NoEncryption(),  # type: ignore[arg-type]
        ),
    }


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        if not out:
            break
        i = draw(st.integers(0, len(out) - 1))
        op = draw(st.sampled_from(["flip", "cut", "dup", "zero"]))
        if op == "flip":
            out[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del out[i : i + draw(st.integers(1, 64))]
        elif op == "dup":
            out[i:i] = out[i : i + draw(st.integers(1, 64))]
        else:
            out[i] = 0
    return bytes(out)


@fuzz(SCALE * 3)
@given(st.data())
def test_pem_der_p12_loading(pki: PKI, workdir: Path, data: st.DataObject) -> None:
    samples = _samples(pki)
    kind = data.draw(st.sampled_from(sorted(samples)))
    blob = data.draw(st.one_of(mutated(samples[kind]), st.binary(max_size=300)))
    suffix = ".p12" if kind.startswith("p12") and data.draw(st.booleans()) else ".pem"
    cert = workdir / f"fuzz-cert{suffix}"
    key = workdir / "fuzz.key"
    cert.write_bytes(blob)
    key.write_bytes(data.draw(st.one_of(st.just(samples["key_pem"]), mutated(samples["key_der"]))))
    password = data.draw(st.sampled_from([None, b"pw", b"wrong"]))
    for call in (
        lambda: load_certificates(cert),
        lambda: load_identity(cert, password=password),
        lambda: load_identity(cert, key, password=password),
    ):
        try:
            call()
        except InputError as exc:
            assert "\n" not in str(exc)


def test_documented_errors_only() -> None:
    """What the properties above accept as "documented": the two classes, both exit 2."""
    assert issubclass(UsageError, MtlscheckError) and issubclass(InputError, MtlscheckError)
    assert {UsageError.exit_code, InputError.exit_code} == {2}
