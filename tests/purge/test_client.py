"""The backend's client against the real service code, served over loopback HTTP by
pytest-httpserver and reached through the host's httpx transport, the way a backend runs it."""

from __future__ import annotations

import asyncio
import json
import random
import re
import socket
from collections.abc import AsyncIterator, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug import Request, Response

from flaresuite.http import HttpFetch, HttpRequest, HttpResponse, TransportError
from flaresuite.purge.client import (
    DeleteProxyClient,
    DeleteProxyRejected,
    DeleteProxyUnavailable,
    DeleteResult,
    KeyResult,
    schedule_delete,
    split_keys,
)
from flaresuite.purge.config import PurgeConfig
from flaresuite.purge.service import PurgeService
from flaresuite_host.transport import HttpxFetch, httpx_fetch
from tests.purge.conftest import TOKEN, AuditLog, seed


def serve(service: PurgeService) -> Callable[[Request], Response]:
    """A pytest-httpserver handler that answers with the Worker's own core handler."""

    def handle(request: Request) -> Response:
        core_request = HttpRequest(
            method=request.method,
            url=request.url,
            headers={name.lower(): value for name, value in request.headers.items()},
            body=request.get_data(),
        )
        answer = asyncio.run(service.handle(core_request))
        return Response(answer.body, status=answer.status, headers=dict(answer.headers))

    return handle


def failing_first(times: int, status: int, then: Callable[[Request], Response]):
    remaining = [times]

    def handle(request: Request) -> Response:
        if remaining[0] > 0:
            remaining[0] -= 1
            return Response(json.dumps({"error": "overloaded"}), status=status)
        return then(request)

    return handle


class Midpoint(random.Random):
    """Jitter that always picks the middle of its range, so waits are predictable."""

    def uniform(self, a: float, b: float) -> float:
        return (a + b) / 2


