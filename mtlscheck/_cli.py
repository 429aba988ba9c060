"""The ``mtlscheck`` command line: parse, call the API, pick a reporter.  No probing logic here.

Error handling lives in :func:`main`: every :class:`~mtlscheck.MtlscheckError` becomes one line
on stderr and its documented exit code; a traceback would be a bug.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from mtlscheck import _cli_lint
from mtlscheck._cli_offline import register as register_offline
from mtlscheck._cli_pki import pki_app
from mtlscheck._errors import EXIT_USAGE, InputError, MtlscheckError, UsageError

if TYPE_CHECKING:
    from mtlscheck._model import RunResult

__all__ = ["app", "main"]

app = typer.Typer(
    name="mtlscheck",
    help="Verify and diagnose mutual TLS (client-certificate authentication) on HTTPS endpoints.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(pki_app, name="pki")
register_offline(app)  # explain, verify, inspect
app.command("lint", epilog=_cli_lint.EPILOG)(_cli_lint.lint)


def _err(msg: str) -> None:
    print(f"mtlscheck: error: {msg}", file=sys.stderr)


def _pairs(values: list[str] | None, option: str, sep: str = "=") -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values or []:
        name, eq, rest = v.partition(sep)
        if not eq or not name.strip() or not rest.strip():
            raise UsageError(f"{option} takes NAME{sep}VALUE, got {v!r}")
        out[name.strip()] = rest.strip()
    return out


def _headers(values: list[str] | None) -> list[tuple[str, str]]:
    out = []
    for v in values or []:
        name, colon, rest = v.partition(":")
        if not colon or not name.strip():
            # Not echoed: a header is where credentials go (Authorization, X-Api-Key).
            raise UsageError("--header takes 'Name: value'; one has no 'Name:' part")
        out.append((name.strip(), rest.strip()))
    return out


def _resolve(value: str | None, url: str) -> str | None:
    """curl's ``--resolve HOST:PORT:ADDR`` → the address to connect to for this URL."""
    if value is None:
        return None
    from mtlscheck._validate import parse_resolve

    return parse_resolve(value, url)


def _key_password(env: str | None, cert: Path | None, key: Path | None) -> bytes | None:
    if env is not None:
        if env not in os.environ:
            raise UsageError(f"--key-password-env: environment variable {env} is not set")
        return os.environ[env].encode()
    if cert is None:
        return None
    from mtlscheck._identity import KeyPasswordNeeded, load_identity

    try:
        load_identity(cert, key)
    except KeyPasswordNeeded:
        if not sys.stdin.isatty():
            raise
        import getpass

        return getpass.getpass(f"Password for {key or cert}: ").encode()
    return None


def _apply_path(url: str, path: str | None) -> str:
    if path is None:
        return url
    from urllib.parse import urlsplit, urlunsplit

    u = urlsplit(url)
    p, _, q = path.partition("?")
    return urlunsplit((u.scheme, u.netloc, p if p.startswith("/") else "/" + p, q, ""))


def _emit(run: RunResult, fmt: str, output: Path | None, verbose: bool, color: bool | None) -> None:
    from mtlscheck._report import get_reporter

    reporter = get_reporter(fmt, color=color)
    if output is None:
        reporter.render(run, sys.stdout, verbose=verbose)
        return
    try:
        with output.open("w", encoding="utf-8") as fh:
            reporter.render(run, fh, verbose=verbose)
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror or exc}") from None
    print(f"mtlscheck: report written to {output}", file=sys.stderr)


