"""GitHub-flavoured Markdown report, e.g. for ``$GITHUB_STEP_SUMMARY``.

Text from the server or the user (outcome details, subjects, messages quoting them) is
escaped (:func:`~mtlscheck._report._safe.markdown_text`) or put in code spans and fences it
cannot close, so a hostile server cannot add links, images, HTML or fake rows to a summary.
"""

from __future__ import annotations

from typing import TextIO

from mtlscheck._model import RunResult, Severity, TargetResult, Verdict
from mtlscheck._report._base import (
    count,
    display_actual,
    display_tls,
    ordered_fixes,
    unsupported_line,
)
from mtlscheck._report._safe import fence_for, for_display, markdown_text

__all__ = ["MarkdownReporter"]

_VERDICT = {
    Verdict.PASS: "✅ pass",
    Verdict.FAIL: "❌ fail",
    Verdict.SKIP: "⏭️ skip",
    Verdict.ERROR: "⚠️ error",
}
_SEVERITY = {Severity.ERROR: "🔴 error", Severity.WARNING: "🟡 warning", Severity.INFO: "🔵 info"}


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
        for f in t.findings:
            lines.append(
                f"- **{_SEVERITY[f.severity]}** {_code(f.code)}: {markdown_text(f.message)}"
            )
            if f.evidence:
                lines.append(f"  - evidence: {', '.join(_code(e) for e in f.evidence)}")
            for server, fix in ordered_fixes(f.fixes, t.server_profile):
                if "\n" in fix:
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
        title = "Reproduce" if verbose else "Reproduce failing probes"
        lines += ["<details><summary>" + title + "</summary>", ""]
        for r in shown:
            commands = [r.curl] + ([r.openssl] if verbose and r.openssl else [])
            fence = fence_for("\n".join(commands))
            lines += [f"{_code(r.name)}", "", f"{fence}sh", *commands, fence, ""]
        lines += ["</details>", ""]
    return lines


class MarkdownReporter:
    name = "markdown"

    def render(self, run: RunResult, out: TextIO, *, verbose: bool = False) -> None:
        run = for_display(run)  # no credentials, no control codes, capped
        lines: list[str] = []
        for t in run.targets:
            lines += _target(t, verbose)
        if not run.targets:
            lines = ["mtlscheck: no targets", ""]
        out.write("\n".join(lines).rstrip("\n") + "\n")
