#!/usr/bin/env bash
# Install emhqa with its test dependencies into .venv (CPU torch first), then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
pip install --quiet --upgrade pip 2>/dev/null || true
pip install --quiet torch==2.13.0          # the CPU wheel; an unpinned torch pulls CUDA builds
pip install --quiet -e '.[test]'
python -m pytest -q "$@"
