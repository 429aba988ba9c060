"""Command-line options shared by several commands (``probe``, ``report merge``, ...): one
declaration each, so a flag reads and behaves the same wherever it appears."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["BaselineOpt", "ColorOpt", "FormatOpt", "OutputOpt"]

FormatOpt = Annotated[
    str, typer.Option("--format", "-f", help="console, json, junit, markdown or sarif.")
]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to FILE.")]
ColorOpt = Annotated[
    bool | None,
    typer.Option(
        "--color/--no-color", help="Force colour on or off (default: auto, NO_COLOR honoured)."
    ),
]
BaselineOpt = Annotated[
    Path | None,
    typer.Option(
        "--baseline",
        help="Earlier JSON report: exit 1 only on regressions against it (a probe that "
        "passed fails, a new error finding, a worse verdict); prints what changed.",
    ),
]
