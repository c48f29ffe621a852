"""The index builder against moto's S3 server with signature checking: real SigV4, real
pagination, real HEAD checksums, and faults injected between the client and the server."""

import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from flaresuite.http import HttpResponse
from flaresuite.index.builder import BuildConfig, IndexBuilder
from flaresuite.index.s3source import S3Source
from flaresuite.index.service import IndexRunFailed, IndexService
from flaresuite.s3 import S3Client
from flaresuite.stores.memory import MemoryBucket
from flaresuite_host.transport import httpx_fetch

from .conftest import core_metadata

pytestmark = pytest.mark.moto

MIB = 1024 * 1024


async def no_wait(seconds):
    return None


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def bucket(moto_s3):
    """A bucket shaped like download.pytorch.org with every checksum variant."""
    name = moto_s3.new_bucket("index")
    boto = moto_s3.boto
    wheels = {}

    def put(key, body, **extra):
        boto.put_object(Bucket=name, Key=key, Body=body, **extra)
        wheels[key] = body

    native = "whl/cu126/torch-2.6.0+cu126-cp311-cp311-linux_x86_64.whl"
    put(native, b"native", ChecksumAlgorithm="SHA256")
    put(
        native + ".metadata",
        core_metadata("torch", "2.6.0+cu126", ">=3.9"),
        ChecksumAlgorithm="SHA256",
    )
    declared = "whl/cpu/torch-2.6.0+cpu-cp311-cp311-linux_x86_64.whl"
    put(declared, b"declared", Metadata={"checksum-sha256": sha(b"declared")})
    put("whl/filelock-3.16.1-py3-none-any.whl", b"no checksum at all")
    multipart = "whl/cu126/triton-3.2.0-cp311-cp311-linux_x86_64.whl"
    body = b"m" * (5 * MIB) + b"tail"
    upload = boto.create_multipart_upload(
        Bucket=name,
        Key=multipart,
        ChecksumAlgorithm="SHA256",
        Metadata={"checksum-sha256": sha(body)},
    )
    parts = []
    for number, chunk in enumerate((body[: 5 * MIB], body[5 * MIB :]), start=1):
        part = boto.upload_part(
            Bucket=name,
            Key=multipart,
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=chunk,
            ChecksumAlgorithm="SHA256",
        )
        parts.append(
            {"PartNumber": number, "ETag": part["ETag"], "ChecksumSHA256": part["ChecksumSHA256"]}
        )
    boto.complete_multipart_upload(
        Bucket=name, Key=multipart, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    wheels[multipart] = body
    for day in range(1, 41):  # enough keys for several listing pages
        key = f"whl/nightly/cpu/torch-2.7.{day}.dev20250101+cpu-cp311-cp311-linux_x86_64.whl"
        put(key, key.encode())
    put("libtorch/cpu/libtorch-shared-with-deps-2.6.0+cpu.zip", b"zip")
    return name, wheels


class Recorder:
    """Wraps a fetch: counts S3 operations and can answer some requests with a 500."""

    def __init__(self, fetch, fail=lambda request, count: False):
        self.fetch, self.fail = fetch, fail
        self.lists = 0
        self.heads = []

    async def __call__(self, request):
        query = parse_qs(urlsplit(request.url).query)
        if request.method == "GET" and "list-type" in query:
            self.lists += 1
            if self.fail(request, self.lists):
                return HttpResponse(500, {}, b"<Error><Code>InternalError</Code></Error>")
        if request.method == "HEAD":
            self.heads.append(urlsplit(request.url).path)
        return await self.fetch(request)


def builder(moto_s3, name, fetch, buckets, page_size=10):
    client = S3Client(
        fetch,
        region=moto_s3.region,
        endpoint=moto_s3.endpoint,
        credentials=moto_s3.credentials,
        sleep=no_wait,
    )
    config = BuildConfig(prefixes=("whl", "whl/nightly", "libtorch"), warn_after=())
    return IndexBuilder(
        S3Source(client, name, page_size=page_size),
        buckets,
        config=config,
        log=lambda *a, **k: None,
    )


async def test_pages_carry_every_checksum_variant_and_sidecar_facts(moto_s3, bucket):
    name, wheels = bucket
    main, mirror = MemoryBucket(), MemoryBucket()
    async with httpx_fetch() as fetch:
        recorder = Recorder(fetch)
        report = await builder(moto_s3, name, recorder, [main, mirror]).run()
    assert report.status == "ok", report.to_dict()
    cu126 = main.objects["whl/cu126/torch/index.html"].body.decode()
    assert f"#sha256={sha(b'native')}" in cu126
    metadata = wheels["whl/cu126/torch-2.6.0+cu126-cp311-cp311-linux_x86_64.whl.metadata"]
    assert f'data-core-metadata="sha256={sha(metadata)}"' in cu126
    assert 'data-requires-python="&gt;=3.9"' in cu126
    cpu = main.objects["whl/cpu/torch/index.html"].body.decode()
    assert f"#sha256={sha(b'declared')}" in cpu
    triton = main.objects["whl/cu126/triton/index.html"].body.decode()
    multipart_body = wheels["whl/cu126/triton-3.2.0-cp311-cp311-linux_x86_64.whl"]
    assert f"#sha256={sha(multipart_body)}" in triton  # metadata, never the composite
    assert "#sha256=" not in main.objects["whl/filelock/index.html"].body.decode()
    assert main.objects["whl/nightly/cpu/torch/index.html"].body.count(b"<a ") == 40
    assert "libtorch/cpu/index.html" in mirror.objects
    assert recorder.lists >= 7  # whl: 1 page; nightly: 41 keys / 10 per page = 5; libtorch: 1


async def test_a_steady_state_run_sends_no_head(moto_s3, bucket):
    name, _ = bucket
    buckets = [MemoryBucket(), MemoryBucket()]
    async with httpx_fetch() as fetch:
        await builder(moto_s3, name, fetch, buckets).run()
        recorder = Recorder(fetch)
        report = await builder(moto_s3, name, recorder, buckets).run()
    assert recorder.heads == []
    assert sum(p.pages_written for p in report.prefixes) == 0


async def test_a_500_in_the_middle_of_a_listing_is_retried(moto_s3, bucket):
    name, _ = bucket
    main = MemoryBucket()
    async with httpx_fetch() as fetch:
        recorder = Recorder(fetch, fail=lambda request, count: count == 3)
        report = await builder(moto_s3, name, recorder, [main]).run()
    assert report.status == "ok"
    assert main.objects["whl/nightly/cpu/torch/index.html"].body.count(b"<a ") == 40


async def test_a_listing_that_keeps_failing_publishes_nothing(moto_s3, bucket):
    name, _ = bucket
    main = MemoryBucket()
    async with httpx_fetch() as fetch:
        await builder(moto_s3, name, fetch, [main]).run()
        before = dict(main.objects)
        moto_s3.boto.put_object(
            Bucket=name,
            Body=b"new",
            Key="whl/nightly/cpu/torch-2.8.0.dev20250301+cpu-cp311-cp311-linux_x86_64.whl",
        )
        failing = Recorder(fetch, fail=lambda request, count: "continuation-token" in request.url)
        report = await builder(moto_s3, name, failing, [main]).run()
    nightly = report.prefixes[1]
    assert nightly.status == "failed" and "InternalError" in nightly.error
    assert {k: v for k, v in main.objects.items() if not k.startswith("_flaresuite/")} == {
        k: v for k, v in before.items() if not k.startswith("_flaresuite/")
    }


async def test_the_worker_service_runs_against_s3_with_its_configuration(moto_s3, bucket):
    name, _ = bucket
    env = {
        "SOURCE_S3_BUCKET": name,
        "SOURCE_S3_REGION": moto_s3.region,
        "S3_ENDPOINT_URL": moto_s3.endpoint,
        "S3_ACCESS_KEY_ID": moto_s3.credentials.access_key_id,
        "S3_SECRET_ACCESS_KEY": moto_s3.credentials.secret_access_key,
        "INDEX_PREFIXES": "whl,libtorch",
    }
    main, mirror = MemoryBucket(), MemoryBucket()
    async with httpx_fetch() as fetch:
        report = await IndexService(
            env, fetch=fetch, destinations=[main, mirror], log=lambda *a, **k: None
        ).run()
    assert report.status == "ok"
    assert (
        "whl/cu126/torch/index.json" in main.objects and "libtorch/cpu/index.html" in mirror.objects
    )


async def test_a_wrong_secret_fails_every_prefix_and_publishes_nothing(moto_s3, bucket):
    name, _ = bucket
    env = {
        "SOURCE_S3_BUCKET": name,
        "S3_ENDPOINT_URL": moto_s3.endpoint,
        "S3_ACCESS_KEY_ID": moto_s3.credentials.access_key_id,
        "S3_SECRET_ACCESS_KEY": "wrong",
    }
    main = MemoryBucket()
    async with httpx_fetch() as fetch:
        report = await IndexService(
            env, fetch=fetch, destinations=[main, MemoryBucket()], log=lambda *a, **k: None
        ).run()
    assert report.status == "failed"
    assert all("SignatureDoesNotMatch" in p.error for p in report.prefixes)
    assert list(main.objects) == ["_flaresuite/index-status.json"]


async def test_a_scheduled_run_with_a_failed_prefix_raises_after_storing_its_report(
    moto_s3, bucket
):
    name, _ = bucket
    env = {
        "SOURCE_S3_BUCKET": name,
        "S3_ENDPOINT_URL": moto_s3.endpoint,
        "S3_ACCESS_KEY_ID": moto_s3.credentials.access_key_id,
        "S3_SECRET_ACCESS_KEY": "wrong",
        "INDEX_PREFIXES": "whl,libtorch",
    }
    main = MemoryBucket()
    async with httpx_fetch() as fetch:
        service = IndexService(
            env, fetch=fetch, destinations=[main, MemoryBucket()], log=lambda *a, **k: None
        )
        with pytest.raises(
            IndexRunFailed, match="2 of 2 prefixes failed: whl: .*SignatureDoesNotMatch"
        ):
            await service.scheduled_run()
    assert list(main.objects) == ["_flaresuite/index-status.json"]


async def test_a_scheduled_run_that_succeeds_returns_its_report(moto_s3, bucket):
    name, _ = bucket
    env = {
        "SOURCE_S3_BUCKET": name,
        "S3_ENDPOINT_URL": moto_s3.endpoint,
        "S3_ACCESS_KEY_ID": moto_s3.credentials.access_key_id,
        "S3_SECRET_ACCESS_KEY": moto_s3.credentials.secret_access_key,
        "INDEX_PREFIXES": "whl",
    }
    async with httpx_fetch() as fetch:
        service = IndexService(
            env, fetch=fetch, destinations=[MemoryBucket()], log=lambda *a, **k: None
        )
        assert (await service.scheduled_run()).status == "ok"
