"""Read a JSON report back into a :class:`~mtlscheck.RunResult`: the inverse of ``--format json``.

``mtlscheck report merge`` renders the merged shards in any format and ``--baseline`` compares
with an earlier run; both need the results as the model, not as a dict.  ``load(dump(run))``
gives back a run whose JSON is the same document (credentials were redacted on the way out and
stay redacted).  A file that is not an mtlscheck JSON report is one :class:`InputError` line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mtlscheck._errors import InputError
from mtlscheck._model import (
    AuthVerdict,
    CertInfo,
    Commands,
    Finding,
    HandshakeFacts,
    Outcome,
    OutcomeKind,
    Phase,
    ProbeResult,
    RevocationInfo,
    RunResult,
    Severity,
    TargetResult,
    Verdict,
)

__all__ = ["MAX_REPORT_BYTES", "Report", "load_report", "run_from_document"]

MAX_REPORT_BYTES = 1024 * 1024 * 1024
"""A 10,000-target report is about 100 MB; anything past 1 GiB is not one of ours."""


class Report:
    """A JSON report as read: the run, and the ``shard`` it says it is (if any)."""

    def __init__(self, path: str, run: RunResult, shard: tuple[int, int, int] | None) -> None:
        self.path = path
        self.run = run
        self.shard = shard
        """``(k, n, total)``: shard ``k`` of ``n`` of a run over ``total`` targets."""


def _cert(d: dict[str, Any]) -> CertInfo:
    return CertInfo(d["subject"], d["issuer"], d["not_before"], d["not_after"])


def _facts(d: dict[str, Any] | None) -> HandshakeFacts | None:
    if d is None:
        return None
    return HandshakeFacts(
        protocol=d.get("protocol"),
        cipher=d.get("cipher"),
        cert_requested=bool(d.get("cert_requested", False)),
        ca_names=tuple(d.get("ca_names") or ()),
        client_cert_sent=bool(d.get("client_cert_sent", False)),
        cert_requested_after_handshake=bool(d.get("cert_requested_after_handshake", False)),
        post_handshake_auth=bool(d.get("post_handshake_auth", False)),
        client_chain=tuple(_cert(c) for c in d.get("client_chain") or ()),
        server_chain=tuple(_cert(c) for c in d.get("server_chain") or ()),
        handshake_completed=bool(d.get("handshake_completed", False)),
        server_hello_seen=bool(d.get("server_hello_seen", False)),
        session_ticket=bool(d.get("session_ticket", False)),
        alert_received=d.get("alert_received"),
        alert_sent=d.get("alert_sent"),
        server_verify_error=d.get("server_verify_error"),
        hostname_matches=d.get("hostname_matches"),
    )


def _outcome(d: dict[str, Any] | None) -> Outcome | None:
    if d is None:
        return None
    phase = d.get("phase")
    return Outcome(
        kind=OutcomeKind(d["kind"]),
        status=d.get("status"),
        alert=d.get("alert"),
        phase=None if phase is None else Phase(phase),
        reason=d.get("reason"),
        detail=d.get("detail") or "",
        server=d.get("server") or "",
    )


def _revocation(d: dict[str, Any] | None) -> RevocationInfo | None:
    if d is None:
        return None
    return RevocationInfo(
        enforced=d.get("enforced"),
        how=d.get("how") or "",
        by_revocation=bool(d.get("by_revocation", False)),
        crl_file=d.get("crl_file"),
        crl_urls=tuple(d.get("crl_urls") or ()),
        ocsp_urls=tuple(d.get("ocsp_urls") or ()),
    )


def _probe(d: dict[str, Any]) -> ProbeResult:
    return ProbeResult(
        probe=d["probe"],
        target=d["target"],
        tls_version=d.get("tls_version"),
        expected=d["expected"],
        verdict=Verdict(d["verdict"]),
        outcome=_outcome(d.get("outcome")),
        facts=_facts(d.get("facts")),
        reason=d.get("reason") or "",
        commands=Commands(d.get("curl") or "", d.get("openssl") or ""),
        duration_ms=float(d.get("duration_ms") or 0.0),
        traceback=d.get("traceback") or "",
        revocation=_revocation(d.get("revocation")),
    )


def _finding(d: dict[str, Any]) -> Finding:
    fixes = d.get("fixes") or {}
    return Finding(
        code=d["code"],
        severity=Severity(d["severity"]),
        message=d["message"],
        evidence=tuple(d.get("evidence") or ()),
        fixes=tuple((str(k), str(v)) for k, v in fixes.items()),
    )


def _target(d: dict[str, Any]) -> TargetResult:
    return TargetResult(
        target=d["target"],
        results=tuple(_probe(p) for p in d["probes"]),
        unsupported_versions=tuple(
            (u["version"], u.get("reason") or "") for u in d.get("unsupported_versions") or ()
        ),
        findings=tuple(_finding(f) for f in d.get("findings") or ()),
        server_profile=d.get("server_profile") or "generic",
        insecure=bool(d.get("insecure", False)),
        certs_dir=d.get("certs_dir"),
        certs_removed=bool(d.get("certs_removed", False)),
        auth_verdict=AuthVerdict(d.get("verdict") or AuthVerdict.INCONCLUSIVE),
        auth_reason=d.get("verdict_reason") or "",
    )


def _shard(d: Any) -> tuple[int, int, int] | None:
    if d is None:
        return None
    k, n, total = int(d["index"]), int(d["count"]), int(d["total"])
    if not (1 <= k <= n) or total < 0:
        raise ValueError(f"shard {k}/{n} of {total} targets")
    return k, n, total


def run_from_document(
    doc: Any, name: str = "report"
) -> tuple[RunResult, tuple[int, int, int] | None]:
    """The run (and shard) a parsed JSON report describes; :class:`InputError` if it is not one."""
    if not isinstance(doc, dict) or doc.get("tool") != "mtlscheck" or "targets" not in doc:
        raise InputError(f"{name}: not an mtlscheck JSON report (--format json)")
    schema = doc.get("schema")
    if schema != 1:
        raise InputError(f"{name}: JSON report schema {schema!r}; this mtlscheck reads schema 1")
    try:
        run = RunResult(targets=tuple(_target(t) for t in doc["targets"]))
        return run, _shard(doc.get("shard"))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        what = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
        raise InputError(f"{name}: not a valid mtlscheck JSON report ({what})") from None


def load_report(path: Path | str, what: str = "report") -> Report:
    """Read and parse the JSON report at ``path`` (``-``: standard input)."""
    import sys

    from mtlscheck._files import read_input, shown_path

    if str(path) == "-":
        data = sys.stdin.buffer.read(MAX_REPORT_BYTES + 1)
        shown = "-"
        if len(data) > MAX_REPORT_BYTES:
            raise InputError(f"{what} -: more than {MAX_REPORT_BYTES} bytes")
    else:
        data = read_input(path, what, limit=MAX_REPORT_BYTES)
        shown = shown_path(Path(path))
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{what} {shown}: not JSON ({str(exc).splitlines()[0]})") from None
    run, shard = run_from_document(doc, f"{what} {shown}")
    return Report(str(shown), run, shard)
