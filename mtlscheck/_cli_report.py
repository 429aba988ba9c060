"""``mtlscheck report merge``, and how a baseline comparison is shown.

``report merge A.json B.json ...`` puts the JSON reports of ``probe --shard K/N`` jobs back
together (:mod:`mtlscheck._shard`) and renders the merged run in any format, with the exit code
one unsharded run would have had; ``--baseline`` judges the merged run against an earlier one
(:mod:`mtlscheck._baseline`).  No network.  Registered on the main app by :mod:`mtlscheck._cli`;
everything heavy is imported when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from mtlscheck._cli_common import BaselineOpt, ColorOpt, FormatOpt, OutputOpt

if TYPE_CHECKING:
    from mtlscheck._baseline import Comparison
    from mtlscheck._report._load import Report

__all__ = ["load_baseline", "parse_shard_option", "report_app", "write_comparison"]

report_app = typer.Typer(
    name="report",
    help="Work with JSON reports of earlier runs (merge the shards of a CI matrix).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

_MERGE_EXIT = (
    "Exit codes: as one unsharded run (0 every probe met its expectation; 1 some did not; "
    "3 a target was not reached; 4 internal error), or with --baseline 0 unless something "
    "regressed; 2 bad input (not a JSON report, shards of different runs, a shard missing "
    "without --allow-missing).  With --allow-missing a missing shard makes the exit code at "
    "least 1."
)


def parse_shard_option(value: str | None) -> tuple[int, int] | None:
    """``--shard K/N`` -> ``(K, N)``; one usage-error line for anything else."""
    if value is None:
        return None
    from mtlscheck._shard import parse_shard

    return parse_shard(value)


def load_baseline(path: Path | None) -> Report | None:
    """The ``--baseline`` report, read before any probe runs (a typo costs no run)."""
    if path is None:
        return None
    from mtlscheck._report._load import load_report

    return load_report(path, "--baseline")


def write_comparison(comparison: Comparison, fmt: str, out: TextIO) -> None:
    """What changed since the baseline: appended to a console or Markdown report (``out``),
    on stderr beside the machine formats (JSON, JUnit, SARIF stay valid documents)."""
    from mtlscheck._report._safe import escape_control, markdown_text

    lines = [escape_control(line) for line in comparison.lines()]
    key = fmt.strip().lower()
    if key == "markdown":
        out.write("\n### Compared with the baseline\n\n")
        out.write(f"{markdown_text(lines[0])}\n\n")
        for line in lines[1:]:
            out.write(f"- {markdown_text(line.strip())}\n")
        return
    target = out if key == "console" else sys.stderr
    if key == "console":
        target.write("\n")
    target.write("\n".join(lines) + "\n")


@report_app.command("merge", epilog=_MERGE_EXIT)
def merge(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="JSON reports (--format json) of the shards; any order.", show_default=False
        ),
    ],
    fmt: FormatOpt = "console",
    output: OutputOpt = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Details of every target, not only failed.")
    ] = False,
    color: ColorOpt = None,
    baseline: BaselineOpt = None,
    allow_missing: Annotated[
        bool,
        typer.Option("--allow-missing", help="Merge even when some shards' reports are missing."),
    ] = False,
) -> None:
    """Merge the JSON reports of 'probe --shard K/N' jobs into one report."""
    from mtlscheck._baseline import compare
    from mtlscheck._cli import _check_format, _emit, _finish
    from mtlscheck._report._load import load_report
    from mtlscheck._shard import merge_reports

    _check_format(fmt)
    old = load_baseline(baseline)
    reports = [load_report(p) for p in files]
    run, notes = merge_reports(
        [(r.path, r.run, r.shard) for r in reports], allow_missing=allow_missing
    )
    for note in notes:
        print(f"mtlscheck: warning: {note}", file=sys.stderr)
    comparison = None if old is None else compare(old.run, run, name=old.path)
    _emit(run, fmt, output, verbose, color, comparison=comparison)
    code = run.exit_code if comparison is None else comparison.exit_code(run)
    if notes and code == 0:
        code = 1
    _finish(run, code)
