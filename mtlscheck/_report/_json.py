"""JSON report: ``RunResult.to_dict()`` plus a ``schema`` number.

``schema`` is bumped whenever the document changes in a way that can break a consumer (a key
removed or renamed, a type or meaning changed). Adding keys is not breaking and keeps the number.
Key order is stable: ``schema`` first, then the order of the ``to_dict()`` methods in
:mod:`mtlscheck._model`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from typing import Any, TextIO

from mtlscheck._model import RunResult, TargetResult
from mtlscheck._report._safe import redacted

__all__ = ["SCHEMA_VERSION", "JsonReporter", "JsonSpool", "to_document"]

SCHEMA_VERSION = 1


def to_document(run: RunResult, *, shard: tuple[int, int, int] | None = None) -> dict[str, Any]:
    """The JSON document as a dict (``schema`` first), credentials redacted.

    Server text stays as it came (JSON escapes control characters itself, and consumers want
    the data); only URL userinfo and secret header values become ``<redacted>``.  ``shard``
    ``(k, n, total)`` marks the report of one ``--shard k/n`` of ``total`` targets, so
    ``mtlscheck report merge`` can check that every shard is there and restore the order.
    """
    doc = {"schema": SCHEMA_VERSION, **redacted(run).to_dict()}
    if shard is not None:
        k, n, total = shard
        doc["shard"] = {"index": k, "count": n, "total": total}
    return doc


class JsonReporter:
    name = "json"

    def __init__(self, *, shard: tuple[int, int, int] | None = None) -> None:
        self.shard = shard

    def render(self, run: RunResult, out: TextIO, *, verbose: bool = False) -> None:
        # ``verbose`` changes nothing: the document always carries everything.
        json.dump(to_document(run, shard=self.shard), out, indent=2)
        out.write("\n")


class JsonSpool:
    """The JSON report of a large fleet, without holding the fleet in memory.

    Each finished target is written - redacted, in input order (a small reorder buffer holds
    targets that finish before an earlier one) - to an anonymous temporary file as soon as it
    is complete; the run keeps only slim copies (:func:`mtlscheck._model.slim_target`).
    :meth:`render` then writes the same document :class:`JsonReporter` would, copying the
    targets from the spool.  Used by ``mtlscheck probe --format json``.
    """

    name = "json"

    def __init__(self, *, shard: tuple[int, int, int] | None = None) -> None:
        self.shard = shard
        self._file = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self._pending: dict[int, TargetResult] = {}
        self._next = 0
        self._written = 0
        self._lock = threading.Lock()

    def add(self, index: int, target: TargetResult) -> None:
        """A finished target (``index``: its position in the run's input)."""
        with self._lock:
            self._pending[index] = target
            while self._next in self._pending:
                self._write(self._pending.pop(self._next))
                self._next += 1

    def _write(self, target: TargetResult) -> None:
        doc = redacted(RunResult((target,))).targets[0].to_dict()
        text = json.dumps(doc, indent=2).replace("\n", "\n    ")
        self._file.write(("," if self._written else "") + "\n    " + text)
        self._written += 1

    def render(self, run: RunResult, out: TextIO, *, verbose: bool = False) -> None:
        with self._lock:
            for index in sorted(self._pending):  # only if some target never completed
                self._write(self._pending.pop(index))
        head = {k: v for k, v in to_document(RunResult(), shard=None).items() if k != "targets"}
        head.update(ok=run.ok, exit_code=run.exit_code)
        text = json.dumps(head, indent=2)
        out.write(text[: text.rindex("}")].rstrip() + ',\n  "targets": [')
        self._file.seek(0)
        shutil.copyfileobj(self._file, out)
        out.write("\n  ]" if self._written else "]")
        if self.shard is not None:
            k, n, total = self.shard
            shard = json.dumps({"index": k, "count": n, "total": total})
            out.write(f',\n  "shard": {shard}')
        out.write("\n}\n")

    def close(self) -> None:
        self._file.close()
