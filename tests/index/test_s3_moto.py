"""The index builder against moto's S3 server with signature checking: real SigV4, real
delimited listings and pagination, real HEAD checksums, copies in place and an assumed IAM
role, on the PyTorch-shaped bucket of ``pytorch_bucket.py``. Each test names the parity item
(issue 10) it proves."""

import hashlib
import json
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from flaresuite.http import HttpRequest, HttpResponse
from flaresuite.index.budget import Budget
from flaresuite.index.builder import BuildConfig, IndexBuilder
from flaresuite.index.s3source import S3Source
from flaresuite.index.service import IndexRunFailed, IndexService
from flaresuite.ports import SystemClock
from flaresuite.s3 import S3Client
from flaresuite.stores.memory import MemoryBucket
from flaresuite_host.transport import httpx_fetch
from tests.support.moto_server import IAM_POLICY

from . import pytorch_bucket as bucket_layout
from .pytorch_bucket import SEEDS, core_metadata

pytestmark = pytest.mark.moto

MIB = 1024 * 1024
GOLDEN = Path(__file__).parent / "golden" / "pytorch"
UPLOAD_TIME = re.compile(rb'(data-upload-time="|"upload-time":")[0-9T:Z-]+"')


async def no_wait(seconds):
    return None


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def quiet(*args, **fields):
    return None


@pytest.fixture(scope="module")
def pytorch(moto_s3):
    """The PyTorch-shaped bucket, seeded once: native, declared and missing checksums, PEP 658
    sidecars, a multipart upload whose native checksum is a composite."""
    name = moto_s3.new_bucket("pytorch")
    for seed in SEEDS:
        extra = {}
        if seed.checksum == "native":
            extra["ChecksumAlgorithm"] = "SHA256"
        elif seed.checksum == "declared":
            extra["Metadata"] = {"checksum-sha256": sha(seed.body)}
        moto_s3.boto.put_object(Bucket=name, Key=seed.key, Body=seed.body, **extra)
    return name


class Recorder:
    """Wraps a fetch: records S3 operations and can answer some requests itself."""

    def __init__(self, fetch, answer=lambda request, lists: None):
        self.fetch, self.answer = fetch, answer
        self.lists: list[dict[str, list[str]]] = []
        self.heads: list[str] = []
        self.gets: list[str] = []
        self.seen: list[HttpRequest] = []
        self.requests = 0

    async def __call__(self, request):
        self.requests += 1
        self.seen.append(request)
        query = parse_qs(urlsplit(request.url).query, keep_blank_values=True)
        if request.method == "GET" and "list-type" in query:
            self.lists.append(query)
            answered = self.answer(request, len(self.lists))
            if answered is not None:
                return answered
        elif request.method == "GET":
            self.gets.append(urlsplit(request.url).path)
        if request.method == "HEAD":
            self.heads.append(urlsplit(request.url).path)
        return await self.fetch(request)

    def page_gets(self):
        """GETs of index pages, as ``whl/…/index.html`` (path-style URLs name the bucket)."""
        return sorted(path.split("/", 2)[2] for path in self.gets if path.endswith("/index.html"))


class Run:
    def __init__(self, moto_s3, name, fetch, **config):
        self.main, self.mirror, self.state = MemoryBucket(), MemoryBucket(), MemoryBucket()
        self.moto_s3, self.name, self.fetch = moto_s3, name, fetch
        self.config = {"nightly_keep": 2, "warn_after": (), **config}

    def builder(self, fetch=None, page_size=1000, **config):
        """A builder whose S3 requests are counted by :attr:`budget`, as in the Worker."""
        settings = BuildConfig(**{**self.config, **config})
        self.budget = Budget(SystemClock(), settings.limits, quiet)
        client = S3Client(
            self.budget.fetch(fetch or self.fetch),
            region=self.moto_s3.region,
            endpoint=self.moto_s3.endpoint,
            credentials=self.moto_s3.credentials,
            sleep=no_wait,
        )
        return IndexBuilder(
            S3Source(client, self.name, page_size=page_size),
            [self.main, self.mirror],
            self.state,
            config=settings,
            log=quiet,
        )

    def page(self, key):
        return self.main.objects[key].body.decode()


@pytest.fixture
async def fetch():
    async with httpx_fetch() as fetch:
        yield fetch


