"""``--baseline OLD.json``: judge a run by what changed since an earlier one.

A fleet rarely passes everything on day one.  With a baseline, CI fails only on what got worse
and lets known problems stand until they are fixed:

- a **regression** fails the run (exit 1): a probe that is failing now (``fail`` or ``error``)
  and was not failing in the baseline (it passed, was skipped, or did not run), a finding of
  severity ``error`` the target did not have, or a worse layered verdict;
- an **improvement** is shown and does not fail: a failing probe that passes now, an
  ``error`` finding gone, a better verdict;
- other **changes** are shown only: a verdict that changed within the same rank
  (``enforced-tls`` -> ``enforced-http``), new warnings, targets not in the baseline that
  pass, baseline targets this run did not probe (another shard's, say).

Verdicts are ranked: ``enforced-tls`` = ``enforced-http`` < ``per-location`` <
``inconclusive`` < ``fail-open`` = ``off``.  A target that is new in this run has no baseline
to hide behind: its failing probes and ``error`` findings are regressions.

Targets are matched by URL (with credentials redacted, as the JSON report writes them; a URL
listed twice is matched by occurrence), probes by name and TLS version.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from mtlscheck._model import AuthVerdict, RunResult, Severity, TargetResult, Verdict

__all__ = ["VERDICT_RANK", "Change", "ChangeKind", "Comparison", "compare"]

V = AuthVerdict
VERDICT_RANK: dict[AuthVerdict, int] = {
    V.ENFORCED_TLS: 0,
    V.ENFORCED_HTTP: 0,
    V.PER_LOCATION: 1,
    V.INCONCLUSIVE: 2,
    V.FAIL_OPEN: 3,
    V.OFF: 3,
}
"""Lower is better; a verdict whose rank went up is a regression."""

_FAILING = (Verdict.FAIL, Verdict.ERROR)


class ChangeKind(StrEnum):
    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    CHANGE = "change"


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    target: str
    text: str

    def line(self) -> str:
        label = {"regression": "REGRESSION", "improvement": "improved", "change": "changed"}
        return f"{label[self.kind]:<10} {self.target}: {self.text}"


@dataclass(frozen=True)
class Comparison:
    """What changed between the baseline and this run (in target order)."""

    baseline: str
    """The baseline file, as named on the command line."""
    changes: tuple[Change, ...]
    compared: int
    """Targets found in both."""
    not_run: int
    """Baseline targets this run did not probe."""
    lost: tuple[str, ...] = ()
    """Targets the baseline reached and this run could not (exit code 3)."""

    def of(self, kind: ChangeKind) -> list[Change]:
        return [c for c in self.changes if c.kind is kind]

    @property
    def regressed(self) -> bool:
        return any(c.kind is ChangeKind.REGRESSION for c in self.changes)

    def exit_code(self, run: RunResult) -> int:
        """0 unless something regressed: 1, or 3 when a target the baseline reached is now
        unreachable; our own bug stays 4 whatever the baseline says."""
        if run.internal_error:
            return 4
        if not self.regressed:
            return 0
        return 3 if self.lost else 1

    def summary(self) -> str:
        r, i = len(self.of(ChangeKind.REGRESSION)), len(self.of(ChangeKind.IMPROVEMENT))
        c = len(self.of(ChangeKind.CHANGE))
        parts = [
            f"{r} regression{'s' if r != 1 else ''}",
            f"{i} improvement{'s' if i != 1 else ''}",
            f"{c} other change{'s' if c != 1 else ''}",
        ]
        tail = f"; {self.not_run} baseline targets not in this run" if self.not_run else ""
        n = f"{self.compared} target{'s' if self.compared != 1 else ''}"
        return f"compared with {self.baseline} ({n}): {', '.join(parts)}{tail}"

    def lines(self) -> list[str]:
        """The summary, then regressions, improvements and other changes, one per line."""
        out = [f"baseline: {self.summary()}"]
        for kind in (ChangeKind.REGRESSION, ChangeKind.IMPROVEMENT, ChangeKind.CHANGE):
            out += [f"  {c.line()}" for c in self.of(kind)]
        return out


def _keyed(targets: Iterable[TargetResult]) -> dict[tuple[str, int], TargetResult]:
    from mtlscheck._secrets import redact_url

    seen: Counter[str] = Counter()
    out: dict[tuple[str, int], TargetResult] = {}
    for t in targets:
        url = redact_url(t.target)
        out[(url, seen[url])] = t
        seen[url] += 1
    return out


def _errors(t: TargetResult) -> dict[str, str]:
    return {f.code: f.message for f in t.findings if f.severity is Severity.ERROR}


def _probe_changes(old: TargetResult, new: TargetResult, url: str) -> list[Change]:
    from mtlscheck._report._base import display_actual

    before = {(r.probe, r.tls_version): r for r in old.results}
    out: list[Change] = []
    for r in new.results:
        prev = before.get((r.probe, r.tls_version))
        was = "not run" if prev is None else str(prev.verdict)
        if r.verdict in _FAILING and (prev is None or prev.verdict not in _FAILING):
            out.append(
                Change(
                    ChangeKind.REGRESSION,
                    url,
                    f"{r.name} {was} -> {r.verdict} (expected {r.expected}, got "
                    f"{display_actual(r)})",
                )
            )
        elif prev is not None and prev.verdict in _FAILING and r.verdict is Verdict.PASS:
            out.append(
                Change(ChangeKind.IMPROVEMENT, url, f"{r.name} {was} -> pass ({display_actual(r)})")
            )
    return out


def _target_changes(old: TargetResult, new: TargetResult, url: str) -> list[Change]:
    out: list[Change] = []
    ov, nv = old.auth_verdict, new.auth_verdict
    if ov != nv:
        why = f" ({new.auth_reason})" if new.auth_reason else ""
        rank_old, rank_new = VERDICT_RANK.get(ov, 2), VERDICT_RANK.get(nv, 2)
        kind = (
            ChangeKind.REGRESSION
            if rank_new > rank_old
            else ChangeKind.IMPROVEMENT
            if rank_new < rank_old
            else ChangeKind.CHANGE
        )
        out.append(Change(kind, url, f"verdict {ov} -> {nv}{why}"))
    out += _probe_changes(old, new, url)
    old_err, new_err = _errors(old), _errors(new)
    for code, message in new_err.items():
        if code not in old_err:
            out.append(Change(ChangeKind.REGRESSION, url, f"new error finding {code}: {message}"))
    for code in old_err:
        if code not in new_err:
            out.append(Change(ChangeKind.IMPROVEMENT, url, f"error finding {code} gone"))
    old_codes = {f.code for f in old.findings}
    for f in new.findings:
        if f.severity is not Severity.ERROR and f.code not in old_codes:
            out.append(Change(ChangeKind.CHANGE, url, f"new {f.severity} finding {f.code}"))
    return out


def _new_target(t: TargetResult, url: str) -> Change:
    failing = [r.name for r in t.results if r.verdict in _FAILING]
    errors = list(_errors(t))
    if not failing and not errors:
        return Change(ChangeKind.CHANGE, url, f"not in the baseline; verdict {t.auth_verdict}")
    parts = [f"verdict {t.auth_verdict}"]
    if failing:
        shown = ", ".join(failing[:4]) + (
            f" and {len(failing) - 4} more" if len(failing) > 4 else ""
        )
        parts.append(f"failing: {shown}")
    if errors:
        parts.append(f"error findings: {', '.join(errors)}")
    return Change(ChangeKind.REGRESSION, url, "not in the baseline; " + "; ".join(parts))


def compare(baseline: RunResult, run: RunResult, *, name: str = "the baseline") -> Comparison:
    """What changed from ``baseline`` to ``run`` (:class:`Comparison`)."""
    old = _keyed(baseline.targets)
    new = _keyed(run.targets)
    changes: list[Change] = []
    lost: list[str] = []
    for key, t in new.items():
        url = key[0]
        prev = old.get(key)
        if prev is None:
            changes.append(_new_target(t, url))
            continue
        changes += _target_changes(prev, t, url)
        if prev.reachable and not t.reachable:
            lost.append(url)
    compared = sum(1 for k in new if k in old)
    not_run = sum(1 for k in old if k not in new)
    return Comparison(name, tuple(changes), compared, not_run, tuple(lost))
