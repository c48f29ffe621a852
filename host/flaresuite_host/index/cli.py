"""``flaresuite index build``: the index builder on a local directory of wheels or an S3 bucket.

With no source it indexes the embedded demo tree (see :mod:`flaresuite_host.index.demo`), which is
the README's first command.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
from dataclasses import replace
from pathlib import Path

from flaresuite.errors import ConfigError
from flaresuite.index.builder import BuildConfig, IndexBuilder, RunReport
from flaresuite.index.core_metadata import InvalidWheel
from flaresuite.index.layout import parse_prefix
from flaresuite.index.s3source import S3Source
from flaresuite.logs import stderr_json_log
from flaresuite.s3 import Credentials, S3Client
from flaresuite.s3.addressing import check_endpoint
from flaresuite_host.arguments import UsageError, checked, positive_int
from flaresuite_host.index.demo import write_demo_tree
from flaresuite_host.index.filesystem import DirectoryBucket
from flaresuite_host.index.sidecars import write_sidecars
from flaresuite_host.index.wheeldir import WheelDirectory
from flaresuite_host.progress import ProgressBar
from flaresuite_host.transport import httpx_fetch

DEFAULT_OUT = Path("flaresuite-index")
DEFAULTS = BuildConfig()


def add_commands(group: argparse.ArgumentParser) -> None:
    """Adds the sub-commands of ``flaresuite index`` to its parser."""
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")
    build = commands.add_parser(
        "build",
        help="index a directory of wheels (default: the embedded demo) or an S3 bucket",
        description=(
            "Build the same pages the index Worker publishes. Without --source or --s3-bucket, "
            f"the embedded demo wheels are written to --out (default ./{DEFAULT_OUT}) and "
            "indexed in place."
        ),
    )
    source = build.add_mutually_exclusive_group()
    source.add_argument(
        "--source",
        type=Path,
        metavar="DIR",
        help="directory whose layout mirrors bucket keys (DIR/whl/cpu/x.whl)",
    )
    source.add_argument("--s3-bucket", metavar="BUCKET", help="index an S3 bucket instead")
    build.add_argument(
        "--s3-endpoint",
        type=checked(check_endpoint),
        metavar="URL",
        help="S3-compatible endpoint (default: AWS for --s3-region)",
    )
    build.add_argument("--s3-region", metavar="REGION", help="default: us-east-1")
    build.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where pages are written (default: the source directory, in place)",
    )
    build.add_argument(
        "--prefix",
        action="append",
        dest="prefixes",
        metavar="PREFIX",
        type=checked(parse_prefix),
        help=f"prefix to index; repeatable (default: {', '.join(DEFAULTS.prefixes)})",
    )
    build.add_argument(
        "--nightly-keep",
        type=positive_int,
        default=DEFAULTS.nightly_keep,
        metavar="N",
        help=f"newest versions kept per project on whl/nightly (default {DEFAULTS.nightly_keep})",
    )
    build.add_argument(
        "--concurrency",
        type=positive_int,
        default=DEFAULTS.concurrency,
        metavar="N",
        help=f"requests in flight (default {DEFAULTS.concurrency})",
    )
    build.add_argument("--json", action="store_true", help="print the run report as JSON")
    build.add_argument("--verbose", action="store_true", help="structured JSON logs on stderr")
    build.set_defaults(run=run_build)


def run_build(args: argparse.Namespace) -> int:
    if not args.s3_bucket and (args.s3_endpoint or args.s3_region):
        raise UsageError("--s3-endpoint and --s3-region need --s3-bucket")
    out = args.out or (args.source if args.source is not None else DEFAULT_OUT)
    if out.exists() and not out.is_dir():
        raise UsageError(f"output directory is a file: {out}")
    return asyncio.run(_build(args))


async def _build(args: argparse.Namespace) -> int:

    config = replace(
        DEFAULTS,
        prefixes=tuple(dict.fromkeys(args.prefixes or DEFAULTS.prefixes)),
        nightly_keep=args.nightly_keep,
        concurrency=args.concurrency,
        # A local build has no Worker CPU limit: fetch every checksum, however long it takes.
        warn_after=(),
        stop_metadata_after=math.inf,
    )
    progress = ProgressBar()
    log = stderr_json_log if args.verbose else _quiet_log
    if args.s3_bucket:
        out = args.out or DEFAULT_OUT
        report = await _build_from_s3(args, config, DirectoryBucket(out), progress, log)
    else:
        root = _local_source(args)
        out = args.out or root
        report = await _build_from_directory(root, out, config, progress, log)
    progress.close()
    _print_report(report, out, args.json)
    return 0 if report.status == "ok" else 1


def _local_source(args: argparse.Namespace) -> Path:

    if args.source is None:
        root = args.out or DEFAULT_OUT
        try:
            write_demo_tree(root)
        except OSError as error:
            raise UsageError(f"cannot write {error.filename}: {error.strerror}") from None
        return root
    if not args.source.is_dir():
        raise UsageError(f"source directory not found: {args.source}")
    return args.source


async def _build_from_directory(root, out, config, progress, log) -> RunReport:

    try:
        # Serving the tree needs the PEP 658 files the pages advertise; writing them first also
        # rejects an unreadable wheel before any page changes.
        write_sidecars(root, out, config.prefixes)
    except InvalidWheel as error:
        raise UsageError(f"unreadable wheel: {error}") from None
    except OSError as error:
        raise UsageError(f"cannot read {error.filename}: {error.strerror}") from None
    builder = IndexBuilder(
        WheelDirectory(root), [DirectoryBucket(out)], config=config, log=log, progress=progress
    )
    return await builder.run()


async def _build_from_s3(args, config, destination, progress, log) -> RunReport:

    try:
        credentials = Credentials.from_env(os.environ)
    except ConfigError as error:
        raise UsageError(str(error)) from None
    async with httpx_fetch() as fetch:
        client = S3Client(
            fetch,
            region=args.s3_region or "us-east-1",
            endpoint=args.s3_endpoint,
            credentials=credentials,
        )
        builder = IndexBuilder(
            S3Source(client, args.s3_bucket),
            [destination],
            config=config,
            log=log,
            progress=progress,
        )
        return await builder.run()


def _quiet_log(event: str, /, **fields: object) -> None:
    if event in ("index.rejected", "index.budget_warning", "index.cache_discarded"):
        stderr_json_log(event, **fields)


def _print_report(report: RunReport, out: Path, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
        return
    for prefix in report.prefixes:
        line = (
            f"{prefix.prefix:<20} {prefix.status:<8} {prefix.distributions:>6} files  "
            f"{prefix.pages_written:>5} pages written  {prefix.pages_unchanged:>5} unchanged"
        )
        if prefix.error:
            line += f"  error: {prefix.error}"
        print(line)
    print(f"{report.status}: index in {out}/ ({report.seconds:.2f} s). Serve it with:")
    print(f"  python3 -m http.server --directory {out} 8000")
    print("  pip download --no-deps --index-url http://127.0.0.1:8000/whl/cpu/ torch")
