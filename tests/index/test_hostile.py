"""The index Worker's HTTP surface under hostile input (hypothesis, on the core): whatever a
stranger or a broken client sends to ``/status``, ``/run`` or anywhere else, the answer is a
clear 4xx JSON ``{"error": ...}`` (or, for a plain ``GET /status``, the public report), no
request reaches S3, and neither the public buckets nor the state bucket change."""

from __future__ import annotations

import asyncio
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flaresuite.http import HttpRequest
from flaresuite.index.service import IndexService
from flaresuite.stores.memory import MemoryBucket
from tests.support.hostile import assert_clear_refusal, hostile_bodies, hostile_header_values

from .conftest import FakeS3

TOKEN = "index-token-for-hostile-tests"
ENV = {"SOURCE_S3_BUCKET": "pytorch", "S3_ENDPOINT_URL": FakeS3.ENDPOINT, "INDEX_RUN_TOKEN": TOKEN}
REPORT = {"prefix": "whl", "status": "ok", "finished_at": 2.0, "error": "S3 said no"}

HYPOTHESIS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "get"])
paths = st.one_of(
    st.sampled_from(["/status", "/run", "/", "/status/", "/run?x=1", "//status", "/%73tatus"]),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40).map(
        lambda text: "/" + text.replace("#", "")
    ),
)
headers = st.dictionaries(
    st.sampled_from(["authorization", "content-type", "content-length", "accept", "x-forwarded"]),
    hostile_header_values,
    max_size=3,
)


def exchange(method: str, path: str, headers: dict[str, str], body: bytes, oversized: bool):
    s3 = FakeS3()
    main, mirror, state = MemoryBucket(), MemoryBucket(), MemoryBucket()
    asyncio.run(
        state.put("status/@run.json", json.dumps({"started_at": 1.0, "prefixes": ["whl"]}).encode())
    )
    asyncio.run(state.put("status/whl.json", json.dumps(REPORT).encode()))
    state.calls.clear()
    service = IndexService(
        ENV, fetch=s3, destinations=[main, mirror], state=state, log=lambda *a, **k: None
    )
    request = HttpRequest(
        method, "https://index.example" + path, headers, b"" if oversized else body, None, oversized
    )
    response = asyncio.run(service.handle(request))
    return response, s3, (main, mirror, state)


def assert_unchanged(s3: FakeS3, buckets) -> None:
    assert s3.requests == []
    for bucket in buckets:
        assert all(call in ("get", "list") for call, _ in bucket.calls), bucket.calls
    assert buckets[0].objects == {} and buckets[1].objects == {}


@HYPOTHESIS
@given(method=methods, path=paths, headers=headers, body=hostile_bodies, oversized=st.booleans())
def test_hostile_requests_are_refused_or_see_only_the_public_report(
    method, path, headers, body, oversized
):
    response, s3, buckets = exchange(method, path, headers, body, oversized)
    assert_unchanged(s3, buckets)
    public_status = (
        method == "GET" and path == "/status" and "authorization" not in headers and not oversized
    )
    if public_status:
        assert response.status == 200
        assert (
            "S3 said no" not in response.body.decode() and "pytorch" not in response.body.decode()
        )
    else:
        assert_clear_refusal(response)
        assert TOKEN not in response.body.decode()


@HYPOTHESIS
@given(authorization=hostile_header_values, body=hostile_bodies)
def test_a_run_with_a_hostile_authorization_is_401_and_runs_nothing(authorization, body):
    response, s3, buckets = exchange("POST", "/run", {"authorization": authorization}, body, False)
    assert response.status == 401
    assert_clear_refusal(response)
    assert_unchanged(s3, buckets)


def test_an_oversized_body_is_413_on_every_route():
    for method, path in (("POST", "/run"), ("GET", "/status"), ("POST", "/anything")):
        response, s3, buckets = exchange(method, path, {}, b"", True)
        assert response.status == 413
        assert_unchanged(s3, buckets)