@contextlib.contextmanager
def _progress(what: str) -> Iterator[Callable[[Any], None] | None]:
    """A one-line spinner on stderr while probes run - only when stderr is a terminal, so
    pipelines and captured output see nothing but the report."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console

    done = 0
    with Console(stderr=True).status(f"probing {what}") as status:

        def tick(result: Any) -> None:
            nonlocal done
            done += 1
            status.update(f"probing {what}: {done} done, last {result.name}")

        yield tick


def _check_format(fmt: str) -> None:
    from mtlscheck._report import get_reporter
    from mtlscheck._validate import closest

    try:
        get_reporter(fmt)
    except UsageError as exc:
        formats = ["console", "json", "junit", "markdown"]
        raise UsageError(f"{exc}{closest(fmt.strip().lower(), formats)}") from None


def _list_probes() -> None:
    from mtlscheck._probes import CATALOGUE, DEFAULT_PROBES

    for spec in CATALOGUE.values():
        mark = "*" if spec.name in DEFAULT_PROBES else " "
        exp = "accepted" if spec.accepts else "rejected"
        print(f"{mark} {spec.name:<14} expects {exp:<9} {spec.description}  [needs: {spec.needs}]")
    print("(* = run by default; --probes all runs every probe)")


def _finish(run: RunResult) -> NoReturn:
    for t in run.targets:
        if not t.reachable:
            reasons = sorted({r.outcome.summary for r in t.results if r.outcome is not None})
            _err(f"could not reach a TLS server at {t.target}: {', '.join(reasons)}")
    raise typer.Exit(run.exit_code)


FormatOpt = Annotated[str, typer.Option("--format", "-f", help="console, json, junit or markdown.")]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to FILE.")]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Full handshake facts and commands per probe.")
]
ColorOpt = Annotated[
    bool | None,
    typer.Option(
        "--color/--no-color", help="Force colour on or off (default: auto, NO_COLOR honoured)."
    ),
]


_EXIT_CODES = (
    "Exit codes: 0 every probe met its expectation; 1 some did not; 2 usage or input error; "
    "3 no probe reached a TLS server."
)


@app.command(epilog=_EXIT_CODES)
def probe(
    url: Annotated[
        str | None, typer.Argument(help="https:// URL of the mTLS endpoint.", show_default=False)
    ] = None,
    probes: Annotated[
        list[str] | None,
        typer.Option("--probes", "-p", help="Probes to run (comma list or repeated; 'all')."),
    ] = None,
    list_probes: Annotated[
        bool, typer.Option("--list-probes", help="List the probes and what each needs.")
    ] = False,
    suite: Annotated[
        Path | None,
        typer.Option("--suite", help="Run the targets of a suite file (TOML) instead of URL."),
    ] = None,
    cert: Annotated[
        Path | None,
        typer.Option(
            "--cert", help="Valid client certificate (PEM/DER, may hold the chain; or .p12)."
        ),
    ] = None,
    key: Annotated[Path | None, typer.Option("--key", help="Its private key (PEM/DER).")] = None,
    key_password_env: Annotated[
        str | None,
        typer.Option(
            "--key-password-env", help="Environment variable holding the key/PKCS#12 password."
        ),
    ] = None,
    pki: Annotated[
        Path | None, typer.Option("--pki", help="A PKI directory from 'mtlscheck pki init'.")
    ] = None,
    ca_cert: Annotated[
        Path | None, typer.Option("--ca-cert", help="The CA the server trusts for clients.")
    ] = None,
    ca_key: Annotated[
        Path | None,
        typer.Option(
            "--ca-key", help="Its key: lets mtlscheck mint expired/not-yet-valid/... certificates."
        ),
    ] = None,
    identity: Annotated[
        list[str] | None,
        typer.Option("--identity", help="NAME=CERT[,KEY]: the identity a probe presents."),
    ] = None,
    cacert: Annotated[
        Path | None,
        typer.Option("--cacert", help="CA bundle to verify the server (default: system store)."),
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure", "-k", help="Do not verify the server certificate (still recorded)."
        ),
    ] = False,
    servername: Annotated[
        str | None,
        typer.Option("--servername", help="SNI / certificate name to use instead of the URL host."),
    ] = None,
    resolve: Annotated[
        str | None, typer.Option("--resolve", help="HOST:PORT:ADDR, like curl.")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds per probe (connect + handshake + request).")
    ] = 10.0,
    path: Annotated[
        str | None, typer.Option("--path", help="Request path (default: the URL's).")
    ] = None,
    method: Annotated[str, typer.Option("--method", "-X", help="HTTP method.")] = "GET",
    header: Annotated[
        list[str] | None, typer.Option("--header", "-H", help="'Name: value' request header.")
    ] = None,
    tls: Annotated[str, typer.Option("--tls", help="1.2, 1.3 or both.")] = "both",
    server: Annotated[
        str, typer.Option("--server", help="Profile: generic, nginx, apache, haproxy, caddy.")
    ] = "generic",
    expect: Annotated[
        list[str] | None,
        typer.Option(
            "--expect",
            "-e",
            help="PROBE=EXPR, e.g. expired=403 or no-cert=alert:certificate_required.",
        ),
    ] = None,
    save_certs: Annotated[
        Path | None,
        typer.Option("--save-certs", help="Keep minted certificates here (for the curl commands)."),
    ] = None,
    fmt: FormatOpt = "console",
    output: OutputOpt = None,
    verbose: VerboseOpt = False,
    color: ColorOpt = None,
) -> None:
    """Run the probe suite against URL and report expected vs actual outcomes."""
    if list_probes:
        _list_probes()
        raise typer.Exit(0)
    _check_format(fmt)  # a typo in --format must not cost a whole run first
    if suite is not None:
        from mtlscheck._suite import load_suite, run_suite

        given = [n for n, v in (("URL", url), ("--probes", probes), ("--cert", cert),
                                ("--key", key), ("--pki", pki), ("--ca-cert", ca_cert),
                                ("--ca-key", ca_key), ("--identity", identity),
                                ("--expect", expect), ("--resolve", resolve), ("--path", path),
                                ("--key-password-env", key_password_env),
                                ("--save-certs", save_certs)) if v]  # fmt: skip
        if given:
            raise UsageError(f"--suite takes these from the file; drop {', '.join(given)}")
        # Connection options given on the command line apply to every target, below what
        # the file says per target (like the pytest plugin's --mtls-* options).
        overrides: dict[str, object] = {
            k: v
            for k, v, default in (
                ("timeout", timeout, 10.0), ("tls", tls, "both"), ("server", server, "generic"),
                ("cacert", None if cacert is None else str(cacert.resolve()), None),
                ("insecure", insecure, False), ("servername", servername, None),
                ("method", method, "GET"),
            )
            if v != default
        }  # fmt: skip
        if header:
            overrides["headers"] = dict(_headers(header))
        suite_run = run_suite(load_suite(suite, defaults=overrides))
        _emit(suite_run, fmt, output, verbose, color)
        _finish(suite_run)
    if url is None:
        raise UsageError(
            "missing URL (e.g. mtlscheck probe https://api.example --cert c.pem --key c.key)"
        )
    from mtlscheck._api import check
    from mtlscheck._model import RunResult

    url = _apply_path(url, path)
    idents: dict[str, tuple[Path | str, Path | str | None]] = {}
    for name, files in _pairs(identity, "--identity").items():
        c, _, k = files.partition(",")
        idents[name] = (c, k or None)
    # Everything that may fail or prompt (key password) happens before the spinner starts.
    options: dict[str, Any] = dict(
        probes=probes,
        cert=cert,
        key=key,
        key_password=_key_password(key_password_env, cert, key),
        pki=pki,
        ca_cert=ca_cert,
        ca_key=ca_key,
        identities=idents,
        cacert=cacert,
        insecure=insecure,
        servername=servername,
        address=_resolve(resolve, url),
        timeout=timeout,
        tls=tls,
        server=server,
        expect=_pairs(expect, "--expect"),
        method=method,
        headers=_headers(header),
        save_certs=save_certs,
    )
    with _progress(url) as on_result:
        result = check(url, on_result=on_result, **options)
    run = RunResult((result,))
    _emit(run, fmt, output, verbose, color)
    _finish(run)


@app.command(epilog=_EXIT_CODES)
def demo(
    mode: Annotated[
        str, typer.Option("--mode", help="Built-in server behaves like: nginx, apache or optional.")
    ] = "nginx",
    tls: Annotated[str, typer.Option("--tls", help="1.2, 1.3 or both.")] = "both",
    fmt: FormatOpt = "console",
    output: OutputOpt = None,
    verbose: VerboseOpt = False,
    color: ColorOpt = None,
) -> None:
    """Probe the built-in reference mTLS server (fresh temporary PKI, 127.0.0.1) and report.

    'nginx' and 'apache' show a correct setup (all probes pass); 'optional' shows the most
    common silent misconfiguration (a client without a certificate gets in: exit code 1).
    """
    import tempfile

    _check_format(fmt)
    from mtlscheck._api import check
    from mtlscheck._model import RunResult
    from mtlscheck._pki import init_pki
    from mtlscheck._server import ReferenceServer, ServerMode

    try:
        server_mode = ServerMode(mode)
    except ValueError:
        from mtlscheck._validate import closest

        raise UsageError(
            f"--mode must be nginx, apache or optional, not {mode!r}"
            f"{closest(mode, [m.value for m in ServerMode])}"
        ) from None
    with tempfile.TemporaryDirectory(prefix="mtlscheck-demo-") as tmp:
        pki, _ = init_pki(Path(tmp) / "pki")
        print(
            f"mtlscheck: demo PKI in {pki.directory}; starting the built-in server ({mode} mode)",
            file=sys.stderr,
        )
        with ReferenceServer(
            cert=pki.server_cert,
            key=pki.server_key,
            client_ca=pki.ca_cert,
            crl=pki.crl,
            mode=server_mode,
        ) as srv:
            profile = "generic" if server_mode is ServerMode.OPTIONAL else mode
            result = check(
                srv.url, pki=pki.directory, probes=["all"], tls=tls, server=profile, timeout=5.0
            )
        run = RunResult((result,))
        _emit(run, fmt, output, verbose, color)
    _finish(run)


def _version_callback(value: bool) -> None:
    if value:
        from mtlscheck._version import __version__

        print(f"mtlscheck {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_callback,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Verify and diagnose mutual TLS (client-certificate authentication) on HTTPS endpoints."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code instead of raising, so tests can call it.

    typer runs with ``standalone_mode=False``: click's usage errors reach this function as
    exceptions and, like our own errors, become one line (:mod:`mtlscheck._cli_errors`).
    No click/typer internals are named, so this works whether typer vendors click (0.28) or
    depends on it.
    """
    try:
        # Not standalone: click's usage errors come here as exceptions and become one
        # line (see _cli_errors); typer.Exit comes back as the return value.
        rv = app(args=argv, prog_name="mtlscheck", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_USAGE)
    except MtlscheckError as exc:
        _err(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as exc:
        from mtlscheck._cli_errors import click_error

        found = click_error(
            exc, typer.main.get_command(app), sys.argv[1:] if argv is None else argv
        )
        if found is None:
            raise
        line, code = found
        if line is not None:
            _err(line)
        return code
