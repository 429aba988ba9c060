"""Run probes: one TCP connection, one handshake, one HTTP request each; then verdicts.

Probes of a target run concurrently (bounded): each is independent and mostly waits on the
network, and pyOpenSSL releases the GIL while it does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mtlscheck._commands import curl_command, openssl_command
from mtlscheck._errors import UsageError
from mtlscheck._expect import Expectation, ServerProfile
from mtlscheck._identity import ClientIdentity
from mtlscheck._model import (
    HandshakeFacts,
    Outcome,
    OutcomeKind,
    Phase,
    ProbeResult,
    TargetResult,
    Verdict,
)
from mtlscheck._outcome import classify_failure, http_outcome
from mtlscheck._probes import CATALOGUE, Skip
from mtlscheck._tls import TLSClient, TLSSettings

__all__ = ["Plan", "Target", "run_probe", "run_target"]

_BODY_LIMIT = 16384


@dataclass(frozen=True)
class Target:
    """Where and how to connect: the curl-like connection options of one URL."""

    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    cafile: Path | None = None
    insecure: bool = False
    servername: str | None = None
    address: str | None = None
    timeout: float = 10.0

    def __post_init__(self) -> None:
        """Validate every field now: a bad value is a usage error, never a probe result."""
        from mtlscheck import _validate as v

        self.parts  # noqa: B018 - the URL, its host and port
        v.check_method(self.method)
        for name, value in self.headers:
            v.check_header(name, value)
        if self.servername is not None:
            v.check_hostname(self.servername, "--servername")
        if self.address is not None:
            v.check_address(self.address, "--resolve address")
        v.check_timeout(self.timeout)

    @property
    def parts(self) -> tuple[str, int]:
        from mtlscheck._validate import parse_https_url

        return parse_https_url(self.url)

    def settings(self, version: str | None) -> TLSSettings:
        host, port = self.parts
        return TLSSettings(
            host=host,
            port=port,
            address=self.address,
            servername=self.servername,
            cafile=self.cafile,
            insecure=self.insecure,
            version=version,
            timeout=self.timeout,
        )


@dataclass(frozen=True)
class Plan:
    """What to run against a target: probes, their identities and expectations, TLS versions."""

    probes: tuple[str, ...]
    identities: Mapping[str, ClientIdentity | Skip | None]
    expectations: Mapping[str, Expectation]
    versions: tuple[str, ...] = ("1.2", "1.3")
    profile: ServerProfile = ServerProfile.GENERIC


def run_probe(
    target: Target, version: str | None, identity: ClientIdentity | None
) -> tuple[Outcome, HandshakeFacts]:
    """Connect, handshake, send the request, read the answer: return what happened."""
    client = TLSClient(target.settings(version), identity)
    try:
        client.connect()
        # Refuse an untrusted server before sending it anything, like curl does.
        if not target.insecure and client.verify_error:
            outcome = Outcome(
                OutcomeKind.TLS_LOCAL,
                reason="server-cert-untrusted",
                phase=Phase.HANDSHAKE,
                detail=client.verify_error,
            )
        elif not target.insecure and client.hostname_matches() is False:
            outcome = Outcome(
                OutcomeKind.TLS_LOCAL,
                reason="hostname-mismatch",
                phase=Phase.HANDSHAKE,
                detail=f"the server certificate does not cover {client.settings.check_name}",
            )
        else:
            outcome = _http(client, target)
    except Exception as exc:
        outcome = classify_failure(client, exc)
    finally:
        client.close()
    return outcome, client.facts()


def _http(client: TLSClient, target: Target) -> Outcome:
    import httpx

    from mtlscheck._transport import OneConnectionTransport

    left = max(0.001, client.deadline - time.monotonic())
    with httpx.Client(
        transport=OneConnectionTransport(client), trust_env=False, timeout=left
    ) as hc:
        headers = dict(target.headers)
        headers.setdefault("User-Agent", "mtlscheck")
        with hc.stream(target.method, target.url, headers=headers) as resp:
            body = b""
            for chunk in resp.iter_raw():
                body += chunk
                if len(body) >= _BODY_LIMIT:
                    break
            return http_outcome(resp.status_code, body)


def judge(outcome: Outcome, expectation: Expectation) -> Verdict:
    """pass/fail against the expectation; ``error`` when the outcome says nothing about client
    auth (our side refused, nothing listening, not TLS) and the user did not expect exactly that."""
    if expectation.matches(outcome):
        return Verdict.PASS
    if outcome.kind in (OutcomeKind.TLS_LOCAL, OutcomeKind.NOT_TLS) or (
        outcome.kind is OutcomeKind.CONNECT and not outcome.is_tls_hangup
    ):
        return Verdict.ERROR
    return Verdict.FAIL


def _refuses_version(o: Outcome | None) -> bool:
    if o is None:
        return False
    if (
        o.kind is OutcomeKind.TLS_ALERT
        and o.alert == "protocol_version"
        and o.phase is Phase.HANDSHAKE
    ):
        return True
    text = o.detail.lower()
    return o.kind is OutcomeKind.TLS_LOCAL and (
        o.reason == "protocol_version"
        or "unsupported protocol" in text
        or "no protocols available" in text
        or "tlsv1 alert protocol version" in text
    )


def run_target(
    target: Target,
    plan: Plan,
    *,
    workers: int = 4,
    on_result: Callable[[ProbeResult], None] | None = None,
) -> TargetResult:
    """Every probe of the plan over every TLS version, then verdicts and findings."""
    jobs = [(p, v) for p in plan.probes for v in plan.versions]
    # Import the HTTP stack once, here, not inside the first probes: their durations would
    # otherwise include a concurrent import of httpx.
    import mtlscheck._transport  # noqa: F401

    def one(job: tuple[str, str]) -> ProbeResult:
        name, version = job
        ident = plan.identities.get(name)
        expected = plan.expectations[name]
        settings = target.settings(version)
        if isinstance(ident, Skip):
            res = ProbeResult(
                name, target.url, version, str(expected), Verdict.SKIP, reason=ident.reason
            )
        else:
            t0 = time.perf_counter()
            outcome, facts = run_probe(target, version, ident)
            verdict = judge(outcome, expected)
            res = ProbeResult(
                name,
                target.url,
                version,
                str(expected),
                verdict,
                outcome,
                facts,
                reason=outcome.detail if verdict is Verdict.ERROR else "",
                curl=curl_command(
                    target.url, settings, ident, method=target.method, headers=target.headers
                ),
                openssl=openssl_command(settings, ident),
                duration_ms=(time.perf_counter() - t0) * 1000,
            )
        if on_result is not None:
            on_result(res)
        return res

    if workers > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            results = list(pool.map(one, jobs))
    else:
        results = [one(j) for j in jobs]

    unsupported: list[tuple[str, str]] = []
    if len(plan.versions) > 1:
        refused = {
            v
            for v in plan.versions
            if (ran := [r for r in results if r.tls_version == v and r.outcome is not None])
            and all(_refuses_version(r.outcome) for r in ran)
        }
        if refused and refused != set(plan.versions):
            for v in sorted(refused):
                unsupported.append(
                    (
                        v,
                        f"the server does not offer TLS {v} "
                        "(handshake refused with protocol_version)",
                    )
                )
            results = [r for r in results if r.tls_version not in refused]

    from mtlscheck._diagnose import diagnose

    findings = diagnose(
        results, profile=plan.profile, unsupported=tuple(unsupported), insecure=target.insecure
    )
    return TargetResult(
        target=target.url,
        results=tuple(results),
        unsupported_versions=tuple(unsupported),
        findings=findings,
        server_profile=str(plan.profile),
        insecure=target.insecure,
    )


def default_expectations(
    probes: Sequence[str], profile: ServerProfile, overrides: Mapping[str, str]
) -> dict[str, Expectation]:
    from mtlscheck._expect import default_expectation

    for name in overrides:
        if name not in CATALOGUE:
            raise UsageError(
                f"--expect names unknown probe {name!r}; known: {', '.join(CATALOGUE)}"
            )
    return {
        p: Expectation.parse(overrides[p])
        if p in overrides
        else default_expectation(CATALOGUE[p].accepts, profile)
        for p in probes
    }
