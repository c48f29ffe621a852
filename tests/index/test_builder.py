"""An index run end to end over an in-memory source, two public buckets and a private state
bucket: what is published, what is kept private, what a steady-state run skips, and how
budgets defer work to the next run."""

import asyncio
import hashlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flaresuite.index.builder import BuildConfig, IndexBuilder
from flaresuite.stores.memory import MemoryBucket

from .conftest import FakeSource, StepClock, core_metadata

TORCH = "whl/cu121/torch-2.5.1+cu121-cp311-cp311-linux_x86_64.whl"
TORCH_CPU = "whl/cpu/torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl"
FILELOCK = "whl/filelock-3.16.1-py3-none-any.whl"
NIGHTLY = "whl/nightly/cpu/torch-2.7.0.dev20250101+cpu-cp311-cp311-linux_x86_64.whl"
LIBTORCH = "libtorch/cu121/libtorch-shared-with-deps-2.5.1+cu121.zip"


def quiet(*args, **fields):
    return None


def config(**overrides):
    base = dict(prefixes=("whl", "whl/nightly", "libtorch"), warn_after=(), concurrency=4)
    return BuildConfig(**{**base, **overrides})


class Buckets:
    def __init__(self):
        self.main, self.mirror, self.state = MemoryBucket(), MemoryBucket(), MemoryBucket()

    def builder(self, source, clock=None, log=quiet, **overrides):
        return IndexBuilder(
            source,
            [self.main, self.mirror],
            self.state,
            config=config(**overrides),
            clock=clock,
            log=log,
        )

    def clear_calls(self):
        for bucket in (self.main, self.mirror, self.state):
            bucket.calls.clear()

    def pages(self, bucket=None):
        return {k: o.body for k, o in (bucket or self.main).objects.items()}


@pytest.fixture
def buckets():
    return Buckets()


@pytest.fixture
def seeded(source):
    source.add(TORCH)
    source.add(TORCH + ".metadata", core_metadata("torch", "2.5.1+cu121", ">=3.9"))
    source.add(TORCH_CPU, sha256=None)
    source.add(FILELOCK)
    source.add(NIGHTLY)
    source.add(NIGHTLY + ".metadata", core_metadata("torch", "2.7.0.dev20250101", ">=3.10"))
    source.add(LIBTORCH)
    return source


async def test_a_run_publishes_identical_pages_to_both_public_buckets(seeded, buckets):
    report = await buckets.builder(seeded).run()
    assert report.status == "ok"
    assert buckets.pages() == buckets.pages(buckets.mirror)
    page = buckets.main.objects["whl/cu121/torch/index.html"]
    assert page.content_type == "text/html; charset=utf-8"
    assert page.cache_control == "max-age=600, public, must-revalidate"
    body = page.body.decode()
    assert "#sha256=" + hashlib.sha256(TORCH.encode()).hexdigest() in body
    sidecar_sha = hashlib.sha256(seeded.bodies[TORCH + ".metadata"]).hexdigest()
    assert f'data-core-metadata="sha256={sidecar_sha}"' in body
    assert 'data-requires-python="&gt;=3.9"' in body
    assert "#sha256=" not in buckets.main.objects["whl/cpu/torch/index.html"].body.decode()
    nightly = buckets.main.objects["whl/nightly/cpu/torch/index.html"]
    assert nightly.cache_control == "no-cache,no-store,must-revalidate"
    assert "#sha256=" not in nightly.body.decode()
    assert buckets.main.objects["whl/cu121/torch/index.json"].content_type == (
        "application/vnd.pypi.simple.v1+json"
    )
    assert "libtorch/cu121/index.html" in buckets.main.objects


async def test_public_buckets_hold_pages_only_and_run_state_stays_private(seeded, buckets):
    await buckets.builder(seeded).run()
    for bucket in (buckets.main, buckets.mirror):
        assert all(key.endswith(("/index.html", "/index.json")) for key in bucket.objects)
    assert "status/@run.json" in buckets.state.objects
    assert "index/whl/cu121/@dir.json.gz" in buckets.state.objects


async def test_nightly_wheels_are_not_headed_because_their_pages_show_no_hash(seeded, buckets):
    await buckets.builder(seeded).run()
    assert NIGHTLY not in seeded.heads
    assert NIGHTLY + ".metadata" in seeded.reads
    assert LIBTORCH not in seeded.heads  # libtorch listings need no metadata at all


