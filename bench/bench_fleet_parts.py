"""Benchmark: where a fleet run's time goes, by switching one part of a probe off at a time.

Same setup as ``bench_fleet.py`` (one real nginx, 100 target URLs, the four default probes over
TLS 1.2 and 1.3: 800 probes in one pool).  Each variant replaces one part of the engine for the
measurement only - the results of a variant are not valid verdicts:

* ``no info callback``: OpenSSL's per-state callback, which records the ServerHello, the
  CertificateRequest, session tickets and every alert with its phase (the evidence the
  verdicts rest on), is not installed;
* ``no-op info callback``: installed, but doing nothing - what the callback mechanism itself
  costs (each call takes the GIL back in the middle of a handshake);
* ``no TLS 1.3 answer wait``: the read of the server's answer to our Finished is skipped;
* ``no peer facts``: the server chain and the name check are not worked out;
* ``raw HTTP``: the GET is written and read without httpx (the project requires httpx).

Rounds are interleaved (every variant once per round), medians printed with each variant's
share of the full product's time.  Nothing is asserted.  Run:
``python3 bench/bench_fleet_parts.py`` (BENCH_ROUNDS, TARGETS).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from _fleet_setup import fleet_nginx
from OpenSSL import SSL

import mtlscheck._runner as runner
import mtlscheck._tls as tls
from mtlscheck._api import check_many

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
TARGETS = int(os.environ.get("TARGETS", "100"))
PROBES = ["no-cert", "valid", "expired", "wrong-ca"]


def _raw_http(
    client: tls.TLSClient, target: runner.Target, headers: tuple[tuple[str, str], ...]
) -> tuple[int, bytes, str]:
    host, _ = target.parts
    client.send(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    data = b""
    try:
        while chunk := client.recv(65536):
            data += chunk
    except Exception:  # the end of the answer, however the server closed
        pass
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data[:100], ""


@contextmanager
def variant(name: str) -> Iterator[None]:
    """One part of the engine replaced for the duration of a measurement."""
    saved = (
        SSL.Context.set_info_callback,
        tls.TLSClient._await_server_answer,
        tls.TLSClient._peer,
        runner._http,
    )
    original_set_info = saved[0]
    try:
        if name == "no info callback":
            SSL.Context.set_info_callback = lambda self, cb: None  # type: ignore[method-assign]
        elif name == "no-op info callback":

            def noop(self: SSL.Context, cb: object) -> None:
                original_set_info(self, lambda conn, where, ret: None)

            SSL.Context.set_info_callback = noop  # type: ignore[method-assign]
        elif name == "no TLS 1.3 answer wait":
            tls.TLSClient._await_server_answer = lambda self: None  # type: ignore[method-assign]
        elif name == "no peer facts":
            tls.TLSClient._peer = lambda self: ((), True)  # type: ignore[method-assign]
        elif name == "raw HTTP (no httpx)":
            runner._http = _raw_http
        yield
    finally:
        (
            SSL.Context.set_info_callback,
            tls.TLSClient._await_server_answer,
            tls.TLSClient._peer,
            runner._http,
        ) = saved  # type: ignore[method-assign]


def main() -> None:
    names = [
        "full product",
        "no info callback",
        "no-op info callback",
        "no TLS 1.3 answer wait",
        "no peer facts",
        "raw HTTP (no httpx)",
    ]
    with fleet_nginx(TARGETS) as (pki, _server, urls):

        def run() -> None:
            check_many(urls, pki=pki.directory, server="nginx", probes=PROBES, per_host=64)

        cases: dict[str, Callable[[], None]] = {n: run for n in names}
        run()  # warm-up
        samples: dict[str, list[float]] = {n: [] for n in names}
        for _ in range(ROUNDS):
            for name, fn in cases.items():
                with variant(name):
                    t0 = time.perf_counter()
                    fn()
                    samples[name].append(time.perf_counter() - t0)
    probes = TARGETS * len(PROBES) * 2
    print(f"{probes} probes in one pool, {ROUNDS} rounds, medians:")
    full = statistics.median(samples["full product"])
    for name in names:
        med = statistics.median(samples[name])
        print(f"  {name:<26} {med:6.2f} s  {med / full:5.2f} of the full product")


if __name__ == "__main__":
    main()
