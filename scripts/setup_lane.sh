#!/usr/bin/env bash
# Installs the Pyodide lane and what the bundle check needs, from the package registries only:
# Node 22 + Pyodide 314 + wrangler/Miniflare (pinned by package-lock.json), the pure
# wheels the Workers import (lane/.cache/wheels, pinned and hash-checked by uv.lock), and
# python_modules/ vendored from them with pywrangler's .synced markers. Idempotent and quick
# when nothing changed. See docs/runtime.md.
set -euo pipefail
cd "$(dirname "$0")/.."

# `npm ci` installs exactly the committed lockfile. The lockfile lists workerd's macOS and
# Windows builds without integrity hashes: the registry we resolve against has no copy of them,
# and npm ci only needs their entries to exist, since it never fetches another OS's build.
# Skipped while the installed tree matches the lockfile.
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
node_modules/.bin/node --version >/dev/null

python3 scripts/lane_wheels.py >/dev/null
python3 scripts/vendor_python_modules.py >/dev/null