async def test_each_directory_is_listed_on_its_own_and_never_another_prefixs(seeded, buckets):
    seeded.add("whl/test/cu126/torch-2.6.0+cu126-cp311-cp311-linux_x86_64.whl")
    report = await buckets.builder(seeded).run()
    # whl/nightly's directories are listed twice: once to decide retention across the
    # prefix, once to build each directory.
    assert sorted(seeded.listed) == sorted(
        [
            "whl",
            "whl/cpu",
            "whl/cu121",
            "whl/nightly",
            "whl/nightly/cpu",
            "whl/nightly/cpu",
            "libtorch",
            "libtorch/cu121",
        ]
    )
    # whl/test is not a configured prefix here, so whl skips it, and says so
    assert [p.skipped_directories for p in report.prefixes] == [["whl/test"], [], []]


async def test_a_steady_state_run_skips_every_directory_and_writes_no_page(seeded, buckets):
    builder = buckets.builder(seeded)
    await builder.run()
    seeded.heads.clear(), seeded.reads.clear()
    buckets.clear_calls()
    report = await builder.run()
    assert seeded.heads == [] and seeded.reads == []
    assert buckets.main.calls == [] and buckets.mirror.calls == []  # not even listed
    state_writes = [key for call, key in buckets.state.calls if call == "put"]
    assert all(key.startswith("status/") for key in state_writes)
    assert sum(p.pages_written for p in report.prefixes) == 0
    assert sum(p.directories_unchanged for p in report.prefixes) == 4
    assert [p.distributions for p in report.prefixes] == [3, 1, 1]


async def test_pages_the_reference_rewrites_beside_the_wheels_change_no_directory(seeded, buckets):
    """PyTorch's generator rewrites ``<dir>/index.html`` every hour, with a fresh timestamp, in
    the bucket that holds the wheels; no page of ours is built from it."""
    builder = buckets.builder(seeded)
    await builder.run()
    for directory in ("whl", "whl/cu121", "whl/nightly/cpu"):
        seeded.add(f"{directory}/index.html", b"<!--TIMESTAMP 1735900000-->")
    report = await builder.run()
    assert sum(p.directories_built for p in report.prefixes) == 0
    assert sum(p.directories_unchanged for p in report.prefixes) == 4


async def test_only_a_replaced_object_is_headed_and_only_its_pages_rewritten(seeded, buckets):
    builder = buckets.builder(seeded)
    await builder.run()
    seeded.heads.clear()
    seeded.replace(FILELOCK, b"rebuilt wheel")
    report = await builder.run()
    assert seeded.heads == [FILELOCK]
    whl = report.prefixes[0]
    # filelock sits at the prefix root, so its page in whl/, whl/cpu/ and whl/cu121/ changes:
    # 3 directories x (HTML + JSON). Project lists are unchanged.
    assert whl.pages_written == 6


async def test_a_run_that_rewrites_the_root_pages_reads_the_roots_state_once(seeded, buckets):
    builder = buckets.builder(seeded)
    await builder.run()
    buckets.clear_calls()
    seeded.replace(FILELOCK, b"rebuilt wheel")
    report = await builder.run()
    assert report.prefixes[0].pages_written == 6  # the root's pages among them
    gets = [key for call, key in buckets.state.calls if call == "get"]
    assert gets.count("index/whl/@dir.json.gz") == 1


async def test_a_checksum_added_by_copying_an_object_onto_itself_reaches_the_page(buckets):
    source = FakeSource()
    source.add(FILELOCK, sha256=None)
    builder = buckets.builder(source, prefixes=("whl",))
    await builder.run()
    assert "#sha256=" not in buckets.main.objects["whl/filelock/index.html"].body.decode()
    # PyTorch's --set-checksum: copy onto itself with x-amz-meta-checksum-sha256. The ETag
    # stays, LastModified moves.
    source.checksums[FILELOCK] = hashlib.sha256(source.bodies[FILELOCK]).hexdigest()
    source.touch(FILELOCK, datetime(2025, 2, 1, tzinfo=UTC))
    await builder.run()
    page = buckets.main.objects["whl/filelock/index.html"].body.decode()
    assert "#sha256=" + source.checksums[FILELOCK] in page
    assert 'data-upload-time="2025-02-01T00:00:00Z"' in page


async def test_a_failed_listing_publishes_nothing_for_its_prefix(seeded, buckets):
    builder = buckets.builder(seeded)
    await builder.run()
    before = buckets.pages()
    seeded.add("whl/cu121/torch-2.6.0+cu121-cp311-cp311-linux_x86_64.whl")
    seeded.fail_listing = {"whl/cu121"}
    report = await builder.run()
    assert [p.status for p in report.prefixes] == ["failed", "ok", "ok"]
    assert "listing interrupted" in report.prefixes[0].error
    assert report.status == "partial"
    assert buckets.pages() == before


