"""The index builder's entry module (src/index_worker.py) on Pyodide: a cron event lists a
real S3 protocol peer (moto, SigV4 checked) over real HTTP and writes the indexes into two
real Miniflare R2 buckets, keeping its state in a third (private) one; then ``GET /status``
and ``POST /run`` with bad and good tokens."""

from __future__ import annotations

import hashlib
import json

import pytest

from driver import LaneConfig, WorkerError
from flaresuite_host.index.demo import DEMO_WHEELS, build_wheel

pytestmark = [pytest.mark.lane, pytest.mark.moto]

TOKEN = "index-run-token-for-tests"
BUCKETS = ("DEST_BUCKET", "DEST_BUCKET_META_CDN", "INDEX_STATE")
RUN_RECORD = "status/@run.json"


@pytest.fixture(scope="module")
def source(moto_s3):
    """A moto bucket seeded with the demo's wheels, uploaded with native SHA-256 checksums."""
    bucket = moto_s3.new_bucket("pytorch")
    bodies = {}
    for wheel in DEMO_WHEELS:
        body = build_wheel(
            wheel.name,
            wheel.version,
            requires_python=wheel.requires_python,
            requires=wheel.requires,
        )
        moto_s3.boto.put_object(Bucket=bucket, Key=wheel.key, Body=body, ChecksumAlgorithm="SHA256")
        bodies[wheel.key] = body
    return bucket, bodies


@pytest.fixture(scope="module")
def lane(lane_factory, moto_s3, source):
    bucket, _ = source
    return lane_factory(
        LaneConfig(
            main="src/index_worker.py",
            r2_buckets=BUCKETS,
            vars={
                "SOURCE_S3_BUCKET": bucket,
                "SOURCE_S3_REGION": moto_s3.region,
                "S3_ENDPOINT_URL": moto_s3.endpoint,
                "S3_ACCESS_KEY_ID": moto_s3.credentials.access_key_id,
                "S3_SECRET_ACCESS_KEY": moto_s3.credentials.secret_access_key,
                "INDEX_RUN_TOKEN": TOKEN,
            },
        )
    )


@pytest.fixture
def empty_lane(lane):
    lane.reset()
    return lane


def _torch_cpu_page(lane, bucket):
    keys = [k for k in lane.r2_list(bucket, "whl/cpu/") if k.endswith("torch/index.html")]
    assert keys, lane.r2_list(bucket)
    return lane.r2_get(bucket, keys[0])


def test_status_before_any_run_is_404(empty_lane):
    response = empty_lane.fetch("GET", "/status")

    assert response.status == 404
    assert response.json() == {"error": "no index run has completed yet"}


def test_a_cron_event_builds_the_indexes_into_both_buckets(empty_lane, source):
    _, bodies = source

    empty_lane.scheduled("0 * * * *")

    main_keys = empty_lane.r2_list("DEST_BUCKET")
    assert RUN_RECORD in empty_lane.r2_list("INDEX_STATE")
    assert all(key.endswith(("/index.html", "/index.json")) for key in main_keys)
    assert main_keys == empty_lane.r2_list("DEST_BUCKET_META_CDN")
    page = _torch_cpu_page(empty_lane, "DEST_BUCKET")
    assert page.content_type.startswith("text/html")
    wheel_key = "whl/cpu/torch-2.6.0+cpu-py3-none-any.whl"
    assert hashlib.sha256(bodies[wheel_key]).hexdigest() in page.body.decode()
    assert page.body == _torch_cpu_page(empty_lane, "DEST_BUCKET_META_CDN").body
    assert any(
        json.loads(line).get("event", "").startswith("index.")
        for line in empty_lane.logs()
        if line.startswith("{")
    )


def test_status_reports_the_last_run(empty_lane):
    empty_lane.scheduled("0 * * * *")

    response = empty_lane.fetch("GET", "/status")

    assert response.status == 200
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}"])
def test_a_run_with_a_bad_token_is_refused_and_writes_nothing(empty_lane, authorization):
    headers = {} if authorization is None else {"authorization": authorization}

    response = empty_lane.fetch("POST", "/run", headers=headers)

    assert response.status == 401
    assert response.json() == {"error": "missing or wrong bearer token"}
    assert empty_lane.r2_list("DEST_BUCKET") == [] and empty_lane.r2_list("INDEX_STATE") == []


def test_a_run_with_the_token_builds_and_answers_with_the_report(empty_lane):
    response = empty_lane.fetch("POST", "/run", headers={"authorization": f"Bearer {TOKEN}"})

    assert response.status == 200
    report = response.json()
    assert report["status"] == "ok" and report["prefixes"]
    assert RUN_RECORD in empty_lane.r2_list("INDEX_STATE")
    assert empty_lane.fetch("GET", "/status").json()["started_at"] == report["started_at"]


def test_a_cron_run_whose_source_refuses_it_fails_the_event_and_keeps_the_index(
    lane_factory, moto_s3, source
):
    bucket, _ = source
    refused = lane_factory(
        LaneConfig(
            main="src/index_worker.py",
            r2_buckets=BUCKETS,
            vars={
                "SOURCE_S3_BUCKET": bucket,
                "S3_ENDPOINT_URL": moto_s3.endpoint,
                "S3_ACCESS_KEY_ID": moto_s3.credentials.access_key_id,
                "S3_SECRET_ACCESS_KEY": "not-the-secret",
                "INDEX_RUN_TOKEN": TOKEN,
            },
        )
    )
    refused.reset()
    refused.r2_put("DEST_BUCKET", "whl/cpu/index.html", "published earlier")

    with pytest.raises(WorkerError, match="prefixes failed"):
        refused.scheduled("0 * * * *")

    assert refused.r2_get("DEST_BUCKET", "whl/cpu/index.html").body == b"published earlier"
    public = refused.fetch("GET", "/status")
    assert public.json()["status"] == "failed"
    assert (
        "SignatureDoesNotMatch" not in public.text and "error" not in public.json()["prefixes"][0]
    )
    full = refused.fetch("GET", "/status", headers={"authorization": f"Bearer {TOKEN}"}).json()
    assert "SignatureDoesNotMatch" in full["prefixes"][0]["error"]
