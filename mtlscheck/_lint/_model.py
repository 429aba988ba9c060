"""What the config parsers produce and the checks consume: one :class:`Site` per TLS listener.

nginx ``server { }`` blocks, Apache ``<VirtualHost>`` sections and HAProxy ``bind`` lines are
different shapes of the same few facts (how the client certificate is requested, which files
hold the trusted CAs and CRLs, the verify depth, the TLS versions, where the verify result is
checked).  The parsers reduce each to a :class:`Site`, so every check is written once.

Every setting carries the :class:`Loc` of the directive it came from (``None`` for a server
default), because a finding is only useful with the ``FILE:LINE`` to change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Generic, TypeVar

from mtlscheck._model import Severity

__all__ = ["Area", "LintFinding", "LintResult", "Loc", "Server", "Setting", "Site", "Verify"]

T = TypeVar("T")


class Server(StrEnum):
    NGINX = "nginx"
    APACHE = "apache"
    HAPROXY = "haproxy"


class Verify(StrEnum):
    """How the client certificate is requested, in one vocabulary for all servers."""

    REQUIRE = "require"  # nginx on, Apache require, HAProxy required
    OPTIONAL = "optional"
    OPTIONAL_NO_CA = "optional_no_ca"
    OFF = "off"  # nginx off / absent, Apache none, HAProxy none


@dataclass(frozen=True, order=True)
class Loc:
    file: Path
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Setting(Generic[T]):
    """A configured value and where it was set; ``loc`` None means the server's default."""

    value: T
    loc: Loc | None = None
    text: str = ""
    """The directive as written (``ssl_verify_client optional``), for messages."""


@dataclass(frozen=True)
class Area:
    """A part of a site with its own rules: an nginx ``location``, an Apache
    ``<Location>``/``<Directory>``/``<Files>``."""

    name: str
    loc: Loc
    verify: Setting[Verify] | None = None
    """Apache per-location ``SSLVerifyClient`` (renegotiation / post-handshake auth)."""
    checks_verify: bool = False
    """The verify result is checked here ($ssl_client_verify, SSL_CLIENT_VERIFY, ssl_c_verify)."""
    forwards_verify: bool = False
    """The verify result is only passed on to a backend (which lint cannot see)."""


@dataclass(frozen=True)
class Site:
    """One TLS listener and the client-authentication settings in force for it."""

    server: Server
    name: str
    loc: Loc
    verify: Setting[Verify]
    ca_files: tuple[Setting[Path], ...] = ()
    """Files whose CAs are trusted for client certificates AND advertised as CA names."""
    trusted_files: tuple[Setting[Path], ...] = ()
    """nginx ``ssl_trusted_certificate``: trusted for client certificates, not advertised."""
    crl_files: tuple[Setting[Path], ...] = ()
    crl_check: Setting[str] | None = None
    """Apache ``SSLCARevocationCheck`` (none/leaf/chain); None where the server always checks
    every level once a CRL is given (nginx, HAProxy)."""
    depth: Setting[int] | None = None
    """Verify depth; None where the server has no such setting (HAProxy)."""
    protocols: Setting[frozenset[str]] = field(
        default_factory=lambda: Setting(frozenset({"TLSv1.2", "TLSv1.3"}))
    )
    areas: tuple[Area, ...] = ()
    checks_verify: bool = False
    """The verify result is checked for the whole site (server-level nginx ``if``, Apache
    ``Require expr`` in the vhost, HAProxy ``http-request deny`` on the frontend)."""
    forwards_verify: bool = False
    http2: Setting[bool] | None = None
    ignore_errors: tuple[Setting[str], ...] = ()
    """HAProxy ``crt-ignore-err`` / ``ca-ignore-err`` (``all`` or error ids/names)."""
    log_level: Setting[str] | None = None
    """The log level that applies to client-certificate errors (nginx error_log, Apache
    LogLevel for mod_ssl); None where lint does not judge it (HAProxy)."""
    logs_client_errors: bool = True
    server_cert: Setting[Path] | None = None
    plain: bool = False
    """TLS material is configured but the listener does not speak TLS (nginx ``listen`` without
    ``ssl``): nothing else about the site applies."""
    ca_names_file: Setting[Path] | None = None
    """Apache ``SSLCADNRequestFile``: the CA names advertised come from here instead."""


@dataclass(frozen=True)
class LintFinding:
    """A finding with the place to change.  ``code`` is a :class:`mtlscheck._diagnose.Code`."""

    code: str
    severity: Severity
    message: str
    loc: Loc | None
    site: str = ""
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": str(self.severity),
            "message": self.message,
            "file": None if self.loc is None else str(self.loc.file),
            "line": None if self.loc is None else self.loc.line,
            "site": self.site,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class LintResult:
    config: Path
    server: Server
    files: tuple[Path, ...]
    """Every configuration file read (the main file and what it includes)."""
    sites: tuple[Site, ...]
    findings: tuple[LintFinding, ...]
    client_cert: Path | None = None

    @property
    def exit_code(self) -> int:
        return 1 if any(f.severity is Severity.ERROR for f in self.findings) else 0
