#!/usr/bin/env bash
# Installs the Python toolchain on a fresh machine: uv (from PyPI, pinned) and the locked
# environment in .venv. Idempotent; safe to run before every command.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -m uv --version >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check 'uv==0.13.9'
fi
python3 -m uv sync --frozen --quiet
