"""What runs on a developer's machine or a CI host, never inside a Worker.

The ``flaresuite`` command line (:mod:`.cli` and one sub-command group per area), the local
servers (``swarm serve``, ``flaresuite dev``), the CPython transport (:mod:`.transport`, over
``httpx``), the local index source and destination (a directory of wheels), and the release tool.
Modules here import the pure core in ``src/flaresuite``; the core never imports them, and
pywrangler never bundles them (they live outside ``src/``).
"""
