"""How a run talks to the services it depends on: the document source, Glean and the backend.

Every request goes through the suite's one retry policy (:mod:`flaresuite.retry`), with
Glean's settings: 6 attempts, full-jitter backoff from 1 s doubling to at most 60 s, and a
server's ``Retry-After`` (up to 300 s) as the floor of a wait. Glean's rate-limit guidance
(``docs/errors/rate-limit-exceeded.mdx``) asks for exactly that on 429; a 5xx or a connection
failure is retried the same way by :meth:`Upstream.send`. The backend's ``POST /index`` starts
work, so it retries far less (:mod:`.orchestrator`).

One :class:`Upstream` serves one run; its :class:`~flaresuite.retry.Retrier` renews the run's
lock before every attempt, so the lock need only outlive one attempt.
"""

from __future__ import annotations

from typing import Any

from flaresuite.errors import RuntimeFailure
from flaresuite.http import HttpFetch, HttpRequest, HttpResponse, TransportError
from flaresuite.jsonbody import parse_json
from flaresuite.ports import Clock
from flaresuite.redact import redact_url
from flaresuite.retry import Again, Backoff, Retrier, RetryPolicy, retry_after_seconds

GLEAN_RETRY_POLICY = RetryPolicy(
    attempts=6, backoff=Backoff(base=1.0, cap=60.0), max_retry_after=300.0
)

MAX_ANSWER_BYTES = 1024 * 1024
"""The largest answer from Glean or the backend that is read as JSON; both send a few hundred
bytes."""

EXCERPT_BYTES = 200
"""How much of an upstream's error body a run's error keeps. Run errors are shown only behind
the trigger token and in the Worker's logs, never on the public ``GET /health``."""


class RetriesExhausted(RuntimeFailure):
    """Every attempt got a retryable failure; the message says the last one."""


class Upstream:
    def __init__(self, fetch: HttpFetch, retrier: Retrier, clock: Clock) -> None:
        self.fetch = fetch
        self.retrier = retrier
        self.clock = clock

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Send ``request`` until it gets an answer that is neither 429 nor 5xx, and return
        that answer whatever its status; raises :class:`RetriesExhausted` when the attempts
        run out."""
        attempts = 0

        async def attempt() -> HttpResponse:
            nonlocal attempts
            attempts += 1
            return await self.fetch(request)

        def classify(response: HttpResponse) -> Again | None:
            if response.status == 429 or 500 <= response.status <= 599:
                return Again(self.retry_after(response))
            return None

        target = f"{request.method} {redact_url(request.url)}"
        try:
            outcome = await self.retrier.run(attempt, classify)
        except TransportError as error:
            raise RetriesExhausted(
                f"{target} failed {attempts} times; last: no response ({error})"
            ) from None
        if outcome.exhausted:
            last = outcome.value
            raise RetriesExhausted(
                f"{target} failed {outcome.attempts} times; last: HTTP {last.status}: "
                f"{excerpt(last.body)}"
            )
        return outcome.value

    def retry_after(self, response: HttpResponse) -> float | None:
        """The answer's ``Retry-After`` in seconds (delta-seconds or an HTTP-date)."""
        return retry_after_seconds(response.header("retry-after"), self.clock.now())


def read_json(response: HttpResponse, *, max_bytes: int = MAX_ANSWER_BYTES) -> Any:
    """An upstream answer's JSON through the suite's one guard (size, UTF-8, nesting depth,
    duplicate members), so a hostile or broken upstream cannot crash the Worker either;
    raises :class:`~flaresuite.jsonbody.BadJson`."""
    return parse_json(response.body, max_bytes=max_bytes)


def excerpt(body: bytes, limit: int = EXCERPT_BYTES) -> str:
    """The start of an upstream's error body, for a run's error and the log."""
    text = body[:limit].decode("utf-8", "replace")
    return text + ("..." if len(body) > limit else "")
