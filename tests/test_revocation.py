"""The ``revoked`` probe's revocation facts (:mod:`mtlscheck._revocation`): enforced or not,
and which mechanisms (a CRL listing it, an OCSP URL in the certificate) could have refused it,
in the result, its JSON and the ``revocation-not-checked`` message.  Built from results here;
against real nginx and Apache in ``test_ocsp_real.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtlscheck._diagnose import Code
from mtlscheck._model import (
    Outcome,
    OutcomeKind,
    Phase,
    ProbeResult,
    RevocationInfo,
    RunResult,
    TargetResult,
    Verdict,
)
from mtlscheck._pki import PKI, init_pki, make_crl, write_pem
from mtlscheck._revocation import annotate, crl_lists, mechanism_text, static_info

OCSP_URL = "http://127.0.0.1:9/ocsp"  # never contacted: what the certificates name


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    pki, _ = init_pki(tmp_path_factory.mktemp("rev") / "pki", ocsp_url=OCSP_URL)
    return pki


URL = "https://api.internal:8443/"


def result(probe: str, outcome: Outcome, version: str = "1.3") -> ProbeResult:
    return ProbeResult(probe, URL, version, "rejected", Verdict.PASS, outcome)


HTTP_200 = Outcome(OutcomeKind.HTTP, status=200)
REVOKED_ALERT = Outcome(
    OutcomeKind.TLS_ALERT, alert="certificate_revoked", phase=Phase.AFTER_HANDSHAKE
)
NGINX_400 = Outcome(OutcomeKind.HTTP, status=400, detail="The SSL certificate error")
REFUSED = Outcome(OutcomeKind.CONNECT, reason="refused")


def test_static_info_reads_the_certificate_and_the_pki_crl(pki: PKI, tmp_path: Path) -> None:
    info = static_info(pki.issued("revoked").cert, pki)
    assert info.ocsp_urls == (OCSP_URL,)
    assert info.crl_file == str(pki.crl)
    assert info.mechanisms == ("crl", "ocsp")
    assert static_info(pki.issued("valid").cert, pki).crl_file is None  # not listed
    plain, _ = init_pki(tmp_path / "plain")
    bare = static_info(plain.issued("revoked").cert, None)
    assert bare.mechanisms == () and bare.ocsp_urls == ()


@pytest.mark.parametrize(
    ("outcome", "enforced", "by_revocation"),
    [
        (HTTP_200, False, False),
        (REVOKED_ALERT, True, True),
        (NGINX_400, True, False),
        (REFUSED, None, False),
    ],
)
def test_annotate_says_whether_revocation_was_enforced(
    pki: PKI, outcome: Outcome, enforced: bool | None, by_revocation: bool
) -> None:
    target = TargetResult(URL, (result("revoked", outcome), result("valid", HTTP_200)))
    ident = pki.issued("revoked")
    out = annotate(target, {"revoked": ident}, pki)
    rev, valid = out.results
    assert valid.revocation is None
    assert rev.revocation is not None
    assert rev.revocation.enforced is enforced
    assert rev.revocation.by_revocation is by_revocation
    assert rev.revocation.how == outcome.summary
    doc = RunResult((out,)).to_dict()["targets"][0]["probes"][0]["revocation"]
    assert doc == {
        "enforced": enforced,
        "how": outcome.summary,
        "by_revocation": by_revocation,
        "mechanisms": ["crl", "ocsp"],
        "crl_file": str(pki.crl),
        "crl_urls": [],
        "ocsp_urls": [OCSP_URL],
    }
    codes = {f.code for f in out.findings}
    assert (Code.REVOCATION_NOT_CHECKED in codes) is (enforced is False)


def test_finding_names_the_mechanisms(pki: PKI, tmp_path: Path) -> None:
    target = TargetResult(
        URL,
        (result("revoked", HTTP_200), result("expired", NGINX_400), result("valid", HTTP_200)),
    )
    out = annotate(target, {"revoked": pki.issued("revoked")}, pki)
    (f,) = [f for f in out.findings if f.code == Code.REVOCATION_NOT_CHECKED]
    assert f"the CRL {pki.crl} lists it" in f.message
    assert f"names the OCSP responder {OCSP_URL}" in f.message
    assert "ssl_ocsp on" in f.message and "SSLOCSPEnable on" in f.message
    plain, _ = init_pki(tmp_path / "plain")
    out = annotate(target, {"revoked": plain.issued("revoked")}, None)
    (f,) = [f for f in out.findings if f.code == Code.REVOCATION_NOT_CHECKED]
    assert "names no OCSP responder" in f.message and "SSLOCSPDefaultResponder" in f.message
    assert "knows no CRL listing it" in f.message


def test_no_revoked_result_leaves_the_target_alone() -> None:
    target = TargetResult(URL, (result("valid", HTTP_200),))
    assert annotate(target, {}, None) is target
    assert mechanism_text([]) == ""
    assert RevocationInfo(enforced=None).to_dict()["mechanisms"] == []


def test_crl_file_listing_is_checked_per_issuer(pki: PKI, tmp_path: Path) -> None:
    """A CRL of another CA with the same serial does not list the certificate."""
    cert = pki.issued("revoked").cert
    other = make_crl(pki.issued("other-ca"), [cert.serial_number])
    path = tmp_path / "other.pem"
    write_pem(path, other)
    assert not crl_lists(path, cert)
    assert crl_lists(pki.crl, cert)
    assert not crl_lists(tmp_path / "missing.pem", cert)


@pytest.mark.parametrize(
    ("revoked", "enforced"),
    [
        (NGINX_400, None),
        (Outcome(OutcomeKind.TLS_ALERT, alert="handshake_failure"), None),
        (REVOKED_ALERT, True),
        (HTTP_200, False),
    ],
)
def test_refused_like_valid_is_not_a_revocation_check(
    pki: PKI, revoked: Outcome, enforced: bool | None
) -> None:
    """An OCSP responder the server cannot reach refuses everyone: the revoked certificate's
    refusal then proves nothing, unless the server said certificate_revoked."""
    target = TargetResult(
        URL,
        (
            result("revoked", revoked),
            result("valid", NGINX_400),
            result("valid", HTTP_200, version="1.2"),  # another version: not compared
        ),
    )
    out = annotate(target, {"revoked": pki.issued("revoked")}, pki)
    info = out.results[0].revocation
    assert info is not None and info.enforced is enforced
    if enforced is None:
        assert "valid is refused too" in info.how
