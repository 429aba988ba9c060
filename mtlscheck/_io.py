"""Non-blocking socket I/O with one deadline: shared by the probe client and the reference server.

Why one helper: a probe must end within its deadline whatever the server does - stay silent,
stall mid-handshake, or stream bytes forever.  A loop that only checks the clock when a read
would block spins forever against a server that never stops sending (endless ``100 Continue``
lines), so the deadline is checked on *every* turn here, before each attempt.

``poll`` (``selectors`` where there is none) instead of ``select.select``: ``select`` fails
outright for file descriptors above 1024, which a long-running process (a pytest session, a fleet
run) reaches.  ``poll`` rather than a ``selectors.DefaultSelector`` per wait: an epoll selector
costs an epoll file descriptor (create, register, close) on each of the several waits of every
probe; a poll object is a plain structure handed to one system call.
"""

from __future__ import annotations

import errno
import os
import select
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["Cancelled", "Deadline", "pump", "resolve", "tcp_connect", "wait_ready"]

_T = TypeVar("_T")

_SLICE = 0.25
"""Longest single wait, so a cancellation (Ctrl-C, a server stopping) is noticed quickly."""


class Cancelled(Exception):
    """The run was cancelled (Ctrl-C, a signal, a server shutting down)."""


@dataclass(frozen=True)
class Deadline:
    """A point in ``time.monotonic()`` time, plus an optional cancellation flag."""

    at: float
    cancel: threading.Event | None = field(default=None, compare=False)

    @classmethod
    def after(cls, seconds: float, cancel: threading.Event | None = None) -> Deadline:
        return cls(time.monotonic() + seconds, cancel)

    def earliest(self, other: float | None) -> Deadline:
        """This deadline, cut short by an absolute monotonic time (a run-wide deadline)."""
        return self if other is None or other >= self.at else Deadline(other, self.cancel)

    def left(self) -> float:
        """Seconds left; raises ``TimeoutError`` when none are, ``Cancelled`` when cancelled."""
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("cancelled")
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        return left


def wait_ready(
    sock: socket.socket, *, write: bool, deadline: Deadline, until: float | None = None
) -> bool:
    """Wait until ``sock`` is readable (or writable); False when ``until`` passed first.

    Raises ``TimeoutError``/``Cancelled`` when the deadline passes or the run is cancelled.
    """
    if _HAVE_POLL:
        poller = select.poll()
        poller.register(sock, select.POLLOUT if write else select.POLLIN)
        # Error and hang-up events count as ready: the next operation reports them.
        return _wait(lambda t: bool(poller.poll(t * 1000)), deadline, until)
    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_WRITE if write else selectors.EVENT_READ)
        return _wait(lambda t: bool(sel.select(t)), deadline, until)


_HAVE_POLL = hasattr(select, "poll")  # not on Windows


def _wait(ready: Callable[[float], bool], deadline: Deadline, until: float | None) -> bool:
    """Ask ``ready`` in slices of at most :data:`_SLICE`, checking the deadline (and the
    cancel flag) before each one; False once ``until`` has passed."""
    while True:
        left = deadline.left()
        if until is not None:
            soft = until - time.monotonic()
            if soft <= 0:
                return False
            left = min(left, soft)
        if ready(min(left, _SLICE)):
            return True


def pump(
    op: Callable[[], _T],
    sock: socket.socket,
    deadline: Deadline,
    *,
    want_read: type[BaseException],
    want_write: type[BaseException],
) -> _T:
    """Run one non-blocking TLS operation to completion, waiting on WANT_READ / WANT_WRITE.

    The deadline is checked before every attempt, not only when the socket would block.
    """
    while True:
        deadline.left()
        try:
            return op()
        except want_read:
            wait_ready(sock, write=False, deadline=deadline)
        except want_write:
            wait_ready(sock, write=True, deadline=deadline)


def resolve(host: str, port: int, deadline: Deadline) -> list[tuple[int, tuple[object, ...]]]:
    """``getaddrinfo`` bounded by the deadline: the C resolver has no timeout of its own.

    Runs in a daemon thread; a resolver that hangs past the deadline is abandoned, not joined.
    Returns ``(family, sockaddr)`` pairs in the resolver's order; raises ``socket.gaierror``
    or ``TimeoutError``.
    """
    box: dict[str, object] = {}
    done = threading.Event()

    def work() -> None:
        try:
            box["result"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name="mtlscheck-dns", daemon=True).start()
    while not done.wait(min(deadline.left(), _SLICE)):
        pass
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    infos = box["result"]
    assert isinstance(infos, list)
    seen: list[tuple[int, tuple[object, ...]]] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if (family, sockaddr) not in seen:
            seen.append((family, tuple(sockaddr)))
    return seen


def tcp_connect(
    addresses: list[tuple[int, tuple[object, ...]]], deadline: Deadline
) -> socket.socket:
    """Connect to the first address that accepts (like ``socket.create_connection``), each
    attempt non-blocking and bounded by the one deadline.  Raises the last ``OSError``."""
    last: BaseException = OSError("no address to connect to")
    for family, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            err = sock.connect_ex(sockaddr)
            if err not in (0, errno.EINPROGRESS):
                raise OSError(err, os.strerror(err))
            if err:
                wait_ready(sock, write=True, deadline=deadline)
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, os.strerror(err))  # OSError picks the subclass
            return sock
        except (Cancelled, TimeoutError):
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            last = exc
    raise last
