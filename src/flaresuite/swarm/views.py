"""What dashboards and devices are shown of a swarm (docs/swarm.md, "Liveness, reconnects and
broadcasts").

Dashboards get the full :func:`snapshot`, which is also the owner's ``GET /state`` and what the
Ostrich-Legs client's ``swarm:snapshot`` is made from (:func:`.ostrich.snapshot`); native
devices get the compact :func:`status`. Both are built once per broadcast and serialised once
for every socket of a wire format. Both carry the system log lines since the last broadcast
(:class:`SystemLog`) and the throughput over the last minute (:class:`Throughput`), which live
in memory only: after an eviction they start empty.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from flaresuite.swarm.model import ONLINE, Device, Job

MAX_SNAPSHOT_DEVICES = 500
FINISHED_JOBS_SHOWN = 10
"""Finished jobs a snapshot lists after the unfinished ones (jobs are deleted when they
finish, so these are remembered for the dashboard only)."""
LOG_LINES_KEPT = 50
"""Log lines a dashboard that connects is shown at once."""
LOG_LINES_PER_TICK = 100
THROUGHPUT_WINDOW_SECONDS = 60


class SystemLog:
    """The swarm's log lines as dashboards see them: the latest :data:`LOG_LINES_KEPT`, and
    those since the last broadcast, batched into its frames rather than sent one frame each
    (at most :data:`LOG_LINES_PER_TICK`; the snapshot counts the rest as dropped)."""

    def __init__(self) -> None:
        self.kept: deque[dict[str, Any]] = deque(maxlen=LOG_LINES_KEPT)
        self.dropped = 0
        self._pending: list[dict[str, Any]] = []

    def add(self, line: dict[str, Any]) -> None:
        self.kept.append(line)
        if len(self._pending) < LOG_LINES_PER_TICK:
            self._pending.append(line)
        else:
            self.dropped += 1

    def take_pending(self) -> list[dict[str, Any]]:
        """The lines for this broadcast; the next one starts empty."""
        pending, self._pending = self._pending, []
        return pending


class Throughput:
    """Chunks finished per second over the last :data:`THROUGHPUT_WINDOW_SECONDS`."""

    def __init__(self) -> None:
        self._seconds: deque[list[int]] = deque()
        """``[second, count]`` pairs over the window."""

    def count(self, now: float) -> None:
        """One chunk finished at ``now``."""
        second = int(now)
        if self._seconds and self._seconds[-1][0] == second:
            self._seconds[-1][1] += 1
        else:
            self._seconds.append([second, 1])

    def rate(self, now: float) -> float:
        horizon = int(now) - THROUGHPUT_WINDOW_SECONDS
        while self._seconds and self._seconds[0][0] <= horizon:
            self._seconds.popleft()
        return sum(count for _, count in self._seconds) / THROUGHPUT_WINDOW_SECONDS


def counts(*, queued: int, unfinished: int, done: int, failed: int) -> dict[str, int]:
    """Chunks by state; every unfinished chunk that is not queued is held by a device."""
    return {"queued": queued, "assigned": unfinished - queued, "done": done, "failed": failed}


def status(
    now: float,
    *,
    devices: Iterable[Device],
    queue: Mapping[str, int],
    throughput: float,
    run_state: str,
    throttle: int,
    log: list[dict[str, Any]],
) -> dict[str, Any]:
    """The compact state every native device receives (about 190 bytes): one serialisation
    for all of them."""
    return {
        "at": now,
        "devicesOnline": sum(1 for d in devices if d.status == ONLINE),
        "queue": queue,
        "throughput": throughput,
        "runState": run_state,
        "throttle": throttle,
        "log": log,
    }


def snapshot(
    swarm_id: str,
    now: float,
    *,
    settings: Mapping[str, Any],
    devices: Iterable[Device],
    queue: Mapping[str, int],
    jobs: Iterable[Job],
    finished_jobs: Iterable[Mapping[str, Any]],
    throughput: float,
    log: list[dict[str, Any]],
    log_dropped: int,
) -> dict[str, Any]:
    """The dashboard's full view; the device list is capped, online devices first."""
    ordered = sorted(devices, key=lambda d: (d.status != ONLINE, d.id))
    return {
        "swarmId": swarm_id,
        "at": now,
        **settings,
        "devices": [d.public() for d in ordered[:MAX_SNAPSHOT_DEVICES]],
        "devicesTotal": len(ordered),
        "devicesOnline": sum(1 for d in ordered if d.status == ONLINE),
        "queue": queue,
        "jobs": [
            *({**j.public(), "finished": False} for j in sorted(jobs, key=lambda j: j.created_at)),
            *finished_jobs,
        ],
        "throughput": throughput,
        "log": log,
        "logDropped": log_dropped,
    }
