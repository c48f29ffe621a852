"""Delete proxy: batched deletes against one R2 call per key, side by side in one run.

Both approaches delete the same keys from an in-memory bucket that waits a fixed latency on
every call (R2 from a Worker is a network round trip per call). "one key per call" is the seed
implementation: ``Promise.all(keys.map(k => bucket.delete(k)))``, which a Worker runs at most
six at a time (its limit on simultaneous connections). "batched" is ``POST /delete`` through
:class:`flaresuite.purge.service.PurgeService`: a list call per 1000 clustered keys to learn
which existed, then a delete call per 1000.

With ``--lane`` the same two approaches also run as Workers on real Pyodide with a Miniflare R2
bucket (tests/lane/driver.py): ours is src/purge_worker.py, the seed is the few lines in
:data:`SEED_WORKER`. R2 calls are recorded by wrapping ``cfbindings.R2Bucket`` inside the lane
(``RECORD_R2_CALLS``). Miniflare answers in about a millisecond and runs the seed's deletes
without a Worker's six-connection limit, so the lane flatters the seed; the call counts carry
over unchanged.

    uv run python benchmarks/purge.py [--keys 10000] [--latency-ms 20] [--lane [--lane-keys 1000]]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from flaresuite.http import HttpRequest
from flaresuite.purge.config import PurgeConfig
from flaresuite.purge.service import PurgeService
from flaresuite.stores.memory import MemoryBucket

WORKER_CONNECTIONS = 6
"""Simultaneous outgoing connections a Worker may hold; further R2 calls queue."""

TOKEN = "benchmark-token"


class SlowBucket(MemoryBucket):
    """A MemoryBucket that takes ``latency`` seconds per call, at most six calls at a time."""

    def __init__(self, latency: float) -> None:
        super().__init__()
        self._latency = latency
        self._connections = asyncio.Semaphore(WORKER_CONNECTIONS)
        self.counts: Counter[str] = Counter()

    async def _round_trip(self, method: str) -> None:
        async with self._connections:
            self.counts[method] += 1
            await asyncio.sleep(self._latency)

    async def delete(self, keys: Sequence[str]) -> None:
        await self._round_trip("delete")
        await super().delete(keys)

    async def list(self, *, prefix: str = "", cursor: str | None = None, limit: int = 1000):
        await self._round_trip("list")
        return await super().list(prefix=prefix, cursor=cursor, limit=limit)


def project_keys(count: int) -> list[str]:
    return [f"projects/12/scenes/{i // 10}/media/{i % 10}.mp4" for i in range(count)]


async def seeded(keys: Sequence[str], latency: float) -> SlowBucket:
    bucket = SlowBucket(latency)
    for key in keys:
        await MemoryBucket.put(bucket, key, b"x")
    bucket.calls.clear()
    return bucket


async def one_key_per_call(keys: Sequence[str], latency: float) -> tuple[float, SlowBucket]:
    bucket = await seeded(keys, latency)
    started = time.perf_counter()
    await asyncio.gather(*(bucket.delete([key]) for key in keys))
    return time.perf_counter() - started, bucket


async def batched(keys: Sequence[str], latency: float) -> tuple[float, SlowBucket]:
    bucket = await seeded(keys, latency)
    service = PurgeService(bucket, PurgeConfig(token=TOKEN), log=lambda event, **fields: None)
    started = time.perf_counter()
    for start in range(0, len(keys), 10_000):
        body = json.dumps({"objectKeys": list(keys[start : start + 10_000])}).encode()
        response = await service.handle(
            HttpRequest("POST", "https://bench/delete", {"authorization": f"Bearer {TOKEN}"}, body)
        )
        assert response.status == 200, response.body[:200]
    return time.perf_counter() - started, bucket


SEED_WORKER = """
import asyncio
import json

from workers import Response, WorkerEntrypoint

from cfbindings import R2Bucket, to_core_request


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        body = (await to_core_request(request, max_body_bytes=1 << 20)).body
        keys = json.loads(body)["objectKeys"]
        bucket = R2Bucket(self.env.PURGE_BUCKET)
        await asyncio.gather(*(bucket.delete([key]) for key in keys))
        return Response("{}")