async def test_an_empty_listing_never_empties_a_published_index(seeded, buckets):
    builder = buckets.builder(seeded)
    await builder.run()
    before = buckets.pages()
    seeded.bodies.clear()
    report = await builder.run()
    assert {p.status for p in report.prefixes} == {"empty"}
    assert buckets.pages() == before


async def test_past_the_time_budget_metadata_stops_and_the_next_run_resumes(buckets):
    source = FakeSource()
    for minor in range(1, 31):
        source.add(f"whl/cpu/torch-2.{minor}.0+cpu-cp311-cp311-linux_x86_64.whl")
    events = []
    builder = buckets.builder(
        source,
        clock=StepClock(0.5),
        log=lambda event, **fields: events.append((event, fields)),
        prefixes=("whl",),
        concurrency=1,
        warn_after=(5.0, 10.0),
        stop_metadata_after=10.0,
    )
    first = (await builder.run()).prefixes[0]
    assert first.status == "deferred" and first.deferred_directories == ["whl/cpu"]
    assert 0 < first.heads < 30 and first.heads + first.metadata_pending == 30
    assert buckets.pages() == {} and buckets.pages(buckets.mirror) == {}
    assert [f["threshold"] for e, f in events if e == "index.budget_warning"] == [5.0, 10.0]
    source.heads.clear()
    builder.clock = StepClock(0.0)
    second = (await builder.run()).prefixes[0]
    assert second.status == "ok"
    assert len(source.heads) == first.metadata_pending  # nothing fetched twice
    assert "whl/cpu/torch/index.html" in buckets.main.objects


async def test_a_subrequest_budget_is_never_exceeded_and_runs_converge(buckets):
    source = FakeSource()
    for minor in range(1, 41):
        for accelerator in ("cpu", "cu126"):
            key = f"whl/{accelerator}/torch-2.{minor}.0+{accelerator}-cp311-cp311-linux_x86_64.whl"
            source.add(key)
            source.add(key + ".metadata", core_metadata("torch", f"2.{minor}.0", ">=3.9"))
    limit = 60
    builder = buckets.builder(source, prefixes=("whl",), max_subrequests=limit)
    metered = CountingSource(source)
    builder.source = metered
    runs = []
    for _ in range(10):
        before = sum(len(b.calls) for b in (buckets.main, buckets.mirror, buckets.state))
        metered.calls, metered.budget = 0, builder.budget()
        report = await builder.run(metered.budget)
        after = sum(len(b.calls) for b in (buckets.main, buckets.mirror, buckets.state))
        assert metered.calls + after - before <= limit  # what was really sent
        assert metered.budget.subrequests == metered.calls + after - before
        assert report.subrequests == metered.budget.subrequests - 1  # all but the run record
        runs.append(report.prefixes[0].status)
        if report.status == "ok":
            break
    assert runs[0] == "deferred" and runs[-1] == "ok" and len(runs) > 2
    cold = Buckets()
    await cold.builder(source, prefixes=("whl",)).run()
    assert buckets.pages() == cold.pages()


class CountingSource:
    """Spends a subrequest of the run's budget for each request an S3 source would send (one
    per listing of a small directory, HEAD and GET), as the Worker's metered fetch does."""

    def __init__(self, source):
        self.source = source
        self.calls = 0
        self.budget = None

    def _spend(self, listing=False):
        self.budget.spend(listing=listing)
        self.calls += 1

    async def list_directory(self, directory):
        self._spend(listing=True)
        async for entry in self.source.list_directory(directory):
            yield entry

    async def sha256(self, obj):
        self._spend()
        return await self.source.sha256(obj)

    async def read(self, obj):
        self._spend()
        return await self.source.read(obj)

    async def index_page(self, key):
        self._spend()
        return await self.source.index_page(key)


async def test_budget_warnings_are_logged_even_when_no_metadata_is_fetched(seeded, buckets):
    events = []
    builder = buckets.builder(
        seeded,
        clock=StepClock(0.0),
        log=lambda event, **fields: events.append((event, fields)),
        prefixes=("libtorch", "whl/nightly"),
        warn_after=(1.0, 2.0),
    )
    await builder.run()
    events.clear()
    builder.clock = StepClock(1.5)
    report = await builder.run()
    assert sum(p.heads + p.sidecar_reads for p in report.prefixes) == 0
    assert [f["threshold"] for e, f in events if e == "index.budget_warning"] == [1.0, 2.0]


