"""Run ``flaresuite dev`` as a user does: a subprocess serving a project on a free port.

A test project is a temporary directory with a copy of the repository's wrangler.toml, ``src``
linked to the repository's, and whatever ``.dev.vars`` files the test writes, so the tests
read ``.dev.vars`` the way the command does without touching the checkout's own. Stopping a
server sends SIGINT (Ctrl-C) and checks that no process it started is left; a one-shot command
(``run_flaresuite``: ``dev r2 get`` and the like) is checked the same way once it exits.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120.0
"""Seconds for the lane to start on a loaded CI machine (about 3 s on an idle one)."""
STOP_TIMEOUT = 30.0


def flaresuite(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "flaresuite_host", *map(str, args)]


MARK = "FLARESUITE_DEV_TEST_RUN"
"""An environment variable set, with a value of its own, on every command a test runs; Node
and workerd inherit it, so what a command leaves behind is found even once re-parented."""


def marked(value: str) -> list[int]:
    """Live processes whose environment holds ``MARK=value``."""
    needle = f"{MARK}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            environ = (entry / "environ").read_bytes() if entry.name.isdigit() else b""
        except OSError:
            continue
        if needle in environ.split(b"\0") and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def assert_none_left(value: str) -> None:
    deadline = time.monotonic() + STOP_TIMEOUT
    while marked(value) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = marked(value)
    assert left == [], f"processes left behind: {left}"


def run_flaresuite(
    *args: str | Path, cwd: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``flaresuite ARGS`` to its end; fails if it leaves a process (Node, workerd) behind."""
    mark = uuid.uuid4().hex
    done = subprocess.run(
        flaresuite(*args),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, MARK: mark},
    )
    assert_none_left(mark)
    return done


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_project(directory: Path) -> Path:
    """``directory`` with wrangler.toml and ``src`` as the repository has them."""
    shutil.copy(ROOT / "wrangler.toml", directory / "wrangler.toml")
    (directory / "src").symlink_to(ROOT / "src", target_is_directory=True)
    return directory


def upgrade_status(url: str, target: str) -> int:
    """The status a WebSocket upgrade of ``target`` gets from the server at ``url`` (101 when
    the Worker accepts it); the connection is closed once the status line is read."""
    parts = urlsplit(url)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as connection:
        connection.sendall(request.encode())
        head = b""
        while b"\r\n" not in head:
            chunk = connection.recv(4096)
            if not chunk:
                break
            head += chunk
    return int(head.split(b" ", 2)[1])


def write_dev_vars(project: Path, name: str, values: dict[str, str]) -> None:
    lines = [f'{key}="{value}"' for key, value in values.items()]
    (project / name).write_text("# written by a test\n" + "\n".join(lines) + "\n")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may contain spaces and parentheses: split after it.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> set[int]:
    tree = _children()
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in tree.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class DevServer:
    process: subprocess.Popen[str]
    url: str
    banner: list[str]
    output: deque[str] = field(default_factory=lambda: deque(maxlen=5000))
    started: set[int] = field(default_factory=set)
    """The CLI and every process under it once it was ready (Node, workerd)."""
    mark: str = ""
    """Its ``MARK`` value, inherited by every process it starts."""

    def lines(self) -> list[str]:
        return list(self.output)

    def wait_for_line(self, pattern: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines():
                if re.search(pattern, line):
                    return line
            time.sleep(0.05)
        raise AssertionError(f"no output line matched {pattern!r}:\n" + "\n".join(self.lines()))

    def stop(self, signum: int = signal.SIGINT) -> int:
        """Ctrl-C (or ``signum``); returns the exit status once every process it started is
        gone."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        status = self.process.wait(timeout=STOP_TIMEOUT)
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(alive(pid) for pid in self.started) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = sorted(pid for pid in self.started if alive(pid))
        assert left == [], f"processes left behind: {left}"
        assert_none_left(self.mark)
        return status


def start_dev(project: Path, *args: str) -> DevServer:
    """``flaresuite dev ARGS --port <free>`` in ``project``, once it printed its URL."""
    port = free_port()
    mark = uuid.uuid4().hex
    process = subprocess.Popen(
        flaresuite("dev", *args, "--port", str(port)),
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        env={**os.environ, "NO_COLOR": "1", MARK: mark},
    )
    output: deque[str] = deque(maxlen=5000)

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        ready = [line for line in list(output) if line.startswith("Ready on ")]
        if ready:
            url = ready[0].split()[2]
            server = DevServer(process, url, list(output), output, mark=mark)
            server.started = {process.pid, *descendants(process.pid)}
            return server
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise AssertionError("flaresuite dev did not start:\n" + "\n".join(output))
