"""``python -m mtlscheck`` and the ``mtlscheck`` console script.

``--version`` is answered before typer (and click) are imported, so the cheapest call a
pipeline makes stays cheap.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from mtlscheck._version import __version__

        print(f"mtlscheck {__version__}")
        raise SystemExit(0)
    # Two optional imports that cost this process ~130 ms and give it nothing (bench/):
    # httpcore probes for trio (async support; we are synchronous), and httpx imports its own
    # command line (click, rich.progress, pygments) whenever click is installed.  A None entry
    # makes each import fail as "not installed", which both libraries handle.  Only the CLI
    # process does this - library and pytest-plugin users keep both.
    for optional in ("trio", "httpx._main"):
        if optional not in sys.modules:
            sys.modules[optional] = None  # type: ignore[assignment]
    from mtlscheck._cli import main as cli_main

    raise SystemExit(cli_main())


if __name__ == "__main__":
    main()
