"""The one retry policy of the suite: exponential backoff with full jitter, ``Retry-After``, and
a cap on the total wait.

Every outgoing call that may be repeated goes through :class:`Retrier` (S3, Glean, the
connector backend, the delete-proxy client); reconnect loops use :class:`Backoff` alone.

* Waits are drawn uniformly from ``[0, min(cap, base * 2**(retry - 1)))`` ("full jitter", AWS
  Architecture Blog, "Exponential Backoff And Jitter", 2015), so clients that failed together
  do not retry in lockstep. ``retry`` counts from 1: the first retry, not the first attempt.
* A server's ``Retry-After`` (RFC 9110 section 10.2.3) is a floor under the jittered wait,
  itself capped at :attr:`RetryPolicy.max_retry_after`.
* A ``deadline`` (the caller's clock) or :attr:`RetryPolicy.max_total_wait` stops retrying
  when the next wait would end past it: a Worker's run must finish inside its CPU and wall
  budgets, so a retry that cannot complete in time is not started.

Randomness, sleep and clock are injected, so tests neither wait nor depend on chance.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Generic, TypeVar

from flaresuite.http import TransportError
from flaresuite.ports import Clock, SystemClock

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[object]]
"""``asyncio.sleep`` in production; tests pass one that returns at once (and may advance a
fake clock)."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter."""

    base: float = 0.5
    """Seconds; the first retry waits up to this long."""
    cap: float = 30.0
    """Seconds; no single wait is longer."""

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        if retry < 1:
            raise ValueError(f"retry counts from 1, got {retry}")
        return rng.uniform(0.0, min(self.cap, self.base * 2 ** (retry - 1)))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    """Tries in all, the first included."""
    backoff: Backoff = Backoff()
    max_retry_after: float = 300.0
    """The longest ``Retry-After`` honoured; a server asking for more gets this."""
    max_total_wait: float | None = None
    """Seconds of waiting, summed over all retries, after which no retry is started."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")

    def wait(self, retry: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds before retry number ``retry``: the jittered backoff, but never sooner than
        the server's ``retry_after``."""
        jittered = self.backoff.delay(retry, rng)
        if retry_after is None:
            return jittered
        return min(max(retry_after, jittered), self.max_retry_after)


@dataclass(frozen=True, slots=True)
class Again:
    """A classifier's verdict on an attempt's result: send it again."""

    retry_after: float | None = None
    """Seconds the server asked for (``Retry-After``), if it did."""


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    value: T
    """The last attempt's result."""
    attempts: int
    exhausted: bool
    """``value`` still asked for a retry, but the attempts, the total wait or the deadline
    ran out. The caller decides what that means (raise, report, give up quietly)."""


Classify = Callable[[T], Again | None]
"""``None`` accepts a result; :class:`Again` asks for another attempt."""


class Retrier:
    """Runs attempts under a :class:`RetryPolicy`.

    ``before_attempt`` is awaited before every attempt, after its wait: a long run renews a lock
    there, so the lock need only outlive one attempt.
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Clock | None = None,
        before_attempt: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._clock = clock or SystemClock()
        self._before_attempt = before_attempt

    async def run(
        self,
        attempt: Callable[[], Awaitable[T]],
        classify: Classify[T],
        *,
        retry_on: tuple[type[BaseException], ...] = (TransportError,),
        deadline: float | None = None,
    ) -> Outcome[T]:
        """Calls ``attempt`` until ``classify`` accepts its result or retrying must stop.

        An exception of a ``retry_on`` type counts as a retryable failure; when retrying stops
        after one, it is re-raised with a note of how many attempts were made. Any other
        exception propagates at once. ``deadline`` is a time on the injected clock's
        ``monotonic()`` scale.
        """
        policy = self.policy
        waited = 0.0
        retry_after: float | None = None
        for number in range(1, policy.attempts + 1):
            if number > 1:
                delay = policy.wait(number - 1, self._rng, retry_after)
                if not self._may_wait(delay, waited, deadline):
                    break
                await self._sleep(delay)
                waited += delay
            if self._before_attempt is not None:
                await self._before_attempt()
            try:
                value = await attempt()
            except retry_on as error:
                failure: BaseException | None = error
                retry_after = None
            else:
                verdict = classify(value)
                if verdict is None:
                    return Outcome(value, number, exhausted=False)
                failure = None
                retry_after = verdict.retry_after
            last_number = number
        # Retrying stopped: the attempts, the total wait or the deadline ran out.
        if failure is not None:
            failure.add_note(f"gave up after {last_number} attempt(s)")
            raise failure
        return Outcome(value, last_number, exhausted=True)

    def _may_wait(self, delay: float, waited: float, deadline: float | None) -> bool:
        cap = self.policy.max_total_wait
        if cap is not None and waited + delay > cap:
            return False
        return deadline is None or self._clock.monotonic() + delay <= deadline


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` in seconds from ``now`` (epoch seconds): delta-seconds or an HTTP-date
    (RFC 9110 section 10.2.3). ``None`` when absent or unreadable; never negative."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.fromtimestamp(now, UTC)).total_seconds())
