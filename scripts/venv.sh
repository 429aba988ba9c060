# Sourced by the other scripts: make (once) and use the project's virtual environment .venv.
#
# Why a venv: Debian's own python3 is "externally managed" (PEP 668) and refuses
# `pip install` outside a virtual environment; nothing here may write into the system Python.
# Debian ships the venv module separately (python3-venv): when `python3 -m venv` says
# ensurepip is missing and we are root with apt-get, install it and try again.
# After `ensure_venv`, $VENV_PY is the venv's python.

ensure_venv() {
    local root py
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    py=${PYTHON:-python3}
    VENV_PY="$root/.venv/bin/python"
    if [[ -x "$VENV_PY" ]] && "$VENV_PY" -c 'import sys; assert sys.version_info >= (3, 11)' \
        2>/dev/null && "$VENV_PY" -m pip --version >/dev/null 2>&1; then
        return 0
    fi
    rm -rf "$root/.venv"
    if ! "$py" -m venv "$root/.venv" >/dev/null 2>&1; then
        rm -rf "$root/.venv"
        if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
            printf 'venv: %s -m venv failed; installing python3-venv\n' "$py" >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
                python3-venv </dev/null >&2 \
                || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y \
                    --no-install-recommends python3-venv </dev/null >&2; }
            "$py" -m venv "$root/.venv"
        else
            printf 'venv: %s -m venv failed; install python3-venv (Debian) and retry\n' "$py" >&2
            return 1
        fi
    fi
    "$VENV_PY" -m pip install --disable-pip-version-check -q --upgrade pip </dev/null >&2 || true
}
