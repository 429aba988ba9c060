"""``mtlscheck lint``: check an nginx/Apache/HAProxy mTLS configuration and the files it names.

The main app registers :func:`lint` with one line (``app.command("lint", ...)(lint)``); errors
are raised as :mod:`mtlscheck._errors` exceptions and become one line there.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Annotated

import typer

from mtlscheck._errors import UsageError

__all__ = ["EPILOG", "lint"]

EPILOG = (
    "Exit codes: 0 no error-severity finding; 1 some finding of severity error; "
    "2 usage or input error (unreadable or unparsable configuration, bad client certificate)."
)


def lint(
    config: Annotated[
        Path,
        typer.Argument(
            help="nginx.conf, apache2.conf/httpd.conf or haproxy.cfg (includes are followed).",
            show_default=False,
        ),
    ],
    server: Annotated[
        str | None,
        typer.Option("--server", help="nginx, apache or haproxy (default: from the file)."),
    ] = None,
    client_cert: Annotated[
        Path | None,
        typer.Option(
            "--client-cert",
            help="A client certificate (PEM, may hold its chain): check that it verifies "
            "against the CA file the configuration trusts.",
        ),
    ] = None,
    client_key: Annotated[
        Path | None,
        typer.Option("--client-key", help="Its private key: checked to match the certificate."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="console, json or sarif.")] = "console",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to FILE.")
    ] = None,
) -> None:
    """Check an nginx, Apache or HAProxy mTLS configuration (and its CA/CRL files) offline.

    Findings use the probes' codes and point at FILE:LINE.
    """
    from mtlscheck._lint import lint_config
    from mtlscheck._lint._output import FORMATS, render

    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    result = lint_config(config, server=server, client_cert=client_cert, client_key=client_key)
    if output is None:
        render(result, fmt, sys.stdout)
    else:
        from mtlscheck._write import atomic_write

        buf = io.StringIO()
        render(result, fmt, buf)
        atomic_write(output, buf.getvalue().encode("utf-8", "backslashreplace"))
        print(f"mtlscheck: report written to {output}", file=sys.stderr)
    raise typer.Exit(result.exit_code)
