"""Fan-out through Cloudflare Queues: one message per prefix, consumed by the same Worker.

When a bucket is too large for one invocation's budgets, the cron run does not build at all: it
sends one message per configured prefix to ``INDEX_QUEUE`` and the Worker's ``queue`` handler
builds each prefix in an invocation of its own, with a budget of its own. A prefix deferred for
want of budget sends its own continuation, so a cold bucket converges in minutes instead of
waiting for the next cron hour; the prefix root's pages (its project lists) are written by the
invocation that completes the last of its directories. Delivery, retries and the dead-letter
queue are the platform's; nothing here schedules. ``run`` ties every message to the cron run
that started it: the consumer drops messages of a run older than the one recorded in state, so
a continuation chain that outlives the hour never builds a prefix beside the next run's.

Message body: ``{"kind": "index-prefix", "prefix": "whl/nightly", "run": <started_at>,
"continuation": <n>}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

KIND = "index-prefix"
MAX_CONTINUATIONS = 500
"""A prefix that still needs more after this many invocations in one run waits for the next
cron run (a cold million-key bucket needs about a hundred)."""


class Delivery(Protocol):
    """One delivered queue message (``cfbindings.queues`` adapts the runtime's)."""

    @property
    def body(self) -> object: ...

    def ack(self) -> None: ...

    def retry(self) -> None: ...


@dataclass(frozen=True, slots=True)
class PrefixPart:
    prefix: str
    run: float
    continuation: int = 0

    def to_body(self) -> dict[str, object]:
        return {
            "kind": KIND,
            "prefix": self.prefix,
            "run": self.run,
            "continuation": self.continuation,
        }

    def next(self) -> PrefixPart:
        return PrefixPart(self.prefix, self.run, self.continuation + 1)


def parse_part(body: object) -> PrefixPart | None:
    """The part a message asks for, or ``None`` for a body this Worker never sends."""
    if not isinstance(body, Mapping) or body.get("kind") != KIND:
        return None
    prefix, run, continuation = body.get("prefix"), body.get("run"), body.get("continuation", 0)
    if not isinstance(prefix, str) or isinstance(run, bool) or not isinstance(run, (int, float)):
        return None
    if isinstance(continuation, bool) or not isinstance(continuation, int) or continuation < 0:
        return None
    return PrefixPart(prefix, float(run), continuation)