async def test_a_failing_head_fails_the_prefix_but_keeps_what_was_learnt(seeded, buckets):
    seeded.fail_head = {TORCH_CPU}
    builder = buckets.builder(seeded, prefixes=("whl",), concurrency=1)
    report = (await builder.run()).prefixes[0]
    assert report.status == "failed" and "HEAD" in report.error
    assert "whl/cpu/torch/index.html" not in buckets.main.objects
    seeded.fail_head = set()
    seeded.heads.clear()
    await builder.run()
    assert TORCH_CPU in seeded.heads and FILELOCK not in seeded.heads


async def test_a_corrupt_state_object_is_discarded_and_rebuilt(seeded, buckets):
    await buckets.state.put("index/whl/@dir.json.gz", b"not gzip")
    events = []
    builder = buckets.builder(
        seeded, prefixes=("whl",), log=lambda event, **fields: events.append(event)
    )
    report = (await builder.run()).prefixes[0]
    assert report.status == "ok" and "index.state_discarded" in events


async def test_the_run_report_is_stored_per_prefix_for_the_status_endpoint(seeded, buckets):
    logged = []
    await buckets.builder(seeded, log=lambda event, **fields: logged.append((event, fields))).run()
    run = json.loads(buckets.state.objects["status/@run.json"].body)
    assert run["prefixes"] == ["whl", "whl/nightly", "libtorch"]
    assert run["subrequests"] > 0 and run["list_calls"] == 0  # in-memory source: no S3 calls
    whl = json.loads(buckets.state.objects["status/whl.json"].body)
    assert whl["status"] == "ok" and whl["distributions"] == 3
    per_prefix = [f for e, f in logged if e == "index.prefix"]
    assert {"objects", "heads", "pages_written", "subrequests", "seconds"} <= set(per_prefix[0])


async def test_a_file_name_no_format_allows_is_refused_and_reported(seeded, buckets):
    for key in (
        "whl/cpu/torch-latest-cp311-cp311-linux_x86_64.whl",
        "whl/cpu/x-1.0-py3-none-any.whl?.whl",
        "whl/cpu/x-1.0-py3-none-any#frag.whl",
        "whl/cpu/caf\u00e9-1.0-py3-none-any.whl",
        "whl/cpu/x y-1.0.tar.gz",
    ):
        seeded.add(key)
    logged = []
    builder = buckets.builder(
        seeded,
        prefixes=("whl",),
        log=lambda e, **f: logged.append((e, f)),
        allow_list_prefixes=frozenset(),
    )
    report = (await builder.run()).prefixes[0]
    assert report.status == "ok" and report.rejected_count == 5
    assert sum(1 for e, _ in logged if e == "index.rejected") == 5
    published = b"".join(buckets.pages().values())
    assert b"?.whl" not in published and b"#frag" not in published


async def test_skipped_directories_are_named_and_accelerator_names_are_matched_at_the_start(
    buckets,
):
    source = FakeSource()
    for directory in ("rocm6.2.4", "cu126", "cpu-cxx11-abi", "cu121_full", "weird", "cu126/old"):
        source.add(f"whl/{directory}/torch-2.6.0-cp311-cp311-linux_x86_64.whl")
    source.add("whl/nightly/cpu/torch-2.7.0.dev20250101-cp311-cp311-linux_x86_64.whl")
    source.add("whl/torch/index.html")  # a page directory in a bucket that also holds pages
    report = (await buckets.builder(source, prefixes=("whl", "whl/nightly")).run()).prefixes[0]
    assert report.directories == 2
    assert "whl/rocm6.2.4/torch/index.html" in buckets.main.objects
    assert report.skipped_directories == [
        "whl/cu126/old",
        "whl/cpu-cxx11-abi",
        "whl/cu121_full",
        "whl/weird",
    ]


async def test_a_page_someone_else_wrote_with_external_links_is_kept_and_listed(buckets):
    source = FakeSource()
    source.add("whl/cu121/torch-2.5.1+cu121-cp311-cp311-linux_x86_64.whl")
    source.add("whl/cu121/nvidia_cudnn_cu12-9.1.0.70-py3-none-manylinux2014_x86_64.whl")
    external = (
        b'<a href="https://files.pythonhosted.org/packages/nvidia_cudnn_cu12-9.1.0.70.whl">'
        b"nvidia_cudnn_cu12-9.1.0.70.whl</a>"
    )
    mirrored = b'<a href="https://pypi.nvidia.com/nvidia-nccl-cu12/x.whl">x.whl</a>'
    await buckets.main.put("whl/cu121/nvidia-cudnn-cu12/index.html", external)
    await buckets.main.put("whl/cu121/nvidia-nccl-cu12/index.html", mirrored)
    await buckets.main.put("whl/cu121/stale/index.html", b'<a href="/whl/cu121/s.whl">s</a>')
    builder = buckets.builder(source, prefixes=("whl",), allow_list_prefixes=frozenset())
    report = (await builder.run()).prefixes[0]
    assert buckets.main.objects["whl/cu121/nvidia-cudnn-cu12/index.html"].body == external
    assert "whl/cu121/nvidia-cudnn-cu12/index.json" not in buckets.main.objects
    listing = buckets.main.objects["whl/cu121/index.html"].body.decode()
    assert 'href="nvidia-cudnn-cu12/"' in listing and 'href="nvidia-nccl-cu12/"' in listing
    assert 'href="stale/"' not in listing  # no external links: not an index-only project
    assert report.index_only == ["whl/cu121/nvidia-nccl-cu12"]
    assert report.pages_foreign == 2
    gets = [key for call, key in buckets.main.calls if call == "get"]
    source.add("whl/cu121/torch-2.5.0+cu121-cp311-cp311-linux_x86_64.whl")
    await builder.run()  # the directory is built again, but each page is judged once per ETag
    assert [key for call, key in buckets.main.calls if call == "get"] == gets


