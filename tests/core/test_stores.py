"""The runtime-free buckets list, read and write the way an R2 binding does."""

import hashlib

import pytest

from flaresuite.ports import MAX_DELETE_KEYS
from flaresuite.stores.memory import MemoryBucket
from flaresuite_host.index.filesystem import DirectoryBucket


@pytest.fixture(params=["memory", "directory"])
def bucket(request, tmp_path):
    return MemoryBucket() if request.param == "memory" else DirectoryBucket(tmp_path)


async def test_a_listing_pages_through_a_prefix_in_key_order(bucket):
    for key in (
        "whl/b/index.html",
        "whl/a/index.html",
        "whl/c/index.html",
        "whlx/index.html",
        "libtorch/index.html",
    ):
        await bucket.put(key, key.encode())
    seen, cursor, pages = [], None, 0
    while True:
        page = await bucket.list(prefix="whl/", cursor=cursor, limit=2)
        seen += [obj.key for obj in page.objects]
        pages += 1
        if not page.truncated:
            assert page.cursor is None
            break
        cursor = page.cursor
    assert seen == ["whl/a/index.html", "whl/b/index.html", "whl/c/index.html"] and pages == 2


async def test_a_listed_etag_is_the_md5_of_what_was_put(bucket):
    await bucket.put("whl/index.html", b"<html></html>")
    [listed] = (await bucket.list(prefix="whl/")).objects
    stored = await bucket.get("whl/index.html")
    assert listed.etag == stored.etag == hashlib.md5(b"<html></html>").hexdigest()
    assert stored.body == b"<html></html>"
    assert await bucket.get("whl/missing.html") is None


async def test_a_directory_bucket_refuses_keys_outside_its_directory(tmp_path):
    with pytest.raises(ValueError, match="escapes"):
        await DirectoryBucket(tmp_path / "site").put("../outside.html", b"x")
    assert not (tmp_path / "outside.html").exists()


@pytest.mark.parametrize("count", [0, MAX_DELETE_KEYS + 1])
async def test_a_delete_r2_would_refuse_is_refused_and_deletes_nothing(bucket, count):
    await bucket.put("keep", b"x")
    keys = ["keep", *(f"k{i}" for i in range(count - 1))][:count]

    with pytest.raises(ValueError, match="between 1 and 1000"):
        await bucket.delete(keys)

    assert await bucket.get("keep") is not None


async def test_a_delete_of_a_thousand_keys_is_one_call(bucket):
    keys = [f"k{i:04}" for i in range(MAX_DELETE_KEYS)]
    for key in keys[:3]:
        await bucket.put(key, b"x")

    await bucket.delete(keys)

    assert [await bucket.get(key) for key in keys[:3]] == [None, None, None]
