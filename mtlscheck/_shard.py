"""``--shard K/N`` and ``mtlscheck report merge``: one run split over CI matrix jobs.

mtlscheck does not schedule work across machines; a CI system's job matrix already does.
``--shard K/N`` makes job K of N probe its share of the targets, and ``report merge`` puts the
shards' JSON reports back together into the report one unsharded run would have written.

The split is round-robin over the target list (target ``i`` goes to shard ``i mod N + 1``):
deterministic for a given list, balanced to within one target, and it spreads a run of slow
targets that sit next to each other in a list (one silent data centre) over every job.  Each
shard's JSON report records ``shard: {index, count, total}``, so the merge can check that
every shard is there and restore the original order whatever order the files come in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

from mtlscheck._errors import InputError, UsageError
from mtlscheck._model import RunResult, TargetResult

__all__ = ["merge_reports", "parse_shard", "shard_of"]

T = TypeVar("T")

_SHARD = re.compile(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*")


def parse_shard(value: str) -> tuple[int, int]:
    """``"2/4"`` -> ``(2, 4)``; :class:`UsageError` unless ``1 <= K <= N``."""
    m = _SHARD.fullmatch(value)
    if m is None:
        raise UsageError(f"--shard takes K/N (e.g. 2/4), not {value!r}")
    k, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 1 <= k <= n:
        raise UsageError(f"--shard {value}: K must be between 1 and N (N >= 1)")
    return k, n


def shard_of(items: Sequence[T], k: int, n: int) -> list[T]:
    """The items of shard ``k`` of ``n``: every ``n``-th, starting at index ``k - 1``."""
    return list(items[k - 1 :: n])


def _positions(k: int, n: int, total: int) -> range:
    """Where shard ``k``'s targets sat in the unsharded list."""
    return range(k - 1, total, n)


def merge_reports(
    reports: Sequence[tuple[str, RunResult, tuple[int, int, int] | None]],
    *,
    allow_missing: bool = False,
) -> tuple[RunResult, list[str]]:
    """One run from the shards' runs, in the unsharded order; and notes for stderr.

    ``reports``: ``(name, run, shard)`` per file.  With shard marks, every shard of the same
    split must be there exactly once (``allow_missing`` merges what is there and names the
    missing shards in the notes).  Reports without shard marks are appended in the order given.
    :class:`InputError` for files that do not fit together.
    """
    if not reports:
        raise UsageError("report merge: give at least one JSON report")
    marked = [r for r in reports if r[2] is not None]
    if not marked:
        return RunResult(tuple(t for _, run, _ in reports for t in run.targets)), []
    if len(marked) != len(reports):
        plain = next(name for name, _, s in reports if s is None)
        raise InputError(
            f"report merge: {plain} is not a shard report (no --shard) but others are; "
            "merge shard reports of one split only"
        )
    first_name, _, first = marked[0]
    assert first is not None
    _, n, total = first
    by_k: dict[int, tuple[str, RunResult]] = {}
    for name, run, shard in marked:
        assert shard is not None
        k, n2, total2 = shard
        if (n2, total2) != (n, total):
            raise InputError(
                f"report merge: {name} is shard {k}/{n2} of {total2} targets, "
                f"{first_name} is of a split {first[0]}/{n} of {total}: not the same run"
            )
        if k in by_k:
            raise InputError(f"report merge: shard {k}/{n} given twice ({by_k[k][0]}, {name})")
        expected = len(_positions(k, n, total))
        if len(run.targets) != expected:
            raise InputError(
                f"report merge: {name} (shard {k}/{n} of {total}) holds {len(run.targets)} "
                f"targets, not {expected}"
            )
        by_k[k] = (name, run)
    missing = [k for k in range(1, n + 1) if k not in by_k]
    notes: list[str] = []
    if missing:
        listed = ", ".join(f"{k}/{n}" for k in missing)
        if not allow_missing:
            raise InputError(
                f"report merge: shard {listed} missing (give every shard's report, or "
                "--allow-missing to merge the others)"
            )
        notes.append(f"shard {listed} missing: the merged report lacks its targets")
    slots: list[TargetResult | None] = [None] * total
    for k, (_, run) in by_k.items():
        for pos, target in zip(_positions(k, n, total), run.targets, strict=True):
            slots[pos] = target
    return RunResult(tuple(t for t in slots if t is not None)), notes
