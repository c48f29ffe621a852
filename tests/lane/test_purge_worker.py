"""The delete proxy Worker (src/purge_worker.py) on real Pyodide 314 with a real Miniflare R2
bucket: project deletion across all four key patterns, batched R2 calls, refusals that delete
nothing, and the Python client talking to it."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from tests.support.hostile import LANE_BODIES

from driver import RECORD_R2_CALLS, LaneConfig
from flaresuite.http import HttpFetch, HttpRequest, HttpResponse
from flaresuite.purge.client import DeleteProxyClient, DeleteProxyRejected

pytestmark = pytest.mark.lane

TOKEN = "lane-delete-proxy-token"
BUCKET = "PURGE_BUCKET"
CONFIG = LaneConfig(
    main="src/purge_worker.py", r2_buckets=(BUCKET,), vars={"DELETE_PROXY_TOKEN": TOKEN}
)
AUTH = {"authorization": f"Bearer {TOKEN}"}


def project_keys(project_id: str, per_pattern: int) -> list[str]:
    return [
        key
        for i in range(per_pattern)
        for key in (
            f"projects/{project_id}/scenes/{i}/media/clip.mp4",
            f"{project_id}_{i}_media.mp4",
            f"proj_{project_id}_{i}_media.mp4",
            f"proj_proj_{project_id}_{i}_media.mp4",
        )
    ]


DECOYS = [
    *project_keys("123", 25),
    *project_keys("1", 25),
    *project_keys("120", 25),
    *project_keys("12.5", 10),
    "audio/proj_12/1/a.mp3",
    "users/default/projects/proj_12/a.mp4",
    "projects/12",
    "x12_a.mp4",
    "proj_12",
]


@pytest.fixture
def lane(lane_factory):
    lane = lane_factory(CONFIG)
    lane.reset()
    lane.run_python(RECORD_R2_CALLS)
    return lane


def seed(lane, keys) -> None:
    for key in keys:
        lane.r2_put(BUCKET, key, b"x")
    lane.run_python("cfbindings.R2Bucket.calls.clear()")


def r2_calls(lane) -> list[str]:
    return [name for name, _seconds in lane.run_python("list(cfbindings.R2Bucket.calls)")]


def post(lane, path: str, document: object, headers=AUTH):
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    return lane.fetch(
        "POST", path, headers={"content-type": "application/json", **headers}, body=raw
    )


def test_delete_project_removes_exactly_the_projects_keys_in_all_four_patterns(lane):
    ours = project_keys("12", 500)
    seed(lane, ours + DECOYS)

    response = post(lane, "/delete-project", {"projectId": "12"})
    body = response.json()
    assert response.status == 200
    assert {name: found["count"] for name, found in body["patterns"].items()} == {
        "hierarchical": 500,
        "flat": 500,
        "proj": 500,
        "proj_proj": 500,
    }
    assert (body["total"], body["deleted"], body["failed"]) == (2000, 2000, 0)
    assert (body["verified"], body["remaining"]) == (True, [])
    assert lane.r2_list(BUCKET) == sorted(DECOYS)


def test_a_2500_key_delete_takes_three_r2_delete_calls(lane):
    keys = [f"projects/7/assets/{i:05}.png" for i in range(2500)]
    seed(lane, keys)
    response = post(lane, "/delete", {"objectKeys": [*keys, "projects/7/assets/missing.png"]})
    body = response.json()
    assert response.status == 200
    assert (body["total"], body["deleted"], body["failed"], body["absent"]) == (2501, 2501, 0, 1)
    assert body["results"][-1] == {
        "key": "projects/7/assets/missing.png",
        "success": True,
        "absent": True,
    }
    calls = r2_calls(lane)
    assert calls.count("delete") == 3
    assert calls.count("list") == 3  # learning which keys existed: one page per 1000
    assert lane.r2_list(BUCKET) == []
    [audit] = lane.json_logs()[-1:]
    assert (audit["delete_calls"], audit["list_calls"], audit["deleted"]) == (3, 3, 2501)


BAD_REQUESTS = [
    ("/delete", {"objectKeys": ["proj_9_a"]}, {}, 401),
    ("/delete", {"objectKeys": ["proj_9_a"]}, {"authorization": "Bearer wrong"}, 401),
    ("/delete-project", {"projectId": "9"}, {"authorization": f"Bearer {TOKEN}x"}, 401),
    ("/delete", b'{"objectKeys": ["proj_9_a"', AUTH, 400),
    ("/delete", {"objectKeys": "proj_9_a"}, AUTH, 400),
    ("/delete", {"objectKeys": ["proj_9_a", ""]}, AUTH, 400),
    ("/delete", {"objectKeys": ["proj_9_a", "k" * 1025]}, AUTH, 400),
    ("/delete", {"objectKeys": ["proj_9_a"] * 10_001}, AUTH, 400),
    ("/delete", {"objectKeys": ["proj_9_a", "p" * 1000] * 1100}, AUTH, 413),
    ("/delete-project", {"projectId": "proj_9"}, AUTH, 400),
    ("/delete-project", {"projectId": "9", "dryrun": False}, AUTH, 400),
]


def test_bad_tokens_and_malformed_requests_delete_nothing(lane):
    keys = project_keys("9", 5)
    seed(lane, keys)
    for path, document, headers, status in BAD_REQUESTS:
        response = post(lane, path, document, headers)
        assert (path, response.status) == (path, status), response.body
        assert response.json()["error"]
    assert lane.r2_list(BUCKET) == sorted(keys)
    assert "delete" not in r2_calls(lane)
    audit = [record for record in lane.json_logs() if record["event"] == "purge.audit"]
    assert [record["status"] for record in audit] == [status for *_, status in BAD_REQUESTS]
    assert TOKEN not in json.dumps(audit)


def test_health_needs_no_token(lane):
    response = lane.fetch("GET", "/health")
    assert (response.status, response.json()) == (200, {"status": "ok"})


def lane_fetch(lane) -> HttpFetch:
    """Carries the client's requests into the lane's Worker instead of over a socket."""

    async def fetch(request: HttpRequest) -> HttpResponse:
        answer = lane.fetch(
            request.method,
            urlsplit(request.url).path,
            headers=dict(request.headers),
            body=request.body,
        )
        return HttpResponse(answer.status, dict(answer.headers), answer.body)

    return fetch


async def test_the_python_client_deletes_through_the_worker(lane):
    ours = project_keys("42", 25)
    loose = [f"uploads/42/{i:03}.bin" for i in range(250)]
    seed(lane, ours + loose + DECOYS)
    fetch = lane_fetch(lane)
    client = DeleteProxyClient(CONFIG.origin, TOKEN, keys_per_request=100, fetch=fetch)
    deleted = await client.delete([*loose, "uploads/42/never-existed.bin"])
    preview = await client.delete_project("42", dry_run=True)
    assert sorted(preview.keys) == sorted(ours)
    assert r2_calls(lane).count("delete") == 3  # the dry run deleted nothing
    assert set(ours) <= set(lane.r2_list(BUCKET))
    project = await client.delete_project("42")
    assert (deleted.total, deleted.deleted, deleted.absent) == (251, 251, 1)
    assert project.ok and project.deletion.deleted == 100
    # Three requests of up to 100 keys, then the project.
    assert r2_calls(lane).count("delete") == 3 + 1
    assert lane.r2_list(BUCKET) == sorted(DECOYS)
    with pytest.raises(DeleteProxyRejected, match="401"):
        await DeleteProxyClient(CONFIG.origin, "wrong", fetch=fetch).delete(DECOYS)
    assert lane.r2_list(BUCKET) == sorted(DECOYS)


@pytest.mark.parametrize("token", [None, "  \t "], ids=["unset", "whitespace"])
def test_without_a_configured_token_the_worker_refuses_every_delete(lane_factory, token):
    variables = {} if token is None else {"DELETE_PROXY_TOKEN": token}
    lane = lane_factory(
        LaneConfig(main="src/purge_worker.py", r2_buckets=(BUCKET,), vars=variables)
    )
    lane.reset()
    seed_keys = ["proj_5_a"]
    for key in seed_keys:
        lane.r2_put(BUCKET, key, b"x")
    for presented in ("Bearer ", f"Bearer {token or ''}", f"Bearer {TOKEN}"):
        response = post(lane, "/delete", {"objectKeys": seed_keys}, {"authorization": presented})
        assert response.status == 503
        assert response.json()["variables"] == ["DELETE_PROXY_TOKEN"]
    assert lane.fetch("GET", "/health").status == 503
    assert lane.r2_list(BUCKET) == seed_keys


@pytest.mark.parametrize("name", sorted(LANE_BODIES))
@pytest.mark.parametrize("path", ["/delete", "/delete-project"])
def test_deep_and_non_utf8_bodies_are_400_on_pyodide_and_delete_nothing(lane, name, path):
    # "[" * 10_000 + "]" * 10_000 used to kill the interpreter (RangeError, fatal), and BOM or
    # UTF-16 bodies were decoded leniently and their keys deleted.
    keys = ["a", "proj_9_a"]
    seed(lane, keys)
    response = post(lane, path, LANE_BODIES[name])
    assert response.status == 400, response.body
    assert response.json()["error"]
    assert lane.r2_list(BUCKET) == keys
    assert "delete" not in r2_calls(lane)
    assert lane.fetch("GET", "/health").status == 200  # the Worker is still there


def test_a_duplicate_dry_run_flag_is_refused_not_resolved_to_a_real_delete(lane):
    keys = project_keys("9", 2)
    seed(lane, keys)
    response = post(lane, "/delete-project", b'{"projectId": "9", "dryRun": true, "dryRun": false}')
    assert response.status == 400
    assert lane.r2_list(BUCKET) == sorted(keys)


def test_the_client_module_imports_on_pyodide(lane):
    # It speaks through an injected HttpFetch, so a Worker could use it over cfbindings.fetch.
    assert lane.run_python("import flaresuite.purge.client\n'imported'") == "imported"
