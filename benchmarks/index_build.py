"""Index builder cost on a synthetic PyTorch-shaped bucket: CPU, peak memory, subrequests.

Prints, from one run, side by side for each bucket size (default 100,000 and 1,000,000 keys):

* a cold build (every checksum and sidecar fetched, every page rendered and written);
* a steady-state run (nothing changed: no HEAD, no GET, no page written);
* an hourly run (one new nightly wheel and its sidecar);

each with CPU seconds, peak memory above the process's baseline, subrequests (S3 requests as the
Worker would send them: one ListObjectsV2 page per 1,000 keys, one HEAD or GET per metadata
request; plus every call on the page and state buckets), S3 list calls, metadata requests and
pages written; then pages and distributions per prefix (an ``empty`` prefix is a bug) and every
target of issue 11, met or missed. The last of them, the 300,000-key run on Pyodide, takes the
opt-in lane test about nine minutes: it is not run here, but its last recorded figures
(``dist/index-scale.json``, written by ``tests/lane/test_index_scale.py``) are printed with
their date and command, or, when it never ran on this checkout, the command that records them.

The bucket is realistic where it matters: nightly versions ``2.8.0.devYYYYMMDD+cu126`` over
hundreds of days in every accelerator directory (retention keeps 60), release wheels with PEP 658
sidecars, allow-listed dependencies at the prefix roots, libtorch archives, and a listing with S3
semantics (a directory holds its files; ``whl/`` lists ``whl/nightly/`` as a sub-directory, not
its keys). The listing is built in memory before anything is measured, as a source that answers
instantly: the figures are the core's own cost. Page and state buckets keep no bodies in memory
(state goes to a temporary directory), as R2 keeps them out of the Worker's.

Each size runs in a subprocess of its own, so one size's memory does not colour another's.
Usage: ``uv run python benchmarks/index_build.py [--keys N ...]``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flaresuite.index.budget import Budget
from flaresuite.index.builder import BuildConfig, IndexBuilder
from flaresuite.index.model import SourceObject, Subdirectory
from flaresuite.index.report import RunReport
from flaresuite.ports import ListedObject, ListPage, StoredObject
from flaresuite.stores.memory import list_page
from flaresuite_host.index.filesystem import DirectoryBucket

RELEASE_ACCELERATORS = ("cpu", "cu118", "cu121", "cu124", "cu126", "cu128", "rocm6.2.4", "xpu")
NIGHTLY_ACCELERATORS = ("cpu", "cu126", "cu128", "cu129", "rocm6.4", "xpu")
PYTHONS = ("cp310-cp310", "cp311-cp311", "cp312-cp312", "cp313-cp313", "cp313-cp313t")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_28_aarch64", "win_amd64")
RELEASE_PROJECTS = (
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
"""Projects PyTorch publishes wheels of in every accelerator directory (all allow-listed)."""
NIGHTLY_PROJECTS = tuple(
    (project, "2.8.0" if project in ("torch", "torchaudio") else "0.23.0")
    for project in RELEASE_PROJECTS
)
DEPENDENCIES = (
    "filelock",
    "typing_extensions",
    "networkx",
    "Jinja2",
    "MarkupSafe",
    "sympy",
    "mpmath",
    "fsspec",
    "numpy",
    "pillow",
)
"""Allow-listed projects PyTorch keeps at each prefix root."""
WHEN = datetime(2025, 6, 1, tzinfo=UTC)
METADATA = b"Metadata-Version: 2.1\nName: torch\nVersion: 2.8.0\nRequires-Python: >=3.9\n\n"
SHARES = {"whl": 0.38, "whl/nightly": 0.45, "whl/test": 0.12, "libtorch": 0.05}
"""How the keys of a bucket spread over prefixes (whl/nightly alone held about 128,000 objects
of download.pytorch.org's bucket, test-infra#5673)."""
KEYS_PER_SLOT = len(PYTHONS) * len(PLATFORMS) * 2
"""Keys one project version adds to one directory: a wheel and its sidecar per tag."""
TARGETS = {
    "cold CPU at 1M keys (s)": 15.0,
    "steady CPU at 1M keys (s)": 2.0,
    "steady HEAD+GET at 1M keys": 0,
    "steady pages written at 1M keys": 0,
    "peak memory at 1M keys (MiB)": 100.0,
    "peak memory at 100k keys (MiB)": 20.0,
}
LANE_FIGURES = Path(__file__).resolve().parents[1] / "dist" / "index-scale.json"
"""The opt-in Pyodide lane test's last figures (tests/lane/test_index_scale.py)."""
LANE_COMMAND = "FLARESUITE_INDEX_SCALE=1 uv run pytest tests/lane/test_index_scale.py -s"
LANE_KEYS = 300_000


def _object(key: str, size: int = 100_000, when: datetime = WHEN) -> SourceObject:
    return SourceObject(key, size, hashlib.md5(key.encode()).hexdigest(), when)


def _wheels(directory: str, project: str, version: str, when: datetime) -> Iterator[SourceObject]:
    for python in PYTHONS:
        for platform in PLATFORMS:
            key = f"{directory}/{project}-{version}-{python}-{platform}.whl"
            yield _object(key, when=when)
            yield _object(key + ".metadata", 400, when)


def synthetic_bucket(total: int) -> dict[str, list[SourceObject]]:
    """Directory -> its files (sorted, like a listing), about ``total`` keys in all."""
    directories: dict[str, list[SourceObject]] = {}
    for prefix in ("whl", "whl/nightly", "whl/test"):
        root = []
        for project in DEPENDENCIES:
            for minor in range(12):
                key = f"{prefix}/{project}-3.{minor}.0-py3-none-any.whl"
                root += [_object(key), _object(key + ".metadata", 400)]
        directories[prefix] = root
    for prefix, accelerators in (("whl", RELEASE_ACCELERATORS), ("whl/test", RELEASE_ACCELERATORS)):
        slots = max(1, round(total * SHARES[prefix] / KEYS_PER_SLOT / len(accelerators)))
        for accelerator in accelerators:
            files: list[SourceObject] = []
            for slot in range(slots):
                project = RELEASE_PROJECTS[slot % len(RELEASE_PROJECTS)]
                version = f"2.{slot // 30}.{slot % 30}+{accelerator}"
                files += _wheels(f"{prefix}/{accelerator}", project, version, WHEN)
            directories[f"{prefix}/{accelerator}"] = files
    per_day = KEYS_PER_SLOT * len(NIGHTLY_ACCELERATORS) * len(NIGHTLY_PROJECTS)
    days = max(1, round(total * SHARES["whl/nightly"] / per_day))
    for accelerator in NIGHTLY_ACCELERATORS:
        files = []
        for day in range(days):
            date = WHEN - timedelta(days=day)
            for project, base in NIGHTLY_PROJECTS:
                version = f"{base}.dev{date:%Y%m%d}+{accelerator}"
                files += _wheels(f"whl/nightly/{accelerator}", project, version, date)
        directories[f"whl/nightly/{accelerator}"] = files
    archives = max(1, round(total * SHARES["libtorch"] / len(RELEASE_ACCELERATORS) / 2))
    directories["libtorch"] = []
    for accelerator in RELEASE_ACCELERATORS:
        directories[f"libtorch/{accelerator}"] = [
            _object(
                f"libtorch/{accelerator}/libtorch-{kind}-2.{n // 30}.{n % 30}+{accelerator}.zip"
            )
            for n in range(archives)
            for kind in ("shared-with-deps", "cxx11-abi-shared-with-deps")
        ]
    return {
        directory: sorted(files, key=lambda o: o.key) for directory, files in directories.items()
    }


class SyntheticS3:
    """The bucket as an index source with S3's listing semantics and request accounting: one
    ListObjectsV2 page per 1,000 entries, one HEAD or GET per metadata request, each spending a
    subrequest of the run's budget as the Worker's metered fetch does."""

    def __init__(self, directories: Mapping[str, list[SourceObject]]) -> None:
        self.directories = directories
        self.budget: Budget | None = None
        self.metadata_requests = 0
        children: dict[str, set[str]] = {}
        for directory in directories:
            parts = directory.split("/")
            for depth in range(1, len(parts)):
                children.setdefault("/".join(parts[:depth]), set()).add(
                    "/".join(parts[: depth + 1])
                )
        self.children = {parent: sorted(paths) for parent, paths in children.items()}

    def _spend(self, listing: bool = False) -> None:
        assert self.budget is not None
        self.budget.spend(listing=listing)

    async def list_directory(self, directory: str) -> AsyncIterator[SourceObject | Subdirectory]:
        files = self.directories.get(directory, [])
        subdirectories = self.children.get(directory, [])
        for page in range(max(1, -(-(len(files) + len(subdirectories)) // 1000))):
            self._spend(listing=True)
            for obj in files[page * 1000 : (page + 1) * 1000]:
                yield obj
        for path in subdirectories:
            yield Subdirectory(path)

    async def sha256(self, obj: SourceObject) -> str | None:
        self._spend()
        self.metadata_requests += 1
        return hashlib.sha256(obj.key.encode()).hexdigest()

    async def read(self, obj: SourceObject) -> bytes:
        self._spend()
        self.metadata_requests += 1
        return METADATA

    async def index_page(self, key: str) -> bytes | None:
        self._spend()  # the synthetic bucket keeps no pages
        return None


class DigestBucket:
    """A page bucket that keeps each object's ETag, not its body: what a Worker's memory holds
    of R2 is nothing at all. R2 computes ETags on its side, so the CPU spent on them here is
    measured (:attr:`cpu`) and left out of the figures."""

    cpu = 0.0

    def __init__(self) -> None:
        self.etags: dict[str, str] = {}

    async def get(self, key: str) -> StoredObject | None:
        return None

    async def put(self, key: str, body: bytes, **options: object) -> None:
        started = time.process_time()
        self.etags[key] = hashlib.md5(body).hexdigest()
        DigestBucket.cpu += time.process_time() - started

    async def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.etags.pop(key, None)

    async def list(
        self, *, prefix: str = "", cursor: str | None = None, limit: int = 1000
    ) -> ListPage:
        return list_page(
            self.etags,
            lambda k: ListedObject(k, 0, self.etags[k]),
            prefix=prefix,
            cursor=cursor,
            limit=limit,
        )


def peak_rss_reset() -> None:
    """Resets the kernel's peak-RSS mark (``VmHWM``) for this process (Linux)."""
    Path("/proc/self/clear_refs").write_text("5")


def rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


@dataclass
class Measured:
    cpu: float
    peak_mib: float
    subrequests: int
    list_calls: int
    metadata_requests: int
    pages_written: int
    report: RunReport


async def measure(builder: IndexBuilder, source: SyntheticS3) -> Measured:
    budget = builder.budget()
    source.budget, source.metadata_requests = budget, 0
    baseline = rss_mib("VmRSS")
    peak_rss_reset()
    DigestBucket.cpu = 0.0
    cpu = time.process_time()
    report = await builder.run(budget)
    cpu = time.process_time() - cpu - DigestBucket.cpu
    peak = rss_mib("VmHWM") - baseline
    return Measured(
        cpu,
        peak,
        budget.subrequests,
        budget.list_calls,
        source.metadata_requests,
        sum(p.pages_written for p in report.prefixes),
        report,
    )


async def scenario(total: int) -> dict[str, Any]:
    directories = synthetic_bucket(total)
    keys = sum(len(files) for files in directories.values())
    source = SyntheticS3(directories)
    with tempfile.TemporaryDirectory() as state:
        config = BuildConfig(
            prefixes=("whl", "whl/nightly", "whl/test", "libtorch"),
            warn_after=(),
            stop_metadata_after=float("inf"),
            max_subrequests=None,
            concurrency=64,
        )
        builder = IndexBuilder(
            source,
            [DigestBucket(), DigestBucket()],
            DirectoryBucket(Path(state)),
            config=config,
            log=lambda *a, **k: None,
        )
        cold = await measure(builder, source)
        steady = await measure(builder, source)
        newest = directories["whl/nightly/cu126"]
        added = list(
            _wheels(
                "whl/nightly/cu126",
                "torch",
                f"2.8.0.dev{WHEN:%Y%m%d}+cu126",
                WHEN + timedelta(hours=1),
            )
        )[:2]
        added = [
            SourceObject(
                o.key.replace("cp310-cp310", "cp314-cp314"), o.size, o.etag, o.last_modified
            )
            for o in added
        ]
        directories["whl/nightly/cu126"] = sorted([*newest, *added], key=lambda o: o.key)
        hourly = await measure(builder, source)
    runs = {"cold": cold, "steady": steady, "hourly": hourly}
    return {
        "keys": keys,
        "runs": {
            name: {
                "cpu": run.cpu,
                "peak_mib": run.peak_mib,
                "subrequests": run.subrequests,
                "list_calls": run.list_calls,
                "metadata_requests": run.metadata_requests,
                "pages_written": run.pages_written,
                "status": run.report.status,
            }
            for name, run in runs.items()
        },
        "prefixes": [
            {
                "prefix": p.prefix,
                "status": p.status,
                "objects": p.objects,
                "distributions": p.distributions,
                "hidden": p.hidden,
                "pages": p.pages_written + p.pages_unchanged,
                "directories": p.directories,
            }
            for p in cold.report.prefixes
        ],
    }


def print_scenario(result: dict[str, Any]) -> None:
    keys = int(result["keys"])
    print(f"\n{keys:,} keys")
    print(
        f"{'run':<8}{'CPU s':>8}{'peak MiB':>10}{'subrequests':>13}{'list calls':>12}"
        f"{'HEAD+GET':>10}{'pages written':>15}"
    )
    runs: dict[str, dict[str, float]] = result["runs"]
    for name, run in runs.items():
        print(
            f"{name:<8}{run['cpu']:>8.2f}{run['peak_mib']:>10.1f}{run['subrequests']:>13,}"
            f"{run['list_calls']:>12,}{run['metadata_requests']:>10,}{run['pages_written']:>15,}"
        )
    per_100k = 100_000 / keys
    cold = runs["cold"]
    print(
        f"steady / cold CPU: {runs['steady']['cpu'] / cold['cpu']:.1%}; "
        f"hourly / cold CPU: {runs['hourly']['cpu'] / cold['cpu']:.1%}"
    )
    print(
        f"per 100k keys, cold: {cold['cpu'] * per_100k:.2f} s CPU, "
        f"{cold['subrequests'] * per_100k:,.0f} subrequests; steady: "
        f"{runs['steady']['cpu'] * per_100k:.2f} s CPU, "
        f"{runs['steady']['subrequests'] * per_100k:,.0f} subrequests"
    )
    print(f"{'prefix':<14}{'status':<9}{'objects':>9}{'dists':>8}{'hidden':>8}{'pages':>8}")
    for prefix in result["prefixes"]:
        print(
            f"{prefix['prefix']:<14}{prefix['status']:<9}{prefix['objects']:>9,}"
            f"{prefix['distributions']:>8,}{prefix['hidden']:>8,}{prefix['pages']:>8,}"
        )
        if prefix["status"] == "empty" or not prefix["pages"]:
            print(f"BUG: {prefix['prefix']} published nothing")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, action="append", help="bucket sizes (repeatable)")
    parser.add_argument("--scenario", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario:
        print(json.dumps(asyncio.run(scenario(args.scenario))))
        return
    results = {}
    for total in args.keys or (100_000, 1_000_000):
        done = subprocess.run(
            [sys.executable, __file__, "--scenario", str(total)],
            capture_output=True,
            text=True,
            check=True,
        )
        results[total] = json.loads(done.stdout)
        print_scenario(results[total])
    print("\ntargets (issue 11)")
    figures: dict[str, float] = {}
    for total, result in results.items():
        runs = result["runs"]
        if total >= 1_000_000:
            figures["cold CPU at 1M keys (s)"] = runs["cold"]["cpu"]
            figures["steady CPU at 1M keys (s)"] = runs["steady"]["cpu"]
            figures["steady HEAD+GET at 1M keys"] = runs["steady"]["metadata_requests"]
            figures["steady pages written at 1M keys"] = runs["steady"]["pages_written"]
            figures["peak memory at 1M keys (MiB)"] = max(r["peak_mib"] for r in runs.values())
        if total == 100_000:
            figures["peak memory at 100k keys (MiB)"] = max(r["peak_mib"] for r in runs.values())
    for name, target in TARGETS.items():
        if name not in figures:
            print(f"  {name:<42}{'-':>8}  target <= {target:g}: not measured (pass --keys)")
            continue
        verdict = "meets" if figures[name] <= target else "MISSES"
        print(f"  {name:<42}{figures[name]:>8.1f}  target <= {target:g}: {verdict}")
    for total, result in results.items():
        steady = result["runs"]["steady"]
        if steady["metadata_requests"] or steady["pages_written"]:
            print(f"  BUG: steady state at {total:,} keys fetched metadata or wrote pages")
    print_lane_figures()


def print_lane_figures(path: Path = LANE_FIGURES) -> None:
    """The Pyodide lane's row of the targets, from its last recorded run."""
    name = f"{LANE_KEYS // 1000}k keys on Pyodide (lane)"
    try:
        lane = json.loads(path.read_text())
        keys = int(lane["keys"])
        cold, steady, budget = lane["cold"], lane["steady"], int(lane["budget"])
        limit = float(lane["memory_limit"])
        memory = max(float(cold["memory"]), float(steady["memory"]))
        subrequests = max(int(cold["max_subrequests"]), int(steady["max_subrequests"]))
    except FileNotFoundError:
        print(f"  {name:<42}{'-':>8}  not run on this checkout: {LANE_COMMAND}")
        print(f"  {'':<42}{'':>8}  (about 9 minutes) records {_shown(path)}")
        return
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"  {name:<42}{'-':>8}  unreadable {path}: {error}")
        return
    memory_verdict = "meets" if memory <= limit else "MISSES"
    budget_verdict = "meets" if subrequests <= budget else "MISSES"
    if keys != LANE_KEYS:  # a run of another size is not the target
        memory_verdict = budget_verdict = f"not judged, measured at {keys:,} keys"
    print(
        f"  {name + ', memory (MB)':<42}{memory / 1e6:>8.1f}  target <= {limit / 1e6:g}: "
        f"{memory_verdict}"
    )
    print(
        f"  {name + ', subrequests':<42}{subrequests:>8,}  target <= {budget:,} per "
        f"invocation: {budget_verdict}"
    )
    print(
        f"  {'':<42}{'':>8}  last recorded {lane.get('measured_at', '?')} at {keys:,} keys "
        f"({cold['invocations']} cold and {steady['invocations']} steady invocations, "
        f"{float(lane.get('memory_at_start', 0)) / 1e6:.0f} MB at start), "
        f"from {_shown(path)}: {lane.get('command', LANE_COMMAND)}"
    )


def _shown(path: Path) -> str:
    """``path`` relative to the checkout when it is inside it."""
    try:
        return str(path.relative_to(LANE_FIGURES.parents[1]))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    main()