async def test_every_page_of_the_pytorch_bucket_matches_the_golden_tree(moto_s3, pytorch, fetch):
    """Items 1, 2, 4, 5, 7, 9 and 10 at once: the goldens hold their pages."""
    run = Run(moto_s3, pytorch, fetch)
    report = await run.builder().run()
    assert report.status == "ok", report.to_dict()
    manifest = json.loads((GOLDEN / "manifest.json").read_text())
    assert sorted(run.main.objects) == sorted(manifest)
    for key, stored in run.main.objects.items():
        golden = (GOLDEN / "pages" / key).read_bytes()
        # moto stamps LastModified at upload; the golden tree was built at a fixed time
        assert UPLOAD_TIME.sub(rb"\1T", stored.body) == UPLOAD_TIME.sub(rb"\1T", golden), key
        assert stored.content_type == manifest[key]["content_type"], key
        assert stored.cache_control == manifest[key]["cache_control"], key
    assert {k: o.body for k, o in run.mirror.objects.items()} == {
        k: o.body for k, o in run.main.objects.items()
    }


async def test_item_1_accelerator_directories_by_prefix_match_and_skipped_ones_named(
    moto_s3, pytorch, fetch
):
    run = Run(moto_s3, pytorch, fetch)
    whl = (await run.builder().run()).prefixes[0]
    assert "torch-2.6.0+rocm6.2.4" in run.page("whl/rocm6.2.4/torch/index.html")
    assert whl.skipped_directories == [
        "whl/cu121/nested",
        "whl/cu121/xformers",  # a page, but without external links (item 3)
        "whl/cpu-cxx11-abi",
        "whl/cu121_pypi_cudnn",
    ]
    assert "whl/cu121/nested/index.html" not in run.main.objects


async def test_item_1_libtorch_names_the_nested_directories_it_does_not_index(
    moto_s3, pytorch, fetch
):
    run = Run(moto_s3, pytorch, fetch, prefixes=("libtorch", "libtorch/nightly"))
    libtorch = (await run.builder().run()).prefixes[0]
    assert libtorch.status == "ok"
    assert libtorch.skipped_directories == ["libtorch/cpu/old"]
    listing = run.page("libtorch/cpu/index.html")
    assert "2.5.1%2Bcpu.zip" in listing and "2.0.0" not in listing
    assert "libtorch/cpu/old/index.html" not in run.main.objects


async def test_item_1_public_status_names_every_skipped_directory(moto_s3, pytorch, fetch):
    """``GET /status`` without a token: skipped directories are names a reader of the index
    sees anyway, and they are shown to anyone."""
    service = IndexService(
        service_env(moto_s3, pytorch, INDEX_PREFIXES="whl,libtorch,libtorch/nightly"),
        fetch=fetch,
        destinations=[MemoryBucket(), MemoryBucket()],
        state=MemoryBucket(),
        log=quiet,
    )
    await service.run()
    response = await service.handle(HttpRequest("GET", "https://index.example/status"))
    assert response.status == 200
    status = json.loads(response.body)
    assert "source" not in status  # the public view
    skipped = {p["prefix"]: p["skipped_directories"] for p in status["prefixes"]}
    assert skipped == {
        "whl": [
            "whl/cu121/nested",
            "whl/cu121/xformers",
            "whl/cpu-cxx11-abi",
            "whl/cu121_pypi_cudnn",
            # other prefixes of the bucket, not configured here
            "whl/nightly",
            "whl/preview",
            "whl/test",
            "whl/variant",
        ],
        "libtorch": ["libtorch/cpu/old"],
        "libtorch/nightly": [],
    }


async def test_item_2_variant_wheels_and_their_manifest_are_listed(moto_s3, pytorch, fetch):
    run = Run(moto_s3, pytorch, fetch, prefixes=("whl/variant", "whl/test/variant"))
    await run.builder().run()
    page = run.page("whl/variant/torch/index.html")
    assert "torch-2.9.0-cp312-cp312-manylinux_2_28_x86_64-cu128.whl</a>" in page
    assert "torch-2.9.0-variants.json</a>" in page
    assert "-cu126.whl</a>" in run.page("whl/test/variant/torch/index.html")


