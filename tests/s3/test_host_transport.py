"""The CPython HttpFetch the CLI and the S3 tests use, against a loopback pytest-httpserver."""

from __future__ import annotations

import socket
import time

import pytest
from werkzeug import Response

from flaresuite.http import HttpRequest, TransportError
from flaresuite_host.transport import httpx_fetch


async def test_sends_the_request_and_returns_lower_case_headers_joined_when_repeated(httpserver):
    reply = Response(b"pong", status=201)
    reply.headers.add("X-Amz-Meta-Note", "first")
    reply.headers.add("X-Amz-Meta-Note", "second")
    httpserver.expect_request(
        "/b/k", method="PUT", headers={"x-amz-date": "20261123T000000Z"}, data=b"ping"
    ).respond_with_response(reply)
    async with httpx_fetch() as fetch:
        response = await fetch(
            HttpRequest(
                "PUT", httpserver.url_for("/b/k"), {"x-amz-date": "20261123T000000Z"}, b"ping"
            )
        )
    assert (response.status, response.body) == (201, b"pong")
    assert response.headers["x-amz-meta-note"] == "first, second"
    assert all(name == name.lower() for name in response.headers)


async def test_redirects_are_returned_not_followed(httpserver):
    httpserver.expect_request("/b").respond_with_data(
        "", status=301, headers={"Location": "https://elsewhere.example/b"}
    )
    async with httpx_fetch() as fetch:
        response = await fetch(HttpRequest("GET", httpserver.url_for("/b")))
    assert response.status == 301 and len(httpserver.log) == 1


async def test_a_refused_connection_is_a_transport_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with httpx_fetch() as fetch:
        with pytest.raises(TransportError, match=f"GET http://127.0.0.1:{port}/b: ConnectError"):
            await fetch(HttpRequest("GET", f"http://127.0.0.1:{port}/b"))


async def test_a_request_timeout_is_a_transport_error(httpserver):
    def slow(request):
        time.sleep(0.5)
        return Response(b"late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    async with httpx_fetch() as fetch:
        with pytest.raises(TransportError, match="ReadTimeout"):
            await fetch(HttpRequest("GET", httpserver.url_for("/slow"), timeout=0.05))