"""
"""The seed's ``Promise.all(objectKeys.map(k => bucket.delete(k)))``, as a Python Worker."""


def lane_rows(keys: Sequence[str]) -> tuple[list[tuple[str, float, dict[str, float]]], list[str]]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "lane"))
    from driver import RECORD_R2_CALLS, Lane, LaneConfig

    rows = []
    notes = []
    with tempfile.TemporaryDirectory() as seed_root:
        (Path(seed_root) / "purge_seed_worker.py").write_text(SEED_WORKER)
        approaches = (
            ("one key per call", f"{seed_root}/purge_seed_worker.py", ("src", seed_root)),
            ("batched", "src/purge_worker.py", ("src",)),
        )
        for name, main, roots in approaches:
            config = LaneConfig(
                main=main,
                module_roots=roots,
                r2_buckets=("PURGE_BUCKET",),
                vars={"DELETE_PROXY_TOKEN": TOKEN},
            )
            lane = Lane(config)
            try:
                for key in keys:
                    lane.r2_put("PURGE_BUCKET", key, b"x")
                lane.run_python(RECORD_R2_CALLS)
                body = json.dumps({"objectKeys": list(keys)})
                started = time.perf_counter()
                response = lane.fetch(
                    "POST", "/delete", headers={"authorization": f"Bearer {TOKEN}"}, body=body
                )
                seconds = time.perf_counter() - started
                assert response.status == 200, response.body[:200]
                assert lane.r2_list("PURGE_BUCKET") == [], f"{name} left keys behind"
                timed = lane.run_python("list(cfbindings.R2Bucket.calls)")
            finally:
                lane.close()
            calls = Counter(method for method, _ in timed)
            busy = Counter()
            for method, call_seconds in timed:
                busy[method] += call_seconds
            rows.append(
                (name, len(keys) / seconds, {m: c * 10_000 / len(keys) for m, c in calls.items()})
            )
            # Concurrent calls overlap, so these sums can exceed the wall time.
            notes.append(
                f"{name}: {seconds:.2f} s wall; summed R2 call time "
                + ", ".join(f"{m} {busy[m]:.2f} s" for m in sorted(busy))
            )
    return rows, notes


def print_rows(title: str, rows: Sequence[tuple[str, float, dict[str, float]]]) -> None:
    print(title)
    print(f"{'approach':<18}{'keys/s':>12}{'R2 calls/10k':>14}{'delete':>9}{'list':>7}")
    for name, rate, per_10k in rows:
        print(
            f"{name:<18}{rate:>12,.0f}{sum(per_10k.values()):>14,.0f}"
            f"{per_10k.get('delete', 0):>9,.0f}{per_10k.get('list', 0):>7,.0f}"
        )
    (_, slow, slow_calls), (_, fast, fast_calls) = rows
    print(
        f"batched / one-per-call: {fast / slow:,.2f}x keys per second, "
        f"{sum(slow_calls.values()) / sum(fast_calls.values()):,.0f}x fewer R2 calls\n"
    )


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--lane", action="store_true", help="also run both Workers in the lane")
    parser.add_argument("--lane-keys", type=int, default=1000)
    args = parser.parse_args(argv)
    keys = project_keys(args.keys)
    latency = args.latency_ms / 1000
    rows = []
    for name, approach in (("one key per call", one_key_per_call), ("batched", batched)):
        seconds, bucket = await approach(keys, latency)
        assert not bucket.objects, f"{name} left {len(bucket.objects)} keys"
        per_10k = {method: count * 10_000 / len(keys) for method, count in bucket.counts.items()}
        rows.append((name, len(keys) / seconds, per_10k))
    print_rows(
        f"MemoryBucket: {len(keys)} keys, {args.latency_ms:g} ms per R2 call, "
        f"{WORKER_CONNECTIONS} calls at a time",
        rows,
    )
    if args.lane:
        rows, notes = lane_rows(project_keys(args.lane_keys))
        print_rows(
            f"Lane (Pyodide 314, Miniflare R2): {args.lane_keys} keys, one POST /delete", rows
        )
        print("\n".join(notes))


if __name__ == "__main__":
    asyncio.run(main())
