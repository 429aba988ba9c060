"""Writing files without being tricked: no write through a link, no partial file, no leftovers.

mtlscheck writes into places other users may share (``$TMPDIR``, a ``--save-certs``
directory, the directory of ``-o FILE``).  Whoever can write there can plant a symbolic link
named like a file we are about to write (``expired.pem -> ~/.bashrc``) and make us overwrite
any file we may write.  So every file is created here, with ``O_CREAT | O_EXCL | O_NOFOLLOW``:
the kernel refuses to follow a link or reuse an existing file, whatever happened between a
check and the write.  A link found where we write is refused, never followed nor removed.

Reports are written to a temporary file in the target's directory and renamed into place, so
a crash, a full disk or a signal never leaves a truncated report behind.

Minted private keys live in temporary directories; :func:`track` registers each one so the
CLI's SIGTERM/SIGHUP handler can remove them at once, before anything else runs.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from mtlscheck._errors import InputError

__all__ = [
    "atomic_write",
    "private_dir",
    "remove_tracked",
    "temporary_directory",
    "track",
    "track_path",
    "umasked",
    "untrack_path",
    "write_new",
]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"cannot use {path}: {_why(exc)}") from None


def _refuse_odd(path: Path, st: os.stat_result) -> None:
    """Refuse anything but a regular file at a path we are about to (re)write."""
    if stat.S_ISLNK(st.st_mode):
        raise InputError(f"{path} is a symbolic link; refusing to write through it")
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path} is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path} exists and is not a regular file")


def write_new(path: Path | str, data: bytes, *, mode: int, replace: bool = False) -> None:
    """Create ``path`` with exactly ``mode`` (whatever the umask) and write ``data``.

    ``replace``: an existing *regular file* is removed first; otherwise it is an error.  A
    symbolic link, directory, FIFO or device at ``path`` is always refused.  The file is opened
    with ``O_EXCL | O_NOFOLLOW``, so a link planted between the check and the open fails the
    open instead of redirecting the write.
    """
    p = Path(path)
    st = _lstat(p)
    if st is not None:
        _refuse_odd(p, st)
        if not replace:
            raise InputError(f"{p} exists; use --force to overwrite")
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise InputError(f"cannot replace {p}: {_why(exc)}") from None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
    try:
        fd = os.open(p, flags, mode)
    except FileExistsError:
        raise InputError(f"{p} appeared while writing it; refusing to overwrite it") from None
    except OSError as exc:
        raise InputError(f"cannot write {p}: {_why(exc)}") from None
    try:
        if not mode & 0o077:
            os.fchmod(fd, mode)  # a private file is private whatever the umask says
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        os.close(fd)
        with contextlib.suppress(OSError):
            p.unlink()
        raise InputError(f"cannot write {p}: {_why(exc)}") from None
    os.close(fd)


def private_dir(path: Path | str, what: str, *, mode: int = 0o700) -> Path:
    """``path`` as a directory only we can use: created 0700, or an existing real directory.

    ``mode``: what a directory created here gets instead of 0700 (``pki init``'s directory is
    read by the servers' unprivileged workers; it keeps every other rule here).

    An existing one must not be a symbolic link and must belong to us: a directory planted by
    another user in a shared place is theirs to fill with links.  Every directory missing on
    the way is created here too, 0700, one component at a time relative to its parent's open
    descriptor and reopened with ``O_NOFOLLOW``: a link or another user's directory planted
    at any of them between two steps is refused, never followed.  And like ssh's StrictModes,
    the directories it hangs under (:func:`_check_parents`) must not let another user swap a
    component: none writable by everyone without the sticky bit, none owned by another user
    (root excepted).
    """
    p = Path(path)
    st = _lstat(p)
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise InputError(f"{what} {p} is a symbolic link; give the real directory")
        if not stat.S_ISDIR(st.st_mode):
            raise InputError(f"{what} {p} exists and is not a directory")
        if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
            raise InputError(f"{what} {p} belongs to another user; give a directory of your own")
        _check_parents(Path(os.path.abspath(p)).parent, what)
        return p
    missing: list[str] = []
    base = Path(os.path.abspath(p))
    while _lstat(base) is None:
        missing.append(base.name)
        base = base.parent
    real = Path(os.path.realpath(base))
    _check_parents(real, what)
    try:
        fd = os.open(real, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
    except OSError as exc:
        raise InputError(f"cannot create {what} {p}: {base}: {_why(exc)}") from None
    made = base
    for name in reversed(missing):
        made = made / name
        fd = _make_private(fd, name, made, what, mode)  # closes the parent's, even on failure
    os.close(fd)
    return p


def _make_private(parent_fd: int, name: str, path: Path, what: str, mode: int) -> int:
    """Create ``name`` (``mode``) in the directory ``parent_fd``, or take the one that
    appeared there if it is a real directory of ours; return its descriptor (``parent_fd`` is
    closed)."""
    try:
        with contextlib.suppress(FileExistsError):  # appeared since we looked: judged below
            os.mkdir(name, 0o700, dir_fd=parent_fd)
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=parent_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            st = _lstat(path)
            if st is not None and stat.S_ISLNK(st.st_mode):
                raise InputError(
                    f"{what} {path} is a symbolic link; refusing to create files through it"
                ) from None
            raise InputError(f"{what} {path} exists and is not a directory") from None
        raise InputError(f"cannot create {what} {path}: {_why(exc)}") from None
    finally:
        os.close(parent_fd)
    try:
        if hasattr(os, "geteuid") and os.fstat(fd).st_uid != os.geteuid():
            raise InputError(f"{what} {path} belongs to another user; give a directory of your own")
        os.fchmod(fd, mode)  # whatever the umask: ours, and nobody else may change it
    except OSError as exc:
        os.close(fd)
        raise InputError(f"cannot create {what} {path}: {_why(exc)}") from None
    except InputError:
        os.close(fd)
        raise
    return fd


def _check_parents(directory: Path, what: str) -> None:
    """Refuse ``directory`` or any directory above it that lets another user rename or
    replace what is in it: writable by everyone without the sticky bit (``/tmp`` has it), or
    owned by another user than us and root.  ``directory`` is taken with its links resolved:
    the directories that really hold ours are the ones judged.
    """
    real = Path(os.path.realpath(directory))
    me = os.geteuid() if hasattr(os, "geteuid") else None
    for d in (real, *real.parents):
        try:
            st = os.stat(d)
        except OSError as exc:
            raise InputError(f"cannot use {what} under {d}: {_why(exc)}") from None
        if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
            raise InputError(
                f"{what}: {d} is writable by every user (mode "
                f"{stat.S_IMODE(st.st_mode):04o}, no sticky bit), so anyone could swap what "
                "is in it; refusing to use a directory under it"
            )
        if me is not None and st.st_uid not in (me, 0):
            raise InputError(
                f"{what}: {d} belongs to another user (uid {st.st_uid}), who could swap what "
                "is in it; refusing to use a directory under it"
            )


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def umasked(mode: int) -> int:
    """``mode`` less the process's umask: what ``mkdir`` would have given."""
    return mode & ~_umask()


def atomic_write_text(path: Path | str, render: Callable[[TextIO], None]) -> None:
    """:func:`atomic_write` for a report rendered straight into the temporary file (UTF-8,
    undecodable path bytes escaped): a large report is never held in memory whole."""

    def fill(raw: BinaryIO) -> None:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace", newline="")
        render(text)
        text.flush()
        text.detach()

    _atomic(Path(path), fill)


def atomic_write(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` all at once (see :func:`_atomic`)."""
    _atomic(Path(path), lambda raw: raw.write(data))


def _atomic(p: Path, fill: Callable[[BinaryIO], object]) -> None:
    """Write a file all at once: a temporary file next to it, filled by ``fill``, then a
    rename.

    Readers see the old file or the whole new one, never a part.  The rename replaces a
    symbolic link at ``path`` by the file (it never writes through the link).  The new file
    keeps the mode of the regular file it replaces, else gets the mode a plain
    ``open(path, "w")`` would give it.
    """
    st = _lstat(p)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise InputError(f"cannot write {p}: it is a directory")
    if st is not None and stat.S_ISREG(st.st_mode):
        mode = stat.S_IMODE(st.st_mode)
    else:
        mode = 0o666 & ~_umask()
    parent = p.parent
    try:
        fd, tmp_name = tempfile.mkstemp(dir=parent, prefix=f".{p.name}.", suffix=".tmp")
    except OSError as exc:
        raise InputError(f"cannot write {p}: {_why(exc)}") from None
    tmp = Path(tmp_name)
    track_path(tmp)
    try:
        with os.fdopen(fd, "wb") as raw:
            fill(raw)
            raw.flush()
            os.fchmod(raw.fileno(), mode)
            os.fsync(raw.fileno())
        os.replace(tmp, p)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise InputError(f"cannot write {p}: {_why(exc)}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    finally:
        untrack_path(tmp)


# --------------------------------------------------------------------------- cleanup on signals

_tracked: set[Path] = set()
_tracked_lock = threading.RLock()  # re-entered by a signal handler in the main thread


def track_path(path: Path) -> None:
    """Register ``path`` (a file or directory we made) for :func:`remove_tracked`."""
    with _tracked_lock:
        _tracked.add(path)


def untrack_path(path: Path) -> None:
    with _tracked_lock:
        _tracked.discard(path)


@contextlib.contextmanager
def track(path: Path) -> Iterator[Path]:
    """Register ``path`` for :func:`remove_tracked` while the block runs."""
    track_path(path)
    try:
        yield path
    finally:
        untrack_path(path)


@contextlib.contextmanager
def temporary_directory(prefix: str) -> Iterator[Path]:
    """A 0700 temporary directory, removed when the block ends *or* when a signal arrives.

    Like :class:`tempfile.TemporaryDirectory`, plus registration with :func:`track`: a
    SIGTERM handler must not have to wait for the block to unwind (probes still running in
    other threads) before the minted keys in it are gone.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        with track(path):
            yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def remove_tracked() -> bool:
    """Remove every tracked file and directory now (called from a signal handler); True when
    there was something to remove."""
    with _tracked_lock:
        paths = list(_tracked)
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
    return bool(paths)
