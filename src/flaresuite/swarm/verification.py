"""Which results the coordinator checks, and what a wrong one costs (docs/swarm.md, "Results").

A device's first :data:`CHECK_FIRST` results are always checked, then a :data:`CHECK_SHARE`
sample of them, drawn when each arrives from a source the device cannot predict
(:data:`unpredictable`), so it cannot tell which of its results will be checked. A check
computes the chunk's result the cheap way (:mod:`.kernels`) and compares for equality. A wrong
result costs the device, not the chunk; after :data:`MAX_WRONG` of them the device is disabled.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from flaresuite.swarm import kernels
from flaresuite.swarm.model import Chunk, Device

CHECK_FIRST = 3
CHECK_SHARE = 0.1
MAX_WRONG = 3
"""Wrong results after which a device is disabled."""

unpredictable = secrets.SystemRandom().random
"""The draws for checks: devices must not be able to predict which results are checked."""


def needs_check(device: Device, draw: Callable[[], float]) -> bool:
    """Whether to check the result ``device`` just sent; draws only past its first results."""
    return device.verified + device.rejected < CHECK_FIRST or draw() < CHECK_SHARE


def is_right(chunk: Chunk, result: int) -> bool:
    return result == kernels.expected_result(chunk.kind, kernels.seed_of(chunk.id), chunk.ops)
