"""An index run end to end over an in-memory source and two in-memory buckets."""

import hashlib
import json

import pytest

from flaresuite.index.builder import STATUS_KEY, BuildConfig, IndexBuilder
from flaresuite.index.cache import cache_key
from flaresuite.stores.memory import MemoryBucket

from .conftest import StepClock, core_metadata

TORCH = "whl/cu121/torch-2.5.1+cu121-cp311-cp311-linux_x86_64.whl"
TORCH_CPU = "whl/cpu/torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl"
FILELOCK = "whl/filelock-3.16.1-py3-none-any.whl"
NIGHTLY = "whl/nightly/cpu/torch-2.7.0.dev20250101+cpu-cp311-cp311-linux_x86_64.whl"
LIBTORCH = "libtorch/cu121/libtorch-shared-with-deps-2.5.1+cu121.zip"


def config(**overrides):
    base = dict(prefixes=("whl", "whl/nightly", "libtorch"), warn_after=(), concurrency=4)
    return BuildConfig(**{**base, **overrides})


@pytest.fixture
def buckets():
    return MemoryBucket(), MemoryBucket()


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


def pages(bucket):
    return {k: o for k, o in bucket.objects.items() if not k.startswith("_flaresuite/")}


async def test_a_run_publishes_identical_pages_to_both_buckets(seeded, buckets):
    report = await IndexBuilder(seeded, buckets, config=config(), log=lambda *a, **k: None).run()
    main, mirror = buckets
    assert report.status == "ok"
    assert {k: o.body for k, o in pages(main).items()} == {
        k: o.body for k, o in pages(mirror).items()
    }
    page = main.objects["whl/cu121/torch/index.html"]
    assert page.content_type == "text/html; charset=utf-8"
    assert page.cache_control == "max-age=600, public, must-revalidate"
    body = page.body.decode()
    assert "#sha256=" + hashlib.sha256(TORCH.encode()).hexdigest() in body
    sidecar_sha = hashlib.sha256(seeded.bodies[TORCH + ".metadata"]).hexdigest()
    assert f'data-core-metadata="sha256={sidecar_sha}"' in body
    assert 'data-requires-python="&gt;=3.9"' in body
    assert "#sha256=" not in main.objects["whl/cpu/torch/index.html"].body.decode()
    nightly = main.objects["whl/nightly/cpu/torch/index.html"]
    assert nightly.cache_control == "no-cache,no-store,must-revalidate"
    assert "#sha256=" not in nightly.body.decode()
    assert main.objects["whl/cu121/torch/index.json"].content_type == (
        "application/vnd.pypi.simple.v1+json"
    )
    assert "libtorch/cu121/index.html" in main.objects


async def test_nightly_wheels_are_not_headed_because_their_pages_show_no_hash(seeded, buckets):
    await IndexBuilder(seeded, buckets, config=config(), log=lambda *a, **k: None).run()
    assert NIGHTLY not in seeded.heads
    assert NIGHTLY + ".metadata" in seeded.reads
    assert LIBTORCH not in seeded.heads  # libtorch listings need no metadata at all


async def test_a_steady_state_run_heads_nothing_and_writes_nothing(seeded, buckets):
    builder = IndexBuilder(seeded, buckets, config=config(), log=lambda *a, **k: None)
    await builder.run()
    seeded.heads.clear(), seeded.reads.clear()
    for bucket in buckets:
        bucket.calls.clear()
    report = await builder.run()
    assert seeded.heads == [] and seeded.reads == []
    assert sum(p.pages_written for p in report.prefixes) == 0
    main, mirror = ([key for call, key in b.calls if call == "put"] for b in buckets)
    assert main == [STATUS_KEY] and mirror == []
    assert sum(p.cache_hits for p in report.prefixes) == 4  # libtorch needs no metadata


async def test_each_destination_is_listed_once_per_outermost_prefix(seeded, buckets):
    builder = IndexBuilder(seeded, buckets, config=config(), log=lambda *a, **k: None)
    for run in range(2):
        for bucket in buckets:
            bucket.calls.clear()
        await builder.run()
        for bucket in buckets:  # whl/ holds whl/nightly/'s pages too: one listing serves both
            assert [key for call, key in bucket.calls if call == "list"] == ["whl/", "libtorch/"]


async def test_only_a_replaced_object_is_headed_again(seeded, buckets):
    builder = IndexBuilder(seeded, buckets, config=config(), log=lambda *a, **k: None)
    await builder.run()
    seeded.heads.clear()
    seeded.replace(FILELOCK, b"rebuilt wheel")
    report = await builder.run()
    assert seeded.heads == [FILELOCK]
    whl = report.prefixes[0]
    # the root file appears on the root page and in every directory page of the prefix
    # filelock sits at the prefix root, so its page in whl/, whl/cpu/ and whl/cu121/ changes:
    # 3 directories x (HTML + JSON) x 2 buckets. Project lists are unchanged.
    assert whl.pages_written == 12


async def test_a_failed_listing_publishes_nothing_for_its_prefix(seeded, buckets):
    builder = IndexBuilder(seeded, buckets, config=config(), log=lambda *a, **k: None)
    await builder.run()
    before = {k: o.body for k, o in pages(buckets[0]).items()}
    seeded.add("whl/cu121/torch-2.6.0+cu121-cp311-cp311-linux_x86_64.whl")
    seeded.fail_listing = 3  # whl has more objects than that; the other prefixes fewer
    report = await builder.run()
    assert [p.status for p in report.prefixes] == ["failed", "ok", "ok"]
    assert "listing interrupted" in report.prefixes[0].error
    assert report.status == "partial"
    assert {k: o.body for k, o in pages(buckets[0]).items()} == before


