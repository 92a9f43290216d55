# Shared by scripts/up and scripts/test (sourced, not run): the project's virtualenv.
#
#   ensure_venv            create .venv with Python >= 3.11 when it is missing
#   install_extras EXTRAS  pip install -e ".[EXTRAS]" unless pyproject.toml is unchanged
#                          since the last successful install with the same extras
#
# PYTHON picks the interpreter for a new venv (default: python3.11, else python3).

VENV="${VENV:-.venv}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

ensure_venv() {
    if [ -x "$VENV/bin/python" ]; then
        return 0
    fi
    local python="${PYTHON:-}"
    if [ -z "$python" ]; then
        python="$(command -v python3.11 || command -v python3 || true)"
    fi
    if [ -z "$python" ]; then
        echo "error: no python3 found; install Python 3.11 (Debian: apt-get install python3 python3-venv)" >&2
        exit 1
    fi
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "error: $python is $("$python" -V 2>&1); tre needs Python 3.11 or newer" >&2
        exit 1
    fi
    echo "creating $VENV with $("$python" -V 2>&1)"
    if ! "$python" -m venv "$VENV"; then
        rm -rf "$VENV"
        echo "error: could not create a virtualenv (Debian: apt-get install python3-venv)" >&2
        exit 1
    fi
}

install_extras() {
    local extras="$1"
    local stamp="$VENV/.tre-installed-${extras//,/-}"
    local want
    want="$(cat pyproject.toml | sha256sum | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    echo "installing tre[$extras] into $VENV"
    "$VENV/bin/python" -m pip install -q -e ".[$extras]"
    echo "$want" > "$stamp"
}
