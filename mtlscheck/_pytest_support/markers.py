"""``@pytest.mark.mtls``: one reading of the marker for the server and probe fixtures."""

from __future__ import annotations

from typing import Any

import pytest

__all__ = ["marker_options"]


def marker_options(node: pytest.Item | pytest.Collector) -> dict[str, Any]:
    """The ``mtls`` markers' keyword arguments, the closest marker winning; a positional
    argument is the target (a URL, or a list of URLs)."""
    out: dict[str, Any] = {}
    for mark in reversed(list(node.iter_markers("mtls"))):
        if len(mark.args) > 1:
            pytest.fail(
                "@pytest.mark.mtls takes one positional argument (the target URL)", pytrace=False
            )
        if mark.args:
            out["target"] = mark.args[0]
        out.update(mark.kwargs)
    return out
