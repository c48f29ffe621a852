"""Weighted scheduling with per-device quotas.

A device's weight combines what it declared (cores, GPU), what it measured (benchmark ops/s)
and how fast its chunks actually finish (an exponentially weighted mean of ``durationMs``), so
weights move as results come in. The seed wrote latency-adjusted weights to one key and
scheduled from another (research section 3.1); here there is one weight, recomputed in one place.

When the queue holds fewer chunks than the waiting devices want, :func:`allocate` shares it in
proportion to weight, never beyond what a device asked for or its quota allows.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

TARGET_CHUNK_MS = 1000.0
"""A device whose chunks take this long on average keeps its capability weight unchanged."""

LATENCY_SMOOTHING = 0.2
"""Weight of the newest duration in the moving average."""

MIN_SPEED, MAX_SPEED = 0.25, 4.0
MAX_QUOTA = 32

K = TypeVar("K", bound=Hashable)


def capability_weight(cpu_cores: int, gpu_available: bool, ops_per_second: float | None) -> float:
    """Declared capability plus the benchmark, capped so one number cannot dominate."""
    benchmark = min((ops_per_second or 0.0) / 1000.0, 100.0)
    return cpu_cores * 10.0 + (50.0 if gpu_available else 0.0) + benchmark


def speed_factor(mean_chunk_ms: float | None) -> float:
    if mean_chunk_ms is None:
        return 1.0
    return min(MAX_SPEED, max(MIN_SPEED, TARGET_CHUNK_MS / mean_chunk_ms))


def weight(
    cpu_cores: int, gpu_available: bool, ops_per_second: float | None, mean_chunk_ms: float | None
) -> float:
    return capability_weight(cpu_cores, gpu_available, ops_per_second) * speed_factor(mean_chunk_ms)


def next_mean(mean_chunk_ms: float | None, duration_ms: float) -> float:
    if mean_chunk_ms is None:
        return float(duration_ms)
    return (1 - LATENCY_SMOOTHING) * mean_chunk_ms + LATENCY_SMOOTHING * duration_ms


def quota(cpu_cores: int, gpu_available: bool) -> int:
    """How many chunks a device may hold at once."""
    return min(MAX_QUOTA, max(2, cpu_cores * 2) + (4 if gpu_available else 0))


def throttled(full: int, percent: int) -> int:
    """A device's ``full`` quota scaled by the swarm's throttle (a percentage), at least one
    chunk."""
    return max(1, full * percent // 100)


def allocate(available: int, demands: Sequence[tuple[K, float, int]]) -> dict[K, int]:
    """Shares ``available`` chunks among ``(device, weight, wanted)`` demands.

    Each device first gets the floor of its weighted share (capped at what it wants); what is
    left goes to the heaviest devices that still want more. The result never exceeds a
    device's demand nor ``available`` in total, and hands out ``min(available, total wanted)``.
    O(n log n) in the number of waiting devices.
    """
    wanted_total = sum(wanted for _, _, wanted in demands)
    if wanted_total <= available:
        return {key: wanted for key, _, wanted in demands if wanted > 0}
    total_weight = sum(w for _, w, wanted in demands if wanted > 0)
    grants: dict[K, int] = {}
    given = 0
    for key, w, wanted in demands:
        if wanted > 0:
            # The last min() guards against float rounding pushing the floors past the total.
            share = min(wanted, int(available * w / total_weight), available - given)
            grants[key] = share
            given += share
    left = available - given
    for key, _, wanted in sorted(demands, key=lambda d: d[1], reverse=True):
        if left <= 0:
            break
        extra = min(left, wanted - grants.get(key, 0))
        if extra > 0:
            grants[key] = grants.get(key, 0) + extra
            left -= extra
    return {key: n for key, n in grants.items() if n > 0}
