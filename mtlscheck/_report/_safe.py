"""Make a run safe to show: no credentials, no terminal control codes, no endless text.

Much of a report is written by the server under test or by whoever issued its certificates:
the HTTP reason and body excerpt, alert details, certificate subjects and issuers, the CA
names it advertises.  A hostile or broken server can put escape sequences there (set the
window title, clear the screen, hide a line), Markdown or HTML, or megabytes of text.  And
the run itself may carry the user's credentials (URL userinfo).

Every reporter therefore renders a *copy* of the run:

- :func:`redacted` (all formats, JSON included): URL userinfo and secret header values become
  ``<redacted>`` (:mod:`mtlscheck._secrets`).
- :func:`for_display` (console, Markdown, JUnit): additionally, control characters, bidi
  overrides and undecodable bytes become visible escapes (``\\x1b``), each text is capped at
  :data:`TEXT_LIMIT` characters and each list (CA names, chains) at :data:`ITEM_LIMIT` entries.

Both walk the frozen result dataclasses generically, so a field added to the model later is
covered without touching this module.  :func:`markdown_text` escapes Markdown for text placed
outside code spans.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

from mtlscheck._model import Commands, Reproduce, RunResult
from mtlscheck._secrets import redact_text

__all__ = [
    "ITEM_LIMIT",
    "TEXT_LIMIT",
    "escape_control",
    "fence_for",
    "for_display",
    "markdown_text",
    "redacted",
]

TEXT_LIMIT = 1000
"""Characters of one text shown (a 16 KB error page body is not a diagnosis)."""
COMMAND_LIMIT = 8192
"""Reproduce commands are ours and must stay runnable: a much higher cap."""
ITEM_LIMIT = 32
"""Entries shown of one list (CA names a server advertises, certificate chains)."""

_LISTS = frozenset({"ca_names", "client_chain", "server_chain", "evidence"})
_MULTILINE = frozenset({"fixes"})
"""Fields whose line breaks are ours (multi-line config snippets) and are kept."""
_COMMANDS = frozenset({"curl", "openssl"})

# C0 and C1 controls, DEL, bidi overrides/isolates and marks, line/paragraph separators,
# and lone surrogates (undecodable bytes of a path decoded with surrogateescape).
_CONTROL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff]"
)
_NAMED = {"\t": "\\t", "\r": "\\r", "\n": "\\n"}


def _escape_one(m: re.Match[str]) -> str:
    ch = m.group(0)
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the original byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_control(text: str, *, keep_newlines: bool = False) -> str:
    """Control characters as visible escapes: ``"\\x1b[2J"`` shows as ``\\x1b[2J``."""
    if keep_newlines:
        return "\n".join(_CONTROL.sub(_escape_one, line) for line in text.split("\n"))
    return _CONTROL.sub(_escape_one, text)


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


T = TypeVar("T")


def _walk(obj: T, on_text: Callable[[str, str | None], str], cap_items: bool) -> T:
    return _walk_any(obj, on_text, cap_items, None)  # type: ignore[no-any-return]


def _walk_any(
    obj: Any, on_text: Callable[[str, str | None], str], cap_items: bool, name: str | None
) -> Any:
    """``obj`` with ``on_text`` applied to every text in it.  What comes out unchanged is the
    very same object, so a run with nothing to hide or escape is not copied: the copy would
    double a 10,000-target report's memory just to render it."""
    if isinstance(obj, Enum):  # StrEnum members are str too: leave them as they are
        return obj
    if isinstance(obj, str):
        new = on_text(obj, name)
        return obj if new == obj else new
    if isinstance(obj, tuple):
        items = [_walk_any(x, on_text, cap_items, name) for x in obj]
        if cap_items and name in _LISTS and len(items) > ITEM_LIMIT:
            left = len(items) - ITEM_LIMIT
            items = items[:ITEM_LIMIT]
            if all(isinstance(x, str) for x in items):
                items.append(f"… and {left} more")
        if len(items) == len(obj) and all(a is b for a, b in zip(items, obj, strict=True)):
            return obj
        return tuple(items)
    if name == "commands" and obj is not None and not isinstance(obj, Commands):
        # A probe's recipe: its command lines are made when a report shows them, and get
        # the same treatment then as any text (see _Texted).
        return _Texted(obj, on_text)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {
            f.name: _walk_any(getattr(obj, f.name), on_text, cap_items, f.name)
            for f in dataclasses.fields(obj)
            if f.init
        }
        if all(v is getattr(obj, k) for k, v in changes.items()):
            return obj
        return dataclasses.replace(obj, **changes)
    return obj


class _Texted:
    """A probe's reproduce commands, redacted (and escaped, capped) as they are made."""

    __slots__ = ("_inner", "_on_text")

    def __init__(self, inner: Reproduce, on_text: Callable[[str, str | None], str]) -> None:
        self._inner = inner
        self._on_text = on_text

    @property
    def curl(self) -> str:
        return self._on_text(self._inner.curl, "curl")

    @property
    def openssl(self) -> str:
        return self._on_text(self._inner.openssl, "openssl")


def redacted(run: RunResult) -> RunResult:
    """The run with every credential replaced by ``<redacted>`` (for every format)."""
    return _walk(run, lambda text, _name: redact_text(text), cap_items=False)


def _display_text(text: str, name: str | None) -> str:
    text = redact_text(text)
    text = escape_control(text, keep_newlines=name in _MULTILINE)
    return _cap(
        text,
        COMMAND_LIMIT
        if name in _COMMANDS
        else TEXT_LIMIT * 4
        if name in _MULTILINE
        else TEXT_LIMIT,
    )


def for_display(run: RunResult) -> RunResult:
    """The run as a human report may show it: redacted, control codes escaped, capped."""
    return _walk(run, _display_text, cap_items=True)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>&~$])")


def markdown_text(text: str) -> str:
    """``text`` escaped for Markdown outside code spans: no emphasis, links, HTML or math.

    Every ASCII punctuation a GitHub renderer acts on mid-line is backslash-escaped (that is
    always valid CommonMark); line breaks are expected to be escaped already, and ``|`` is left
    to the table-cell escaping.
    """
    return _MD_SPECIAL.sub(r"\\\1", text)


def fence_for(text: str) -> str:
    """A code fence longer than any backtick run in ``text``, so the text cannot close it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)
