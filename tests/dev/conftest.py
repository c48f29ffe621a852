"""Fixtures for the ``flaresuite dev`` acceptance tests (helpers in devserver.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.dev.devserver import DevServer, make_project, start_dev


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory holding wrangler.toml and ``src`` as the repository has them."""
    return make_project(tmp_path)


@pytest.fixture
def serve() -> Iterator[Callable[..., DevServer]]:
    """``serve(project, *args)`` starts ``flaresuite dev ARGS``; stopped after the test if
    the test did not stop it."""
    servers: list[DevServer] = []

    def start(project: Path, *args: str) -> DevServer:
        server = start_dev(project, *args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        if server.process.poll() is None:
            server.stop()
