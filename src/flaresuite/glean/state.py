"""What the orchestrator remembers between invocations, in KV.

* ``glean:last-run:{MODE}``: the last run record of each mode, shown by ``GET /health``;
* ``glean:checkpoint``: epoch seconds from which the next INCREMENTAL run asks for changes;
  written only after a run succeeds (a FULL run included), from the time that run started;
* ``glean:unfinished-upload``: the ``uploadId`` of a bulk upload that began and has not
  finished; the next FULL run restarts with ``forceRestartUpload``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from flaresuite.glean.modes import Mode
from flaresuite.ports import KeyValue

CHECKPOINT_KEY = "glean:checkpoint"
UNFINISHED_UPLOAD_KEY = "glean:unfinished-upload"


def last_run_key(mode: Mode) -> str:
    return f"glean:last-run:{mode.value}"


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
        }
        if self.error is not None:
            record["error"] = self.error
        return record


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
                runs[mode.value] = json.loads(raw) if raw else None
            except ValueError:
                # Written by something else; /health must still answer.
                runs[mode.value] = {"status": "unreadable"}
        return runs

    async def record(self, run: RunRecord) -> None:
        await self._kv.put(last_run_key(run.mode), json.dumps(run.to_json()))

    async def checkpoint(self) -> int | None:
        raw = await self._kv.get(CHECKPOINT_KEY)
        return int(raw) if raw and raw.isdigit() else None

    async def set_checkpoint(self, epoch_seconds: int) -> None:
        await self._kv.put(CHECKPOINT_KEY, str(epoch_seconds))

    async def unfinished_upload(self) -> str | None:
        return await self._kv.get(UNFINISHED_UPLOAD_KEY)

    async def begin_upload(self, upload_id: str) -> None:
        await self._kv.put(UNFINISHED_UPLOAD_KEY, upload_id)

    async def finish_upload(self) -> None:
        await self._kv.delete(UNFINISHED_UPLOAD_KEY)
