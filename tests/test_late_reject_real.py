"""Servers that reject a bad client certificate on TLS 1.3 by sending the alert and closing at
once (issue 7): stunnel 5.68 and gunicorn 20.1 (Python ``ssl``), both on OpenSSL 3.0.

On TLS 1.3 the server judges the client certificate only after the client's Finished, when
the client already believes the handshake is over.  These servers then send their alert and
close straight away; a client that writes its request first can hit the closed socket before
it reads the alert (curl: exit 55 instead of 56, varying between runs).  mtlscheck must report
the real alert, after the handshake, on every run.

Each bad-certificate probe runs ``RUNS`` times per server and TLS version; every run must give
the same outcome, a ``tls-alert`` with the alert in ``ALERTS`` in the version's phase, and
verdict ``pass``.  ``valid`` must get HTTP 200.  ``test_table_is_what_openssl_s_client_sees``
checks ``ALERTS`` against ``openssl s_client``, which reads before it writes and so always
sees the alert: the table holds observed facts, not guesses.
"""

from __future__ import annotations

import collections
import re
import subprocess
from pathlib import Path

import pytest
from servers import GunicornServer, RealServer, StunnelServer

import mtlscheck
from mtlscheck import _pki
from mtlscheck._model import OutcomeKind, Phase, ProbeResult, TargetResult, Verdict
from mtlscheck._pki import PKI

pytestmark = pytest.mark.realserver

RUNS = 20
VERSIONS = ("1.2", "1.3")
PHASE = {"1.2": Phase.HANDSHAKE, "1.3": Phase.AFTER_HANDSHAKE}

# The alert each server sends per probe and TLS version, as `openssl s_client` shows it
# (stunnel 5.68: verifyChain + requireCert + CRLfile; gunicorn 20.1: --cert-reqs 2; both
# trust the test root CA only).  None: the server cannot judge that probe (gunicorn's
# ssl.wrap_socket has no CRL check, so it accepts the revoked certificate with HTTP 200).
# TLS 1.2 no-cert is handshake_failure, OpenSSL's alert for a missing certificate before
# TLS 1.3 introduced certificate_required.
# fmt: off
ALERTS: dict[str, dict[str, tuple[str | None, str | None]]] = {
    # probe          {server: (TLS 1.2 alert, TLS 1.3 alert)}
    "no-cert":       {"stunnel": ("handshake_failure", "certificate_required"),
                      "gunicorn": ("handshake_failure", "certificate_required")},
    "expired":       {"stunnel": ("certificate_expired", "certificate_expired"),
                      "gunicorn": ("certificate_expired", "certificate_expired")},
    "wrong-ca":      {"stunnel": ("unknown_ca", "unknown_ca"),
                      "gunicorn": ("unknown_ca", "unknown_ca")},
    "not-yet-valid": {"stunnel": ("bad_certificate", "bad_certificate"),
                      "gunicorn": ("bad_certificate", "bad_certificate")},
    "self-signed":   {"stunnel": ("unknown_ca", "unknown_ca"),
                      "gunicorn": ("unknown_ca", "unknown_ca")},
    "lookalike-ca":  {"stunnel": ("unknown_ca", "unknown_ca"),
                      "gunicorn": ("unknown_ca", "unknown_ca")},
    "no-client-eku": {"stunnel": ("unsupported_certificate", "unsupported_certificate"),
                      "gunicorn": ("unsupported_certificate", "unsupported_certificate")},
    "revoked":       {"stunnel": ("certificate_revoked", "certificate_revoked"),
                      "gunicorn": (None, None)},
    "chain-missing": {"stunnel": ("unknown_ca", "unknown_ca"),
                      "gunicorn": ("unknown_ca", "unknown_ca")},
}
# fmt: on

# TLS alert numbers (RFC 8446 §6) of the names above, to read `openssl s_client` output.
ALERT_NUMBERS = {
    40: "handshake_failure",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    48: "unknown_ca",
    49: "access_denied",
    116: "certificate_required",
}
CERTIFICATE_ALERTS = {
    "certificate_required",
    "bad_certificate",
    "unsupported_certificate",
    "certificate_revoked",
    "certificate_expired",
    "certificate_unknown",
    "unknown_ca",
    "access_denied",
}


def expected_alert(server: str, probe: str, tls: str) -> str | None:
    return ALERTS[probe][server][VERSIONS.index(tls)]


def bad_probes(server: str) -> list[str]:
    """The bad-certificate probes this server can judge."""
    return [p for p in ALERTS if expected_alert(server, p, "1.3") is not None]


def server_for(request: pytest.FixtureRequest, name: str) -> RealServer:
    """The session server (``stunnel_mtls`` / ``gunicorn_mtls`` in conftest.py)."""
    server: StunnelServer | GunicornServer = request.getfixturevalue(f"{name}_mtls")
    return server


def key(r: ProbeResult) -> tuple[object, ...]:
    """What must be identical on every run (the outcome's free-text detail is not compared)."""
    o = r.outcome
    if o is None:
        return (r.verdict, None, r.reason)
    return (r.verdict, o.kind, o.status, o.alert, o.phase, o.reason)


def show(k: tuple[object, ...]) -> str:
    return " ".join(str(x) for x in k if x is not None)


