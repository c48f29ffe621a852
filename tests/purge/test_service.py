"""The delete proxy's HTTP service against an in-memory bucket with R2 semantics."""

from __future__ import annotations

import json

import pytest

from flaresuite.http import HttpRequest
from flaresuite.purge.config import PurgeConfig
from flaresuite.purge.service import PurgeService
from tests.purge.conftest import TOKEN, AuditLog, post, seed

PROJECT_12 = [
    *(f"projects/12/scenes/{i}/media/clip.mp4" for i in range(300)),
    *(f"12_{i}_media.mp4" for i in range(300)),
    *(f"proj_12_{i}_media.mp4" for i in range(300)),
    *(f"proj_proj_12_{i}_media.mp4" for i in range(300)),
]
NEIGHBOURS = [
    "projects/123/scenes/1/media/clip.mp4",
    "projects/1/a.mp4",
    "123_1_media.mp4",
    "proj_123_1_media.mp4",
    "proj_proj_123_1_media.mp4",
    "proj_1_media.mp4",
    "audio/proj_12/1/a.mp3",
    "users/default/projects/proj_12/a.mp4",
    "x12_a.mp4",
]


def answer(response) -> dict:
    assert response.headers["content-type"] == "application/json"
    return json.loads(response.body)


async def test_delete_answers_for_every_key_and_says_which_were_absent(service, bucket):
    await seed(bucket, ["a/1", "a/2", "keep"])
    response = await service.handle(post("/delete", {"objectKeys": ["a/1", "a/2", "a/3"]}))
    assert response.status == 200
    assert answer(response) == {
        "total": 3,
        "deleted": 3,
        "failed": 0,
        "absent": 1,
        "results": [
            {"key": "a/1", "success": True, "absent": False},
            {"key": "a/2", "success": True, "absent": False},
            {"key": "a/3", "success": True, "absent": True},
        ],
    }
    assert set(bucket.objects) == {"keep"}


async def test_a_2500_key_delete_takes_three_delete_calls(service, bucket):
    keys = [f"projects/12/{i:05}" for i in range(2500)]
    await seed(bucket, keys)
    response = await service.handle(post("/delete", {"objectKeys": keys}))
    assert answer(response)["deleted"] == 2500
    assert bucket.count("delete") == 3
    assert bucket.count("list") == 3  # which keys existed: one page per 1000 clustered keys
    assert bucket.objects == {}


async def test_a_failing_key_fails_alone_and_is_named_in_the_answer(service, bucket, audit):
    await seed(bucket, ["a", "b", "c"])
    bucket.poisoned = {"b"}
    body = answer(await service.handle(post("/delete", {"objectKeys": ["a", "b", "c"]})))
    assert (body["deleted"], body["failed"]) == (2, 1)
    assert body["results"][1] == {
        "key": "b",
        "success": False,
        "absent": False,
        "error": "RuntimeError: R2 delete failed (10001)",
    }
    assert audit[-1][1]["failed_keys"] == ["b"]


async def test_when_r2_cannot_list_nothing_is_deleted_and_the_answer_is_a_retryable_503(
    service, bucket
):
    await seed(bucket, ["a"])
    bucket.list_fails = True
    response = await service.handle(post("/delete", {"objectKeys": ["a"]}))
    assert response.status == 503
    assert "nothing deleted" in answer(response)["error"]
    assert set(bucket.objects) == {"a"}


async def test_delete_project_removes_all_four_patterns_and_no_neighbour(service, bucket):
    await seed(bucket, PROJECT_12 + NEIGHBOURS)
    body = answer(await service.handle(post("/delete-project", {"projectId": "12"})))
    assert set(bucket.objects) == set(NEIGHBOURS)
    assert body["patterns"] == {
        "hierarchical": {"prefix": "projects/12/", "count": 300},
        "flat": {"prefix": "12_", "count": 300},
        "proj": {"prefix": "proj_12_", "count": 300},
        "proj_proj": {"prefix": "proj_proj_12_", "count": 300},
    }
    assert (body["total"], body["deleted"], body["failed"], body["absent"]) == (1200, 1200, 0, 0)
    assert (body["verified"], body["remaining"]) == (True, [])
    assert bucket.count("delete") == 2


async def test_delete_project_dry_run_lists_the_keys_and_deletes_nothing(service, bucket):
    await seed(bucket, PROJECT_12 + NEIGHBOURS)
    body = answer(
        await service.handle(post("/delete-project", {"projectId": "12", "dryRun": True}))
    )
    assert body["dryRun"] is True
    assert sorted(body["keys"]) == sorted(PROJECT_12)
    assert body["total"] == 1200
    assert bucket.count("delete") == 0
    assert len(bucket.objects) == len(PROJECT_12) + len(NEIGHBOURS)


