"""Verdicts on servers the rest of the suite never sees: lighttpd (mod_openssl), socat
(OPENSSL-LISTEN), ``openssl s_server -www`` and Python's ``ssl`` behind ``http.server`` and
``asyncio`` - each required and, where the server has the mode, optional or off, over TLS 1.2
and 1.3, ``RUNS`` times (every run must give the same outcomes).

What is right, per configuration (checked by hand against ``openssl s_client`` and curl):

* required: ``no-cert``, ``expired`` and ``wrong-ca`` are refused at the TLS layer after a
  CertificateRequest (an alert - or, for asyncio, which drops OpenSSL's alert, a hang-up)
  -> ``pass``; ``valid`` gets HTTP 200; the layered verdict is ``enforced-tls``.
* optional (the server requests a certificate but lets a client without one in): ``no-cert``
  gets HTTP 200 -> ``fail``, the layered verdict ``fail-open``.  A bad certificate that IS
  sent is still refused, except by lighttpd without ``enforce``, which lets everyone in.
* off: no CertificateRequest, ``no-cert`` gets 200 -> ``fail``, layered verdict ``off``.

The last tests pin two engine findings on a TLS terminator whose application hangs up on every
client (a dead backend): such a hang-up is not the server refusing a certificate.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import require_server
from servers import LighttpdServer, OpenSSLServer, PythonSslServer, RealServer, SocatServer
from stability import run, stable

from mtlscheck._model import AuthVerdict, OutcomeKind, Phase, ProbeResult, Verdict
from mtlscheck._pki import PKI
from mtlscheck._verdict import CERT_ALERTS

pytestmark = pytest.mark.realserver

PROBES = ("no-cert", "expired", "wrong-ca", "valid")
BAD = ("no-cert", "expired", "wrong-ca")

# (id, server class, verify mode, extra fragment arguments)
CASES: list[tuple[str, type[RealServer], str, dict[str, str]]] = [
    ("lighttpd-required", LighttpdServer, "required", {}),
    ("lighttpd-optional", LighttpdServer, "optional", {}),
    ("lighttpd-off", LighttpdServer, "off", {}),
    ("socat-required", SocatServer, "required", {}),
    ("socat-off", SocatServer, "off", {}),
    ("openssl-required", OpenSSLServer, "required", {}),
    ("openssl-optional", OpenSSLServer, "optional", {}),
    ("python-threading-required", PythonSslServer, "required", {"variant": "threading"}),
    ("python-threading-optional", PythonSslServer, "optional", {"variant": "threading"}),
    ("python-asyncio-required", PythonSslServer, "required", {"variant": "asyncio"}),
    ("python-asyncio-optional", PythonSslServer, "optional", {"variant": "asyncio"}),
]


def refused_at_tls(r: ProbeResult) -> bool:
    o = r.outcome
    assert o is not None
    if o.kind is OutcomeKind.TLS_ALERT:
        # OpenSSL's alert for "no certificate" before TLS 1.3's certificate_required.
        return o.alert in CERT_ALERTS or (r.probe, o.alert) == ("no-cert", "handshake_failure")
    return o.is_tls_hangup


@pytest.mark.parametrize(
    ("cls", "verify", "extra"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_verdicts_match_the_configuration(
    cls: type[RealServer], verify: str, extra: dict[str, str], test_pki_dir: Path, server_pki: PKI
) -> None:
    require_server(cls)
    frag = cls.mtls_fragment(  # type: ignore[attr-defined]
        server_cert=server_pki.server_cert,
        server_key=server_pki.server_key,
        client_ca=server_pki.ca_cert,
        verify=verify,
        **extra,
    )
    with cls(frag) as server:
        runs = run(server.url, test_pki_dir, PROBES)
        what = f"{cls.name} {verify} {extra}\n{server.config_text}"
        got = stable(runs, what)
        logs = server.logs()[-1500:]
    what += "\n" + "\n".join(f"{k}: {r.verdict.value} {r.outcome}" for k, r in got.items())
    what += "\n" + logs
    assert sorted(got) == sorted((p, v) for p in PROBES for v in ("1.2", "1.3")), what
    verdict = runs[0].auth_verdict

    for (probe, tls), r in got.items():
        o = r.outcome
        assert o is not None and o.kind is not OutcomeKind.INTERNAL, what
        assert o.kind not in (OutcomeKind.TLS_LOCAL, OutcomeKind.TLS_VERSION), what
        assert r.facts is not None and r.facts.cert_requested is (verify != "off"), what
        if probe == "valid":
            assert (o.kind, o.status, r.verdict) == (OutcomeKind.HTTP, 200, Verdict.PASS), what
            continue
        lets_in = verify == "off" or (verify == "optional" and probe == "no-cert")
        lets_in = lets_in or (cls is LighttpdServer and verify == "optional")
        if lets_in:
            assert (o.kind, o.status, r.verdict) == (OutcomeKind.HTTP, 200, Verdict.FAIL), what
        else:
            assert refused_at_tls(r), what
            assert r.verdict is Verdict.PASS, what
            # TLS 1.3 judges the certificate after the client's Finished.
            want = Phase.AFTER_HANDSHAKE if tls == "1.3" else Phase.HANDSHAKE
            assert o.phase is want, what

    expected = {
        "required": AuthVerdict.ENFORCED_TLS,
        "optional": AuthVerdict.FAIL_OPEN,
        "off": AuthVerdict.OFF,
    }[verify]
    assert verdict is expected, f"{verdict} ({runs[0].auth_reason})\n{what}"


# --------------------------------------------------------------------------- a dead backend


@pytest.mark.parametrize("variant", ["hangup-reset", "hangup-close"])
def test_a_server_that_hangs_up_on_everyone_proves_nothing(
    variant: str, test_pki_dir: Path, server_pki: PKI
) -> None:
    """CERT_REQUIRED without a CRL, and an application that answers nobody: it resets (or
    closes with close_notify) every connection after reading the request.  The TLS layer
    accepted ``revoked`` (TLS 1.2: the handshake completed; TLS 1.3: a NewSessionTicket came),
    and ``valid`` meets the very same hang-up, so that hang-up is not a certificate refusal:
    ``revoked`` must not pass.  And a clean close with no byte of HTTP is ``connect closed``
    (after-handshake), as the contract says, not ``bad-http``."""
    require_server(PythonSslServer)
    frag = PythonSslServer.mtls_fragment(
        server_cert=server_pki.server_cert,
        server_key=server_pki.server_key,
        client_ca=server_pki.ca_cert,
        variant=variant,
    )
    with PythonSslServer(frag) as server:
        runs = run(server.url, test_pki_dir, ("no-cert", "revoked", "valid"))
    got = stable(runs, variant)
    what = "\n".join(f"{k}: {r.verdict.value} {r.reason} {r.outcome}" for k, r in got.items())
    # A reset that follows the request may surface as a reset or as the connection ending.
    reasons = ("reset", "closed") if variant == "hangup-reset" else ("closed",)
    for tls in ("1.2", "1.3"):
        valid, revoked = got[("valid", tls)], got[("revoked", tls)]
        for r in (valid, revoked):
            assert r.outcome is not None and r.outcome.kind is OutcomeKind.CONNECT, what
            assert r.outcome.reason in reasons, what
            assert r.outcome.phase is Phase.AFTER_HANDSHAKE, what
        assert revoked.verdict is not Verdict.PASS, what
        assert got[("no-cert", tls)].verdict is Verdict.PASS, what
    # ... and the per-target verdict does not count that hang-up as enforcement either.
    for res in runs:
        assert "not proven: revoked" in res.auth_reason, res.auth_reason
