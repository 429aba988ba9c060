"""typer/click usage errors as the one line the README promises, with a hint and a guess.

click prints a usage line, a "Try --help" line and the error (typer adds a box around it with
rich).  mtlscheck's contract is one line on stderr: ``mtlscheck: error: <what>`` followed by
``(did you mean ...?)`` when a near name exists and ``see 'mtlscheck probe --help'``.

typer 0.28 vendors click and older typer depends on it, so nothing here imports click: the
exceptions are recognised by their class names and read through their documented attributes.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["click_error"]


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _option_names(ctx: Any) -> list[str]:
    command = getattr(ctx, "command", None)
    out: list[str] = []
    for param in getattr(command, "params", ()):
        out.extend(o for o in (*param.opts, *param.secondary_opts) if o.startswith("-"))
    return out


def _guess(word: str, choices: list[str]) -> str:
    from mtlscheck._validate import closest

    return closest(word, choices)


def _command_path(ctx: Any, root: Any, argv: list[str]) -> str:
    """``mtlscheck probe`` etc. for the hint: the error's context, or else the subcommands
    named at the start of ``argv`` (click gives no context for e.g. a missing option value)."""
    path = getattr(ctx, "command_path", None)
    if path:
        return str(path)
    words = ["mtlscheck"]
    command = root
    for arg in argv:
        sub = getattr(command, "commands", {}).get(arg)
        if sub is None:
            break
        words.append(arg)
        command = sub
    return " ".join(words)


def click_error(
    exc: BaseException, root: Any = None, argv: list[str] | None = None
) -> tuple[str | None, int] | None:
    """``(line, exit code)`` for a click exception, or None if ``exc`` is not one.

    The help screen that click raises for a bare ``mtlscheck`` (``NoArgsIsHelpError``) is
    printed here as it is (a user who typed nothing asked for it); the line is then None.
    ``root`` (the click command of the app) and ``argv`` name the subcommand in the hint when
    the exception carries no context.
    """
    names = _names(exc)
    if "Abort" in names:
        return "aborted", 1
    if "ClickException" not in names:
        return None
    code = int(getattr(exc, "exit_code", 2))
    ctx = getattr(exc, "ctx", None)
    if "NoArgsIsHelpError" in names:
        exc.show()  # type: ignore[attr-defined]
        return None, code
    if "NoSuchOption" in names:
        opt = str(getattr(exc, "option_name", "") or "")
        msg = f"no such option {opt}{_guess(opt, _option_names(ctx))}"
    else:
        msg = str(exc.format_message())  # type: ignore[attr-defined]
        msg = " ".join(msg.split())  # one line, whatever click put in it
        if msg[:1].isupper() and not msg[1:2].isupper():
            msg = msg[0].lower() + msg[1:]
        msg = re.sub(r"\.\s*Did you mean (.+)\?$", r" (did you mean \1?)", msg)
        msg = msg.removesuffix(".")
    path = _command_path(ctx, root, argv or [])
    return f"{msg}; see '{path} --help'", code