CUDNN = "whl/cu121/nvidia_cudnn_cu12-9.1.0.70-py3-none-manylinux2014_x86_64.whl"
CUDNN_PAGE = "whl/cu121/nvidia-cudnn-cu12/index.html"
NCCL_PAGE = "whl/cu121/nvidia-nccl-cu12/index.html"
PYPI_CUDNN = (
    b'<a href="https://files.pythonhosted.org/packages/nvidia_cudnn_cu12-9.1.0.70-py3-none-'
    b'manylinux2014_x86_64.whl#sha256=aa">nvidia_cudnn_cu12-9.1.0.70.whl</a><br/>'
)
NVIDIA_NCCL = b'<a href="https://pypi.nvidia.com/nvidia-nccl-cu12/x.whl">x.whl</a>'


@pytest.fixture
def dependencies():
    """A bucket that keeps PyTorch's mirrored dependency pages beside the wheels, as
    download.pytorch.org's does: one for a project that also has wheels here, one for a
    project that has none, a page the reference generated from our own files, and a nested
    directory of wheels."""
    source = FakeSource()
    source.add(TORCH)
    source.add(CUDNN)
    source.add(FILELOCK)
    source.add(CUDNN_PAGE, PYPI_CUDNN)
    source.add(NCCL_PAGE, NVIDIA_NCCL)
    source.add("whl/cu121/xformers/index.html", b'<a href="/whl/cu121/xformers-0.1.whl">x</a>')
    source.add("whl/cu121/nested/torch-2.4.0-cp311-cp311-linux_x86_64.whl")
    return source


async def test_an_index_only_page_beside_the_wheels_is_published_as_it_is_and_listed(
    dependencies, buckets
):
    builder = buckets.builder(dependencies, prefixes=("whl",), allow_list_prefixes=frozenset())
    report = (await builder.run()).prefixes[0]
    assert report.status == "ok"
    for bucket in (buckets.main, buckets.mirror):
        assert bucket.objects[CUDNN_PAGE].body == PYPI_CUDNN  # over our own cudnn wheels
        assert bucket.objects[NCCL_PAGE].body == NVIDIA_NCCL
        assert bucket.objects[CUDNN_PAGE].content_type == "text/html; charset=utf-8"
    # no JSON page can say what a foreign HTML page says: a JSON client is served the HTML
    assert "whl/cu121/nvidia-cudnn-cu12/index.json" not in buckets.main.objects
    assert "whl/cu121/nvidia-nccl-cu12/index.json" not in buckets.main.objects
    listing = buckets.main.objects["whl/cu121/index.html"].body.decode()
    assert 'href="nvidia-cudnn-cu12/"' in listing and 'href="nvidia-nccl-cu12/"' in listing
    listed = json.loads(buckets.main.objects["whl/cu121/index.json"].body)["projects"]
    assert {"name": "nvidia-nccl-cu12"} in listed
    # a page without external links points at our own files: neither published nor listed
    assert 'href="xformers/"' not in listing
    assert "whl/cu121/xformers/index.html" not in buckets.main.objects
    assert report.skipped_directories == ["whl/cu121/nested", "whl/cu121/xformers"]
    assert report.index_only == ["whl/cu121/nvidia-nccl-cu12"]
    assert report.pages_mirrored == 2 and report.page_reads == 4
    # the prefix root's own page of cudnn is built from the wheels, as the root holds no page
    assert (
        b"files.pythonhosted.org"
        not in buckets.main.objects["whl/nvidia-cudnn-cu12/index.html"].body
    )


