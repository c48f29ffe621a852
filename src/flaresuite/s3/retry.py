"""Which failed S3 requests are worth repeating, and how long to wait before each repeat.

S3 asks clients to retry 5xx answers (``InternalError``, ``ServiceUnavailable``) and to
back off on throttling (``503 SlowDown``, ``429``), see "Error responses" and "Best
practices design patterns: optimizing Amazon S3 performance". ``400 RequestTimeout`` means
the service stopped waiting for the request body, which a fresh attempt can fix. Any other
4xx (bad signature, no permission, no such bucket) will fail the same way again.

Waits use exponential backoff with "full jitter" (AWS Architecture Blog, "Exponential
Backoff And Jitter", 2015): a uniform draw from ``[0, min(cap, base * 2**n))``, so many
clients failing together do not retry in lockstep.
"""

from __future__ import annotations

import random
from collections.abc import Callable

BASE_DELAY = 0.25
"""Seconds; the first retry waits up to this long."""
MAX_DELAY = 20.0
"""Seconds; no single wait is longer."""

_RETRYABLE_CODES = frozenset({"RequestTimeout", "SlowDown", "InternalError", "ServiceUnavailable"})


def is_retryable(status: int, code: str) -> bool:
    return status >= 500 or status == 429 or code in _RETRYABLE_CODES


def backoff_delay(
    retry: int,
    *,
    uniform: Callable[[float, float], float] = random.uniform,
    base: float = BASE_DELAY,
    cap: float = MAX_DELAY,
) -> float:
    """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
    return uniform(0.0, min(cap, base * 2 ** (retry - 1)))
