"""The ``mtlscheck`` command line: parse, call the API, pick a reporter.  No probing logic here.

Error handling lives in :func:`main`: every :class:`~mtlscheck.MtlscheckError` becomes one line
on stderr and its documented exit code; a traceback would be a bug.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TextIO

import typer

from mtlscheck import _cli_lint
from mtlscheck._cli_common import BaselineOpt, ColorOpt, FormatOpt, OutputOpt
from mtlscheck._cli_offline import register as register_offline
from mtlscheck._cli_pki import pki_app
from mtlscheck._cli_report import report_app
from mtlscheck._errors import EXIT_USAGE, MtlscheckError, UsageError
from mtlscheck._secrets import redact_url

if TYPE_CHECKING:
    from mtlscheck._baseline import Comparison
    from mtlscheck._model import RunResult
    from mtlscheck._report._base import Reporter
    from mtlscheck._report._json import JsonSpool
    from mtlscheck._report._load import Report

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
app.add_typer(report_app, name="report")  # report merge


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


def _headers(values: list[str] | None, flag: str = "--header") -> list[tuple[str, str]]:
    out = []
    for v in values or []:
        name, colon, rest = v.partition(":")
        if not colon or not name.strip():
            # Not echoed: a header is where credentials go (Authorization, X-Api-Key).
            raise UsageError(f"{flag} takes 'Name: value'; one has no 'Name:' part")
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


def _emit(
    run: RunResult,
    fmt: str,
    output: Path | None,
    verbose: bool,
    color: bool | None,
    *,
    shard: tuple[int, int, int] | None = None,
    comparison: Comparison | None = None,
    reporter: Reporter | None = None,
) -> None:
    """Render the report; a JSON shard report records its shard, a baseline comparison
    follows the report (:func:`mtlscheck._cli_report.write_comparison`).  ``reporter``: one
    that already holds the targets (the JSON spool) instead of the format's own."""
    from mtlscheck._report import get_reporter

    if reporter is None:
        reporter = get_reporter(fmt, color=color)
        if shard is not None and reporter.name == "json":
            from mtlscheck._report._json import JsonReporter

            reporter = JsonReporter(shard=shard)

    def tail(out: Any) -> None:
        if comparison is not None:
            from mtlscheck._cli_report import write_comparison

            write_comparison(comparison, fmt, out)

    if output is None:
        reporter.render(run, sys.stdout, verbose=verbose)
        tail(sys.stdout)
        return
    # Write a temporary file next to FILE and rename it into place: an error, a full disk or a
    # signal never leaves a truncated report, and a link at FILE is replaced, not written
    # through.
    from mtlscheck._write import atomic_write_text

    def write(out: TextIO) -> None:
        reporter.render(run, out, verbose=verbose)
        tail(out)

    atomic_write_text(output, write)
    print(f"mtlscheck: report written to {output}", file=sys.stderr)


