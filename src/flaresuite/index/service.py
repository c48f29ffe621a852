"""The index Worker's behaviour: the scheduled run and its two HTTP endpoints.

* ``GET /status``: the last run's report (JSON), as stored by the run;
* ``POST /run`` with ``Authorization: Bearer <INDEX_RUN_TOKEN>``: run now and answer with the
  report. Without the secret configured, manual runs are disabled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from flaresuite.auth import bearer_token, token_matches
from flaresuite.errors import ConfigError
from flaresuite.http import (
    HttpFetch,
    HttpRequest,
    HttpResponse,
    error_response,
    json_response,
    misconfigured,
)
from flaresuite.index.builder import STATUS_KEY, IndexBuilder, RunReport
from flaresuite.index.config import IndexConfig
from flaresuite.index.s3source import S3Source
from flaresuite.logs import Log, json_log
from flaresuite.ports import Bucket, Clock, SystemClock
from flaresuite.s3.client import S3Client
from flaresuite.s3.sts import credential_source


class IndexRunFailed(Exception):
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
        env: Mapping[str, str | None],
        *,
        fetch: HttpFetch,
        destinations: Sequence[Bucket],
        clock: Clock | None = None,
        log: Log = json_log,
    ) -> None:
        self._fetch = fetch
        self._destinations = tuple(destinations)
        self._clock = clock or SystemClock()
        self._log = log
        try:
            self.config: IndexConfig | None = IndexConfig.from_env(env)
            self.config_error: ConfigError | None = None
        except ConfigError as error:
            self.config, self.config_error = None, error

    async def run(self) -> RunReport:
        """One full index run; raises :class:`ConfigError` when the Worker is misconfigured."""
        if self.config is None:
            assert self.config_error is not None
            self._log("index.config_error", error=str(self.config_error))
            raise self.config_error
        client = S3Client(
            self._fetch,
            region=self.config.region,
            endpoint=self.config.endpoint,
            credentials=credential_source(
                self.config.credentials,
                fetch=self._fetch,
                region=self.config.region,
                clock=self._clock,
            ),
            clock=self._clock,
        )
        builder = IndexBuilder(
            S3Source(client, self.config.bucket),
            self._destinations,
            config=self.config.build,
            clock=self._clock,
            log=self._log,
        )
        return await builder.run()

    async def scheduled_run(self) -> RunReport:
        """The cron handler's run: like :meth:`run`, but a failed prefix raises
        :class:`IndexRunFailed`."""
        report = await self.run()
        if any(prefix.status == "failed" for prefix in report.prefixes):
            raise IndexRunFailed(report)
        return report

    async def handle(self, request: HttpRequest) -> HttpResponse:
        path = urlsplit(request.url).path
        if path == "/status":
            if request.method != "GET":
                return error_response(405, "use GET /status", {"allow": "GET"})
            return await self._status()
        if path == "/run":
            if request.method != "POST":
                return error_response(405, "use POST /run", {"allow": "POST"})
            return await self._manual_run(request)
        return error_response(404, f"no such endpoint: {path} (try GET /status or POST /run)")

    async def _status(self) -> HttpResponse:
        if self.config_error is not None:
            return misconfigured(self.config_error)
        stored = await self._destinations[0].get(STATUS_KEY)
        if stored is None:
            return error_response(404, "no index run has completed yet")
        # Served as stored: the run wrote it as JSON, and re-parsing it could only fail.
        return HttpResponse(200, {"content-type": "application/json"}, stored.body)

    async def _manual_run(self, request: HttpRequest) -> HttpResponse:
        if self.config_error is not None:
            return misconfigured(self.config_error)
        assert self.config is not None
        if self.config.run_token is None:
            return error_response(403, "manual runs are disabled: set the INDEX_RUN_TOKEN secret")
        if not token_matches(bearer_token(request.headers), self.config.run_token):
            self._log("index.unauthorized_run")
            return error_response(
                401, "missing or wrong bearer token", {"www-authenticate": 'Bearer realm="index"'}
            )
        report = await self.run()
        return json_response(200 if report.status == "ok" else 502, report.to_dict())
