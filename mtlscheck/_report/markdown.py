"""GitHub-flavoured Markdown report, e.g. for ``$GITHUB_STEP_SUMMARY``.

Text from the server or the user (outcome details, subjects, messages quoting them) is
escaped (:func:`~mtlscheck._report._safe.markdown_text`) or put in code spans and fences it
cannot close, so a hostile server cannot add links, images, HTML or fake rows to a summary.

Several targets: a summary table first (target, layered client-auth verdict, passed, failed,
most severe finding), made for a CI job summary; then a section per failed target (per target
with ``-v``).  Fixes are those for the target's ``--server`` (every server's for ``generic``),
each once; what a failing probe saw is the shared plain text of :mod:`mtlscheck._report._text`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from mtlscheck._model import AuthVerdict, RunResult, Severity, TargetResult, Verdict
from mtlscheck._report._base import (
    NAMES_SHOWN,
    Counts,
    count,
    display_actual,
    display_tls,
    failing_to_detail,
    unsupported_line,
)
from mtlscheck._report._safe import fence_for, for_display, markdown_text
from mtlscheck._report._text import fix_plan, most_severe, probe_lines

__all__ = ["MarkdownReporter"]

_VERDICT = {
    Verdict.PASS: "✅ pass",
    Verdict.FAIL: "❌ fail",
    Verdict.SKIP: "⏭️ skip",
    Verdict.ERROR: "⚠️ error",
}
_SEVERITY = {Severity.ERROR: "🔴 error", Severity.WARNING: "🟡 warning", Severity.INFO: "🔵 info"}
_AUTH = {
    AuthVerdict.ENFORCED_TLS: "🟢",
    AuthVerdict.ENFORCED_HTTP: "🟢",
    AuthVerdict.PER_LOCATION: "🟡",
    AuthVerdict.INCONCLUSIVE: "⚪",
    AuthVerdict.FAIL_OPEN: "🔴",
    AuthVerdict.OFF: "🔴",
}


def _verdict(t: TargetResult) -> str:
    return f"{_AUTH.get(t.auth_verdict, '')} `{t.auth_verdict}`".strip()


def _cell(text: str) -> str:
    """Table-cell safe: pipes escaped (also inside code spans, per GFM), no line breaks."""
    return text.replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def _code(text: str) -> str:
    """An inline code span that survives backticks inside ``text``."""
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _target(t: TargetResult, verbose: bool) -> list[str]:
    profile = markdown_text(t.server_profile)
    lines = [f"### mtlscheck: {_code(t.target)} (server profile: {profile})", ""]
    verdict = f"**Client auth:** {_verdict(t)}"
    if t.auth_reason:
        verdict += f" — {markdown_text(t.auth_reason)}"
    lines += [verdict, ""]
    if t.insecure:
        lines += ["> [!WARNING]", "> server certificate NOT verified (--insecure)", ""]
    lines += ["| Probe | TLS | Expected | Actual | Verdict |", "|---|---|---|---|---|"]
    for r in t.results:
        cells = [_code(r.name), display_tls(r), _code(r.expected), markdown_text(display_actual(r))]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + f" | {_VERDICT[r.verdict]} |")
    lines += ["", f"**{count(t).summary()}**", ""]
    for v, why in t.unsupported_versions:
        lines.append(f"- {markdown_text(unsupported_line(v, why))}")
    if t.unsupported_versions:
        lines.append("")
    if t.findings:
        lines += ["#### Findings", ""]
        for f, fixes in fix_plan(t.findings, t.server_profile):
            lines.append(
                f"- **{_SEVERITY[f.severity]}** {_code(f.code)}: {markdown_text(f.message)}"
            )
            if f.evidence:
                lines.append(f"  - evidence: {', '.join(_code(e) for e in f.evidence)}")
            for planned in fixes:
                server, fix = planned.server, planned.text
                if planned.same_as is not None:
                    lines.append(
                        f"  - fix ({markdown_text(server)}): as for {_code(planned.same_as)} above"
                    )
                elif "\n" in fix:
                    fence = fence_for(fix)
                    lines += [f"  - fix ({markdown_text(server)}):", "", f"    {fence}"]
                    lines += [f"    {line}" for line in fix.splitlines()]
                    lines += [f"    {fence}", ""]
                else:
                    lines.append(f"  - fix ({markdown_text(server)}): {_code(fix)}")
        lines.append("")
    shown = [
        r for r in t.results if r.curl and (verbose or r.verdict in (Verdict.FAIL, Verdict.ERROR))
    ]
    if shown:
        title = "Probe details" if verbose else "Failing probes: details and reproduce"
        lines += ["<details><summary>" + title + "</summary>", ""]
        for r in shown:
            facts = "\n".join(probe_lines(r, commands=False))
            commands = [r.curl] + ([r.openssl] if verbose and r.openssl else [])
            fence = fence_for("\n".join([facts, *commands]))
            lines += [f"{_code(r.name)}", "", f"{fence}text", facts, fence, ""]
            lines += [f"{fence}sh", *commands, fence, ""]
        lines += ["</details>", ""]
    return lines


def _summary(targets: Sequence[TargetResult]) -> list[str]:
    """The table a CI job summary shows first: one row per target."""
    total = Counts()
    lines = [
        f"## mtlscheck: {len(targets)} targets",
        "",
        "| Target | Client auth | Passed | Failed | Most severe finding |",
        "|---|---|--:|--:|---|",
    ]
    for t in targets:
        c = count(t)
        total = total + c
        worst = most_severe(t)
        finding = "—"
        if worst is not None:
            finding = f"{_SEVERITY[worst.severity]} {_code(worst.code)}"
            if len(t.findings) > 1:
                finding += f" (+{len(t.findings) - 1})"
        cells = [_code(t.target), _verdict(t), str(c.passed), str(c.failed + c.errors), finding]
        lines.append("| " + " | ".join(_cell(x) for x in cells) + " |")
    verdicts: dict[AuthVerdict, int] = {}
    for t in targets:
        verdicts[t.auth_verdict] = verdicts.get(t.auth_verdict, 0) + 1
    tally = ", ".join(f"{verdicts[v]} `{v}`" for v in AuthVerdict if v in verdicts)
    lines += ["", f"**{total.summary()}** · client auth: {tally}", ""]
    return lines


class MarkdownReporter:
    name = "markdown"

    def render(self, run: RunResult, out: TextIO, *, verbose: bool = False) -> None:
        run = for_display(run)  # no credentials, no control codes, capped
        lines: list[str] = []
        alike: dict[str, list[TargetResult]] = {}
        untold = 0
        if len(run.targets) > 1:
            lines += _summary(run.targets)
            if verbose:
                shown = list(run.targets)
            else:
                shown, alike, untold = failing_to_detail([t for t in run.targets if not t.ok])
            hidden = 0 if verbose else sum(1 for t in run.targets if t.ok)
            if hidden:
                lines += [f"{hidden} target(s) met every expectation (details with `-v`).", ""]
        else:
            shown = list(run.targets)
        for t in shown:
            lines += _target(t, verbose)
            same = alike.get(t.target, [])
            if same:
                names = ", ".join(markdown_text(s.target) for s in same[:NAMES_SHOWN])
                more = len(same) - NAMES_SHOWN
                lines += [
                    f"{len(same)} more target(s) with the same result: {names}"
                    + (f" and {more} more" if more > 0 else "")
                    + " (each with `-v`).",
                    "",
                ]
        if untold:
            lines += [
                f"{untold} more failing target(s) not detailed here: the summary lists them; "
                "`-v` or `--format json` shows each.",
                "",
            ]
        if not run.targets:
            lines = ["mtlscheck: no targets", ""]
        out.write("\n".join(lines).rstrip("\n") + "\n")
