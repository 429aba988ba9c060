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
    # httpcore probes for trio at import time (~65 ms when trio happens to be installed) to
    # support async code under trio; this process is synchronous and never uses it.  Only the
    # CLI process does this - library and pytest-plugin users keep their trio.
    if "trio" not in sys.modules:
        sys.modules["trio"] = None  # type: ignore[assignment]
    from mtlscheck._cli import main as cli_main

    raise SystemExit(cli_main())


if __name__ == "__main__":
    main()
