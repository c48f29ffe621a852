"""Sync modes and the cron expressions that select them.

A Worker's cron handler is told which expression fired (``controller.cron``). The mode is read
from that expression, never from the clock: at 02:00 UTC both ``0 2 * * *`` and ``0 * * * *``
fire, and deciding by the hour made the public example start two FULL uploads at once.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from flaresuite.errors import BadInput, RuntimeFailure
from flaresuite.redact import describe_rejected


class Mode(enum.Enum):
    FULL = "FULL"
    """Replace the whole datasource (Glean ``/bulkindexdocuments``)."""
    INCREMENTAL = "INCREMENTAL"
    """Add, update and delete what changed since the checkpoint (``/indexdocuments``)."""


class InvalidMode(BadInput):
    """A mode that is neither ``"FULL"`` nor ``"INCREMENTAL"``."""


class UnknownCron(RuntimeFailure):
    """A cron expression that no mode is scheduled on."""


def parse_mode(value: object) -> Mode:
    """Exactly ``"FULL"`` or ``"INCREMENTAL"``; anything else (missing, ``"full"``, a typo) is
    rejected rather than defaulting to a run that replaces the datasource."""
    if isinstance(value, str):
        for mode in Mode:
            if value == mode.value:
                return mode
    raise InvalidMode(f'mode must be "FULL" or "INCREMENTAL", got {_shown(value)}')


def _shown(value: object) -> str:
    """A refused mode as the error shows it: short values as written, anything else by type
    and size only (the caller's own input, but an answer should not echo a large body)."""
    text = repr(value)
    return text if len(text) <= 40 else describe_rejected(value)


def mode_for_cron(cron: str, schedule: Mapping[Mode, str]) -> Mode:
    """The mode whose configured cron expression is ``cron`` (whitespace-insensitive)."""
    fired = " ".join(cron.split())
    for mode, expression in schedule.items():
        if " ".join(expression.split()) == fired:
            return mode
    configured = ", ".join(f"{m.value}={e!r}" for m, e in schedule.items())
    raise UnknownCron(f"cron {cron!r} is not scheduled for any mode ({configured})")