async def test_item_3_a_page_with_external_links_is_never_overwritten_and_is_listed(
    moto_s3, pytorch, fetch
):
    run = Run(moto_s3, pytorch, fetch, prefixes=("whl",))
    foreign = (
        b'<a href="https://files.pythonhosted.org/packages/nvidia_cudnn_cu12-9.1.0.70-py3-none-'
        b'manylinux2014_x86_64.whl">nvidia_cudnn_cu12-9.1.0.70-py3-none-manylinux2014_x86_64.whl'
        b"</a>"
    )
    nccl = b'<a href="https://pypi.nvidia.com/nvidia-nccl-cu12/x.whl">x.whl</a>'
    await run.main.put("whl/cu121/nvidia-cudnn-cu12/index.html", foreign)
    await run.main.put("whl/cu121/nvidia-nccl-cu12/index.html", nccl)
    report = (await run.builder().run()).prefixes[0]
    assert run.main.objects["whl/cu121/nvidia-cudnn-cu12/index.html"].body == foreign
    assert report.index_only == ["whl/cu121/nvidia-nccl-cu12"]
    listing = run.page("whl/cu121/index.html")
    assert 'href="nvidia-cudnn-cu12/"' in listing and 'href="nvidia-nccl-cu12/"' in listing


async def test_item_3_an_index_only_page_in_the_source_is_published_as_it_is(
    moto_s3, pytorch, fetch
):
    """PyTorch keeps its mirrored dependency pages in the source bucket, beside the wheels."""
    recorder = Recorder(fetch)
    run = Run(moto_s3, pytorch, fetch, prefixes=("whl",))
    report = await run.builder(recorder).run(run.budget)
    whl = report.prefixes[0]
    for bucket in (run.main, run.mirror):  # over the page our own cudnn wheel would give
        assert bucket.objects[bucket_layout.CUDNN_PAGE].body == bucket_layout.CUDNN_PAGE_BODY
    assert "whl/cu121/nvidia-cudnn-cu12/index.json" not in run.main.objects
    listing = run.page("whl/cu121/index.html")
    assert 'href="nvidia-cudnn-cu12/"' in listing and 'href="xformers/"' not in listing
    assert bucket_layout.STALE_PAGE not in run.main.objects
    assert "whl/cu121/nested" in whl.skipped_directories
    assert "whl/cu121/nvidia-cudnn-cu12" not in whl.skipped_directories
    assert whl.pages_mirrored == 1 and whl.index_only == []
    # One GET per sub-directory named like a project of whl/cu121 and of the root (where the
    # prefixes not configured here are sub-directories like any other), counted in the budget.
    cu121 = [
        "whl/cu121/nested/index.html",
        bucket_layout.CUDNN_PAGE,
        bucket_layout.GENERATOR_PAGE,
        bucket_layout.STALE_PAGE,
    ]
    root = [f"whl/{name}/index.html" for name in ("nightly", "preview", "test", "variant")]
    read = sorted([*cu121, *root, "whl/cpu-cxx11-abi/index.html"])
    assert recorder.page_gets() == read and whl.page_reads == len(read)
    calls = sum(len(b.calls) for b in (run.main, run.mirror, run.state))
    assert run.budget.subrequests == recorder.requests + calls

    steady = Recorder(fetch)
    report = await run.builder(steady).run()
    assert steady.page_gets() == [] and steady.heads == []
    assert sum(p.pages_written for p in report.prefixes) == 0

    new_wheel = "whl/cu121/torch-2.5.0+cu121-cp311-cp311-linux_x86_64.whl"
    newer = bucket_layout.CUDNN_PAGE_BODY.replace(b"9.1.0.70", b"9.1.0.77")
    moto_s3.boto.put_object(Bucket=pytorch, Key=new_wheel, Body=b"new", ChecksumAlgorithm="SHA256")
    moto_s3.boto.put_object(Bucket=pytorch, Key=bucket_layout.CUDNN_PAGE, Body=newer)
    try:
        changed = Recorder(fetch)
        await run.builder(changed).run()
        assert changed.page_gets() == sorted(cu121)  # whl/cu121's, not the root's
        assert run.main.objects[bucket_layout.CUDNN_PAGE].body == newer
        assert run.mirror.objects[bucket_layout.CUDNN_PAGE].body == newer
    finally:
        moto_s3.boto.delete_object(Bucket=pytorch, Key=new_wheel)
        moto_s3.boto.put_object(
            Bucket=pytorch, Key=bucket_layout.CUDNN_PAGE, Body=bucket_layout.CUDNN_PAGE_BODY
        )


