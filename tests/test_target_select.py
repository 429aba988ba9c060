"""TargetResult.select / TargetResult.matches: the matching behind ``mtls_probe``'s results,
in the library so that the API and the pytest plugin narrow and compare alike."""

from __future__ import annotations

import dataclasses

import pytest

from mtlscheck._errors import UsageError
from mtlscheck._model import (
    AuthVerdict,
    Outcome,
    OutcomeKind,
    Phase,
    ProbeResult,
    TargetResult,
    Verdict,
)
from mtlscheck._pytest_support.result import ProbeRun

URL = "https://gw.example/"
ALERT = Outcome(OutcomeKind.TLS_ALERT, alert="certificate_required", phase=Phase.AFTER_HANDSHAKE)
HTTP400 = Outcome(OutcomeKind.HTTP, status=400)
OK = Outcome(OutcomeKind.HTTP, status=200)


def _r(probe: str, version: str, outcome: Outcome | None) -> ProbeResult:
    verdict = Verdict.SKIP if outcome is None else Verdict.PASS
    return ProbeResult(probe, URL, version, "rejected", verdict, outcome)


RESULTS = (
    _r("no-cert", "1.2", HTTP400),
    _r("no-cert", "1.3", ALERT),
    _r("valid", "1.2", OK),
    _r("valid", "1.3", OK),
    _r("revoked", "1.3", None),
)
TARGET = TargetResult(
    URL,
    RESULTS,
    certs_dir="/tmp/certs",
    certs_removed=False,
    auth_verdict=AuthVerdict.ENFORCED_TLS,
    auth_reason="no-cert refused by an alert",
    server_profile="apache",
    server_profile_reason="Server: Apache",
)


def test_select_by_probe_and_by_version_keeps_every_target_field() -> None:
    no_cert = TARGET.select("no-cert")
    assert [r.name for r in no_cert.results] == ["no-cert[tls1.2]", "no-cert[tls1.3]"]
    one = TARGET.select("no-cert[tls1.3]")
    assert [r.name for r in one.results] == ["no-cert[tls1.3]"]
    for narrowed in (no_cert, one):
        others = {f.name for f in dataclasses.fields(TargetResult)} - {"results"}
        assert {n: getattr(narrowed, n) for n in others} == {n: getattr(TARGET, n) for n in others}


def test_select_unknown_probe_names_what_ran() -> None:
    with pytest.raises(KeyError, match=r"'expired': this run has no-cert\[tls1.2\], "):
        TARGET.select("expired")


def test_matches_every_result_and_never_a_skipped_or_empty_one() -> None:
    assert TARGET.select("no-cert").matches("rejected")
    assert not TARGET.select("no-cert").matches("400")  # the TLS 1.3 one was an alert
    assert TARGET.select("no-cert[tls1.2]").matches("400|403")
    assert TARGET.select("valid").matches("accepted")
    assert not TARGET.matches("accepted")
    assert not TARGET.select("revoked").matches("rejected")  # skipped: nothing to match
    assert not dataclasses.replace(TARGET, results=()).matches("rejected")


def test_bad_expression_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        TARGET.matches("sometimes")


def test_probe_run_indexing_is_select() -> None:
    run = ProbeRun.of(TARGET)
    picked = run["no-cert[tls1.3]"]
    assert isinstance(picked, ProbeRun)
    assert picked.certs_dir == "/tmp/certs" and picked.auth_verdict is AuthVerdict.ENFORCED_TLS
    assert picked.server_profile_reason == "Server: Apache"
    assert picked == "alert:certificate_required" and picked != "400"
