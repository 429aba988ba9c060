"""Shared fixtures: a test PKI and real servers (see tests/servers.py).

Under pytest-xdist every worker builds its own PKI and starts its own servers on its own free
ports; nothing is shared between workers.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from servers import (
    INSTALL_HINT,
    ApacheServer,
    CaddyServer,
    GunicornServer,
    HAProxyServer,
    NginxServer,
    RealServer,
    StunnelServer,
    UvicornServer,
)

from mtlscheck._pki import PKI, init_pki
from mtlscheck._snippets import apache_config, nginx_config

S = TypeVar("S", bound=RealServer)


def require_server(cls: type[RealServer]) -> None:
    """Fail (never skip) when a server binary is missing: CI must have installed it."""
    if not cls.available():
        pytest.fail(f"{cls.binary} is missing: {INSTALL_HINT}", pytrace=False)


@pytest.fixture(scope="session")
def test_pki_dir() -> Iterator[Path]:
    """Directory of a complete test PKI made by ``mtlscheck._pki.init_pki`` (once per worker).

    Not under pytest's tmp_path: that is mode 0700, and the servers' unprivileged workers
    (nginx: nobody, Apache: www-data) must reach the PKI's ``www`` document root.  Keys stay
    0600: the servers read them as root before dropping privileges.
    """
    base = Path(tempfile.mkdtemp(prefix="mtlscheck-test-pki-"))
    base.chmod(0o755)
    init_pki(base / "pki")
    yield base / "pki"
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def server_pki(test_pki_dir: Path) -> PKI:
    """The :class:`mtlscheck._pki.PKI` in ``test_pki_dir`` (roles: ca, server, valid, expired,
    revoked, wrong-ca, intermediate, ...; ``crl`` holds the root's and intermediate's CRLs)."""
    return PKI.load(test_pki_dir)


@pytest.fixture(scope="session")
def mtls_paths(server_pki: PKI) -> dict[str, Path]:
    """Keyword arguments for every ``<Server>.mtls_fragment(**mtls_paths, ...)``."""
    return {
        "server_cert": server_pki.server_cert,
        "server_key": server_pki.server_key,
        "client_ca": server_pki.ca_cert,
        "crl": server_pki.crl,
    }


def _factory(cls: type[S]) -> Iterator[Callable[..., S]]:
    require_server(cls)
    started: list[S] = []

    def make(fragment: str | Callable[[int], str], **kwargs: Any) -> S:
        server = cls(fragment, **kwargs)
        started.append(server)
        return server.start()

    yield make
    for server in reversed(started):
        server.stop()


@pytest.fixture
def nginx_factory() -> Iterator[Callable[..., NginxServer]]:
    """``nginx_factory(fragment, port=None, ...) -> NginxServer`` (started; stopped at teardown)."""
    yield from _factory(NginxServer)


@pytest.fixture
def apache_factory() -> Iterator[Callable[..., ApacheServer]]:
    """``apache_factory(fragment, ...) -> ApacheServer`` (started; stopped at teardown)."""
    yield from _factory(ApacheServer)


@pytest.fixture
def haproxy_factory() -> Iterator[Callable[..., HAProxyServer]]:
    """``haproxy_factory(fragment, ...) -> HAProxyServer`` (started; stopped at teardown)."""
    yield from _factory(HAProxyServer)


@pytest.fixture
def caddy_factory() -> Iterator[Callable[..., CaddyServer]]:
    """``caddy_factory(fragment, ...) -> CaddyServer`` (started; stopped at teardown)."""
    yield from _factory(CaddyServer)


@pytest.fixture
def stunnel_factory() -> Iterator[Callable[..., StunnelServer]]:
    """``stunnel_factory(fragment, ...) -> StunnelServer`` (started; stopped at teardown)."""
    yield from _factory(StunnelServer)


@pytest.fixture
def gunicorn_factory() -> Iterator[Callable[..., GunicornServer]]:
    """``gunicorn_factory(fragment, ...) -> GunicornServer`` (started; stopped at teardown)."""
    yield from _factory(GunicornServer)


@pytest.fixture
def uvicorn_factory() -> Iterator[Callable[..., UvicornServer]]:
    """``uvicorn_factory(fragment, ...) -> UvicornServer`` (started; stopped at teardown)."""
    yield from _factory(UvicornServer)


@pytest.fixture(scope="session")
def nginx_mtls(server_pki: PKI) -> Iterator[NginxServer]:
    """nginx with ``mtlscheck._snippets.nginx_config``: client cert required, TLS 1.2 + 1.3, CRL."""
    require_server(NginxServer)
    with NginxServer(lambda port: nginx_config(server_pki, listen=f"127.0.0.1:{port}")) as srv:
        yield srv


@pytest.fixture(scope="session")
def apache_mtls(server_pki: PKI) -> Iterator[ApacheServer]:
    """Apache with ``mtlscheck._snippets.apache_config``: SSLVerifyClient require, TLS 1.2 + 1.3."""
    require_server(ApacheServer)
    with ApacheServer(lambda port: apache_config(server_pki, listen=f"127.0.0.1:{port}")) as srv:
        yield srv


@pytest.fixture(scope="session")
def stunnel_mtls(mtls_paths: dict[str, Path]) -> Iterator[StunnelServer]:
    """stunnel: verifyChain + requireCert against the test root CA, TLS 1.2 + 1.3, CRL."""
    require_server(StunnelServer)
    with StunnelServer(StunnelServer.mtls_fragment(**mtls_paths)) as srv:
        yield srv


@pytest.fixture(scope="session")
def gunicorn_mtls(mtls_paths: dict[str, Path]) -> Iterator[GunicornServer]:
    """gunicorn: ``--cert-reqs 2`` against the test root CA, TLS 1.2 + 1.3, no CRL (gunicorn
    20.1 cannot check one)."""
    require_server(GunicornServer)
    paths = {k: v for k, v in mtls_paths.items() if k != "crl"}
    with GunicornServer(GunicornServer.mtls_fragment(**paths)) as srv:
        yield srv


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP and never says a word (a hung server); every accepted
    connection is held open until the test ends."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield listener.getsockname()[1]
    stop.set()
    t.join()
    for s in held:
        s.close()
    listener.close()
