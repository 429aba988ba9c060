#!/usr/bin/env bash
# README command 1: install mtlscheck into the project's virtual environment (.venv) and run
# the built-in demo (a reference mTLS server on 127.0.0.1, a fresh temporary PKI).
# Works with Debian's own python3 (PEP 668): nothing is written into the system Python.
# Extra arguments go to `mtlscheck demo`, e.g. scripts/demo.sh --mode optional
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/venv.sh
source scripts/venv.sh
ensure_venv
# The build backend's chatter goes to a log, shown only if the install fails.
log=$(mktemp)
if ! "$VENV_PY" -m pip install --disable-pip-version-check -q -e . </dev/null >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    exit 1
fi
rm -f "$log"
exec "$VENV_PY" -m mtlscheck demo "$@"
