"""The ``mtls_server`` fixtures' objects: a running reference server and what a client needs."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal

import pytest

from mtlscheck._pytest_support.markers import marker_options
from mtlscheck._pytest_support.pki import MintedIdentity, MtlsPKI
from mtlscheck._server import ReferenceServer, RequestRecord, ServerMode

__all__ = ["MtlsServer", "ServerFactory", "ServerPool", "registry", "server_options"]

_SERVERS = pytest.StashKey[dict[str, "MtlsServer"]]()
_PROFILE = {ServerMode.NGINX: "nginx", ServerMode.APACHE: "apache", ServerMode.OPTIONAL: "generic"}


class MtlsServer:
    """A running :class:`ReferenceServer` plus what a client needs to talk to it."""

    def __init__(self, server: ReferenceServer, pki: MtlsPKI) -> None:
        self.server = server
        self.pki = pki
        self.stopped = False

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def mode(self) -> ServerMode:
        return self.server.mode

    @property
    def profile(self) -> str:
        """The mtlscheck server profile that matches :attr:`mode`."""
        return _PROFILE[self.server.mode]

    @property
    def ca_cert(self) -> Path:
        """CA file to verify this server with (it also issues the trusted clients)."""
        return self.pki.ca_cert

    @property
    def client_cert(self) -> Path:
        return self.pki.client_cert

    @property
    def client_key(self) -> Path:
        return self.pki.client_key

    @property
    def cert_pair(self) -> tuple[str, str]:
        return str(self.client_cert), str(self.client_key)

    @property
    def requests(self) -> list[RequestRecord]:
        """Every HTTP request answered (client subject, verify result, status)."""
        return list(self.server.requests)

    def ssl_context(
        self,
        identity: MintedIdentity
        | tuple[str | Path, str | Path]
        | Literal["valid"]
        | None = "valid",
    ) -> ssl.SSLContext:
        """A stdlib client context that trusts this server and presents ``identity``
        (default: the valid client; None: no client certificate)."""
        ctx = ssl.create_default_context(cafile=str(self.ca_cert))
        if identity == "valid":
            ctx.load_cert_chain(self.client_cert, self.client_key)
        elif isinstance(identity, MintedIdentity):
            ctx.load_cert_chain(identity.cert, identity.key)
        elif identity is not None:
            ctx.load_cert_chain(identity[0], identity[1])
        return ctx

    def stop(self) -> None:
        """Stop the server (the port is free on return).  A shared ``mtls_server`` stopped by
        a test is replaced by a fresh one for the next test."""
        self.stopped = True
        self.server.stop()

    def __repr__(self) -> str:
        return f"<MtlsServer {self.mode} {self.url}>"


def registry(config: pytest.Config) -> dict[str, MtlsServer]:
    """Running servers by URL: ``mtls_probe`` recognises its own servers (their PKI, profile)."""
    return config.stash.setdefault(_SERVERS, {})


class ServerFactory:
    """``factory(mode="apache", **ReferenceServer options) -> MtlsServer`` (started)."""

    def __init__(self, config: pytest.Config, pki: MtlsPKI) -> None:
        self.config = config
        self.pki = pki
        self.started: list[MtlsServer] = []

    def __call__(self, mode: ServerMode | str = ServerMode.APACHE, **options: Any) -> MtlsServer:
        try:
            server_mode = ServerMode(str(mode).lower())
        except ValueError:
            # A mistake in the test's options: one line, no traceback into this module.
            pytest.fail(
                f"mtls_server mode must be nginx, apache or optional, not {mode!r}", pytrace=False
            )
        kw: dict[str, Any] = {
            "cert": self.pki.server_cert,
            "key": self.pki.server_key,
            "client_ca": self.pki.ca_cert,
            "crl": self.pki.crl,
        }
        kw.update(options)
        srv = MtlsServer(ReferenceServer(mode=server_mode, **kw).start(), self.pki)
        self.started.append(srv)
        registry(self.config)[srv.url] = srv
        return srv

    def stop_all(self) -> None:
        reg = registry(self.config)
        for srv in reversed(self.started):
            reg.pop(srv.url, None)
            srv.stop()
        self.started.clear()


class ServerPool:
    """The session's ``mtls_server`` instances: one running server per distinct option set.

    Starting a server per test costs a TLS context, a thread and a port each time; a test
    file parametrized over three modes needs three servers, not one per test.  Isolation
    holds because the reference server keeps no state between connections except the
    ``requests`` log: no session cache, no tickets (every probe gets a full handshake), one
    request per connection.  So each checkout clears the log (as pytest-httpserver does),
    and a server a test stopped is replaced.  Tests that need a private server use
    ``mtls_server_factory``, which still starts and stops one per test.
    """

    def __init__(self, config: pytest.Config, pki: MtlsPKI) -> None:
        self.factory = ServerFactory(config, pki)
        self._servers: dict[str, MtlsServer] = {}

    def checkout(self, options: dict[str, Any]) -> MtlsServer:
        """A running server for ``options`` with an empty ``requests`` log."""
        opts = dict(options)
        opts["mode"] = str(opts.get("mode", ServerMode.APACHE)).lower()
        key = repr(sorted((k, repr(v)) for k, v in opts.items()))
        srv = self._servers.get(key)
        if srv is None or srv.stopped:
            if srv is not None:
                self.factory.started.remove(srv)
                registry(self.factory.config).pop(srv.url, None)
            srv = self._servers[key] = self.factory(**opts)
        del srv.server.requests[:]  # the previous test's requests are not this test's
        return srv

    def stop_all(self) -> None:
        self.factory.stop_all()
        self._servers.clear()


def server_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """ReferenceServer options for ``mtls_server``: indirect param > marker > Apache-like."""
    opts: dict[str, Any] = {"mode": ServerMode.APACHE}
    mode = marker_options(request.node).get("server_mode")
    if mode is not None:
        opts["mode"] = mode
    param = getattr(request, "param", None)
    if isinstance(param, str | ServerMode):
        opts["mode"] = param
    elif isinstance(param, dict):
        opts.update(param)
    elif param is not None:
        pytest.fail(f"mtls_server param must be a mode or a dict, not {param!r}", pytrace=False)
    return opts
