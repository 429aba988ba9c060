"""A real Node.js ``https`` server for tests (Debian's ``nodejs``), on the tests/servers.py harness.

The fragment is the JSON settings of ``fixtures/servers/node_https.js``; :meth:`NodeServer.settings`
builds them for the two documented ways of doing client auth in Node.js: ``rejectUnauthorized``
(the TLS layer refuses) and ``requestCert`` with a ``req.socket.authorized`` check in the handler
(HTTP 401).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from servers import FIXTURES, HOST, RealServer, StrPath


class NodeServer(RealServer):
    """Node.js (OpenSSL inside) running ``fixtures/servers/node_https.js``."""

    name = "node"
    binary = shutil.which("node") or "/usr/bin/node"
    template = "node.json.tmpl"
    config_name = "node.json"
    placeholder = "settings"

    def run_command(self) -> list[str]:
        return [self.binary, str(FIXTURES / "node_https.js"), str(self.config_path)]

    @staticmethod
    def settings(
        *,
        server_cert: StrPath,
        server_key: StrPath,
        client_ca: StrPath | None,
        crl: StrPath | None = None,
        verify: str = "required",
        port: str = "{port}",
    ) -> str:
        """``verify``: required (``requestCert`` + ``rejectUnauthorized``), app (``requestCert``,
        ``rejectUnauthorized: false`` and the handler's ``req.socket.authorized`` check), optional
        (``requestCert`` without any check: the misconfiguration) or off."""
        if verify not in ("required", "app", "optional", "off"):
            raise ValueError(f"node: verify must be required, app, optional or off, not {verify!r}")
        conf: dict[str, object] = {
            "port": "__PORT__",
            "cert": str(server_cert),
            "key": str(server_key),
            "requestCert": verify != "off",
            "rejectUnauthorized": verify == "required",
            "checkAuthorized": verify == "app",
        }
        if client_ca is not None:
            conf["ca"] = str(client_ca)
        if crl is not None:
            conf["crl"] = str(crl)
        return json.dumps(conf, indent=2).replace('"__PORT__"', port)


def node_available() -> bool:
    return Path(NodeServer.binary).exists()


__all__ = ["HOST", "NodeServer", "node_available"]
