"""The one plain-text rendering of probe details and findings.

JUnit's failure bodies and ``<system-out>``, Markdown's detail blocks and the pytest failure
and assertion texts all show the same things: what a failed probe saw (detail, reason,
handshake facts, CA names, server certificate, the ``curl`` that reproduces it) and the
findings with their fixes.  They used to be three copies that drifted apart; they are now these
functions, so a fact added here shows up in all of them.

Which fixes are shown is decided here too (:func:`fix_plan`): only those for the target's
server profile (every server's for ``generic``), plus fixes on the client's side, and each fix
text once even when several findings share it.  The console renders the same plan with rich.

Plain strings only, no escaping: callers hand in runs that went through
:func:`~mtlscheck._report._safe.for_display` (pytest hands in its own results, which it shows
in a terminal through pytest's own writer).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mtlscheck._model import Finding, HandshakeFacts, ProbeResult, Severity, TargetResult
from mtlscheck._report._base import display_actual, ordered_fixes

__all__ = [
    "CLIENT",
    "PlannedFix",
    "facts_line",
    "finding_lines",
    "fix_plan",
    "fixes_for_profile",
    "most_severe",
    "probe_lines",
    "verdict_line",
]

CLIENT = "client"
"""Fixes on the caller's side (trust store, names): shown whatever the server profile."""

_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def fixes_for_profile(fixes: Sequence[tuple[str, str]], profile: str) -> list[tuple[str, str]]:
    """The fixes worth showing for a target whose server profile is ``profile``.

    ``generic`` (we do not know the server): every server's fix, in the finding's order.  A
    named server: its own fix and the client-side ones; when the finding has no fix for that
    server, every fix (a finding without any fix would leave the reader stranded).
    """
    key = profile.strip().lower()
    ordered = ordered_fixes(tuple(fixes), key)
    if key in ("", "generic"):
        return ordered
    mine = [(s, f) for s, f in ordered if s.lower() in (key, CLIENT)]
    return mine if any(s.lower() == key for s, _ in mine) else ordered


@dataclass(frozen=True)
class PlannedFix:
    """One fix line under a finding: the text, or a pointer to where it was shown first."""

    server: str
    text: str
    same_as: str | None = None
    """The code of the earlier finding that already shows this exact fix."""


def fix_plan(
    findings: Iterable[Finding], profile: str, *, limit: int | None = None
) -> list[tuple[Finding, list[PlannedFix]]]:
    """Per finding, the fixes to show (:func:`fixes_for_profile`), each fix text once.

    ``limit`` caps the fixes shown per finding (the pytest failure text keeps it short).
    """
    seen: dict[tuple[str, str], str] = {}
    plan: list[tuple[Finding, list[PlannedFix]]] = []
    for f in findings:
        shown: list[PlannedFix] = []
        for server, text in fixes_for_profile(f.fixes, profile)[:limit]:
            key = (server.lower(), text.strip())
            first = seen.get(key)
            if first is None:
                seen[key] = f.code
            shown.append(PlannedFix(server, text, first))
        plan.append((f, shown))
    return plan


def most_severe(t: TargetResult) -> Finding | None:
    """The target's most severe finding (the first of the worst severity), if any."""
    return min(t.findings, key=lambda f: _RANK.get(f.severity, 9), default=None)


def verdict_line(t: TargetResult) -> str:
    """``client auth: enforced-http (the TLS layer lets no-cert through and HTTP refuses it)``."""
    reason = f" ({t.auth_reason})" if t.auth_reason else ""
    return f"client auth: {t.auth_verdict}{reason}"


def facts_line(f: HandshakeFacts) -> str:
    """The handshake in one line: protocol, cipher, whether a certificate was asked and sent."""
    parts = [
        f"protocol {f.protocol or '-'}",
        f"cipher {f.cipher or '-'}",
        f"certificate requested: {'yes' if f.cert_requested else 'no'}",
        f"client certificate sent: {'yes' if f.client_cert_sent else 'no'}",
    ]
    if f.cert_requested_after_handshake:
        parts.append("requested after the handshake: yes")
    if f.alert_received:
        parts.append(f"alert received: {f.alert_received}")
    return "; ".join(parts)


def probe_lines(
    r: ProbeResult, *, expected: bool = True, openssl: bool = False, commands: bool = True
) -> list[str]:
    """What one probe saw, one fact per line (no header, no indentation).

    ``expected`` adds the ``expected:`` / ``actual:`` lines (a caller with its own table
    leaves them out); ``openssl`` adds the ``openssl s_client`` command next to ``curl``;
    ``commands=False`` leaves both out (Markdown puts them in a block of their own).
    """
    out: list[str] = []
    if expected:
        out += [f"expected: {r.expected}", f"actual: {display_actual(r)}"]
    o = r.outcome
    if o is not None and o.detail:
        first = o.detail.strip().splitlines()[0] if o.detail.strip() else ""
        if first:
            out.append(f"detail: {first[:200]}")
    if r.reason and (o is None or r.reason != o.detail):
        out.append(f"reason: {r.reason}")
    f = r.facts
    if f is not None:
        out.append(f"handshake: {facts_line(f)}")
        if f.cert_requested:
            names = "; ".join(f.ca_names) if f.ca_names else "(none)"
            out.append(f"CA names sent by the server: {names}")
        if f.server_chain:
            c = f.server_chain[0]
            out.append(f"server certificate: {c.subject} (issuer {c.issuer}, until {c.not_after})")
        if f.server_verify_error:
            out.append(f"server certificate problem: {f.server_verify_error}")
    if commands and r.curl:
        out.append(f"reproduce: {r.curl}")
    if commands and openssl and r.openssl:
        out.append(f"openssl: {r.openssl}")
    return out


def finding_lines(
    findings: Iterable[Finding],
    profile: str,
    *,
    limit: int | None = None,
    header: bool = True,
) -> list[str]:
    """``findings:`` and per finding its severity, code, message, evidence and fixes.

    Wrapped lines of a multi-line fix are indented under it; a fix already shown for an
    earlier finding is named, not repeated.
    """
    plan = fix_plan(findings, profile, limit=limit)
    if not plan:
        return ["findings: none"] if header else []
    out = ["findings:"] if header else []
    for f, fixes in plan:
        out.append(f"  [{f.severity}] {f.code}: {f.message}")
        if f.evidence:
            out.append(f"      evidence: {', '.join(f.evidence)}")
        for fix in fixes:
            if fix.same_as is not None:
                out.append(f"      fix ({fix.server}): as for {fix.same_as} above")
                continue
            lines = fix.text.splitlines() or [""]
            out.append(f"      fix ({fix.server}): {lines[0]}")
            out += [f"          {line}" for line in lines[1:]]
    return out