async def test_item_3_the_generators_own_pages_give_way_to_ours_and_mirrors_stay(
    moto_s3, pytorch, fetch
):
    """The reference's own torch page, beside the wheels and copied into the main bucket,
    links files of this bucket through download-r2.pytorch.org and predates the newest wheel:
    ours replaces it. With the same default settings a page linking to files.pythonhosted.org
    is still published as the source holds it, one someone wrote into the main bucket is still
    kept, and both projects are listed."""
    run = Run(moto_s3, pytorch, fetch, prefixes=("whl",))
    nccl_key = "whl/cu121/nvidia-nccl-cu12/index.html"
    nccl = (
        b'<a href="https://files.pythonhosted.org/packages/nvidia_nccl_cu12-2.21.5-py3-none-'
        b'manylinux2014_x86_64.whl">nvidia_nccl_cu12-2.21.5-py3-none-manylinux2014_x86_64.whl</a>'
    )
    await run.main.put(bucket_layout.GENERATOR_PAGE, bucket_layout.GENERATOR_PAGE_BODY)
    await run.main.put(nccl_key, nccl)
    report = (await run.builder().run()).prefixes[0]
    golden = (GOLDEN / "pages" / bucket_layout.GENERATOR_PAGE).read_bytes()
    for bucket in (run.main, run.mirror):
        page = bucket.objects[bucket_layout.GENERATOR_PAGE].body
        assert UPLOAD_TIME.sub(rb"\1T", page) == UPLOAD_TIME.sub(rb"\1T", golden)
        assert b">torch-2.5.1+cu121-cp311-cp311-linux_x86_64.whl</a>" in page
        assert b"download-r2.pytorch.org" not in page
        assert bucket.objects[bucket_layout.CUDNN_PAGE].body == bucket_layout.CUDNN_PAGE_BODY
    assert run.main.objects[nccl_key].body == nccl
    listing = run.page("whl/cu121/index.html")
    for project in ("nvidia-cudnn-cu12", "nvidia-nccl-cu12", "torch"):
        assert f'href="{project}/"' in listing
    assert report.pages_mirrored == 1  # cudnn's; torch's page is ours
    assert report.index_only == ["whl/cu121/nvidia-nccl-cu12"]
    assert "whl/cu121/torch" not in report.skipped_directories


async def test_item_4_the_allow_list_scope_is_a_setting(moto_s3, pytorch, fetch):
    run = Run(moto_s3, pytorch, fetch, prefixes=("whl", "whl/test"))
    report = await run.builder().run()
    assert "whl/notallowed/index.html" not in run.main.objects
    assert "whl/test/notallowed/index.html" not in run.main.objects
    assert [p.hidden for p in report.prefixes] == [1, 1]
    everything = Run(moto_s3, pytorch, fetch, prefixes=("whl",), allow_list_prefixes=frozenset())
    await everything.builder().run()
    assert "notallowed-1.0-py3-none-any.whl" in everything.page("whl/notallowed/index.html")


async def test_item_5_source_tarballs_are_indexed(moto_s3, pytorch, fetch):
    run = Run(moto_s3, pytorch, fetch, prefixes=("source_code/test",))
    await run.builder().run()
    page = run.page("source_code/test/torch/index.html")
    tarball = next(seed.body for seed in SEEDS if seed.key == bucket_layout.SOURCE_TARBALL)
    assert f"/source_code/test/torch-2.9.0.tar.gz#sha256={sha(tarball)}" in page


async def test_item_6_a_checksum_added_by_copying_in_place_reaches_the_page(
    moto_s3, pytorch, fetch
):
    """typing_extensions was uploaded without a checksum; PyTorch's ``--set-checksum`` copies it
    onto itself with ``x-amz-meta-checksum-sha256``, which keeps the ETag and moves
    LastModified. The next run HEADs that one file again, and its page gains the hash."""
    key = bucket_layout.TYPING_EXTENSIONS
    body = next(seed.body for seed in SEEDS if seed.key == key)
    run = Run(moto_s3, pytorch, fetch, prefixes=("whl",))
    await run.builder().run()
    assert "#sha256=" not in run.page("whl/typing-extensions/index.html")
    before = moto_s3.boto.head_object(Bucket=pytorch, Key=key)
    try:
        copy_in_place(moto_s3, pytorch, key, before, {"checksum-sha256": sha(body)})
        after = moto_s3.boto.head_object(Bucket=pytorch, Key=key)
        assert after["ETag"] == before["ETag"] and after["LastModified"] > before["LastModified"]
        recorder = Recorder(fetch)
        await run.builder(recorder).run()
        assert f"#sha256={sha(body)}" in run.page("whl/typing-extensions/index.html")
        assert recorder.heads == [f"/{pytorch}/{key}"]
    finally:  # as uploaded: no checksum (the other tests' pages expect none)
        copy_in_place(moto_s3, pytorch, key, moto_s3.boto.head_object(Bucket=pytorch, Key=key), {})