async def test_delete_project_says_so_when_keys_are_left(service, bucket):
    await seed(bucket, ["proj_12_a", "proj_12_b"])
    bucket.poisoned = {"proj_12_b"}
    body = answer(await service.handle(post("/delete-project", {"projectId": "12"})))
    assert (body["deleted"], body["failed"]) == (1, 1)
    assert (body["verified"], body["remaining"]) == (False, ["proj_12_b"])


async def test_delete_project_of_an_empty_project_deletes_nothing_and_verifies(service, bucket):
    await seed(bucket, NEIGHBOURS)
    body = answer(await service.handle(post("/delete-project", {"projectId": "12"})))
    assert (body["total"], body["verified"]) == (0, True)
    assert bucket.count("delete") == 0


BAD_REQUESTS = [
    pytest.param(post("/delete", {"objectKeys": ["a"]}, token=None), 401, id="no token"),
    pytest.param(post("/delete", {"objectKeys": ["a"]}, token="wrong"), 401, id="wrong token"),
    pytest.param(post("/delete", {"objectKeys": ["a"]}, token=TOKEN + "x"), 401, id="longer token"),
    pytest.param(
        post("/delete", {"objectKeys": ["a"]}, token=None, authorization=f"Basic {TOKEN}"),
        401,
        id="not bearer",
    ),
    pytest.param(post("/delete", b'{"objectKeys": ["a"'), 400, id="malformed JSON"),
    pytest.param(post("/delete", {"objectKeys": "a"}), 400, id="keys not an array"),
    pytest.param(post("/delete", {"objectKeys": ["a", 1]}), 400, id="key not a string"),
    pytest.param(post("/delete", {"objectKeys": ["a", ""]}), 400, id="empty key"),
    pytest.param(post("/delete", {"objectKeys": ["a", "k" * 1025]}), 400, id="long key"),
    pytest.param(post("/delete", {"objectKeys": ["a"] * 10_001}), 400, id="10001 keys"),
    pytest.param(
        post("/delete", {"objectKeys": ["a", "p" * 1000] * 1100}), 413, id="body over 1 MiB"
    ),
    pytest.param(
        post("/delete", {"objectKeys": ["a"]}, **{"content-length": str(2 << 20)}),
        413,
        id="declared over 1 MiB",
    ),
    pytest.param(
        post("/delete", {"objectKeys": ["a", "p" * 1000] * 1100}, **{"content-length": "12"}),
        413,
        id="over 1 MiB, declared small",
    ),
    pytest.param(
        post("/delete", {"objectKeys": ["a"]}, **{"content-length": "\u00b2"}),
        400,
        id="Content-Length not digits",
    ),
    pytest.param(post("/delete-project", {"projectId": "proj"}), 400, id="ambiguous project"),
    pytest.param(
        post("/delete-project", {"projectId": "a", "dryrun": True}), 400, id="misspelt dryRun"
    ),
    pytest.param(post("/delete-project", {"projectId": "a"}, token="no"), 401, id="project token"),
    pytest.param(post("/delete", b"[" * 10_000 + b"]" * 10_000), 400, id="nested 10000 deep"),
    pytest.param(
        post("/delete", b'\xef\xbb\xbf{"objectKeys": ["a"]}'), 400, id="UTF-8 byte-order mark"
    ),
    pytest.param(
        post("/delete", '{"objectKeys": ["a"]}'.encode("utf-16")), 400, id="UTF-16 with BOM"
    ),
    pytest.param(
        post("/delete", '{"objectKeys": ["a"]}'.encode("utf-16-le")), 400, id="UTF-16 without BOM"
    ),
    pytest.param(
        post("/delete-project", b'{"projectId": "a", "dryRun": true, "dryRun": false}'),
        400,
        id="dryRun twice",
    ),
    pytest.param(
        post("/delete", b'{"objectKeys": ["a"], "objectKeys": ["a_1"]}'), 400, id="keys twice"
    ),
    pytest.param(post("/delete", b'{"objectKeys": ["a"], "n": NaN}'), 400, id="NaN"),
]


@pytest.mark.parametrize(("request_", "status"), BAD_REQUESTS)
async def test_bad_requests_are_refused_with_a_reason_and_delete_nothing(
    service, bucket, request_, status
):
    await seed(bucket, ["a", "a_1", "proj_a_1"])
    response = await service.handle(request_)
    assert response.status == status
    assert answer(response)["error"]
    assert bucket.count("delete") == 0
    assert set(bucket.objects) == {"a", "a_1", "proj_a_1"}


