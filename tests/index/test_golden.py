"""Every page the builder writes for the PyTorch-shaped bucket, byte for byte.

The tree under ``golden/pytorch/`` is what the builder wrote before the streaming rewrite, and
changes only where a parity item changes a page on purpose (each such commit names its item).
``manifest.json`` holds each page's content type and Cache-Control. To accept an intended
change, run ``FLARESUITE_UPDATE_GOLDEN=1 uv run pytest tests/index/test_golden.py`` and review
the diff.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from flaresuite.index.builder import BuildConfig, IndexBuilder
from flaresuite.stores.memory import MemoryBucket

from .conftest import FakeSource
from .pytorch_bucket import SEEDS

GOLDEN = Path(__file__).parent / "golden" / "pytorch"
UPDATE = os.environ.get("FLARESUITE_UPDATE_GOLDEN") == "1"


def seeded_source() -> FakeSource:
    source = FakeSource()
    for seed in SEEDS:
        source.add(seed.key, seed.body, sha256=None if seed.checksum == "none" else "auto")
    return source


async def build() -> dict[str, tuple[bytes, dict[str, str | None]]]:
    main, mirror = MemoryBucket(), MemoryBucket()
    config = BuildConfig(nightly_keep=2, warn_after=())
    report = await IndexBuilder(
        seeded_source(), [main, mirror], MemoryBucket(), config=config, log=lambda *a, **k: None
    ).run()
    assert report.status == "ok", report.to_dict()
    pages = {
        key: (
            stored.body,
            {"content_type": stored.content_type, "cache_control": stored.cache_control},
        )
        for key, stored in main.objects.items()
    }
    mirrored = {k: o.body for k, o in mirror.objects.items()}
    assert mirrored == {key: body for key, (body, _) in pages.items()}
    return pages


def write_golden(pages: dict[str, tuple[bytes, dict[str, str | None]]]) -> None:
    shutil.rmtree(GOLDEN, ignore_errors=True)
    for key, (body, _) in pages.items():
        path = GOLDEN / "pages" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    manifest = {key: headers for key, (_, headers) in sorted(pages.items())}
    (GOLDEN / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


async def test_every_page_matches_the_golden_tree():
    pages = await build()
    if UPDATE:
        write_golden(pages)
    manifest = json.loads((GOLDEN / "manifest.json").read_text())
    assert sorted(pages) == sorted(manifest), "pages added or missing"
    for key, (body, headers) in pages.items():
        assert body == (GOLDEN / "pages" / key).read_bytes(), key
        assert headers == manifest[key], key
