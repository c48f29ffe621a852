"""How long ``flaresuite dev`` takes to start, per Worker, as a developer waits for it.

Starts ``flaresuite dev`` (as ``python -m flaresuite_host dev``) for each Worker of
wrangler.toml in a scratch project (a copy of wrangler.toml, ``src`` linked, state in a scratch
directory kept across runs as a developer's is), ``--runs`` times each, the Workers taking
turns so that a change in the machine's load touches all of them alike. For each start it
takes the wall time from spawning the command to its ``Ready on`` line, the split the banner
prints (Pyodide's load beside Miniflare's start, then the entry module's import), and the
time of the first request after it (which may still pay for lazy imports), and the CPU time
the command and its Node and workerd spent from start to stop. Prints, side by side, the
median (and the minimum and maximum of the wall time), and the load average before and after:
on a shared machine the figures move with it, and the benchmark adds about one core of load.

Needs ``bash scripts/setup_lane.sh``. Usage:
``uv run python benchmarks/dev_startup.py [--runs 5] [--warmup 1] [--env index glean ...]``.
Never asserted: docs/runtime.md quotes what it printed.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from flaresuite_host.arguments import positive_int

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 180.0


@dataclass(frozen=True)
class Worker:
    label: str
    env: str | None
    secrets: dict[str, str]
    first_request: str
    """A GET the Worker answers without an upstream."""


WORKERS = {
    "index": Worker("index", None, {}, "/status"),
    "delete-proxy": Worker(
        "delete-proxy", "delete-proxy", {"DELETE_PROXY_TOKEN": "bench-" + "x" * 32}, "/"
    ),
    "glean": Worker("glean", "glean", {"GLEAN_TRIGGER_TOKEN": "bench-" + "x" * 32}, "/health"),
    "swarm": Worker("swarm", "swarm", {"SWARM_ADMIN_TOKEN": "bench-" + "x" * 32}, "/swarm/lab"),
}

SPLIT = re.compile(r"Pyodide (?P<pyodide>[\d.]+) s.*entry module (?P<entry>[\d.]+) s", re.ASCII)


@dataclass(frozen=True)
class Start:
    ready_s: float
    pyodide_s: float
    entry_s: float
    first_request_ms: float
    cpu_s: float
    """CPU time of the command and everything under it (Node, workerd), start to stop."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_once(worker: Worker, project: Path, state: Path) -> Start:
    command = [sys.executable, "-m", "flaresuite_host", "dev", "--port", str(free_port())]
    command += ["--persist-to", str(state)]
    if worker.env:
        command += ["--env", worker.env]
    for name, value in worker.secrets.items():
        command += ["--var", f"{name}:{value}"]
    cpu_before = _children_cpu()
    began = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert process.stdout is not None
    lines: list[str] = []
    ready = None
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Ready on "):
                ready = line
                break
            if time.perf_counter() - began > START_TIMEOUT:
                break
        ready_s = time.perf_counter() - began
        if ready is None:
            raise RuntimeError(f"{worker.label} did not start:\n{''.join(lines)}")
        # The rest of its output is drained, not read: a full pipe would stall the server.
        threading.Thread(target=process.stdout.read, daemon=True).start()
        url = ready.split()[2]
        asked = time.perf_counter()
        httpx.get(f"{url}{worker.first_request}", timeout=120)
        first_ms = (time.perf_counter() - asked) * 1000
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    split = SPLIT.search(ready)
    if split is None:
        raise RuntimeError(f"unexpected banner: {ready}")
    cpu = _children_cpu() - cpu_before
    return Start(ready_s, float(split["pyodide"]), float(split["entry"]), first_ms, cpu)


def _children_cpu() -> float:
    """User and system CPU seconds of every finished child process, and theirs."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=positive_int, default=5)
    parser.add_argument(
        "--warmup", type=int, default=1, help="untimed starts of each Worker first (default 1)"
    )
    parser.add_argument("--env", nargs="+", choices=list(WORKERS), default=list(WORKERS))
    args = parser.parse_args(argv)

    workers = [WORKERS[name] for name in args.env]
    load_before = os.getloadavg()
    results: dict[str, list[Start]] = {w.label: [] for w in workers}
    with tempfile.TemporaryDirectory(prefix="dev-startup-") as scratch:
        project = Path(scratch)
        shutil.copy(ROOT / "wrangler.toml", project / "wrangler.toml")
        (project / "src").symlink_to(ROOT / "src", target_is_directory=True)
        for round_ in range(args.warmup + args.runs):
            for worker in workers:
                start = start_once(worker, project, project / "state" / worker.label)
                if round_ >= args.warmup:
                    results[worker.label].append(start)
                    print(
                        f"  {worker.label:13s} ready {start.ready_s:5.2f} s  "
                        f"first request {start.first_request_ms:5.0f} ms",
                        file=sys.stderr,
                        flush=True,
                    )
    load_after = os.getloadavg()

    print(f"flaresuite dev start-up, {args.runs} runs each after {args.warmup} warm-up")
    print(
        f"{os.cpu_count()} CPUs; load average (1/5/15 min) {_load(load_before)} before, "
        f"{_load(load_after)} after"
    )
    print(
        f"\n{'worker':13s} {'ready median':>12s} {'min':>6s} {'max':>6s}"
        f" {'Pyodide':>8s} {'entry':>6s} {'1st req':>8s} {'CPU':>6s}"
    )
    for label, starts in results.items():
        ready = [s.ready_s for s in starts]
        print(
            f"{label:13s} {statistics.median(ready):10.2f} s {min(ready):5.2f}s {max(ready):5.2f}s"
            f" {statistics.median(s.pyodide_s for s in starts):7.2f}s"
            f" {statistics.median(s.entry_s for s in starts):5.2f}s"
            f" {statistics.median(s.first_request_ms for s in starts):6.0f}ms"
            f" {statistics.median(s.cpu_s for s in starts):5.1f}s"
        )
    print("\n(ready: spawn to the `Ready on` line; Pyodide and entry: the banner's split;")
    print(" 1st req: the first request after it; CPU: the command, Node and workerd, start to")
    print(" stop, on all cores; all medians)")
    return 0


def _load(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{value:.2f}" for value in load)


if __name__ == "__main__":
    raise SystemExit(main())