async def test_index_only_pages_are_read_again_only_when_their_directory_changes(
    dependencies, buckets
):
    builder = buckets.builder(dependencies, prefixes=("whl",), allow_list_prefixes=frozenset())
    await builder.run()
    dependencies.page_reads.clear()
    steady = (await builder.run()).prefixes[0]
    assert dependencies.page_reads == [] and steady.directories_unchanged == 1
    # a new file at the prefix root rebuilds every directory, but not cu121's own listing
    dependencies.add("whl/filelock-3.17.0-py3-none-any.whl")
    rebuilt = (await builder.run()).prefixes[0]
    assert rebuilt.directories_built == 1 and dependencies.page_reads == []
    assert buckets.main.objects[CUDNN_PAGE].body == PYPI_CUDNN
    assert rebuilt.skipped_directories == ["whl/cu121/nested", "whl/cu121/xformers"]
    # cu121 itself changes: its pages are read again, and a changed one is published
    newer = PYPI_CUDNN + b'<a href="https://files.pythonhosted.org/packages/x-9.2.whl">x</a>'
    dependencies.replace(CUDNN_PAGE, newer)
    dependencies.add("whl/cu121/torch-2.5.0+cu121-cp311-cp311-linux_x86_64.whl")
    changed = (await builder.run()).prefixes[0]
    assert sorted(dependencies.page_reads) == sorted(
        [CUDNN_PAGE, NCCL_PAGE, "whl/cu121/nested/index.html", "whl/cu121/xformers/index.html"]
    )
    assert changed.pages_mirrored == 2
    assert buckets.main.objects[CUDNN_PAGE].body == newer
    assert buckets.mirror.objects[CUDNN_PAGE].body == newer


async def test_a_json_page_we_wrote_goes_when_the_source_mirrors_the_project(dependencies, buckets):
    """A mirror page appearing for a project we already published: its HTML page becomes the
    mirror's, and our JSON page, which lists other files, is deleted from both buckets."""
    dependencies.bodies.pop(CUDNN_PAGE)
    builder = buckets.builder(dependencies, prefixes=("whl",), allow_list_prefixes=frozenset())
    await builder.run()
    json_page = "whl/cu121/nvidia-cudnn-cu12/index.json"
    assert json_page in buckets.main.objects and json_page in buckets.mirror.objects
    dependencies.add(CUDNN_PAGE, PYPI_CUDNN)
    report = (await builder.run()).prefixes[0]
    assert buckets.main.objects[CUDNN_PAGE].body == PYPI_CUDNN
    assert json_page not in buckets.main.objects and json_page not in buckets.mirror.objects
    assert report.pages_removed == 1
    assert json.loads(buckets.main.objects["whl/cu121/index.json"].body)["projects"] == [
        {"name": name} for name in ("filelock", "nvidia-cudnn-cu12", "nvidia-nccl-cu12", "torch")
    ]


async def test_the_main_bucket_decides_between_its_own_foreign_page_and_the_sources(
    dependencies, buckets
):
    """The page the reference copied into R2 holds the source's bytes: it is adopted (not even
    read) and kept current from then on. A different page with external links that someone
    else wrote there is never overwritten, not even by the source's."""
    await buckets.main.put(CUDNN_PAGE, PYPI_CUDNN)
    elsewhere = b'<a href="https://mirror.example.org/nvidia-nccl-cu12/y.whl">y.whl</a>'
    await buckets.main.put(NCCL_PAGE, elsewhere)
    builder = buckets.builder(dependencies, prefixes=("whl",), allow_list_prefixes=frozenset())
    report = (await builder.run()).prefixes[0]
    assert [key for call, key in buckets.main.calls if call == "get"] == [NCCL_PAGE]
    assert buckets.main.objects[NCCL_PAGE].body == elsewhere
    assert buckets.mirror.objects[CUDNN_PAGE].body == PYPI_CUDNN
    assert report.pages_foreign == 1 and report.pages_mirrored == 1
    newer = PYPI_CUDNN + b"<!-- a new version -->"
    newer += b'<a href="https://files.pythonhosted.org/packages/x.whl">x</a>'
    dependencies.replace(CUDNN_PAGE, newer)
    dependencies.add("whl/cu121/torch-2.5.0+cu121-cp311-cp311-linux_x86_64.whl")
    await builder.run()
    assert buckets.main.objects[CUDNN_PAGE].body == newer
    assert buckets.main.objects[NCCL_PAGE].body == elsewhere


