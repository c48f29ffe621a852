"""The Ostrich-Legs client's wire format, in front of the same coordinator.

The unchanged Ostrich-Legs browser client (a React app) connects to
``<base>/ws?persistentId=<id>&token=<code>`` and exchanges text frames
``{"event": <name>, "data": <any>}``. This module translates them to and from the
coordinator's :mod:`.messages`: one state machine, two wire formats. What the client relies
on, and what its reference server got wrong, is summarised in docs/swarm.md ("Using the
Ostrich-Legs client"):

* the server's ``connect`` event is the client's only "connected" signal (sent for
  ``WELCOME``), and its own ``connect`` frame only shows it is alive;
* its dashboard dereferences ``swarm:snapshot`` fields (:func:`snapshot`), and its compute
  pool only exists once a snapshot with a numeric ``stats.globalThrottle`` has arrived, so a
  device gets one right after registering, before any ``job:batch``;
* its jobs carry ``data.iterations``; its worker runs one floating-point loop whatever the
  kind, so its results cannot be checked and are taken as they come;
* it sends owner commands (``cmd:*``) from every page, which the coordinator obeys only as
  far as the swarm's ``inviteeCommands`` setting allows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flaresuite.swarm import kernels
from flaresuite.swarm.messages import (
    MAX_ERROR_CHARS,
    MAX_SAFE_INTEGER,
    MAX_SLOTS_PER_REQUEST,
    MAX_THROTTLE,
    MIN_THROTTLE,
    RUN_STATES,
    Activity,
    BenchmarkResult,
    Envelope,
    Heartbeat,
    Invalid,
    JobComplete,
    JobRequest,
    Message,
    RequestInvite,
    SetDeviceEnabled,
    SetRunState,
    SetThrottle,
    Wire,
    body_object,
    boolean,
    chunk_id,
    number,
    only,
    optional_text,
    positive,
    register,
    text,
)

NAME = "ostrich"
MAX_LOG_FRAMES = 20
"""``sys:log`` frames per snapshot; the native format batches log lines into one frame, this
one has a frame per line, so a busy tick sends only its first lines."""
LOG_LEVELS = {"INFO": "SYS", "WARN": "WARN", "ERROR": "ERR"}
"""The client's terminal knows SYS NET CPU GPU ERR WARN."""


def _connect(data: Any) -> Activity:
    body_object(data)
    return Activity()


def _register(data: Any) -> Message:
    payload = body_object(data)
    only(payload, {"name", "capabilities"})
    capabilities = payload.get("capabilities")
    if not isinstance(capabilities, dict):
        raise Invalid("capabilities must be an object")
    only(capabilities, {"cpuCores", "memoryGB", "gpuAvailable", "gpuName"})
    return register(payload, capabilities)


def _request_batch(data: Any) -> JobRequest:
    only(body_object(data), set())
    # "As many as I can take": the coordinator caps it at the device's free slots, and
    # remembers it, since the client does not ask again until its next completion.
    return JobRequest(MAX_SLOTS_PER_REQUEST)


def _complete(data: Any) -> JobComplete:
    payload = body_object(data)
    only(payload, {"chunkId", "result", "workerId", "durationMs", "error"})
    text(payload, "workerId", 64)
    error = optional_text(payload, "error", MAX_ERROR_CHARS)
    if error is None:
        number(payload, "result", -1e300, 1e300)  # a float nobody can check; see module doc
    duration = number(payload, "durationMs", 0, MAX_SAFE_INTEGER) if "durationMs" in payload else 0
    return JobComplete(chunk_id(payload), duration_ms=duration or None, error=error)


def _heartbeat(data: Any) -> Heartbeat:
    payload = body_object(data)
    only(payload, {"lastInteraction"})
    if "lastInteraction" in payload:
        number(payload, "lastInteraction", 0, MAX_SAFE_INTEGER)
    return Heartbeat()


def _benchmark(data: Any) -> BenchmarkResult:
    payload = body_object(data)
    only(payload, {"score"})
    return BenchmarkResult(ops_per_second=positive(payload, "score", 1e15))


def _run_state(data: Any) -> SetRunState:
    if data not in RUN_STATES:
        raise Invalid(f"must be one of {', '.join(RUN_STATES)}")
    return SetRunState(data)


def _throttle(data: Any) -> SetThrottle:
    if isinstance(data, bool) or not isinstance(data, int):
        raise Invalid("must be an integer percentage")
    if not MIN_THROTTLE <= data <= MAX_THROTTLE:
        raise Invalid(f"must be between {MIN_THROTTLE} and {MAX_THROTTLE}")
    return SetThrottle(data)


