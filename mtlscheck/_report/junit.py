"""JUnit XML report, for CI dashboards (Jenkins, GitLab, GitHub test reporters).

One ``<testsuite>`` per target (``name`` = the target URL), one ``<testcase>`` per probe result
(``classname`` = ``mtlscheck.<host>``, ``name`` = ``probe[tls1.3]``). A FAIL verdict becomes
``<failure>``, ERROR ``<error>``, SKIP ``<skipped>``; the target's findings and unsupported TLS
versions go to the suite's ``<system-out>``.
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
    ordered_fixes,
    target_host,
    unsupported_line,
)
from mtlscheck._report._safe import for_display

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
    lines = [f"probe: {r.name}", f"expected: {r.expected}", f"actual: {display_actual(r)}"]
    if r.outcome is not None and r.outcome.detail:
        lines.append(f"detail: {r.outcome.detail}")
    if r.reason:
        lines.append(f"reason: {r.reason}")
    f = r.facts
    if f is not None:
        lines.append(
            f"handshake: protocol={f.protocol or '-'} cipher={f.cipher or '-'} "
            f"cert_requested={'yes' if f.cert_requested else 'no'} "
            f"client_cert_sent={'yes' if f.client_cert_sent else 'no'}"
        )
        if f.alert_received:
            lines.append(f"alert received: {f.alert_received}")
    if r.curl:
        lines.append(f"curl: {r.curl}")
    if r.openssl:
        lines.append(f"openssl: {r.openssl}")
    return "\n".join(lines)


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
    lines += [unsupported_line(v, why) for v, why in target.unsupported_versions]
    for f in target.findings:
        lines.append(f"[{f.severity}] {f.code}: {f.message}")
        if f.evidence:
            lines.append(f"  evidence: {', '.join(f.evidence)}")
        for server, fix in ordered_fixes(f.fixes, target.server_profile):
            fix_lines = fix.splitlines() or [""]
            lines.append(f"  fix ({server}): {fix_lines[0]}")
            lines += [f"    {line}" for line in fix_lines[1:]]
    return "\n".join(lines)


def _testsuite(target: TargetResult) -> tuple[ET.Element, Counts, float]:
    c = count(target)
    ms = sum(r.duration_ms for r in target.results)
    suite = ET.Element("testsuite", {"name": _clean(target.target)})
    _set_counts(suite, c, ms)
    props = ET.SubElement(suite, "properties")
    for key, value in (
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
