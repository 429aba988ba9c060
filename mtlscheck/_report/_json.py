"""JSON report: ``RunResult.to_dict()`` plus a ``schema`` number.

``schema`` is bumped whenever the document changes in a way that can break a consumer (a key
removed or renamed, a type or meaning changed). Adding keys is not breaking and keeps the number.
Key order is stable: ``schema`` first, then the order of the ``to_dict()`` methods in
:mod:`mtlscheck._model`.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from mtlscheck._model import RunResult
from mtlscheck._report._safe import redacted

__all__ = ["SCHEMA_VERSION", "JsonReporter", "to_document"]

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
