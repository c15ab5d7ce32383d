#!/usr/bin/env bash
# Install emhqa into .venv (CPU torch first), then start the chat UI; the index is built on first run.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
pip install --quiet torch==2.13.0
pip install --quiet -e .
exec streamlit run app.py --server.headless true "$@"
