"""How many frames one socket may send: a token bucket, and what sustained abuse costs
(docs/swarm.md, "Rate limits"; issue 14: "above it, frames are dropped with one warning, and
sustained abuse closes the socket with 1008").

Every frame takes a token before it is even parsed; a frame that finds the bucket empty is
dropped. The bucket refills at :data:`FRAMES_PER_SECOND` up to :data:`BURST`. A completion of
a chunk the device really held gives back :data:`WORK_REFUND` tokens, one for itself and one
for the request that follows it, so a device finishing many small chunks is never limited by
its own useful work: completions are bounded by what the coordinator handed out, and only
frames that do nothing useful (repeated benchmarks, heartbeats, garbage) spend the budget.

Drops come in **episodes**: an episode starts with a drop and lasts until the sender has gone
:data:`QUIET_SECONDS` without one. Its first drop earns the sender one warning (an ``ERROR``
reply and a ``SECURITY`` log line, never one per frame). Its drops are the sender's debt, and
nothing but the end of the episode forgives it: the :data:`MAX_DROPS`-th drop of one episode
closes the socket with 1008. A debt that decayed as fast as the bucket refills (the first
version) was paid back between drops by a sender at 21-40 frames/s, which was then warned on
every drop and never closed. Now any sender that stays above the refill rate, by more than
one frame per quiet spell, is closed: at 1,000 frames/s after 153 frames (0.15 s, 53 of them
accepted), at 39/s after about 8 s, at 25/s after about 30 s, at 21/s after about 150 s.
"""

from __future__ import annotations

from dataclasses import dataclass

BURST = 50
FRAMES_PER_SECOND = 20.0
WORK_REFUND = 2
QUIET_SECONDS = 10.0
"""A spell this long without a drop ends an episode: the next drop warns again, and the
debt starts from zero."""
MAX_DROPS = 100
"""The drop of one episode that closes the socket."""


@dataclass(slots=True)
class FrameBudget:
    """One socket's bucket and debt. Memory only: after an eviction every socket starts full."""

    updated: float
    tokens: float = BURST
    debt: int = 0
    """Frames dropped in the current episode."""
    last_drop: float | None = None

    def take(self, now: float) -> bool:
        """Spends a token for one frame; False when the frame must be dropped."""
        elapsed = max(0.0, now - self.updated)
        self.updated = now
        self.tokens = min(BURST, self.tokens + elapsed * FRAMES_PER_SECOND)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def drop(self, now: float) -> tuple[bool, bool]:
        """Counts a dropped frame: ``(warn, close)``, whether this drop starts a new episode
        (warn once) and whether the sender has kept over its budget long enough to be
        disconnected."""
        warn = self.last_drop is None or now - self.last_drop >= QUIET_SECONDS
        if warn:
            self.debt = 0
        self.debt += 1
        self.last_drop = now
        return warn, self.debt >= MAX_DROPS

    def refund(self) -> None:
        """The frame completed real work; give back what it and its follow-up cost."""
        self.tokens = min(BURST, self.tokens + WORK_REFUND)
