"""A binding missing from wrangler.toml is a configuration problem like a missing secret, on
real Pyodide: each Worker answers 503 naming the binding (never a 500 from an
``AttributeError``) and touches nothing."""

from __future__ import annotations

import pytest

from driver import LaneConfig

pytestmark = pytest.mark.lane

INDEX_VARS = {
    "SOURCE_S3_BUCKET": "pytorch",
    "S3_ENDPOINT_URL": "http://127.0.0.1:9",
    "S3_ACCESS_KEY_ID": "AKIDLANE",
    "S3_SECRET_ACCESS_KEY": "lane-secret",
    "INDEX_RUN_TOKEN": "lane-index-token",
}
GLEAN_VARS = {
    "GLEAN_TRIGGER_TOKEN": "lane-trigger-token",
    "GLEAN_SERVER_URL": "http://127.0.0.1:9",
    "GLEAN_INDEXING_API_TOKEN": "lane-glean-token",
    "GLEAN_DATASOURCE": "wiki",
    "DOCUMENT_SOURCE_URL": "http://127.0.0.1:9/source",
}

CASES = {
    "delete proxy without PURGE_BUCKET": (
        LaneConfig(main="src/purge_worker.py", vars={"DELETE_PROXY_TOKEN": "lane-token"}),
        ("POST", "/delete", {"authorization": "Bearer lane-token"}, '{"objectKeys":["a"]}'),
        ["PURGE_BUCKET"],
    ),
    "index builder without its mirror bucket": (
        LaneConfig(
            main="src/index_worker.py", r2_buckets=("DEST_BUCKET", "INDEX_STATE"), vars=INDEX_VARS
        ),
        ("GET", "/status", {}, None),
        ["DEST_BUCKET_META_CDN"],
    ),
    "index builder without any bucket": (
        LaneConfig(main="src/index_worker.py", vars=INDEX_VARS),
        ("GET", "/status", {}, None),
        ["INDEX_STATE", "DEST_BUCKET", "DEST_BUCKET_META_CDN"],
    ),
    "glean without its KV namespace": (
        LaneConfig(main="src/glean_worker.py", vars=GLEAN_VARS),
        ("GET", "/health", {}, None),
        ["GLEAN_STATE"],
    ),
    "swarm without its Durable Object namespace": (
        LaneConfig(main="src/swarm_worker.py", vars={"SWARM_ADMIN_TOKEN": "lane-admin"}),
        ("GET", "/swarm/lane/state", {}, None),
        ["SWARM"],
    ),
}


@pytest.mark.parametrize(("config", "request_", "missing"), CASES.values(), ids=CASES.keys())
def test_a_missing_binding_is_a_503_naming_it(lane_factory, config, request_, missing):
    lane = lane_factory(config)
    lane.reset()
    method, path, headers, body = request_

    response = lane.fetch(method, path, headers=headers, body=body)

    assert response.status == 503
    assert response.json()["variables"] == missing
