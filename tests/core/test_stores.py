"""The runtime-free buckets list, read and write the way an R2 binding does."""

import hashlib

import pytest

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