async def test_401_asks_for_a_bearer_token(service):
    response = await service.handle(post("/delete", {"objectKeys": ["a"]}, token=None))
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("token", [None, "", "   ", "\t\n"])
async def test_without_a_configured_token_every_delete_is_refused(bucket, audit, token):
    await seed(bucket, ["a"])
    service = PurgeService.from_env(bucket, {"DELETE_PROXY_TOKEN": token}, log=audit)
    for presented in ("", token or "", "   ", TOKEN):
        response = await service.handle(post("/delete", {"objectKeys": ["a"]}, token=presented))
        assert response.status == 503
        assert answer(response)["variables"] == ["DELETE_PROXY_TOKEN"]
    health = await service.handle(HttpRequest("GET", "https://x/health"))
    assert (health.status, answer(health)["variables"]) == (503, ["DELETE_PROXY_TOKEN"])
    assert set(bucket.objects) == {"a"}
    assert all(fields["error"] == "misconfigured: DELETE_PROXY_TOKEN" for _, fields in audit)


async def test_the_worker_configuration_sets_the_token_and_the_list_budget(bucket, audit):
    keys = [f"scattered/{i}/key" for i in range(5)]
    crowd = [f"scattered/{i}/other-{j:03d}" for i in range(5) for j in range(600)]
    await seed(bucket, keys + crowd)
    env = {"DELETE_PROXY_TOKEN": TOKEN, "DELETE_PROXY_MAX_LIST_CALLS": "2"}
    service = PurgeService.from_env(bucket, env, log=audit)
    response = await service.handle(post("/delete", {"objectKeys": keys}))
    assert response.status == 200
    assert bucket.count("list") == 2  # the budget ran out before every key was found
    results = answer(response)["results"]
    assert all(r["success"] for r in results) and None in [r["absent"] for r in results]
    assert not set(keys) & set(bucket.objects)


@pytest.mark.parametrize(
    "budget", ["0", "-3", "many", "²", "100000", "1_0", "pasted-secret-6f1d9c2b"]
)
async def test_a_bad_list_budget_refuses_every_delete_and_names_the_variable(bucket, audit, budget):
    await seed(bucket, ["a"])
    env = {"DELETE_PROXY_TOKEN": TOKEN, "DELETE_PROXY_MAX_LIST_CALLS": budget}
    service = PurgeService.from_env(bucket, env, log=audit)
    response = await service.handle(post("/delete", {"objectKeys": ["a"]}))
    assert response.status == 503
    assert "DELETE_PROXY_MAX_LIST_CALLS" in answer(response)["error"]
    assert answer(response)["variables"] == ["DELETE_PROXY_MAX_LIST_CALLS"]
    health = await service.handle(HttpRequest("GET", "https://x/health"))
    assert health.status == 503 and "DELETE_PROXY_MAX_LIST_CALLS" in answer(health)["error"]
    assert set(bucket.objects) == {"a"}
    # The value may be anything an operator pasted; it is named, never shown.
    shown = response.body.decode() + health.body.decode() + json.dumps(audit)
    assert "pasted-secret" not in shown


async def test_every_configuration_problem_is_named_at_once(bucket, audit):
    env = {"DELETE_PROXY_TOKEN": " ", "DELETE_PROXY_MAX_LIST_CALLS": "lots"}
    service = PurgeService.from_env(bucket, env, log=audit)
    response = await service.handle(HttpRequest("GET", "https://x/health"))
    assert answer(response)["variables"] == ["DELETE_PROXY_TOKEN", "DELETE_PROXY_MAX_LIST_CALLS"]


async def test_a_misconfigured_worker_still_answers_404_and_405(bucket, audit):
    service = PurgeService.from_env(bucket, {}, log=audit)
    assert (await service.handle(HttpRequest("GET", "https://x/nowhere"))).status == 404
    assert (await service.handle(HttpRequest("GET", "https://x/delete"))).status == 405


async def test_health_needs_no_token(service):
    response = await service.handle(HttpRequest("GET", "https://x/health"))
    assert (response.status, answer(response)) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/delete", 405), ("POST", "/health", 405), ("POST", "/purge", 404), ("GET", "/", 404)],
)
async def test_unknown_routes_and_methods_are_4xx_json(service, method, path, status):
    response = await service.handle(HttpRequest(method, f"https://x{path}"))
    assert response.status == status
    assert answer(response)["error"]
    if status == 405:
        assert response.headers["allow"] == {"/delete": "POST", "/health": "GET"}[path]


