"""What the orchestrator remembers between invocations, in KV.

* ``glean:last-run:{MODE}``: the last run record of each mode, shown by ``GET /health`` (the
  public fields of :data:`PUBLIC_RUN_FIELDS` to anyone, the whole record with the token);
* ``glean:checkpoint``: epoch seconds from which the next INCREMENTAL run asks for changes;
  written only after a run succeeds (a FULL run included), from the time that run started;
* ``glean:unfinished-upload``: the ``uploadId`` of a bulk upload that began and has not
  finished; the next FULL run restarts with ``forceRestartUpload``.

Every write goes through :class:`SpacedWrites`, because KV refuses a second write to one key
within a second.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from flaresuite.glean.modes import Mode
from flaresuite.jsonbody import BadJson, parse_json
from flaresuite.ports import Clock, KeyValue
from flaresuite.retry import Sleep

CHECKPOINT_KEY = "glean:checkpoint"
UNFINISHED_UPLOAD_KEY = "glean:unfinished-upload"

MAX_RECORD_BYTES = 1024 * 1024
"""A run record is a few hundred bytes, a few KiB with refused documents named."""

SAME_KEY_WRITE_INTERVAL = 1.0
"""KV takes at most one write per second to a key and answers a faster one with 429
(developers.cloudflare.com/kv/platform/limits, "Writes to same key")."""


PUBLIC_RUN_FIELDS = (
    "runId",
    "mode",
    "trigger",
    "status",
    "startedAt",
    "finishedAt",
    "documentsIndexed",
    "documentsDeleted",
    "documentsRefused",
)
"""What anyone may read of a run: when it ran, how it ended and how much it did. Its ``error``
and ``refused`` documents can name the source, upstream answers and document ids, so they
are shown only to a caller with the trigger token (and logged)."""


def last_run_key(mode: Mode) -> str:
    return f"glean:last-run:{mode.value}"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A document a run did not index, and why (:class:`.documents.InvalidDocument`)."""

    document_id: str | None
    reason: str

    def to_json(self) -> dict[str, object]:
        return {"id": self.document_id, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    mode: Mode
    trigger: str
    """``"cron"`` or ``"http"``."""
    status: str
    """``"completed"``, ``"error"`` or ``"skipped"`` (nothing to do yet, see ``error``)."""
    started_at: float
    finished_at: float
    documents_indexed: int = 0
    documents_deleted: int = 0
    error: str | None = None
    documents_refused: int = 0
    refused: tuple[Refusal, ...] = ()
    """The first refused documents (``documents_refused`` counts them all)."""

    def to_json(self) -> dict[str, object]:
        record: dict[str, object] = {
            "runId": self.run_id,
            "mode": self.mode.value,
            "trigger": self.trigger,
            "status": self.status,
            "startedAt": iso_utc(self.started_at),
            "finishedAt": iso_utc(self.finished_at),
            "documentsIndexed": self.documents_indexed,
            "documentsDeleted": self.documents_deleted,
            "documentsRefused": self.documents_refused,
        }
        if self.error is not None:
            record["error"] = self.error
        if self.refused:
            record["refused"] = [refusal.to_json() for refusal in self.refused]
        return record


def public_run(record: object) -> object:
    """A stored run record as ``GET /health`` shows it without the token."""
    if not isinstance(record, dict):
        return record
    return {name: record[name] for name in PUBLIC_RUN_FIELDS if name in record}


def iso_utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


class SyncState:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def last_runs(self) -> dict[str, object]:
        runs: dict[str, object] = {}
        for mode in Mode:
            raw = await self._kv.get(last_run_key(mode))
            try:
                runs[mode.value] = parse_json(raw, max_bytes=MAX_RECORD_BYTES) if raw else None
            except BadJson:
                # Written by something else; /health must still answer.
                runs[mode.value] = {"status": "unreadable"}
        return runs

    async def record(self, run: RunRecord) -> None:
        await self._kv.put(last_run_key(run.mode), json.dumps(run.to_json()))

    async def checkpoint(self) -> int | None:
        raw = await self._kv.get(CHECKPOINT_KEY)
        # ASCII digits only (int() also reads "١٢" and "1_000"), and few enough to convert.
        if raw and raw.isascii() and raw.isdigit() and len(raw) <= 15:
            return int(raw)
        return None

    async def set_checkpoint(self, epoch_seconds: int) -> None:
        await self._kv.put(CHECKPOINT_KEY, str(epoch_seconds))

    async def unfinished_upload(self) -> str | None:
        return await self._kv.get(UNFINISHED_UPLOAD_KEY)

    async def begin_upload(self, upload_id: str) -> None:
        await self._kv.put(UNFINISHED_UPLOAD_KEY, upload_id)

    async def finish_upload(self) -> None:
        await self._kv.delete(UNFINISHED_UPLOAD_KEY)


class SpacedWrites:
    """A :class:`~flaresuite.ports.KeyValue` that waits before writing or deleting a key it
    wrote less than :data:`SAME_KEY_WRITE_INTERVAL` ago.

    A run with nothing to do takes and releases its lock, and a one-page FULL run records and
    clears its upload, within milliseconds. Without the wait KV would refuse the second write:
    the run would fail after its work was done and leave its lock to block until it expires.
    """

    def __init__(self, kv: KeyValue, clock: Clock, sleep: Sleep) -> None:
        self._kv = kv
        self._clock = clock
        self._sleep = sleep
        self._written: dict[str, float] = {}
        """Key -> ``monotonic()`` when its last write returned."""

    async def get(self, key: str) -> str | None:
        return await self._kv.get(key)

    async def put(self, key: str, value: str, *, expiration_ttl: int | None = None) -> None:
        await self._wait_for(key)
        await self._kv.put(key, value, expiration_ttl=expiration_ttl)
        self._written[key] = self._clock.monotonic()

    async def delete(self, key: str) -> None:
        await self._wait_for(key)
        await self._kv.delete(key)
        self._written[key] = self._clock.monotonic()

    async def _wait_for(self, key: str) -> None:
        last = self._written.get(key)
        if last is not None:
            wait = last + SAME_KEY_WRITE_INTERVAL - self._clock.monotonic()
            if wait > 0:
                await self._sleep(wait)
