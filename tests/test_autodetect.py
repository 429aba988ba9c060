"""``--server auto`` judges again only the expectations that came from defaults.

Each target is probed like ``generic`` and then judged under the profile its evidence names.
A probe whose expectation the user wrote stays judged by what they wrote - also when they
wrote ``rejected``, the very text of the ``auto`` default: the plan's expectations carry where
they came from (:attr:`Expectation.from_default`), the text does not decide.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import require_server
from servers import NginxServer

from mtlscheck import check
from mtlscheck._expect import Expectation, ServerProfile, default_expectation
from mtlscheck._pki import PKI

pytestmark = pytest.mark.realserver


def nginx_optional_401(pki: PKI) -> str:
    """ssl_verify_client optional, and the application's check answers 401 (not nginx's 400
    or 403): a refusal the user may well call "rejected" while the nginx profile wants 400|403."""
    frag = NginxServer.mtls_fragment(
        server_cert=pki.server_cert,
        server_key=pki.server_key,
        client_ca=pki.ca_cert,
        crl=pki.crl,
        verify="optional",
    )
    marker = "        default_type text/plain;\n"
    assert marker in frag
    return frag.replace(
        marker, marker + "        if ($ssl_client_verify != SUCCESS) { return 401; }\n"
    )


def test_explicit_rejected_is_not_judged_again(server_pki: PKI, test_pki_dir: Path) -> None:
    require_server(NginxServer)
    with NginxServer(nginx_optional_401(server_pki)) as srv:
        result = check(
            srv.url,
            pki=test_pki_dir,
            server="auto",
            probes=["no-cert", "valid", "expired"],
            expect={"no-cert": "rejected"},
        )
    what = [(r.name, r.expected, r.outcome.summary if r.outcome else r.reason, r.verdict)
            for r in result.results]  # fmt: skip
    assert result.server_profile == "nginx", what
    by = {r.name: r for r in result.results}
    for v in ("1.2", "1.3"):
        no_cert, expired = by[f"no-cert[tls{v}]"], by[f"expired[tls{v}]"]
        assert no_cert.outcome is not None and no_cert.outcome.status == 401, what
        # what the user wrote: 401 is a rejection, so it passes
        assert (no_cert.expected, no_cert.verdict) == ("rejected", "pass"), what
        # the default was judged again under the detected profile (nginx's own 400 page)
        assert expired.expected == "400|403" and expired.verdict == "pass", what
    assert result.ok, what


def test_the_default_expectation_says_it_is_one() -> None:
    made = default_expectation(False, ServerProfile.AUTO)
    written = Expectation.parse("rejected")
    assert made.from_default and not written.from_default
    assert made == written and str(made) == str(written)  # the same expectation otherwise
    assert default_expectation(True, ServerProfile.AUTO).from_default


def test_every_default_expectation_is_marked_as_one() -> None:
    """Defaults that widen the rejection (``sni-mismatch`` also takes 421) are defaults too:
    ``auto`` judges them again under the detected profile; a user's ``--expect`` never."""
    from mtlscheck._runner import default_expectations

    planned = default_expectations(["sni-mismatch", "expired"], ServerProfile.AUTO, {})
    assert planned["sni-mismatch"].from_default and "421" in str(planned["sni-mismatch"])
    assert planned["expired"].from_default
    mine = default_expectations(["expired"], ServerProfile.AUTO, {"expired": "rejected"})
    assert not mine["expired"].from_default
