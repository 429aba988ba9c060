"""Report formatters behind one interface (console, json, junit, markdown, sarif).

>>> reporter = get_reporter("json")
>>> reporter.render(run, sys.stdout, verbose=False)

This package imports nothing heavy: each format lives in its own module, imported on demand by
:func:`get_reporter` (only the console reporter needs rich).
"""

from __future__ import annotations

from mtlscheck._errors import UsageError
from mtlscheck._report._base import Reporter

__all__ = ["FORMATS", "Reporter", "get_reporter"]

FORMATS: tuple[str, ...] = ("console", "json", "junit", "markdown", "sarif")
"""Valid ``--format`` values, the default (``console``) first."""


def get_reporter(fmt: str, *, color: bool | None = None) -> Reporter:
    """The reporter for ``fmt``.

    ``color`` only matters to ``console``: ``None`` = automatic (colour on a terminal, never
    when the output is a file or pipe, ``NO_COLOR``/``FORCE_COLOR`` honoured), ``True`` = force
    colour, ``False`` = no escape codes at all.

    Raises :class:`~mtlscheck._errors.UsageError` for an unknown format.
    """
    key = fmt.strip().lower()
    if key == "console":
        from mtlscheck._report.console import ConsoleReporter

        return ConsoleReporter(color=color)
    if key == "json":
        from mtlscheck._report._json import JsonReporter

        return JsonReporter()
    if key == "junit":
        from mtlscheck._report.junit import JunitReporter

        return JunitReporter()
    if key == "markdown":
        from mtlscheck._report.markdown import MarkdownReporter

        return MarkdownReporter()
    if key == "sarif":
        from mtlscheck._report.sarif import SarifReporter

        return SarifReporter()
    raise UsageError(f"unknown report format {fmt!r} (choose from: {', '.join(FORMATS)})")
