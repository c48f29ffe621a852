"""The records a swarm keeps: devices, jobs, chunks, and what each socket carries.

Each record is stored under its own key (``device:<id>``, ``job:<id>``, ``chunk:<id>``) as a JSON
string, so one event rewrites only what it touched. Socket attachments are JSON strings too:
structured clone cannot copy a Pyodide dict proxy, and a string converts without ``to_js``
(research section 2.2). Which chunks a device holds is not stored twice: it is derived from the
chunks' ``assigned_to`` when the swarm is rebuilt.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, TypeVar

from flaresuite.swarm import kernels, protocol, scheduler

ONLINE: Literal["ONLINE"] = "ONLINE"
OFFLINE: Literal["OFFLINE"] = "OFFLINE"

CHUNK_KINDS = kernels.KINDS


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


R = TypeVar("R", "Device", "Job", "Chunk")


def _load(cls: type[R], text: str) -> R:
    """A record from its JSON, ignoring fields this version does not know."""
    data = json.loads(text)
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(slots=True)
class Device:
    id: str
    status: str = OFFLINE
    socket_id: str | None = None
    last_seen: float = 0.0
    resume_digest: str | None = None
    registered: bool = False
    name: str = ""
    cpu_cores: int = 1
    memory_gb: float = 0.5
    gpu_available: bool = False
    gpu_name: str | None = None
    ops_per_second: float | None = None
    mean_chunk_ms: float | None = None
    demand: int = 0
    """Chunks asked for and not yet granted (a standing request, served as work arrives)."""
    completed: int = 0
    failed: int = 0
    load: float | None = None
    """``last_seen`` and ``load`` are written with other changes, not on every heartbeat; after
    a rebuild a connected device counts as seen at the rebuild."""
    enabled: bool = True
    """The owner can disable a device: it keeps its socket but gets no work."""
    wire: str = protocol.NAME
    """The wire format of its latest session (:mod:`.protocol` or :mod:`.ostrich`)."""
    verified: int = 0
    """Results the coordinator checked and found right."""
    rejected: int = 0
    """Results the coordinator checked and found wrong."""
    active: set[str] = field(default_factory=set)
    """Ids of the chunks this device holds; derived, never stored."""

    @property
    def weight(self) -> float:
        return scheduler.weight(
            self.cpu_cores, self.gpu_available, self.ops_per_second, self.mean_chunk_ms
        )

    @property
    def quota(self) -> int:
        return scheduler.quota(self.cpu_cores, self.gpu_available)

    def to_json(self) -> str:
        data = asdict(self)
        del data["active"]
        return _dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Device:
        return _load(cls, text)

    def public(self) -> dict[str, Any]:
        """What the dashboard shows (never the resume digest)."""
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "registered": self.registered,
            "cpuCores": self.cpu_cores,
            "memoryGB": self.memory_gb,
            "gpuAvailable": self.gpu_available,
            "gpu": self.gpu_name if self.gpu_available else None,
            "opsPerSecond": self.ops_per_second,
            "weight": round(self.weight, 1),
            "quota": self.quota,
            "active": len(self.active),
            "completed": self.completed,
            "failed": self.failed,
            "verified": self.verified,
            "rejected": self.rejected,
            "enabled": self.enabled,
            "wire": self.wire,
            "load": self.load,
            "meanChunkMs": None if self.mean_chunk_ms is None else round(self.mean_chunk_ms),
            "lastSeen": self.last_seen,
        }


@dataclass(slots=True)
class Job:
    id: str
    kind: str
    total: int
    ops_per_chunk: int
    created_at: float
    done: int = 0
    failed: int = 0

    def to_json(self) -> str:
        return _dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Job:
        return _load(cls, text)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
        }


@dataclass(slots=True)
class Chunk:
    id: str
    job_id: str
    kind: str
    ops: int
    seq: int
    """Submission order; the queue is a heap on it, so requeued chunks go out first."""
    attempts: int = 0
    assigned_to: str | None = None

    def to_json(self) -> str:
        return _dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Chunk:
        return _load(cls, text)

    def public(self) -> dict[str, Any]:
        return {
            "chunkId": self.id,
            "jobId": self.job_id,
            "kind": self.kind,
            "ops": self.ops,
            "seed": kernels.seed_of(self.id),
        }


OBSERVER = "observer"
DEVICE = "device"


@dataclass(frozen=True, slots=True)
class Attachment:
    """What a socket carries through hibernation: enough to find its device again."""

    socket_id: str
    role: str
    device_id: str | None
    connected_at: float
    wire: str = protocol.NAME
    """The socket's wire format; sockets attached before there were two carry none."""

    def to_json(self) -> str:
        return _dumps(
            {
                "socketId": self.socket_id,
                "role": self.role,
                "deviceId": self.device_id,
                "connectedAt": self.connected_at,
                "wire": self.wire,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Attachment:
        data = json.loads(text)
        return cls(
            data["socketId"],
            data["role"],
            data["deviceId"],
            data["connectedAt"],
            data.get("wire", protocol.NAME),
        )
