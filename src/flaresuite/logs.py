"""Structured logs: one JSON object per line on stdout, which Workers Logs and ``wrangler tail``
index field by field. Callers pass values, never secrets."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

Log = Callable[..., None]
"""``log(event, **fields)``: emit one structured event."""


def json_log(event: str, /, **fields: Any) -> None:
    print(_line(event, fields), flush=True)


def stderr_json_log(event: str, /, **fields: Any) -> None:
    """The same lines on stderr, for command-line tools whose stdout is their result."""
    print(_line(event, fields), file=sys.stderr, flush=True)


def _line(event: str, fields: dict[str, Any]) -> str:
    return json.dumps({"event": event, **fields}, default=str)