@pytest.mark.parametrize("tls", VERSIONS)
@pytest.mark.parametrize("name", ["stunnel", "gunicorn"])
def test_rejection_is_the_real_alert_on_every_run(
    request: pytest.FixtureRequest, name: str, tls: str, test_pki_dir: Path
) -> None:
    server = server_for(request, name)
    probes = [*bad_probes(name), "valid"]
    runs: list[TargetResult] = [
        mtlscheck.check(server.url, pki=test_pki_dir, probes=probes, tls=tls, timeout=5)
        for _ in range(RUNS)
    ]
    seen: dict[str, collections.Counter[tuple[object, ...]]] = {
        p: collections.Counter() for p in probes
    }
    for result in runs:
        got = {r.probe: r for r in result.results}
        assert sorted(got) == sorted(probes) and len(result.results) == len(probes)
        for p, r in got.items():
            assert r.tls_version == tls
            seen[p][key(r)] += 1
    summary = "\n".join(
        f"{p}: " + ", ".join(f"{show(k)} x{n}" for k, n in c.most_common()) for p, c in seen.items()
    )
    what = f"{name} TLS {tls}, {RUNS} runs:\n{summary}\n{server.logs()[-2000:]}"

    # Identical on every run.
    assert all(len(c) == 1 for c in seen.values()), what
    # And the right outcome: the server's real alert, in the version's phase, a pass.
    first = {r.probe: r for r in runs[0].results}
    for p in bad_probes(name):
        r = first[p]
        alert = expected_alert(name, p, tls)
        assert r.outcome is not None, what
        assert r.outcome.kind is OutcomeKind.TLS_ALERT, what
        assert r.outcome.alert == alert, what
        assert alert in CERTIFICATE_ALERTS or (tls, p) == ("1.2", "no-cert"), alert
        assert r.outcome.phase is PHASE[tls], what
        assert r.verdict is Verdict.PASS, what
        assert r.facts is not None and r.facts.cert_requested is True, what
    valid = first["valid"]
    assert valid.outcome is not None and valid.outcome.kind is OutcomeKind.HTTP, what
    assert valid.outcome.status == 200 and valid.verdict is Verdict.PASS, what
    assert all(res.ok for res in runs), what


# --------------------------------------------------------------------------- the table


@pytest.fixture(scope="module")
def lookalike(tmp_path_factory: pytest.TempPathFactory, server_pki: PKI) -> tuple[Path, Path]:
    """A leaf from a foreign CA with exactly the trusted root's name (as ``lookalike-ca``)."""
    from cryptography import x509

    root = x509.load_pem_x509_certificate(server_pki.ca_cert.read_bytes())
    valid = x509.load_pem_x509_certificate(server_pki.role("valid").cert.read_bytes())
    issued = _pki.make_leaf(_pki.make_ca(root.subject), valid.subject)
    d = tmp_path_factory.mktemp("lookalike")
    _pki.write_pem(d / "lookalike.pem", issued.cert)
    _pki.write_private_key(d / "lookalike.key", issued.key)
    return d / "lookalike.pem", d / "lookalike.key"


def s_client(
    port: int, tls: str, pki: PKI, cert_key: tuple[Path, Path] | None, *, request: bool
) -> str | None:
    """The alert ``openssl s_client`` receives (None: no alert).

    Without ``request`` it sends nothing (stdin empty, ``-ign_eof``) and reads until the
    server closes, so it cannot miss an alert.  With ``request`` it sends a GET and the
    answer must be HTTP 200 (for a certificate the server accepts, which would otherwise
    wait for a request).
    """
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost"]
    cmd += ["-CAfile", str(pki.ca_cert), f"-tls{tls.replace('.', '_')}", "-ign_eof"]
    if cert_key is not None:
        cmd += ["-cert", str(cert_key[0]), "-key", str(cert_key[1])]
    stdin = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" if request else ""
    res = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=10, check=False)
    out = res.stdout + res.stderr
    numbers = set(re.findall(r"alert number (\d+)", out))
    assert len(numbers) <= 1, out
    if request:
        assert not numbers and "HTTP/1.1 200 OK" in res.stdout, out
    return ALERT_NUMBERS[int(numbers.pop())] if numbers else None


@pytest.mark.parametrize("tls", VERSIONS)
@pytest.mark.parametrize("name", ["stunnel", "gunicorn"])
def test_table_is_what_openssl_s_client_sees(
    request: pytest.FixtureRequest,
    name: str,
    tls: str,
    server_pki: PKI,
    lookalike: tuple[Path, Path],
) -> None:
    server = server_for(request, name)

    def files(role: str) -> tuple[Path, Path]:
        r = server_pki.role(role)
        assert r.key is not None
        return r.cert, r.key  # the leaf alone; no role here has intermediates but chain-missing

    identity: dict[str, tuple[Path, Path] | None] = {
        "no-cert": None,
        "lookalike-ca": lookalike,
        "chain-missing": files("intermediate"),  # intermediate-issued leaf, intermediate left out
        **{p: files(p) for p in ALERTS if p not in ("no-cert", "lookalike-ca", "chain-missing")},
    }
    want = {p: expected_alert(name, p, tls) for p in ALERTS}
    got = {
        p: s_client(server.port, tls, server_pki, identity[p], request=want[p] is None)
        for p in ALERTS
    }
    assert got == want, server.logs()[-2000:]
