"""The orchestrator Worker's behaviour: cron runs, ``GET /health`` and ``POST /trigger``.

* A cron run's mode is the one configured for ``controller.cron`` (:mod:`.modes`).
* Every run takes the KV lock (:mod:`.lock`). A scheduled FULL run finding an INCREMENTAL run
  in progress waits for it (up to ``GLEAN_FULL_LOCK_WAIT``), so the daily FULL is never lost
  to the hourly run that fires in the same minute; a scheduled run finding a FULL in progress
  is skipped, since the FULL covers it. ``POST /trigger`` never waits: it answers 409.
* Each run's outcome is the mode's last run record in KV (:mod:`.state`).
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urlsplit

from flaresuite.auth import bearer_token, token_matches
from flaresuite.glean.config import ConfigError, GleanConfig, parse_config
from flaresuite.glean.direct import DirectSync
from flaresuite.glean.lock import KvLock, LockBusy, LockHolder
from flaresuite.glean.modes import (
    InvalidMode,
    Mode,
    UnknownCron,
    mode_for_cron,
    parse_mode,
)
from flaresuite.glean.orchestrator import run_backend
from flaresuite.glean.retry import DEFAULT_RETRY_POLICY, Retrying, RetryPolicy, Sleep
from flaresuite.glean.state import RunRecord, SpacedWrites, SyncState, iso_utc
from flaresuite.http import (
    HttpFetch,
    HttpRequest,
    HttpResponse,
    error_response,
    json_response,
)
from flaresuite.logs import Log, json_log
from flaresuite.ports import Clock, KeyValue, SystemClock

KV_BINDING = "GLEAN_STATE"
"""The KV namespace binding the entry module passes in (``wrangler.toml``)."""

MAX_TRIGGER_BODY = 1024

CHECKPOINT_OVERLAP = 60
"""Seconds an INCREMENTAL run looks back before its checkpoint, for changes a source commits
with a slightly earlier timestamp than it makes them visible."""

LOCK_POLL_INTERVAL = 5.0


class RunFailed(Exception):
    """A scheduled run ended in error; raised so the cron execution is marked failed."""


class GleanApp:
    def __init__(
        self,
        env: Mapping[str, str],
        kv: KeyValue | None,
        fetch: HttpFetch,
        *,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        log: Log = json_log,
        policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    ) -> None:
        errors: list[str] = []
        self.config: GleanConfig | None = None
        try:
            self.config = parse_config(env)
        except ConfigError as error:
            errors.extend(error.errors)
        if kv is None:
            errors.append(f"the KV namespace binding {KV_BINDING} is missing (wrangler.toml)")
        self.config_errors = tuple(errors)
        if errors:
            # The app is built at the start of every invocation (cron, trigger or /health), so
            # a misconfigured Worker says why in the log of each, before doing anything.
            log("glean.config_error", errors=list(errors))
        self._fetch = fetch
        self._clock = clock or SystemClock()
        self._sleep = sleep
        self._kv = None if kv is None else SpacedWrites(kv, self._clock, sleep)
        self._rng = rng or random.Random()
        self._new_id = new_id
        self._log = log
        self._policy = policy

    # -- cron ------------------------------------------------------------------------------

    async def scheduled(self, cron: str) -> RunRecord | None:
        """Run the mode scheduled on ``cron``; ``None`` when another run made it unnecessary.
        Raises :class:`ConfigError`, :class:`UnknownCron` or :class:`RunFailed`."""
        config = self._ready()
        try:
            mode = mode_for_cron(cron, config.schedule)
        except UnknownCron as error:
            self._log("glean.unknown_cron", cron=cron, error=str(error))
            raise
        try:
            record = await self._run(mode, "cron", wait_for_incremental=mode is Mode.FULL)
        except LockBusy as busy:
            if mode is Mode.FULL and busy.holder.mode is Mode.INCREMENTAL:
                # The daily FULL did not happen: that must show on /health, not just in a log.
                now = self._clock.now()
                record = RunRecord(
                    self._new_id(),
                    mode,
                    "cron",
                    "error",
                    now,
                    now,
                    error=(
                        f"{busy}; it held the lock past GLEAN_FULL_LOCK_WAIT "
                        f"({config.full_lock_wait} s)"
                    ),
                )
                await SyncState(self._kv).record(record)
                raise RunFailed(record.error) from None
            self._log("glean.run_skipped", mode=mode.value, cron=cron, reason=str(busy))
            return None
        if record.status == "error":
            raise RunFailed(f"{mode.value} run {record.run_id} failed: {record.error}")
        return record

    # -- HTTP ------------------------------------------------------------------------------

    async def handle(self, request: HttpRequest) -> HttpResponse:
        path = urlsplit(request.url).path
        if path == "/health":
            if request.method not in ("GET", "HEAD"):
                return error_response(405, "use GET /health", {"allow": "GET, HEAD"})
            return await self._health()
        if path == "/trigger":
            if request.method != "POST":
                return error_response(405, "use POST /trigger", {"allow": "POST"})
            return await self._trigger(request)
        return error_response(404, f"no route for {path}; use GET /health or POST /trigger")

    async def _health(self) -> HttpResponse:
        body: dict[str, object] = {"status": "ok"}
        if self.config_errors:
            body = {
                "status": "error",
                "error": "; ".join(self.config_errors),
                "errors": list(self.config_errors),
            }
        if self.config is not None:
            body["syncMode"] = "orchestrator" if self.config.backend else "direct"
        if self._kv is not None:
            body["lastRuns"] = await SyncState(self._kv).last_runs()
            if self.config is not None:
                holder = await self._lock(self.config).holder()
                body["running"] = _holder_json(holder) if holder else None
        return json_response(503 if self.config_errors else 200, body)

    async def _trigger(self, request: HttpRequest) -> HttpResponse:
        if self.config_errors:
            return error_response(
                503, "the orchestrator is misconfigured: " + "; ".join(self.config_errors)
            )
        config = self._ready()
        if not token_matches(bearer_token(request.headers), config.trigger_token):
            return error_response(
                401, "missing or wrong bearer token", {"www-authenticate": "Bearer"}
            )
        if len(request.body) > MAX_TRIGGER_BODY:
            return error_response(413, f"body over {MAX_TRIGGER_BODY} bytes")
        try:
            payload = json.loads(request.body)
        except ValueError:
            return error_response(400, 'body must be JSON: {"mode": "FULL" | "INCREMENTAL"}')
        if not isinstance(payload, dict):
            return error_response(
                400, 'body must be a JSON object: {"mode": "FULL" | "INCREMENTAL"}'
            )
        try:
            mode = parse_mode(payload.get("mode"))
        except InvalidMode as error:
            return error_response(400, str(error))
        try:
            record = await self._run(mode, "http", wait_for_incremental=False)
        except LockBusy as busy:
            return json_response(409, {"error": str(busy), "running": _holder_json(busy.holder)})
        if record.status == "completed":
            return json_response(200, {"run": record.to_json()})
        return json_response(
            409 if record.status == "skipped" else 502,
            {"error": record.error, "run": record.to_json()},
        )

    # -- runs ------------------------------------------------------------------------------

    def _ready(self) -> GleanConfig:
        if self.config_errors or self.config is None:
            raise ConfigError(list(self.config_errors))
        return self.config

    def _lock(self, config: GleanConfig) -> KvLock:
        assert self._kv is not None
        return KvLock(self._kv, self._clock, config.lock_ttl)

    async def _run(self, mode: Mode, trigger: str, *, wait_for_incremental: bool) -> RunRecord:
        """One run under the lock; raises :class:`LockBusy` when it cannot take it."""
        config = self._ready()
        lock = self._lock(config)
        run_id = self._new_id()
        deadline = self._clock.monotonic() + (config.full_lock_wait if wait_for_incremental else 0)
        while True:
            try:
                holder = await lock.acquire(run_id, mode)
                break
            except LockBusy as busy:
                remaining = deadline - self._clock.monotonic()
                if busy.holder.mode is Mode.FULL or remaining <= 0:
                    raise
                self._log("glean.lock_wait", mode=mode.value, holder=busy.holder.owner)
                await self._sleep(min(LOCK_POLL_INTERVAL, remaining))
        started = self._clock.now()
        self._log("glean.run_started", runId=run_id, mode=mode.value, trigger=trigger)

        async def keep_alive() -> None:
            nonlocal holder
            if self._clock.now() >= holder.expires_at - config.lock_ttl / 2:
                holder = await lock.renew(holder)

        try:
            record = await self._sync(config, mode, run_id, trigger, started, keep_alive)
            await SyncState(self._kv).record(record)
        finally:
            await lock.release(run_id)
        self._log("glean.run_finished", **record.to_json())
        return record

    async def _sync(
        self,
        config: GleanConfig,
        mode: Mode,
        run_id: str,
        trigger: str,
        started: float,
        keep_alive: Callable[[], Awaitable[None]],
    ) -> RunRecord:
        state = SyncState(self._kv)

        def record(status: str, indexed: int = 0, deleted: int = 0, error: str | None = None):
            return RunRecord(
                run_id, mode, trigger, status, started, self._clock.now(), indexed, deleted, error
            )

        retrying = Retrying(
            self._fetch, self._policy, self._sleep, self._rng, before_attempt=keep_alive
        )
        try:
            if config.backend is not None:
                result = await run_backend(config.backend, mode, retrying)
                status = "completed" if result.completed else "error"
                return record(status, result.documents_indexed, error=result.error)
            assert config.direct is not None
            direct = DirectSync(
                config.direct,
                retrying,
                state,
                clock=self._clock,
                new_id=self._new_id,
                log=self._log,
            )
            if mode is Mode.FULL:
                counts = await direct.full()
            else:
                checkpoint = await state.checkpoint()
                if checkpoint is None:
                    return record(
                        "skipped",
                        error="no checkpoint yet: an INCREMENTAL run needs "
                        'a FULL run first (POST /trigger {"mode": "FULL"})',
                    )
                counts = await direct.incremental(max(0, checkpoint - CHECKPOINT_OVERLAP))
            # Everything changed before this run started is now in Glean.
            await state.set_checkpoint(int(started))
            return record("completed", counts.indexed, counts.deleted)
        except Exception as error:
            self._log(
                "glean.run_failed",
                runId=run_id,
                mode=mode.value,
                errorType=type(error).__name__,
                error=str(error),
            )
            return record("error", error=str(error) or type(error).__name__)


def _holder_json(holder: LockHolder) -> dict[str, object]:
    return {"runId": holder.owner, "mode": holder.mode.value, "since": iso_utc(holder.acquired_at)}
