"""CPython-only adapters used by the CLI and the tests: they give the pure core the ports
and the :data:`~flaresuite.http.HttpFetch` it needs outside a Worker.

Nothing in :mod:`flaresuite` outside this package imports it, and modules here import
host-only libraries lazily, so every module under ``src/`` still imports on Pyodide.
"""