async def test_every_request_writes_one_audit_line_without_the_token(service, bucket, audit):
    await seed(bucket, ["a/1"])
    requests = [
        post("/delete", {"objectKeys": ["a/1", "a/2"]}, **{"cf-connecting-ip": "203.0.113.9"}),
        post("/delete", {"objectKeys": ["a/1"]}, token="guess"),
        post("/delete", b"nope"),
        post("/delete-project", {"projectId": "12", "dryRun": True}),
        HttpRequest("GET", "https://x/health"),
        HttpRequest("GET", "https://x/nowhere"),
    ]
    for request in requests:
        await service.handle(request)
    assert [event for event, _ in audit] == ["purge.audit"] * len(requests)
    first = audit[0][1]
    assert first["client_ip"] == "203.0.113.9"
    assert (first["auth"], first["keys"], first["deleted"], first["absent"]) == ("ok", 2, 2, 1)
    assert first["status"] == 200 and first["duration_ms"] >= 0
    assert audit[1][1]["auth"] == "wrong" and audit[1][1]["status"] == 401
    assert audit[3][1]["project_id"] == "12" and audit[3][1]["dry_run"] is True
    for _, fields in audit:
        assert TOKEN not in json.dumps(fields) and "guess" not in json.dumps(fields)


async def test_a_token_sent_where_the_audit_line_echoes_the_request_is_redacted(
    service, bucket, audit
):
    await seed(bucket, [f"proj_{TOKEN}_a"])
    bucket.poisoned = {f"proj_{TOKEN}_a"}
    requests = [
        post("/delete-project", {"projectId": TOKEN}),  # a backend that mixed up its arguments
        post("/delete", {"objectKeys": [f"proj_{TOKEN}_a"]}),  # named in failed_keys
        post("/delete", {"objectKeys": [TOKEN, ""]}),
        post(f"/delete/{TOKEN}", {}, **{"user-agent": f"backend token={TOKEN}"}),
    ]
    for request in requests:
        await service.handle(request)
    assert len(audit) == len(requests)
    lines = json.dumps(audit)
    assert TOKEN not in lines
    assert audit[1][1]["failed_keys"] == ["proj_[redacted]_a"]


async def test_duplicate_keys_are_deleted_and_answered_once(service, bucket):
    await seed(bucket, ["a"])
    body = answer(await service.handle(post("/delete", {"objectKeys": ["a", "a", "b", "a"]})))
    assert [result["key"] for result in body["results"]] == ["a", "b"]


async def test_delete_project_never_deletes_a_key_a_loose_listing_returns(service, bucket):
    await seed(bucket, ["proj_12_a", "proj_123_b"])
    strict_list = bucket.list

    async def loose_list(*, prefix="", cursor=None, limit=1000):
        return await strict_list(prefix=prefix.rstrip("_/"), cursor=cursor, limit=limit)

    bucket.list = loose_list
    body = answer(await service.handle(post("/delete-project", {"projectId": "12"})))
    assert [result["key"] for result in body["results"]] == ["proj_12_a"]
    assert (body["verified"], body["remaining"]) == (True, [])
    assert set(bucket.objects) == {"proj_123_b"}


LONG_TOKEN = "tok-" + "0123456789abcdef" * 4
"""Longer than the 40 characters a refusal once quoted, so a quoted prefix is not the whole
token and replacing the token would not have hidden it."""


def shows_part_of(text: str, secret: str, width: int = 8) -> bool:
    return any(secret[start : start + width] in text for start in range(len(secret) - width + 1))


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(
            post("/delete", {"objectKeys": [LONG_TOKEN * 20]}, token=LONG_TOKEN), id="key"
        ),
        pytest.param(
            post("/delete", {"objectKeys": ["a", LONG_TOKEN + "\ud800"]}, token=LONG_TOKEN),
            id="non-UTF-8 key",
        ),
        pytest.param(
            post(
                "/delete", {"objectKeys": ["a"]}, token=LONG_TOKEN, **{"content-length": LONG_TOKEN}
            ),
            id="Content-Length",
        ),
        pytest.param(
            post("/delete-project", {"projectId": LONG_TOKEN + "_"}, token=LONG_TOKEN),
            id="projectId",
        ),
        pytest.param(
            post("/delete-project", {"projectId": "a", LONG_TOKEN: True}, token=LONG_TOKEN),
            id="field name",
        ),
        pytest.param(post(f"/{LONG_TOKEN[:30]}", {}, token=LONG_TOKEN), id="path"),
    ],
)
async def test_no_part_of_a_refused_value_reaches_the_audit_log(bucket, request_):
    audit = AuditLog()
    service = PurgeService(bucket, PurgeConfig(token=LONG_TOKEN), log=audit)
    response = await service.handle(request_)
    assert 400 <= response.status < 500
    [(_, fields)] = audit
    assert fields["error"] and not shows_part_of(json.dumps(fields), LONG_TOKEN)
    assert not shows_part_of(response.body.decode(), LONG_TOKEN)
