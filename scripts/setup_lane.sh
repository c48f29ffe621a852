#!/usr/bin/env bash
# Installs the Pyodide lane and what the bundle check needs, from the package registries only:
# Node 22 + Pyodide 314 + wrangler/Miniflare (pinned by package-lock.json), the pure
# wheels the Workers import (lane/.cache/wheels, pinned and hash-checked by uv.lock), and
# python_modules/ vendored from them with pywrangler's .synced markers. Idempotent and quick
# when nothing changed. See docs/runtime.md.
set -euo pipefail
cd "$(dirname "$0")/.."

# `npm install` against the committed lockfile, checked to leave it unchanged, stands in for
# `npm ci`: the registry mirror we resolve against has no macOS/Windows builds of workerd, so
# the lockfile lacks those optional packages and `npm ci` refuses it ("Missing: ... from lock
# file"). Skipped while the installed tree matches the lockfile.
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    before=$(sha256sum package-lock.json)
    npm install --no-audit --no-fund --loglevel=error
    if [ "$(sha256sum package-lock.json)" != "$before" ]; then
        echo "setup_lane: npm changed package-lock.json; commit the pinned versions first" >&2
        exit 1
    fi
fi
node_modules/.bin/node --version >/dev/null

python3 scripts/lane_wheels.py >/dev/null
python3 scripts/vendor_python_modules.py >/dev/null