GENERATOR_TORCH = (
    b'<a href="https://download-r2.pytorch.org/whl/cu121/torch-2.5.0%2Bcu121-cp311-cp311-'
    b'linux_x86_64.whl">torch-2.5.0+cu121-cp311-cp311-linux_x86_64.whl</a><br/>'
)
GENERATOR_TORCH_CPU = (
    b'<a href="https://download.pytorch.org/whl/cpu/torch-2.5.0%2Bcpu-cp311-cp311-'
    b'linux_x86_64.whl">torch-2.5.0+cpu-cp311-cp311-linux_x86_64.whl</a><br/>'
)


async def test_the_generators_own_pages_linking_this_buckets_hosts_are_replaced_by_ours(buckets):
    """Item 3: pages PyTorch's generator wrote, with absolute links to files of this bucket
    through the hosts that serve it, are not mirrors. A deployment that judged them by
    FILE_BASE_URL's host alone (``FILE_HOSTS=none``) kept them, and the newer wheels were
    missing; the first run under the default hosts judges them again and publishes ours,
    while a page linking to PyPI stays the source's."""
    source = FakeSource()
    source.add(TORCH)
    source.add(TORCH_CPU)
    source.add("whl/cu121/torch/index.html", GENERATOR_TORCH)
    source.add(CUDNN_PAGE, PYPI_CUDNN)
    await buckets.main.put("whl/cpu/torch/index.html", GENERATOR_TORCH_CPU)
    settings = dict(prefixes=("whl",), allow_list_prefixes=frozenset())
    await buckets.builder(source, file_hosts=frozenset(), **settings).run()
    assert buckets.main.objects["whl/cu121/torch/index.html"].body == GENERATOR_TORCH
    assert buckets.main.objects["whl/cpu/torch/index.html"].body == GENERATOR_TORCH_CPU

    report = (await buckets.builder(source, **settings).run()).prefixes[0]
    for bucket in (buckets.main, buckets.mirror):
        page = bucket.objects["whl/cu121/torch/index.html"].body
        assert b">torch-2.5.1+cu121-cp311-cp311-linux_x86_64.whl</a>" in page
        assert b"2.5.0" not in page
        assert b">torch-2.5.1+cpu-cp311" in bucket.objects["whl/cpu/torch/index.html"].body
        assert bucket.objects[CUDNN_PAGE].body == PYPI_CUDNN
    assert "whl/cu121/torch/index.json" in buckets.main.objects
    assert report.pages_mirrored == 1 and report.pages_foreign == 0
    assert report.index_only == ["whl/cu121/nvidia-cudnn-cu12"]
    assert report.skipped_directories == []


async def test_an_index_only_page_at_the_prefix_root_is_published_and_listed(buckets):
    source = FakeSource()
    source.add(FILELOCK)
    source.add(TORCH)
    source.add("whl/nvidia-nccl-cu12/index.html", NVIDIA_NCCL)
    source.add("whl/nightly/cpu/torch-2.7.0.dev20250101+cpu-cp311-cp311-linux_x86_64.whl")
    builder = buckets.builder(
        source, prefixes=("whl", "whl/nightly"), allow_list_prefixes=frozenset()
    )
    report = (await builder.run()).prefixes[0]
    assert buckets.mirror.objects["whl/nvidia-nccl-cu12/index.html"].body == NVIDIA_NCCL
    assert 'href="nvidia-nccl-cu12/"' in buckets.main.objects["whl/index.html"].body.decode()
    assert report.index_only == ["whl/nvidia-nccl-cu12"] and report.skipped_directories == []
    # whl/cu121 is an accelerator directory, whl/nightly another prefix: neither is a page
    assert source.page_reads == ["whl/nvidia-nccl-cu12/index.html"]
    source.page_reads.clear()
    # a new wheel in whl/cu121: the root pages are written again, the root's listing is as it was
    source.add("whl/cu121/torch-2.5.0+cu121-cp311-cp311-linux_x86_64.whl")
    again = (await builder.run()).prefixes[0]
    assert again.pages_written > 0
    assert source.page_reads == [] and again.skipped_directories == []
    assert 'href="nvidia-nccl-cu12/"' in buckets.main.objects["whl/index.html"].body.decode()


async def test_index_only_pages_wait_for_budget_like_metadata(dependencies, buckets):
    """Past the metadata budget no page is read: the directory is deferred, its pages stay as
    they were, and the next run publishes it."""
    dependencies.bodies.pop(CUDNN_PAGE)
    settings = dict(prefixes=("whl",), allow_list_prefixes=frozenset())
    await buckets.builder(dependencies, **settings).run()
    before = buckets.pages()
    dependencies.add(CUDNN_PAGE, PYPI_CUDNN)
    dependencies.page_reads.clear()
    late = buckets.builder(dependencies, stop_metadata_after=0.0, **settings)
    report = (await late.run()).prefixes[0]
    assert report.status == "deferred" and report.deferred_directories == ["whl/cu121"]
    assert dependencies.page_reads == [] and buckets.pages() == before
    report = (await buckets.builder(dependencies, **settings).run()).prefixes[0]
    assert report.status == "ok"
    assert buckets.main.objects[CUDNN_PAGE].body == PYPI_CUDNN


