"""The S3 client against moto's standalone server with signature checking on: real HTTP,
real SigV4, real ListObjectsV2 pagination and HEAD checksums. Buckets are seeded with boto3,
an independent implementation of the same protocol."""

from __future__ import annotations

import base64
import hashlib

import pytest

from flaresuite.s3 import Credentials, S3Client, S3Error
from flaresuite.s3.client import MIN_PART_SIZE
from flaresuite_host.transport import httpx_fetch

pytestmark = pytest.mark.moto

TRICKY_KEYS = [
    "whl/cu126/torch-2.5.0+cu126-cp311-cp311-linux_x86_64.whl",
    "whl/with space/a b.whl",
    "whl/ünïcødé/päckage-1.0-py3-none-any.whl",
    "whl/percent%2Bliteral.whl",
    "whl/tilde~and(parens)!*'.whl",
    "whl/ampersand&equals=semicolon;.whl",
    "whl/日本語.whl",
]


async def no_wait(seconds: float) -> None:
    return None


@pytest.fixture
async def fetch():
    async with httpx_fetch() as fetch:
        yield fetch


def client(fetch, moto_s3, credentials: Credentials | None = None) -> S3Client:
    return S3Client(
        fetch,
        region=moto_s3.region,
        endpoint=moto_s3.endpoint,
        credentials=credentials or moto_s3.credentials,
        sleep=no_wait,
    )


def b64sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


async def test_a_wrong_secret_is_refused_with_signature_does_not_match(moto_s3, fetch):
    bucket = moto_s3.new_bucket("wrong-secret")
    wrong = Credentials(moto_s3.credentials.access_key_id, "not-the-secret")
    with pytest.raises(S3Error) as refused:
        [obj async for obj in client(fetch, moto_s3, wrong).list_objects(bucket, "")]
    assert (refused.value.status, refused.value.code) == (403, "SignatureDoesNotMatch")
    assert str(refused.value).startswith(
        f"S3 ListObjectsV2 on bucket '{bucket}' failed: 403 SignatureDoesNotMatch: "
    )


async def test_an_unknown_access_key_is_refused(moto_s3, fetch):
    bucket = moto_s3.new_bucket("unknown-key")
    with pytest.raises(S3Error) as refused:
        await client(fetch, moto_s3, Credentials("AKIANOBODY", "x")).get_object(bucket, "k")
    assert (refused.value.status, refused.value.code) == (403, "InvalidAccessKeyId")


async def test_listing_pages_through_every_key_including_awkward_ones(moto_s3, fetch):
    bucket = moto_s3.new_bucket("pages")
    keys = [f"whl/cpu/pkg_{n:03d}-1.0-py3-none-any.whl" for n in range(230)] + TRICKY_KEYS
    for key in keys:
        moto_s3.boto.put_object(Bucket=bucket, Key=key, Body=key.encode())
    moto_s3.boto.put_object(Bucket=bucket, Key="whl-other/outside.whl", Body=b"x")
    pages = []

    async def counting(request):
        pages.append(request.url)
        return await fetch(request)

    listed = [
        obj async for obj in client(counting, moto_s3).list_objects(bucket, "whl/", page_size=40)
    ]

    assert [obj.key for obj in listed] == sorted(keys)
    assert len(pages) == 6  # 237 keys, 40 a page
    by_boto = {
        item["Key"]: item
        for p in moto_s3.boto.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix="whl/"
        )
        for item in p["Contents"]
    }
    for obj in listed:
        assert obj.size == len(obj.key.encode())
        assert obj.etag == by_boto[obj.key]["ETag"].strip('"')
        assert obj.last_modified == by_boto[obj.key]["LastModified"]


async def test_an_empty_prefix_lists_nothing_without_error(moto_s3, fetch):
    bucket = moto_s3.new_bucket("empty")
    assert [obj async for obj in client(fetch, moto_s3).list_objects(bucket, "whl/")] == []


