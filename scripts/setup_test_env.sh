#!/usr/bin/env bash
# Installs what the tests need beyond the Python environment: Debian's Chromium for the swarm
# dashboard test (Playwright drives it; no browser download) and the Pyodide lane
# (Node 22, Pyodide, Miniflare, local wheels, vendored python_modules). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup_test_env: Chromium is missing; run as root or: sudo apt-get install chromium" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
scripts/setup_lane.sh
