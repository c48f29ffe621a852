# The two commands of the README. Each installs what it needs first, so both work on a
# fresh machine that reaches only the package registries.
UV := python3 -m uv

.PHONY: index test

# Build the embedded demo index into ./flaresuite-index (the index builder's local run).
index:
	@scripts/bootstrap.sh
	$(UV) run flaresuite index build

# Every test: CPython, moto S3, the Pyodide lane, bundle checks and the browser test.
test:
	@scripts/bootstrap.sh
	@scripts/setup_test_env.sh
	$(UV) run pytest
