"""The one wait of every probe (:func:`mtlscheck._io.wait_ready`), with ``poll`` and with the
``selectors`` fallback used where there is no ``poll``: ready, a soft ``until``, the deadline,
a cancellation, and descriptors above 1024 (where ``select.select`` fails)."""

from __future__ import annotations

import resource
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from mtlscheck import _io
from mtlscheck._io import Cancelled, Deadline, wait_ready


@pytest.fixture(params=[True, False], ids=["poll", "selectors"])
def mechanism(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(_io, "_HAVE_POLL", request.param)
    yield


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def test_ready_when_data_arrives(
    mechanism: None, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    threading.Timer(0.05, lambda: b.send(b"x")).start()
    assert wait_ready(a, write=False, deadline=Deadline.after(5)) is True
    assert wait_ready(a, write=True, deadline=Deadline.after(5)) is True


def test_until_passes_quietly_and_the_deadline_raises(
    mechanism: None, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, _ = pair
    t0 = time.monotonic()
    assert wait_ready(a, write=False, deadline=Deadline.after(5), until=t0 + 0.1) is False
    assert 0.09 <= time.monotonic() - t0 < 1
    with pytest.raises(TimeoutError):
        wait_ready(a, write=False, deadline=Deadline.after(0.1))


def test_a_cancellation_ends_the_wait_within_a_slice(
    mechanism: None, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, _ = pair
    cancel = threading.Event()
    threading.Timer(0.05, cancel.set).start()
    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        wait_ready(a, write=False, deadline=Deadline.after(30, cancel))
    assert time.monotonic() - t0 < 1


def test_descriptors_above_1024(mechanism: None) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the hard open-files limit ({hard}) is below 1200")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [socket.socket() for _ in range(1100)]
    try:
        a, b = socket.socketpair()
        assert a.fileno() > 1024
        b.send(b"x")
        assert wait_ready(a, write=False, deadline=Deadline.after(5)) is True
        a.close()
        b.close()
    finally:
        for s in held:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
