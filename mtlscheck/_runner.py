"""Run probes: one TCP connection, one handshake, one HTTP request each; then verdicts.

Probes of a target run concurrently (bounded): each is independent and mostly waits on the
network, and pyOpenSSL releases the GIL while it does.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from OpenSSL import SSL

from mtlscheck._commands import curl_command, openssl_command
from mtlscheck._errors import UsageError
from mtlscheck._expect import Expectation, ServerProfile
from mtlscheck._hostname import to_ascii_host
from mtlscheck._identity import ClientIdentity
from mtlscheck._io import Cancelled, Deadline, resolve
from mtlscheck._model import (
    HandshakeFacts,
    Outcome,
    OutcomeKind,
    ProbeResult,
    TargetResult,
    Verdict,
)
from mtlscheck._outcome import classify, is_wire_error
from mtlscheck._probes import CATALOGUE, Skip
from mtlscheck._tls import TLSClient, TLSSettings, build_context
from mtlscheck._verdict import judge

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
    target: Target,
    version: str | None,
    identity: ClientIdentity | None,
    *,
    context: SSL.Context | None = None,
    addresses: tuple[tuple[int, tuple[object, ...]], ...] | None = None,
    deadline: Deadline | None = None,
) -> tuple[Outcome, HandshakeFacts, str]:
    """Connect, handshake, send the request, read the answer: return what happened.

    Returns the outcome, the handshake facts and, when mtlscheck itself failed, the traceback
    (the outcome is then ``internal-error``: a bug of ours is never a fact about the server).
    """
    settings = target.settings(version)
    if addresses is not None:
        settings = dataclasses.replace(settings, addresses=addresses)
    client = TLSClient(settings, identity, context=context, deadline=deadline)
    status: int | None = None
    body = b""
    try:
        client.connect()
        # Refuse an untrusted server before sending it anything, like curl does.
        refuse = not target.insecure and (
            client.verify_error is not None or client.hostname_matches() is False
        )
        if not refuse:
            status, body = _http(client, target)
    except Exception as exc:
        if not is_wire_error(exc):
            client.close()
            return (
                Outcome(OutcomeKind.INTERNAL, detail=f"{type(exc).__name__}: {exc}"),
                client.facts(),
                traceback.format_exc(),
            )
        client.note_http_failure(exc)
    finally:
        client.close()
    return classify(client.record(status, body)), client.facts(), ""


def _http(client: TLSClient, target: Target) -> tuple[int, bytes]:
    """One request over the probe's connection: the status and the start of the body."""
    import httpx

    from mtlscheck._transport import OneConnectionTransport

    with httpx.Client(
        transport=OneConnectionTransport(client),
        trust_env=False,
        timeout=max(0.001, client.deadline.at - time.monotonic()),
    ) as hc:
        headers = dict(target.headers)
        headers.setdefault("User-Agent", "mtlscheck")
        with hc.stream(target.method, target.url, headers=headers) as resp:
            body = b""
            try:
                for chunk in resp.iter_raw():
                    body += chunk
                    if len(body) >= _BODY_LIMIT:
                        break
            except Exception as exc:
                # The status line and headers came: that is the answer.  A body cut short
                # (reset, timeout, endless stream) does not change it.
                if not is_wire_error(exc):
                    raise
            return resp.status_code, body[:_BODY_LIMIT]


def _resolve_target(
    target: Target, deadline: Deadline
) -> tuple[tuple[tuple[int, tuple[object, ...]], ...] | None, BaseException | None]:
    """Resolve the target once, bounded: every probe then connects to the same addresses."""
    host, port = target.parts
    try:
        return tuple(resolve(target.address or host, port, deadline)), None
    except (OSError, TimeoutError, Cancelled) as exc:
        return None, exc


def run_target(
    target: Target,
    plan: Plan,
    *,
    workers: int = 4,
    on_result: Callable[[ProbeResult], None] | None = None,
    deadline: float | None = None,
    cancel: threading.Event | None = None,
) -> TargetResult:
    """Every probe of the plan over every TLS version, then verdicts and findings.

    ``deadline`` is an absolute ``time.monotonic()`` time for the whole run (``--deadline``);
    each probe also has its own ``target.timeout``.  Everything local (client contexts, trust
    store, identities) is built before the first connection, so a bad file is an input error.
    """
    jobs = [(p, v) for p in plan.probes for v in plan.versions]
    cancel = cancel or threading.Event()
    contexts = _build_contexts(target, plan)
    # Import the HTTP stack once, here, not inside the first probes: their durations would
    # otherwise include a concurrent import of httpx.
    import mtlscheck._transport  # noqa: F401

    dns_deadline = Deadline.after(target.timeout, cancel).earliest(deadline)
    addresses, dns_error = _resolve_target(target, dns_deadline)

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
            tb = ""
            if dns_error is not None:
                client = TLSClient(settings, ident)
                client.failed_before_connect(dns_error)
                outcome, facts = classify(client.record()), client.facts()
            else:
                outcome, facts, tb = run_probe(
                    target,
                    version,
                    ident,
                    context=contexts.get((version, id(ident))),
                    addresses=addresses,
                    deadline=Deadline.after(target.timeout, cancel).earliest(deadline),
                )
            verdict, why = judge(outcome, facts, expected, version)
            res = ProbeResult(
                name,
                target.url,
                version,
                str(expected),
                verdict,
                outcome,
                facts,
                reason=why,
                curl=curl_command(
                    target.url, settings, ident, method=target.method, headers=target.headers
                ),
                openssl=openssl_command(settings, ident),
                duration_ms=(time.perf_counter() - t0) * 1000,
                traceback=tb,
            )
        if on_result is not None:
            on_result(res)
        return res

    try:
        if workers > 1 and len(jobs) > 1:
            with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
                results = list(pool.map(one, jobs))
        else:
            results = [one(j) for j in jobs]
    except BaseException:
        cancel.set()  # Ctrl-C / a signal: let running probes end at their next loop turn
        raise

    refused = {
        v
        for v in plan.versions
        if (ran := [r for r in results if r.tls_version == v and r.outcome is not None])
        and all(r.outcome is not None and r.outcome.kind is OutcomeKind.TLS_VERSION for r in ran)
    }
    unsupported = tuple(
        (v, f"the server does not offer TLS {v} (handshake refused with protocol_version)")
        for v in sorted(refused)
    )
    if refused and refused != set(plan.versions):
        # Reported once as a finding, not as one error per probe.
        results = [r for r in results if r.tls_version not in refused]

    from mtlscheck._diagnose import diagnose

    findings = diagnose(
        results, profile=plan.profile, unsupported=unsupported, insecure=target.insecure
    )
    return TargetResult(
        target=target.url,
        results=tuple(results),
        unsupported_versions=unsupported,
        findings=findings,
        server_profile=str(plan.profile),
        insecure=target.insecure,
    )


def _build_contexts(target: Target, plan: Plan) -> dict[tuple[str, int], SSL.Context]:
    """One client context per (TLS version, identity), built before any connection; the
    name sent as SNI is checked here too, so a bad one is a usage error, not a probe result."""
    to_ascii_host(target.settings(None).check_name)
    contexts: dict[tuple[str, int], SSL.Context] = {}
    for name in plan.probes:
        ident = plan.identities.get(name)
        if isinstance(ident, Skip):
            continue
        for version in plan.versions:
            key = (version, id(ident))
            if key not in contexts:
                contexts[key] = build_context(target.settings(version), ident)
    return contexts


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
