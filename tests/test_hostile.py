"""The hostile-server bench (issue 7): one row per hostile behaviour, outcome and verdict fixed.

Every row starts a scripted server from ``tests/hostile.py`` on 127.0.0.1, runs
``mtlscheck.check`` through the public API with one TLS version pinned, and requires:

* the outcome (kind, reason, alert, phase) and the verdict the engine contract
  (notes/ENGINE_CONTRACT.md) prescribes, and the run's exit code;
* the whole ``check`` within ``timeout + 0.5 s`` of wall time (rows that must time out use
  ``timeout=1.0``), and, for rows where the client only waits, a CPU time far below that
  (a busy loop burns a whole core);
* never ``internal-error``, never a traceback (in results or on stdout/stderr);
* the server really did what the row says (its event log: the alert it sent, the RST, the
  records it held back) and no script failed, so a failing row is the engine's fault.

Rows that exist on both TLS versions run on both.  Rows whose outcome could depend on a race
(alert then close / RST, close after the client's Finished) are run several times and must give
the same outcome every time.  A ``check`` that does not return within ``timeout + 10 s`` is
reported as a hang; stopping the server then frees the stuck client.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hostile as H
import pytest
from cryptography import x509

import mtlscheck
from mtlscheck._model import OutcomeKind, Phase, ProbeResult, RunResult, TargetResult, Verdict
from mtlscheck._pki import PKI

K = OutcomeKind
SLACK = 0.5
"""Allowed wall time beyond ``timeout`` for one whole ``check`` (issue 7)."""
IDLE_CPU = 0.35
"""CPU seconds (whole process) a 1 s ``check`` against a silent server may use: setting up
contexts and identities costs a few tens of ms; a client spinning on a socket costs ~1 s."""
HANG = 10.0


class _Any:
    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Any()
"""Field not checked by this row."""


@dataclass(frozen=True)
class Expect:
    """What one probe must give; ``ANY`` fields are not checked, ``None`` means 'must be None'."""

    kind: OutcomeKind
    verdict: Verdict
    reason: Any = ANY
    """Outcome.reason (connect reason, tls-version reason); a frozenset means one of."""
    alert: Any = ANY
    phase: Any = ANY
    status: Any = ANY
    inconclusive: bool = False
    """ProbeResult.reason must start with "inconclusive" (the evidence rule)."""
    server_hello_seen: Any = ANY
    cert_requested: Any = ANY

    def mismatches(self, r: ProbeResult) -> list[str]:
        o = r.outcome
        if o is None:
            return ["no outcome"]
        bad = []

        def want(name: str, expected: Any, actual: Any) -> None:
            if expected is ANY:
                return
            ok = actual in expected if isinstance(expected, frozenset) else actual == expected
            if not ok:
                bad.append(f"{name}={actual!r} (want {expected!r})")

        want("kind", self.kind, o.kind)
        want("verdict", self.verdict, r.verdict)
        want("reason", self.reason, o.reason)
        want("alert", self.alert, o.alert)
        want("phase", self.phase, o.phase)
        want("status", self.status, o.status)
        if self.inconclusive and not r.reason.startswith("inconclusive"):
            bad.append(f"result reason {r.reason!r} (want 'inconclusive...')")
        if r.facts is not None:
            want("facts.server_hello_seen", self.server_hello_seen, r.facts.server_hello_seen)
            want("facts.cert_requested", self.cert_requested, r.facts.cert_requested)
        elif self.server_hello_seen is not ANY or self.cert_requested is not ANY:
            bad.append("no facts")
        return bad


@dataclass(frozen=True)
class Row:
    id: str
    version: str
    server: Callable[[Bench], H.Script]
    expect: dict[str, tuple[Expect, ...]]
    """Per probe, the acceptable outcomes (usually one)."""
    exit_code: int
    timeout: float = 2.0
    repeat: int = 1
    idle: bool = False
    """The client has nothing to do but wait: its CPU time must stay low."""
    events: tuple[str, ...] = ()
    """Server events (substrings) that must appear: proof the hostile behaviour happened."""
    cacert: str = "pki"
    same_every_time: bool = True
    """Repeated runs must give the same outcome (False only where the row allows
    alternatives that depend on timing, e.g. closed or reset)."""


@dataclass
class Bench:
    """What the scripted servers need: the test PKI (server identity, client CA) and extras."""

    pki: PKI
    tmp: Path
    _chain: tuple[Path, Any, Any, list[Any]] | None = None

    def ctx(self, request: str | None = None, **kw: Any) -> Any:
        return H.server_context(
            cert=self.pki.server_cert,
            key=self.pki.server_key,
            client_ca=self.pki.ca_cert,
            request=request,
            **kw,
        )

    def chain(self) -> tuple[Path, Any, Any, list[Any]]:
        if self._chain is None:
            self._chain = H.make_chain(self.tmp, 50)
        return self._chain

    def chain_ctx(self) -> Any:
        _, leaf, key, inters = self.chain()
        return H.server_context(
            cert=leaf, key=key, chain=inters, request="require", client_ca=self.pki.ca_cert
        )

    def ca_names_ctx(self, count: int, *, tiny: bool) -> Any:
        root = x509.load_pem_x509_certificate(self.pki.ca_cert.read_bytes())
        return self.ctx("require", ca_names=H.ca_names(count, root.subject, tiny=tiny))


# --------------------------------------------------------------------------- expectations

V12, V13 = "1.2", "1.3"
BOTH = (V12, V13)
E = Verdict.ERROR


def _ok200() -> Expect:
    return Expect(K.HTTP, Verdict.PASS, status=200)


def _cert_alert(version: str) -> Expect:
    """A server that requires a certificate and fails the handshake with OpenSSL's alert:
    TLS 1.3 rejects late (certificate_required, after our handshake is done), TLS 1.2 during
    the handshake with handshake_failure.  Tied to the certificate: ``pass``."""
    if version == V13:
        return Expect(
            K.TLS_ALERT, Verdict.PASS, alert="certificate_required", phase=Phase.AFTER_HANDSHAKE
        )
    return Expect(K.TLS_ALERT, Verdict.PASS, alert="handshake_failure", phase=Phase.HANDSHAKE)


def _server_alert_event(version: str) -> str:
    return "alert-sent " + ("certificate_required" if version == V13 else "handshake_failure")


def _require_cert_server(rst: bool) -> Callable[[Bench], H.Script]:
    return lambda b: H.alert_then_hangup(b.ctx("require"), rst=rst)


def _http_server(kind: str) -> Callable[[Bench], H.Script]:
    return lambda b: H.http_reply(b.ctx(), kind)


def _rows() -> Iterator[Row]:
    for v in BOTH:
        yield Row(
            f"silent-{v}",
            v,
            lambda b: H.silent,
            {"no-cert": (Expect(K.CONNECT, E, reason="timeout", phase=None),)},
            exit_code=3,
            timeout=1.0,
            idle=True,
            events=("hold",),
        )
        yield Row(
            f"garbage-{v}",
            v,
            lambda b: H.garbage,
            {"no-cert": (Expect(K.NOT_TLS, E),)},
            exit_code=3,
            events=("garbage-sent",),
        )
        # An alert instead of a ServerHello: no certificate can have been requested, so this
        # says nothing about client auth (error, inconclusive).  Exit 3, as for a hang-up
        # there or protocol_version (next row): no TLS session could be set up with the
        # requested versions and suites (GnuTLS refuses a version with handshake_failure).
        yield Row(
            f"alert-before-serverhello-handshake_failure-{v}",
            v,
            lambda b: H.alert_before_hello(40),
            {
                "no-cert": (
                    Expect(
                        K.TLS_ALERT,
                        E,
                        alert="handshake_failure",
                        phase=Phase.HANDSHAKE,
                        inconclusive=True,
                        server_hello_seen=False,
                    ),
                )
            },
            exit_code=3,
            events=("alert-sent handshake_failure",),
        )
        yield Row(
            f"alert-before-serverhello-protocol_version-{v}",
            v,
            lambda b: H.alert_before_hello(70),
            {"no-cert": (Expect(K.TLS_VERSION, E, reason="not-offered"),)},
            exit_code=3,
            events=("alert-sent protocol_version",),
        )
        yield Row(
            f"reset-after-clienthello-{v}",
            v,
            lambda b: H.reset_after_hello,
            {"no-cert": (Expect(K.CONNECT, E, reason="reset", phase=None),)},
            exit_code=3,
            events=("rst",),
        )
        # Only the ServerHello record reaches the client, then silence: a TLS server was
        # reached (exit 1, not 3), the handshake timed out.
        yield Row(
            f"stall-after-serverhello-{v}",
            v,
            lambda b: H.stall_after_server_hello(b.ctx()),
            {
                "no-cert": (
                    Expect(
                        K.CONNECT,
                        E,
                        reason="timeout",
                        phase=Phase.HANDSHAKE,
                        server_hello_seen=True,
                    ),
                )
            },
            exit_code=1,
            timeout=1.0,
            idle=True,
            events=("server-hello-sent",),
        )
        for rst in (False, True):
            yield Row(
                f"require-cert-alert-then-{'rst' if rst else 'close'}-{v}",
                v,
                _require_cert_server(rst),
                {"no-cert": (_cert_alert(v),), "valid": (_ok200(),)},
                exit_code=0,
                repeat=10,
                events=(_server_alert_event(v), "rst" if rst else "fin", "http-200-sent"),
            )
        # A certificate was requested, then the server hung up without an alert right after
        # our Finished (TLS 1.3: after our handshake; TLS 1.2: before the server's Finished,
        # so still in the handshake).  A TLS-phase hang-up after a CertificateRequest counts
        # as a rejection: pass.  Nothing of ours is unread on the server, so it is a FIN.
        phase = Phase.AFTER_HANDSHAKE if v == V13 else Phase.HANDSHAKE
        yield Row(
            f"close-after-client-finished-{v}",
            v,
            lambda b: H.close_after_client_finished(b.ctx("optional")),
            {
                "no-cert": (
                    Expect(
                        K.CONNECT, Verdict.PASS, reason="closed", phase=phase, cert_requested=True
                    ),
                )
            },
            exit_code=0,
            repeat=5,
            events=("dropped-last-flight", "fin"),
        )
        # No CertificateRequest, handshake completed, then a hang-up: no evidence that the
        # certificate had anything to do with it.  Whether the kernel turns our request into
        # an RST depends on timing, hence closed or reset.
        yield Row(
            f"no-certrequest-then-close-{v}",
            v,
            lambda b: H.close_after_handshake(b.ctx()),
            {
                "no-cert": (
                    Expect(
                        K.CONNECT,
                        E,
                        reason=frozenset({"closed", "reset"}),
                        phase=Phase.AFTER_HANDSHAKE,
                        inconclusive=True,
                        cert_requested=False,
                    ),
                )
            },
            exit_code=1,
            repeat=3,
            same_every_time=False,
            events=("handshake-done", "fin"),
        )
        yield Row(
            f"stall-after-handshake-{v}",
            v,
            lambda b: H.stall_after_handshake(b.ctx("optional")),
            {"no-cert": (Expect(K.CONNECT, E, reason="timeout", phase=Phase.AFTER_HANDSHAKE),)},
            exit_code=1,
            timeout=1.0,
            idle=True,
            events=("handshake-done", "hold"),
        )
        endless = (
            Expect(K.CONNECT, E, reason="timeout", phase=Phase.AFTER_HANDSHAKE),
            Expect(K.CONNECT, E, reason="bad-http"),
        )
        for kind in ("continue", "headers"):
            yield Row(
                f"http-endless-{kind}-{v}",
                v,
                _http_server(kind),
                {"no-cert": endless},
                exit_code=1,
                timeout=1.0,
                events=("streaming",),
            )
        # 200 and then a body without end: the status is all a probe needs (it reads a
        # bounded prefix); no certificate was asked for and it got in, so no-cert fails.
        yield Row(
            f"http-endless-body-{v}",
            v,
            lambda b: H.http_reply(b.ctx(), "body"),
            {"no-cert": (Expect(K.HTTP, Verdict.FAIL, status=200),)},
            exit_code=1,
            timeout=1.0,
            events=("streaming",),
        )
        yield Row(
            f"http-1mb-header-line-{v}",
            v,
            lambda b: H.http_reply(b.ctx(), "big-header"),
            {"no-cert": (Expect(K.CONNECT, E, reason="bad-http"),)},
            exit_code=1,
            events=("big-header-started",),
        )
        yield Row(
            f"http09-reply-{v}",
            v,
            lambda b: H.http_reply(b.ctx(), "http09"),
            {"no-cert": (Expect(K.CONNECT, E, reason="bad-http"),)},
            exit_code=1,
            events=("http09-sent",),
        )
        # A valid 50-certificate chain (leaf + 49 intermediates under a root the client
        # trusts; OpenSSL's default verify depth is 100) in front of a server that requires a
        # client certificate.  Its rejection of no-cert is a real certificate rejection, so
        # pass is right, and valid gets 200: the long chain must cost neither time nor a
        # wrong verdict.
        yield Row(
            f"server-chain-50-certs-{v}",
            v,
            lambda b: H.alert_then_hangup(b.chain_ctx(), rst=False),
            {"no-cert": (_cert_alert(v),), "valid": (_ok200(),)},
            exit_code=0,
            cacert="chain",
            events=(_server_alert_event(v), "http-200-sent"),
        )
        # 10,000 CA names in the CertificateRequest.  The list is a 16-bit-length field
        # (max 65,535 bytes), so 10,000 names fit only when they are tiny: 9,999 empty names
        # (4 bytes each on the wire) plus the real CA's name.  The server really requests a
        # certificate and rejects a missing one with a certificate alert: pass is right.
        yield Row(
            f"certrequest-10000-ca-names-{v}",
            v,
            lambda b: H.alert_then_hangup(b.ca_names_ctx(10_000, tiny=True), rst=False),
            {
                "no-cert": (dataclasses.replace(_cert_alert(v), cert_requested=True),),
                "valid": (_ok200(),),
            },
            exit_code=0,
            events=(_server_alert_event(v), "http-200-sent"),
        )
        # The same with 10,000 real-looking names (~300 KB): OpenSSL cannot encode that
        # CertificateRequest, so the server sends internal_error after its ServerHello and
        # never requests a certificate.  An alert that is not a certificate alert, without a
        # CertificateRequest, is no evidence of a certificate rejection: error, inconclusive.
        yield Row(
            f"certrequest-oversized-ca-names-{v}",
            v,
            lambda b: H.alert_then_hangup(b.ca_names_ctx(10_000, tiny=False), rst=False),
            {
                "no-cert": (
                    Expect(
                        K.TLS_ALERT,
                        E,
                        alert="internal_error",
                        phase=Phase.HANDSHAKE,
                        inconclusive=True,
                        server_hello_seen=True,
                        cert_requested=False,
                    ),
                )
            },
            exit_code=1,
            events=("alert-sent internal_error",),
        )


ROWS = list(_rows())


# --------------------------------------------------------------------------- the bench


@pytest.fixture(scope="module")
def bench(server_pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> Bench:
    # Import the HTTP stack now: a row's wall-time bound is about the probe, not about the
    # first import of httpx in this process.
    import mtlscheck._transport  # noqa: F401

    return Bench(server_pki, tmp_path_factory.mktemp("hostile"))


@dataclass
class Observed:
    result: TargetResult | None = None
    error: BaseException | None = None
    wall: float = 0.0
    cpu: float = 0.0
    """Process CPU time (all threads, the idle server's included) during the check."""
    stuck: threading.Thread | None = None
    """The client thread, when ``check`` did not return in time."""


def _run_check(row: Row, url: str, bench: Bench) -> Observed:
    """One ``check`` in a thread, so that a client that never returns is reported, not hung."""
    kwargs: dict[str, Any] = {
        "probes": list(row.expect),
        "tls": row.version,
        "timeout": row.timeout,
        "cacert": bench.chain()[0] if row.cacert == "chain" else bench.pki.ca_cert,
    }
    if "valid" in row.expect:
        role = bench.pki.role("valid")
        kwargs.update(cert=role.cert, key=role.key)
    obs = Observed()

    def target() -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            obs.result = mtlscheck.check(url, **kwargs)
        except BaseException as exc:
            obs.error = exc
        obs.wall = time.perf_counter() - t0
        obs.cpu = time.process_time() - c0

    worker = threading.Thread(target=target, name=f"check-{row.id}", daemon=True)
    worker.start()
    worker.join(row.timeout + HANG)
    if worker.is_alive():
        obs.error = TimeoutError(f"check did not return within {row.timeout + HANG:.0f} s")
        obs.stuck = worker
    return obs


def _describe(r: ProbeResult) -> str:
    o = r.outcome
    summary = "no outcome" if o is None else o.summary
    facts = r.facts
    extra = (
        "" if facts is None else f" hello={facts.server_hello_seen} certreq={facts.cert_requested}"
    )
    detail = "" if o is None else f" detail={o.detail[:80]!r}"
    return f"{r.probe}: {summary} -> {r.verdict}{extra} reason={r.reason[:60]!r}{detail}"


def _judge(row: Row, obs: Observed, tag: str) -> tuple[str, list[str]]:
    """One run of a row: its short summary (for the same-every-time check) and its problems."""
    assert obs.result is not None
    res = obs.result
    exit_code = RunResult(targets=(res,)).exit_code
    summary = "; ".join(
        f"{r.probe}: {r.outcome.summary if r.outcome else None} -> {r.verdict}" for r in res.results
    )
    problems = []
    if obs.wall > row.timeout + SLACK:
        problems.append(f"{tag}: took {obs.wall:.2f} s > timeout {row.timeout} + {SLACK}")
    if row.idle and obs.cpu > IDLE_CPU:
        problems.append(f"{tag}: used {obs.cpu:.2f} s CPU while only waiting")
    by_probe = {r.probe: r for r in res.results}
    for probe, options in row.expect.items():
        r = by_probe.get(probe)
        if r is None:
            problems.append(f"{tag}: no result for {probe}")
            continue
        if r.outcome is not None and r.outcome.kind is K.INTERNAL:
            problems.append(f"{tag}: {probe} internal-error: {r.outcome.detail[:300]}")
        if "Traceback" in f"{r.reason} {r.outcome.detail if r.outcome else ''}":
            problems.append(f"{tag}: {probe} carries a traceback")
        misses = [m for m in (e.mismatches(r) for e in options) if m]
        if len(misses) == len(options):
            problems.append(f"{tag}: {_describe(r)}: " + " | ".join(", ".join(m) for m in misses))
    if exit_code != row.exit_code:
        problems.append(f"{tag}: exit code {exit_code} (want {row.exit_code})")
    return f"{summary}; exit {exit_code}", problems


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_hostile_server(row: Row, bench: Bench, capfd: pytest.CaptureFixture[str]) -> None:
    problems: list[str] = []
    seen: list[str] = []
    stuck: threading.Thread | None = None
    with H.ScriptedServer(row.server(bench), name=row.id) as srv:
        for attempt in range(1, row.repeat + 1):
            obs = _run_check(row, srv.url, bench)
            tag = f"run {attempt}/{row.repeat}"
            if obs.error is not None:
                problems.append(f"{tag}: check raised {obs.error!r}")
                if obs.stuck is not None:
                    stuck = obs.stuck
                    break  # only stopping the server can free the client now
                continue
            summary, found = _judge(row, obs, tag)
            seen.append(summary)
            problems += found
    if stuck is not None:  # the server is gone: a stuck client must come back now
        stuck.join(5.0)
        if stuck.is_alive():
            problems.append("the client was still running 5 s after the server stopped")
    leaked = [t.name for t in threading.enumerate() if row.id in t.name and t is not stuck]
    assert not leaked, f"threads left behind: {leaked}"
    # The server first: if it did not do what the row says, the row proves nothing about
    # the engine (a bench bug), but show what the engine said all the same.
    missing = [e for e in row.events if not any(e in got for _, got in srv.events)]
    bench_bugs = [*srv.errors, *([f"missing server events {missing}"] if missing else [])]
    assert not bench_bugs, (
        f"{row.id}: the scripted server did not behave as scripted (bench bug): {bench_bugs}\n"
        f"  server events: {srv.events}\n  engine: {seen}\n  " + "\n  ".join(problems)
    )
    if row.same_every_time and len(set(seen)) > 1:
        problems.append("outcomes differ between runs:\n    " + "\n    ".join(seen))
    out, err = capfd.readouterr()
    if "Traceback" in out + err:
        problems.append(f"traceback printed:\n{(out + err)[-2000:]}")
    assert not problems, f"{row.id}: engine gave\n  " + "\n  ".join(problems)


def test_a_refused_clienthello_is_exit_3_with_one_line_saying_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every ClientHello answered with an alert and no ServerHello: no TLS session could be
    set up, as with a hang-up there, so exit 3 - and the line says it was the server's alert,
    not that nothing was reached."""
    from mtlscheck._cli import main

    with H.ScriptedServer(H.alert_before_hello(40), name="hello-refused") as srv:
        rc = main(["probe", srv.url, "--insecure", "--probes", "no-cert", "--timeout", "3"])
    out, err = capsys.readouterr()
    assert rc == 3
    assert err.strip().splitlines() == [
        f"mtlscheck: error: the server at {srv.url} answered every ClientHello with the alert "
        "handshake_failure and no ServerHello: it shares no TLS version or cipher suite with "
        "the probes"
    ]
    assert "every ClientHello was refused with handshake_failure" in " ".join(out.split())