async def test_an_empty_listing_never_empties_a_published_index(seeded, buckets):
    builder = IndexBuilder(seeded, buckets, config=config(), log=lambda *a, **k: None)
    await builder.run()
    before = {k: o.body for k, o in pages(buckets[0]).items()}
    seeded.bodies.clear()
    report = await builder.run()
    assert {p.status for p in report.prefixes} == {"empty"}
    assert {k: o.body for k, o in pages(buckets[0]).items()} == before


async def test_past_the_budget_metadata_stops_and_the_next_run_resumes(source, buckets):
    for day in range(1, 31):
        source.add(f"whl/cpu/torch-2.{day}.0+cpu-cp311-cp311-linux_x86_64.whl")
    events = []
    slow = config(
        prefixes=("whl",), concurrency=1, warn_after=(5.0, 10.0), stop_metadata_after=10.0
    )
    builder = IndexBuilder(
        source,
        buckets,
        config=slow,
        clock=StepClock(0.5),
        log=lambda event, **fields: events.append((event, fields)),
    )
    first = (await builder.run()).prefixes[0]
    assert first.status == "deferred"
    assert 0 < first.heads < 30 and first.heads + first.metadata_pending == 30
    assert pages(buckets[0]) == {} and pages(buckets[1]) == {}
    assert [f["threshold"] for e, f in events if e == "index.budget_warning"] == [5.0, 10.0]
    assert cache_key("whl") in buckets[0].objects  # progress is kept

    source.heads.clear()
    builder.clock = StepClock(0.0)
    second = (await builder.run()).prefixes[0]
    assert second.status == "ok"
    assert len(source.heads) == first.metadata_pending  # nothing fetched twice
    assert "whl/cpu/torch/index.html" in buckets[0].objects


async def test_budget_warnings_are_logged_even_when_no_metadata_is_fetched(seeded, buckets):
    events = []
    slow = config(prefixes=("libtorch", "whl/nightly"), warn_after=(1.0, 2.0))
    builder = IndexBuilder(
        seeded,
        buckets,
        config=slow,
        clock=StepClock(0.0),
        log=lambda event, **fields: events.append((event, fields)),
    )
    await builder.run()  # learns the nightly sidecar: the second run fetches nothing
    events.clear()
    builder.clock = StepClock(1.5)
    report = await builder.run()
    assert sum(p.heads + p.sidecar_reads for p in report.prefixes) == 0
    assert [f["threshold"] for e, f in events if e == "index.budget_warning"] == [1.0, 2.0]


async def test_a_failing_head_fails_the_prefix_but_keeps_what_was_learnt(seeded, buckets):
    seeded.fail_head = {FILELOCK}  # fetched last: the two torch wheels are learnt first
    builder = IndexBuilder(
        seeded, buckets, config=config(prefixes=("whl",), concurrency=1), log=lambda *a, **k: None
    )
    report = (await builder.run()).prefixes[0]
    assert report.status == "failed" and "HEAD" in report.error
    assert pages(buckets[0]) == {}
    seeded.fail_head = set()
    seeded.heads.clear()
    await builder.run()
    assert seeded.heads == [FILELOCK]


async def test_a_corrupt_cache_is_discarded_and_rebuilt(seeded, buckets):
    await buckets[0].put(cache_key("whl"), b"not gzip")
    events = []
    builder = IndexBuilder(
        seeded,
        buckets,
        config=config(prefixes=("whl",)),
        log=lambda event, **fields: events.append(event),
    )
    report = (await builder.run()).prefixes[0]
    assert report.status == "ok" and "index.cache_discarded" in events


async def test_the_run_report_is_stored_for_the_status_endpoint(seeded, buckets):
    logged = []
    await IndexBuilder(
        seeded, buckets, config=config(), log=lambda event, **fields: logged.append((event, fields))
    ).run()
    status = json.loads(buckets[0].objects[STATUS_KEY].body)
    assert status["status"] == "ok"
    assert [p["prefix"] for p in status["prefixes"]] == ["whl", "whl/nightly", "libtorch"]
    per_prefix = [f for e, f in logged if e == "index.prefix"]
    assert {"objects", "heads", "pages_written", "pages_unchanged", "seconds"} <= set(per_prefix[0])


async def test_unparseable_files_are_logged_and_the_rest_is_published(seeded, buckets):
    seeded.add("whl/cpu/torch-latest-cp311-cp311-linux_x86_64.whl")
    logged = []
    report = (
        await IndexBuilder(
            seeded,
            buckets,
            config=config(prefixes=("whl",)),
            log=lambda e, **f: logged.append((e, f)),
        ).run()
    ).prefixes[0]
    assert report.status == "ok"
    assert report.rejected == ["whl/cpu/torch-latest-cp311-cp311-linux_x86_64.whl"]
    assert any(e == "index.rejected" for e, _ in logged)


def test_a_builder_needs_a_destination(source):
    with pytest.raises(ValueError, match="destination"):
        IndexBuilder(source, [])
