# The two commands of the README. Each installs what it needs first, so both work on a
# fresh machine that reaches only the package registries.
UV := python3 -m uv

.PHONY: index test lint

# Build the embedded demo index into ./flaresuite-index (the index builder's local run).
index:
	@scripts/bootstrap.sh
	$(UV) run flaresuite index build

# Every check: lint and types, then every test (CPython, moto S3, the Pyodide lane, bundle
# checks and the browser tests).
test:
	@scripts/bootstrap.sh
	@scripts/setup_test_env.sh
	@$(MAKE) --no-print-directory lint
	$(UV) run pytest

# ruff (lint, import order, formatting) and mypy (strict on src/flaresuite and host/).
lint:
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy
