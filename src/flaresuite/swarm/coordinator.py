"""One swarm's state machine: events in, effects out.

Events are :meth:`Coordinator.admit` (the HTTP upgrade), :meth:`~Coordinator.connect`,
:meth:`~Coordinator.message`, :meth:`~Coordinator.close` and :meth:`~Coordinator.alarm`, plus
the owner's :meth:`~Coordinator.issue_invite` and :meth:`~Coordinator.submit_job`. Each takes
``now`` (seconds since the epoch) from the host, so tests drive time, and returns the
:mod:`~flaresuite.swarm.effects` the host must apply. Nothing here awaits: an event is applied
whole or (on bad input) not at all.

Guarantees (docs/swarm.md, tested in tests/swarm/test_coordinator_properties.py):

- every chunk is queued, held by exactly one online device, or finished, and is finished once;
- a device is never both online and removed;
- a close (or a message) from a socket that is no longer its device's socket changes nothing,
  so a late close after a reconnect cannot take the device offline (the seed's bug);
- a socket the coordinator closes is forgotten at once, not when its close event arrives: a
  peer that went silent may never answer, and a remembered socket keeps the alarm running;
- every device frame is validated before it has any effect, and a bad one costs the sender an
  ``ERROR`` reply and the swarm a ``SECURITY`` log line, never a crash.
"""

from __future__ import annotations

import heapq
import hmac
import json
import re
import secrets
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from flaresuite.swarm import invites as invites_module
from flaresuite.swarm import protocol, scheduler
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
from flaresuite.swarm.invites import Invite, InviteBook
from flaresuite.swarm.model import (
    CHUNK_KINDS,
    DEVICE,
    OBSERVER,
    OFFLINE,
    ONLINE,
    Attachment,
    Chunk,
    Device,
    Job,
)

HEARTBEAT_SECONDS = 10.0
OFFLINE_AFTER_SECONDS = 60.0
REMOVE_AFTER_SECONDS = 300.0
BROADCAST_SECONDS = 2.0
MAX_ATTEMPTS = 3
"""A chunk that reports an error is retried until it has failed this many times."""
MAX_QUEUE = 20_000
"""Unfinished chunks per swarm: a woken object loads them all, about 0.9 KB each in memory,
and the isolate has 128 MB."""
MAX_CHUNKS_PER_JOB = 10_000
MAX_OPS_PER_CHUNK = 10**9
MAX_STRIKES = 20
"""Invalid frames a socket may send before it is closed (1008, policy violation)."""
MAX_SNAPSHOT_DEVICES = 500
LOG_LINES_KEPT = 50
FINISHED_JOBS_SHOWN = 10
LOG_LINES_PER_TICK = 100
THROUGHPUT_WINDOW_SECONDS = 60

DEVICE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

CLOSE_REPLACED = 4000
CLOSE_SILENT = 4001
CLOSE_POLICY = 1008


