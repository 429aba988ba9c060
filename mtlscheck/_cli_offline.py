"""``mtlscheck explain | verify | inspect``: troubleshooting from a log line or from files.

No network.  The main app registers these with :func:`register`.  Errors are raised as
:mod:`mtlscheck._errors` exceptions (one line, exit 2 in ``_cli.main``); the logic lives in
:mod:`mtlscheck._explain`, :mod:`mtlscheck._verify` and :mod:`mtlscheck._inspect`, imported
when a command runs.  Passwords (PKCS#12, encrypted keys) come from an environment variable or
a prompt, never from the command line, where ``ps`` and shell history would keep them.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from mtlscheck._errors import InputError, UsageError

if TYPE_CHECKING:
    from mtlscheck._explain import ExplainResult
    from mtlscheck._inspect import InspectResult
    from mtlscheck._verify import VerifyResult

__all__ = ["register"]

T = TypeVar("T")

FormatOpt = Annotated[str, typer.Option("--format", "-f", help="console or json.")]
PasswordEnvOpt = Annotated[
    str | None,
    typer.Option(
        "--password-env",
        metavar="VAR",
        help="Environment variable holding the PKCS#12 / private key password (else a prompt "
        "on a terminal; never on the command line).",
    ),
]


def _format(fmt: str) -> str:
    if fmt not in ("console", "json"):
        raise UsageError(f"--format must be console or json, not {fmt!r}")
    return fmt


def _safe(text: str) -> str:
    """Log lines and certificate names come from elsewhere: no terminal control characters."""
    return "".join(ch if ch.isprintable() or ch == "\n" else f"\\x{ord(ch):02x}" for ch in text)


def _json(doc: dict[str, Any]) -> None:
    from mtlscheck._version import __version__

    print(json.dumps({"tool": "mtlscheck", "version": __version__, **doc}, indent=2))


def _with_password(env: str | None, what: str, load: Callable[[bytes | None], T]) -> T:
    """Run ``load`` with the password from ``env``; prompt once if a file needs one and
    stdin is a terminal."""
    from mtlscheck._identity import KeyPasswordNeeded

    if env is not None:
        if env not in os.environ:
            raise UsageError(f"--password-env: environment variable {env} is not set")
        return load(os.environ[env].encode())
    try:
        return load(None)
    except KeyPasswordNeeded:
        if not sys.stdin.isatty():
            raise
        import getpass

        return load(getpass.getpass(f"Password for {what}: ").encode())


# --------------------------------------------------------------------------- explain


_LOG_LIMIT = 64 * 1024 * 1024


def _read_text(text: str | None, file: Path | None) -> str:
    if text is not None and file is not None:
        raise UsageError("give the text or --file, not both")
    if file is not None:
        if str(file) == "-":
            return sys.stdin.read()
        from mtlscheck._files import read_input

        # Regular files only (never /dev/zero or a FIFO); logs may be large, so a larger cap.
        return read_input(file, "log file", limit=_LOG_LIMIT).decode("utf-8", errors="replace")
    if text is not None:
        return text
    if sys.stdin.isatty():
        raise UsageError("nothing to explain: give TEXT, --file FILE, or pipe the log on stdin")
    return sys.stdin.read()


def _print_explain(result: ExplainResult) -> None:
    for e in result.explanations:
        times = f"  (x{e.count})" if e.count > 1 else ""
        print(f"[{e.source}] {_safe(e.line)}{times}")
        print(f"  what:    {e.says}")
        for n, cause in enumerate(e.causes, 1):
            print(f"  {'likely:' if n == 1 else '':<8} {n}. {cause}")
        print(f"  codes:   {', '.join(e.codes) if e.codes else '(none: not a server finding)'}")
        for i, (server, fix) in enumerate(e.fixes):
            lines = fix.splitlines()
            print(f"  {'fix:' if i == 0 else '':<8} {server}: {lines[0]}")
            for more in lines[1:]:
                print(f"  {'':<8} {' ' * (len(server) + 2)}{more}")
        if e.confirm:
            print(f"  confirm: {e.confirm}")
        print()
    for note in result.notes:
        print(f"note: {note}")
    if result.explanations:
        print(f"{len(result.explanations)} kind(s) of mTLS error in {result.lines} line(s)")


def explain_cmd(
    text: Annotated[
        str | None,
        typer.Argument(
            help="The log line(s) or error message (default: stdin).", show_default=False
        ),
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Read a log file ('-' for stdin).")
    ] = None,
    fmt: FormatOpt = "console",
) -> None:
    """Explain an mTLS error line from a server log or a client (nginx, Apache, HAProxy, Caddy,
    curl, OpenSSL, Go, Java, Node, Python): who sent what, likely causes, finding codes, fix."""
    from mtlscheck._explain import explain

    fmt = _format(fmt)
    content = _read_text(text, file)
    if not content.strip():
        raise InputError("nothing to explain: the input is empty")
    result = explain(content)
    if fmt == "json":
        _json(result.to_dict())
    else:
        _print_explain(result)
    raise typer.Exit(0)


# --------------------------------------------------------------------------- verify


def _parse_at(value: str | None) -> _dt.datetime | None:
    if value is None:
        return None
    try:
        at = _dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(
            f"--at takes an ISO date or time (2027-01-31 or 2027-01-31T12:00:00Z), not {value!r}"
        ) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=_dt.UTC)


def _certs(path: Path, what: str, password_env: str | None) -> list[Any]:
    from mtlscheck._inspect import read_objects

    found = _with_password(password_env, str(path), lambda pw: read_objects(path, pw))
    if not found.certs:
        raise InputError(f"no certificate in {what} {path}")
    return found.certs


def _print_verify(r: VerifyResult) -> None:
    head = "VERIFIED" if r.verified else "NOT VERIFIED"
    print(f"{head}: {_safe(r.leaf)} (at {r.at})")
    if r.openssl_error is not None:
        e = r.openssl_error
        print(f"  OpenSSL: {e.logged} at depth {e.depth}")
    if r.server_logs:
        print("  the servers would log:")
        for server, line in r.server_logs:
            print(f"    {server + ':':<8} {line}")
    complete = "" if r.anchored else " (INCOMPLETE: no trusted CA reached)"
    print(f"  chain, leaf first{complete}:")
    for i, link in enumerate(r.chain):
        sig = "" if link.signature_ok else "  SIGNATURE DOES NOT VERIFY"
        print(f"    {i} {_safe(link.subject)}  [{link.source}, until {link.not_after}]{sig}")
    print(f"  order as sent: {_safe(r.chain_order)}")
    if r.anchored:
        depth = f"; --depth {r.depth}" if r.depth is not None else ""
        print(
            f"  depth: {r.intermediates} intermediate CA(s): needs nginx ssl_verify_depth >= "
            f"{r.intermediates}, Apache SSLVerifyDepth >= {r.intermediates + 1}{depth}"
        )
    print(f"  extendedKeyUsage: {', '.join(r.eku)}; keyUsage: {', '.join(r.key_usage)}")
    print(f"  revocation: {'checked against the CRLs given' if r.crl_checked else 'not checked'}")
    for issue in r.issues:
        logged = f" {issue.logged}" if issue.logged else ""
        print(f"  {issue.severity}: {issue.code}{logged}: {_safe(issue.message)}")
    for note in r.notes:
        print(f"  note: {_safe(note)}")
    if r.codes:
        print(f"  codes: {', '.join(r.codes)}")


def verify_cmd(
    client_cert: Annotated[
        Path,
        typer.Argument(
            help="Client certificate (PEM/DER; may hold the chain after the leaf; or .p12).",
            show_default=False,
        ),
    ],
    ca: Annotated[
        Path,
        typer.Option(
            "--ca",
            help="The CA file the server trusts (ssl_client_certificate / SSLCACertificateFile).",
            show_default=False,
        ),
    ],
    chain: Annotated[
        Path | None,
        typer.Option("--chain", help="Intermediates the client sends after its certificate."),
    ] = None,
    crl: Annotated[
        list[Path] | None,
        typer.Option("--crl", help="CRL file(s) the server uses (ssl_crl); repeatable."),
    ] = None,
    depth: Annotated[
        int | None,
        typer.Option("--depth", min=0, help="The server's verify depth (ssl_verify_depth)."),
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Verify at this date/time (ISO 8601, UTC).")
    ] = None,
    password_env: PasswordEnvOpt = None,
    fmt: FormatOpt = "console",
) -> None:
    """Verify a client certificate the way nginx and Apache will (OpenSSL's verifier, SSL-client
    purpose, CRLs for the whole chain); print the error each server would log."""
    from mtlscheck._verify import load_crls, verify_client_cert

    fmt = _format(fmt)
    when = _parse_at(at)
    sent = _certs(client_cert, "client certificate", password_env)
    if chain is not None:
        sent += _certs(chain, "--chain", None)
    cas = _certs(ca, "--ca", None)
    crls = [c for path in crl or [] for c in load_crls(path)]
    result = verify_client_cert(sent, cas, crls=crls, depth=depth, at=when)
    if fmt == "json":
        _json(result.to_dict())
    else:
        _print_verify(result)
    raise typer.Exit(0 if result.verified else 1)


# --------------------------------------------------------------------------- inspect


def _print_inspect(result: InspectResult) -> None:
    labels = {
        "subject": "subject", "issuer": "issuer", "serial": "serial", "san": "SAN",
        "validity": "validity", "not_after": "not after", "key": "key", "ca": "CA",
        "path_length": "pathlen", "extended_key_usage": "EKU", "key_usage": "KU",
        "self_signed": "self-signed", "sha256": "SHA-256", "sha1": "SHA-1", "ski": "SKI",
        "aki": "AKI", "last_update": "last update", "next_update": "next update",
        "crl_number": "CRL number", "revoked": "revoked",
    }  # fmt: skip
    for f in result.files:
        print(f"{_safe(f.path)} ({f.format})")
        for n, item in enumerate(f.items):
            print(f"  [{n}] {item.kind}")
            for key, value in item.fields.items():
                if key not in labels or value is None or value == []:
                    continue
                if isinstance(value, list):
                    value = ", ".join(str(v) for v in value)
                print(f"      {labels[key] + ':':<13} {_safe(str(value))}")
        for link in f.chain:
            print(f"  chain: {_safe(link)}")
        print()
    for c in result.checks:
        print(f"{'ok' if c.ok else 'PROBLEM'}: {_safe(c.message)}")


def inspect_cmd(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Certificates, chains, private keys, PKCS#12 and CRLs (PEM or DER).",
            show_default=False,
        ),
    ],
    password_env: PasswordEnvOpt = None,
    fmt: FormatOpt = "console",
) -> None:
    """Show what certificate, key, PKCS#12 and CRL files hold, and check that keys match
    certificates, chains link up and CRLs belong to their CA."""
    from mtlscheck._inspect import inspect_files

    fmt = _format(fmt)
    what = ", ".join(str(f) for f in files)
    result = _with_password(password_env, what, lambda pw: inspect_files(files, password=pw))
    if fmt == "json":
        _json(result.to_dict())
    else:
        _print_inspect(result)
    raise typer.Exit(0)


def register(app: typer.Typer) -> None:
    """Add the three offline commands to the main app."""
    app.command("explain", epilog="Exit codes: 0 explained (or nothing found); 2 bad input.")(
        explain_cmd
    )
    app.command("verify", epilog="Exit codes: 0 verified; 1 not verified; 2 bad input.")(verify_cmd)
    app.command("inspect", epilog="Exit codes: 0 shown; 2 bad input.")(inspect_cmd)
