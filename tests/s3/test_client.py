"""What the S3 client sends and how it reads answers, against a scripted HttpFetch."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from flaresuite.http import HttpRequest, HttpResponse
from flaresuite.s3 import CommonPrefix, Credentials, ObjectHead, S3Client, S3Error, S3Object
from flaresuite.s3.addressing import request_url
from flaresuite.s3.client import MIN_PART_SIZE

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


class FixedClock:
    def now(self) -> float:
        return datetime(2026, 11, 23, 9, 0, tzinfo=UTC).timestamp()

    def monotonic(self) -> float:
        return 0.0


class Script:
    """An HttpFetch that records requests and answers from a list, in order."""

    def __init__(self, *responses: HttpResponse) -> None:
        self.responses = list(responses)
        self.requests: list[HttpRequest] = []

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        return self.responses.pop(0)

    def query(self, index: int) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.requests[index].url).query, keep_blank_values=True))


async def no_wait(seconds: float) -> None:
    return None


KEYS = Credentials("AKID", "secret")


def client(fetch, credentials=KEYS, clock=None, **kwargs) -> S3Client:
    return S3Client(
        fetch,
        region="auto",
        endpoint="https://acct.r2.cloudflarestorage.com",
        credentials=credentials,
        clock=clock or FixedClock(),
        sleep=no_wait,
        **kwargs,
    )


def page(
    contents: str, *, token: str | None = None, encoded: bool = True, ns: str = NS
) -> HttpResponse:
    tail = (
        f"<IsTruncated>true</IsTruncated><NextContinuationToken>{token}</NextContinuationToken>"
        if token
        else "<IsTruncated>false</IsTruncated>"
    )
    encoding = "<EncodingType>url</EncodingType>" if encoded else ""
    body = (
        f"<?xml version='1.0'?><ListBucketResult {ns}><Name>b</Name>{encoding}{contents}{tail}"
        "</ListBucketResult>"
    )
    return HttpResponse(200, {"content-type": "application/xml"}, body.encode())


def entry(key: str, size: int = 3, etag: str = "&quot;abc&quot;") -> str:
    return (
        f"<Contents><Key>{key}</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified>"
        f"<ETag>{etag}</ETag><Size>{size}</Size><StorageClass>STANDARD</StorageClass></Contents>"
    )


async def collect(s3, bucket="b", prefix="whl/", **kwargs):
    return [obj async for obj in s3.list_objects(bucket, prefix, **kwargs)]


async def test_listing_follows_continuation_tokens_and_decodes_url_encoded_keys():
    fetch = Script(
        page(entry("whl/torch-2.5.0%2Bcu124.whl") + entry("whl/a+b%20c/%C3%BC.whl"), token="t/1+="),
        page(entry("whl/z.whl", size=7)),
    )
    objects = await collect(client(fetch), page_size=2)
    assert objects == [
        S3Object(
            "whl/torch-2.5.0+cu124.whl",
            3,
            "abc",
            datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        ),
        S3Object("whl/a b c/ü.whl", 3, "abc", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        S3Object("whl/z.whl", 7, "abc", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ]
    assert fetch.query(0) == {
        "list-type": "2",
        "prefix": "whl/",
        "encoding-type": "url",
        "max-keys": "2",
    }
    assert fetch.query(1)["continuation-token"] == "t/1+="
    assert fetch.requests[0].url.startswith("https://acct.r2.cloudflarestorage.com/b?")


async def test_listing_reads_documents_without_a_namespace_or_encoding():
    objects = await collect(client(Script(page(entry("whl/a+b.whl"), encoded=False, ns=""))))
    assert [obj.key for obj in objects] == ["whl/a+b.whl"]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (HttpResponse(200, {}, b"<html>captive portal</html"), "response is not XML"),
        (HttpResponse(200, {}, b"<Other/>"), "expected <ListBucketResult>"),
        (
            page(entry("k").replace("<Size>3</Size>", "<Size>x</Size>")),
            "<Size> of 'k' is not an integer",
        ),
        (
            HttpResponse(200, {}, page("").body.replace(b"false", b"true")),
            "truncated but has no NextContinuationToken",
        ),
        (
            page("<Contents>" * 5000 + "</Contents>" * 5000),
            "deeper than 16 levels",
        ),
    ],
)
async def test_an_unreadable_listing_is_an_error_not_an_empty_bucket(answer, message):
    with pytest.raises(S3Error, match=message) as failure:
        await collect(client(Script(answer)))
    assert failure.value.code == "MalformedResponse"


async def test_a_directory_listing_yields_files_and_sub_directories_of_one_level():
    listing = page(
        entry("whl/torch-2.5.0%2Bcpu.whl")
        + "<CommonPrefixes><Prefix>whl/cu126/</Prefix></CommonPrefixes>"
        + "<CommonPrefixes><Prefix>whl/rocm6.2.4/</Prefix></CommonPrefixes>"
    )
    fetch = Script(listing)
    found = [entry async for entry in client(fetch).list_directory("b", "whl/")]
    assert [getattr(e, "key", None) or e.prefix for e in found] == [
        "whl/torch-2.5.0+cpu.whl",
        "whl/cu126/",
        "whl/rocm6.2.4/",
    ]
    assert isinstance(found[1], CommonPrefix)
    assert fetch.query(0)["delimiter"] == "/"


async def test_a_listing_that_repeats_its_continuation_token_stops_with_an_error():
    fetch = Script(page(entry("whl/a"), token="same"), page(entry("whl/b"), token="same"))
    with pytest.raises(S3Error, match="continuation token it had already returned"):
        await collect(client(fetch))


async def test_head_asks_for_checksums_and_reads_headers_and_metadata():
    fetch = Script(
        HttpResponse(
            200,
            {
                "content-length": "1234",
                "etag": '"0f343b0931126a20f133d67c2b018a3b-2"',
                "last-modified": "Wed, 21 Oct 2026 07:28:00 GMT",
                "x-amz-checksum-sha256": "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=-2",
                "x-amz-meta-checksum-sha256": "ab" * 32,
                "x-amz-meta-built-by": "ci",
                "content-type": "application/zip",
            },
        )
    )
    head = await client(fetch).head_object("b", "whl/x.whl")
    assert head == ObjectHead(
        content_length=1234,
        etag="0f343b0931126a20f133d67c2b018a3b-2",
        last_modified=datetime(2026, 10, 21, 7, 28, tzinfo=UTC),
        checksum_sha256="n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=-2",
        metadata={"checksum-sha256": "ab" * 32, "built-by": "ci"},
        content_type="application/zip",
    )
    assert head.is_multipart
    assert fetch.requests[0].method == "HEAD"
    assert fetch.requests[0].headers["x-amz-checksum-mode"] == "ENABLED"


async def test_head_of_a_missing_object_is_none_but_a_403_raises():
    assert await client(Script(HttpResponse(404, {}))).head_object("b", "k") is None
    with pytest.raises(
        S3Error,
        match=r"S3 HeadObject on key 'k' in bucket 'b' failed: 403 Forbidden \(request id R1\)",
    ):
        await client(Script(HttpResponse(403, {"x-amz-request-id": "R1"}))).head_object("b", "k")


async def test_get_returns_none_for_a_missing_key_but_raises_for_a_missing_bucket():
    no_key = HttpResponse(404, {}, b"<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>")
    no_bucket = HttpResponse(
        404, {}, b"<Error><Code>NoSuchBucket</Code><Message>none</Message></Error>"
    )
    assert await client(Script(HttpResponse(200, {}, b"data"))).get_object("b", "k") == b"data"
    assert await client(Script(no_key)).get_object("b", "k") is None
    with pytest.raises(S3Error, match="404 NoSuchBucket: none"):
        await client(Script(no_bucket)).get_object("b", "k")


async def test_put_sends_md5_sha256_content_type_and_metadata_and_signs_them():
    fetch = Script(HttpResponse(200, {"etag": '"e1"'}))
    body = b"wheel"
    etag = await client(fetch).put_object(
        "b",
        "whl/a b.whl",
        body,
        content_type="application/zip",
        metadata={"Checksum-SHA256": "cd" * 32},
    )
    sent = fetch.requests[0]
    assert etag == "e1"
    assert sent.method == "PUT" and sent.body == body
    assert sent.url == "https://acct.r2.cloudflarestorage.com/b/whl/a%20b.whl"
    assert sent.headers["content-md5"] == base64.b64encode(hashlib.md5(body).digest()).decode()
    assert (
        sent.headers["x-amz-checksum-sha256"]
        == base64.b64encode(hashlib.sha256(body).digest()).decode()
    )
    assert sent.headers["x-amz-content-sha256"] == hashlib.sha256(body).hexdigest()
    assert sent.headers["x-amz-meta-checksum-sha256"] == "cd" * 32
    assert sent.headers["x-amz-date"] == "20261123T090000Z"
    signed = "content-md5;content-type;host;x-amz-checksum-sha256;x-amz-content-sha256;"
    signed += "x-amz-date;x-amz-meta-checksum-sha256;x-amz-sdk-checksum-algorithm"
    assert f"SignedHeaders={signed}," in sent.headers["authorization"]


async def test_metadata_that_cannot_travel_in_a_header_is_refused_before_sending():
    fetch = Script()
    with pytest.raises(ValueError, match="printable ASCII"):
        await client(fetch).put_object("b", "k", b"", metadata={"note": "naïve"})
    with pytest.raises(ValueError, match="not a valid HTTP header name"):
        await client(fetch).put_object("b", "k", b"", metadata={"bad name": "x"})
    assert fetch.requests == []


async def test_anonymous_requests_are_not_signed():
    fetch = Script(page(""))
    await collect(client(fetch, credentials=None))
    assert not any(name in fetch.requests[0].headers for name in ("authorization", "x-amz-date"))


async def test_temporary_credentials_send_their_session_token():
    fetch = Script(HttpResponse(200, {}, b""))
    await client(fetch, credentials=Credentials("ASIA", "s", "tok")).get_object("b", "k")
    assert fetch.requests[0].headers["x-amz-security-token"] == "tok"


def ok(body: bytes = b"", **headers: str) -> HttpResponse:
    return HttpResponse(200, headers, body)


INITIATED = (
    f"<InitiateMultipartUploadResult {NS}><Bucket>b</Bucket><Key>k</Key>"
    "<UploadId>U1</UploadId></InitiateMultipartUploadResult>"
).encode()
COMPLETED = (
    f"<CompleteMultipartUploadResult {NS}><ETag>&quot;final-3&quot;</ETag>"
    "</CompleteMultipartUploadResult>"
).encode()


async def test_upload_above_the_part_size_is_multipart_and_reports_progress():
    body = bytes(2 * MIN_PART_SIZE + 10)
    fetch = Script(ok(INITIATED), ok(etag='"p1"'), ok(etag='"p2"'), ok(etag='"p3"'), ok(COMPLETED))
    progress = []
    etag = await client(fetch).upload(
        "b",
        "k",
        body,
        part_size=MIN_PART_SIZE,
        on_progress=lambda done, total: progress.append((done, total)),
    )
    assert etag == "final-3"
    assert [(r.method, fetch.query(i)) for i, r in enumerate(fetch.requests)] == [
        ("POST", {"uploads": ""}),
        ("PUT", {"partNumber": "1", "uploadId": "U1"}),
        ("PUT", {"partNumber": "2", "uploadId": "U1"}),
        ("PUT", {"partNumber": "3", "uploadId": "U1"}),
        ("POST", {"uploadId": "U1"}),
    ]
    assert [len(r.body) for r in fetch.requests[1:4]] == [MIN_PART_SIZE, MIN_PART_SIZE, 10]
    assert b'<PartNumber>3</PartNumber><ETag>"p3"</ETag>' in fetch.requests[4].body
    assert progress == [
        (MIN_PART_SIZE, len(body)),
        (2 * MIN_PART_SIZE, len(body)),
        (len(body), len(body)),
    ]


async def test_every_part_carries_its_md5_and_a_failed_part_is_sent_again_re_signed():
    body = bytes(range(256)) * (MIN_PART_SIZE // 256) + b"tail"
    busy = HttpResponse(
        503, {}, b"<Error><Code>SlowDown</Code><Message>Reduce your rate</Message></Error>"
    )
    fetch = Script(ok(INITIATED), ok(etag='"p1"'), busy, ok(etag='"p2"'), ok(COMPLETED))
    times = iter([0.0, 0.0, 0.0, 3600.0, 3600.0])

    class Ticking(FixedClock):
        def now(self) -> float:
            return super().now() + next(times)

    etag = await client(fetch, clock=Ticking()).upload("b", "k", body, part_size=MIN_PART_SIZE)

    assert etag == "final-3"
    first_try, second_try = fetch.requests[2], fetch.requests[3]
    assert fetch.query(2) == fetch.query(3) == {"partNumber": "2", "uploadId": "U1"}
    assert first_try.body == second_try.body == b"tail"
    for part, sent in ((body[:MIN_PART_SIZE], fetch.requests[1]), (b"tail", second_try)):
        assert sent.headers["content-md5"] == base64.b64encode(hashlib.md5(part).digest()).decode()
        assert sent.headers["x-amz-content-sha256"] == hashlib.sha256(part).hexdigest()
    # The retry is signed again at its own time, not replayed with a stale x-amz-date.
    assert (first_try.headers["x-amz-date"], second_try.headers["x-amz-date"]) == (
        "20261123T090000Z",
        "20261123T100000Z",
    )
    assert first_try.headers["authorization"] != second_try.headers["authorization"]


async def test_a_failed_multipart_upload_is_aborted_and_the_first_error_raised():
    denied = HttpResponse(403, {}, b"<Error><Code>AccessDenied</Code><Message>no</Message></Error>")
    fetch = Script(ok(INITIATED), ok(etag='"p1"'), denied, HttpResponse(204, {}))
    with pytest.raises(
        S3Error, match="UploadPart on key 'k' in bucket 'b' failed: 403 AccessDenied"
    ):
        await client(fetch).upload("b", "k", bytes(MIN_PART_SIZE + 1), part_size=MIN_PART_SIZE)
    assert (fetch.requests[-1].method, fetch.query(3)) == ("DELETE", {"uploadId": "U1"})


async def test_a_small_upload_is_one_put_and_tiny_parts_are_refused():
    fetch = Script(ok(etag='"e"'))
    assert await client(fetch).upload("b", "k", b"small", part_size=MIN_PART_SIZE) == "e"
    assert [r.method for r in fetch.requests] == ["PUT"]
    with pytest.raises(ValueError, match="at least 5242880 bytes"):
        await client(Script()).upload("b", "k", bytes(2048), part_size=1024)


@pytest.mark.parametrize(
    ("bucket", "key", "endpoint", "url"),
    [
        ("wheels", "whl/a+b.whl", None, "https://wheels.s3.eu-west-1.amazonaws.com/whl/a%2Bb.whl"),
        ("wheels", None, None, "https://wheels.s3.eu-west-1.amazonaws.com/"),
        ("my.dotted.bucket", "k", None, "https://s3.eu-west-1.amazonaws.com/my.dotted.bucket/k"),
        (
            "wheels",
            "a b/ü",
            "https://acct.r2.cloudflarestorage.com/",
            "https://acct.r2.cloudflarestorage.com/wheels/a%20b/%C3%BC",
        ),
        ("wheels", None, "http://127.0.0.1:5000", "http://127.0.0.1:5000/wheels"),
    ],
)
def test_aws_is_addressed_virtual_hosted_and_custom_endpoints_path_style(
    bucket, key, endpoint, url
):
    s3 = S3Client(Script(), region="eu-west-1", endpoint=endpoint, credentials=None)
    assert request_url(bucket, key, region=s3.region, endpoint=s3.endpoint) == url


@pytest.mark.parametrize("endpoint", ["r2.example.com", "ftp://host", "https://host/?x=1"])
def test_a_malformed_endpoint_is_refused_at_construction(endpoint):
    with pytest.raises(ValueError, match="S3 endpoint must"):
        S3Client(Script(), region="auto", endpoint=endpoint, credentials=None)


def test_secrets_never_appear_in_reprs():
    credentials = Credentials("AKID", "very-secret", "session-secret")
    shown = repr(credentials) + repr(client(Script(), credentials=credentials))
    assert "AKID" in shown and "secret" not in shown
