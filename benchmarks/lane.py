"""What the Pyodide lane costs: start-up, and per-event overhead next to the same work in-process.

Prints, side by side in one run:
* start-up split into Miniflare, Pyodide (+ wheels) and the entry module import;
* a round trip that does nothing (``ping``: JSON lines only), a fetch event on a fresh
  ``Default(ctx, env)`` that touches no binding, an RPC call that reads a missing R2 key, two
  RPC calls that write then read a 1 KiB object through cfbindings and Miniflare, and one
  ``R2Bucket.list`` page of 100 objects (key, size and etag of each); each as ms per event and
  as a ratio to the ping.

Needs ``bash scripts/setup_lane.sh``. Usage: ``uv run python benchmarks/lane.py [--events N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "lane"))
from driver import Lane, LaneConfig  # noqa: E402
from flaresuite_host.arguments import positive_int  # noqa: E402

CONFIG = LaneConfig(
    main="tests/lane/workers/bindings_probe.py",
    module_roots=("src", "tests/lane/workers"),
    r2_buckets=["BUCKET"],
)


def per_event_ms(action, events: int) -> float:
    action()  # the first call pays one-off imports and JIT warm-up
    samples = []
    for _ in range(events):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=positive_int, default=100)
    parser.add_argument(
        "--listed", type=positive_int, default=100, help="objects in the listed page"
    )
    args = parser.parse_args(argv)

    wall = time.perf_counter()
    lane = Lane(CONFIG)
    started = (time.perf_counter() - wall) * 1000
    try:
        t = lane.timings
        print("lane start-up (ms)")
        print(f"  miniflare {t['miniflare_ms']:8.0f}")
        print(f"  pyodide   {t['pyodide_ms']:8.0f}   (load + unpack wheels + stand-ins)")
        print(f"  import    {t['import_ms']:8.0f}   (entry module and what it imports)")
        print(f"  process   {started:8.0f}   (spawn to ready, as pytest sees it)")
        lane.r2_put_many("BUCKET", {f"listed/{i:05d}": "x" for i in range(args.listed)})

        rows = {
            "ping (protocol only)": lambda: lane.call("ping"),
            "fetch event": lambda: lane.fetch("GET", "/empty"),
            "rpc + one R2 get": lambda: lane.rpc("r2_get", "BUCKET", "missing"),
            "fetch + R2 put/get": lambda: (
                lane.rpc("r2_put", "BUCKET", "bench", "x" * 1024, "text/plain", None, None),
                lane.rpc("r2_get", "BUCKET", "bench"),
            ),
            f"R2 list of {args.listed}": lambda: lane.rpc(
                "r2_list", "BUCKET", "listed/", None, 1000
            ),
        }
        results = {name: per_event_ms(action, args.events) for name, action in rows.items()}
        base = results["ping (protocol only)"]
        print(f"\nper event, median of {args.events} (ms, and x ping)")
        for name, ms in results.items():
            print(f"  {name:24s} {ms:8.2f}   x{ms / base:6.1f}")
    finally:
        lane.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
