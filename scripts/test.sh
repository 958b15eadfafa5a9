#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine, then runs them.
# Used verbatim by .ci/run: keep it the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

# Debian's chromium: kaleido's PNG export and the end-to-end browser test use it.
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ]; then
        apt-get update -qq && apt-get install -y -qq chromium >/dev/null
    else
        sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null
    fi
fi

exec python3 -m pytest "$@"
