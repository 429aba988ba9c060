"""What every reporter shares: the interface, and small pure helpers over the result model.

Nothing here imports anything heavier than the standard library and :mod:`mtlscheck._model`,
so ``import mtlscheck._report`` stays cheap; rich is only imported by the console reporter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TextIO, runtime_checkable
from urllib.parse import urlsplit

from mtlscheck._model import (
    HandshakeFacts,
    Outcome,
    OutcomeKind,
    ProbeResult,
    RunResult,
    TargetResult,
    Verdict,
)

__all__ = [
    "DETAILED_GROUPS",
    "EXPIRY_WARNING_DAYS",
    "NAMES_SHOWN",
    "Counts",
    "Reporter",
    "cert_expiry_note",
    "count",
    "display_actual",
    "display_tls",
    "failing_to_detail",
    "key_facts",
    "ordered_fixes",
    "protocols_seen",
    "short_http_reason",
    "target_host",
    "unsupported_line",
]

EXPIRY_WARNING_DAYS = 14
"""A server certificate expiring within this many days is flagged in the report."""


@runtime_checkable
class Reporter(Protocol):
    """Renders a finished run to a text stream. One implementation per output format."""

    name: str
    """The format name, as given to :func:`mtlscheck._report.get_reporter`."""

    def render(self, run: RunResult, out: TextIO, *, verbose: bool = False) -> None:
        """Write the whole report for ``run`` to ``out``. Never closes ``out``."""
        ...


@dataclass(frozen=True)
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped + self.errors

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.passed + other.passed,
            self.failed + other.failed,
            self.skipped + other.skipped,
            self.errors + other.errors,
        )

    def summary(self) -> str:
        """``3 passed, 1 failed, 0 skipped, 0 errors`` (pytest's plural for error/errors)."""
        err = "error" if self.errors == 1 else "errors"
        return (
            f"{self.passed} passed, {self.failed} failed, "
            f"{self.skipped} skipped, {self.errors} {err}"
        )


def count(target: TargetResult) -> Counts:
    v = [r.verdict for r in target.results]
    return Counts(
        passed=v.count(Verdict.PASS),
        failed=v.count(Verdict.FAIL),
        skipped=v.count(Verdict.SKIP),
        errors=v.count(Verdict.ERROR),
    )


def target_host(target: str) -> str:
    """The host name of a target URL (``api.internal``); the input itself if it has none."""
    try:
        host = urlsplit(target if "//" in target else f"//{target}").hostname
    except ValueError:
        host = None
    return host or target


def _tls_from_protocol(protocol: str | None) -> str | None:
    """``TLSv1.3`` -> ``1.3``."""
    if not protocol:
        return None
    m = re.search(r"(\d\.\d)", protocol)
    return m.group(1) if m else protocol


def display_tls(result: ProbeResult) -> str:
    """The TLS version a probe was pinned to, else the one it negotiated, else ``-``."""
    if result.tls_version:
        return result.tls_version
    if result.facts is not None:
        return _tls_from_protocol(result.facts.protocol) or "-"
    return "-"


_TITLE_RE = re.compile(r"<title>\s*(.*?)\s*</title>", re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"<[^>]+>")


def short_http_reason(outcome: Outcome, limit: int = 60) -> str:
    """nginx's one-line 400 reason (``No required SSL certificate was sent``), or ``""``.

    ``detail`` normally holds the reason already; an HTML body is reduced to its title.
    """
    if outcome.kind is not OutcomeKind.HTTP or outcome.status != 400 or not outcome.detail:
        return ""
    text = outcome.detail
    m = _TITLE_RE.search(text)
    if m:
        text = m.group(1)
    text = _TAG_RE.sub(" ", text)
    text = " ".join(text.split())
    text = re.sub(r"^400\s+", "", text)
    if text.lower() in ("", "bad request", "400 bad request"):
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def display_actual(result: ProbeResult) -> str:
    """The "actual" cell: outcome summary (+ nginx reason), or the skip reason."""
    if result.verdict is Verdict.SKIP:
        return f"skipped: {result.reason}" if result.reason else "skipped"
    if result.outcome is None:
        return result.reason or "-"
    text = result.outcome.summary
    reason = short_http_reason(result.outcome)
    if reason:
        text += f" ({reason})"
    return text


def key_facts(target: TargetResult) -> tuple[ProbeResult, HandshakeFacts] | None:
    """The facts of the most informative probe: ``valid`` first, completed handshakes first."""
    with_facts = [r for r in target.results if r.facts is not None]
    if not with_facts:
        return None

    def rank(r: ProbeResult) -> tuple[int, int, int]:
        assert r.facts is not None
        return (
            0 if r.probe == "valid" else 1,
            0 if r.facts.handshake_completed else 1,
            0 if r.facts.server_chain else 1,
        )

    best = min(with_facts, key=rank)  # min is stable: earliest probe wins ties
    assert best.facts is not None
    return best, best.facts


def protocols_seen(target: TargetResult) -> list[str]:
    seen: list[str] = []
    for r in target.results:
        if r.facts is not None and r.facts.protocol and r.facts.protocol not in seen:
            seen.append(r.facts.protocol)
    return sorted(seen)


def unsupported_line(version: str, why: str) -> str:
    label = version if version.upper().startswith("TLS") else f"TLS {version}"
    return f"{label}: not offered by the server" + (f" — {why}" if why else "")


def _parse_time(value: str) -> datetime | None:
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def cert_expiry_note(not_after: str, now: datetime | None = None) -> tuple[str, bool]:
    """(note, alarming): ``EXPIRED``, ``expires in 3 days``, or ``""`` when fine/unknown."""
    end = _parse_time(not_after)
    if end is None:
        return "", False
    now = now or datetime.now(UTC)
    if end <= now:
        return "EXPIRED", True
    left = end - now
    if left <= timedelta(days=EXPIRY_WARNING_DAYS):
        days = left.days
        return ("expires in less than a day" if days < 1 else f"expires in {days} days"), True
    return "", False


def ordered_fixes(fixes: tuple[tuple[str, str], ...], server_profile: str) -> list[tuple[str, str]]:
    """The fixes, with the one for the target's server profile first (stable otherwise)."""
    profile = server_profile.lower()
    return sorted(fixes, key=lambda f: 0 if f[0].lower() == profile else 1)


DETAILED_GROUPS = 20
"""Without ``-v``, at most this many failing targets get their details: a fleet where a
thousand targets fail took ~17 s to print a thousand probe matrices nobody reads, and made a
Markdown job summary larger than GitHub accepts (1 MiB)."""
NAMES_SHOWN = 5


def failing_to_detail(
    failing: Sequence[TargetResult],
) -> tuple[list[TargetResult], dict[str, list[TargetResult]], int]:
    """Which failing targets to detail: one per distinct result (the same verdict, findings
    and probe verdicts - usually one misconfiguration rolled out to many hosts), the others
    named under it; beyond :data:`DETAILED_GROUPS` distinct results, only counted."""
    groups: dict[tuple[object, ...], list[TargetResult]] = {}
    for t in failing:
        key = (
            t.auth_verdict,
            tuple(sorted(f.code for f in t.findings)),
            tuple((r.name, r.verdict) for r in t.results),
        )
        groups.setdefault(key, []).append(t)
    heads = list(groups.values())[:DETAILED_GROUPS]
    untold = sum(len(g) for g in list(groups.values())[DETAILED_GROUPS:])
    return [g[0] for g in heads], {g[0].target: g[1:] for g in heads}, untold
