"""Many targets, one bounded pool: every probe of every target shares the same workers.

Why one pool instead of one pool per target: a silent target costs ``--timeout`` per probe; run
target after target, it delays everything behind it.  Here the jobs of all targets are
interleaved (probe-major, target-minor), so a silent host occupies a few workers while the rest
of the fleet goes on, and ``--per-host`` keeps any one server from getting more than its share.

Everything local is prepared before the first connection (client contexts, SNI names), each
target's name is resolved once (bounded by its timeout), and a finished target is handed to
``on_target`` at once, so a reporter or progress bar can follow the run.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from OpenSSL import SSL

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
from mtlscheck._outcome import classify
from mtlscheck._probes import ProbeRequest, Skip
from mtlscheck._reproduce import ProbeCommands
from mtlscheck._runner import Plan, Target, probe_headers, probe_settings, run_probe
from mtlscheck._tls import TLSClient, TLSSettings, build_context
from mtlscheck._verdict import against_control, judge, refused_versions

__all__ = ["DEFAULT_CONCURRENCY", "DEFAULT_PER_HOST", "run_fleet"]

DEFAULT_CONCURRENCY = min(64, 8 * (os.cpu_count() or 2))
"""Probes in flight at once.  A probe mostly waits on the network (pyOpenSSL releases the GIL),
so several per core; capped so a laptop does not open hundreds of sockets at once."""
DEFAULT_PER_HOST = 8
"""At most this many probes at once against one host:port (politeness)."""

_Addresses = tuple[tuple[int, tuple[object, ...]], ...]


@dataclass
class _TargetState:
    """One target's progress: its resolved addresses and the results that came in so far."""

    target: Target
    plan: Plan
    jobs: int
    results: dict[tuple[str, str | None], ProbeResult] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    resolved: bool = False
    addresses: _Addresses | None = None
    dns_error: BaseException | None = None
    no_tls_server: tuple[Outcome, HandshakeFacts] | None = None
    """The first probe's outcome when it found no TLS server here (see :func:`_one`)."""
    settings: dict[str | None, TLSSettings] = field(default_factory=dict)
    """Per TLS version, the settings its probes share (each probe's result keeps them, for
    its reproduce commands: one object per target and version, not one per probe)."""

    def probe_settings(self, version: str | None, request: ProbeRequest | None) -> TLSSettings:
        if request is not None and request.servername:
            return probe_settings(self.target, version, request)
        found = self.settings.get(version)
        if found is None:
            found = self.settings.setdefault(version, probe_settings(self.target, version))
        return found


def _context_key(
    target: Target, version: str | None, ident: ClientIdentity | None
) -> tuple[object, ...]:
    return (version, str(target.cafile) if target.cafile else None, id(ident))


def _prepare_contexts(
    items: Sequence[tuple[Target, Plan]],
) -> dict[tuple[object, ...], SSL.Context]:
    """Client contexts for every (version, trust store, identity) the run needs, built before
    any connection - and shared by every target that needs the same one.  A bad trust file or
    key, or a name that cannot be sent as SNI, is a usage/input error here, never a probe
    result."""
    contexts: dict[tuple[object, ...], SSL.Context] = {}
    for target, plan in items:
        to_ascii_host(target.settings(None).check_name)
        for name in plan.probes:
            ident = plan.identities.get(name)
            if isinstance(ident, Skip):
                continue
            for version in plan.versions:
                key = _context_key(target, version, ident)
                if key not in contexts:
                    contexts[key] = build_context(target.settings(version), ident)
    return contexts


def plan_jobs(plan: Plan) -> list[tuple[str, str | None]]:
    """(probe, TLS version) pairs of a plan; a probe without TLS (``plaintext``) runs once,
    with no version."""
    from mtlscheck._probes import CATALOGUE

    jobs: list[tuple[str, str | None]] = []
    for p in plan.probes:
        spec = CATALOGUE.get(p)
        if spec is not None and spec.request.plain_http:
            jobs.append((p, None))
        else:
            jobs.extend((p, v) for v in plan.versions)
    return jobs


WINDOW = 256
"""Targets whose jobs are interleaved at once.  Interleaving spreads a silent host's probes
out; interleaving *all* targets would also keep every target unfinished until the last round,
so a 10,000-target run would hold every probe result at once, however a reporter streams
finished targets.  A window bounds the unfinished targets (and so memory) to about this many;
the next window's jobs start as soon as this one's are handed out, so there is no barrier."""


