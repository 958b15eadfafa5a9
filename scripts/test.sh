#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine, then lints and runs them.
# Used verbatim by .ci/run: keep it the README's test command. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's chromium: kaleido's PNG export and the end-to-end browser test use it.
install_chromium() {
    local sudo=""
    [ "$(id -u)" = "0" ] || sudo="sudo"
    for attempt in 1 2 3; do  # a mirror can be briefly unreachable or mid-update
        if $sudo apt-get update -qq && \
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null; then
            return 0
        fi
        echo "apt-get failed (attempt $attempt of 3); retrying in 10 s" >&2
        sleep 10
    done
    echo "error: could not install chromium (apt-get install -y chromium)" >&2
    return 1
}
[ -x /usr/bin/chromium ] || install_chromium

source scripts/venv.sh
VENV_EXTRAS="[dev]" ensure_venv

ruff check .
ruff format --check .
# One pytest worker per core (PYTEST_WORKERS=0 runs them in this process); tests/conftest.py
# groups the tests so that a module's fixtures and a shared trained fixture are built once.
exec python -m pytest -n "${PYTEST_WORKERS:-auto}" --dist loadgroup "$@"
