"""The src/cfbindings package on Pyodide against real Miniflare R2/KV bindings and real
loopback HTTP.

The probe Worker (workers/bindings_probe.py) exposes each adapter method as an RPC method, so
these tests call the adapters exactly as an entry module does: through ``self.env.<NAME>``.
"""

from __future__ import annotations

import time

import pytest
from werkzeug import Response as WerkzeugResponse

from driver import WorkerError

pytestmark = pytest.mark.lane


@pytest.fixture
def lane(probe_lane):
    return probe_lane


class TestR2Bucket:
    def test_put_then_get_returns_body_and_metadata(self, lane):
        lane.rpc("r2_put", "BUCKET", "whl/a.html", "<a>", "text/html", "max-age=300", {"by": "t"})

        stored = lane.rpc("r2_get", "BUCKET", "whl/a.html")

        assert stored["body"] == "<a>"
        assert stored["content_type"] == "text/html"
        assert stored["cache_control"] == "max-age=300"
        assert stored["custom_metadata"] == {"by": "t"}
        assert stored["etag"] == lane.r2_get("BUCKET", "whl/a.html").etag

    def test_put_without_metadata_leaves_it_unset(self, lane):
        lane.rpc("r2_put", "BUCKET", "plain", "x", None, None, None)

        outside = lane.r2_get("BUCKET", "plain")

        assert (outside.content_type, outside.cache_control, outside.custom_metadata) == (
            None,
            None,
            {},
        )

    def test_get_of_a_missing_key_is_none(self, lane):
        assert lane.rpc("r2_get", "BUCKET", "nope") is None

    def test_list_pages_through_more_than_1000_keys_with_the_cursor(self, lane):
        keys = [f"p/{i:05d}" for i in range(1203)]
        lane.r2_put_many("BUCKET", {key: "x" for key in keys})
        lane.r2_put("BUCKET", "q/outside-prefix", b"x")

        first = lane.rpc("r2_list", "BUCKET", "p/", None, 1000)
        second = lane.rpc("r2_list", "BUCKET", "p/", first["cursor"], 1000)

        assert first["truncated"] is True and first["cursor"]
        assert first["keys"] == keys[:1000]
        assert second["keys"] == keys[1000:]
        assert second["truncated"] is False and second["cursor"] is None
        assert set(first["sizes"]) == {1}

    def test_list_honours_a_small_limit(self, lane):
        lane.r2_put_many("BUCKET", {"a": "1", "b": "22", "c": "333"})

        page = lane.rpc("r2_list", "BUCKET", "", None, 2)

        assert page["keys"] == ["a", "b"] and page["sizes"] == [1, 2] and page["truncated"]

    def test_listed_etags_are_the_stored_objects_etags(self, lane):
        lane.r2_put_many("BUCKET", {"a": "1", "b": "22"})

        page = lane.rpc("r2_list", "BUCKET", "", None, 1000)

        assert page["etags"] == [lane.r2_get("BUCKET", k).etag for k in ("a", "b")]

    def test_listed_objects_are_workerd_head_results(self, lane):
        # The lane lists inside workerd and rebuilds each object (lane/bindings_host.mjs).
        lane.r2_put("BUCKET", "k", b"hello", content_type="text/plain", custom_metadata={"a": "1"})
        md5 = "5d41402abc4b2a76b9719d911017c592"

        bare = lane.rpc("r2_list_first_raw", "BUCKET", [])
        full = lane.rpc("r2_list_first_raw", "BUCKET", ["httpMetadata", "customMetadata"])

        assert bare["class"] == "HeadResult"
        assert (bare["etag"], bare["http_etag"], bare["checksums"]) == (
            md5,
            f'"{md5}"',
            {"md5": md5},
        )
        assert abs(bare["uploaded_ms"] / 1000 - time.time()) < 3600
        assert bare["http_metadata"] == {}
        assert full["http_metadata"] == {"contentType": "text/plain"}

    @pytest.mark.parametrize(
        ("options", "error"),
        [
            ({"limit": 1001}, "Error: list: MaxKeys params must be positive integer <= 1000"),
            ({"include": ["bogus"]}, "RangeError: Unsupported include value bogus"),
        ],
    )
    def test_list_options_r2_refuses_raise_its_error(self, lane, options, error):
        with pytest.raises(WorkerError, match=error):
            lane.rpc("r2_list_options", "BUCKET", options)

    def test_delete_removes_1000_keys_in_one_call(self, lane):
        keys = [f"d/{i:04d}" for i in range(1000)]
        lane.r2_put_many("BUCKET", {key: "x" for key in [*keys, "d/kept"]})

        lane.rpc("r2_delete", "BUCKET", keys)

        assert lane.r2_list("BUCKET", "d/") == ["d/kept"]

    def test_delete_of_missing_keys_is_not_an_error(self, lane):
        lane.rpc("r2_delete", "BUCKET", ["never-written"])

    @pytest.mark.parametrize("count", [0, 1001])
    def test_delete_refuses_a_batch_r2_refuses(self, lane, count):
        lane.r2_put("BUCKET", "k0", b"x")

        with pytest.raises(WorkerError, match="between 1 and 1000"):
            lane.rpc("r2_delete", "BUCKET", [f"k{i}" for i in range(count)])

        assert lane.r2_list("BUCKET") == ["k0"]


