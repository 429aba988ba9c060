"""The one exception tree of mtlscheck.

Exceptions mean "could not run at all" (bad input, unusable files, a target that cannot be
reached for any probe).  What a server *did* in answer to a probe is never an exception: it is
an :class:`~mtlscheck.Outcome`.  Each class carries the process exit code the CLI uses, so the
CLI maps errors to exit codes in one line and never prints a traceback for them.
"""

from __future__ import annotations

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "InputError",
    "MtlscheckError",
    "TargetError",
    "UsageError",
]

EXIT_OK = 0
"""Every expectation was met."""
EXIT_FAILED = 1
"""At least one probe's outcome did not meet its expectation."""
EXIT_USAGE = 2
"""Bad command line or unusable input file (certificate, key, suite, PKI directory)."""
EXIT_UNREACHABLE = 3
"""A target could not be reached or talked to at all (DNS, refused, timeout, not TLS)."""


class MtlscheckError(Exception):
    """Base of every error mtlscheck raises on purpose; ``str()`` is a one-line message.

    Messages quote what the user gave (paths, URLs, values from suite files), which may hold
    line breaks or terminal escape sequences: ``str()`` shows every non-printable character
    as an escape (``\\n``, ``\\x1b``), so the message stays one line and inert.
    """

    exit_code: int = EXIT_USAGE

    def __str__(self) -> str:
        text = super().__str__()
        if text.isprintable():
            return text
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class UsageError(MtlscheckError):
    """The request itself is malformed: a bad URL, option or expectation expression."""

    exit_code = EXIT_USAGE


class InputError(MtlscheckError):
    """An input file cannot be used: missing, unreadable, not PEM/DER, wrong password, mismatch."""

    exit_code = EXIT_USAGE


class TargetError(MtlscheckError):
    """The target cannot be reached or does not speak TLS, so no probe could say anything."""

    exit_code = EXIT_UNREACHABLE
