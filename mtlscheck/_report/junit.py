"""JUnit XML report, for CI dashboards (Jenkins, GitLab, GitHub test reporters).

One ``<testsuite>`` per target (``name`` = the target URL), one ``<testcase>`` per probe result
(``classname`` = ``mtlscheck.<host>``, ``name`` = ``probe[tls1.3]``). A FAIL verdict becomes
``<failure>``, ERROR ``<error>``, SKIP ``<skipped>``; the target's findings and unsupported TLS
versions go to the suite's ``<system-out>``.  The suite's properties carry the layered
client-auth verdict (``verdict``, ``verdict_reason``).  Failure bodies and ``<system-out>`` are
the shared plain text of :mod:`mtlscheck._report._text` (the pytest failure text is the same).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TextIO

from mtlscheck._model import ProbeResult, RunResult, TargetResult, Verdict
from mtlscheck._report._base import (
    Counts,
    count,
    display_actual,
    target_host,
    unsupported_line,
)
from mtlscheck._report._safe import for_display
from mtlscheck._report._text import finding_lines, probe_lines, verdict_line

__all__ = ["JunitReporter", "to_element"]

# Characters XML 1.0 cannot carry at all (ElementTree would write them and break the file).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _XML_ILLEGAL.sub("\ufffd", text)


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.3f}"


def _set_counts(el: ET.Element, c: Counts, ms: float) -> None:
    el.set("tests", str(c.total))
    el.set("failures", str(c.failed))
    el.set("errors", str(c.errors))
    el.set("skipped", str(c.skipped))
    el.set("time", _seconds(ms))


def _details(r: ProbeResult) -> str:
    return "\n".join([f"probe: {r.name}", *probe_lines(r, openssl=True)])


def _testcase(target: TargetResult, r: ProbeResult) -> ET.Element:
    tc = ET.Element(
        "testcase",
        {
            "classname": _clean(f"mtlscheck.{target_host(target.target)}"),
            "name": _clean(r.name),
            "time": _seconds(r.duration_ms),
        },
    )
    if r.verdict is Verdict.FAIL:
        el = ET.SubElement(tc, "failure", {"type": "expectation-not-met"})
        el.set("message", _clean(f"expected {r.expected}, got {display_actual(r)}"))
        el.text = _clean(_details(r))
    elif r.verdict is Verdict.ERROR:
        el = ET.SubElement(tc, "error", {"type": "probe-error"})
        el.set("message", _clean(r.reason or f"inconclusive: {display_actual(r)}"))
        el.text = _clean(_details(r))
    elif r.verdict is Verdict.SKIP:
        ET.SubElement(tc, "skipped", {"message": _clean(r.reason or "skipped")})
    return tc


def _system_out(target: TargetResult) -> str:
    lines: list[str] = []
    if target.insecure:
        lines.append("WARNING: server certificate NOT verified (--insecure)")
    lines.append(verdict_line(target))
    lines += [unsupported_line(v, why) for v, why in target.unsupported_versions]
    lines += finding_lines(target.findings, target.server_profile, header=bool(target.findings))
    return "\n".join(lines)


def _testsuite(target: TargetResult) -> tuple[ET.Element, Counts, float]:
    c = count(target)
    ms = sum(r.duration_ms for r in target.results)
    suite = ET.Element("testsuite", {"name": _clean(target.target)})
    _set_counts(suite, c, ms)
    props = ET.SubElement(suite, "properties")
    for key, value in (
        ("verdict", str(target.auth_verdict)),
        ("verdict_reason", target.auth_reason),
        ("server_profile", target.server_profile),
        ("insecure", "true" if target.insecure else "false"),
        ("findings", ",".join(f.code for f in target.findings)),
    ):
        ET.SubElement(props, "property", {"name": key, "value": _clean(value)})
    for r in target.results:
        suite.append(_testcase(target, r))
    text = _system_out(target)
    if text:
        ET.SubElement(suite, "system-out").text = _clean(text)
    return suite, c, ms


def to_element(run: RunResult) -> ET.Element:
    """The ``<testsuites>`` root element (credentials redacted, server text escaped, capped)."""
    run = for_display(run)
    root = ET.Element("testsuites", {"name": "mtlscheck"})
    total, total_ms = Counts(), 0.0
    for target in run.targets:
        suite, c, ms = _testsuite(target)
        root.append(suite)
        total, total_ms = total + c, total_ms + ms
    _set_counts(root, total, total_ms)
    return root


class JunitReporter:
    name = "junit"

    def render(self, run: RunResult, out: TextIO, *, verbose: bool = False) -> None:
        root = to_element(run)
        ET.indent(root)
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write(ET.tostring(root, encoding="unicode"))
        out.write("\n")
