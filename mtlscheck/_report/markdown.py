"""GitHub-flavoured Markdown report, e.g. for ``$GITHUB_STEP_SUMMARY``."""

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
    lines = [f"### mtlscheck: {_code(t.target)} (server profile: {t.server_profile})", ""]
    if t.insecure:
        lines += ["> [!WARNING]", "> server certificate NOT verified (--insecure)", ""]
    lines += ["| Probe | TLS | Expected | Actual | Verdict |", "|---|---|---|---|---|"]
    for r in t.results:
        cells = [_code(r.name), display_tls(r), _code(r.expected), display_actual(r)]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + f" | {_VERDICT[r.verdict]} |")
    lines += ["", f"**{count(t).summary()}**", ""]
    for v, why in t.unsupported_versions:
        lines.append(f"- {unsupported_line(v, why)}")
    if t.unsupported_versions:
        lines.append("")
    if t.findings:
        lines += ["#### Findings", ""]
        for f in t.findings:
            lines.append(f"- **{_SEVERITY[f.severity]}** {_code(f.code)}: {f.message}")
            if f.evidence:
                lines.append(f"  - evidence: {', '.join(_code(e) for e in f.evidence)}")
            for server, fix in ordered_fixes(f.fixes, t.server_profile):
                if "\n" in fix:
                    lines += [f"  - fix ({server}):", "", "    ```"]
                    lines += [f"    {line}" for line in fix.splitlines()]
                    lines += ["    ```", ""]
                else:
                    lines.append(f"  - fix ({server}): {_code(fix)}")
        lines.append("")
    shown = [
        r for r in t.results if r.curl and (verbose or r.verdict in (Verdict.FAIL, Verdict.ERROR))
    ]
    if shown:
        title = "Reproduce" if verbose else "Reproduce failing probes"
        lines += ["<details><summary>" + title + "</summary>", ""]
        for r in shown:
            lines += [f"{_code(r.name)}", "", "```sh", r.curl]
            if verbose and r.openssl:
                lines.append(r.openssl)
            lines += ["```", ""]
        lines += ["</details>", ""]
    return lines


class MarkdownReporter:
    name = "markdown"

    def render(self, run: RunResult, out: TextIO, *, verbose: bool = False) -> None:
        lines: list[str] = []
        for t in run.targets:
            lines += _target(t, verbose)
        if not run.targets:
            lines = ["mtlscheck: no targets", ""]
        out.write("\n".join(lines).rstrip("\n") + "\n")
