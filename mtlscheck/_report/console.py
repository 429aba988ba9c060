"""Human report for a terminal, rendered with rich.

Several targets: a summary table first (target, layered client-auth verdict, passed/failed,
the most severe finding), then the details of the targets that failed (of all with ``-v``).
One target: its probes as a probe x TLS-version matrix, the handshake, the findings with the
fixes for the chosen ``--server`` only (every server's for ``generic``), each fix once
(:func:`mtlscheck._report._text.fix_plan`), wrapped text indented under its label.  A target
where no TLS server answered (nothing listening, a silent port) is one line.

rich is imported here only, so ``import mtlscheck`` and the pytest plugin never pay for it.
All user/server supplied strings (DNs, details, commands) go through :class:`rich.text.Text`
with markup and emoji off: a ``[`` in a certificate subject is never taken for markup.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TextIO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from mtlscheck._model import (
    AuthVerdict,
    CertInfo,
    Finding,
    HandshakeFacts,
    OutcomeKind,
    ProbeResult,
    RunResult,
    Severity,
    TargetResult,
    Verdict,
)
from mtlscheck._report._base import (
    NAMES_SHOWN,
    Counts,
    cert_expiry_note,
    count,
    display_actual,
    display_tls,
    failing_to_detail,
    key_facts,
    protocols_seen,
    unsupported_line,
)
from mtlscheck._report._safe import for_display
from mtlscheck._report._text import PlannedFix, fix_plan, most_severe

__all__ = ["DEFAULT_WIDTH", "ConsoleReporter"]

DEFAULT_WIDTH = 120
"""Width when the output is not a terminal and ``COLUMNS`` is not set."""

VERDICT_STYLE = {
    Verdict.PASS: "bold green",
    Verdict.FAIL: "bold red",
    Verdict.SKIP: "yellow",
    Verdict.ERROR: "bold magenta",
}
SEVERITY_STYLE = {
    Severity.ERROR: "bold red",
    Severity.WARNING: "bold yellow",
    Severity.INFO: "bold cyan",
}
AUTH_STYLE = {
    AuthVerdict.ENFORCED_TLS: "bold green",
    AuthVerdict.ENFORCED_HTTP: "bold green",
    AuthVerdict.PER_LOCATION: "bold yellow",
    AuthVerdict.INCONCLUSIVE: "bold magenta",
    AuthVerdict.FAIL_OPEN: "bold red",
    AuthVerdict.OFF: "bold red",
}
CELL_LABEL = {
    Verdict.PASS: "pass",
    Verdict.FAIL: "FAIL",
    Verdict.SKIP: "skip",
    Verdict.ERROR: "error",
}
INSECURE_WARNING = "server certificate NOT verified (--insecure)"


def _isatty(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def _env_columns() -> int | None:
    try:
        value = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        return None
    return value if value > 0 else None


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


class ConsoleReporter:
    """Rich tables, handshake facts and findings for a human at a terminal.

    ``color``: ``None`` automatic (colour only on a terminal; ``NO_COLOR``/``FORCE_COLOR``
    honoured by rich), ``True`` forced (overrides ``NO_COLOR``, as an explicit flag should),
    ``False`` no escape codes at all. ``width`` overrides the line width (default: the
    terminal's, else ``COLUMNS``, else 120). ``now`` pins the clock for expiry warnings.
    """

    name = "console"

    def __init__(
        self,
        *,
        color: bool | None = None,
        width: int | None = None,
        now: datetime | None = None,
    ) -> None:
        self.color = color
        self.width = width
        self.now = now

    # -- plumbing ---------------------------------------------------------------------------

    def make_console(self, out: TextIO, *, file: TextIO | None = None) -> Console:
        """A Console for ``out`` (writing to ``file`` instead when given)."""
        kwargs: dict[str, Any] = {
            "file": out if file is None else file,
            "markup": False,
            "emoji": False,
            "highlight": False,
        }
        if self.color is False:
            kwargs.update(force_terminal=False, color_system=None, no_color=True)
        elif self.color is True:
            kwargs.update(force_terminal=True, no_color=False)
        width = self.width
        if width is None and not _isatty(out):
            width = _env_columns() or DEFAULT_WIDTH
        if width is not None:
            kwargs["width"] = width
        return Console(**kwargs)

    def render(self, run: RunResult, out: TextIO, *, verbose: bool = False) -> None:
        run = for_display(run)  # no credentials, no control codes from the server, capped
        if _isatty(out):
            self._render(self.make_console(out), run, verbose)
            return
        # Not a terminal (file, pipe, StringIO): render, then drop the trailing blanks rich pads
        # lines with, so logs, diffs and snapshots stay clean.
        buf = io.StringIO()
        self._render(self.make_console(out, file=buf), run, verbose)
        out.write("\n".join(line.rstrip() for line in buf.getvalue().split("\n")))

    def _render(self, console: Console, run: RunResult, verbose: bool) -> None:
        if not run.targets:
            console.print(Text("No targets were probed.", style="yellow"))
            return
        if len(run.targets) == 1:
            self._target(console, run.targets[0], verbose)
            return
        for line in _summary_lines(run.targets, console.width):
            console.print(line, no_wrap=True, overflow="ignore", crop=False)
        total = Counts()
        for target in run.targets:
            total = total + count(target)
        console.print(
            Text.assemble((f"Total ({len(run.targets)} targets): ", "bold"), _counts_text(total))
        )
        console.print(_verdict_tally(run.targets))
        alike: dict[str, list[TargetResult]] = {}
        if verbose:
            shown, untold = list(run.targets), 0
        else:
            shown, alike, untold = failing_to_detail([t for t in run.targets if not t.ok])
        for target in shown:
            console.print()
            console.rule(style="dim")
            self._target(console, target, verbose)
            same = alike.get(target.target, [])
            if same:
                names = ", ".join(t.target for t in same[:NAMES_SHOWN])
                more = len(same) - NAMES_SHOWN
                console.print(
                    Text(
                        f"{len(same)} more target{'s' if len(same) != 1 else ''} with the same "
                        f"result: {names}"
                        + (f" and {more} more" if more > 0 else "")
                        + " (-v shows each)",
                        style="yellow",
                    )
                )
        if untold:
            console.print()
            console.print(
                Text(
                    f"{untold} more failing target{'s' if untold != 1 else ''} not detailed "
                    f"here (the summary above lists them; -v or --format json shows each)",
                    style="yellow",
                )
            )
        hidden = sum(1 for t in run.targets if t.ok) if not verbose else 0
        if hidden:
            console.print()
            console.print(
                Text(
                    f"{hidden} target{'s' if hidden != 1 else ''} met every expectation "
                    "(-v shows their details)",
                    style="dim",
                )
            )

    # -- sections ---------------------------------------------------------------------------

    def _target(self, console: Console, t: TargetResult, verbose: bool) -> None:
        if not t.reachable and not verbose:
            # Nothing to tabulate: every probe got the same non-answer.
            console.print(
                Text.assemble(
                    ("Target ", "bold"),
                    (t.target, "bold cyan"),
                    ("  ", ""),
                    (_unreachable_text(t), "bold red"),
                )
            )
            return
        console.print(
            Text.assemble(
                ("Target ", "bold"),
                (t.target, "bold cyan"),
                ("  server profile: ", "dim"),
                (t.server_profile, ""),
            )
        )
        console.print(_verdict_text(t))
        if t.insecure:
            console.print(Text(f"WARNING: {INSECURE_WARNING}", style="bold yellow"))
        if not t.reachable:
            console.print(
                Text(f"No probe reached a TLS server: {_unreachable_text(t)}", style="bold red")
            )
        console.print(_probe_matrix(t))
        for note in _skip_notes(t):
            console.print(Text(note, style="dim"))
        console.print(_counts_text(count(t)))
        for version, why in t.unsupported_versions:
            console.print(Text(unsupported_line(version, why), style="yellow"))
        panel = self._handshake_panel(t)
        if panel is not None:
            console.print()
            console.print(panel)
        if t.findings:
            console.print()
            _print_findings(console, t)
        if verbose:
            console.print()
            self._print_details(console, t)
        else:
            failing = [
                r for r in t.results if r.curl and r.verdict in (Verdict.FAIL, Verdict.ERROR)
            ]
            if failing:
                console.print()
                console.print(Text("Reproduce failing probes", style="bold"))
                for r in failing:
                    console.print(Text(f"  # {r.name}", style="dim"))
                    # soft_wrap: a long command is not broken up, so it copies cleanly
                    console.print(Text(f"  {r.curl}"), soft_wrap=True)
                _certs_note(console, t)

    def _handshake_panel(self, t: TargetResult) -> Panel | None:
        picked = key_facts(t)
        if picked is None:
            return None
        if not any(
            r.facts is not None
            and (
                r.facts.server_hello_seen
                or r.facts.server_chain
                or r.facts.cert_requested
                or r.facts.protocol
            )
            for r in t.results
        ):
            return None  # no TLS server answered: an empty panel would only be noise
        source, f = picked
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        protocols = protocols_seen(t)
        grid.add_row("protocol(s) seen", ", ".join(protocols) if protocols else "-")
        grid.add_row("cipher", f.cipher or "-")
        if not f.cert_requested and any(
            r.facts is not None and r.facts.cert_requested_after_handshake for r in t.results
        ):
            requested = Text("only after the handshake (per-location client auth)", style="yellow")
        else:
            requested = Text(
                _yes_no(f.cert_requested), style="green" if f.cert_requested else "red"
            )
        grid.add_row("client certificate requested", requested)
        grid.add_row("accepted client CAs", _ca_names_text(f))
        if f.server_chain:
            leaf = f.server_chain[0]
            grid.add_row("server certificate", leaf.subject)
            grid.add_row("issued by", leaf.issuer)
            grid.add_row("expires", self._expiry_text(leaf))
        if f.server_verify_error:
            grid.add_row("server cert verification", Text(f.server_verify_error, style="yellow"))
        if f.hostname_matches is False:
            grid.add_row("hostname", Text("does NOT match the server certificate", style="yellow"))
        title = Text.assemble(("Handshake", "bold"), (f" (from {source.name})", "dim"))
        return Panel(grid, title=title, title_align="left", expand=False, box=box.ROUNDED)

    def _expiry_text(self, cert: CertInfo) -> Text:
        note, alarming = cert_expiry_note(cert.not_after, self.now)
        text = Text(cert.not_after)
        if note:
            style = "bold red" if note == "EXPIRED" else "bold yellow"
            text.append(f"  {note}", style=style if alarming else "")
        return text

    def _print_details(self, console: Console, t: TargetResult) -> None:
        console.print(Text("Probe details", style="bold"))
        for r in t.results:
            head = Text.assemble(
                ("  ", ""),
                (r.name, "bold"),
                ("  ", ""),
                (str(r.verdict), VERDICT_STYLE[r.verdict]),
            )
            if r.verdict is Verdict.SKIP:
                console.print(head.append(f"  {display_actual(r)}"))
                continue
            head.append(f"  expected {r.expected}, got {display_actual(r)}")
            if r.duration_ms:
                head.append(f"  ({r.duration_ms:.0f} ms)", style="dim")
            console.print(head)
            console.print(Padding(Group(*_detail_lines(r, self)), (0, 0, 0, 6), expand=False))
            for label, cmd in (("curl", r.curl), ("openssl", r.openssl)):
                if cmd:
                    console.print(Text(f"      {label}: {cmd}"), soft_wrap=True)
        _certs_note(console, t)


def _counts_text(c: Counts) -> Text:
    parts = c.summary().split(", ")
    styles = [
        "green" if c.passed else "",
        "bold red" if c.failed else "",
        "yellow" if c.skipped else "",
        "bold magenta" if c.errors else "",
    ]
    text = Text()
    for i, (part, style) in enumerate(zip(parts, styles, strict=True)):
        if i:
            text.append(", ")
        text.append(part, style=style)
    return text


def _summary_lines(targets: Sequence[TargetResult], width: int) -> Iterator[Text]:
    """One row per target: the layered verdict, passed/failed probes, the worst finding.

    Laid out by hand rather than with a rich Table, which takes seconds for thousands of rows.
    A URL longer than its column gets a line of its own, the rest of its row below it.
    """
    rows = []
    for t in targets:
        c = count(t)
        failed = c.failed + c.errors
        worst = most_severe(t)
        more = f" (+{len(t.findings) - 1})" if len(t.findings) > 1 else ""
        rows.append((t, f"{c.passed}/{failed}", c.passed, failed, worst, more))
    verdict_w = max([len("client auth")] + [len(str(t.auth_verdict)) for t in targets])
    tally_w = max([len("passed/failed")] + [len(r[1]) for r in rows])
    longest = max([len("target")] + [len(t.target) for t in targets])
    finding_w = min(50, max(len(f"{r[4].severity} {r[4].code}{r[5]}") if r[4] else 1 for r in rows))
    target_w = max(len("target"), min(longest, width - verdict_w - tally_w - finding_w - 6))
    head = f"{'target':<{target_w}}  {'client auth':<{verdict_w}}  {'passed/failed':>{tally_w}}"
    yield Text(f"{head}  most severe finding", style="bold")
    yield Text("─" * min(width, len(head) + 40), style="dim")
    for t, tally, passed, failed, worst, more in rows:
        line = Text()
        if len(t.target) > target_w:
            yield Text(t.target)
            line.append(" " * target_w)
        else:
            line.append(f"{t.target:<{target_w}}")
        line.append("  ")
        line.append(f"{t.auth_verdict!s:<{verdict_w}}", style=AUTH_STYLE.get(t.auth_verdict, ""))
        line.append("  " + " " * (tally_w - len(tally)))
        line.append(str(passed), style="green" if passed else "")
        line.append("/")
        line.append(str(failed), style="bold red" if failed else "")
        line.append("  ")
        if worst is None:
            line.append("-", style="dim")
        else:
            line.append(str(worst.severity), style=SEVERITY_STYLE[worst.severity])
            line.append(f" {worst.code}")
            line.append(more, style="dim")
        yield line


def _verdict_tally(targets: Iterable[TargetResult]) -> Text:
    """``client auth: 5 enforced-http, 3 fail-open`` (in the order of the verdict enum)."""
    counts: dict[AuthVerdict, int] = {}
    for t in targets:
        counts[t.auth_verdict] = counts.get(t.auth_verdict, 0) + 1
    text = Text("client auth: ", style="bold")
    for i, v in enumerate(v for v in AuthVerdict if v in counts):
        if i:
            text.append(", ")
        text.append(f"{counts[v]} {v}", style=AUTH_STYLE.get(v, ""))
    return text


def _verdict_text(t: TargetResult) -> Text:
    text = Text.assemble(
        ("client auth: ", "bold"), (str(t.auth_verdict), AUTH_STYLE.get(t.auth_verdict, ""))
    )
    if t.auth_reason:
        text.append(f" ({t.auth_reason})", style="dim")
    return text


def _unreachable_text(t: TargetResult) -> str:
    """Why no TLS server answered, in a few words: ``nothing listening (connect refused)``."""
    outcomes = [r.outcome for r in t.results if r.outcome is not None]
    if outcomes and all(o.kind is OutcomeKind.TLS_VERSION for o in outcomes):
        return "the server refused every requested TLS version"
    if t.hello_refused:
        return f"every ClientHello was refused with {t.hello_refused} (no shared version or suite)"
    seen = sorted({o.summary for o in outcomes})
    if seen == ["connect refused"]:
        return "nothing listening (connect refused)"
    return "no TLS server answered (" + ", ".join(seen or ["no probe ran"]) + ")"


def _cell(r: ProbeResult | None) -> Text:
    """One probe x TLS version: the verdict, then what came back (skip reasons go below)."""
    if r is None:
        return Text("-", style="dim")
    text = Text(CELL_LABEL[r.verdict], style=VERDICT_STYLE[r.verdict])
    if r.verdict is Verdict.SKIP:
        return text
    text.append(f" {display_actual(r)}")
    if r.tls_version is None and r.facts is not None and r.facts.protocol:
        text.append(f" ({display_tls(r)})", style="dim")
    if r.verdict is Verdict.ERROR and r.reason and r.outcome is not None:
        text.append(f"\n{r.reason}", style="dim")
    return text


def _probe_matrix(t: TargetResult) -> Table:
    """Probes down, TLS versions across: half the rows of one row per probe per version."""
    versions: list[str | None] = []
    rows: dict[str, dict[str | None, ProbeResult]] = {}
    for r in t.results:
        if r.tls_version not in versions:
            versions.append(r.tls_version)
        rows.setdefault(r.probe, {})[r.tls_version] = r
    # A probe that does not depend on the TLS version (plaintext) sits in the first column
    # rather than in a column of its own.
    columns: list[str | None] = [v for v in versions if v is not None] or [None]
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
    table.add_column("probe", no_wrap=True)
    table.add_column("expected", overflow="fold", max_width=30)
    for v in columns:
        table.add_column("TLS" if v is None else f"TLS {v}", overflow="fold")
    for probe, cells in rows.items():
        expected = " / ".join(dict.fromkeys(r.expected for r in cells.values()))
        shown: list[Text] = [_cell(cells.get(v)) for v in columns]
        if None in cells and None not in columns:
            shown = [_cell(cells[None])] + [Text("") for _ in columns[1:]]
        table.add_row(probe, expected, *shown)
    return table


def _skip_notes(t: TargetResult) -> list[str]:
    """``revoked: skipped: no CA key ...`` once per probe and reason, below the matrix."""
    notes: list[str] = []
    for r in t.results:
        if r.verdict is Verdict.SKIP:
            note = f"  {r.probe}: {display_actual(r)}"
            if note not in notes:
                notes.append(note)
    return notes


_CA_FOLD = 8
"""CA names shown before the console folds the list (JSON keeps every one)."""


def _ca_names_text(f: HandshakeFacts) -> Text:
    if f.ca_names:
        names = list(f.ca_names)
        total = len(names)
        # for_display caps long lists and says so in a last "… and N more" entry
        m = re.fullmatch(r"… and (\d+) more", names[-1])
        if m is not None:
            names.pop()
            total = len(names) + int(m.group(1))
        if total <= _CA_FOLD:
            return Text("\n".join(names))
        shown = _CA_FOLD - 2
        return Text("\n".join(names[:shown])).append(
            f"\n… and {total - shown} more ({total} CA names; --format json lists them all)",
            style="dim",
        )
    if f.cert_requested:
        return Text("none sent (empty list)", style="yellow")
    return Text("- (no certificate request)", style="dim")


def _print_findings(console: Console, t: TargetResult) -> None:
    console.print(Text("Findings", style="bold underline"))
    for finding, fixes in fix_plan(t.findings, t.server_profile):
        console.print(_finding_renderable(finding, fixes))


def _labelled(label: Text, body: Text) -> Table:
    """``label body`` with the body's wrapped lines indented under its first character."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row(label, body)
    return grid


def _finding_renderable(f: Finding, fixes: list[PlannedFix]) -> RenderableType:
    """Severity, code and message; evidence and fixes below, every wrapped line indented."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row(
        Text(f"{str(f.severity).upper():<7}", style=SEVERITY_STYLE[f.severity]),
        Text.assemble((f.code, "bold"), ": ", f.message),
    )
    if f.evidence:
        grid.add_row("", _labelled(Text("evidence:", style="dim"), Text(", ".join(f.evidence))))
    for fix in fixes:
        label = Text(f"fix ({fix.server}):", style="green")
        if fix.same_as is not None:
            body = Text(f"as for {fix.same_as} above", style="dim")
        else:
            body = Text("\n".join(fix.text.splitlines() or [""]))
        grid.add_row("", _labelled(label, body))
    return grid


def _detail_lines(r: ProbeResult, rep: ConsoleReporter) -> Iterable[RenderableType]:
    if r.reason:
        label = "skip reason" if r.verdict is Verdict.SKIP else "reason"
        yield Text.assemble((f"{label}: ", "dim"), r.reason)
    o = r.outcome
    if o is not None and o.detail:
        yield Text.assemble(("detail: ", "dim"), o.detail)
    f = r.facts
    if f is None:
        if r.verdict is not Verdict.SKIP:
            yield Text("no handshake facts recorded", style="dim")
        return
    yield Text.assemble(
        ("protocol: ", "dim"),
        f.protocol or "-",
        ("  cipher: ", "dim"),
        f.cipher or "-",
        ("  handshake completed: ", "dim"),
        _yes_no(f.handshake_completed),
    )
    yield Text.assemble(
        ("client certificate requested: ", "dim"),
        _yes_no(f.cert_requested),
        ("  after the handshake: ", "dim"),
        _yes_no(f.cert_requested_after_handshake),
        ("  client certificate sent: ", "dim"),
        _yes_no(f.client_cert_sent),
        ("  post-handshake auth offered: ", "dim"),
        _yes_no(f.post_handshake_auth),
    )
    if f.client_chain:
        yield Text.assemble(
            ("presented: ", "dim"),
            " <- ".join(f"{c.subject} (issuer {c.issuer})" for c in f.client_chain),
        )
    yield Text.assemble(("CA names: ", "dim"), _ca_names_text(f))
    if f.alert_received:
        phase = o.phase if o is not None and o.kind is OutcomeKind.TLS_ALERT else None
        yield Text.assemble(
            ("alert received: ", "dim"),
            f.alert_received + (f" ({phase})" if phase else ""),
        )
    if f.alert_sent:
        yield Text.assemble(("alert sent: ", "dim"), f.alert_sent)
    if f.server_verify_error:
        yield Text.assemble(("server verify error: ", "dim"), f.server_verify_error)
    if f.hostname_matches is not None:
        yield Text.assemble(("hostname matches: ", "dim"), _yes_no(f.hostname_matches))
    if f.server_chain:
        yield Text("server chain:", style="dim")
        for i, cert in enumerate(f.server_chain):
            yield Text.assemble(
                f"  {i} ",
                cert.subject,
                ("  issuer: ", "dim"),
                cert.issuer,
                ("  expires: ", "dim"),
                rep._expiry_text(cert),
            )


def _certs_note(console: Console, t: TargetResult) -> None:
    """Minted certificates live in a temporary directory unless --save-certs kept them."""
    if t.certs_removed:
        console.print(
            Text(
                "  (certificates minted for this run were removed; rerun with --save-certs DIR "
                "to keep them for these commands)",
                style="dim",
            )
        )
