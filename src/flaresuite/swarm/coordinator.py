"""One swarm's state machine: events in, effects out.

Events are :meth:`Coordinator.admit` (the HTTP upgrade), :meth:`~Coordinator.connect`,
:meth:`~Coordinator.message`, :meth:`~Coordinator.close` and :meth:`~Coordinator.alarm`, plus
the owner's :meth:`~Coordinator.issue_invite`, :meth:`~Coordinator.submit_job` and
:meth:`~Coordinator.command`. Each takes ``now`` (seconds since the epoch) from the host, so
tests drive time, and returns the :mod:`~flaresuite.swarm.effects` the host must apply. Nothing
here awaits: an event is applied whole or (on bad input) not at all.

The coordinator is the only owner of a swarm's state and the only place it changes. What only
reads or checks it lives beside it as plain functions and small classes: :mod:`.refusals`
(requests refused before anything changes), :mod:`.liveness` (when a device counts as gone),
:mod:`.verification` (which results are checked), :mod:`.scheduler` (who gets work),
:mod:`.views` (what dashboards and devices are shown) and :mod:`.persistence` (the storage
keys, and reading them back after an eviction).

Sockets speak one of two wire formats (:mod:`.protocol` or :mod:`.ostrich`), chosen at the
upgrade and carried in the socket's attachment. Both parse into the same
:mod:`.messages`, and the coordinator addresses every socket with the same notes (``WELCOME``,
``JOB_ASSIGN``, ``SNAPSHOT``...), which the socket's format encodes: one state machine, two
wire formats.

Guarantees (docs/swarm.md, tested in tests/swarm/test_coordinator_properties.py):

- every chunk is queued, held by exactly one online device, or finished, and is finished once;
- a device is never both online and removed;
- a close (or a message) from a socket that is no longer its device's socket changes nothing,
  so a late close after a reconnect cannot take the device offline (the seed's bug);
- a socket the coordinator closes is forgotten at once, not when its close event arrives: a
  peer that went silent may never answer, and a remembered socket keeps the alarm running;
- every frame is counted against its socket's budget and validated before it has any effect,
  and a bad one costs the sender an ``ERROR`` reply and the swarm a ``SECURITY`` log line,
  never a crash.
"""

from __future__ import annotations

import heapq
import hmac
import secrets
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from flaresuite.swarm import invites as invites_module
from flaresuite.swarm import (
    liveness,
    ostrich,
    persistence,
    protocol,
    scheduler,
    verification,
    views,
)
from flaresuite.swarm.effects import (
    Broadcast,
    CloseSocket,
    DeleteAlarm,
    Effect,
    Log,
    Send,
    SetAlarm,
)
from flaresuite.swarm.invites import Invite, InviteBook, IssuedInvite
from flaresuite.swarm.messages import (
    INVITEE_COMMANDS,
    MAX_THROTTLE,
    MIN_THROTTLE,
    RUNNING,
    STOPPED,
    Activity,
    BenchmarkResult,
    Command,
    DeviceRegister,
    Heartbeat,
    JobComplete,
    JobRequest,
    ProtocolError,
    RequestInvite,
    SetDeviceEnabled,
    SetInviteeCommands,
    SetRunState,
    SetThrottle,
    Wire,
)
from flaresuite.swarm.model import (
    DEVICE,
    OBSERVER,
    OFFLINE,
    ONLINE,
    Attachment,
    Chunk,
    Device,
    Job,
)
from flaresuite.swarm.ratelimit import FrameBudget
from flaresuite.swarm.refusals import Refused, check_device_id, check_job

BROADCAST_SECONDS = 2.0
MAX_ATTEMPTS = 3
"""A chunk that reports an error is retried until it has failed this many times."""
MAX_STRIKES = 20
"""Invalid frames a socket may send before it is closed (1008, policy violation)."""
OSTRICH_CODE_CHARS = invites_module.MIN_CODE_CHARS
"""Codes the Ostrich-Legs client asks for must fit its 6-character code box, which is what
sets the shortest code (:data:`~flaresuite.swarm.invites.MIN_CODE_CHARS`)."""

CLOSE_REPLACED = 4000
CLOSE_SILENT = 4001
CLOSE_POLICY = 1008

