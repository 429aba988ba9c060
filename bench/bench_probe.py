"""Benchmark: mtlscheck against a real nginx mTLS endpoint, with baselines from the same run.

Prints medians and the ratios the project tracks:
  * in-process four-probe suite vs the raw pyOpenSSL floor (four bare handshakes + GET),
  * the whole ``mtlscheck probe`` CLI vs four sequential ``curl`` invocations,
  * ``mtlscheck --version`` start-up vs a bare ``python -c pass``.
Nothing here asserts a time: the numbers are for people.  Run: ``python3 bench/bench_probe.py``.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from servers import NginxServer  # noqa: E402

from mtlscheck._api import check  # noqa: E402
from mtlscheck._pki import PKI, init_pki  # noqa: E402
from mtlscheck._snippets import nginx_config  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "15"))
# Start-up is measured as users see it: with cached bytecode (some shells export
# PYTHONDONTWRITEBYTECODE, which would recompile every module on every run).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
VERSION = "1.3"
# What any CLI built on the project's required stack imports before it can probe and print:
# pyOpenSSL (with cryptography), httpx with httpcore (the transport httpx sends every request
# through; httpx imports it on first use), rich and typer.  Measured in the same run, it shows
# how much of the CLI's time is ours.  (trio and httpx's own CLI are kept out, as mtlscheck
# does.)
LIBS = (
    "import sys; sys.modules['trio'] = sys.modules['httpx._main'] = None; "
    "import OpenSSL.SSL, httpx, httpcore, rich.console, rich.table, typer"
)


def medians_ms(cases: dict[str, Callable[[], object]], rounds: int = ROUNDS) -> dict[str, float]:
    """Median wall time of each case; rounds are interleaved (every case once per round) so
    that drift in machine load hits all cases alike and the ratios stay meaningful."""
    for fn in cases.values():
        fn()  # warm-up (imports, page cache)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - t0) * 1000)
    return {name: statistics.median(v) for name, v in samples.items()}


def raw_floor(pki: PKI, port: int) -> None:
    """The least any probe tool must do: 4 x (TCP, TLS 1.3 handshake, GET, read)."""
    from OpenSSL import SSL

    for role in ("no-cert", "valid", "expired", "wrong-ca"):
        ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
        ctx.load_verify_locations(str(pki.ca_cert))
        ctx.set_verify(SSL.VERIFY_PEER, lambda *a: True)
        if role != "no-cert":
            r = pki.role(role)
            ctx.use_certificate_file(str(r.cert))
            ctx.use_privatekey_file(str(r.key))
        sock = socket.create_connection(("127.0.0.1", port))
        conn = SSL.Connection(ctx, sock)
        conn.set_tlsext_host_name(b"localhost")
        conn.set_connect_state()
        conn.do_handshake()
        conn.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        try:
            while conn.recv(65536):
                pass
        except (SSL.ZeroReturnError, SSL.SysCallError):
            pass
        sock.close()


def curl_loop(pki: PKI, url: str) -> None:
    base = ["curl", "-s", "-o", "/dev/null", "--tlsv1.3", "--cacert", str(pki.ca_cert), url]
    for role in ("no-cert", "valid", "expired", "wrong-ca"):
        extra = (
            []
            if role == "no-cert"
            else ["--cert", str(pki.role(role).cert), "--key", str(pki.role(role).key)]
        )
        subprocess.run([*base, *extra], check=False)


def main() -> None:
    if shutil.which("curl") is None or not NginxServer.available():
        sys.exit("bench needs curl and nginx: run scripts/install-test-deps.sh")
    tmp = Path(tempfile.mkdtemp(prefix="mtlscheck-bench-"))
    tmp.chmod(0o755)
    pki, _ = init_pki(tmp / "pki")
    exe = [sys.executable, "-m", "mtlscheck"]
    with NginxServer(lambda port: nginx_config(pki, listen=f"127.0.0.1:{port}")) as srv:
        url = srv.url
        # The four probes the baselines make (without --probes, --pki would add every
        # certificate probe it can build).
        core = ["no-cert", "valid", "expired", "wrong-ca"]
        probe_kw = dict(pki=pki.directory, tls=VERSION, server="nginx", probes=core)
        r = check(url, **probe_kw)  # type: ignore[arg-type]
        assert all(p.verdict.value == "pass" for p in r.results), [p.outcome for p in r.results]
        rows = medians_ms(
            {
                "raw pyOpenSSL floor (4 x handshake+GET)": (lambda: raw_floor(pki, srv.port)),
                "in-process suite, sequential": (lambda: check(url, workers=1, **probe_kw)),  # type: ignore[arg-type]
                "in-process suite, 4 workers": (lambda: check(url, **probe_kw)),  # type: ignore[arg-type]
                "curl loop (4 curl runs)": (lambda: curl_loop(pki, url)),
                "mtlscheck probe CLI": (
                    lambda: subprocess.run(
                        [
                            *exe,
                            "probe",
                            url,
                            "--pki",
                            str(pki.directory),
                            "--tls",
                            VERSION,
                            "--server",
                            "nginx",
                            "--probes",
                            ",".join(core),
                        ],
                        check=True,
                        capture_output=True,
                        env=ENV,
                    )
                ),
                "python -c pass": (
                    lambda: subprocess.run([sys.executable, "-c", "pass"], check=True, env=ENV)
                ),
                "import of the required libraries": (
                    lambda: subprocess.run([sys.executable, "-c", LIBS], check=True, env=ENV)
                ),
                "mtlscheck --version": (
                    lambda: subprocess.run(
                        [*exe, "--version"], check=True, capture_output=True, env=ENV
                    )
                ),
                "mtlscheck --help (typer loaded)": (
                    lambda: subprocess.run(
                        [*exe, "--help"], check=True, capture_output=True, env=ENV
                    )
                ),
            }
        )
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"median of {ROUNDS} rounds, TLS {VERSION}, nginx on 127.0.0.1, {os.cpu_count()} cores")
    for name, ms in rows.items():
        print(f"  {name:<42} {ms:8.1f} ms")
    floor = rows["raw pyOpenSSL floor (4 x handshake+GET)"]
    print("ratios (target in brackets):")
    ratios = [
        (
            "in-process sequential / raw floor",
            rows["in-process suite, sequential"] / floor,
            "<= 1.5",
        ),
        ("in-process 4 workers / raw floor", rows["in-process suite, 4 workers"] / floor, "<= 1.5"),
        ("CLI / curl loop", rows["mtlscheck probe CLI"] / rows["curl loop (4 curl runs)"], "<= 4"),
    ]
    for label, ratio, target in ratios:
        print(f"  {label:<36} {ratio:5.2f}x  [{target}]")
    print(
        f"  --version: {rows['mtlscheck --version']:.0f} ms  [< 150 ms]; "
        f"python itself: {rows['python -c pass']:.0f} ms"
    )
    curl, cli = rows["curl loop (4 curl runs)"], rows["mtlscheck probe CLI"]
    libs = rows["import of the required libraries"]
    print("where the CLI's time goes:")
    own = cli - libs
    print(f"  python + required libraries  {libs:6.1f} ms = {libs / curl:4.2f}x the curl loop")
    print(f"  mtlscheck's own imports+work {own:6.1f} ms = {own / curl:4.2f}x the curl loop")


if __name__ == "__main__":
    main()