@contextlib.contextmanager
def _progress(
    what: str, targets: int = 1
) -> Iterator[tuple[Callable[[Any], None] | None, Callable[[Any], None] | None]]:
    """Progress on stderr while probes run - only when stderr is a terminal, so pipelines and
    captured output see nothing but the report: a spinner for one target, a bar (targets
    done/total, probes/s, time left) for several."""
    if not sys.stderr.isatty():
        yield None, None
        return
    from rich.console import Console

    if targets > 1:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        t0 = time.monotonic()
        probes = 0
        with Progress(
            TextColumn("probing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("targets, {task.fields[rate]} probes/s"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task("targets", total=targets, rate="0")

            def probe_done(result: Any) -> None:
                nonlocal probes
                probes += 1
                rate = probes / max(time.monotonic() - t0, 1e-3)
                bar.update(task, rate=f"{rate:.0f}")

            def target_done(result: Any) -> None:
                bar.advance(task)

            yield probe_done, target_done
        return

    done = 0
    with Console(stderr=True).status(f"probing {what}") as status:

        def tick(result: Any) -> None:
            nonlocal done
            done += 1
            status.update(f"probing {what}: {done} done, last {result.name}")

        yield tick, None


def _check_format(fmt: str) -> None:
    from mtlscheck._report import get_reporter
    from mtlscheck._validate import closest

    try:
        get_reporter(fmt)
    except UsageError as exc:
        from mtlscheck._report import FORMATS

        raise UsageError(f"{exc}{closest(fmt.strip().lower(), list(FORMATS))}") from None


def _list_probes() -> None:
    from mtlscheck._probes import CATALOGUE, DEFAULT_PROBES

    for spec in CATALOGUE.values():
        mark = "*" if spec.name in DEFAULT_PROBES else " "
        exp = "accepted" if spec.accepts else "rejected"
        print(f"{mark} {spec.name:<14} expects {exp:<9} {spec.description}  [needs: {spec.needs}]")
    print(
        "(* = always run by default, with every other certificate probe the given material "
        "can build; --probes all runs every probe)"
    )


def _finish(run: RunResult, code: int | None = None) -> NoReturn:
    """Say on stderr which targets could not be reached, then exit with ``code`` (default:
    the run's own exit code; a baseline comparison decides it otherwise)."""
    for t in run.targets:
        if (
            t.unsupported_versions
            and not t.reachable
            and all(r.outcome is None or r.outcome.kind == "tls-version" for r in t.results)
        ):
            versions = ", ".join(v for v, _ in t.unsupported_versions)
            _err(
                f"the server at {redact_url(t.target)} refused every requested TLS version "
                f"({versions})"
            )
        elif not t.reachable and t.hello_refused:
            _err(
                f"the server at {redact_url(t.target)} answered every ClientHello with the "
                f"alert {t.hello_refused} and no ServerHello: it shares no TLS version or cipher "
                "suite with the probes"
            )
        elif not t.reachable:
            reasons = sorted({r.outcome.summary for r in t.results if r.outcome is not None})
            _err(f"could not reach a TLS server at {redact_url(t.target)}: {', '.join(reasons)}")
    if run.internal_error:
        _err(
            "internal error in mtlscheck (a bug, not the server's doing): please report it "
            "with the traceback that -v or --format json shows"
        )
    raise typer.Exit(run.exit_code if code is None else code)


VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Full handshake facts and commands per probe.")
]


_EXIT_CODES = (
    "Exit codes: 0 every probe met its expectation; 1 some did not; 2 usage or input error; "
    "3 no probe reached a TLS server (or it refused every requested TLS version); "
    "4 internal error (a bug in mtlscheck: please report it)."
)


@app.command(epilog=_EXIT_CODES)
def probe(
    urls: Annotated[
        list[str] | None,
        typer.Argument(
            help="https:// URL(s) of the mTLS endpoint(s); all share one pool of probes.",
            show_default=False,
        ),
    ] = None,
    targets_file: Annotated[
        Path | None,
        typer.Option(
            "--targets", help="File of URLs, one per line ('#' comments; '-' reads stdin)."
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", help="Probes in flight at once (default: 8 per core)."),
    ] = None,
    per_host: Annotated[
        int | None,
        typer.Option("--per-host", help="At most this many probes at once per host:port (8)."),
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
    deadline: Annotated[
        float | None,
        typer.Option("--deadline", help="Seconds for the whole run; probes still running end."),
    ] = None,
    path: Annotated[
        str | None, typer.Option("--path", help="Request path (default: the URL's).")
    ] = None,
    method: Annotated[str, typer.Option("--method", "-X", help="HTTP method.")] = "GET",
    header: Annotated[
        list[str] | None, typer.Option("--header", "-H", help="'Name: value' request header.")
    ] = None,
    forged_header: Annotated[
        list[str] | None,
        typer.Option(
            "--forged-header",
            help="'Name: value' identity header the forged-headers probe sends (added to its "
            "default set; same name replaces).",
        ),
    ] = None,
    forged_headers_only: Annotated[
        bool,
        typer.Option(
            "--forged-headers-only", help="forged-headers sends only the --forged-header ones."
        ),
    ] = False,
    other_servername: Annotated[
        str | None,
        typer.Option(
            "--other-servername",
            help="SNI the sni-mismatch probe sends (default: a random name under the URL's "
            "domain).",
        ),
    ] = None,
    user_from_url: Annotated[
        bool,
        typer.Option(
            "--user-from-url",
            help="Send the URL's user:password@ as HTTP Basic auth (refused without this flag).",
        ),
    ] = False,
    tls: Annotated[str, typer.Option("--tls", help="1.2, 1.3 or both.")] = "both",
    server: Annotated[
        str,
        typer.Option(
            "--server",
            help="Profile: generic, nginx, apache, haproxy, caddy, traefik, ingress-nginx, "
            "envoy, node, tomcat, go, gunicorn, uvicorn.",
        ),
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
    baseline: BaselineOpt = None,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            metavar="K/N",
            help="Probe only shard K of N of the targets (for CI matrix jobs; merge the JSON "
            "reports with 'mtlscheck report merge').",
        ),
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
    from mtlscheck._cli_report import load_baseline, parse_shard_option

    split = parse_shard_option(shard)
    old = load_baseline(baseline)  # a bad baseline must not cost a whole run either
    # The options of the model (mtlscheck._options), as the command line gave them.
    given_opts: dict[str, Any] = dict(
        probes=probes, tls=tls, server=server, timeout=timeout, cert=cert, key=key,
        ca_cert=ca_cert, ca_key=ca_key, pki=pki, identities=identity, expect=expect,
        cacert=cacert, insecure=insecure, user_from_url=user_from_url, servername=servername,
        address=resolve, method=method, headers=header, key_password=key_password_env,
        forged_headers=forged_header, forged_headers_only=forged_headers_only,
        other_servername=other_servername,
    )  # fmt: skip
    if suite is not None:
        from mtlscheck._options import DEFAULTS, FIELDS
        from mtlscheck._suite import load_suite, run_suite

        given = [n for n, v in (("URL", urls), ("--targets", targets_file),
                                ("--concurrency", concurrency), ("--per-host", per_host),
                                ("--path", path), ("--save-certs", save_certs)) if v]  # fmt: skip
        # Connection options given on the command line apply to every target, below what
        # the file says per target (like the pytest plugin's --mtls-* options); the file
        # gives the others.
        overrides: dict[str, object] = {}
        for spec in FIELDS:
            v = given_opts[spec.name]
            if v in (None, [], ()) or v == DEFAULTS[spec.name]:  # not given
                continue
            if not spec.suite_override or spec.toml is None:
                given.append(str(spec.cli))
            elif spec.name == "cacert":
                overrides["cacert"] = str(Path(v).resolve())
            elif spec.name == "headers":
                overrides["headers"] = dict(_headers(v))
            else:
                overrides[spec.toml] = v
        if given:
            raise UsageError(f"--suite takes these from the file; drop {', '.join(given)}")
        if deadline is not None:
            from mtlscheck._api import _seconds

            _seconds(deadline, "--deadline")
        loaded = load_suite(suite, defaults=overrides)
        total = len(loaded.targets)
        if split is not None:
            from dataclasses import replace

            from mtlscheck._shard import shard_of

            loaded = replace(loaded, targets=tuple(shard_of(loaded.targets, *split)))
        suite_run = run_suite(loaded, deadline=deadline) if loaded.targets else _empty_run()
        _report(suite_run, fmt, output, verbose, color, split, total, old)
    all_urls = list(urls or []) + (_read_targets(targets_file) if targets_file else [])
    if not all_urls:
        raise UsageError(
            "missing URL (e.g. mtlscheck probe https://api.example --cert c.pem --key c.key)"
        )
    if resolve is not None and len(all_urls) > 1:
        raise UsageError("--resolve applies to one URL; give one URL, or use a suite file")
    from mtlscheck._api import check_many

    all_urls = [_apply_path(u, path) for u in all_urls]
    url = all_urls[0]
    total = len(all_urls)
    if split is not None:
        from mtlscheck._shard import shard_of

        all_urls = shard_of(all_urls, *split)
    idents: dict[str, tuple[Path | str, Path | str | None]] = {}
    for name, files in _pairs(identity, "--identity").items():
        c, _, k = files.partition(",")
        idents[name] = (c, k or None)
    # Everything that may fail or prompt (key password) happens before the spinner starts.
    from mtlscheck._options import CheckOptions

    options = CheckOptions(
        **{
            **given_opts,
            "key_password": _key_password(key_password_env, cert, key),
            "identities": idents,
            "address": _resolve(resolve, url),
            "expect": _pairs(expect, "--expect"),
            "headers": _headers(header),
            "forged_headers": _headers(forged_header, "--forged-header"),
        }
    )
    if not all_urls:  # more shards than targets: this one has none
        _report(_empty_run(), fmt, output, verbose, color, split, total, old)
    what = redact_url(all_urls[0]) if len(all_urls) == 1 else f"{len(all_urls)} targets"
    spool = None
    if fmt.strip().lower() == "json" and old is None:
        # JSON is written target by target to a spool while the run goes on; the run keeps
        # slim copies, so a 10,000-target fleet does not hold every handshake in memory.
        from mtlscheck._report._json import JsonSpool

        spool = JsonSpool(shard=None if split is None else (split[0], split[1], total))
    with _progress(what, targets=len(all_urls)) as (on_result, on_target):
        run = check_many(
            all_urls,
            concurrency=concurrency,
            per_host=per_host,
            on_result=on_result,
            on_target=on_target,
            target_sink=None if spool is None else spool.add,
            options=options,
            save_certs=save_certs,
            deadline=deadline,
        )
    try:
        _report(run, fmt, output, verbose, color, split, total, old, reporter=spool)
    finally:
        if spool is not None:
            spool.close()


def _empty_run() -> RunResult:
    from mtlscheck._model import RunResult

    return RunResult()


def _report(
    run: RunResult,
    fmt: str,
    output: Path | None,
    verbose: bool,
    color: bool | None,
    split: tuple[int, int] | None,
    total: int,
    old: Report | None,
    *,
    reporter: JsonSpool | None = None,
) -> NoReturn:
    """Emit the report (a shard's JSON says which shard it is) and exit: with ``--baseline``
    the comparison decides the exit code."""
    comparison = None
    if old is not None:
        from mtlscheck._baseline import compare

        comparison = compare(old.run, run, name=old.path)
    shard = None if split is None else (split[0], split[1], total)
    _emit(run, fmt, output, verbose, color, shard=shard, comparison=comparison, reporter=reporter)
    _finish(run, None if comparison is None else comparison.exit_code(run))


def _read_targets(path: Path) -> list[str]:
    """``--targets FILE``: one URL per line, blank lines and ``#`` comments ignored (the reader
    is shared with the pytest plugin's ``--mtls-targets``)."""
    from mtlscheck._targets import read_targets

    return read_targets(path)


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
    from mtlscheck._write import temporary_directory

    with temporary_directory(prefix="mtlscheck-demo-") as tmp:
        pki, _ = init_pki(tmp / "pki")
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


class _Stopped(BaseException):
    """Raised in the main thread by a SIGINT/SIGTERM/SIGHUP handler.

    A BaseException, like KeyboardInterrupt, so no ``except Exception`` on the way swallows it
    (click turns KeyboardInterrupt into "Aborted!" and exit 1; it lets this one through).
    """

    def __init__(self, signum: int, removed: bool) -> None:
        super().__init__(signum)
        self.signum = signum
        self.removed = removed
        """Minted files were removed (there were some)."""


_STOP_MESSAGES = {"SIGINT": "interrupted", "SIGTERM": "terminated", "SIGHUP": "hung up"}
_STOP_GRACE = 2.0
"""Seconds the run may take to unwind after a signal (probes in flight end at their own
deadline) before the process exits anyway; minted files are gone before this starts."""


def _stop_message(signum: int, removed: bool) -> str:
    import signal

    name = signal.Signals(signum).name
    done = "; minted certificates removed" if removed else ""
    return f"{_STOP_MESSAGES.get(name, 'stopped')} ({name}){done}"


@contextlib.contextmanager
def _signals_stop_the_run() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP: remove what was minted *first*, then unwind and exit
    128 + the signal number (130, 143, 129), as a shell reports a process killed by it.

    Removing first matters: a minted ``not-yet-valid`` certificate is signed by the trusted
    CA and becomes valid in 30 days; a supervisor's SIGKILL may follow SIGTERM within seconds.
    If unwinding takes longer than :data:`_STOP_GRACE`, or a second signal comes, the
    process exits at once (nothing is left to clean up by then).
    """
    import signal
    import threading

    from mtlscheck._write import remove_tracked

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    first: list[_Stopped] = []
    timers: list[threading.Timer] = []

    def hard_exit(stop: _Stopped) -> None:
        with contextlib.suppress(OSError):
            os.write(2, f"mtlscheck: error: {_stop_message(stop.signum, stop.removed)}\n".encode())
        os._exit(128 + stop.signum)

    def handler(signum: int, frame: object) -> None:
        removed = remove_tracked()
        if first:
            hard_exit(first[0])
        first.append(_Stopped(signum, removed))
        timers.append(threading.Timer(_STOP_GRACE, hard_exit, (first[0],)))
        timers[0].daemon = True
        timers[0].start()
        raise first[0]

    wanted = [getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)]
    previous = {s: signal.signal(s, handler) for s in wanted}
    try:
        yield
    finally:
        # Unwound in time (probe threads joined): main() reports and returns.
        for t in timers:
            t.cancel()
        for s, h in previous.items():
            signal.signal(s, h)


def _internal_error(exc: BaseException) -> int:
    """A bug of ours: one line and exit 4, never a traceback the user has to read - unless
    MTLSCHECK_TRACEBACK=1 asks for it (for the bug report)."""
    import traceback

    if os.environ.get("MTLSCHECK_TRACEBACK") == "1":
        traceback.print_exception(exc, file=sys.stderr)
    _err(
        f"internal error (a bug in mtlscheck, not the server's doing): {type(exc).__name__}: "
        f"{str(exc)[:200]}; please report it, with the traceback MTLSCHECK_TRACEBACK=1 prints"
    )
    return 4


def _app_for(argv: list[str]) -> typer.Typer:
    """The app with only the command being run registered.

    typer turns every registered command into a click command on each start, reading each
    function's signature and annotations: ~15-25 ms of a ~250 ms ``probe`` run, for commands
    that will not run.  Top-level help, options and unknown commands (which get a "did you
    mean") still see the whole app."""
    import copy

    first = argv[0] if argv else ""
    if not first or first.startswith("-"):
        return app
    commands = [
        c
        for c in app.registered_commands
        if first
        == (c.name or (typer.main.get_command_name(c.callback.__name__) if c.callback else None))
    ]
    groups = [g for g in app.registered_groups if g.name == first]
    if not commands and not groups:
        return app
    view = copy.copy(app)
    view.registered_commands = commands
    view.registered_groups = groups
    return view


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code instead of raising, so tests can call it.

    typer runs with ``standalone_mode=False``: click's usage errors reach this function as
    exceptions and, like our own errors, become one line (:mod:`mtlscheck._cli_errors`).
    No click/typer internals are named, so this works whether typer vendors click (0.28) or
    depends on it.  SIGINT, SIGTERM and SIGHUP
    remove minted files and exit 130, 143 and 129 (see :func:`_signals_stop_the_run`).
    """
    try:
        with _signals_stop_the_run():
            # Not standalone: click's usage errors come here as exceptions and become one
            # line (see _cli_errors); typer.Exit comes back as the return value.
            rv = _app_for(sys.argv[1:] if argv is None else argv)(
                args=argv, prog_name="mtlscheck", standalone_mode=False
            )
        return rv if isinstance(rv, int) else 0
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_USAGE)
    except MtlscheckError as exc:
        _err(str(exc))
        return exc.exit_code
    except _Stopped as exc:
        _err(_stop_message(exc.signum, exc.removed))
        return 128 + exc.signum
    except KeyboardInterrupt:  # SIGINT outside our handler (another thread's main, say)
        _err("interrupted")
        return 130
    except Exception as exc:
        from mtlscheck._cli_errors import click_error

        found = click_error(
            exc, typer.main.get_command(app), sys.argv[1:] if argv is None else argv
        )
        if found is None:
            return _internal_error(exc)
        line, code = found
        if line is not None:
            _err(line)
        return code