def copy_in_place(moto_s3, bucket, key, head, metadata):
    """The object copied onto itself with new metadata, as PyTorch's ``--set-checksum`` does.
    S3 dates objects to the second: the copy must land in a later one than ``head``'s, as it
    does on a real bucket where checksums are added hours after the upload."""
    time.sleep(max(0.0, head["LastModified"].timestamp() + 1.05 - time.time()))
    moto_s3.boto.copy_object(
        Bucket=bucket,
        Key=key,
        CopySource={"Bucket": bucket, "Key": key},
        Metadata=metadata,
        MetadataDirective="REPLACE",
    )


async def test_item_7_requires_python_overrides_and_sidecars(moto_s3, pytorch, fetch):
    run = Run(moto_s3, pytorch, fetch, prefixes=("whl",))
    await run.builder().run()
    page = run.page("whl/networkx/index.html")
    assert re.search(
        r'networkx-3\.3-py3-none-any\.whl#sha256=\w+" data-requires-python="&gt;=3\.10"', page
    )
    assert 'data-requires-python="&gt;=3.9"' in page  # 3.2.1's own sidecar


async def test_item_8_file_base_url(moto_s3, pytorch, fetch):
    run = Run(moto_s3, pytorch, fetch, prefixes=("whl",), file_base_url="https://files.example.org")
    await run.builder().run()
    assert 'href="https://files.example.org/whl/cpu/torch-2.5.1%2Bcpu' in run.page(
        "whl/cpu/torch/index.html"
    )


async def test_item_9_keys_whose_names_need_escaping_are_refused(moto_s3, pytorch, fetch):
    run = Run(moto_s3, pytorch, fetch, prefixes=("whl",))
    report = (await run.builder().run()).prefixes[0]
    assert sorted(report.rejected) == sorted(
        [
            bucket_layout.QUERY_KEY,
            bucket_layout.SPACE_KEY,
            "whl/cu121/torch-latest-cp311-cp311-linux_x86_64.whl",  # no PEP 440 version
        ]
    )
    page = run.page("whl/cu121/torch/index.html")
    # one link, to the object that was hashed, its "+" percent-encoded
    assert page.count("<a ") == 1
    assert 'href="/whl/cu121/torch-2.5.1%2Bcu121-cp311-cp311-linux_x86_64.whl#sha256=' in page


async def test_item_10_cache_control_by_path_segment(moto_s3, pytorch, fetch):
    run = Run(moto_s3, pytorch, fetch, prefixes=("whl", "whl/test", "whl/preview/forge"))
    await run.builder().run()
    assert run.main.objects["whl/index.html"].cache_control.startswith("max-age=600")
    for key in ("whl/test/index.html", "whl/preview/forge/torch/index.html"):
        assert run.main.objects[key].cache_control == "no-cache,no-store,must-revalidate"


async def test_item_11_run_state_stays_out_of_the_public_buckets(moto_s3, pytorch, fetch):
    run = Run(moto_s3, pytorch, fetch)
    await run.builder().run()
    for public in (run.main, run.mirror):
        assert all(k.endswith(("/index.html", "/index.json")) for k in public.objects)
    assert "status/@run.json" in run.state.objects


def iam_action(request: HttpRequest) -> str:
    """The IAM action AWS (and moto) checks an S3 request against."""
    query = parse_qs(urlsplit(request.url).query, keep_blank_values=True)
    if request.method == "GET" and "list-type" in query:
        return "s3:ListBucket"
    if request.method in ("GET", "HEAD") and urlsplit(request.url).path.count("/") >= 2:
        return "s3:GetObject"
    return f"{request.method} {request.url}"


