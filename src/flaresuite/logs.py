"""Structured logs: one JSON object per line on stdout, which Workers Logs and ``wrangler tail``
index field by field. Callers pass values, never secrets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

Log = Callable[..., None]
"""``log(event, **fields)``: emit one structured event."""


def json_log(event: str, /, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}, default=str), flush=True)
