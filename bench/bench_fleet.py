"""Benchmark: a 100-target fleet against one real nginx, with a raw pyOpenSSL floor from the
same run.

One nginx serves 100 target URLs (different paths).  Each target gets the four default probes
over TLS 1.2 and 1.3: 800 probes.  The floor is a raw pyOpenSSL thread pool of the same size
doing the same 800 connections (TCP, handshake with the same identities, GET, read).  Cases are
interleaved round by round so machine-load drift hits both alike; medians and the ratio are
printed.  Nothing is asserted.  Run: ``python3 bench/bench_fleet.py`` (BENCH_ROUNDS, TARGETS).
"""

from __future__ import annotations

import os
import socket
import statistics
import time
import typing
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from _fleet_setup import fleet_nginx

from mtlscheck._api import check_many
from mtlscheck._fleet import DEFAULT_CONCURRENCY
from mtlscheck._pki import PKI

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
TARGETS = int(os.environ.get("TARGETS", "100"))
ROLES = ("no-cert", "valid", "expired", "wrong-ca")
VERSIONS = ("1.2", "1.3")


def floor(pki: PKI, port: int, workers: int, *, through_httpx: bool = False) -> None:
    """800 bare probes in a thread pool of the product's size: the least any tool must do.

    ``through_httpx``: the same, with the GET sent and the answer read through httpx's
    transport stack (``httpx.Request``, httpcore's HTTP/1.1 connection and h11,
    ``httpx.Response``) over the same pyOpenSSL connection - the least a tool that must make
    its requests with httpx does.  The product against this floor is mtlscheck's own cost."""
    import httpcore
    import httpx
    from OpenSSL import SSL

    class Stream(httpcore.NetworkStream):
        def __init__(self, conn: SSL.Connection) -> None:
            self.conn = conn

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            try:
                return self.conn.recv(max_bytes)
            except (SSL.ZeroReturnError, SSL.SysCallError):
                return b""

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self.conn.sendall(buffer)

        def close(self) -> None:
            pass

    class Body(httpx.SyncByteStream):
        def __init__(self, stream: typing.Iterable[bytes]) -> None:
            self.stream = stream

        def __iter__(self) -> typing.Iterator[bytes]:
            yield from self.stream

    def via_httpx(conn: SSL.Connection, i: int) -> None:
        http = httpcore.HTTP11Connection(
            httpcore.Origin(b"https", b"localhost", port), Stream(conn)
        )
        req = httpx.Request("GET", f"https://localhost:{port}/t{i}")
        core = httpcore.Request(
            req.method,
            httpcore.URL(scheme=b"https", host=b"localhost", port=port, target=req.url.raw_path),
            headers=req.headers.raw,
            content=req.stream,  # type: ignore[arg-type]
        )
        resp = http.handle_request(core)
        assert isinstance(resp.stream, typing.Iterable)
        answer = httpx.Response(resp.status, headers=resp.headers, stream=Body(resp.stream))
        for _ in answer.iter_raw():
            pass
        answer.close()
        http.close()

    contexts = {}
    for role in ROLES:
        for v in VERSIONS:
            ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
            ver = SSL.TLS1_2_VERSION if v == "1.2" else SSL.TLS1_3_VERSION
            ctx.set_min_proto_version(ver)
            ctx.set_max_proto_version(ver)
            ctx.load_verify_locations(str(pki.ca_cert))
            ctx.set_verify(SSL.VERIFY_PEER, lambda *a: True)
            if role != "no-cert":
                r = pki.role(role)
                ctx.use_certificate_file(str(r.cert))
                ctx.use_privatekey_file(str(r.key))
            contexts[role, v] = ctx

    def one(job: tuple[int, str, str]) -> None:
        i, role, v = job
        sock = socket.create_connection(("127.0.0.1", port))
        conn = SSL.Connection(contexts[role, v], sock)
        conn.set_tlsext_host_name(b"localhost")
        conn.set_connect_state()
        conn.do_handshake()
        if through_httpx:
            via_httpx(conn, i)
            sock.close()
            return
        conn.sendall(f"GET /t{i} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        try:
            while conn.recv(65536):
                pass
        except (SSL.ZeroReturnError, SSL.SysCallError):
            pass
        sock.close()

    jobs = [(i, role, v) for role in ROLES for v in VERSIONS for i in range(TARGETS)]
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, jobs))


def main() -> None:
    with fleet_nginx(TARGETS) as (pki, server, urls):

        def product() -> None:
            # every target is on one nginx here: lift the politeness cap to the pool size
            run = check_many(
                urls,
                pki=pki.directory,
                server="nginx",
                probes=list(ROLES),  # the floor's four (--pki alone would add more)
                per_host=DEFAULT_CONCURRENCY,
            )
            bad = [t.target for t in run.targets if not t.ok]
            if bad:
                raise SystemExit(f"unexpected verdicts on {len(bad)} targets: {bad[:3]}")

        cases: dict[str, Callable[[], object]] = {
            "raw pyOpenSSL pool (floor)": lambda: floor(pki, server.port, DEFAULT_CONCURRENCY),
            "same, GET through httpx": lambda: floor(
                pki, server.port, DEFAULT_CONCURRENCY, through_httpx=True
            ),
            "mtlscheck check_many": product,
        }
        for fn in cases.values():
            fn()  # warm-up
        samples: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(ROUNDS):
            for name, fn in cases.items():
                t0 = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - t0)
    probes = TARGETS * len(ROLES) * len(VERSIONS)
    print(f"{TARGETS} targets x {len(ROLES)} probes x TLS 1.2/1.3 = {probes} probes, "
          f"{DEFAULT_CONCURRENCY} workers, {ROUNDS} rounds, medians:")  # fmt: skip
    med = {k: statistics.median(v) for k, v in samples.items()}
    for name, secs in med.items():
        print(f"  {name:<28} {secs:6.2f} s  {probes / secs:6.0f} probes/s")
    ratio = med["mtlscheck check_many"] / med["raw pyOpenSSL pool (floor)"]
    print(f"  ratio product / floor: {ratio:.2f}x (goal 1.3x)")
    stack = med["same, GET through httpx"] / med["raw pyOpenSSL pool (floor)"]
    own = med["mtlscheck check_many"] / med["same, GET through httpx"]
    print(f"  of which the required HTTP stack (httpx): {stack:.2f}x, mtlscheck's own: {own:.2f}x")


if __name__ == "__main__":
    main()
