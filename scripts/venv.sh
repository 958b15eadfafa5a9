# Sourced by run.sh and test.sh: make sure .venv exists and holds this checkout's pinned
# dependencies, then put it first on PATH. A virtual environment works everywhere, also on a
# stock Debian or Ubuntu Python, where pip refuses to install outside one ("externally managed").
#
#   PYTHON           the interpreter that creates .venv (default: python3; 3.11 or newer)
#   TORCH_INDEX_URL  where to get torch from, e.g. https://download.pytorch.org/whl/cpu for the
#                    CPU-only wheel (on Linux a plain pin pulls the much larger CUDA build)
#   VENV_EXTRAS      extras to install with the project, e.g. "[dev]"

ensure_venv() {
    local python="${PYTHON:-python3}" extras="${VENV_EXTRAS:-}"
    if [ ! -x .venv/bin/python ]; then
        if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "error: '$python' is not Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
            return 1
        fi
        if ! "$python" -m venv .venv; then
            rm -rf .venv
            echo "error: '$python -m venv' failed. On Debian or Ubuntu: apt-get install python3-venv" >&2
            return 1
        fi
    fi
    # Reinstall only when the pins or the package definition changed (a stamp per state).
    local stamp
    stamp=".venv/.installed-$(cat pyproject.toml requirements.txt requirements-dev.txt \
        | { echo "$extras"; cat; } | sha256sum | cut -c1-16)"
    if [ ! -f "$stamp" ]; then
        if [ -n "${TORCH_INDEX_URL:-}" ]; then
            .venv/bin/python -m pip install --quiet "$(grep -E '^torch==' requirements.txt)" \
                --index-url "$TORCH_INDEX_URL"
        fi
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".$extras"
        rm -f .venv/.installed-*
        touch "$stamp"
    fi
    export PATH="$PWD/.venv/bin:$PATH"
}
