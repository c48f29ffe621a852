"""Pacing requests under Glean's per-token rate limits (``docs/get-started/rate-limits.mdx``):
600 documents per minute on ``/indexdocuments``, 30 requests per second on the rest.

Pacing keeps a run under a limit it knows; :mod:`flaresuite.retry` handles the 429 of a limit
it does not (another client on the same token).
"""

from __future__ import annotations

from collections import deque

from flaresuite.ports import Clock
from flaresuite.retry import Sleep


class SlidingWindowLimiter:
    """At most ``limit`` units in any ``window`` seconds. Strict, unlike a token bucket, which
    lets a full bucket plus a window's refill (twice the limit) through in one window."""

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