class TestKVNamespace:
    def test_put_get_delete(self, lane):
        lane.rpc("kv_put", "KV", "state", '{"a": 1}', None)
        assert lane.rpc("kv_get", "KV", "state") == '{"a": 1}'
        assert lane.kv_get("KV", "state") == '{"a": 1}'

        lane.rpc("kv_delete", "KV", "state")

        assert lane.rpc("kv_get", "KV", "state") is None

    def test_get_of_a_missing_key_is_none(self, lane):
        assert lane.rpc("kv_get", "KV", "absent") is None

    def test_expiration_ttl_sets_the_key_expiry(self, lane):
        before = time.time()

        lane.rpc("kv_put", "KV", "lock", "held", 120)

        (listed,) = lane.kv_list("KV")
        assert listed["name"] == "lock"
        assert before + 119 <= listed["expiration"] <= time.time() + 121

    def test_a_ttl_below_kv_minimum_is_refused_and_writes_nothing(self, lane):
        with pytest.raises(WorkerError, match="Expiration TTL must be at least 60"):
            lane.rpc("kv_put", "KV", "lock", "held", 30)

        assert lane.kv_get("KV", "lock") is None


class TestFetch:
    def test_sends_method_headers_and_body_and_lowercases_response_headers(self, lane, httpserver):
        httpserver.expect_request(
            "/upload", method="PUT", headers={"X-Amz-Date": "20250101T000000Z"}, data=b"payload"
        ).respond_with_data("stored", status=201, headers={"ETag": '"abc"', "X-Custom": "1"})

        reply = lane.rpc(
            "http",
            "PUT",
            httpserver.url_for("/upload"),
            {"x-amz-date": "20250101T000000Z", "host": "ignored", "content-length": "7"},
            "payload",
            None,
        )

        assert reply["status"] == 201
        assert reply["body"] == "stored"
        assert reply["headers"]["etag"] == '"abc"'
        assert reply["headers"]["x-custom"] == "1"

    def test_error_statuses_are_responses_not_exceptions(self, lane, httpserver):
        httpserver.expect_request("/missing").respond_with_data("no", status=404)

        reply = lane.rpc("http", "GET", httpserver.url_for("/missing"), {}, "", None)

        assert reply["status"] == 404 and reply["body"] == "no"

    def test_redirects_are_returned_not_followed(self, lane, httpserver):
        httpserver.expect_request("/old").respond_with_data(
            "", status=302, headers={"Location": httpserver.url_for("/new")}
        )

        reply = lane.rpc("http", "GET", httpserver.url_for("/old"), {}, "", None)

        assert reply["status"] == 302
        assert reply["headers"]["location"] == httpserver.url_for("/new")

    def test_refused_connection_is_a_transport_error(self, lane, httpserver):
        url = httpserver.url_for("/")
        httpserver.stop()
        try:
            reply = lane.rpc("http", "GET", url, {}, "", None)
        finally:
            httpserver.start()

        assert "transport_error" in reply

    def test_a_transport_error_never_shows_the_query_or_userinfo(self, lane, httpserver):
        url = httpserver.url_for("/export").replace("http://", "http://user:pw@") + "?apikey=k3y"
        httpserver.stop()
        try:
            reply = lane.rpc("http", "GET", url, {}, "", None)
        finally:
            httpserver.start()

        assert "transport_error" in reply
        assert "k3y" not in reply["transport_error"] and "pw@" not in reply["transport_error"]

    def test_timeout_is_a_transport_error(self, lane, httpserver):
        def slow(request):
            time.sleep(1.0)
            return WerkzeugResponse("late")

        httpserver.expect_request("/slow").respond_with_handler(slow)

        reply = lane.rpc("http", "GET", httpserver.url_for("/slow"), {}, "", 0.1)

        assert "TimeoutError" in reply["transport_error"]


class TestRequestAndResponse:
    def test_the_core_sees_method_url_lowercase_headers_and_body(self, lane):
        response = lane.fetch("POST", "/run?x=1", headers={"X-Token": "t"}, body=b"data")

        assert response.status == 201
        assert response.headers["x-probe"] == "1"
        assert response.text.splitlines() == [
            "POST http://localhost:8787/run?x=1",
            "x-token: t",
            "data",
        ]

    def test_a_body_past_the_limit_is_not_read_and_marks_the_request_oversized(self, lane):
        declared = lane.fetch("POST", "/run", body=b"x" * 1025)
        exactly = lane.fetch("POST", "/run", body=b"x" * 1024)

        assert declared.status == 413 and declared.headers["x-oversized"] == "yes"
        assert exactly.status == 201

    def test_an_empty_body_becomes_a_null_body_so_204_is_allowed(self, lane):
        response = lane.fetch("GET", "/empty")

        assert response.status == 204 and response.body == b""
        assert response.headers["x-empty"] == "yes"
