"""Human report for a terminal, rendered with rich.

rich is imported here only, so ``import mtlscheck`` and the pytest plugin never pay for it.
All user/server supplied strings (DNs, details, commands) go through :class:`rich.text.Text`
with markup and emoji off: a ``[`` in a certificate subject is never taken for markup.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TextIO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from mtlscheck._model import (
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
    Counts,
    cert_expiry_note,
    count,
    display_actual,
    display_tls,
    key_facts,
    ordered_fixes,
    protocols_seen,
    unsupported_line,
)
from mtlscheck._report._safe import for_display

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
        total = Counts()
        for i, target in enumerate(run.targets):
            if i:
                console.print()
                console.rule(style="dim")
            self._target(console, target, verbose)
            total = total + count(target)
        if len(run.targets) > 1:
            console.print()
            console.print(
                Text.assemble(
                    (f"Total ({len(run.targets)} targets): ", "bold"), _counts_text(total)
                )
            )

    # -- sections ---------------------------------------------------------------------------

    def _target(self, console: Console, t: TargetResult, verbose: bool) -> None:
        console.print(
            Text.assemble(
                ("Target ", "bold"),
                (t.target, "bold cyan"),
                ("  server profile: ", "dim"),
                (t.server_profile, ""),
            )
        )
        if t.insecure:
            console.print(Text(f"WARNING: {INSECURE_WARNING}", style="bold yellow"))
        if not t.reachable:
            console.print(Text("No probe reached a TLS server on this target.", style="bold red"))
        console.print(_probe_table(t))
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


def _probe_table(t: TargetResult) -> Table:
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
    table.add_column("probe", no_wrap=True)
    table.add_column("TLS", no_wrap=True)
    table.add_column("expected", overflow="fold")
    table.add_column("actual", overflow="fold")
    table.add_column("verdict", no_wrap=True)
    for r in t.results:
        actual = Text(display_actual(r), style="dim" if r.verdict is Verdict.SKIP else "")
        if r.verdict is Verdict.ERROR and r.reason and r.outcome is not None:
            actual.append(f"\n{r.reason}", style="dim")
        table.add_row(
            r.name,
            display_tls(r),
            r.expected,
            actual,
            Text(str(r.verdict), style=VERDICT_STYLE[r.verdict]),
        )
    return table


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
    for finding in t.findings:
        console.print(_finding_renderable(finding, t.server_profile))


def _finding_renderable(f: Finding, server_profile: str) -> RenderableType:
    head = Text.assemble(
        (f"{str(f.severity).upper():<8}", SEVERITY_STYLE[f.severity]),
        (" ", ""),
        (f.code, "bold"),
        (": ", ""),
        (f.message, ""),
    )
    body: list[RenderableType] = []
    if f.evidence:
        body.append(Text.assemble(("evidence: ", "dim"), ", ".join(f.evidence)))
    for server, fix in ordered_fixes(f.fixes, server_profile):
        lines = fix.splitlines() or [""]
        if len(lines) == 1:
            body.append(Text.assemble((f"fix ({server}): ", "green"), lines[0]))
        else:
            body.append(Text(f"fix ({server}):", style="green"))
            body.append(Padding(Text("\n".join(lines)), (0, 0, 0, 2), expand=False))
    return Group(head, Padding(Group(*body), (0, 0, 0, 9), expand=False)) if body else head


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
