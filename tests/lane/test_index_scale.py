"""Opt-in: the index Worker on Pyodide builds a 300,000-key PyTorch-shaped bucket cold, then
runs again with nothing changed, fanned out over the queue, and never exceeds Cloudflare's
128 MB of memory (Pyodide's WebAssembly memory, its Python heap included) nor its
subrequest budget in any invocation.

Minutes long, so it runs only with ``FLARESUITE_INDEX_SCALE=1`` (``FLARESUITE_INDEX_SCALE_KEYS``
changes the size)::

    FLARESUITE_INDEX_SCALE=1 uv run pytest tests/lane/test_index_scale.py -s

The bucket is served by a loopback server (``tests/index/synthetic_s3.py``): seeding moto with
300,000 objects would take longer than the run. Each run records its figures in
``dist/index-scale.json``, which ``benchmarks/index_build.py`` prints beside its own.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.index.synthetic_s3 import BUCKET, Layout, serving

from driver import LaneConfig, QueueConsumer

pytestmark = [
    pytest.mark.lane,
    pytest.mark.skipif(
        os.environ.get("FLARESUITE_INDEX_SCALE") != "1",
        reason="opt-in: set FLARESUITE_INDEX_SCALE=1 (a run of several minutes)",
    ),
]

DEFAULT_KEYS = 300_000
KEYS = int(os.environ.get("FLARESUITE_INDEX_SCALE_KEYS", str(DEFAULT_KEYS)))
MEMORY_LIMIT = 128 * 1000 * 1000
"""Cloudflare's 128 MB per isolate."""
BUDGET = 9000
FIGURES = Path(__file__).resolve().parents[2] / "dist" / "index-scale.json"
"""Where the last run's figures are kept (``dist/`` is not versioned), for the benchmark."""


def built(lane) -> list[dict]:
    return [line for line in lane.json_logs() if line.get("event") == "index.prefix"]


def test_a_pytorch_sized_bucket_stays_within_memory_and_subrequests_cold_and_steady(
    lane_factory,
):
    with serving(Layout.pytorch_shaped(KEYS)) as source:
        lane = lane_factory(
            LaneConfig(
                main="src/index_worker.py",
                r2_buckets=("DEST_BUCKET", "DEST_BUCKET_META_CDN", "INDEX_STATE"),
                queues={"INDEX_QUEUE": "index-parts"},
                queue_consumers=[QueueConsumer("index-parts", max_batch_size=1)],
                vars={
                    "SOURCE_S3_BUCKET": BUCKET,
                    "S3_ENDPOINT_URL": source.endpoint,
                    "INDEX_PREFIXES": "whl,whl/nightly,whl/test,libtorch",
                    "MAX_SUBREQUESTS": str(BUDGET),
                    # CPU is the lane's to spend: the budget under test is subrequests
                    "INDEX_STOP_METADATA_AFTER_SECONDS": "3600",
                },
            )
        )
        lane.reset()
        started = lane.memory()

        lane.scheduled("0 * * * *")
        lane.drain_queues(timeout=3 * 3600)
        cold = built(lane)
        cold_memory = lane.memory()
        cold_requests = dict(source.requests)

        lane.scheduled("0 * * * *")
        lane.drain_queues(timeout=600)
        steady = built(lane)
        steady_memory = lane.memory()

    print(
        f"\n{KEYS:,} keys: {len(cold)} cold invocations, S3 requests {cold_requests}; "
        f"WebAssembly memory {started / 1e6:.0f} MB at start, {cold_memory / 1e6:.0f} MB after "
        f"the cold build, {steady_memory / 1e6:.0f} MB after the steady run; subrequests per "
        f"invocation at most {max(r['subrequests'] for r in cold)} cold, "
        f"{max(r['subrequests'] for r in steady)} steady"
    )
    record_figures(
        {
            "keys": KEYS,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": (
                "FLARESUITE_INDEX_SCALE=1 "
                + (f"FLARESUITE_INDEX_SCALE_KEYS={KEYS} " if KEYS != DEFAULT_KEYS else "")
                + "uv run pytest tests/lane/test_index_scale.py -s"
            ),
            "budget": BUDGET,
            "memory_limit": MEMORY_LIMIT,
            "memory_at_start": started,
            "cold": {
                "invocations": len(cold),
                "statuses": {r["prefix"]: r["status"] for r in cold},
                "max_subrequests": max(r["subrequests"] for r in cold),
                "memory": cold_memory,
                "s3_requests": cold_requests,
            },
            "steady": {
                "invocations": len(steady),
                "max_subrequests": max(r["subrequests"] for r in steady),
                "memory": steady_memory,
                "metadata_requests_and_writes": sum(
                    r["pages_written"] + r["heads"] + r["sidecar_reads"] for r in steady
                ),
            },
        }
    )
    assert {r["prefix"]: r["status"] for r in cold} == {
        "whl": "ok",
        "whl/nightly": "ok",
        "whl/test": "ok",
        "libtorch": "ok",
    }
    assert all(r["subrequests"] <= BUDGET for r in cold + steady)
    assert [r["status"] for r in steady] == ["ok"] * 4
    assert sum(r["pages_written"] + r["heads"] + r["sidecar_reads"] for r in steady) == 0
    assert cold_memory <= MEMORY_LIMIT and steady_memory <= MEMORY_LIMIT


def record_figures(figures: dict) -> None:
    """Keeps this run's figures (WebAssembly memory never shrinks, so the memory after an
    event is the peak so far), before the assertions judge them."""
    FIGURES.parent.mkdir(exist_ok=True)
    FIGURES.write_text(json.dumps(figures, indent=1) + "\n")
