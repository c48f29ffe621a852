"""The index Worker on Pyodide with its queue: the cron run fans out one message per prefix
over Miniflare's real queue broker, the same Worker's ``queue`` handler builds each prefix, a
prefix short of budget continues in messages of its own, and a listing nested thousands deep
fails its prefix without taking the interpreter down (issue 12.2).

The source is a synthetic PyTorch-shaped bucket on a loopback server (``tests/index/
synthetic_s3.py``), anonymous, so the lane's real ``fetch`` reaches it."""

from __future__ import annotations

import json

import pytest
from tests.index.synthetic_s3 import BUCKET, Layout, serving

from driver import LaneConfig, QueueConsumer

pytestmark = pytest.mark.lane

TOKEN = "index-fanout-token"
BUCKETS = ("DEST_BUCKET", "DEST_BUCKET_META_CDN", "INDEX_STATE")
PREFIXES = "whl,whl/test,libtorch"


SMALL = Layout(
    0,
    {
        "whl": ("dependency", 1),
        "whl/cpu": ("release", 3),
        "whl/cu126": ("release", 1),
        "whl/test": ("dependency", 1),
        "whl/test/cpu": ("release", 1),
        "libtorch/cpu": ("libtorch", 2),
    },
)
"""Small on purpose: every page write crosses into Miniflare, at tens of milliseconds each."""


@pytest.fixture(scope="module")
def source():
    with serving(SMALL, nested=frozenset({"whl/test/"})) as server:
        yield server


def config(source, **vars) -> LaneConfig:
    return LaneConfig(
        main="src/index_worker.py",
        r2_buckets=BUCKETS,
        queues={"INDEX_QUEUE": "index-parts"},
        queue_consumers=[QueueConsumer("index-parts", max_batch_size=1, max_retries=1)],
        vars={
            "SOURCE_S3_BUCKET": BUCKET,
            "S3_ENDPOINT_URL": source.endpoint,
            "INDEX_PREFIXES": PREFIXES,
            "INDEX_RUN_TOKEN": TOKEN,
            **vars,
        },
    )


def reports(lane) -> list[dict]:
    return [line for line in lane.json_logs() if line.get("event") == "index.prefix"]


def test_the_cron_run_fans_out_and_each_prefix_is_built_by_its_own_message(lane_factory, source):
    lane = lane_factory(config(source))
    lane.reset()

    lane.scheduled("0 * * * *")
    batches = lane.drain_queues(timeout=120)

    delivered = [(b.messages[0].body["prefix"], b.messages[0].outcome) for b in batches]
    # whl/test's listing nests 5,000 elements deep: the prefix fails and the queue retries it
    # (max_retries=1) before dropping it; the interpreter survives, and nothing of it is
    # published
    assert sorted(delivered) == [
        ("libtorch", "acked"),
        ("whl", "acked"),
        ("whl/test", "dropped"),
        ("whl/test", "retried"),
    ]
    assert "whl/cu126/torch/index.html" in lane.r2_list("DEST_BUCKET")
    assert not any(key.startswith("whl/test/") for key in lane.r2_list("DEST_BUCKET"))
    status = lane.fetch("GET", "/status").json()
    assert status["mode"] == "queue"
    assert {p["prefix"]: p["status"] for p in status["prefixes"]} == {
        "whl": "ok",
        "whl/test": "failed",
        "libtorch": "ok",
    }
    full = lane.fetch("GET", "/status", headers={"authorization": f"Bearer {TOKEN}"}).json()
    [failed] = [p for p in full["prefixes"] if p["prefix"] == "whl/test"]
    assert "MalformedResponse" in failed["error"] and "nests elements deeper" in failed["error"]


def test_a_prefix_short_of_budget_continues_until_its_index_is_complete(lane_factory, source):
    lane = lane_factory(config(source, MAX_SUBREQUESTS="40", INDEX_PREFIXES="whl"))
    lane.reset()

    lane.scheduled("0 * * * *")
    batches = lane.drain_queues(timeout=600)

    continuations = [batch.messages[0].body["continuation"] for batch in batches]
    assert continuations[:3] == [0, 1, 2] and len(continuations) > 3
    assert all(batch.messages[0].outcome == "acked" for batch in batches)
    built = reports(lane)
    assert [r["status"] for r in built][-1] == "ok"
    assert all(r["status"] == "deferred" for r in built[:-1])
    assert all(r["subrequests"] <= 40 for r in built)
    status = lane.fetch("GET", "/status").json()
    assert status["status"] == "ok"
    page = lane.r2_get("DEST_BUCKET", "whl/cpu/index.html").body.decode()
    assert 'href="torchvision/"' in page and 'href="filelock/"' in page


def test_a_manual_run_with_the_queue_answers_202_and_enqueues(lane_factory, source):
    lane = lane_factory(config(source))
    lane.reset()

    response = lane.fetch("POST", "/run", headers={"authorization": f"Bearer {TOKEN}"})

    assert response.status == 202
    assert response.json() == {"status": "queued", "prefixes": ["whl", "whl/test", "libtorch"]}
    lane.drain_queues(timeout=120)
    assert json.loads(lane.r2_get("INDEX_STATE", "status/@run.json").body)["mode"] == "queue"
