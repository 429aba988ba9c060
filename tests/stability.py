"""Run a real server's probes several times and require the same answer every time.

Shared by the tests that prove verdicts on servers the engine was not written against
(test_unseen_servers.py, test_other_stacks.py, test_tomcat_go.py): a verdict that flips between
runs is as wrong as a wrong one.
"""

from __future__ import annotations

import collections
from pathlib import Path

import mtlscheck
from mtlscheck._model import ProbeResult, TargetResult

RUNS = 3
CERT_PROBES = (
    "no-cert",
    "valid",
    "expired",
    "wrong-ca",
    "not-yet-valid",
    "revoked",
    "no-client-eku",
    "self-signed",
    "lookalike-ca",
    "chain-missing",
)
"""Every certificate probe a ``--pki`` directory can build: the default set with ``--pki``."""


def key(r: ProbeResult) -> tuple[object, ...]:
    """What must be identical on every run (not the free-text detail)."""
    o = r.outcome
    assert o is not None
    requested = r.facts.cert_requested if r.facts is not None else None
    return (r.verdict, o.kind, o.status, o.alert, o.phase, o.reason, requested)


def run(url: str, pki_dir: Path, probes: tuple[str, ...] | None = None) -> list[TargetResult]:
    """:data:`RUNS` checks of ``url`` over TLS 1.2 and 1.3 (``probes`` None: the default set
    with ``--pki``)."""
    return [
        mtlscheck.check(
            url, pki=pki_dir, probes=list(probes) if probes else None, tls="both", timeout=5
        )
        for _ in range(RUNS)
    ]


def stable(runs: list[TargetResult], what: str) -> dict[tuple[str, str | None], ProbeResult]:
    """Every run gave the same outcomes, refused versions and layered verdict; returns the
    first run's results by (probe, TLS version)."""
    seen: dict[tuple[str, str | None], collections.Counter[tuple[object, ...]]] = (
        collections.defaultdict(collections.Counter)
    )
    for res in runs:
        for r in res.results:
            seen[(r.probe, r.tls_version)][key(r)] += 1
    flapping = {k: dict(c) for k, c in seen.items() if len(c) > 1}
    assert not flapping, f"{what}: outcomes differ between runs: {flapping}"
    verdicts = {(res.auth_verdict, res.auth_reason, res.unsupported_versions) for res in runs}
    assert len(verdicts) == 1, f"{what}: layered verdict differs between runs: {verdicts}"
    return {(r.probe, r.tls_version): r for r in runs[0].results}
