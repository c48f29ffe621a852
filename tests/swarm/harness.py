"""A synchronous host for the coordinator: applies its effects to dicts so tests can read them."""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any

from flaresuite.swarm import kernels, protocol
from flaresuite.swarm.coordinator import Admission, Coordinator
from flaresuite.swarm.effects import (
    Broadcast,
    CloseSocket,
    DeleteAlarm,
    Effect,
    Log,
    Persist,
    Send,
    SetAlarm,
)

START = 1_800_000_000.0
_CODE_DIGITS = str.maketrans("0123456789", "ABCDEFGHJK")
"""Counter digits as code characters (codes have no 0 or 1)."""


class Harness:
    def __init__(self, swarm_id: str = "lab") -> None:
        self.now = START
        # Deterministic ids and secrets, so Hypothesis replays examples exactly.
        counter = itertools.count(1)
        self.ids = {
            "new_id": lambda: str(uuid.UUID(int=next(counter))),
            "new_secret": lambda: f"secret-{next(counter):032d}",
            "new_code": lambda length: f"{next(counter):0{length}d}".translate(_CODE_DIGITS),
            # Every result is checked, so a test never depends on the draw.
            "sample": lambda: 0.0,
        }
        self.coordinator = Coordinator(swarm_id, **self.ids)
        self.stored: dict[str, str] = {}
        self.alarm_at: float | None = None
        self.open: dict[str, str] = {}
        """Open sockets: socket id -> attachment JSON (as the runtime would keep it)."""
        self.inbox: dict[str, list[dict[str, Any]]] = {}
        self.server_closed: dict[str, int] = {}
        self.logs: list[dict[str, Any]] = []

    # -- effects ------------------------------------------------------------------------------

    def apply(self, effects: list[Effect]) -> list[Effect]:
        for effect in effects:
            if isinstance(effect, Send):
                self._deliver(effect.socket_id, effect.text)
            elif isinstance(effect, Broadcast):
                for socket_id in effect.socket_ids:
                    self._deliver(socket_id, effect.text)
            elif isinstance(effect, CloseSocket):
                if self.open.pop(effect.socket_id, None) is not None:
                    self.server_closed[effect.socket_id] = effect.code
            elif isinstance(effect, Persist):
                self.stored.update(effect.put)
                for key in effect.delete:
                    self.stored.pop(key, None)
            elif isinstance(effect, SetAlarm):
                self.alarm_at = effect.at
            elif isinstance(effect, DeleteAlarm):
                self.alarm_at = None
            elif isinstance(effect, Log):
                self.logs.append(dict(effect.record))
        return effects

    def _deliver(self, socket_id: str, text: str) -> None:
        if socket_id in self.open:
            self.inbox.setdefault(socket_id, []).append(json.loads(text))

    # -- driving ------------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def invite(self, *, multi_use: bool = True) -> str:
        issued, effects = self.coordinator.issue_invite(self.now, multi_use=multi_use)
        self.apply(effects)
        return issued.token

    def admit(self, device_id: str | None = None, **kwargs: Any) -> Admission:
        admission, effects = self.coordinator.admit(self.now, device_id=device_id, **kwargs)
        self.apply(effects)
        return admission

    def connect(self, admission: Admission) -> str:
        socket_id = admission.attachment.socket_id
        self.open[socket_id] = admission.attachment.to_json()
        self.apply(self.coordinator.connect(admission, self.now))
        return socket_id

    def join(
        self, device_id: str, token: str | None = None, *, cores: int = 4, register: bool = True
    ) -> str:
        socket_id = self.connect(self.admit(device_id, token=token or self.invite()))
        if register:
            self.send(
                socket_id,
                "DEVICE_REGISTER",
                {"name": device_id, "cpuCores": cores, "memoryGB": 8, "gpuAvailable": False},
            )
        return socket_id

    def join_ostrich(self, device_id: str, token: str | None = None, *, cores: int = 4) -> str:
        """An Ostrich-Legs client: joins with a code, and registers on the server's connect."""
        admission = self.admit(device_id, token=token or self.invite(), wire="ostrich")
        socket_id = self.connect(admission)
        self.send_ostrich(socket_id, "connect", {})
        self.send_ostrich(
            socket_id,
            "device:register",
            {
                "name": "Desktop Node",
                "capabilities": {"cpuCores": cores, "memoryGB": 8, "gpuAvailable": False},
            },
        )
        return socket_id

    def send_ostrich(self, socket_id: str, event: str, data: Any) -> list[Effect]:
        return self.send_raw(socket_id, json.dumps({"event": event, "data": data}))

    def events(self, socket_id: str, event: str) -> list[Any]:
        """The ``data`` of each Ostrich-Legs frame ``event`` the socket received."""
        return [m["data"] for m in self.inbox.get(socket_id, []) if m.get("event") == event]

    def ostrich_jobs(self, socket_id: str) -> list[dict[str, Any]]:
        return [job for batch in self.events(socket_id, "job:batch") for job in batch]

    def resume_key(self, socket_id: str) -> str:
        return next(
            m["payload"]["resumeKey"] for m in self.inbox[socket_id] if m["type"] == "WELCOME"
        )

    def send(self, socket_id: str, kind: str, payload: dict[str, Any]) -> list[Effect]:
        (frame,) = protocol.encode(kind, payload)
        return self.send_raw(socket_id, frame)

    def result(self, chunk_id: str) -> int:
        """The right result of a chunk the swarm still holds."""
        chunk = self.coordinator.chunks[chunk_id]
        return kernels.expected_result(chunk.kind, kernels.seed_of(chunk_id), chunk.ops)

    def complete(
        self,
        socket_id: str,
        chunk_id: str,
        *,
        error: str | None = None,
        ms: float = 500,
        result: int | None = None,
    ) -> list[Effect]:
        """Reports a chunk: failed with ``error``, or done with ``result`` (the right one by
        default; a chunk the swarm no longer holds gets 0)."""
        payload: dict[str, Any] = {"chunkId": chunk_id, "durationMs": ms}
        if error is not None:
            payload["error"] = error
        elif result is not None:
            payload["result"] = result
        else:
            payload["result"] = self.result(chunk_id) if chunk_id in self.coordinator.chunks else 0
        return self.send(socket_id, "JOB_COMPLETE", payload)

    def send_raw(self, socket_id: str, raw: str | bytes) -> list[Effect]:
        return self.apply(self.coordinator.message(socket_id, raw, self.now))

    def close(self, socket_id: str) -> None:
        self.open.pop(socket_id, None)
        self.apply(self.coordinator.close(socket_id, self.now))

    def fire_alarm(self) -> None:
        self.alarm_at = None  # a fired alarm is consumed, as in Durable Object storage
        self.apply(self.coordinator.alarm(self.now))

    def submit(self, chunks: int, kind: str = "MATH_STRESS") -> str:
        job, effects = self.coordinator.submit_job(
            self.now, kind=kind, chunks=chunks, ops_per_chunk=1000
        )
        self.apply(effects)
        return job.id

    def evict(self) -> None:
        """Drops the coordinator and rebuilds it the way the Durable Object does after eviction."""
        self.coordinator, effects = Coordinator.restore(
            self.coordinator.swarm_id,
            dict(self.stored),
            list(self.open.values()),
            self.now,
            alarm_at=self.alarm_at,
            **self.ids,
        )
        self.apply(effects)

    # -- reading ------------------------------------------------------------------------------

    def messages(self, socket_id: str, kind: str) -> list[dict[str, Any]]:
        return [m["payload"] for m in self.inbox.get(socket_id, []) if m.get("type") == kind]

    def assigned(self, socket_id: str) -> list[str]:
        return [c["chunkId"] for p in self.messages(socket_id, "JOB_ASSIGN") for c in p["chunks"]]

    def security_logs(self) -> list[dict[str, Any]]:
        return [r for r in self.logs if r.get("category") == "SECURITY"]
