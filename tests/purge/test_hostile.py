"""The delete proxy's HTTP surface under hostile input (hypothesis, on the core): whatever a
stranger or a broken client sends, the answer is a clear 4xx JSON ``{"error": ...}`` and the
bucket is exactly as it was. The depth and encoding cases also run on Pyodide
(tests/lane/test_purge_worker.py)."""

from __future__ import annotations

import asyncio
import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flaresuite.http import HttpRequest, HttpResponse
from flaresuite.ports import StoredObject
from flaresuite.purge.config import PurgeConfig
from flaresuite.purge.service import PurgeService
from tests.purge.conftest import TOKEN, AuditLog, FaultyBucket, post
from tests.support.hostile import assert_clear_refusal, hostile_bodies, hostile_header_values

STORED = ("a", "a_1", "proj_a_1", "projects/a/x.mp4", "12_3_media.mp4")

_BYTE_COUNT = re.compile(r"[ \t]*[0-9]+[ \t]*")

HYPOTHESIS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def exchange(request: HttpRequest) -> tuple[HttpResponse, FaultyBucket, AuditLog]:
    """``request`` answered by a fresh proxy over a bucket holding :data:`STORED`."""
    bucket = FaultyBucket()
    bucket.objects.update({key: StoredObject(key=key, body=b"x") for key in STORED})
    audit = AuditLog()
    service = PurgeService(bucket, PurgeConfig(token=TOKEN), log=audit)
    return asyncio.run(service.handle(request)), bucket, audit


def assert_unchanged(bucket: FaultyBucket) -> None:
    assert sorted(bucket.objects) == sorted(STORED)
    assert bucket.count("delete") == 0


@HYPOTHESIS
@given(body=hostile_bodies, path=st.sampled_from(["/delete", "/delete-project"]))
def test_a_hostile_body_is_refused_and_changes_nothing(body, path):
    response, bucket, audit = exchange(post(path, body))
    assert_clear_refusal(response)
    assert_unchanged(bucket)
    assert len(audit) == 1 and TOKEN not in json.dumps(audit)


@HYPOTHESIS
@given(authorization=hostile_header_values, body=hostile_bodies)
def test_a_hostile_authorization_is_401_whatever_the_body(authorization, body):
    response, bucket, audit = exchange(
        post("/delete", body, token=None, authorization=authorization)
    )
    assert response.status == 401
    assert_clear_refusal(response)
    assert response.headers["www-authenticate"] == "Bearer"
    assert_unchanged(bucket)
    assert audit[0][1]["auth"] in ("none", "wrong")


@HYPOTHESIS
@given(declared=hostile_header_values)
def test_a_hostile_content_length_is_refused_unless_it_is_a_byte_count(declared):
    """A well-formed length within the limit is accepted (a host may have cut the body
    short, and the body is measured itself); anything else is 400 or 413 before parsing."""
    response, bucket, _ = exchange(
        post("/delete", {"objectKeys": ["a"]}, **{"content-length": declared})
    )
    digits = declared.strip(" \t").lstrip("0") or "0"
    if _BYTE_COUNT.fullmatch(declared) and len(digits) <= 7 and int(digits) <= 1024 * 1024:
        assert response.status == 200
        assert sorted(bucket.objects) == sorted(set(STORED) - {"a"})
    else:
        assert response.status in (400, 413)
        assert_clear_refusal(response)
        assert_unchanged(bucket)


@HYPOTHESIS
@given(
    method=st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "POST"]),
    path=st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="?#"),
        max_size=60,
    ),
    body=hostile_bodies,
)
def test_unknown_routes_and_methods_are_4xx_json(method, path, body):
    request = HttpRequest(method, f"https://delete-proxy.example/{path}", {}, body)
    response, bucket, audit = exchange(request)
    if (f"/{path}", method) in {("/delete", "POST"), ("/delete-project", "POST")}:
        assert response.status == 401  # a real route, but no token
    elif (f"/{path}", method) == ("/health", "GET"):
        assert response.status == 200
        return
    else:
        assert response.status in (404, 405)
    assert_clear_refusal(response)
    assert_unchanged(bucket)
    logged = audit[0][1]["path"]
    assert logged in ("/delete", "/delete-project", "/health") or logged.startswith("<str, ")