async def test_a_mirrored_page_lost_from_a_bucket_is_read_and_written_again(dependencies, buckets):
    builder = buckets.builder(dependencies, prefixes=("whl",), allow_list_prefixes=frozenset())
    await builder.run()
    del buckets.main.objects[CUDNN_PAGE]
    dependencies.page_reads.clear()
    dependencies.add("whl/filelock-3.17.0-py3-none-any.whl")  # cu121 rebuilt, not re-listed
    await builder.run()
    assert CUDNN_PAGE in dependencies.page_reads
    assert buckets.main.objects[CUDNN_PAGE].body == PYPI_CUDNN


async def test_file_base_url_makes_file_links_absolute(seeded, buckets):
    await buckets.builder(seeded, file_base_url="https://download-r2.example.org").run()
    page = buckets.main.objects["whl/cu121/torch/index.html"].body.decode()
    assert 'href="https://download-r2.example.org/whl/cu121/torch-2.5.1%2Bcu121-cp311' in page
    listing = buckets.main.objects["libtorch/cu121/index.html"].body.decode()
    assert 'href="https://download-r2.example.org/libtorch/cu121/' in listing


async def test_a_configuration_change_rebuilds_unchanged_directories(seeded, buckets):
    await buckets.builder(seeded).run()
    report = await buckets.builder(seeded, file_base_url="https://files.example.org").run()
    assert sum(p.directories_unchanged for p in report.prefixes) == 0
    assert (
        "https://files.example.org/"
        in buckets.main.objects["whl/cpu/torch/index.html"].body.decode()
    )


async def test_a_page_lost_from_the_main_bucket_is_written_again_when_its_directory_changes(
    seeded, buckets
):
    builder = buckets.builder(seeded)
    await builder.run()
    del buckets.main.objects["whl/cu121/filelock/index.json"]
    seeded.add("whl/cu121/torch-2.5.0+cu121-cp311-cp311-linux_x86_64.whl")
    await builder.run()
    assert "whl/cu121/filelock/index.json" in buckets.main.objects


BUCKET_KEYS = [
    FILELOCK,
    "whl/typing_extensions-4.12.2-py3-none-any.whl",
    TORCH,
    TORCH_CPU,
    "whl/cpu/torchvision-0.20.1+cpu-cp311-cp311-linux_x86_64.whl",
    "whl/cu126/torch-2.6.0+cu126-cp311-cp311-linux_x86_64.whl",
    "whl/rocm6.2.4/torch-2.6.0+rocm6.2.4-cp311-cp311-linux_x86_64.whl",
    NIGHTLY,
    "whl/nightly/cpu/torch-2.7.0.dev20250102+cpu-cp311-cp311-linux_x86_64.whl",
    "whl/nightly/cu126/torch-2.7.0.dev20250103+cu126-cp311-cp311-linux_x86_64.whl",
    "whl/nightly/cu126/torch-2.7.0.dev20250104+cu126-cp311-cp311-linux_x86_64.whl",
    "whl/nightly/filelock-3.16.1-py3-none-any.whl",
    LIBTORCH,
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.lists(st.tuples(st.sampled_from(BUCKET_KEYS), st.booleans(), st.booleans())),
        min_size=1,
        max_size=4,
    )
)
def test_incremental_runs_publish_exactly_what_a_cold_build_would(steps):
    """Whatever changes between runs (keys added, removed, replaced, sidecars coming and
    going), every page a cold build of the same bucket writes is there, byte for byte.
    (Pages of projects that disappeared stay, as they always have.)"""
    asyncio.run(_incremental_runs(steps))


async def _incremental_runs(steps):
    source, buckets = FakeSource(), Buckets()
    builder = buckets.builder(source, nightly_keep=2)
    for step in steps:
        for key, present, replaced in step:
            if present:
                source.add(key, key.encode() + (b"!" if replaced else b""))
                if replaced:
                    source.add(key + ".metadata", core_metadata("x", "1", ">=3.9"))
            else:
                source.bodies.pop(key, None)
                source.bodies.pop(key + ".metadata", None)
        await builder.run()
        cold = Buckets()
        await cold.builder(source, nightly_keep=2).run()
        published = buckets.pages()
        assert {key: published.get(key) for key in cold.pages()} == cold.pages()
