"""The fleet benchmarks' setup: one real nginx with the mTLS config and N target URLs on it."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from servers import NginxServer  # noqa: E402

from mtlscheck._pki import PKI, init_pki  # noqa: E402
from mtlscheck._snippets import nginx_config  # noqa: E402


@contextmanager
def fleet_nginx(targets: int) -> Iterator[tuple[PKI, NginxServer, list[str]]]:
    """A fresh test PKI, nginx serving it on 127.0.0.1, and ``targets`` URLs (different
    paths) on that nginx; everything is stopped and removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        base.chmod(0o755)  # nginx's unprivileged workers read the PKI's document root
        pki, _ = init_pki(base / "pki")
        server = NginxServer(lambda port: nginx_config(pki, listen=f"127.0.0.1:{port}"))
        with server:
            yield pki, server, [f"https://localhost:{server.port}/t{i}" for i in range(targets)]
