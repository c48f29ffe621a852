"""CPython-only adapters used by the CLI and the tests: they give the pure core the ports
and the :data:`~flaresuite.http.HttpFetch` it needs outside a Worker.

Only the command-line modules (``flaresuite/<area>/cli.py``) import it, and modules here
import host-only libraries (``httpx``) lazily, so every module under ``src/`` still imports
on Pyodide; no entry module ever reaches this package.
"""
