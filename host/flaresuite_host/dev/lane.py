"""The Pyodide lane process (``lane/lane.mjs``) as ``flaresuite dev`` runs it.

The lane reads JSON-lines commands on stdin and answers on stdout (the protocol is described
in lane/lane.mjs and docs/runtime.md); its stderr is the Worker's terminal output, passed
straight through. The lane ships with the repository, not with the Python package, so it is
found next to the checkout that holds this package, and needs ``bash scripts/setup_lane.sh``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from flaresuite.errors import RuntimeFailure
from flaresuite_host.arguments import UsageError
from flaresuite_host.dev.wrangler import WorkerSpec

CHECKOUT = Path(__file__).resolve().parents[3]
NODE = CHECKOUT / "node_modules" / ".bin" / "node"
LANE_SCRIPT = CHECKOUT / "lane" / "lane.mjs"
WHEELS = CHECKOUT / "lane" / ".cache" / "wheels"
STOP_TIMEOUT = 15.0
"""Seconds the lane gets to stop Miniflare and exit before it is killed."""


class LaneFailed(RuntimeFailure):
    """The lane refused a command or died; the message is its own."""


def lane_config(
    spec: WorkerSpec, values: Mapping[str, object], persist: Path, *, bindings_only: bool = False
) -> dict[str, Any]:
    """The lane's ``start`` configuration for ``spec``: its bindings, ``values`` as vars and
    secrets, state under ``persist``. ``bindings_only`` starts Miniflare without Python."""
    wheels = sorted(str(p) for p in WHEELS.glob("*.whl"))
    if not NODE.exists() or not LANE_SCRIPT.exists() or not wheels:
        raise UsageError(
            f"the Pyodide lane is not installed in {CHECKOUT}: run `bash scripts/setup_lane.sh`"
        )
    return {
        "main_module": None if bindings_only else spec.main.stem,
        "module_roots": [str(spec.main.parent)],
        "wheels": wheels,
        "r2_buckets": list(spec.r2_buckets),
        "kv_namespaces": list(spec.kv_namespaces),
        "resource_ids": {**spec.r2_buckets, **spec.kv_namespaces},
        "durable_objects": {} if bindings_only else dict(spec.durable_objects),
        "queues": {} if bindings_only else dict(spec.queue_producers),
        "queue_consumers": []
        if bindings_only
        else [
            {
                "queue": c.queue,
                "max_batch_size": c.max_batch_size,
                "max_batch_timeout": c.max_batch_timeout,
                "max_retries": c.max_retries,
                "retry_delay": c.retry_delay,
                "dead_letter_queue": c.dead_letter_queue,
            }
            for c in spec.queue_consumers
        ],
        "vars": dict(values),
        "alarms": "auto",
        "compatibility_date": spec.compatibility_date,
        "persist_path": str(persist),
    }


class LaneProcess:
    """One lane process, one command at a time."""

    def __init__(self, config: Mapping[str, Any], *, quiet: bool = False) -> None:
        self._next_id = 0
        self.process = subprocess.Popen(
            [str(NODE), str(LANE_SCRIPT)],
            cwd=CHECKOUT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if quiet else None,
            text=True,
            bufsize=1,
            env={**os.environ, "NO_COLOR": "1"},
        )
        try:
            self.started = self.call("start", config=dict(config))
        except BaseException:
            self.close()
            raise

    def call(self, op: str, **args: Any) -> Any:
        stdin, stdout = self._pipes()
        self._next_id += 1
        stdin.write(json.dumps({"id": self._next_id, "op": op, **args}) + "\n")
        stdin.flush()
        for line in stdout:
            reply = json.loads(line)
            if reply.get("id") != self._next_id:
                continue
            if reply["ok"]:
                return reply["result"]
            raise LaneFailed(reply["error"])
        raise LaneFailed(f"the lane exited ({self.process.wait()}) during {op}")

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        if self.process.stdin is None or self.process.stdout is None:
            raise LaneFailed("the lane has no pipes")
        return self.process.stdin, self.process.stdout

    def wait(self) -> int:
        return self.process.wait()

    def close(self) -> None:
        """Asks the lane to stop (closing its stdin), then kills it if it does not."""
        if self.process.poll() is None:
            try:
                if self.process.stdin is not None:
                    self.process.stdin.close()
                self.process.wait(timeout=STOP_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
