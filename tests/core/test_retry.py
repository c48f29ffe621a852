"""The suite's one retry policy: full-jitter backoff, Retry-After as a floor, and caps on
attempts, total wait and deadline; with recorded sleeps and a scripted random source."""

from __future__ import annotations

import random

import pytest

from flaresuite.http import TransportError
from flaresuite.retry import Again, Backoff, Retrier, RetryPolicy, retry_after_seconds


class Highest(random.Random):
    """Draws the top of every range, so waits show their ceilings."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Clock:
    def __init__(self) -> None:
        self.at = 1000.0

    def now(self) -> float:
        return self.at

    def monotonic(self) -> float:
        return self.at


class Script:
    """Attempts that return (or raise) the scripted results in order."""

    def __init__(self, *results) -> None:
        self.results = list(results)
        self.calls = 0

    async def __call__(self):
        self.calls += 1
        result = self.results.pop(0)
        if isinstance(result, BaseException):
            raise result
        return result


def retry_5xx(status: int) -> Again | None:
    return Again() if status >= 500 else None


def test_backoff_doubles_from_the_base_up_to_the_cap():
    backoff = Backoff(base=0.5, cap=4.0)
    assert [backoff.delay(n, Highest()) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert all(0 <= backoff.delay(3, random.Random(seed)) <= 2.0 for seed in range(50))
    with pytest.raises(ValueError):
        backoff.delay(0, Highest())


async def test_a_retryable_result_is_retried_until_accepted(sleeps):
    retrier = Retrier(RetryPolicy(attempts=4), sleep=sleeps, rng=Highest())
    outcome = await retrier.run(Script(503, 500, 200), retry_5xx)
    assert (outcome.value, outcome.attempts, outcome.exhausted) == (200, 3, False)
    assert sleeps == [0.5, 1.0]


async def test_exhausted_attempts_return_the_last_result_for_the_caller_to_judge(sleeps):
    outcome = await Retrier(RetryPolicy(attempts=3), sleep=sleeps).run(
        Script(500, 502, 503), retry_5xx
    )
    assert (outcome.value, outcome.attempts, outcome.exhausted) == (503, 3, True)
    assert len(sleeps) == 2


async def test_transport_errors_are_retried_and_the_last_one_is_raised_with_a_note(sleeps):
    script = Script(TransportError("reset"), TransportError("refused"))
    with pytest.raises(TransportError, match="refused") as failure:
        await Retrier(RetryPolicy(attempts=2), sleep=sleeps).run(script, retry_5xx)
    assert failure.value.__notes__ == ["gave up after 2 attempt(s)"]
    assert script.calls == 2


async def test_other_exceptions_propagate_at_once(sleeps):
    script = Script(KeyError("bug"), 200)
    with pytest.raises(KeyError):
        await Retrier(sleep=sleeps).run(script, retry_5xx)
    assert script.calls == 1 and sleeps == []


async def test_retry_after_is_a_floor_under_the_jitter_and_itself_capped(sleeps):
    policy = RetryPolicy(attempts=3, max_retry_after=30.0)
    answers = iter([Again(retry_after=12.0), Again(retry_after=600.0), None])
    outcome = await Retrier(policy, sleep=sleeps, rng=random.Random(1)).run(
        Script(429, 429, 200), lambda _: next(answers)
    )
    assert outcome.value == 200
    assert sleeps == [12.0, 30.0]


async def test_no_retry_starts_that_would_end_past_the_deadline():
    clock = Clock()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.at += seconds

    retrier = Retrier(RetryPolicy(attempts=5), sleep=sleep, clock=clock)
    outcome = await retrier.run(
        Script(500, 500, 500), lambda _: Again(retry_after=10.0), deadline=clock.at + 15.0
    )
    assert waits == [10.0]
    assert (outcome.attempts, outcome.exhausted) == (2, True)


async def test_the_total_wait_is_capped(sleeps):
    retrier = Retrier(RetryPolicy(attempts=10, max_total_wait=3.0), sleep=sleeps, rng=Highest())
    outcome = await retrier.run(Script(*[500] * 10), retry_5xx)
    assert outcome.exhausted and sum(sleeps) <= 3.0
    assert sleeps == [0.5, 1.0]


async def test_before_attempt_runs_before_every_attempt_after_its_wait(sleeps):
    events: list[str] = []

    async def renew() -> None:
        events.append("renew")

    async def sleep(seconds: float) -> None:
        events.append("sleep")

    await Retrier(RetryPolicy(attempts=3), sleep=sleep, before_attempt=renew).run(
        Script(500, 500, 200), retry_5xx
    )
    assert events == ["renew", "sleep", "renew", "sleep", "renew"]


def test_at_least_one_attempt():
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("120", 120.0),
        (" 7 ", 7.0),
        ("Thu, 01 Jan 1970 00:20:00 GMT", 200.0),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
        ("soon", None),
        ("-5", None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(header, seconds):
    assert retry_after_seconds(header, now=1000.0) == seconds