async def test_head_reports_each_kind_of_checksum(moto_s3, fetch):
    bucket = moto_s3.new_bucket("checksums")
    boto = moto_s3.boto
    body = b"a wheel's bytes"
    boto.put_object(Bucket=bucket, Key="native.whl", Body=body, ChecksumAlgorithm="SHA256")
    boto.put_object(
        Bucket=bucket,
        Key="declared.whl",
        Body=body,
        Metadata={"checksum-sha256": hashlib.sha256(body).hexdigest()},
    )
    parts = [b"a" * MIN_PART_SIZE, b"b" * 100]
    upload = boto.create_multipart_upload(
        Bucket=bucket, Key="multipart.whl", ChecksumAlgorithm="SHA256"
    )
    completed = []
    for number, part in enumerate(parts, start=1):
        answer = boto.upload_part(
            Bucket=bucket,
            Key="multipart.whl",
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=part,
            ChecksumAlgorithm="SHA256",
        )
        completed.append(
            {
                "PartNumber": number,
                "ETag": answer["ETag"],
                "ChecksumSHA256": answer["ChecksumSHA256"],
            }
        )
    boto.complete_multipart_upload(
        Bucket=bucket,
        Key="multipart.whl",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": completed},
    )
    s3 = client(fetch, moto_s3)

    native = await s3.head_object(bucket, "native.whl")
    declared = await s3.head_object(bucket, "declared.whl")
    multipart = await s3.head_object(bucket, "multipart.whl")
    without_mode = await s3.head_object(bucket, "native.whl", checksum_mode=False)

    assert native.checksum_sha256 == b64sha256(body)
    assert (native.content_length, native.is_multipart) == (len(body), False)
    assert declared.checksum_sha256 is None
    assert declared.metadata == {"checksum-sha256": hashlib.sha256(body).hexdigest()}
    # A composite: the sha256 of the parts' sha256 digests, never the object's own digest.
    # S3 sends it as "<base64>-2"; moto 5.2's HEAD drops the "-2", so only the multipart
    # ETag tells the two apart there.
    composite = b64sha256(b"".join(hashlib.sha256(part).digest() for part in parts))
    assert multipart.checksum_sha256 in (composite, f"{composite}-2")
    assert multipart.checksum_sha256 != b64sha256(b"".join(parts))
    assert multipart.is_multipart and multipart.etag.endswith("-2")
    assert without_mode.checksum_sha256 is None
    assert await s3.head_object(bucket, "missing.whl") is None


async def test_put_then_get_round_trips_body_checksum_type_and_metadata(moto_s3, fetch):
    bucket = moto_s3.new_bucket("put")
    s3 = client(fetch, moto_s3)
    body = "ünïcode body".encode()
    key = "whl/a b+c/ü.whl"
    etag = await s3.put_object(
        bucket,
        key,
        body,
        content_type="application/zip",
        metadata={"checksum-sha256": hashlib.sha256(body).hexdigest()},
    )

    assert etag == hashlib.md5(body).hexdigest()
    assert await s3.get_object(bucket, key) == body
    head = await s3.head_object(bucket, key)
    assert head.checksum_sha256 == b64sha256(body)
    assert head.content_type == "application/zip"
    assert head.metadata == {"checksum-sha256": hashlib.sha256(body).hexdigest()}
    seen_by_boto = moto_s3.boto.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert seen_by_boto["ChecksumSHA256"] == b64sha256(body)


async def test_get_of_a_missing_key_is_none_and_of_a_missing_bucket_an_error(moto_s3, fetch):
    bucket = moto_s3.new_bucket("get")
    s3 = client(fetch, moto_s3)
    assert await s3.get_object(bucket, "nothing-here") is None
    with pytest.raises(S3Error, match="404 NoSuchBucket"):
        await s3.get_object("no-such-bucket-anywhere", "k")


async def test_a_large_upload_goes_multipart_and_round_trips(moto_s3, fetch):
    bucket = moto_s3.new_bucket("multipart")
    s3 = client(fetch, moto_s3)
    body = hashlib.sha256(b"seed").digest() * ((2 * MIN_PART_SIZE + 12345) // 32)
    progress = []
    etag = await s3.upload(
        bucket,
        "release/worker.zip",
        body,
        part_size=MIN_PART_SIZE,
        content_type="application/zip",
        metadata={"checksum-sha256": "ab" * 32},
        on_progress=lambda done, total: progress.append(done),
    )

    assert etag.endswith("-3")
    assert progress == [MIN_PART_SIZE, 2 * MIN_PART_SIZE, len(body)]
    stored = moto_s3.boto.get_object(Bucket=bucket, Key="release/worker.zip")
    assert stored["Body"].read() == body
    assert stored["ContentType"] == "application/zip"
    assert stored["Metadata"] == {"checksum-sha256": "ab" * 32}
    assert moto_s3.boto.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


async def test_an_aborted_multipart_upload_leaves_no_parts_behind(moto_s3, fetch):
    bucket = moto_s3.new_bucket("abort")
    s3 = client(fetch, moto_s3)
    upload_id = await s3.create_multipart_upload(bucket, "half.bin")
    await s3.upload_part(bucket, "half.bin", upload_id, 1, b"x" * MIN_PART_SIZE)
    assert len(moto_s3.boto.list_multipart_uploads(Bucket=bucket)["Uploads"]) == 1

    await s3.abort_multipart_upload(bucket, "half.bin", upload_id)

    assert moto_s3.boto.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert await s3.head_object(bucket, "half.bin") is None


def test_reset_clears_every_bucket_but_keeps_the_identity(moto_s3):
    bucket = moto_s3.new_bucket("reset")
    moto_s3.boto.put_object(Bucket=bucket, Key="k", Body=b"x")
    moto_s3.boto.create_multipart_upload(Bucket=bucket, Key="pending")

    moto_s3.reset()

    assert moto_s3.boto.list_buckets()["Buckets"] == []
    assert moto_s3.new_bucket("after-reset")  # still signs with the same key