WIRES: dict[str, Wire] = {protocol.NAME: protocol.WIRE, ostrich.NAME: ostrich.WIRE}

_Obeyable = SetRunState | SetThrottle | SetDeviceEnabled | SetInviteeCommands
"""The commands that change the swarm's settings: every :data:`Command` but a member's request
for an invite."""


@dataclass(frozen=True, slots=True)
class Admission:
    """A successful :meth:`Coordinator.admit`: the host upgrades, stores ``attachment`` on the
    socket, then calls :meth:`Coordinator.connect` with this."""

    attachment: Attachment
    resume_key: str | None
    """Issued on a token join: the device's secret for reconnecting without a new invite."""


class Coordinator:
    def __init__(
        self,
        swarm_id: str,
        *,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        new_secret: Callable[[], str] = lambda: secrets.token_urlsafe(32),
        new_code: Callable[[int], str] = invites_module.random_code,
        sample: Callable[[], float] = verification.unpredictable,
    ) -> None:
        self.swarm_id = swarm_id
        self._new_id = new_id
        self._new_secret = new_secret
        self._new_code = new_code
        self._sample = sample
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
        self.run_state = RUNNING
        """RUNNING hands out work; PAUSED hands out none and lets held chunks finish; STOPPED
        also takes held chunks back (they go out first on the next start)."""
        self.throttle = MAX_THROTTLE
        """Percent of each device's quota it may hold at once."""
        self.invitee_commands: frozenset[str] = frozenset()
        """Commands members may send over their sockets (see messages.INVITEE_COMMANDS)."""
        self.alarm_at: float | None = None
        self._strikes: dict[str, int] = {}
        self._budgets: dict[str, FrameBudget] = {}
        self._waiting: set[str] = set()
        """Enabled devices with a standing request."""
        self._finished_jobs: deque[dict[str, Any]] = deque(maxlen=views.FINISHED_JOBS_SHOWN)
        """The dashboard's view of recently finished jobs (memory only: jobs are deleted)."""
        self._system_log = views.SystemLog()
        self._throughput = views.Throughput()
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

    def issue_invite(
        self, now: float, *, multi_use: bool, code_chars: int | None = None
    ) -> tuple[IssuedInvite, list[Effect]]:
        """A token, or a code of ``code_chars`` characters. Raises :class:`Refused` (429) past
        the rate limit, changing nothing."""
        try:
            issued = self._issue(now, multi_use=multi_use, code_chars=code_chars)
        except invites_module.RateLimited as limited:
            raise self._refuse(429, str(limited)) from None
        return issued, self._flush()

    def submit_job(
        self, now: float, *, kind: str, chunks: int, ops_per_chunk: int
    ) -> tuple[Job, list[Effect]]:
        """Queues a job of ``chunks`` chunks. Raises :class:`Refused` (400, or 409 when the
        swarm cannot hold them), changing nothing."""
        check_job(kind, chunks, ops_per_chunk, unfinished=len(self.chunks))
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

    def command(self, *commands: Command, now: float) -> list[Effect]:
        """The owner's commands (over HTTP with the bearer token), applied in order, then told
        to every socket once. Raises :class:`Refused` (400 or 404), changing nothing, when any
        one of them cannot be applied: every command is checked before the first is obeyed."""
        checked = [self._check(command) for command in commands]
        for command in checked:
            self._obey(command, now)
        self._announce(now)
        return self._flush()

    def settings(self) -> dict[str, Any]:
        """What the owner's commands set, as the dashboard and the owner routes show it."""
        return {
            "runState": self.run_state,
            "throttle": self.throttle,
            "inviteeCommands": sorted(self.invitee_commands),
        }

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
        wire: str = protocol.NAME,
    ) -> tuple[Admission, list[Effect]]:
        """Decides an upgrade before it happens; raises :class:`Refused` (400/401/409/429).

        Devices join with an invite ``token`` or come back with the ``resume_key`` they were
        given. A token cannot take over a device that is online (that needs its resume key);
        a single-use token is spent only when the join is accepted. The Ostrich-Legs format has
        no resume key, and its device id is its only identity, so an Ostrich-Legs join replaces
        an online Ostrich-Legs session of the same id (the same browser reconnecting).
        """
        socket_id = self._new_id()
        if observer:
            invite = self._valid_invite(now, token)
            self._spend(invite)
            attachment = Attachment(socket_id, OBSERVER, None, now, wire)
            return Admission(attachment, None), self._flush()
        device_id = check_device_id(device_id)
        device = self.devices.get(device_id)
        attachment = Attachment(socket_id, DEVICE, device_id, now, wire)
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
            return Admission(attachment, None), self._flush()
        invite = self._valid_invite(now, token)
        if (
            device is not None
            and device.status == ONLINE
            and not liveness.may_take_over(device, wire, now)
        ):
            self._security(now, "join_conflict", deviceId=device_id)
            raise self._refuse(
                409, "this deviceId is online; reconnect with its resume key or pick another id"
            )
        self._spend(invite)
        key = self._new_secret() if wire == protocol.NAME else None
        return Admission(attachment, key), self._flush()

    def connect(self, admission: Admission, now: float) -> list[Effect]:
        """The socket is open and carries ``admission.attachment``."""
        att = admission.attachment
        self.sockets[att.socket_id] = att
        self._budgets[att.socket_id] = FrameBudget(now)
        if att.role == OBSERVER:
            self._send(att.socket_id, "WELCOME", {"swarmId": self.swarm_id, "role": OBSERVER})
            snapshot = self.snapshot(now, log=list(self._system_log.kept))
            self._send(att.socket_id, "SNAPSHOT", snapshot)
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
        device.wire = att.wire
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
            "heartbeatSeconds": liveness.HEARTBEAT_SECONDS,
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
            self._error(socket_id, now, "stale_session", "this connection was closed; reconnect")
            return self._flush()
        # A device socket the coordinator still knows is its device's current one (see
        # _forget). Any frame shows the peer is alive, even one the budget then drops.
        device = self.devices[att.device_id] if att.device_id is not None else None
        if device is not None:
            device.last_seen = now
        budget = self._budgets[socket_id]
        if not budget.take(now):
            self._drop(att, budget, now)
            return self._flush()
        try:
            parsed = WIRES[att.wire].parse(raw)
        except ProtocolError as error:
            self._reject(att, now, error.code, error.message)
            return self._flush()
        if device is None:
            self._reject(att, now, "forbidden", "dashboards cannot send device messages")
        elif isinstance(parsed, Command):
            self._member_command(device, parsed, now)
        else:
            self._HANDLERS[type(parsed)](self, device, parsed, now)
        return self._flush()

    def _on_register(self, device: Device, msg: DeviceRegister, now: float) -> None:
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
        self._send(device.socket_id, "CONTROL", self._control(device))
        # Right away, not at the next tick: the Ostrich-Legs client builds its compute pool
        # from the first snapshot and drops any job that arrives before it.
        self._send_view(device, now)
        self._log(
            now,
            "INFO",
            "device",
            f"device {device.id} registered as {msg.name!r} ({msg.cpu_cores} cores)",
        )

    def _on_heartbeat(self, device: Device, msg: Heartbeat, now: float) -> None:
        if msg.load is not None:
            device.load = msg.load

    def _on_activity(self, device: Device, msg: Activity, now: float) -> None:
        """Nothing to do: the frame already counted as a sign of life."""

    def _on_job_request(self, device: Device, msg: JobRequest, now: float) -> None:
        if not device.registered:
            self._error(device.socket_id, now, "not_registered", "send DEVICE_REGISTER first")
            return
        device.demand = min(msg.slots, self._free_slots(device))
        self._touch(f"device:{device.id}")
        if device.demand and device.enabled:
            self._waiting.add(device.id)
        self._dispatch()

    def _on_job_complete(self, device: Device, msg: JobComplete, now: float) -> None:
        chunk = self.chunks.get(msg.chunk_id)
        if chunk is None or chunk.assigned_to != device.id:
            # Normal after a reconnect or a recall: the chunk went back to the queue.
            self._error(
                device.socket_id,
                now,
                "chunk_not_held",
                f"chunk {msg.chunk_id} is not assigned to this device",
            )
            return
        assert device.socket_id is not None
        self._budgets[device.socket_id].refund()
        device.active.discard(chunk.id)
        if msg.duration_ms is not None:
            device.mean_chunk_ms = scheduler.next_mean(device.mean_chunk_ms, msg.duration_ms)
        self._touch(f"device:{device.id}", f"chunk:{chunk.id}")
        if (
            msg.error is None
            and msg.result is not None
            and verification.needs_check(device, self._sample)
        ):
            if not verification.is_right(chunk, msg.result):
                self._wrong_result(device, chunk, now)
                self._dispatch()
                return
            device.verified += 1
        if msg.error is not None:
            self._chunk_failed(device, chunk, msg.error, now)
            self._dispatch()
        else:
            device.completed += 1
            self.done_total += 1
            self._throughput.count(now)
            self._finish(chunk, now, failed=False)

    def _on_benchmark(self, device: Device, msg: BenchmarkResult, now: float) -> None:
        device.ops_per_second = msg.ops_per_second
        self._touch(f"device:{device.id}")
        self._log(
            now, "INFO", "device", f"device {device.id} benchmark {msg.ops_per_second:.0f} ops/s"
        )

    _HANDLERS: ClassVar[dict[type, Callable[..., None]]] = {
        DeviceRegister: _on_register,
        Heartbeat: _on_heartbeat,
        Activity: _on_activity,
        JobRequest: _on_job_request,
        JobComplete: _on_job_complete,
        BenchmarkResult: _on_benchmark,
    }

    # ----------------------------------------------------------------------------------------
    # Results
    # ----------------------------------------------------------------------------------------

    def _wrong_result(self, device: Device, chunk: Chunk, now: float) -> None:
        """The chunk goes back to the queue as if never run (the fault is the device's, not
        the chunk's, so it costs no attempt), and the device is a step closer to disabled."""
        device.rejected += 1
        self._requeue(chunk)
        self._error(device.socket_id, now, "wrong_result", f"chunk {chunk.id} has a wrong result")
        self._security(now, "wrong_result", deviceId=device.id, chunkId=chunk.id)
        if device.rejected == verification.MAX_WRONG and device.enabled:
            self._log(
                now,
                "WARN",
                "device",
                f"device {device.id} disabled: {verification.MAX_WRONG} wrong results",
            )
            self._set_enabled(device, False, now)

    def _chunk_failed(self, device: Device, chunk: Chunk, error: str, now: float) -> None:
        chunk.attempts += 1
        device.failed += 1
        if chunk.attempts < MAX_ATTEMPTS:
            self._requeue(chunk)
            return
        self.failed_total += 1
        self._log(
            now, "WARN", "jobs", f"chunk {chunk.id[:8]} failed {MAX_ATTEMPTS} times: {error[:100]}"
        )
        self._finish(chunk, now, failed=True)

    def _finish(self, chunk: Chunk, now: float, *, failed: bool) -> None:
        del self.chunks[chunk.id]
        self._touch("meta")
        job = self.jobs.get(chunk.job_id)
        if job is None:
            return
        if failed:
            job.failed += 1
        else:
            job.done += 1
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

    # ----------------------------------------------------------------------------------------
    # Commands: the owner's, and members' where the owner allows them
    # ----------------------------------------------------------------------------------------

    def _member_command(self, device: Device, command: Command, now: float) -> None:
        name = INVITEE_COMMANDS.get(type(command))
        if name is None or name not in self.invitee_commands:
            self._security(
                now, "command_refused", deviceId=device.id, command=type(command).__name__
            )
            self._error(
                device.socket_id,
                now,
                "forbidden",
                "the swarm's owner has not allowed members this command",
            )
            if isinstance(command, RequestInvite):
                self._send(device.socket_id, "INVITE", {"code": ""})
            return
        if isinstance(command, RequestInvite):
            self._share_code(device, now)
            return
        try:
            checked = self._check(command)
        except Refused as refused:
            self._error(device.socket_id, now, "not_found", refused.message)
            return
        self._obey(checked, now)
        self._announce(now)
        self._log(now, "INFO", "control", f"device {device.id} sent {type(command).__name__}")

    def _share_code(self, device: Device, now: float) -> None:
        """A member's request for a code to share: a multi-use code, if the rate limit allows.
        The Ostrich-Legs client shows ``""`` as "generating", so a refusal also explains."""
        try:
            code = self._issue(now, multi_use=True, code_chars=OSTRICH_CODE_CHARS).token
        except invites_module.RateLimited as limited:
            self._error(device.socket_id, now, "rate_limited", str(limited))
            code = ""
        self._send(device.socket_id, "INVITE", {"code": code})

    def _issue(self, now: float, *, multi_use: bool, code_chars: int | None) -> IssuedInvite:
        secret = self._new_secret() if code_chars is None else self._new_code(code_chars)
        try:
            invite = self.invites.issue(secret, now, multi_use=multi_use)
        except invites_module.RateLimited as limited:
            self._security(now, "invite_rate_limited", retryAfter=round(limited.retry_after, 1))
            raise
        self._touch(f"invite:{invite.digest}", "invites:recent")
        form = "token" if code_chars is None else "code"
        self._log(
            now, "INFO", "invite", f"{'multi' if multi_use else 'single'}-use invite {form} issued"
        )
        return IssuedInvite(secret, invite.expires_at, multi_use, code=code_chars is not None)

    def _check(self, command: Command) -> _Obeyable:
        """Raises :class:`Refused` (400 or 404) for a command that cannot be applied, before
        anything has changed; what it returns, :meth:`_obey` applies without refusing."""
        if isinstance(command, RequestInvite):
            raise Refused(400, "that command is for members only")
        if isinstance(command, SetThrottle) and not MIN_THROTTLE <= command.percent <= MAX_THROTTLE:
            raise Refused(400, f"throttle must be between {MIN_THROTTLE} and {MAX_THROTTLE}")
        if isinstance(command, SetDeviceEnabled):
            self._device_named(command.device_id)
        return command

    def _obey(self, command: _Obeyable, now: float) -> None:
        """Applies a command :meth:`_check` passed; it never refuses."""
        if isinstance(command, SetRunState):
            self._set_run_state(command.state, now)
        elif isinstance(command, SetThrottle):
            self.throttle = command.percent
            self._touch("meta")
            self._log(now, "INFO", "control", f"throttle set to {command.percent} %")
        elif isinstance(command, SetDeviceEnabled):
            self._set_enabled(self.devices[command.device_id], command.enabled, now)
        else:
            self.invitee_commands = command.allowed
            self._touch("meta")
            allowed = ", ".join(sorted(command.allowed)) or "none"
            self._log(now, "INFO", "control", f"members may send: {allowed}")

    def _announce(self, now: float) -> None:
        """Every socket hears of a change at once (the Ostrich-Legs client asks for work when a
        snapshot shows the swarm RUNNING again), and waiting devices are served."""
        for att in self.sockets.values():
            device = self.devices.get(att.device_id or "")
            if device is not None:
                self._send(att.socket_id, "CONTROL", self._control(device))
        self._broadcast_state(now)
        self._dispatch()

    def _device_named(self, device_id: str) -> Device:
        device = self.devices.get(device_id)
        if device is None:
            raise Refused(404, f"no device {device_id[:64]!r} in this swarm")
        return device

    def _set_run_state(self, state: str, now: float) -> None:
        if state == self.run_state:
            return
        self.run_state = state
        self._touch("meta")
        self._log(now, "INFO", "control", f"swarm {state.lower()}")
        if state == STOPPED:
            for device in self.devices.values():
                self._recall(device, "the swarm was stopped")

    def _set_enabled(self, device: Device, enabled: bool, now: float) -> None:
        if device.enabled == enabled:
            return
        device.enabled = enabled
        self._touch(f"device:{device.id}")
        self._log(now, "INFO", "control", f"device {device.id} {'en' if enabled else 'dis'}abled")
        if enabled:
            if device.demand:
                self._waiting.add(device.id)
        else:
            self._waiting.discard(device.id)
            self._recall(device, "the device was disabled")

    def _recall(self, device: Device, reason: str) -> None:
        """Takes ``device``'s chunks back; they go out first when work is handed out again."""
        if not device.active:
            return
        recalled = sorted(device.active)
        for chunk_id in recalled:
            self._requeue(self.chunks[chunk_id])
        self._touch(f"device:{device.id}")
        self._send(device.socket_id, "JOB_CANCEL", {"chunkIds": recalled, "reason": reason})

    def _control(self, device: Device) -> dict[str, Any]:
        return {"runState": self.run_state, "throttle": self.throttle, "enabled": device.enabled}

    # ----------------------------------------------------------------------------------------
    # The alarm: liveness, expiry, broadcast
    # ----------------------------------------------------------------------------------------

    def alarm(self, now: float) -> list[Effect]:
        """Every :data:`BROADCAST_SECONDS` while any socket is open; never re-armed without one,
        so an empty swarm can hibernate (a 2 s alarm would keep it resident forever)."""
        self.alarm_at = None
        for device in list(self.devices.values()):
            silent = now - device.last_seen
            if liveness.is_lost(device, now):
                assert device.socket_id is not None
                self._close_socket(
                    device.socket_id, now, CLOSE_SILENT, f"silent for {silent:.0f} s"
                )
            elif liveness.is_expired(device, now):
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
        log = self._system_log.take_pending()
        groups: dict[tuple[str, str], list[str]] = {}
        for socket_id, att in self.sockets.items():
            view = "SNAPSHOT" if att.role == OBSERVER else WIRES[att.wire].device_view
            groups.setdefault((att.wire, view), []).append(socket_id)
        snapshot: dict[str, Any] | None = None
        for (wire, view), socket_ids in groups.items():
            if view == "SNAPSHOT":
                snapshot = snapshot or self.snapshot(now, log=log)
                payload = snapshot
            else:
                payload = self.status(now, log=log)
            for text in WIRES[wire].encode(view, payload):
                self._out.append(Broadcast(tuple(socket_ids), text))

    def _send_view(self, device: Device, now: float) -> None:
        if WIRES[device.wire].device_view == "SNAPSHOT":
            self._send(device.socket_id, "SNAPSHOT", self.snapshot(now))
        else:
            self._send(device.socket_id, "STATUS", self.status(now, log=[]))

    def _arm(self, now: float) -> None:
        if self.sockets and self.alarm_at is None:
            self.alarm_at = now + BROADCAST_SECONDS
            self._out.append(SetAlarm(self.alarm_at))

    # ----------------------------------------------------------------------------------------
    # Views
    # ----------------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        return views.counts(
            queued=len(self.queue),
            unfinished=len(self.chunks),
            done=self.done_total,
            failed=self.failed_total,
        )

    def status(self, now: float, *, log: list[dict[str, Any]]) -> dict[str, Any]:
        return views.status(
            now,
            devices=self.devices.values(),
            queue=self.counts(),
            throughput=self._throughput.rate(now),
            run_state=self.run_state,
            throttle=self.throttle,
            log=log,
        )

    def snapshot(self, now: float, *, log: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return views.snapshot(
            self.swarm_id,
            now,
            settings=self.settings(),
            devices=self.devices.values(),
            queue=self.counts(),
            jobs=self.jobs.values(),
            finished_jobs=self._finished_jobs,
            throughput=self._throughput.rate(now),
            log=log if log is not None else [],
            log_dropped=self._system_log.dropped,
        )

    # ----------------------------------------------------------------------------------------
    # Persistence
    # ----------------------------------------------------------------------------------------

    def stored_value(self, key: str) -> str | None:
        """The current JSON of one storage key, or ``None`` when it must be deleted."""
        return persistence.stored_value(key, self)

    def meta(self) -> persistence.Meta:
        """What the ``meta`` key holds."""
        return persistence.Meta(
            self.swarm_id,
            self.next_seq,
            self.done_total,
            self.failed_total,
            self.run_state,
            self.throttle,
            self.invitee_commands,
        )

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
        saved = persistence.read(stored)
        if swarm_id is None:
            if saved.meta is None:
                raise ValueError("this swarm has no stored state, so its id is unknown")
            swarm_id = saved.meta.swarm_id
        self = cls(swarm_id, **kwargs)
        self.devices, self.jobs, self.chunks = saved.devices, saved.jobs, saved.chunks
        self.invites = saved.invites
        meta = saved.meta
        if meta is not None:
            self._meta_stored = True
            self.next_seq = meta.next_seq
            self.done_total, self.failed_total = meta.done, meta.failed
            self.run_state, self.throttle = meta.run_state, meta.throttle
            self.invitee_commands = meta.invitee_commands
        for text in attachments:
            try:
                att = Attachment.from_json(text)
            except (ValueError, KeyError, TypeError):
                continue
            self.sockets[att.socket_id] = att
            self._budgets[att.socket_id] = FrameBudget(now)
        for chunk in self.chunks.values():
            holder = self.devices.get(chunk.assigned_to or "")
            if holder is not None and holder.status == ONLINE:
                holder.active.add(chunk.id)
                continue
            if chunk.assigned_to is not None:  # held by a device that is gone: queue it again
                chunk.assigned_to = None
                self._touch(f"chunk:{chunk.id}")
            self.queue.append((chunk.seq, chunk.id))
        heapq.heapify(self.queue)
        for device in self.devices.values():
            if device.status == ONLINE and device.socket_id in self.sockets:
                device.last_seen = max(device.last_seen, now)
                if device.demand and device.enabled:
                    self._waiting.add(device.id)
            elif device.status == ONLINE:
                self._go_offline(device, now, reason="connection lost while the swarm was evicted")
        for socket_id, att in list(self.sockets.items()):
            owner = self.devices.get(att.device_id or "")
            if att.role == DEVICE and (owner is None or owner.socket_id != socket_id):
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
        try:
            invite = self.invites.find(token, now) if token else None
        except invites_module.RateLimited as limited:
            self._security(now, "invite_guesses_limited", retryAfter=round(limited.retry_after, 1))
            raise self._refuse(429, str(limited)) from None
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
        self._budgets.pop(socket_id, None)
        if att is not None and att.device_id is not None:
            device = self.devices.get(att.device_id)
            if device is not None and device.socket_id == socket_id:
                self._go_offline(device, now, reason=reason)
        if not self.sockets and self.alarm_at is not None:
            self.alarm_at = None
            self._out.append(DeleteAlarm())

    def _free_slots(self, device: Device) -> int:
        return max(0, scheduler.throttled(device.quota, self.throttle) - len(device.active))

    def _go_offline(self, device: Device, now: float, *, reason: str) -> None:
        device.status, device.socket_id = OFFLINE, None
        self._log(now, "WARN", "device", f"device {device.id} offline: {reason}")
        self._release(device)

    def _release(self, device: Device) -> None:
        """Puts ``device``'s chunks back in the queue and drops its standing request: it went
        offline, or a new session starts from nothing."""
        for chunk_id in sorted(device.active):
            self._requeue(self.chunks[chunk_id])
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
        if self.run_state != RUNNING or not self.queue or not self._waiting:
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

    def _drop(self, att: Attachment, budget: FrameBudget, now: float) -> None:
        """A frame over the socket's budget: dropped unread, one warning per episode."""
        warn, close = budget.drop(now)
        if warn:
            self._error(att.socket_id, now, "rate_limited", "too many frames; some were dropped")
            self._security(now, "rate_limited", socketId=att.socket_id, deviceId=att.device_id)
        if close:
            self._security(now, "flooding", socketId=att.socket_id, deviceId=att.device_id)
            self._close_socket(att.socket_id, now, CLOSE_POLICY, "too many frames")

    def _reject(self, att: Attachment, now: float, code: str, message: str) -> None:
        self._error(att.socket_id, now, code, message)
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
        """Addresses a note to one socket in its own wire format."""
        if socket_id is None:
            return
        att = self.sockets.get(socket_id)
        wire = WIRES[att.wire if att is not None else protocol.NAME]
        for text in wire.encode(kind, payload):
            self._out.append(Send(socket_id, text))

    def _error(self, socket_id: str | None, now: float, code: str, message: str) -> None:
        """An ``ERROR`` note. It carries the time, which the Ostrich-Legs client shows with
        each line."""
        self._send(socket_id, "ERROR", {"code": code, "message": message, "at": now})

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
        self._system_log.add(line)
        self._out.append(Log({**line, "swarm": self.swarm_id}))

    def _touch(self, *keys: str) -> None:
        self._dirty.update(keys)

    def _flush(self) -> list[Effect]:
        """Ends an event: its effects, led by its storage writes folded into one Persist."""
        out, self._out = self._out, []
        if self._dirty and not self._meta_stored:
            self._dirty.add(persistence.META)
            self._meta_stored = True
        if self._dirty:
            # First, so a host that awaits it never sends news a crash could still lose.
            out.insert(0, persistence.writes(self._dirty, self))
            self._dirty = set()
        return out
