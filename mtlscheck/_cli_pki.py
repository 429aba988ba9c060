"""``mtlscheck pki``: create a throwaway test PKI and print server config snippets.

The main app mounts this with ``app.add_typer(pki_app, name="pki")``.  Errors are raised as
:mod:`mtlscheck._errors` exceptions; the main app turns them into one-line messages.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mtlscheck._errors import UsageError

__all__ = ["pki_app"]

pki_app = typer.Typer(
    name="pki",
    help="Create a throwaway test PKI (CAs, client certificate variants, CRL), print "
    "nginx/Apache snippets that require client certificates, and run its OCSP responder.",
    no_args_is_help=True,
    add_completion=False,
)


class KeyTypeOption(StrEnum):
    ec = "ec"
    rsa = "rsa"


DirArg = Annotated[Path, typer.Argument(help="PKI directory.", show_default=False)]
ListenOpt = Annotated[
    str,
    typer.Option("--listen", help="Listen address: PORT, HOST:PORT or [IPv6]:PORT."),
]
ServerNameOpt = Annotated[str, typer.Option("--server-name", help="server_name / ServerName.")]


def _hosts(value: str) -> list[str]:
    hosts = [h.strip() for h in value.split(",") if h.strip()]
    if not hosts:
        raise UsageError("--hosts needs at least one host name or IP address")
    return hosts


def _listen(value: str) -> str:
    """``--listen``: PORT, HOST:PORT or [IPv6]:PORT with a port that exists (1-65535)."""
    from mtlscheck._validate import check_port

    value = value.strip()
    host, sep, port = value.rpartition(":")
    if sep and (not host or (":" in host and not (host.startswith("[") and host.endswith("]")))):
        raise UsageError(f"--listen {value!r}: use PORT, HOST:PORT or [IPv6]:PORT")
    check_port(port, "--listen")
    return value


def _config_text(value: str | None, option: str) -> str | None:
    """A value pasted into nginx/Apache configuration: one line, no quoting characters that
    would end the directive (a stray ';' or newline makes a config that does something else)."""
    if value is not None and (
        not value.strip() or any(c in value for c in ";{}\"'\\") or not value.isprintable()
    ):
        raise UsageError(f"{option} must be a plain path on one line, without ; {{ }} or quotes")
    return value


def _url(host: str, listen: str) -> str:
    port = listen.rsplit(":", 1)[-1]
    if ":" in host:
        host = f"[{host}]"
    return f"https://{host}/" if port == "443" else f"https://{host}:{port}/"


@pki_app.command("init")
def init(
    directory: DirArg,
    hosts: Annotated[
        str,
        typer.Option("--hosts", help="Comma-separated names/IPs for the server certificate's SAN."),
    ] = "localhost,127.0.0.1",
    key_type: Annotated[
        KeyTypeOption, typer.Option("--key-type", help="ec = P-256 (fast), rsa = 2048 bit.")
    ] = KeyTypeOption.ec,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the files of an existing PKI directory.")
    ] = False,
    p12_password_env: Annotated[
        str | None,
        typer.Option(
            "--p12-password-env",
            metavar="VAR",
            help="Environment variable holding the password for valid.p12 "
            "(unset: a random password is generated and printed once).",
        ),
    ] = None,
    ocsp_url: Annotated[
        str | None,
        typer.Option(
            "--ocsp-url",
            metavar="URL",
            help="http:// URL of an OCSP responder to name in the certificates' Authority "
            "Information Access (serve it with 'mtlscheck pki ocsp-serve DIR').",
        ),
    ] = None,
) -> None:
    """Create a test PKI in DIRECTORY and print snippets for nginx, Apache and curl."""
    from rich.console import Console
    from rich.table import Table

    from mtlscheck._pki import init_pki
    from mtlscheck._snippets import apache_config, curl_command, nginx_config

    env_password: str | None = None
    if p12_password_env is not None:
        # An unset variable must not silently become a generated password: the user meant
        # to choose it, and scripts would then use a password nobody knows.
        if p12_password_env not in os.environ:
            raise UsageError(
                f"--p12-password-env: environment variable {p12_password_env} is not set"
            )
        env_password = os.environ[p12_password_env]
        if not env_password:
            raise UsageError(
                f"--p12-password-env: environment variable {p12_password_env} is empty"
            )
    pki, password = init_pki(
        directory,
        hosts=_hosts(hosts),
        key_type=key_type.value,
        force=force,
        p12_password=env_password,
        ocsp_url=ocsp_url,
    )

    console = Console(highlight=False)
    table = Table(title=f"Test PKI written to {pki.directory}", title_justify="left")
    table.add_column("role")
    table.add_column("certificate")
    table.add_column("key (0600)")
    for name, role in pki.roles.items():
        cert = role.cert.name if role.chain is None else f"{role.cert.name} (+ {role.chain.name})"
        table.add_row(name, cert, role.key.name if role.key else "-")
    console.print(table)
    console.out(f"CRL (root + intermediate): {pki.crl}")
    if pki.ocsp_url is not None:
        console.out(
            f"OCSP responder named in the certificates: {pki.ocsp_url} "
            f"(run: mtlscheck pki ocsp-serve {pki.directory})"
        )
    if pki.p12 is not None:
        if env_password is not None:
            console.out(f"PKCS#12 of 'valid': {pki.p12} (password from ${p12_password_env})")
        else:
            console.out(f"PKCS#12 of 'valid': {pki.p12}")
            console.out(f"  password (generated, shown only now): {password}")

    listen, server_name = "8443", pki.hosts[0]
    console.print()
    console.rule("nginx (mtlscheck pki nginx DIR)", align="left")
    console.out(nginx_config(pki, listen=listen, server_name=server_name), end="")
    console.rule("Apache 2.4 (mtlscheck pki apache DIR)", align="left")
    console.out(apache_config(pki, listen=listen, server_name=server_name), end="")
    console.rule("try it", align="left")
    console.out(curl_command(pki, _url(pki.hosts[0], listen)))


@pki_app.command("nginx")
def nginx(
    directory: DirArg,
    listen: ListenOpt = "443",
    server_name: ServerNameOpt = "localhost",
    root: Annotated[
        str | None,
        typer.Option("--root", help="Serve files from this directory instead of 'return 200'."),
    ] = None,
) -> None:
    """Print an nginx server block requiring client certificates from the PKI in DIRECTORY."""
    from mtlscheck._pki import PKI
    from mtlscheck._snippets import nginx_config

    listen, root = _listen(listen), _config_text(root, "--root")
    pki = PKI.load(directory)
    typer.echo(nginx_config(pki, listen=listen, server_name=server_name, root=root), nl=False)


@pki_app.command("apache")
def apache(
    directory: DirArg,
    listen: ListenOpt = "443",
    server_name: ServerNameOpt = "localhost",
    document_root: Annotated[
        str | None,
        typer.Option("--document-root", help="DocumentRoot (default: the PKI's www/ directory)."),
    ] = None,
) -> None:
    """Print Listen + an Apache 2.4 VirtualHost requiring client certificates from DIRECTORY."""
    from mtlscheck._pki import PKI
    from mtlscheck._snippets import apache_config

    listen = _listen(listen)
    document_root = _config_text(document_root, "--document-root")
    pki = PKI.load(directory)
    typer.echo(
        apache_config(pki, listen=listen, server_name=server_name, document_root=document_root),
        nl=False,
    )


@pki_app.command("ocsp-serve")
def ocsp_serve(
    directory: DirArg,
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            help="Listen address: PORT, HOST:PORT or [IPv6]:PORT; port 0 picks a free one "
            "[default: the host and port of the PKI's --ocsp-url, else 127.0.0.1:8888].",
            show_default=False,
        ),
    ] = None,
    delegated: Annotated[
        bool,
        typer.Option(
            "--delegated",
            help="Sign with a responder certificate issued by each CA (OCSPSigning EKU, "
            "made at start-up) instead of the CA key itself.",
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Do not log each request on stderr.")
    ] = False,
) -> None:
    """Run an OCSP responder (RFC 6960, POST and GET) for the PKI in DIRECTORY, in the
    foreground until Ctrl-C or SIGTERM: good, revoked (its CRL) or unknown (not issued by it)."""
    import sys

    from mtlscheck._ocsp import OcspServer, Responder, address_of, listen_address
    from mtlscheck._pki import PKI

    pki = PKI.load(directory)
    if listen is not None:
        host, port = listen_address(listen)
    elif pki.ocsp_url is not None:
        host, port = address_of(pki.ocsp_url)
    else:
        host, port = "127.0.0.1", 8888
    responder = Responder(pki, delegated=delegated)
    server = OcspServer(responder, host, port, log=None if quiet else sys.stderr)
    with _until_stopped() as stopped:
        server.start()
        try:
            signer = "delegated responder certificates" if delegated else "the CA keys"
            typer.echo(
                f"OCSP responder for {pki.directory} listening on {server.url} "
                f"(CAs: {', '.join(responder.ca_names)}; signed with {signer}); Ctrl-C stops it"
            )
            _hint_url(pki.ocsp_url, server.url)
            sys.stdout.flush()
            while not stopped.wait(0.5):
                pass
        finally:
            server.stop()
    typer.echo("OCSP responder stopped", err=True)


def _hint_url(named: str | None, url: str) -> None:
    """Say where servers must be pointed when the certificates do not name this responder."""
    from mtlscheck._ocsp import address_of

    if named is None:
        typer.echo(
            "the PKI's certificates name no OCSP URL (pki init --ocsp-url): point the server "
            f"at it: nginx 'ssl_ocsp on; ssl_ocsp_responder {url};', Apache 'SSLOCSPEnable on', "
            f"'SSLOCSPDefaultResponder {url}', 'SSLOCSPOverrideResponder on'",
            err=True,
        )
    elif address_of(named) != address_of(url):
        typer.echo(
            f"warning: the certificates name {named}, but this responder listens on {url}: "
            "servers that follow the certificate's URL will not reach it",
            err=True,
        )


@contextlib.contextmanager
def _until_stopped() -> Iterator[threading.Event]:
    """An event set by SIGINT, SIGTERM or SIGHUP: a foreground server's normal way to end,
    so it stops cleanly and exits 0 (outside the main thread: by KeyboardInterrupt only)."""
    import signal

    stopped = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stopped
        return
    wanted = [getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)]
    previous = {s: signal.signal(s, lambda signum, frame: stopped.set()) for s in wanted}
    try:
        yield stopped
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
