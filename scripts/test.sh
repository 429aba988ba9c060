#!/usr/bin/env bash
# The one test command (README and CI): install what the tests need (servers from Debian, the
# project into .venv), then run pytest from .venv on two xdist workers. Extra arguments go to pytest, e.g. scripts/test.sh -k nginx -x
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-test-deps.sh
exec .venv/bin/python -m pytest -n 2 "$@"
