"""Bounded reading of the user's input files: regular files only, and small ones.

Certificates, keys, PKCS#12 bundles, CRLs, CA bundles and suite files are a few kilobytes.
Reading whatever path the user gives with ``Path.read_bytes()`` lets ``/dev/zero`` grow the
process to gigabytes (then ``MemoryError``) and lets a FIFO block forever.  So every input
file goes through :func:`read_input`: ``stat`` first (a device or FIFO is refused without
being opened), then a non-blocking open whose ``fstat`` must show the same regular file (the
path cannot be swapped between the two), then at most :data:`MAX_INPUT_BYTES` + 1 bytes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mtlscheck._errors import InputError

__all__ = ["MAX_INPUT_BYTES", "read_input", "read_input_text", "shown_path"]

MAX_INPUT_BYTES = 1024 * 1024
"""1 MiB: a CA bundle with every public root is ~220 KB; nothing we read comes near 1 MiB."""


def shown_path(path: Path | str) -> str:
    """``path`` for a message: a name of thousands of characters is cut in the middle."""
    text = str(path)
    return text if len(text) <= 160 else f"{text[:80]}...{text[-60:]}"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _refuse(path: Path, what: str, st: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{what} {shown_path(path)} is {_kind(st.st_mode)}, not a regular file")
    if st.st_size > limit:
        raise InputError(
            f"{what} {shown_path(path)} is too large ({st.st_size} bytes; at most {limit} are read)"
        )


def read_input(path: Path | str, what: str, *, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of the regular file ``path``; one-line :class:`InputError` otherwise.

    ``what`` names the file in messages ("certificate", "suite file", ...).  Symbolic links
    are followed (a link to a certificate is an ordinary thing to pass), but what they point
    to must be a regular file of at most ``limit`` bytes.
    """
    p = Path(path)
    shown = shown_path(p)
    try:
        _refuse(p, what, os.stat(p), limit)
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise InputError(f"{what} file not found: {shown}") from None
    except PermissionError:
        raise InputError(f"{what} file is not readable (permission denied): {shown}") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = getattr(exc, "strerror", None) or exc
        raise InputError(f"cannot read {what} file {shown}: {reason}") from None
    try:
        _refuse(p, what, os.fstat(fd), limit)  # the file opened is still a small regular one
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 65536))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except InputError:
        raise
    except OSError as exc:
        raise InputError(f"cannot read {what} file {shown}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:  # it grew after fstat
        raise InputError(f"{what} {shown} is too large (more than {limit} bytes)")
    return data


def read_input_text(path: Path | str, what: str, *, limit: int = MAX_INPUT_BYTES) -> str:
    """:func:`read_input` decoded as UTF-8 (suite files, manifests)."""
    data = read_input(path, what, limit=limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{what} {shown_path(path)} is not UTF-8 text (bad byte at offset {exc.start})"
        ) from None
