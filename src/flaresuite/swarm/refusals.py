"""Refusing a request before it changes anything (docs/swarm.md, "HTTP routes").

An upgrade or an owner request that the coordinator or :mod:`.web` will not serve raises
:class:`Refused`; the host answers it with its status and a ``{"error": ...}`` body. The checks
here need nothing of a swarm's state but the numbers passed in: the form of a device id, and
what one job may ask of a swarm.
"""

from __future__ import annotations

import re

from flaresuite.errors import BadInput
from flaresuite.swarm import kernels
from flaresuite.swarm.effects import Effect
from flaresuite.swarm.model import CHUNK_KINDS

DEVICE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MAX_QUEUE = 20_000
"""Unfinished chunks per swarm: a woken object loads them all, about 0.9 KB each in memory,
and the isolate has 128 MB."""
MAX_CHUNKS_PER_JOB = 10_000


class Refused(BadInput):
    """An upgrade or owner request that must be answered with ``status``. It changed no state;
    ``effects`` holds only the security log lines the refusal produced."""

    def __init__(self, status: int, message: str, effects: list[Effect] | None = None) -> None:
        super().__init__(message, status=status)
        self.effects = effects or []


def check_device_id(device_id: str | None) -> str:
    if device_id is None or not DEVICE_ID.fullmatch(device_id):
        raise Refused(400, "deviceId must be 1-64 characters of A-Z a-z 0-9 . _ : -")
    return device_id


def check_job(kind: str, chunks: int, ops_per_chunk: int, *, unfinished: int) -> None:
    """A job of ``chunks`` chunks of ``ops_per_chunk`` operations each, for a swarm that
    holds ``unfinished`` chunks already."""
    if kind not in CHUNK_KINDS:
        raise Refused(400, f"kind must be one of {', '.join(CHUNK_KINDS)}")
    if not 1 <= chunks <= MAX_CHUNKS_PER_JOB:
        raise Refused(400, f"chunks must be between 1 and {MAX_CHUNKS_PER_JOB}")
    if not 1 <= ops_per_chunk <= kernels.MAX_OPS[kind]:
        raise Refused(400, f"opsPerChunk for {kind} must be between 1 and {kernels.MAX_OPS[kind]}")
    if unfinished + chunks > MAX_QUEUE:
        raise Refused(
            409, f"the swarm already holds {unfinished} unfinished chunks (limit {MAX_QUEUE})"
        )