class Highest(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.fixture
async def fetch() -> AsyncIterator[HttpxFetch]:
    async with httpx_fetch() as transport:
        yield transport


@pytest.fixture
def proxy(httpserver, bucket):
    """Serve the real service; returns a function that installs another handler."""
    service = PurgeService(bucket, PurgeConfig(token=TOKEN), log=AuditLog())

    def install(handler: Callable[[Request], Response] | None = None) -> None:
        httpserver.clear()
        httpserver.expect_request(re.compile(".*")).respond_with_handler(handler or serve(service))

    install()
    install.service = service
    return install


def client(httpserver, fetch, sleeps, token: str = TOKEN, **options) -> DeleteProxyClient:
    options.setdefault("fetch", fetch)
    return DeleteProxyClient(
        httpserver.url_for("/"), token, sleep=sleeps, rng=Midpoint(), **options
    )


def requests_made(httpserver) -> list[str]:
    return [request.path for request, _ in httpserver.log]


async def test_a_long_key_list_is_split_into_requests_and_answered_per_key(
    httpserver, proxy, bucket, fetch, sleeps
):
    keys = [f"projects/12/{i:05}" for i in range(2500)]
    await seed(bucket, keys[:2000])
    result = await client(httpserver, fetch, sleeps).delete(keys + keys[:10])
    assert requests_made(httpserver) == ["/delete"] * 3
    assert (result.total, result.deleted, result.failed, result.absent) == (2500, 2500, 0, 500)
    assert result.results[0] == KeyResult("projects/12/00000", True, False)
    assert result.results[-1] == KeyResult("projects/12/02499", True, True)
    assert result.ok and bucket.objects == {}


async def test_requests_also_stay_under_the_workers_one_mebibyte_body_limit(
    httpserver, proxy, bucket, fetch, sleeps
):
    keys = [f"{i:04}/" + "k" * 1000 for i in range(3000)]  # about 3 MB of JSON
    await seed(bucket, keys)
    result = await client(httpserver, fetch, sleeps, keys_per_request=10_000).delete(keys)
    bodies = [len(request.get_data()) for request, _ in httpserver.log]
    assert len(bodies) == 3 and all(size <= 1024 * 1024 for size in bodies)
    assert all(response.status_code == 200 for _, response in httpserver.log)
    assert result.deleted == 3000 and bucket.objects == {}


async def test_5xx_is_retried_with_growing_backoff_until_it_succeeds(
    httpserver, proxy, bucket, fetch, sleeps
):
    await seed(bucket, ["a"])
    proxy(failing_first(3, 503, serve(proxy.service)))
    result = await client(httpserver, fetch, sleeps, backoff=1.0).delete(["a"])
    assert requests_made(httpserver) == ["/delete"] * 4
    # Full jitter over [0, 1), [0, 2), [0, 4): the middle of each, as Midpoint picks.
    assert sleeps == [0.5, 1.0, 2.0]
    assert result.deleted == 1 and bucket.objects == {}


async def test_a_retry_after_on_a_5xx_is_waited_for(httpserver, proxy, bucket, fetch, sleeps):
    await seed(bucket, ["a"])
    served = serve(proxy.service)
    calls = [0]

    def busy_once(request: Request) -> Response:
        calls[0] += 1
        if calls[0] == 1:
            return Response('{"error": "busy"}', status=503, headers={"retry-after": "7"})
        return served(request)

    proxy(busy_once)
    result = await client(httpserver, fetch, sleeps).delete(["a"])
    assert sleeps == [7.0] and result.deleted == 1


@pytest.mark.parametrize("status", [400, 401, 404, 413, 429])
async def test_4xx_is_not_retried(httpserver, proxy, bucket, fetch, sleeps, status):
    await seed(bucket, ["a"])
    proxy(failing_first(1, status, serve(proxy.service)))
    with pytest.raises(DeleteProxyRejected) as rejected:
        await client(httpserver, fetch, sleeps).delete(["a"])
    assert (rejected.value.status, rejected.value.error) == (status, "overloaded")
    assert len(httpserver.log) == 1 and sleeps == []
    assert set(bucket.objects) == {"a"}


async def test_a_wrong_token_is_rejected_by_the_worker_once(
    httpserver, proxy, bucket, fetch, sleeps
):
    await seed(bucket, ["a"])
    proxy_client = client(httpserver, fetch, sleeps, token="not-the-token")
    with pytest.raises(DeleteProxyRejected, match="401: wrong bearer token"):
        await proxy_client.delete(["a"])
    assert len(httpserver.log) == 1 and set(bucket.objects) == {"a"}


async def test_exhausted_retries_say_what_was_done_and_what_is_pending(
    httpserver, proxy, bucket, fetch, sleeps
):
    keys = [f"k{i:04}" for i in range(1500)]
    await seed(bucket, keys)
    served = serve(proxy.service)
    calls = [0]

    def first_request_only(request: Request) -> Response:
        calls[0] += 1
        return served(request) if calls[0] == 1 else Response("upstream down", status=502)

    proxy(first_request_only)
    with pytest.raises(DeleteProxyUnavailable) as unavailable:
        await client(httpserver, fetch, sleeps, max_attempts=3).delete(keys)
    error = unavailable.value
    assert (error.attempts, error.reason) == (3, "HTTP 502: upstream down")
    assert error.partial.deleted == 1000
    assert error.pending == tuple(keys[1000:])
    assert len(sleeps) == 2


async def test_network_errors_are_retried(httpserver, proxy, bucket, fetch, sleeps):
    await seed(bucket, ["a"])
    sent: list[HttpRequest] = []

    async def drops_first_connection(request: HttpRequest) -> HttpResponse:
        sent.append(request)
        if len(sent) == 1:
            raise TransportError("POST /delete: ConnectError: connection reset")
        return await fetch(request)

    result = await client(httpserver, drops_first_connection, sleeps).delete(["a"])
    assert result.deleted == 1 and len(sleeps) == 1 and len(httpserver.log) == 1


async def test_an_unreachable_proxy_is_unavailable_after_every_attempt(fetch, sleeps):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proxy_client = DeleteProxyClient(
        f"http://127.0.0.1:{port}", TOKEN, fetch=fetch, max_attempts=3, sleep=sleeps
    )
    with pytest.raises(DeleteProxyUnavailable, match=r"after 3 attempts: .*ConnectError") as caught:
        await proxy_client.delete(["a", "b"])
    assert caught.value.pending == ("a", "b") and len(sleeps) == 2


async def test_invalid_keys_fail_locally_before_any_request(httpserver, proxy, fetch, sleeps):
    proxy_client = client(httpserver, fetch, sleeps)
    with pytest.raises(ValueError, match=r"keys\[1500\]: object keys must not be empty"):
        await proxy_client.delete(["a"] * 1500 + [""])
    assert await proxy_client.delete([]) == DeleteResult(())
    assert httpserver.log == []


@pytest.mark.parametrize("url", ["", "delete-proxy.example", "ftp://x/", "https:///delete"])
def test_the_base_url_must_be_an_http_url_with_a_host(url):
    async def unused(request: HttpRequest) -> HttpResponse:
        raise AssertionError("no request expected")

    with pytest.raises(ValueError, match="base_url"):
        DeleteProxyClient(url, TOKEN, fetch=unused)


NOT_THE_PROXY = [
    pytest.param(lambda request: Response('{"ok": true}'), id="JSON without results"),
    pytest.param(lambda request: Response('{"results": [1]}'), id="results not objects"),
    pytest.param(
        lambda request: Response(
            json.dumps({"results": [{"key": "other", "success": True}]}), status=200
        ),
        id="results for other keys",
    ),
    pytest.param(lambda request: Response("<html>login</html>"), id="not JSON"),
    pytest.param(lambda request: Response("[" * 100_000), id="nested too deep"),
    pytest.param(lambda request: Response(b"\xff\xfe{}"), id="not UTF-8"),
]


@pytest.mark.parametrize("handler", NOT_THE_PROXY)
async def test_an_answer_that_is_not_the_proxys_is_rejected_not_a_crash(
    httpserver, proxy, fetch, sleeps, handler
):
    proxy(handler)
    proxy_client = client(httpserver, fetch, sleeps)
    with pytest.raises(DeleteProxyRejected, match="answer"):
        await proxy_client.delete(["a"])
    with pytest.raises(DeleteProxyRejected, match="answer"):
        await proxy_client.delete_project("12")
    assert sleeps == []


async def test_delete_project_through_the_client(httpserver, proxy, bucket, fetch, sleeps):
    ours = ["projects/12/a", "12_b", "proj_12_c", "proj_proj_12_d"]
    theirs = ["projects/123/a", "123_b", "proj_123_c", "proj_proj_123_d"]
    await seed(bucket, ours + theirs)
    proxy_client = client(httpserver, fetch, sleeps)
    preview = await proxy_client.delete_project("12", dry_run=True)
    assert sorted(preview.keys) == sorted(ours) and preview.deletion is None
    assert len(bucket.objects) == 8
    done = await proxy_client.delete_project("12")
    with pytest.raises(ValueError, match="bare id"):
        await proxy_client.delete_project("proj_12")
    assert done.counts == {"hierarchical": 1, "flat": 1, "proj": 1, "proj_proj": 1}
    assert done.ok and done.verified and done.remaining == ()
    assert done.deletion.deleted == 4
    assert sorted(bucket.objects) == sorted(theirs)


class BackgroundTasks:
    """The part of Starlette's BackgroundTasks an endpoint uses: queue now, run after."""

    def __init__(self) -> None:
        self.tasks = []

    def add_task(self, func, /, *args, **kwargs) -> None:
        self.tasks.append((func, args, kwargs))

    async def run(self) -> list:
        return [await func(*args, **kwargs) for func, args, kwargs in self.tasks]


async def test_schedule_delete_runs_after_the_response_and_logs_its_outcome(
    httpserver, proxy, bucket, fetch, sleeps
):
    await seed(bucket, ["projects/12/a", "projects/12/b"])
    log = AuditLog()
    tasks = BackgroundTasks()
    schedule_delete(
        tasks,
        httpserver.url_for("/"),
        TOKEN,
        ["projects/12/a", "projects/12/b"],
        fetch=fetch,
        log=log,
        sleep=sleeps,
    )
    assert len(bucket.objects) == 2  # nothing happens until the response is sent
    [result] = await tasks.run()
    assert result.deleted == 2 and bucket.objects == {}
    assert log == [
        (
            "purge.client.deleted",
            {"total": 2, "deleted": 2, "absent": 0, "failed": 0, "failed_keys": []},
        )
    ]


async def test_a_background_deletion_that_cannot_finish_logs_instead_of_raising(
    httpserver, proxy, fetch, sleeps
):
    proxy(lambda request: Response("no", status=500))
    log = AuditLog()
    tasks = BackgroundTasks()
    schedule_delete(
        tasks,
        httpserver.url_for("/"),
        TOKEN,
        ["a"],
        fetch=fetch,
        log=log,
        sleep=sleeps,
        max_attempts=2,
    )
    assert await tasks.run() == [None]
    assert log[0][0] == "purge.client.unavailable" and log[0][1]["pending_keys"] == ["a"]
    assert TOKEN not in json.dumps(log)


async def test_a_background_deletion_that_reaches_another_service_logs_instead_of_raising(
    httpserver, proxy, fetch, sleeps
):
    proxy(lambda request: Response('{"status": "ok"}'))
    log = AuditLog()
    tasks = BackgroundTasks()
    schedule_delete(
        tasks, httpserver.url_for("/"), TOKEN, ["a"], fetch=fetch, log=log, sleep=sleeps
    )
    assert await tasks.run() == [None]
    assert [event for event, _ in log] == ["purge.client.rejected"]


async def test_a_background_deletion_of_an_invalid_key_logs_where_not_what(fetch, sleeps):
    log = AuditLog()
    tasks = BackgroundTasks()
    secret_like = "k" * 2000
    schedule_delete(
        tasks, "https://delete-proxy.example", TOKEN, ["a", secret_like], fetch=fetch, log=log
    )
    assert await tasks.run() == [None]
    [(event, fields)] = log
    assert event == "purge.client.invalid" and fields["error"].startswith("keys[1]: ")
    assert "kkkkkkkk" not in json.dumps(log)


def failing_fetch(status: int) -> HttpFetch:
    async def answer(request: HttpRequest) -> HttpResponse:
        return HttpResponse(status, {}, b"")

    return answer


@pytest.mark.parametrize(
    ("rng", "expected"),
    [(Highest(), [0.5, 1.0, 2.0, 4.0, 4.0]), (Midpoint(), [0.25, 0.5, 1.0, 2.0, 2.0])],
)
async def test_backoff_grows_exponentially_is_capped_and_jittered(sleeps, rng, expected):
    proxy_client = DeleteProxyClient(
        "https://delete-proxy.example",
        TOKEN,
        fetch=failing_fetch(503),
        max_attempts=6,
        backoff=0.5,
        max_backoff=4.0,
        sleep=sleeps,
        rng=rng,
    )
    with pytest.raises(DeleteProxyUnavailable, match="after 6 attempts: HTTP 503"):
        await proxy_client.delete(["a"])
    assert sleeps == expected


@given(
    st.lists(st.text(min_size=1, max_size=300), max_size=200),
    st.integers(1, 50),
    st.integers(400, 4000),
)
def test_split_keys_keeps_order_and_respects_both_limits(keys, max_keys, max_body_bytes):
    chunks = split_keys(keys, max_keys=max_keys, max_body_bytes=max_body_bytes)
    assert [key for chunk in chunks for key in chunk] == keys
    for chunk in chunks:
        assert 1 <= len(chunk) <= max_keys
        body = json.dumps({"objectKeys": chunk}, separators=(",", ":")).encode()
        assert len(body) <= max_body_bytes or len(chunk) == 1
