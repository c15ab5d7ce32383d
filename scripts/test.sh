#!/usr/bin/env bash
# Install emhqa with its test dependencies into .venv (CPU torch first) and Debian's chromium for the
# browser test when it is missing, then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
python3 -m venv .venv
. .venv/bin/activate
pip install --quiet --upgrade pip 2>/dev/null || true
pip install --quiet torch==2.13.0          # the CPU wheel; an unpinned torch pulls CUDA builds
pip install --quiet -e '.[test]'
python -m pytest -q "$@"