class Refused(Exception):
    """An upgrade or owner request that must be answered with ``status``. It changed no state;
    ``effects`` holds only the security log lines the refusal produced."""

    def __init__(self, status: int, message: str, effects: list[Effect] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.effects = effects or []


@dataclass(frozen=True, slots=True)
class Admission:
    """A successful :meth:`Coordinator.admit`: the host upgrades, stores ``attachment`` on the
    socket, then calls :meth:`Coordinator.connect` with this."""

    attachment: Attachment
    resume_key: str | None
    """Issued on a token join: the device's secret for reconnecting without a new invite."""


@dataclass(frozen=True, slots=True)
class IssuedInvite:
    token: str
    expires_at: float
    multi_use: bool


class Coordinator:
    def __init__(
        self,
        swarm_id: str,
        *,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        new_secret: Callable[[], str] = lambda: secrets.token_urlsafe(32),
    ) -> None:
        self.swarm_id = swarm_id
        self._new_id = new_id
        self._new_secret = new_secret
        self.devices: dict[str, Device] = {}
        self.jobs: dict[str, Job] = {}
        self.chunks: dict[str, Chunk] = {}
        self.queue: list[tuple[int, str]] = []
        """Heap of ``(seq, chunk_id)`` for the unassigned chunks."""
        self.invites = InviteBook()
        self.sockets: dict[str, Attachment] = {}
        self.next_seq = 0
        self.done_total = 0
        self.failed_total = 0
        self.alarm_at: float | None = None
        self._strikes: dict[str, int] = {}
        self._waiting: set[str] = set()
        self._finished_jobs: deque[dict[str, Any]] = deque(maxlen=FINISHED_JOBS_SHOWN)
        """The dashboard's view of recently finished jobs (memory only: jobs are deleted)."""
        self._log_kept: deque[dict[str, Any]] = deque(maxlen=LOG_LINES_KEPT)
        self._log_pending: list[dict[str, Any]] = []
        self._log_dropped = 0
        self._completions: deque[list[int]] = deque()
        """``[second, count]`` pairs over the throughput window."""
        self._out: list[Effect] = []
        self._dirty: set[str] = set()
        """Storage keys to rewrite at the end of the event."""
        self._meta_stored = False
        """``meta`` names the swarm, so an object woken by an alarm or a socket event (no URL to
        read) knows which swarm it is. It is written with the swarm's first change, not on
        first contact: a refused or read-only request leaves no trace in storage."""

    # ----------------------------------------------------------------------------------------
    # Owner requests
    # ----------------------------------------------------------------------------------------

    def issue_invite(self, now: float, *, multi_use: bool) -> tuple[IssuedInvite, list[Effect]]:
        """Raises :class:`Refused` (429) past the rate limit, changing nothing."""
        secret = self._new_secret()
        try:
            invite = self.invites.issue(secret, now, multi_use=multi_use)
        except invites_module.RateLimited as limited:
            self._security(now, "invite_rate_limited", retryAfter=round(limited.retry_after, 1))
            raise self._refuse(429, str(limited)) from None
        self._touch(f"invite:{invite.digest}", "invites:recent")
        self._log(now, "INFO", "invite", f"{'multi' if multi_use else 'single'}-use invite issued")
        return IssuedInvite(secret, invite.expires_at, multi_use), self._flush()

    def submit_job(
        self, now: float, *, kind: str, chunks: int, ops_per_chunk: int
    ) -> tuple[Job, list[Effect]]:
        if kind not in CHUNK_KINDS:
            raise Refused(400, f"kind must be one of {', '.join(CHUNK_KINDS)}")
        if not 1 <= chunks <= MAX_CHUNKS_PER_JOB:
            raise Refused(400, f"chunks must be between 1 and {MAX_CHUNKS_PER_JOB}")
        if not 1 <= ops_per_chunk <= MAX_OPS_PER_CHUNK:
            raise Refused(400, f"opsPerChunk must be between 1 and {MAX_OPS_PER_CHUNK}")
        if len(self.chunks) + chunks > MAX_QUEUE:
            raise Refused(
                409,
                f"the swarm already holds {len(self.chunks)} unfinished chunks (limit {MAX_QUEUE})",
            )
        job = Job(self._new_id(), kind, chunks, ops_per_chunk, now)
        self.jobs[job.id] = job
        self._touch(f"job:{job.id}", "meta")
        for _ in range(chunks):
            chunk = Chunk(self._new_id(), job.id, kind, ops_per_chunk, self.next_seq)
            self.next_seq += 1
            self.chunks[chunk.id] = chunk
            heapq.heappush(self.queue, (chunk.seq, chunk.id))
            self._touch(f"chunk:{chunk.id}")
        self._log(now, "INFO", "jobs", f"job {job.id[:8]} queued: {chunks} x {kind}")
        self._dispatch()
        return job, self._flush()

    # ----------------------------------------------------------------------------------------
    # Socket lifecycle
    # ----------------------------------------------------------------------------------------

    def admit(
        self,
        now: float,
        *,
        device_id: str | None,
        token: str | None = None,
        resume_key: str | None = None,
        observer: bool = False,
    ) -> tuple[Admission, list[Effect]]:
        """Decides an upgrade before it happens; raises :class:`Refused` (400/401/409).

        Devices join with an invite ``token`` or come back with the ``resume_key`` they were
        given. A token cannot take over a device that is online (that needs its resume key);
        a single-use token is spent only when the join is accepted.
        """
        socket_id = self._new_id()
        if observer:
            invite = self._valid_invite(now, token)
            self._spend(invite)
            return Admission(Attachment(socket_id, OBSERVER, None, now), None), self._flush()
        if device_id is None or not DEVICE_ID.fullmatch(device_id):
            raise Refused(400, "deviceId must be 1-64 characters of A-Z a-z 0-9 . _ : -")
        device = self.devices.get(device_id)
        if resume_key is not None:
            given = invites_module.digest(resume_key)
            if (
                device is None
                or device.resume_digest is None
                or not hmac.compare_digest(given, device.resume_digest)
            ):
                self._security(now, "resume_refused", deviceId=device_id)
                raise self._refuse(
                    401, "unknown device or resume key; join again with an invite token"
                )
            return Admission(Attachment(socket_id, DEVICE, device_id, now), None), self._flush()
        invite = self._valid_invite(now, token)
        if device is not None and device.status == ONLINE:
            self._security(now, "join_conflict", deviceId=device_id)
            raise self._refuse(
                409, "this deviceId is online; reconnect with its resume key or pick another id"
            )
        self._spend(invite)
        return Admission(
            Attachment(socket_id, DEVICE, device_id, now), self._new_secret()
        ), self._flush()

    def connect(self, admission: Admission, now: float) -> list[Effect]:
        """The socket is open and carries ``admission.attachment``."""
        att = admission.attachment
        self.sockets[att.socket_id] = att
        if att.role == OBSERVER:
            self._send(att.socket_id, "WELCOME", {"swarmId": self.swarm_id, "role": OBSERVER})
            self._send(att.socket_id, "SNAPSHOT", self.snapshot(now, log=list(self._log_kept)))
            self._log(now, "INFO", "join", "dashboard connected")
            self._arm(now)
            return self._flush()
        assert att.device_id is not None
        device = self.devices.get(att.device_id)
        resumed = device is not None
        if device is None:
            device = self.devices[att.device_id] = Device(att.device_id)
        replaced = device.socket_id
        self._release(device)
        device.status, device.socket_id, device.last_seen = ONLINE, att.socket_id, now
        if replaced is not None:
            # A newer connection wins; the old socket's late close is then ignored.
            self._close_socket(replaced, now, CLOSE_REPLACED, "replaced by a newer connection")
        if admission.resume_key is not None:
            device.resume_digest = invites_module.digest(admission.resume_key)
        self._touch(f"device:{device.id}")
        welcome: dict[str, Any] = {
            "swarmId": self.swarm_id,
            "role": DEVICE,
            "deviceId": device.id,
            "resumed": resumed,
            "registered": device.registered,
            "heartbeatSeconds": HEARTBEAT_SECONDS,
        }
        if admission.resume_key is not None:
            welcome["resumeKey"] = admission.resume_key
        self._send(att.socket_id, "WELCOME", welcome)
        self._log(
            now, "INFO", "join", f"device {device.id} {'reconnected' if resumed else 'joined'}"
        )
        self._arm(now)
        return self._flush()

    def close(self, socket_id: str, now: float) -> list[Effect]:
        """The socket closed or errored. Only the device's current socket takes it offline."""
        self._forget(socket_id, now, reason="disconnected")
        return self._flush()

    # ----------------------------------------------------------------------------------------
    # Messages
    # ----------------------------------------------------------------------------------------

    def message(self, socket_id: str, raw: str | bytes, now: float) -> list[Effect]:
        att = self.sockets.get(socket_id)
        if att is None:
            # Closed by this side (replaced, silent, too many invalid frames) or never admitted.
            self._send(
                socket_id,
                "ERROR",
                {"code": "stale_session", "message": "this connection was closed; reconnect"},
            )
            return self._flush()
        try:
            parsed = protocol.parse_message(raw)
        except protocol.ProtocolError as error:
            self._reject(att, now, error.code, error.message)
            return self._flush()
        if att.role == OBSERVER:
            self._reject(att, now, "forbidden", "dashboards cannot send device messages")
            return self._flush()
        # A device socket the coordinator still knows is its device's current one (see _forget).
        device = self.devices[att.device_id or ""]
        device.last_seen = now
        handler = self._HANDLERS[type(parsed)]
        handler(self, device, parsed, now)
        return self._flush()

    def _on_register(self, device: Device, msg: protocol.DeviceRegister, now: float) -> None:
        device.registered = True
        device.name, device.cpu_cores, device.memory_gb = msg.name, msg.cpu_cores, msg.memory_gb
        device.gpu_available, device.gpu_name = msg.gpu_available, msg.gpu_name
        device.demand = min(device.demand, self._free_slots(device))
        self._touch(f"device:{device.id}")
        self._send(
            device.socket_id,
            "REGISTERED",
            {"weight": round(device.weight, 1), "quota": device.quota},
        )
        self._log(
            now,
            "INFO",
            "device",
            f"device {device.id} registered as {msg.name!r} ({msg.cpu_cores} cores)",
        )

    def _on_heartbeat(self, device: Device, msg: protocol.Heartbeat, now: float) -> None:
        if msg.load is not None:
            device.load = msg.load

    def _on_job_request(self, device: Device, msg: protocol.JobRequest, now: float) -> None:
        if not device.registered:
            self._send(
                device.socket_id,
                "ERROR",
                {"code": "not_registered", "message": "send DEVICE_REGISTER first"},
            )
            return
        device.demand = min(msg.slots, self._free_slots(device))
        self._touch(f"device:{device.id}")
        if device.demand:
            self._waiting.add(device.id)
        self._dispatch()

    def _on_job_complete(self, device: Device, msg: protocol.JobComplete, now: float) -> None:
        chunk = self.chunks.get(msg.chunk_id)
        if chunk is None or chunk.assigned_to != device.id:
            # Normal after a reconnect: the chunk went back to the queue and may be elsewhere.
            self._send(
                device.socket_id,
                "ERROR",
                {
                    "code": "chunk_not_held",
                    "message": f"chunk {msg.chunk_id} is not assigned to this device",
                },
            )
            return
        device.active.discard(chunk.id)
        device.mean_chunk_ms = scheduler.next_mean(device.mean_chunk_ms, msg.duration_ms)
        self._touch(f"device:{device.id}", f"chunk:{chunk.id}")
        job = self.jobs.get(chunk.job_id)
        if msg.error is not None:
            chunk.attempts += 1
            device.failed += 1
            if chunk.attempts < MAX_ATTEMPTS:
                self._requeue(chunk)
                self._dispatch()
                return
            self.failed_total += 1
            if job is not None:
                job.failed += 1
            self._log(
                now,
                "WARN",
                "jobs",
                f"chunk {chunk.id[:8]} failed {MAX_ATTEMPTS} times: {msg.error[:100]}",
            )
        else:
            device.completed += 1
            self.done_total += 1
            if job is not None:
                job.done += 1
            self._count_completion(now)
        del self.chunks[chunk.id]
        self._touch("meta")
        if job is not None:
            self._touch(f"job:{job.id}")
            if job.done + job.failed == job.total:
                del self.jobs[job.id]
                self._finished_jobs.appendleft({**job.public(), "finished": True})
                self._log(
                    now,
                    "INFO",
                    "jobs",
                    f"job {job.id[:8]} finished: {job.done} done, {job.failed} failed",
                )

    def _on_benchmark(self, device: Device, msg: protocol.BenchmarkResult, now: float) -> None:
        device.ops_per_second = msg.ops_per_second
        self._touch(f"device:{device.id}")
        self._log(
            now, "INFO", "device", f"device {device.id} benchmark {msg.ops_per_second:.0f} ops/s"
        )

    _HANDLERS: ClassVar[dict[type, Callable[..., None]]] = {
        protocol.DeviceRegister: _on_register,
        protocol.Heartbeat: _on_heartbeat,
        protocol.JobRequest: _on_job_request,
        protocol.JobComplete: _on_job_complete,
        protocol.BenchmarkResult: _on_benchmark,
    }

    # ----------------------------------------------------------------------------------------
    # The alarm: liveness, expiry, broadcast
    # ----------------------------------------------------------------------------------------

    def alarm(self, now: float) -> list[Effect]:
        """Every :data:`BROADCAST_SECONDS` while any socket is open; never re-armed without one,
        so an empty swarm can hibernate (a 2 s alarm would keep it resident forever)."""
        self.alarm_at = None
        for device in list(self.devices.values()):
            silent = now - device.last_seen
            if device.status == ONLINE and silent > OFFLINE_AFTER_SECONDS:
                assert device.socket_id is not None
                self._close_socket(
                    device.socket_id, now, CLOSE_SILENT, f"silent for {silent:.0f} s"
                )
            elif device.status == OFFLINE and silent > REMOVE_AFTER_SECONDS:
                del self.devices[device.id]
                self._waiting.discard(device.id)
                self._touch(f"device:{device.id}")
                self._log(
                    now,
                    "INFO",
                    "device",
                    f"device {device.id} removed after {silent:.0f} s offline",
                )
        for d in self.invites.expire(now):
            self._touch(f"invite:{d}")
        self._broadcast_state(now)
        self._arm(now)
        return self._flush()

    def _broadcast_state(self, now: float) -> None:
        log = self._take_pending_log()
        observers = tuple(s for s, a in self.sockets.items() if a.role == OBSERVER)
        devices = tuple(s for s, a in self.sockets.items() if a.role == DEVICE)
        if observers:
            self._out.append(
                Broadcast(observers, protocol.encode("SNAPSHOT", self.snapshot(now, log=log)))
            )
        if devices:
            self._out.append(
                Broadcast(devices, protocol.encode("STATUS", self.status(now, log=log)))
            )

    def _arm(self, now: float) -> None:
        if self.sockets and self.alarm_at is None:
            self.alarm_at = now + BROADCAST_SECONDS
            self._out.append(SetAlarm(self.alarm_at))

    # ----------------------------------------------------------------------------------------
    # Views
    # ----------------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        return {
            "queued": len(self.queue),
            "assigned": len(self.chunks) - len(self.queue),
            "done": self.done_total,
            "failed": self.failed_total,
        }

    def throughput(self, now: float) -> float:
        """Chunks finished per second over the last minute."""
        horizon = int(now) - THROUGHPUT_WINDOW_SECONDS
        while self._completions and self._completions[0][0] <= horizon:
            self._completions.popleft()
        return sum(count for _, count in self._completions) / THROUGHPUT_WINDOW_SECONDS

    def status(self, now: float, *, log: list[dict[str, Any]]) -> dict[str, Any]:
        """The compact state every device receives: one serialisation for all of them."""
        online = sum(1 for d in self.devices.values() if d.status == ONLINE)
        return {
            "at": now,
            "devicesOnline": online,
            "queue": self.counts(),
            "throughput": self.throughput(now),
            "log": log,
        }

    def snapshot(self, now: float, *, log: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The dashboard's full view; the device list is capped, online devices first."""
        ordered = sorted(self.devices.values(), key=lambda d: (d.status != ONLINE, d.id))
        return {
            "swarmId": self.swarm_id,
            "at": now,
            "devices": [d.public() for d in ordered[:MAX_SNAPSHOT_DEVICES]],
            "devicesTotal": len(ordered),
            "devicesOnline": sum(1 for d in ordered if d.status == ONLINE),
            "queue": self.counts(),
            "jobs": [
                *(
                    {**j.public(), "finished": False}
                    for j in sorted(self.jobs.values(), key=lambda j: j.created_at)
                ),
                *self._finished_jobs,
            ],
            "throughput": self.throughput(now),
            "log": log if log is not None else [],
            "logDropped": self._log_dropped,
        }

    # ----------------------------------------------------------------------------------------
    # Persistence
    # ----------------------------------------------------------------------------------------

    def stored_value(self, key: str) -> str | None:
        """The current JSON of one storage key, or ``None`` when it must be deleted."""
        kind, _, ident = key.partition(":")
        if kind == "device":
            device = self.devices.get(ident)
            return device.to_json() if device else None
        if kind == "chunk":
            chunk = self.chunks.get(ident)
            return chunk.to_json() if chunk else None
        if kind == "job":
            job = self.jobs.get(ident)
            return job.to_json() if job else None
        if kind == "invite":
            invite = self.invites.invites.get(ident)
            return invite.to_json() if invite else None
        if key == "invites:recent":
            return json.dumps(self.invites.recent)
        if key == "meta":
            meta = {
                "swarm": self.swarm_id,
                "nextSeq": self.next_seq,
                "done": self.done_total,
                "failed": self.failed_total,
            }
            return json.dumps(meta)
        raise KeyError(key)

    @classmethod
    def restore(
        cls,
        swarm_id: str | None,
        stored: Mapping[str, str],
        attachments: Iterable[str],
        now: float,
        *,
        alarm_at: float | None,
        **kwargs: Any,
    ) -> tuple[Coordinator, list[Effect]]:
        """Rebuilds a swarm after eviction from its storage and its live sockets' attachments.

        ``swarm_id`` may be ``None`` when the waking event carries no URL; it is then read from
        storage, which holds it from the swarm's first event. Devices whose socket did not
        survive go offline and their chunks go back to the queue; sockets whose device has
        moved on are closed. The alarm is re-armed if sockets remain
        and none is set (a watchdog against lost alarms), and deleted if none remain.
        """
        if swarm_id is None:
            if "meta" not in stored:
                raise ValueError("this swarm has no stored state, so its id is unknown")
            swarm_id = json.loads(stored["meta"])["swarm"]
        self = cls(swarm_id, **kwargs)
        self._meta_stored = "meta" in stored
        for key, value in stored.items():
            kind, _, ident = key.partition(":")
            if kind == "device":
                self.devices[ident] = Device.from_json(value)
            elif kind == "chunk":
                self.chunks[ident] = Chunk.from_json(value)
            elif kind == "job":
                self.jobs[ident] = Job.from_json(value)
            elif kind == "invite":
                self.invites.invites[ident] = Invite.from_json(value)
            elif key == "invites:recent":
                self.invites.recent = json.loads(value)
            elif key == "meta":
                meta = json.loads(value)
                self.next_seq, self.done_total, self.failed_total = (
                    meta["nextSeq"],
                    meta["done"],
                    meta["failed"],
                )
        for text in attachments:
            try:
                att = Attachment.from_json(text)
            except (ValueError, KeyError, TypeError):
                continue
            self.sockets[att.socket_id] = att
        for chunk in self.chunks.values():
            holder = self.devices.get(chunk.assigned_to or "")
            if holder is None or holder.status != ONLINE:
                chunk.assigned_to = None
                self._touch(f"chunk:{chunk.id}")
            if chunk.assigned_to is None:
                self.queue.append((chunk.seq, chunk.id))
            else:
                holder.active.add(chunk.id)
        heapq.heapify(self.queue)
        for device in self.devices.values():
            if device.status == ONLINE and device.socket_id in self.sockets:
                device.last_seen = max(device.last_seen, now)
                if device.demand:
                    self._waiting.add(device.id)
            elif device.status == ONLINE:
                self._go_offline(device, now, reason="connection lost while the swarm was evicted")
        for socket_id, att in list(self.sockets.items()):
            device = self.devices.get(att.device_id or "")
            if att.role == DEVICE and (device is None or device.socket_id != socket_id):
                self._close_socket(socket_id, now, CLOSE_REPLACED, "session expired; reconnect")
        self.alarm_at = alarm_at
        if not self.sockets and alarm_at is not None:
            self.alarm_at = None
            self._out.append(DeleteAlarm())
        self._arm(now)
        self._dispatch()
        return self, self._flush()

    # ----------------------------------------------------------------------------------------
    # Internals
    # ----------------------------------------------------------------------------------------

    def _valid_invite(self, now: float, token: str | None) -> Invite:
        invite = self.invites.find(token, now) if token else None
        if invite is None:
            self._security(now, "invite_refused")
            raise self._refuse(401, "missing, unknown or expired invite token")
        return invite

    def _refuse(self, status: int, message: str) -> Refused:
        return Refused(status, message, self._flush())

    def _spend(self, invite: Invite) -> None:
        self.invites.use(invite)
        self._touch(f"invite:{invite.digest}")

    def _close_socket(self, socket_id: str, now: float, code: int, reason: str) -> None:
        self._out.append(CloseSocket(socket_id, code, reason))
        self._forget(socket_id, now, reason=reason)

    def _forget(self, socket_id: str, now: float, *, reason: str) -> None:
        """Drops a socket; if it was its device's current one, the device goes offline. The
        alarm goes with the last socket, so the object can hibernate."""
        att = self.sockets.pop(socket_id, None)
        self._strikes.pop(socket_id, None)
        if att is not None and att.device_id is not None:
            device = self.devices.get(att.device_id)
            if device is not None and device.socket_id == socket_id:
                self._go_offline(device, now, reason=reason)
        if not self.sockets and self.alarm_at is not None:
            self.alarm_at = None
            self._out.append(DeleteAlarm())

    def _free_slots(self, device: Device) -> int:
        return max(0, device.quota - len(device.active))

    def _go_offline(self, device: Device, now: float, *, reason: str) -> None:
        device.status, device.socket_id = OFFLINE, None
        self._log(now, "WARN", "device", f"device {device.id} offline: {reason}")
        self._release(device)

    def _release(self, device: Device) -> None:
        """Puts ``device``'s chunks back in the queue and drops its standing request: it went
        offline, or a new session starts from nothing."""
        for chunk_id in sorted(device.active):
            self._requeue(self.chunks[chunk_id])
        device.active.clear()
        device.demand = 0
        self._waiting.discard(device.id)
        self._touch(f"device:{device.id}")
        self._dispatch()

    def _requeue(self, chunk: Chunk) -> None:
        holder = self.devices.get(chunk.assigned_to or "")
        if holder is not None:
            holder.active.discard(chunk.id)
        chunk.assigned_to = None
        heapq.heappush(self.queue, (chunk.seq, chunk.id))
        self._touch(f"chunk:{chunk.id}")

    def _dispatch(self) -> None:
        """Serves standing requests from the queue, shared by weight (see scheduler)."""
        if not self.queue or not self._waiting:
            return
        demands = [
            (d.id, d.weight, d.demand) for d in map(self.devices.__getitem__, sorted(self._waiting))
        ]
        for device_id, granted in scheduler.allocate(len(self.queue), demands).items():
            device = self.devices[device_id]
            batch = []
            for _ in range(granted):
                _, chunk_id = heapq.heappop(self.queue)
                chunk = self.chunks[chunk_id]
                chunk.assigned_to = device.id
                device.active.add(chunk_id)
                self._touch(f"chunk:{chunk_id}")
                batch.append(chunk.public())
            device.demand -= granted
            if device.demand == 0:
                self._waiting.discard(device.id)
            self._touch(f"device:{device.id}")
            self._send(device.socket_id, "JOB_ASSIGN", {"chunks": batch})

    def _count_completion(self, now: float) -> None:
        second = int(now)
        if self._completions and self._completions[-1][0] == second:
            self._completions[-1][1] += 1
        else:
            self._completions.append([second, 1])

    def _reject(self, att: Attachment, now: float, code: str, message: str) -> None:
        self._send(att.socket_id, "ERROR", {"code": code, "message": message})
        self._security(
            now,
            "invalid_message",
            code=code,
            detail=message,
            socketId=att.socket_id,
            deviceId=att.device_id,
        )
        strikes = self._strikes[att.socket_id] = self._strikes.get(att.socket_id, 0) + 1
        if strikes == MAX_STRIKES:
            self._close_socket(att.socket_id, now, CLOSE_POLICY, "too many invalid messages")

    def _send(self, socket_id: str | None, kind: str, payload: Mapping[str, Any]) -> None:
        if socket_id is not None:
            self._out.append(Send(socket_id, protocol.encode(kind, payload)))

    def _security(self, now: float, event: str, **fields: Any) -> None:
        self._out.append(
            Log(
                {
                    "at": now,
                    "level": "WARN",
                    "category": "SECURITY",
                    "swarm": self.swarm_id,
                    "event": event,
                    **fields,
                }
            )
        )

    def _log(self, now: float, level: str, category: str, message: str) -> None:
        line = {"at": now, "level": level, "category": category, "message": message}
        self._log_kept.append(line)
        if len(self._log_pending) < LOG_LINES_PER_TICK:
            self._log_pending.append(line)
        else:
            self._log_dropped += 1
        self._out.append(Log({**line, "swarm": self.swarm_id}))

    def _take_pending_log(self) -> list[dict[str, Any]]:
        pending, self._log_pending = self._log_pending, []
        return pending

    def _touch(self, *keys: str) -> None:
        self._dirty.update(keys)

    def _flush(self) -> list[Effect]:
        """Ends an event: its effects, led by its storage writes folded into one Persist."""
        out, self._out = self._out, []
        if self._dirty and not self._meta_stored:
            self._dirty.add("meta")
            self._meta_stored = True
        if self._dirty:
            put: dict[str, str] = {}
            delete: list[str] = []
            for key in sorted(self._dirty):
                value = self.stored_value(key)
                if value is None:
                    delete.append(key)
                else:
                    put[key] = value
            self._dirty = set()
            # First, so a host that awaits it never sends news a crash could still lose.
            out.insert(0, Persist(put, tuple(delete)))
        return out