def is_assume_role(request: HttpRequest) -> bool:
    return request.method == "POST" and b"Action=AssumeRole" in request.body


async def test_item_12_an_assumed_role_signs_every_request(moto_s3, pytorch, fetch):
    """The Worker's key belongs to a user allowed nothing but ``sts:AssumeRole`` (moto enforces
    IAM policies): it signs one AssumeRole call, and every S3 request is signed by the role's
    temporary key with its session token. The role's permissions are the shipped
    ``docs/iam-policy.json``: a full build needs every action it grants, and no other."""
    base = moto_s3.index_credentials
    env = {
        "SOURCE_S3_BUCKET": pytorch,
        "SOURCE_S3_REGION": moto_s3.region,
        "S3_ENDPOINT_URL": moto_s3.endpoint,
        "STS_ENDPOINT_URL": moto_s3.endpoint,
        "AWS_ROLE_ARN": moto_s3.index_role(pytorch),
        "S3_ACCESS_KEY_ID": base.access_key_id,
        "S3_SECRET_ACCESS_KEY": base.secret_access_key,
        "INDEX_PREFIXES": "whl,whl/nightly,libtorch",
    }
    recorder = Recorder(fetch)
    main = MemoryBucket()
    report = await IndexService(
        env, fetch=recorder, destinations=[main], state=MemoryBucket(), log=quiet
    ).run()
    assert report.status == "ok", report.to_dict()
    assert "whl/cu121/torch/index.html" in main.objects
    assert "libtorch/cpu/index.html" in main.objects

    assumed = [r for r in recorder.seen if is_assume_role(r)]
    s3 = [r for r in recorder.seen if not is_assume_role(r)]
    assert (
        len(assumed) == 1
        and f"Credential={base.access_key_id}/" in assumed[0].headers["authorization"]
    )
    assert len(s3) > 20
    assert all("x-amz-security-token" in r.headers for r in s3)
    assert not any(base.access_key_id in r.headers["authorization"] for r in s3)
    policy = json.loads(IAM_POLICY.read_text())
    granted = {statement["Action"] for statement in policy["Statement"]}
    assert {iam_action(r) for r in s3} == granted == {"s3:ListBucket", "s3:GetObject"}


async def test_item_13_prefixes_are_listed_one_level_at_a_time(moto_s3, pytorch, fetch):
    recorder = Recorder(fetch)
    run = Run(moto_s3, pytorch, fetch, prefixes=("whl",))
    report = await run.builder(recorder).run(run.budget)
    listed = sorted(query["prefix"][0] for query in recorder.lists)
    assert all(query["delimiter"] == ["/"] for query in recorder.lists)
    assert listed == [
        "whl/",
        "whl/cpu/",
        "whl/cu121/",
        "whl/cu130/",
        "whl/rocm6.2.4/",
        "whl/rocm6.2/",
        "whl/xpu/",
    ]
    assert report.list_calls == len(recorder.lists) == report.prefixes[0].list_calls


async def test_pages_carry_every_checksum_variant(moto_s3, fetch):
    name = moto_s3.new_bucket("checksums")
    boto = moto_s3.boto
    native = "whl/cu126/torch-2.6.0+cu126-cp311-cp311-linux_x86_64.whl"
    boto.put_object(Bucket=name, Key=native, Body=b"native", ChecksumAlgorithm="SHA256")
    boto.put_object(
        Bucket=name,
        Key=native + ".metadata",
        Body=core_metadata("torch", "2.6.0+cu126", ">=3.9"),
        ChecksumAlgorithm="SHA256",
    )
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
    run = Run(moto_s3, name, fetch, prefixes=("whl",))
    await run.builder().run()
    cu126 = run.page("whl/cu126/torch/index.html")
    assert f"#sha256={sha(b'native')}" in cu126
    assert 'data-requires-python="&gt;=3.9"' in cu126
    assert f"#sha256={sha(body)}" in run.page("whl/cu126/triton/index.html")  # never the composite


async def test_a_steady_state_run_sends_no_head_and_lists_no_destination(moto_s3, pytorch, fetch):
    run = Run(moto_s3, pytorch, fetch)
    await run.builder().run()
    recorder = Recorder(fetch)
    for bucket in (run.main, run.mirror):
        bucket.calls.clear()
    report = await run.builder(recorder).run()
    assert recorder.heads == []
    assert sum(p.pages_written for p in report.prefixes) == 0
    assert run.main.calls == [] and run.mirror.calls == []


