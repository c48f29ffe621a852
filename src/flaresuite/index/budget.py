"""What one invocation may spend: time, and subrequests.

Cloudflare stops a Worker invocation at its CPU limit (30 s by default, up to 5 minutes with
``limits.cpu_ms``) and refuses subrequests past 10,000 (50 on the free plan). A run that hits
either loses everything it had not saved, so the builder stops *itself* first:

* time: warnings at ``warn_after`` seconds; past ``stop_metadata_after`` no HEAD/GET starts;
* subrequests: every request the run makes is counted (S3 requests through ``fetch``, every
  call on a bucket or queue binding, since Cloudflare limits calls to its own services per
  invocation too). Metadata requests stop while :data:`PUBLISH_SHARE` of the budget is left for
  writing pages; any other request past the budget less :data:`TAIL` raises
  :class:`SubrequestsSpent`. The last :data:`TAIL` are kept for saving state and the report,
  so what was learnt is never lost.

What was not done is *deferred*: the directory's pages stay as they were and the next run (or
the next queue message) resumes from the saved state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from flaresuite.errors import FlaresuiteError
from flaresuite.http import HttpFetch, HttpRequest, HttpResponse
from flaresuite.logs import Log
from flaresuite.ports import Bucket, Clock, ListPage, StoredObject

DEFAULT_MAX_SUBREQUESTS = 9000
"""A Worker's subrequest budget per invocation unless configured: below the paid plan's 10,000
(the free plan allows 50)."""
TAIL = 5
"""Subrequests kept back for the last writes: a directory's state and rows, the prefix
manifest, its report, and the run record (or, fanned out, the continuation message)."""
PUBLISH_SHARE = 0.1
"""Share of the subrequest budget that metadata requests leave for writing pages."""


class SubrequestsSpent(FlaresuiteError):
    """The run's subrequest budget is spent; the work in hand is deferred."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_subrequests: int | None = None
    """``None``: no limit (the CLI). Workers default to :data:`DEFAULT_MAX_SUBREQUESTS`."""
    stop_metadata_after: float = float("inf")
    """Seconds of run time after which no more HEAD/GET requests start."""
    warn_after: tuple[float, ...] = ()
    """Seconds of run time at which a budget warning is logged."""


class Budget:
    def __init__(self, clock: Clock, limits: Limits, log: Log) -> None:
        self._clock = clock
        self._start = clock.monotonic()
        self._limits = limits
        self._pending_warnings = sorted(limits.warn_after)
        self._log = log
        self.subrequests = 0
        self.list_calls = 0

    def elapsed(self) -> float:
        return self._clock.monotonic() - self._start

    def check(self) -> float:
        """Logs each warning threshold once it is passed; returns the elapsed seconds.
        Called while listing, before each fetch and after each prefix, so a slow run warns
        whichever phase it is in."""
        elapsed = self.elapsed()
        while self._pending_warnings and elapsed >= self._pending_warnings[0]:
            threshold = self._pending_warnings.pop(0)
            self._log("index.budget_warning", seconds=round(elapsed, 3), threshold=threshold)
        return elapsed

    def allows_metadata(self) -> bool:
        if self.check() >= self._limits.stop_metadata_after:
            return False
        cap = self._limits.max_subrequests
        if cap is None:
            return True
        return self.subrequests < cap - TAIL - int(cap * PUBLISH_SHARE)

    def spend(self, *, listing: bool = False, reserved: bool = False) -> None:
        """Counts one subrequest about to be made; raises :class:`SubrequestsSpent` instead
        when it would exceed the budget (``reserved`` ones may use the :data:`TAIL`)."""
        cap = self._limits.max_subrequests
        if cap is not None and self.subrequests >= (cap if reserved else cap - TAIL):
            raise SubrequestsSpent(f"the budget of {cap} subrequests is spent")
        self.subrequests += 1
        if listing:
            self.list_calls += 1

    def fetch(self, fetch: HttpFetch) -> HttpFetch:
        """``fetch`` counting each request (S3 listings separately) against this budget."""

        async def metered(request: HttpRequest) -> HttpResponse:
            query = urlsplit(request.url).query
            self.spend(listing=request.method == "GET" and "list-type=2" in query)
            return await fetch(request)

        return metered

    def bucket(self, bucket: Bucket, *, reserved_writes: bool = False) -> Bucket:
        """``bucket`` counting each call; ``reserved_writes`` lets writes use the tail (for
        the state bucket, whose last writes must happen)."""
        return _MeteredBucket(bucket, self, reserved_writes)


class _MeteredBucket:
    def __init__(self, bucket: Bucket, budget: Budget, reserved_writes: bool) -> None:
        self._bucket = bucket
        self._budget = budget
        self._reserved = reserved_writes

    async def get(self, key: str) -> StoredObject | None:
        self._budget.spend()
        return await self._bucket.get(key)

    async def put(
        self,
        key: str,
        body: bytes,
        *,
        content_type: str | None = None,
        cache_control: str | None = None,
        custom_metadata: Mapping[str, str] | None = None,
    ) -> None:
        self._budget.spend(reserved=self._reserved)
        await self._bucket.put(
            key,
            body,
            content_type=content_type,
            cache_control=cache_control,
            custom_metadata=custom_metadata,
        )

    async def delete(self, keys: Sequence[str]) -> None:
        self._budget.spend()
        await self._bucket.delete(keys)

    async def list(
        self, *, prefix: str = "", cursor: str | None = None, limit: int = 1000
    ) -> ListPage:
        self._budget.spend()
        return await self._bucket.list(prefix=prefix, cursor=cursor, limit=limit)
