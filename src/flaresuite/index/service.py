"""The index Worker's behaviour: the scheduled run, the queue consumer and two HTTP endpoints.

* ``GET /status``: the last run, per prefix. Without a token: state, times and counts only.
  With ``Authorization: Bearer <INDEX_RUN_TOKEN>``: also errors, rejected keys and the source.
* ``POST /run`` with the bearer token: run now (or, with ``INDEX_QUEUE``, enqueue a run).
  Without the secret configured, manual runs are disabled.

Every invocation gets its own :class:`~flaresuite.index.budget.Budget`; the S3 fetch and every
binding are metered through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from flaresuite.auth import bearer_token, token_matches
from flaresuite.config import EnvSource, parsed, with_bindings
from flaresuite.errors import ConfigError, FlaresuiteError
from flaresuite.http import (
    HttpFetch,
    HttpRequest,
    HttpResponse,
    body_too_large,
    error_response,
    json_response,
    misconfigured,
)
from flaresuite.index.budget import Budget
from flaresuite.index.builder import IndexBuilder, remove_legacy_state
from flaresuite.index.config import IndexConfig
from flaresuite.index.fanout import MAX_CONTINUATIONS, Delivery, PrefixPart, parse_part
from flaresuite.index.report import PrefixReport, RunReport, public_view, run_status
from flaresuite.index.s3source import S3Source
from flaresuite.index.state import StateStore
from flaresuite.logs import Log, json_log
from flaresuite.ports import Bucket, Clock, Queue, SystemClock
from flaresuite.redact import redact_url
from flaresuite.s3.client import S3Client
from flaresuite.s3.sts import credential_source

STATE_BINDING = "INDEX_STATE"
DESTINATION_BINDINGS = ("DEST_BUCKET", "DEST_BUCKET_META_CDN")
"""The public buckets pages go to, main first; ``destinations`` are given in this order."""
QUEUE_BINDING = "INDEX_QUEUE"
"""Optional: with it, runs fan out over Cloudflare Queues (:mod:`.fanout`)."""
MAX_BODY_BYTES = 64 * 1024
"""No endpoint reads a body; the entry module stops reading past this many bytes."""


class IndexRunFailed(FlaresuiteError):
    """A scheduled run in which at least one prefix failed. Raised after the report is stored,
    so the cron event shows as failed in Cloudflare's history instead of silently succeeding.
    Deferred prefixes do not count: they resume on the next run by design."""

    def __init__(self, report: RunReport) -> None:
        self.report = report
        failed = [p for p in report.prefixes if p.status == "failed"]
        super().__init__(
            f"{len(failed)} of {len(report.prefixes)} prefixes failed: "
            + "; ".join(f"{p.prefix}: {p.error}" for p in failed)
        )


class IndexService:
    def __init__(
        self,
        env: EnvSource,
        *,
        fetch: HttpFetch,
        destinations: Sequence[Bucket | None],
        state: Bucket | None,
        queue: Queue | None = None,
        clock: Clock | None = None,
        log: Log = json_log,
    ) -> None:
        self._fetch = fetch
        self._queue = queue
        self._clock = clock or SystemClock()
        self._log = log
        # strict=False: tests may give the main bucket alone.
        named = zip(DESTINATION_BINDINGS, destinations, strict=False)
        bindings = {STATE_BINDING: state, **dict(named)}
        config = with_bindings(parsed(IndexConfig.from_env, env), bindings)
        self.config = None if isinstance(config, ConfigError) else config
        self.config_error = config if isinstance(config, ConfigError) else None
        self._destinations = tuple(bucket for bucket in destinations if bucket is not None)
        self._state = state

    # --- runs -----------------------------------------------------------------------------

    def _configured(self) -> tuple[IndexConfig, Bucket]:
        if self.config is None or self._state is None:
            assert self.config_error is not None
            self._log("index.config_error", variables=list(self.config_error.variables))
            raise self.config_error
        return self.config, self._state

    def _builder(self, budget: Budget) -> IndexBuilder:
        config, state = self._configured()
        fetch = budget.fetch(self._fetch)
        client = S3Client(
            fetch,
            region=config.region,
            endpoint=config.endpoint,
            credentials=credential_source(
                config.credentials, fetch=fetch, region=config.region, clock=self._clock
            ),
            clock=self._clock,
        )
        return IndexBuilder(
            S3Source(client, config.bucket),
            self._destinations,
            state,
            config=config.build,
            clock=self._clock,
            log=self._log,
        )

    def _budget(self) -> Budget:
        config, _ = self._configured()
        return Budget(self._clock, config.build.limits, self._log)

    async def run(self) -> RunReport:
        """One full run in this invocation; raises :class:`ConfigError` when misconfigured."""
        budget = self._budget()
        builder = self._builder(budget)
        await self._first_run_cleanup(budget)
        return await builder.run(budget)

    async def scheduled_run(self) -> RunReport | None:
        """The cron handler: enqueue one message per prefix when fanning out (``None``), else
        run now and raise :class:`IndexRunFailed` after storing a report with a failed
        prefix."""
        if self._queue is not None:
            await self.enqueue_run()
            return None
        report = await self.run()
        if any(prefix.status == "failed" for prefix in report.prefixes):
            raise IndexRunFailed(report)
        return report

    async def enqueue_run(self) -> list[str]:
        config, state = self._configured()
        assert self._queue is not None
        budget = self._budget()
        await self._first_run_cleanup(budget)
        started = self._clock.now()
        prefixes = list(config.build.prefixes)
        await StateStore(budget.bucket(state)).save_run(
            {"started_at": started, "mode": "queue", "prefixes": prefixes}
        )
        for prefix in prefixes:
            budget.spend()
            await self._queue.send(PrefixPart(prefix, started).to_body())
        self._log("index.enqueued", prefixes=prefixes)
        return prefixes

    async def consume(self, deliveries: Sequence[Delivery]) -> None:
        """The queue handler: build each message's prefix within this invocation's budget.

        A prefix deferred for want of budget continues in a message of its own if this
        invocation made progress on it. A failed prefix's message is retried by the queue
        (and lands in the dead-letter queue after ``max_retries``); a message this Worker
        never sends is acknowledged and logged. A message of an earlier run than the one
        recorded in state (a continuation, or a retry, still queued when the next cron run
        started) is acknowledged and dropped: the newer run's own message builds that prefix,
        and the two would otherwise build it side by side."""
        config, state = self._configured()
        budget = self._budget()
        builder = self._builder(budget)
        current: float | None = None
        for delivery in deliveries:
            part = parse_part(delivery.body)
            if part is None or part.prefix not in config.build.prefixes:
                self._log("index.unknown_message")
                delivery.ack()
                continue
            if current is None:
                current = await _current_run(StateStore(budget.bucket(state)))
            if part.run < current:
                self._log("index.stale_message", prefix=part.prefix, run=part.run, current=current)
                delivery.ack()
                continue
            if not budget.allows_metadata():
                await self._continue(part, budget)
                delivery.ack()
                continue
            report = await builder.build_prefix(part.prefix, budget)
            if report.status == "deferred" and _made_progress(report):
                await self._continue(part, budget)
            if report.status == "failed":
                delivery.retry()
            else:
                delivery.ack()

    async def _continue(self, part: PrefixPart, budget: Budget) -> None:
        if part.continuation >= MAX_CONTINUATIONS or self._queue is None:
            self._log("index.continuations_exhausted", prefix=part.prefix)
            return
        budget.spend(reserved=True)
        await self._queue.send(part.next().to_body())

    async def _first_run_cleanup(self, budget: Budget) -> None:
        """Earlier versions kept their cache and report in the public bucket; the first run
        with private state removes them."""
        _, state = self._configured()
        if await StateStore(budget.bucket(state)).run() is not None:
            return
        removed = await remove_legacy_state([budget.bucket(d) for d in self._destinations])
        if removed:
            self._log("index.legacy_state_removed", objects=removed)

    # --- HTTP -----------------------------------------------------------------------------

    async def handle(self, request: HttpRequest) -> HttpResponse:
        if request.oversized:
            return body_too_large(MAX_BODY_BYTES)
        path = urlsplit(request.url).path
        if path == "/status":
            if request.method != "GET":
                return error_response(405, "use GET /status", {"allow": "GET"})
            return await self._status(request)
        if path == "/run":
            if request.method != "POST":
                return error_response(405, "use POST /run", {"allow": "POST"})
            return await self._manual_run(request)
        return error_response(404, "no such endpoint (try GET /status or POST /run)")

    def _authorized(self, request: HttpRequest) -> bool | None:
        """``True`` for the right token, ``False`` for a wrong or malformed one, ``None`` when
        the request carries no ``Authorization`` header."""
        if "authorization" not in request.headers:
            return None
        assert self.config is not None
        return self.config.run_token is not None and token_matches(
            bearer_token(request.headers), self.config.run_token
        )

    async def _status(self, request: HttpRequest) -> HttpResponse:
        if self.config_error is not None:
            return misconfigured(self.config_error)
        authorized = self._authorized(request)
        if authorized is False:
            return _unauthorized()
        document = await self._status_document(full=bool(authorized))
        if document is None:
            return error_response(404, "no index run has completed yet")
        return json_response(200, document, {"cache-control": "no-store"})

    async def _status_document(self, *, full: bool) -> dict[str, object] | None:
        config, state = self._configured()
        store = StateStore(state)
        run = await store.run()
        if run is None:
            return None
        started = run.get("started_at", 0)
        prefixes, waiting = [], []
        names = run.get("prefixes")
        for prefix in names if isinstance(names, list) else []:
            report = await store.report(str(prefix))
            if report is None:
                report = {"prefix": prefix, "status": "pending"}
            if not isinstance(report.get("finished_at"), (int, float)) or (
                report["finished_at"] < started
            ):
                waiting.append(prefix)
            prefixes.append(report if full else public_view(report))
        document: dict[str, object] = {
            "status": "pending" if waiting else run_status([str(p["status"]) for p in prefixes]),
            "started_at": started,
            "mode": run.get("mode", "inline"),
            "waiting": waiting,
            "prefixes": prefixes,
        }
        for name in ("seconds", "subrequests", "list_calls"):
            if name in run:
                document[name] = run[name]
        if full:
            document["source"] = {
                "bucket": config.bucket,
                "region": config.region,
                "endpoint": redact_url(config.endpoint) if config.endpoint else None,
            }
        return document

    async def _manual_run(self, request: HttpRequest) -> HttpResponse:
        if self.config_error is not None:
            return misconfigured(self.config_error)
        assert self.config is not None
        if self.config.run_token is None:
            return error_response(403, "manual runs are disabled: set the INDEX_RUN_TOKEN secret")
        if not self._authorized(request):
            self._log("index.unauthorized_run")
            return _unauthorized()
        if self._queue is not None:
            prefixes = await self.enqueue_run()
            return json_response(202, {"status": "queued", "prefixes": prefixes})
        report = await self.run()
        return json_response(200 if report.status == "ok" else 502, report.to_dict())


def _unauthorized() -> HttpResponse:
    return error_response(
        401, "missing or wrong bearer token", {"www-authenticate": 'Bearer realm="index"'}
    )


async def _current_run(store: StateStore) -> float:
    """When the run recorded in state started; ``-inf`` when none is recorded (or it is
    unreadable), so that no message counts as stale."""
    run = await store.run()
    started = None if run is None else run.get("started_at")
    if isinstance(started, bool) or not isinstance(started, (int, float)):
        return float("-inf")
    return float(started)


def _made_progress(report: PrefixReport) -> bool:
    return bool(
        report.heads or report.sidecar_reads or report.pages_written or report.directories_built
    )
