"""The orchestrator Worker's behaviour: cron runs, ``GET /health`` and ``POST /trigger``.

* A cron run's mode is the one configured for ``controller.cron`` (:mod:`.modes`).
* Every run takes the KV lock (:mod:`.lock`). A scheduled FULL run finding an INCREMENTAL run
  in progress waits for it (up to ``GLEAN_FULL_LOCK_WAIT``), so the daily FULL is never lost
  to the hourly run that fires in the same minute; a scheduled run finding a FULL in progress
  is skipped, since the FULL covers it. ``POST /trigger`` never waits: it answers 409.
* Each run's outcome is the mode's last run record in KV (:mod:`.state`).

What a stranger sees: ``GET /health`` without a token shows whether the Worker is configured,
its sync mode, and each mode's last run as times, status and counts
(:data:`.state.PUBLIC_RUN_FIELDS`). Run errors and refused documents, which can name the
source, quote upstream answers and list document ids, need the trigger token (on
``GET /health`` too) or the Worker's log. A misconfigured Worker answers every request with
503 naming the variables, never their values (:func:`flaresuite.http.misconfigured`).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from flaresuite.auth import bearer_token, token_matches
from flaresuite.config import EnvSource, parsed, with_bindings
from flaresuite.errors import ConfigError, RuntimeFailure
from flaresuite.glean.config import FULL_LOCK_WAIT, GleanConfig, parse_config
from flaresuite.glean.direct import DirectSync, SyncCounts
from flaresuite.glean.lock import KvLock, LockBusy, LockHolder
from flaresuite.glean.modes import InvalidMode, Mode, UnknownCron, mode_for_cron, parse_mode
from flaresuite.glean.orchestrator import run_backend
from flaresuite.glean.state import RunRecord, SpacedWrites, SyncState, iso_utc, public_run
from flaresuite.glean.upstream import GLEAN_RETRY_POLICY, Upstream
from flaresuite.http import (
    HttpFetch,
    HttpRequest,
    HttpResponse,
    body_too_large,
    error_response,
    json_response,
    misconfigured,
)
from flaresuite.jsonbody import BadJson, parse_json
from flaresuite.logs import Log, json_log
from flaresuite.ports import Clock, KeyValue, SystemClock
from flaresuite.retry import Retrier, RetryPolicy, Sleep

KV_BINDING = "GLEAN_STATE"
"""The KV namespace binding the entry module passes in (``wrangler.toml``)."""

MAX_REQUEST_BODY = 1024
"""Bytes of request body the Worker reads: a trigger is ``{"mode": "INCREMENTAL"}``. The entry
module stops reading past it (the request arrives ``oversized``, answered 413)."""

TRIGGER_USAGE = '{"mode": "FULL" | "INCREMENTAL"}'

CHECKPOINT_OVERLAP = 60
"""Seconds an INCREMENTAL run looks back before its checkpoint, for changes a source commits
with a slightly earlier timestamp than it makes them visible."""

LOCK_POLL_INTERVAL = 5.0

NO_STORE = {"cache-control": "no-store"}

_NOTHING = SyncCounts(indexed=0)


class RunFailed(RuntimeFailure):
    """A scheduled run ended in error; raised so the cron execution is marked failed."""


class GleanApp:
    def __init__(
        self,
        env: EnvSource,
        kv: KeyValue | None,
        fetch: HttpFetch,
        *,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        log: Log = json_log,
        policy: RetryPolicy = GLEAN_RETRY_POLICY,
    ) -> None:
        self.config, self.config_error = _configure(env, kv)
        if self.config_error is not None:
            # The app is built at the start of every invocation (cron, trigger or /health), so
            # a misconfigured Worker says why in the log of each, before doing anything.
            log(
                "glean.config_error",
                errors=[str(problem) for problem in self.config_error.problems],
                variables=list(self.config_error.variables),
            )
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
        Raises :class:`~flaresuite.errors.ConfigError`, :class:`UnknownCron` or
        :class:`RunFailed`."""
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
                why = f"{busy}; it held the lock past {FULL_LOCK_WAIT} ({config.full_lock_wait} s)"
                record = RunRecord(self._new_id(), mode, "cron", "error", now, now, error=why)
                await self._state().record(record)
                raise RunFailed(why) from None
            self._log("glean.run_skipped", mode=mode.value, cron=cron, reason=str(busy))
            return None
        if record.status == "error":
            raise RunFailed(f"{mode.value} run {record.run_id} failed: {record.error}")
        return record

    # -- HTTP ------------------------------------------------------------------------------

    async def handle(self, request: HttpRequest) -> HttpResponse:
        if self.config_error is not None:
            return misconfigured(self.config_error)
        path = urlsplit(request.url).path
        if path == "/health":
            if request.method not in ("GET", "HEAD"):
                return error_response(405, "use GET /health", {"allow": "GET, HEAD"})
            return await self._health(request)
        if path == "/trigger":
            if request.method != "POST":
                return error_response(405, "use POST /trigger", {"allow": "POST"})
            return await self._trigger(request)
        return error_response(404, "no such route; use GET /health or POST /trigger")

    async def _health(self, request: HttpRequest) -> HttpResponse:
        """Public: configured or not, the sync mode, each mode's last run as times, status and
        counts, and the run in progress. With the trigger token: the whole run records."""
        config = self._ready()
        detailed = "authorization" in request.headers
        if detailed and not self._authorized(request, config):
            return _unauthorized()
        last_runs = await self._state().last_runs()
        if not detailed:
            last_runs = {mode: public_run(run) for mode, run in last_runs.items()}
        holder = await self._lock(config).holder()
        body = {
            "status": "ok",
            "syncMode": "orchestrator" if config.backend else "direct",
            "lastRuns": last_runs,
            "running": _holder_json(holder) if holder else None,
        }
        return json_response(200, body, NO_STORE)

    async def _trigger(self, request: HttpRequest) -> HttpResponse:
        config = self._ready()
        if not self._authorized(request, config):
            return _unauthorized()
        if request.oversized:
            return body_too_large(MAX_REQUEST_BODY)
        try:
            payload = parse_json(request.body, max_bytes=MAX_REQUEST_BODY)
        except BadJson as error:
            if error.status == 413:
                return error_response(413, error.message)
            return error_response(400, f"body must be JSON {TRIGGER_USAGE}: {error.message}")
        if not isinstance(payload, dict):
            return error_response(400, f"body must be a JSON object: {TRIGGER_USAGE}")
        try:
            mode = parse_mode(payload.get("mode"))
        except InvalidMode as error:
            return error_response(400, error.message)
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

    def _authorized(self, request: HttpRequest, config: GleanConfig) -> bool:
        return token_matches(bearer_token(request.headers), config.trigger_token)

    # -- runs ------------------------------------------------------------------------------

    def _ready(self) -> GleanConfig:
        if self.config_error is not None:
            raise self.config_error
        assert self.config is not None
        return self.config

    def _state(self) -> SyncState:
        assert self._kv is not None  # a missing binding is a configuration error
        return SyncState(self._kv)

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
            await self._state().record(record)
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
        state = self._state()

        def record(
            status: str, counts: SyncCounts = _NOTHING, error: str | None = None
        ) -> RunRecord:
            return RunRecord(
                run_id,
                mode,
                trigger,
                status,
                started,
                self._clock.now(),
                counts.indexed,
                counts.deleted,
                error,
                counts.refused,
                counts.refusals,
            )

        retrier = Retrier(
            self._policy,
            sleep=self._sleep,
            rng=self._rng,
            clock=self._clock,
            before_attempt=keep_alive,
        )
        upstream = Upstream(self._fetch, retrier, self._clock)
        try:
            if config.backend is not None:
                deadline = self._clock.monotonic() + config.backend.timeout
                result = await run_backend(
                    config.backend, mode, run_id, upstream, deadline=deadline
                )
                status = "completed" if result.completed else "error"
                return record(status, SyncCounts(result.documents_indexed), result.error)
            assert config.direct is not None
            direct = DirectSync(
                config.direct,
                upstream,
                state,
                clock=self._clock,
                sleep=self._sleep,
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
            return record("completed", counts)
        except Exception as error:
            self._log(
                "glean.run_failed",
                runId=run_id,
                mode=mode.value,
                errorType=type(error).__name__,
                error=str(error),
            )
            return record("error", error=str(error) or type(error).__name__)


def _configure(
    env: EnvSource, kv: KeyValue | None
) -> tuple[GleanConfig | None, ConfigError | None]:
    """The settings, or every reason they are unusable, the KV binding included."""
    config = with_bindings(parsed(parse_config, env), {KV_BINDING: kv})
    return (None, config) if isinstance(config, ConfigError) else (config, None)


def _unauthorized() -> HttpResponse:
    return error_response(401, "missing or wrong bearer token", {"www-authenticate": "Bearer"})


def _holder_json(holder: LockHolder) -> dict[str, object]:
    return {"runId": holder.owner, "mode": holder.mode.value, "since": iso_utc(holder.acquired_at)}
