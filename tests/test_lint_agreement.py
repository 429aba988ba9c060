"""Lint and probe name a problem alike: every real-server misconfiguration of test_diagnose.py
is probed AND linted, and wherever both can see a problem they must name the same code.

"Can see": lint sees what a config and its CA/CRL files show (plus the client certificate the
probe presented, given as ``--client-cert``); a probe sees a code only when the probe that
reveals it ran (``revoked`` for revocation-not-checked, ...).  Codes only one side has
(lint: log levels, unreadable files; probe: the TLS 1.3 late-alert explanation, our side's
trust problems) are outside the comparison.  In both directions: a code the probe found must be
in lint's findings, and an error/warning lint found must be in the probe's (info findings of
lint describe risks a probe cannot demonstrate, such as the root trusted beside an advertised
intermediate).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import require_server
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from servers import ApacheServer, HAProxyServer, NginxServer
from test_diagnose import CASES, Case, codes, describe, paths, run_case

from mtlscheck._diagnose import Code
from mtlscheck._lint import lint_config
from mtlscheck._model import Severity
from mtlscheck._pki import PKI

pytestmark = pytest.mark.realserver

C = Code
ANY = None
# The probes that reveal each code lint can also find (ANY: every probe run shows it).
REVEALED_BY: dict[Code, frozenset[str] | None] = {
    C.CLIENT_AUTH_NOT_REQUESTED: ANY,
    C.CLIENT_AUTH_OPTIONAL: frozenset({"no-cert"}),
    C.PER_LOCATION_CLIENT_AUTH: ANY,
    C.VALID_CERT_REJECTED: frozenset({"valid"}),
    C.CA_NAMES_EXCLUDE_CLIENT_ISSUER: frozenset({"valid"}),
    C.CLIENT_CA_INCOMPLETE: frozenset({"valid"}),
    C.VERIFY_DEPTH_TOO_SMALL: frozenset({"valid"}),
    C.EXPIRED_CERT_ACCEPTED: frozenset({"expired"}),
    C.NOT_YET_VALID_CERT_ACCEPTED: frozenset({"not-yet-valid"}),
    C.FOREIGN_CA_ACCEPTED: frozenset({"wrong-ca", "self-signed", "lookalike-ca"}),
    C.CLIENT_EKU_NOT_ENFORCED: frozenset({"no-client-eku"}),
    C.REVOCATION_NOT_CHECKED: frozenset({"revoked"}),
    C.CHAIN_INCOMPLETE: frozenset({"chain-missing"}),
    C.TLS13_NOT_OFFERED: ANY,
    C.NOT_TLS: ANY,
}
LINTED = (NginxServer, ApacheServer, HAProxyServer)
# Cases about our own side (--cacert, --servername): nothing in the server config to compare.
AGREEMENT_CASES = [c for c in CASES if c.server in LINTED and "cacert" not in c.check_kwargs
                   and "servername" not in c.check_kwargs]  # fmt: skip


_TMP = Path(tempfile.mkdtemp(prefix="mtlscheck-agree-"))
_TMP.chmod(0o755)
atexit.register(shutil.rmtree, _TMP, True)


def _crl_file(pki: PKI, name: str, *, expired: bool, levels: tuple[str, ...]) -> Path:
    now = datetime.now(UTC)
    data = b""
    for role in levels:
        issuer = pki.issued(role)
        nxt = now - timedelta(days=1) if expired and role == "ca" else now + timedelta(days=30)
        crl = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer.cert.subject)
            .last_update(now - timedelta(days=30))
            .next_update(nxt)
            .sign(issuer.key, hashes.SHA256())
        )
        data += crl.public_bytes(serialization.Encoding.PEM)
    out = _TMP / name
    out.write_bytes(data)
    return out


def _root_and_intermediate(pki: PKI) -> Path:
    out = _TMP / "root-inter.pem"
    out.write_bytes(pki.ca_cert.read_bytes() + pki.role("intermediate-ca").cert.read_bytes())
    return out


# Misconfigurations lint finds in the CA/CRL files or in options test_diagnose does not cover:
# probed here too, so lint's claims about them are checked against the real servers.
LINT_CASES = [
    Case(
        "nginx-expired-crl",
        NginxServer,
        lambda p: NginxServer.mtls_fragment(
            **paths(p, crl=_crl_file(p, "expired.crl", expired=True, levels=("ca",)))
        ),
        ["valid"],
        present=codes(C.VALID_CERT_REJECTED),
    ),
    Case(
        # The probe cannot tell this from a too-small depth (nginx's 400 is the same): its
        # valid-cert-rejected names both; lint reads the CRL file and names it: no CRL from the
        # intermediate, (3:unable to get certificate CRL).
        "nginx-crl-for-the-root-only",
        NginxServer,
        lambda p: NginxServer.mtls_fragment(
            **paths(
                p,
                client_ca=_root_and_intermediate(p),
                crl=_crl_file(p, "root.crl", expired=False, levels=("ca",)),
            )
        ),
        ["valid"],
        identity="intermediate",
        present=codes(C.VALID_CERT_REJECTED),
    ),
    Case(
        "haproxy-crt-ignore-err-all",
        HAProxyServer,
        lambda p: HAProxyServer.mtls_fragment(**paths(p)).replace(
            " verify required", " verify required crt-ignore-err all"
        ),
        ["valid", "expired", "wrong-ca", "self-signed", "revoked", "no-client-eku"],
        present=codes(
            C.EXPIRED_CERT_ACCEPTED,
            C.FOREIGN_CA_ACCEPTED,
            C.REVOCATION_NOT_CHECKED,
            C.CLIENT_EKU_NOT_ENFORCED,
        ),
    ),
    Case(
        "apache-per-location-admin",
        ApacheServer,
        lambda p: (
            ApacheServer.mtls_fragment(**paths(p))
            .replace("    SSLVerifyClient require\n", "")
            .replace(
                "</VirtualHost>",
                "    <Location />\n        SSLVerifyClient require\n    </Location>\n"
                "</VirtualHost>",
            )
        ),
        ["no-cert", "valid", "revoked"],
        present=codes(C.PER_LOCATION_CLIENT_AUTH),
    ),
]


def visible(code: Code, case: Case) -> bool:
    probes = REVEALED_BY[code]
    ran = set(case.probes)
    if code is C.TLS13_NOT_OFFERED and case.tls == "1.2":
        return False
    return probes is ANY or "all" in ran or bool(probes & ran)


ALL_CASES = AGREEMENT_CASES + LINT_CASES


def test_every_linted_case_is_compared() -> None:
    ids = {c.id for c in AGREEMENT_CASES}
    assert {"nginx-verify-optional", "apache-per-location", "haproxy-verify-none"} <= ids
    assert len(ids) >= 15


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_lint_and_probe_agree(case: Case, server_pki: PKI, test_pki_dir: Path) -> None:
    require_server(case.server)
    identity = server_pki.role(case.identity or "valid")
    with case.server(case.fragment(server_pki)) as srv:
        probed = run_case(case, server_pki, test_pki_dir, srv.url)
        linted = lint_config(srv.config_path, client_cert=identity.send_file)
    probe_codes = {f.code for f in probed.findings}
    # A probe finding that names its cause as a guess ("likely: ...") is not something the
    # probe saw; lint, which reads the files, may know better (nginx-crl-for-the-root-only).
    probe_saw = {f.code for f in probed.findings if not f.message.startswith("likely")}
    compared = {c for c in REVEALED_BY if visible(c, case)}
    lint_codes = {f.code for f in linted.findings}
    lint_claims = {
        f.code for f in linted.findings if f.severity is not Severity.INFO
    }  # info: risks no probe can demonstrate
    what = f"{case.id}\n--- probe ---\n{describe(probed)}\n--- lint ---\n" + "\n".join(
        f"{f.loc}: {f.severity} {f.code}: {f.message}" for f in linted.findings
    )
    missed_by_lint = {c for c in compared if str(c) in probe_saw} - lint_codes
    missed_by_probe = {c for c in compared if str(c) in lint_claims} - probe_codes
    # With ssl_crl set, nginx answers a chain longer than its depth and a chain it lacks a CRL
    # for alike (both log "(3:unable to get certificate CRL)"): the probe names both causes in
    # valid-cert-rejected instead of guessing the depth (nginx-verify-depth-0).
    rejected_text = " ".join(f.message for f in probed.findings if f.code == C.VALID_CERT_REJECTED)
    if "or a verify depth smaller than the chain" in rejected_text:
        missed_by_probe.discard(C.VERIFY_DEPTH_TOO_SMALL)
    assert not missed_by_lint, f"probe found, lint did not: {missed_by_lint}\n{what}"
    assert not missed_by_probe, f"lint found, probe did not: {missed_by_probe}\n{what}"
    assert case.present <= probe_codes, f"the probe misses what the case is about\n{what}"
