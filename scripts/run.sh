#!/usr/bin/env bash
# Starts the app: creates .venv and installs the pinned dependencies on first use (see
# scripts/venv.sh for PYTHON and TORCH_INDEX_URL), then `streamlit run app.py` with any
# arguments given, e.g. `bash scripts/run.sh --server.port 8502`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv
exec python -m streamlit run app.py "$@"
