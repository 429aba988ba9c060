"""Start-up stays lean: what each entry point imports (timings live in bench/, not here)."""

from __future__ import annotations

import subprocess
import sys

import mtlscheck

HEAVY = ("typer", "httpx", "httpcore", "rich", "OpenSSL", "cryptography")


def _imported_after(code: str) -> set[str]:
    probe = code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout.split()
    return {m for m in HEAVY if m in out}


def test_version_imports_nothing_heavy() -> None:
    code = (
        "import sys, contextlib, io\n"
        "sys.argv = ['mtlscheck', '--version']\n"
        "from mtlscheck.__main__ import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):\n"
        "    main()\n"
        f"assert buf.getvalue() == 'mtlscheck {mtlscheck.__version__}\\n', buf.getvalue()\n"
    )
    assert _imported_after(code) == set()


def test_import_mtlscheck_is_light_until_a_name_is_used() -> None:
    assert _imported_after("import mtlscheck") == set()
    # Using the API pulls in the TLS stack, and only then.
    assert "OpenSSL" in _imported_after("import mtlscheck; mtlscheck.check")


def test_console_script_reports_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mtlscheck", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"mtlscheck {mtlscheck.__version__}"
