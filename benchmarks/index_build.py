"""Index builder throughput on a synthetic PyTorch-like bucket of 1,000,000 keys.

Prints, from one run, side by side:
* the cold build (every checksum and sidecar fetched, every page rendered and written),
* the steady-state build (same listing again: cache hits only; HEADs and rewrites must be 0),
* CPU seconds, objects per second and the cold/steady ratio, and peak RSS.

The source is in memory (HEAD/GET answer instantly), so the figures are the core's own cost:
parse, filter, cache, render, compare, write. Usage: ``uv run python benchmarks/index_build.py
[--keys N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import resource
import time
from collections import defaultdict
from datetime import UTC, datetime

from flaresuite.index.builder import BuildConfig, IndexBuilder
from flaresuite.index.model import SourceObject
from flaresuite.stores.memory import MemoryBucket

ACCELERATORS = ("cpu", "cu118", "cu121", "cu124", "cu126", "cu128", "rocm6.1", "rocm6.2", "xpu")
PYTHONS = ("cp39-cp39", "cp310-cp310", "cp311-cp311", "cp312-cp312", "cp313-cp313", "cp313-cp313t")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_28_aarch64", "win_amd64")
PROJECTS = (
    "torch",
    "torchvision",
    "torchaudio",
    "pytorch_triton",
    "torchao",
    "fbgemm_gpu",
    "executorch",
    "torchrec",
    "torchtune",
    "torchdata",
)
WHEN = datetime(2025, 1, 3, tzinfo=UTC)
METADATA = b"Metadata-Version: 2.1\nName: torch\nVersion: 2.6.0\nRequires-Python: >=3.9\n"


def synthetic_listing(total: int) -> dict[str, list[SourceObject]]:
    """Keys shaped like download.pytorch.org: wheels with PEP 658 sidecars per accelerator,
    nightlies over many dates, libtorch archives; split across the default prefixes."""
    listing: dict[str, list[SourceObject]] = defaultdict(list)
    count = 0

    def add(prefix: str, key: str, size: int = 100_000) -> bool:
        nonlocal count
        listing[prefix].append(SourceObject(key, size, hashlib.md5(key.encode()).hexdigest(), WHEN))
        count += 1
        return count < total

    release = 0
    while True:
        release += 1
        day = release
        for project in PROJECTS:
            for accelerator in ACCELERATORS:
                for python in PYTHONS:
                    for platform in PLATFORMS:
                        version = f"2.{release % 40}.{release // 40}"
                        wheel = f"{project}-{version}+{accelerator}-{python}-{platform}.whl"
                        nightly = (
                            f"{project}-2.8.0.dev2025{day // 28 % 12 + 1:02d}{day % 28 + 1:02d}"
                            f".{day // 336}+{accelerator}-{python}-{platform}.whl"
                        )
                        for prefix, name in (("whl", wheel), ("whl/nightly", nightly)):
                            key = f"{prefix}/{accelerator}/{name}"
                            if not (add(prefix, key) and add(prefix, key + ".metadata", 300)):
                                return listing
                if not add(
                    "libtorch",
                    f"libtorch/{accelerator}/libtorch-shared-with-deps-"
                    f"2.{release}.0+{accelerator}.zip",
                ):
                    return listing


class MemorySource:
    def __init__(self, listing: dict[str, list[SourceObject]]) -> None:
        self.listing = listing
        self.heads = 0
        self.reads = 0

    async def list(self, prefix: str):
        for obj in self.listing.get(prefix, ()):
            yield obj

    async def sha256(self, obj: SourceObject) -> str | None:
        self.heads += 1
        return hashlib.sha256(obj.key.encode()).hexdigest()

    async def read(self, obj: SourceObject) -> bytes:
        self.reads += 1
        return METADATA


def quiet(*args: object, **fields: object) -> None:
    pass


async def timed_run(builder: IndexBuilder, source: MemorySource) -> dict[str, float]:
    source.heads = source.reads = 0
    cpu, wall = time.process_time(), time.perf_counter()
    report = await builder.run()
    return {
        "cpu": time.process_time() - cpu,
        "wall": time.perf_counter() - wall,
        "heads": source.heads,
        "reads": source.reads,
        "written": sum(p.pages_written for p in report.prefixes),
        "unchanged": sum(p.pages_unchanged for p in report.prefixes),
        "status": report.status,
    }


async def main(total: int) -> None:
    started = time.perf_counter()
    listing = synthetic_listing(total)
    keys = sum(len(objs) for objs in listing.values())
    print(
        f"synthetic listing: {keys:,} keys in {time.perf_counter() - started:.1f} s "
        f"({', '.join(f'{p}: {len(o):,}' for p, o in listing.items())})"
    )
    source = MemorySource(listing)
    config = BuildConfig(warn_after=(), stop_metadata_after=float("inf"), concurrency=64)
    builder = IndexBuilder(source, [MemoryBucket(), MemoryBucket()], config=config, log=quiet)
    cold = await timed_run(builder, source)
    steady = await timed_run(builder, source)
    print(
        f"{'run':<14}{'CPU s':>9}{'wall s':>9}{'objects/s':>12}{'HEADs':>10}{'sidecar GETs':>14}"
        f"{'pages written':>15}{'unchanged':>11}"
    )
    for name, run in (("cold build", cold), ("steady state", steady)):
        print(
            f"{name:<14}{run['cpu']:>9.1f}{run['wall']:>9.1f}{keys / run['cpu']:>12,.0f}"
            f"{run['heads']:>10,}{run['reads']:>14,}{run['written']:>15,}{run['unchanged']:>11,}"
        )
    print(f"cold / steady CPU ratio: {cold['cpu'] / steady['cpu']:.1f}x")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")
    verdict = "meets" if cold["cpu"] < 60 else "MISSES"
    print(f"target: full {keys:,}-key build under 60 s CPU: {verdict} ({cold['cpu']:.1f} s)")
    if steady["heads"] or steady["written"]:
        print("WARNING: the steady-state run fetched metadata or rewrote pages")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    asyncio.run(main(parser.parse_args().keys))