def _jobs(states: Sequence[_TargetState]) -> Iterator[tuple[_TargetState, str, str | None]]:
    """Probe-major, target-minor within each :data:`WINDOW` of targets: consecutive jobs go
    to different targets."""
    for start in range(0, len(states), WINDOW):
        window = states[start : start + WINDOW]
        per_target = [plan_jobs(s.plan) for s in window]
        longest = max((len(j) for j in per_target), default=0)
        for i in range(longest):
            for state, jobs in zip(window, per_target, strict=True):
                if i < len(jobs):
                    yield state, *jobs[i]


def run_fleet(
    items: Sequence[tuple[Target, Plan]],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    per_host: int = DEFAULT_PER_HOST,
    deadline: float | None = None,
    cancel: threading.Event | None = None,
    on_result: Callable[[ProbeResult], None] | None = None,
    on_target: Callable[[TargetResult], None] | None = None,
    retain: Callable[[int, TargetResult], TargetResult] | None = None,
) -> list[TargetResult]:
    """Run every probe of every target in one pool; return the targets' results in input order.

    ``deadline`` is an absolute ``time.monotonic()`` time for the whole run; each probe also has
    its target's own timeout.  ``cancel`` (set on Ctrl-C or a signal) ends running probes at
    their next I/O loop turn.  ``retain(index, result)``, called once per finished target,
    returns what the run keeps of it (a reporter that already wrote it keeps a slim copy).
    """
    cancel = cancel or threading.Event()
    contexts = _prepare_contexts(items)
    # Import the HTTP stack once, here, not inside the first probes: their durations would
    # otherwise include a concurrent import of httpx.
    import mtlscheck._transport  # noqa: F401

    states = [_TargetState(t, p, len(plan_jobs(p))) for t, p in items]
    done: list[TargetResult | None] = [None] * len(states)
    index = {id(s): i for i, s in enumerate(states)}
    host_limits: dict[tuple[str, int], threading.BoundedSemaphore] = {}
    for s in states:
        host_limits.setdefault(s.target.parts, threading.BoundedSemaphore(max(1, per_host)))

    jobs = _jobs(states)
    jobs_lock = threading.Lock()
    finish_lock = threading.Lock()
    failures: list[BaseException] = []

    def store(i: int, res: TargetResult) -> None:
        if on_target is not None:
            on_target(res)
        kept = res if retain is None else retain(i, res)
        with finish_lock:
            done[i] = kept

    def finish(state: _TargetState) -> None:
        store(index[id(state)], finish_target(state.target, state.plan, _ordered(state)))

    def worker() -> None:
        try:
            while not cancel.is_set():
                with jobs_lock:
                    job = next(jobs, None)
                if job is None:
                    return
                state, name, version = job
                with host_limits[state.target.parts]:
                    try:
                        res = _one(state, name, version, contexts, deadline, cancel)
                    except Exception as exc:  # our bug: this probe's result, not the run's end
                        res = _internal(state, name, version, exc)
                if on_result is not None:
                    on_result(res)
                with state.lock:
                    state.results[(name, version)] = res
                    last = len(state.results) == state.jobs
                if last:
                    finish(state)
        except BaseException as exc:  # re-raised in the caller's thread below
            failures.append(exc)
            cancel.set()

    total = sum(s.jobs for s in states)
    n = max(1, min(concurrency, total))
    threads = [
        threading.Thread(target=worker, name=f"mtlscheck-probe-{i}", daemon=True) for i in range(n)
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    except BaseException:
        cancel.set()  # Ctrl-C / a signal: let running probes end at their next loop turn
        raise
    if failures:
        raise failures[0]
    for i, s in enumerate(states):  # targets with no jobs at all
        if done[i] is None:
            store(i, finish_target(s.target, s.plan, []))
    return [r for r in done if r is not None]


def _internal(state: _TargetState, name: str, version: str | None, exc: Exception) -> ProbeResult:
    """A probe that failed because of a bug of ours: ``internal-error`` with its traceback."""
    import traceback

    return ProbeResult(
        name,
        state.target.url,
        version,
        str(state.plan.expectations.get(name, "")),
        Verdict.ERROR,
        Outcome(OutcomeKind.INTERNAL, detail=f"{type(exc).__name__}: {exc}"),
        reason=f"internal error (a bug in mtlscheck): {type(exc).__name__}: {exc}",
        traceback="".join(traceback.format_exception(exc)),
    )


def _ordered(state: _TargetState) -> list[ProbeResult]:
    """Results in plan order (probe, then version), whatever order they finished in."""
    return [state.results[job] for job in plan_jobs(state.plan) if job in state.results]


def _resolve_once(state: _TargetState, deadline: Deadline) -> None:
    with state.lock:
        if state.resolved:
            return
        host, port = state.target.parts
        try:
            state.addresses = tuple(resolve(state.target.address or host, port, deadline))
        except (OSError, TimeoutError, Cancelled) as exc:
            state.dns_error = exc
        state.resolved = True


def _no_tls_server(outcome: Outcome, facts: HandshakeFacts | None) -> bool:
    """Nothing at this address speaks TLS: no ServerHello, and a refusal, a timeout or plain
    text instead (a hang-up is not enough: some servers drop single connections)."""
    if facts is not None and facts.server_hello_seen:
        return False
    if outcome.kind is OutcomeKind.NOT_TLS:
        return True
    return (
        outcome.kind is OutcomeKind.CONNECT
        and outcome.phase is None
        and outcome.reason
        in (
            "refused",
            "timeout",
            "unreachable",
        )
    )


def _one(
    state: _TargetState,
    name: str,
    version: str | None,
    contexts: dict[tuple[object, ...], SSL.Context],
    run_deadline: float | None,
    cancel: threading.Event,
) -> ProbeResult:
    target, plan = state.target, state.plan
    ident = plan.identities.get(name)
    expected = plan.expectations[name]
    request = plan.request(name, target)  # the probe's headers, SNI or plain HTTP
    settings = state.probe_settings(version, request)
    expected_text = sys.intern(str(expected))  # one copy per expectation, not one per probe
    if isinstance(ident, Skip):
        return ProbeResult(
            name, target.url, version, expected_text, Verdict.SKIP, reason=ident.reason
        )
    t0 = time.perf_counter()
    deadline = Deadline.after(target.timeout, cancel).earliest(run_deadline)
    _resolve_once(state, deadline)
    tb = ""
    plain = bool(getattr(request, "plain_http", False))
    if state.dns_error is not None:
        client = TLSClient(settings, ident)
        client.failed_before_connect(state.dns_error)
        record = client.record()
        outcome, facts = classify(record), record.facts
    elif state.no_tls_server is not None and not plain:
        # An earlier probe found nothing that speaks TLS here (refused, silent, not TLS):
        # every further probe would wait out the same timeout to learn the same thing.  It
        # reports exactly that outcome (whichever probe came first, the report is the same),
        # with its own identity as what it would have presented.
        outcome, first_facts = state.no_tls_server
        facts = dataclasses.replace(
            first_facts, client_chain=TLSClient(settings, ident).facts().client_chain
        )
    else:
        outcome, facts, tb = run_probe(
            target,
            version,
            ident,
            context=contexts.get(_context_key(target, version, ident)),
            addresses=state.addresses,
            deadline=deadline,
            request=request,
        )
    if not plain and facts is not None and _no_tls_server(outcome, facts):
        state.no_tls_server = state.no_tls_server or (outcome, facts)
    verdict, why = judge(outcome, facts, expected, version)
    return ProbeResult(
        name,
        target.url,
        version,
        expected_text,
        verdict,
        outcome,
        facts,
        reason=why,
        commands=ProbeCommands(
            target.url,
            settings,
            ident,
            method=target.method,
            headers=probe_headers(target, request),
            plain_http=plain,
        ),
        duration_ms=(time.perf_counter() - t0) * 1000,
        traceback=tb,
    )


def finish_target(target: Target, plan: Plan, results: list[ProbeResult]) -> TargetResult:
    """Once every probe of a target is in: refused versions, findings, the layered verdict."""
    # protocol_version on every probe of a version, or (GnuTLS, Java's HttpsServer, servers
    # without TLS 1.3) handshake_failure / a hang-up before any ServerHello on every probe of
    # it while another version got a ServerHello: see _verdict.refused_versions.
    unsupported = refused_versions(results, plan.versions)
    refused = {v for v, _ in unsupported}
    if refused and refused != set(plan.versions):
        # Reported once as a finding, not as one error per probe.
        results = [r for r in results if r.tls_version not in refused]

    from mtlscheck._diagnose import diagnose
    from mtlscheck._expect import ServerProfile
    from mtlscheck._layered import layered_verdict

    profile, profile_reason = plan.profile, ""
    if profile is ServerProfile.AUTO:
        from mtlscheck._autodetect import detect_profile, rejudge

        profile, profile_reason = detect_profile(results)
        results = rejudge(results, profile, plan.expectations)
    results = against_control(results)
    findings = diagnose(results, profile=profile, unsupported=unsupported, insecure=target.insecure)
    verdict, why = layered_verdict(results, unsupported)
    return TargetResult(
        target=target.url,
        results=tuple(results),
        unsupported_versions=unsupported,
        findings=findings,
        server_profile=str(profile),
        server_profile_reason=profile_reason,
        insecure=target.insecure,
        auth_verdict=verdict,
        auth_reason=why,
    )
