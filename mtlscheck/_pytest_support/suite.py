"""Suite files (``mtls*.toml``) as pytest items: one per target x probe x TLS version."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mtlscheck._errors import MtlscheckError
from mtlscheck._model import ProbeResult, TargetResult, Verdict
from mtlscheck._pytest_support.result import detail_lines, short_finding_lines
from mtlscheck._report._base import display_actual
from mtlscheck._report._text import verdict_line
from mtlscheck._secrets import redact_url
from mtlscheck._suite import SuiteTarget, load_suite
from mtlscheck.pytest_plugin import Settings, get_settings

__all__ = ["SuiteFile", "SuiteItem", "TargetNode", "collection_summary", "failure_text"]


def _suite_defaults(settings: Settings) -> dict[str, Any]:
    """The ``--mtls-*`` options as the lowest layer of a suite file (see :mod:`._options`)."""
    from mtlscheck._options import suite_layer

    return suite_layer(settings.check_kwargs())


class SuiteFile(pytest.File):
    """An ``mtls*.toml`` suite: one :class:`TargetNode` per ``[[targets]]`` entry."""

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        try:
            suite = load_suite(self.path, defaults=_suite_defaults(get_settings(self.config)))
            suite.validate()  # every target's files and values, before any item runs
        except MtlscheckError as exc:
            raise self.CollectError(str(exc)) from None
        for t in suite.targets:
            yield TargetNode.from_parent(self, name=t.name, target=t)


class TargetNode(pytest.Collector):
    """One target of a suite.  Its probes run once, together, on its first item (per process,
    so each xdist worker that receives items of a target probes that target once)."""

    def __init__(self, *, target: SuiteTarget, **kw: Any) -> None:
        super().__init__(**kw)
        self.target = target
        self._result: TargetResult | None = None
        self._error: MtlscheckError | None = None

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        group = self.config.pluginmanager.hasplugin("xdist")
        for probe in self.target.probes:
            for version in self.target.versions:
                item = SuiteItem.from_parent(
                    self, name=f"{probe}[tls{version}]", probe=probe, version=version
                )
                if group:  # --dist loadgroup keeps a target's items on one worker
                    item.add_marker(pytest.mark.xdist_group(self.nodeid))
                yield item

    def result(self) -> TargetResult:
        if self._error is not None:
            raise self._error
        if self._result is None:
            try:
                self._result = self.target.run()
            except MtlscheckError as exc:
                self._error = exc
                raise
        return self._result


class ProbeFailed(Exception):
    def __init__(self, result: ProbeResult, target: TargetResult) -> None:
        super().__init__(f"{result.name}: expected {result.expected}, got {display_actual(result)}")
        self.result = result
        self.target = target


@dataclass(frozen=True)
class _Crash:
    path: str
    lineno: int
    message: str

    def toterminal(self, tw: Any) -> None:
        tw.line(f"{self.path}:{self.lineno}: {self.message}")


class _FailureRepr:
    """A failure report without a traceback; ``reprcrash.message`` feeds the short summary and
    JUnit's ``message`` attribute (under xdist the report travels as ``str()``)."""

    def __init__(self, text: str, crash: _Crash) -> None:
        self.text = text
        self.reprcrash = crash

    def toterminal(self, tw: Any) -> None:
        for line in self.text.splitlines():
            tw.line(line)

    def __str__(self) -> str:
        return self.text


def failure_text(item_name: str, target: SuiteTarget, r: ProbeResult, tr: TargetResult) -> str:
    head = ("probe", "tls", "expected", "actual", "verdict")
    row = (r.probe, r.tls_version or "-", r.expected, display_actual(r), str(r.verdict).upper())
    widths = [max(len(a), len(b)) for a, b in zip(head, row, strict=True)]
    lines = [
        f"{target.name} ({redact_url(target.url)}): {item_name} did not meet its expectation",
        "  " + "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip(),
        "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(),
    ]
    lines.extend("  " + line for line in detail_lines(r)[1:])
    lines.append(verdict_line(tr))
    related = [
        f for f in tr.findings if not f.evidence or any(r.probe in e for e in f.evidence)
    ] or list(tr.findings)
    lines.extend(short_finding_lines(related, tr.server_profile))
    return "\n".join(lines)


class SuiteItem(pytest.Item):
    """One probe x TLS version of a suite target."""

    def __init__(self, *, probe: str, version: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.probe = probe
        self.version = version

    @property
    def target_node(self) -> TargetNode:
        assert isinstance(self.parent, TargetNode)
        return self.parent

    def runtest(self) -> None:
        tr = self.target_node.result()
        r = next(
            (x for x in tr.results if x.probe == self.probe and x.tls_version == self.version),
            None,
        )
        if r is None:
            why = dict(tr.unsupported_versions).get(self.version, "no result")
            pytest.skip(f"TLS {self.version}: {why}")
        self.user_properties.extend(
            [
                ("target", tr.target),
                ("expected", r.expected),
                ("actual", display_actual(r)),
                ("verdict", str(r.verdict)),
            ]
        )
        if r.verdict is Verdict.SKIP:
            pytest.skip(f"{r.name}: {r.reason or 'skipped'}")
        if r.verdict in (Verdict.FAIL, Verdict.ERROR):
            raise ProbeFailed(r, tr)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        exc = excinfo.value
        line = self.target_node.target.line or 1
        if isinstance(exc, ProbeFailed):
            text = failure_text(self.name, self.target_node.target, exc.result, exc.target)
            return _FailureRepr(text, _Crash(str(self.path), line, str(exc)))
        if isinstance(exc, MtlscheckError):
            msg = f"mtlscheck: {exc}"
            return _FailureRepr(msg, _Crash(str(self.path), line, msg))
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.target_node.target.line
        # Not a suffix of the node id, so ``-v`` shows the node id verbatim (pytest would turn
        # the dots of "api.internal" into "::"); also the headline of a failure.
        where = f"{self.target_node.name}::{self.name} ({redact_url(self.target_node.target.url)})"
        return self.path, None if line is None else line - 1, where


def collection_summary(items: list[pytest.Item]) -> list[str] | None:
    targets: dict[str, tuple[SuiteTarget, int]] = {}
    for item in items:
        if isinstance(item, SuiteItem):
            node = item.target_node
            t, n = targets.get(node.nodeid, (node.target, 0))
            targets[node.nodeid] = (t, n + 1)
    if not targets:
        return None
    return [
        f"mtlscheck: suite target {nodeid} -> {redact_url(t.url)} ({n} items)"
        for nodeid, (t, n) in targets.items()
    ]
