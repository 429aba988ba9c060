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
    from mtlscheck._cli import main as cli_main

    raise SystemExit(cli_main())


if __name__ == "__main__":
    main()
