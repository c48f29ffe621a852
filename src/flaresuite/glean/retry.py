"""Retrying HTTP exchanges with exponential backoff and full jitter, and pacing by a
sliding window.

Glean's rate-limit guidance (``docs/errors/rate-limit-exceeded.mdx``): on 429, retry with
exponential backoff with jitter. A 5xx or a connection failure is retried the same way. Sleep,
clock and randomness are injected so tests run without waiting.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from flaresuite.http import HttpFetch, HttpRequest, HttpResponse, TransportError
from flaresuite.ports import Clock

Sleep = Callable[[float], Awaitable[None]]
"""``asyncio.sleep`` in production; tests pass a fake that advances a fake clock."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 6
    """Tries in all, the first included."""
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_retry_after: float = 300.0
    """The longest ``Retry-After`` honoured; a server asking for more gets this."""

    def delay(self, retry: int, rng: random.Random, retry_after: float | None) -> float:
        """Seconds before retry number ``retry`` (0-based): full jitter over an exponential
        ceiling, but never sooner than the server's ``Retry-After``."""
        jittered = rng.uniform(0.0, min(self.max_delay, self.base_delay * 2**retry))
        if retry_after is None:
            return jittered
        return min(max(retry_after, jittered), self.max_retry_after)


DEFAULT_RETRY_POLICY = RetryPolicy()


class RetriesExhausted(Exception):
    """Every attempt got a retryable failure; the message says the last one."""


def is_retryable(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


@dataclass(frozen=True, slots=True)
class Retrying:
    """Sends requests over ``fetch`` with the retry policy; one per run, shared by every client
    of that run (document source, Glean, backend).

    ``before_attempt`` is awaited before every attempt, after any backoff: the run renews its
    lock there, so the lock only has to outlive one attempt, never a whole run of retries.
    """

    fetch: HttpFetch
    policy: RetryPolicy
    sleep: Sleep
    rng: random.Random
    before_attempt: Callable[[], Awaitable[None]] | None = None

    async def send(
        self, request: HttpRequest, *, retry_transport_errors: bool = True
    ) -> HttpResponse:
        """Send ``request`` until it gets a non-retryable answer, which is returned whatever
        its status; raises :class:`RetriesExhausted` when the attempts run out.

        ``retry_transport_errors=False`` re-raises :class:`TransportError` at once: for a
        request that may have started work on the server (a timed-out backend run), sending it
        again could start that work twice.
        """
        policy = self.policy
        last = ""
        retry_after: float | None = None
        for attempt in range(policy.attempts):
            if attempt:
                await self.sleep(policy.delay(attempt - 1, self.rng, retry_after))
            if self.before_attempt is not None:
                await self.before_attempt()
            retry_after = None
            try:
                response = await self.fetch(request)
            except TransportError as error:
                if not retry_transport_errors:
                    raise
                last = f"no response ({error})"
                continue
            if not is_retryable(response.status):
                return response
            retry_after = _retry_after_seconds(response)
            last = f"HTTP {response.status}: {excerpt(response.body)}"
        raise RetriesExhausted(
            f"{request.method} {_without_query(request.url)} failed {policy.attempts} times; "
            f"last: {last}"
        )


def _retry_after_seconds(response: HttpResponse) -> float | None:
    """``Retry-After`` as delta-seconds (RFC 9110 §10.2.3); an HTTP-date is ignored and the
    jittered backoff is used instead."""
    value = response.header("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def excerpt(body: bytes, limit: int = 200) -> str:
    """The start of a response body for an error message."""
    text = body[:limit].decode("utf-8", "replace")
    return text + ("..." if len(body) > limit else "")


def _without_query(url: str) -> str:
    """URLs are logged and put in errors; a query string may carry a cursor or a token."""
    return url.split("?", 1)[0]


class SlidingWindowLimiter:
    """At most ``limit`` units in any ``window`` seconds, e.g. Glean's 600 documents per minute
    on ``/indexdocuments``. Strict, unlike a token bucket, which lets a full bucket plus a
    window's refill (twice the limit) through in one window."""

    def __init__(self, limit: int, window: float, *, clock: Clock, sleep: Sleep) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[tuple[float, int]] = deque()
        self._in_window = 0

    async def acquire(self, units: int) -> None:
        """Wait until ``units`` more fit in the window, then count them as sent now."""
        if not 0 < units <= self.limit:
            raise ValueError(f"cannot send {units} units under a limit of {self.limit}")
        while True:
            now = self._clock.monotonic()
            while self._sent and self._sent[0][0] <= now - self.window:
                self._in_window -= self._sent.popleft()[1]
            if self._in_window + units <= self.limit:
                self._sent.append((now, units))
                self._in_window += units
                return
            await self._sleep(self._sent[0][0] + self.window - now)
