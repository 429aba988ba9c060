"""``mtlscheck lint``: check an nginx, Apache or HAProxy mTLS configuration from inside.

Probes find a problem from outside; lint finds it in the configuration and the CA/CRL files it
names, and names it with the same finding codes (:class:`mtlscheck._diagnose.Code`), each with
the ``FILE:LINE`` to change.  Pipeline::

    config file --parse (_nginx/_apache/_haproxy)--> Sites --rules (_checks)--> LintFindings

The server kind is taken from the file's name or, failing that, its content.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from mtlscheck._errors import InputError, UsageError
from mtlscheck._files import read_input
from mtlscheck._lint._checks import Context, check_site
from mtlscheck._lint._model import LintFinding, LintResult, Server, Site
from mtlscheck._model import Severity

__all__ = ["LintFinding", "LintResult", "Server", "detect_server", "lint_config"]

_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def detect_server(path: Path, data: bytes) -> Server:
    """nginx, Apache or HAProxy, from the file name, else from tell-tale directives."""
    name = path.name.lower()
    if "nginx" in name:
        return Server.NGINX
    if "haproxy" in name:
        return Server.HAPROXY
    if any(k in name for k in ("apache", "httpd")):
        return Server.APACHE
    text = data.decode("utf-8", "replace")
    if re.search(
        r"^\s*(frontend|listen|backend|global|defaults)\b[^;{]*$", text, re.M
    ) and re.search(r"^\s*bind\s", text, re.M):
        return Server.HAPROXY
    if re.search(
        r"^\s*<(VirtualHost|IfModule|Directory|Location)\b", text, re.M | re.I
    ) or re.search(r"^\s*(SSLEngine|ServerRoot|LoadModule|SSLVerifyClient)\s", text, re.M | re.I):
        return Server.APACHE
    if re.search(r"[{;]\s*$", text, re.M):
        return Server.NGINX
    raise InputError(
        f"cannot tell which server {path} configures; use --server nginx|apache|haproxy"
    )


def _client(cert: Path, key: Path | None) -> tuple[x509.Certificate, tuple[x509.Certificate, ...]]:
    from mtlscheck._identity import load_certificates, load_identity

    if key is not None:
        ident = load_identity(cert, key)
        return ident.cert, tuple(ident.chain)
    certs = load_certificates(cert, "client certificate")
    return certs[0], tuple(certs[1:])


def _parse(kind: Server, p: Path) -> tuple[tuple[Site, ...], tuple[Path, ...]]:
    if kind is Server.NGINX:
        from mtlscheck._lint._nginx import parse_nginx

        return parse_nginx(p)
    if kind is Server.APACHE:
        from mtlscheck._lint._apache import parse_apache

        return parse_apache(p)
    from mtlscheck._lint._haproxy import parse_haproxy

    return parse_haproxy(p)


def lint_config(
    path: Path | str,
    *,
    server: str | None = None,
    client_cert: Path | str | None = None,
    client_key: Path | str | None = None,
    now: datetime | None = None,
) -> LintResult:
    """Lint one configuration file (and what it includes).

    Raises :class:`InputError`/:class:`UsageError` for input lint cannot use (unreadable or
    unparsable config, bad client certificate); CA/CRL files the config names that cannot be
    read become findings, not errors.
    """
    p = Path(path)
    data = read_input(p, "configuration")
    if server is None:
        kind = detect_server(p, data)
    else:
        try:
            kind = Server(server)
        except ValueError:
            raise UsageError(f"--server must be nginx, apache or haproxy, not {server!r}") from None
    if client_key is not None and client_cert is None:
        raise UsageError("--client-key needs --client-cert")
    client = None
    cert_path = None if client_cert is None else Path(client_cert)
    if cert_path is not None:
        client = _client(cert_path, None if client_key is None else Path(client_key))

    try:
        sites, files = _parse(kind, p)
    except RecursionError:
        raise InputError(f"{p}: blocks or sections nested too deeply") from None

    ctx = Context(now=now or datetime.now(UTC), client=client)
    found: list[LintFinding] = []
    seen: set[tuple[str, object, str]] = set()
    for site in sites:
        for f in check_site(site, ctx):
            key = (f.code, f.loc, f.site)
            if key not in seen:
                seen.add(key)
                found.append(f)
    found.sort(key=lambda f: _ORDER[f.severity])
    return LintResult(
        config=p,
        server=kind,
        files=files,
        sites=sites,
        findings=tuple(found),
        client_cert=cert_path,
    )
