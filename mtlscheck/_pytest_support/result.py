"""What ``mtls_probe`` returns, and the text pytest shows when an assertion on it fails."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from mtlscheck._errors import MtlscheckError
from mtlscheck._model import (
    Finding,
    HandshakeFacts,
    ProbeResult,
    RunResult,
    TargetResult,
    Verdict,
)
from mtlscheck._report._base import display_actual
from mtlscheck._report._text import finding_lines, probe_lines
from mtlscheck._secrets import redact_url

__all__ = ["ProbeRun", "ProbeRuns", "assertrepr", "detail_lines", "short_finding_lines"]


class _EqualsExpectation:
    """``result == "rejected"`` asks :meth:`matches`; anything else compares as the result
    dataclass does (the next class in the MRO)."""

    if TYPE_CHECKING:  # provided by the result class it is mixed into

        def matches(self, expr: str) -> bool: ...

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return self.matches(other)
        return super().__eq__(other)

    def __ne__(self, other: object) -> bool:
        return not self == other


class ProbeRun(_EqualsExpectation, TargetResult):
    """What ``mtls_probe`` returns: a :class:`TargetResult` that compares with expectations.

    ``run == "rejected"`` is :meth:`TargetResult.matches`: every probe result has an outcome
    matching the expectation expression (a skipped probe never matches); ``run["expired"]`` is
    :meth:`TargetResult.select`: one probe (``run["expired[tls1.3]"]`` one version), with every
    target-level field (findings, ``auth_verdict``, ``certs_dir``, ...) kept.
    """

    __hash__ = TargetResult.__hash__

    @classmethod
    def of(cls, result: TargetResult) -> ProbeRun:
        return cls(**{f.name: getattr(result, f.name) for f in fields(result)})

    def __iter__(self) -> Iterator[ProbeResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, name: str) -> ProbeRun:
        return ProbeRun.of(self.select(name))

    def _one(self) -> ProbeResult:
        if len(self.results) != 1:
            raise ValueError(
                f"{len(self.results)} probe results ({', '.join(r.name for r in self.results)});"
                " pick one with run['probe[tls1.3]'] or pass tls='1.3'"
            )
        return self.results[0]

    @property
    def outcome(self) -> Any:
        """The outcome of the only probe result (ValueError if there are several)."""
        return self._one().outcome

    @property
    def facts(self) -> HandshakeFacts | None:
        return self._one().facts

    @property
    def verdict(self) -> Verdict:
        """The worst verdict against the default/configured expectations."""
        order = (Verdict.ERROR, Verdict.FAIL, Verdict.SKIP, Verdict.PASS)
        seen = {r.verdict for r in self.results}
        return next((v for v in order if v in seen), Verdict.PASS)

    @property
    def outcomes(self) -> dict[str, str]:
        """``{"no-cert[tls1.3]": "tls-alert certificate_required (after-handshake)", ...}``."""
        return {r.name: display_actual(r) for r in self.results}

    @property
    def finding_codes(self) -> frozenset[str]:
        return frozenset(f.code for f in self.findings)

    def __repr__(self) -> str:
        rows = ", ".join(f"{n}={a}" for n, a in self.outcomes.items())
        return f"<ProbeRun {redact_url(self.target)} {rows}>"

    def explain(self, expectation: str, *, verbose: bool = False) -> list[str]:
        """Lines for a failed ``run == expectation``: expected vs actual, facts, findings."""
        from mtlscheck._expect import Expectation

        probes = ", ".join(dict.fromkeys(r.probe for r in self.results)) or "no probe"
        lines = [f"mtls probe {probes} of {redact_url(self.target)} == {expectation!r}"]
        try:
            exp: Expectation | None = Expectation.parse(expectation)
        except MtlscheckError as exc:
            exp = None
            lines.append(f"invalid expectation: {exc}")
        lines.append(f"expected: {expectation}")
        lines.append("actual:")
        width = max((len(r.name) for r in self.results), default=0)
        bad: list[ProbeResult] = []
        for r in self.results:
            ok = exp is not None and r.outcome is not None and exp.matches(r.outcome)
            if not ok:
                bad.append(r)
            lines.append(f"  {r.name:<{width}}  {display_actual(r)}{'' if ok else '  <- no match'}")
        for v, why in self.unsupported_versions:
            lines.append(f"  (TLS {v} not tested: {why})")
        lines.extend(short_finding_lines(self.findings, self.server_profile, verbose=verbose))
        shown = bad if not verbose else list(self.results)
        for r in shown[: None if verbose else 1]:
            lines.extend(detail_lines(r))
        return lines


class ProbeRuns(_EqualsExpectation, RunResult):
    """What ``mtls_probe`` returns for several URLs: a :class:`RunResult` of :class:`ProbeRun`.

    ``runs == "rejected"`` holds when every target matches (and there is at least one);
    ``runs["no-cert"]`` narrows every target to that probe; ``runs[url]`` or ``runs[i]`` is one
    target's :class:`ProbeRun`; iterating yields the targets in the order they were given.
    """

    __hash__ = RunResult.__hash__

    @classmethod
    def of(cls, run: RunResult) -> ProbeRuns:
        return cls(tuple(ProbeRun.of(t) for t in run.targets))

    @property
    def runs(self) -> tuple[ProbeRun, ...]:
        return tuple(t if isinstance(t, ProbeRun) else ProbeRun.of(t) for t in self.targets)

    def matches(self, expr: str) -> bool:
        """:meth:`TargetResult.matches` for every target; False for no target at all."""
        return bool(self.targets) and all(t.matches(expr) for t in self.targets)

    def __iter__(self) -> Iterator[ProbeRun]:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.targets)

    def target(self, key: str | int) -> ProbeRun:
        """One target's run, by position or URL (a trailing ``/`` does not matter)."""
        if isinstance(key, int):
            return self.runs[key]
        for run in self.runs:
            if run.target.rstrip("/") == key.rstrip("/"):
                return run
        raise KeyError(
            f"{redact_url(str(key))!r}: this run has "
            f"{', '.join(redact_url(t.target) for t in self.targets)}"
        )

    def select(self, probe: str) -> ProbeRuns:
        """Every target narrowed to ``probe`` (:meth:`TargetResult.select`)."""
        return ProbeRuns(tuple(ProbeRun.of(t.select(probe)) for t in self.targets))

    def __getitem__(self, key: str | int) -> Any:
        """``runs[0]`` / ``runs["https://a/"]``: a :class:`ProbeRun`; ``runs["no-cert"]``:
        a :class:`ProbeRuns` narrowed to that probe on every target."""
        if isinstance(key, int) or "://" in key:
            return self.target(key)
        return self.select(key)

    @property
    def outcomes(self) -> dict[str, dict[str, str]]:
        """``{url: {"no-cert[tls1.3]": "http 400 (...)", ...}, ...}``."""
        return {t.target: t.outcomes for t in self.runs}

    def __repr__(self) -> str:
        return f"<ProbeRuns {', '.join(redact_url(t.target) for t in self.targets)}>"

    def explain(self, expectation: str, *, verbose: bool = False) -> list[str]:
        """Lines for a failed ``runs == expectation``: one line per target, then the
        mismatching targets' rows (the first one's details; all with ``-v``)."""
        lines = [f"mtls probe of {len(self.targets)} targets == {expectation!r}"]
        try:
            bad = [t for t in self.runs if not t.matches(expectation)]
        except MtlscheckError as exc:
            return [*lines, f"invalid expectation: {exc}"]
        if not self.targets:
            lines.append("no target was probed")
        bad_ids = {id(t) for t in bad}
        for t in self.runs:
            mark = "no match" if id(t) in bad_ids else "ok"
            lines.append(f"  {redact_url(t.target)}  {t.auth_verdict}  {mark}")
        for i, t in enumerate(bad if not verbose else list(self.runs)):
            detail = t.explain(expectation, verbose=verbose)
            if i and not verbose:  # after the first: only the rows that say what differed
                detail = [d for d in detail if d.startswith("  ") and "<- no match" in d]
                detail.insert(0, f"mtls probe of {redact_url(t.target)}:")
            lines.extend(detail)
        return lines


def detail_lines(r: ProbeResult) -> list[str]:
    """``name:`` and what the probe saw, indented (the shared plain text of the reports)."""
    return [f"{r.name}:", *(f"  {line}" for line in probe_lines(r, expected=False))]


def short_finding_lines(
    findings: Iterable[Finding], profile: str, *, verbose: bool = False
) -> list[str]:
    return finding_lines(findings, profile, limit=None if verbose else 2)


def assertrepr(left: object, right: object, verbosity: int) -> list[str] | None:
    """The failure text of ``run == "expectation"`` (either order) for pytest."""
    if isinstance(left, ProbeRun | ProbeRuns) and isinstance(right, str):
        return left.explain(right, verbose=verbosity > 0)
    if isinstance(right, ProbeRun | ProbeRuns) and isinstance(left, str):
        return right.explain(left, verbose=verbosity > 0)
    return None