async def test_a_500_in_the_middle_of_a_listing_is_retried(moto_s3, pytorch, fetch):
    run = Run(moto_s3, pytorch, fetch, prefixes=("whl/nightly",))
    error = HttpResponse(500, {}, b"<Error><Code>InternalError</Code></Error>")
    recorder = Recorder(fetch, answer=lambda request, count: error if count == 3 else None)
    report = await run.builder(recorder, page_size=2).run()
    assert report.status == "ok"
    # the two newest nightly versions are kept; cpu holds two files of the newer one
    assert run.page("whl/nightly/cpu/torch/index.html").count("<a ") == 2


async def test_a_listing_that_keeps_failing_publishes_nothing_for_its_prefix(
    moto_s3, pytorch, fetch
):
    run = Run(moto_s3, pytorch, fetch, prefixes=("whl", "whl/nightly"))
    await run.builder().run()
    before = {k: o.body for k, o in run.main.objects.items()}
    moto_s3.boto.put_object(
        Bucket=pytorch, Body=b"new", Key=bucket_layout.nightly("20250105", "cpu")
    )
    error = HttpResponse(500, {}, b"<Error><Code>InternalError</Code></Error>")
    failing = Recorder(fetch, answer=lambda r, n: error if "continuation-token" in r.url else None)
    report = await run.builder(failing, page_size=2).run()
    try:
        assert [p.status for p in report.prefixes] == ["failed", "failed"]
        assert "InternalError" in report.prefixes[1].error
        assert {k: o.body for k, o in run.main.objects.items()} == before
    finally:
        moto_s3.boto.delete_object(Bucket=pytorch, Key=bucket_layout.nightly("20250105", "cpu"))


async def test_a_listing_nested_thousands_deep_fails_its_prefix_and_publishes_nothing(
    moto_s3, pytorch, fetch
):
    """Issue 12.2: 5,000 nested elements crashed Pyodide; the depth is bounded first."""
    nested = b"<ListBucketResult>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</ListBucketResult>"
    hostile = HttpResponse(200, {"content-type": "application/xml"}, nested)
    recorder = Recorder(fetch, answer=lambda request, count: hostile if count == 1 else None)
    run = Run(moto_s3, pytorch, fetch, prefixes=("whl/test", "libtorch"))
    report = await run.builder(recorder).run()
    assert [p.status for p in report.prefixes] == ["failed", "ok"]
    assert "MalformedResponse" in report.prefixes[0].error
    assert not any(k.startswith("whl/") for k in run.main.objects)


def service_env(moto_s3, name, **overrides):
    return {
        "SOURCE_S3_BUCKET": name,
        "SOURCE_S3_REGION": moto_s3.region,
        "S3_ENDPOINT_URL": moto_s3.endpoint,
        "S3_ACCESS_KEY_ID": moto_s3.credentials.access_key_id,
        "S3_SECRET_ACCESS_KEY": moto_s3.credentials.secret_access_key,
        "INDEX_PREFIXES": "whl,libtorch",
        **overrides,
    }


async def test_the_worker_service_runs_against_s3_with_its_configuration(moto_s3, pytorch, fetch):
    main, mirror = MemoryBucket(), MemoryBucket()
    report = await IndexService(
        service_env(moto_s3, pytorch),
        fetch=fetch,
        destinations=[main, mirror],
        state=MemoryBucket(),
        log=quiet,
    ).run()
    assert report.status == "ok"
    assert (
        "whl/cu121/torch/index.json" in main.objects and "libtorch/cpu/index.html" in mirror.objects
    )


async def test_a_wrong_secret_fails_every_prefix_raises_and_publishes_nothing(
    moto_s3, pytorch, fetch
):
    main, state = MemoryBucket(), MemoryBucket()
    service = IndexService(
        service_env(moto_s3, pytorch, S3_SECRET_ACCESS_KEY="wrong"),
        fetch=fetch,
        destinations=[main, MemoryBucket()],
        state=state,
        log=quiet,
    )
    with pytest.raises(
        IndexRunFailed, match=r"2 of 2 prefixes failed: whl: .*SignatureDoesNotMatch"
    ):
        await service.scheduled_run()
    assert main.objects == {}
    assert json.loads(state.objects["status/whl.json"].body)["status"] == "failed"
