"""Which failures the S3 client retries, how often, and what it raises in the end; over real
HTTP to a loopback pytest-httpserver, with waits recorded instead of slept."""

from __future__ import annotations

import pytest

from flaresuite.http import TransportError
from flaresuite.s3 import S3Client, S3Error
from flaresuite.s3.client import BACKOFF
from flaresuite_host.transport import httpx_fetch

EMPTY_LISTING = b"""<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>wheels</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys>
  <IsTruncated>false</IsTruncated>
</ListBucketResult>"""


def error_document(code: str, message: str, request_id: str = "REQ123") -> bytes:
    return (
        f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
        f"<Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
    ).encode()


@pytest.fixture
async def fetch():
    async with httpx_fetch() as fetch:
        yield fetch


def client(fetch, httpserver, sleeps, **kwargs) -> S3Client:
    return S3Client(
        fetch,
        region="us-east-1",
        endpoint=httpserver.url_for("/"),
        credentials=None,
        sleep=sleeps,
        **kwargs,
    )


async def listing(s3: S3Client) -> list:
    return [obj async for obj in s3.list_objects("wheels", "whl/")]


async def test_a_500_then_success_is_retried_after_a_jittered_wait(httpserver, fetch, sleeps):
    httpserver.expect_ordered_request("/wheels").respond_with_data(
        error_document("InternalError", "We encountered an internal error."), status=500
    )
    httpserver.expect_ordered_request("/wheels").respond_with_data(EMPTY_LISTING)
    assert await listing(client(fetch, httpserver, sleeps)) == []
    assert len(httpserver.log) == 2
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= BACKOFF.base


@pytest.mark.parametrize(
    ("status", "code"), [(503, "SlowDown"), (429, "TooManyRequests"), (400, "RequestTimeout")]
)
async def test_throttling_and_request_timeouts_are_retried(httpserver, fetch, sleeps, status, code):
    httpserver.expect_ordered_request("/wheels").respond_with_data(
        error_document(code, "Please reduce your request rate."), status=status
    )
    httpserver.expect_ordered_request("/wheels").respond_with_data(EMPTY_LISTING)
    assert await listing(client(fetch, httpserver, sleeps)) == []
    assert len(sleeps) == 1


async def test_a_persistent_500_raises_after_max_attempts_with_backoff(httpserver, fetch, sleeps):
    httpserver.expect_request("/wheels").respond_with_data(
        error_document("InternalError", "We encountered an internal error.", "R500"), status=500
    )
    with pytest.raises(S3Error) as failure:
        await listing(client(fetch, httpserver, sleeps, max_attempts=4))
    assert len(httpserver.log) == 4
    assert len(sleeps) == 3
    assert all(0 <= wait <= BACKOFF.base * 2**n for n, wait in enumerate(sleeps))
    error = failure.value
    assert (error.status, error.code, error.request_id, error.attempts) == (
        500,
        "InternalError",
        "R500",
        4,
    )
    assert str(error) == (
        "S3 ListObjectsV2 on bucket 'wheels' failed after 4 attempts: 500 InternalError: "
        "We encountered an internal error. (request id R500)"
    )


async def test_a_403_is_raised_at_once_with_a_clear_message(httpserver, fetch, sleeps):
    httpserver.expect_request("/wheels").respond_with_data(
        error_document(
            "SignatureDoesNotMatch", "The request signature we calculated does not match."
        ),
        status=403,
    )
    with pytest.raises(S3Error) as failure:
        await listing(client(fetch, httpserver, sleeps))
    assert len(httpserver.log) == 1 and sleeps == []
    assert str(failure.value) == (
        "S3 ListObjectsV2 on bucket 'wheels' failed: 403 SignatureDoesNotMatch: "
        "The request signature we calculated does not match. (request id REQ123)"
    )


async def test_a_transport_error_is_retried(httpserver, fetch, sleeps):
    httpserver.expect_request("/wheels").respond_with_data(EMPTY_LISTING)
    failures = iter([TransportError("connection reset by peer")])

    async def flaky(request):
        for failure in failures:
            raise failure
        return await fetch(request)

    assert await listing(client(flaky, httpserver, sleeps)) == []
    assert len(httpserver.log) == 1 and len(sleeps) == 1


async def test_a_server_that_never_answers_raises_a_transport_error_naming_the_operation(sleeps):
    attempts = []

    async def unreachable(request):
        attempts.append(request)
        raise TransportError("connection refused")

    s3 = S3Client(
        unreachable,
        region="auto",
        endpoint="http://127.0.0.1:9",
        credentials=None,
        sleep=sleeps,
        max_attempts=3,
    )
    with pytest.raises(
        TransportError,
        match=r"S3 HeadObject on key 'a\.whl' in bucket 'wheels' "
        r"failed after 3 attempts: connection refused",
    ):
        await s3.head_object("wheels", "a.whl")
    assert len(attempts) == 3 and len(sleeps) == 2


async def test_an_error_inside_a_200_complete_multipart_answer_is_retried_then_raised(
    httpserver, fetch, sleeps
):
    # S3 may answer CompleteMultipartUpload with 200 OK and then an <Error> document.
    httpserver.expect_request("/wheels/big.bin", method="POST").respond_with_data(
        error_document("InternalError", "We encountered an internal error."), status=200
    )
    with pytest.raises(
        S3Error,
        match=r"CompleteMultipartUpload on key 'big.bin' .* after 2 attempts: 200 InternalError",
    ):
        await client(fetch, httpserver, sleeps, max_attempts=2).complete_multipart_upload(
            "wheels", "big.bin", "upload-1", ["etag-1"]
        )
    assert len(httpserver.log) == 2


def test_s3_waits_start_at_a_quarter_second_and_never_exceed_twenty():
    assert (BACKOFF.base, BACKOFF.cap) == (0.25, 20.0)