def _toggle(data: Any) -> SetDeviceEnabled:
    payload = body_object(data)
    only(payload, {"id", "enabled"})
    return SetDeviceEnabled(text(payload, "id", 64), boolean(payload, "enabled"))


def _generate_token(data: Any) -> RequestInvite:
    only(body_object(data), set())
    return RequestInvite()


ENVELOPE: Envelope[Message] = Envelope(
    frame="frame",
    kind="event",
    body="data",
    parsers={
        "connect": _connect,
        "device:register": _register,
        "job:request_batch": _request_batch,
        "job:complete": _complete,
        "heartbeat": _heartbeat,
        "benchmark:result": _benchmark,
        "cmd:set_run_state": _run_state,
        "cmd:set_throttle": _throttle,
        "cmd:toggle_device": _toggle,
        "auth:generate_token": _generate_token,
    },
)
parse_frame = ENVELOPE.parse
"""Parses and validates one client frame, or raises :class:`ProtocolError`."""

# -- frames to the client ---------------------------------------------------------------------


def _frame(event: str, data: Any) -> str:
    return json.dumps({"event": event, "data": data}, separators=(",", ":"))


def _log_line(level: str, message: str, at: float) -> str:
    return _frame(
        "sys:log",
        {"level": level, "message": message, "timestamp": round(at * 1000), "source": "swarm"},
    )


def encode(kind: str, payload: Mapping[str, Any]) -> tuple[str, ...]:
    """The client's frames for one coordinator note; notes it has no use for send nothing
    (it cannot cancel jobs, and reads run state and throttle from snapshots)."""
    if kind == "WELCOME":
        return (_frame("connect", {"status": "connected"}),)
    if kind == "JOB_ASSIGN":
        return (_frame("job:batch", [_job(chunk) for chunk in payload["chunks"]]),)
    if kind == "SNAPSHOT":
        lines = payload["log"][:MAX_LOG_FRAMES]
        return (
            _frame("swarm:snapshot", snapshot(payload)),
            *(_log_line(LOG_LEVELS.get(x["level"], "SYS"), x["message"], x["at"]) for x in lines),
        )
    if kind == "ERROR":
        return (_log_line("ERR", f"{payload['code']}: {payload['message']}", payload["at"]),)
    if kind == "INVITE":
        return (_frame("auth:token", payload["code"]),)
    return ()


def _job(chunk: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"iterations": chunk["ops"], "seed": chunk["seed"]}
    if chunk["kind"] == "MAT_MUL":
        data["size"] = kernels.matrix_side(chunk["ops"])
    return {"id": chunk["chunkId"], "type": chunk["kind"], "complexity": 1, "data": data}


def snapshot(state: Mapping[str, Any]) -> dict[str, Any]:
    """The client's ``swarm:snapshot`` from the coordinator's own snapshot. Every field its
    dashboard dereferences is present and numeric: a missing ``stats`` crashes the whole app."""
    devices = state["devices"]
    online = [d for d in devices if d["status"] == "ONLINE" and d["enabled"]]
    queue = state["queue"]
    return {
        "runState": state["runState"],
        "devices": {
            d["id"]: {
                "id": d["id"],
                "name": d["name"] or d["id"],
                "type": "DESKTOP",
                "status": d["status"] if d["enabled"] else "DISABLED",
                "capabilities": {
                    "cpuCores": d["cpuCores"],
                    "memoryGB": d["memoryGB"],
                    "gpuAvailable": d["gpuAvailable"],
                },
                "totalJobsCompleted": d["completed"],
                "opsScore": round(d["opsPerSecond"] or 0),
            }
            for d in devices
        },
        "stats": {
            "activeJobs": queue["assigned"],
            "pendingJobs": queue["queued"],
            "globalVelocity": state["throughput"],
            "totalJobs": queue["queued"] + queue["assigned"] + queue["done"] + queue["failed"],
            "completedJobs": queue["done"],
            "globalThrottle": state["throttle"],
        },
        "resources": {
            "totalCores": sum(d["cpuCores"] for d in online),
            "totalMemory": sum(d["memoryGB"] for d in online),
            "totalGPUs": sum(1 for d in online if d["gpuAvailable"]),
            "onlineCount": len(online),
        },
    }


WIRE = Wire(NAME, parse_frame, encode, device_view="SNAPSHOT")
