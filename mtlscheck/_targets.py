"""Target lists (``--targets FILE`` on the CLI, ``--mtls-targets FILE`` under pytest).

One reader for both surfaces, so a file that works with one works with the other: one URL per
line, blank lines and ``#`` comments ignored, at most 4 MiB, read through the bounded reader
(a FIFO or device is refused, never opened).  Standard library only: the pytest plugin reads
the file while pytest starts.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mtlscheck._errors import UsageError
from mtlscheck._files import read_input

__all__ = ["MAX_TARGETS_BYTES", "parse_targets", "read_targets"]

MAX_TARGETS_BYTES = 4 * 1024 * 1024
"""About 50,000 URLs: far more than one run should hold, far less than would hurt memory."""


def parse_targets(data: bytes, shown: str) -> list[str]:
    """The URLs in ``data``; ``shown`` (``--targets FILE``) names the source in messages."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{shown}: not UTF-8 text") from None
    found = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    found = [u for u in found if u]
    if not found:
        raise UsageError(f"{shown}: no URL in it")
    return found


def read_targets(path: Path | str, flag: str = "--targets", *, stdin: bool = True) -> list[str]:
    """The URLs of the file ``path`` (``-`` reads stdin where ``stdin`` allows it)."""
    if str(path) == "-":
        if not stdin:
            raise UsageError(f"{flag} -: stdin is not available here; give a file")
        data = sys.stdin.buffer.read(MAX_TARGETS_BYTES + 1)
        if len(data) > MAX_TARGETS_BYTES:
            raise UsageError(f"{flag} -: more than 4 MiB on stdin")
    else:
        data = read_input(path, f"{flag} file", limit=MAX_TARGETS_BYTES)
    return parse_targets(data, f"{flag} {path}")
