"""How many frames one socket may send: a token bucket, and what sustained abuse costs.

Every frame takes a token before it is even parsed; a frame that finds the bucket empty is
dropped. The bucket refills at :data:`FRAMES_PER_SECOND` up to :data:`BURST`. A completion of
a chunk the device really held gives back :data:`WORK_REFUND` tokens, one for itself and one
for the request that follows it, so a device finishing many small chunks is never limited by
its own useful work: completions are bounded by what the coordinator handed out, and only
frames that do nothing useful (repeated benchmarks, heartbeats, garbage) spend the budget.

Drops add to a debt that decays at :data:`FORGIVEN_PER_SECOND`. The first drop after the debt
has decayed to zero earns the sender one warning (an ``ERROR`` reply and a ``SECURITY`` log
line, never one per frame); a debt above :data:`MAX_DEBT` means the sender keeps sending far
faster than allowed, and the coordinator closes the socket with 1008. The fuzz run that
motivated this sent 3,000 benchmark frames at 1,000/s: the socket now closes after 364 of them
(about a third of a second), 57 of which were accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

BURST = 50
FRAMES_PER_SECOND = 20.0
WORK_REFUND = 2
FORGIVEN_PER_SECOND = 20.0
MAX_DEBT = 300


@dataclass(slots=True)
class FrameBudget:
    """One socket's bucket and debt. Memory only: after an eviction every socket starts full."""

    updated: float
    tokens: float = BURST
    debt: float = 0.0

    def take(self, now: float) -> bool:
        """Spends a token for one frame; False when the frame must be dropped."""
        elapsed = max(0.0, now - self.updated)
        self.updated = now
        self.tokens = min(BURST, self.tokens + elapsed * FRAMES_PER_SECOND)
        self.debt = max(0.0, self.debt - elapsed * FORGIVEN_PER_SECOND)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def drop(self) -> tuple[bool, bool]:
        """Counts a dropped frame: ``(warn, close)``, whether this drop starts a new episode
        (warn once) and whether the sender is abusive enough to be disconnected."""
        warn = self.debt == 0
        self.debt += 1
        return warn, self.debt > MAX_DEBT

    def refund(self) -> None:
        """The frame completed real work; give back what it and its follow-up cost."""
        self.tokens = min(BURST, self.tokens + WORK_REFUND)
