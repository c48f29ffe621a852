"""``flaresuite index``: build the index builder's pages from a local directory of wheels or an
S3 bucket (``build``), and serve a built index with PEP 691 negotiation (``serve``).

With no source, ``build`` indexes the embedded demo tree (:mod:`flaresuite_host.index.demo`),
which is the README's first command. A directory laid out like the bucket (``DIR/whl/cpu/…``)
is indexed prefix by prefix; a plain directory of wheels (as dumb-pypi and ``pip
--find-links`` users keep them) is indexed as one index root.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

from flaresuite.config import EnvReader
from flaresuite.errors import RuntimeFailure
from flaresuite.index.builder import BuildConfig, IndexBuilder
from flaresuite.index.core_metadata import InvalidWheel
from flaresuite.index.layout import (
    DEFAULT_ALLOW_LIST_PREFIXES,
    ROOT,
    parse_base_url,
    parse_prefix,
)
from flaresuite.index.report import RunReport
from flaresuite.index.s3source import S3Source
from flaresuite.index.source import Source
from flaresuite.logs import Log, stderr_json_log
from flaresuite.s3 import S3Client
from flaresuite.s3.addressing import check_endpoint
from flaresuite.s3.credentials import read_credentials
from flaresuite.s3.sts import credential_source
from flaresuite_host.arguments import UsageError, checked, positive_int
from flaresuite_host.index.demo import write_demo_tree
from flaresuite_host.index.filesystem import DirectoryBucket
from flaresuite_host.index.serve import make_server
from flaresuite_host.index.sidecars import write_sidecars
from flaresuite_host.index.tree import has_bucket_layout, indexed_files
from flaresuite_host.index.wheeldir import WheelDirectory
from flaresuite_host.progress import ProgressBar
from flaresuite_host.transport import httpx_fetch

DEFAULT_OUT = Path("flaresuite-index")
STATE_DIR = ".flaresuite-state"
"""Run state of a local build, inside the output directory (hidden: never listed or served)."""
DEFAULTS = BuildConfig()
SERVE_PORT = 8000


def add_commands(group: argparse.ArgumentParser) -> None:
    """Adds the sub-commands of ``flaresuite index`` to its parser."""
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_build(
        commands.add_parser(
            "build",
            help="index a directory of wheels (default: the embedded demo) or an S3 bucket",
            description=(
                "Build the same pages the index Worker publishes. Without --source or --s3-bucket, "
                f"the embedded demo wheels are written to --out (default ./{DEFAULT_OUT}) and "
                "indexed in place."
            ),
        )
    )
    serve = commands.add_parser(
        "serve",
        help="serve a built index locally (PEP 691: JSON or HTML, as the client asks)",
        description="Serve DIR over HTTP; index directories answer in JSON or HTML per Accept.",
    )
    serve.add_argument("directory", type=Path, metavar="DIR", nargs="?", default=DEFAULT_OUT)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=positive_int, default=SERVE_PORT, metavar="PORT")
    serve.set_defaults(run=run_serve)


def _add_build(build: argparse.ArgumentParser) -> None:
    source = build.add_mutually_exclusive_group()
    source.add_argument(
        "--source",
        type=Path,
        metavar="DIR",
        help="directory of wheels: laid out like the bucket (DIR/whl/cpu/x.whl), or plain",
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
        help="where pages are written (default: the source directory, in place); the indexed "
        "files are linked into it unless --base-url says where they are served",
    )
    build.add_argument(
        "--base-url",
        type=checked(parse_base_url),
        metavar="URL",
        help="link files at URL/<key> instead of /<key> (FILE_BASE_URL)",
    )
    build.add_argument(
        "--prefix",
        action="append",
        dest="prefixes",
        metavar="PREFIX",
        type=checked(parse_prefix),
        help=f"prefix to index; repeatable (default: {', '.join(DEFAULTS.prefixes)}, or the "
        "directory itself when it has no bucket layout)",
    )
    build.add_argument(
        "--allow-list-prefix",
        action="append",
        dest="allow_list_prefixes",
        metavar="PREFIX",
        type=checked(parse_prefix),
        help="publish only PyTorch's allow-listed projects there; repeatable (default for the "
        f"demo and S3: {', '.join(DEFAULT_ALLOW_LIST_PREFIXES)}; for --source: none)",
    )
    build.add_argument(
        "--no-allow-list",
        action="store_true",
        help="publish every project everywhere, whatever the source",
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


@dataclass(frozen=True)
class Plan:
    """What a build reads and writes, decided from the arguments before anything runs."""

    out: Path
    prefixes: tuple[str, ...]
    source: Path | None
    """The local source directory; ``None`` for an S3 bucket."""
    files_served: bool
    """Whether a server on ``out`` can serve what the pages link (hint only when true)."""


def run_build(args: argparse.Namespace) -> int:
    if not args.s3_bucket and (args.s3_endpoint or args.s3_region):
        raise UsageError("--s3-endpoint and --s3-region need --s3-bucket")
    # Every argument is checked before _plan, which writes the demo tree: bad input writes nothing.
    allow_list_prefixes = frozenset(_allow_list_prefixes(args))
    plan = _plan(args)
    config = replace(
        DEFAULTS,
        prefixes=plan.prefixes,
        allow_list_prefixes=allow_list_prefixes,
        nightly_keep=args.nightly_keep,
        concurrency=args.concurrency,
        file_base_url=args.base_url or "",
        # A local build has no Worker limits: fetch every checksum, however long it takes.
        warn_after=(),
        stop_metadata_after=math.inf,
        max_subrequests=None,
    )
    log: Log = stderr_json_log if args.verbose else _quiet_log
    progress = ProgressBar()
    try:
        if plan.source is None:
            report = asyncio.run(_build_from_s3(args, plan, config, progress, log))
        else:
            report = asyncio.run(_build_from_directory(plan, config, progress, log))
    finally:
        progress.close()
    _print_report(report, plan, as_json=args.json)
    if _found_nothing(report):
        raise RuntimeFailure(_nothing_published(args, plan, report))
    return 0 if report.status == "ok" else 1


def _found_nothing(report: RunReport) -> bool:
    """A run that went well but found no distribution to publish: a failure for the CLI,
    whose user asked for an index of something."""
    return report.status == "ok" and not any(prefix.distributions for prefix in report.prefixes)


def _nothing_published(args: argparse.Namespace, plan: Plan, report: RunReport) -> str:
    where = f"s3://{args.s3_bucket}" if plan.source is None else str(plan.source)
    under = ", ".join(prefix or "." for prefix in plan.prefixes)
    hidden = sum(prefix.hidden for prefix in report.prefixes)
    if hidden:
        return (
            f"nothing to index: all {hidden} distributions in {where} under {under} are hidden "
            "by the allow list (pass --no-allow-list to publish them)"
        )
    return (
        f"nothing to index: no distribution (.whl, .tar.gz, .zip, -variants.json) found in "
        f"{where} under {under}"
    )


def _plan(args: argparse.Namespace) -> Plan:
    """Decides what the build reads and writes; the demo tree is the only thing written here,
    once ``out`` is known to be usable."""
    out: Path = args.out or (args.source if args.source is not None else DEFAULT_OUT)
    if out.exists() and not out.is_dir():
        raise UsageError(f"output directory is a file: {out}")
    if args.s3_bucket:
        prefixes = tuple(dict.fromkeys(args.prefixes or DEFAULTS.prefixes))
        return Plan(out, prefixes, None, files_served=bool(args.base_url))
    if args.source is None:
        root = out
        try:
            write_demo_tree(root)
        except OSError as error:
            raise UsageError(f"cannot write {error.filename}: {error.strerror}") from None
    elif not args.source.is_dir():
        raise UsageError(f"source directory not found: {args.source}")
    else:
        root = args.source
    if args.prefixes:
        prefixes = tuple(dict.fromkeys(args.prefixes))
    elif has_bucket_layout(root):
        prefixes = tuple(DEFAULTS.prefixes)
    else:
        prefixes = (ROOT,)
    return Plan(out, prefixes, root, files_served=True)


def _allow_list_prefixes(args: argparse.Namespace) -> tuple[str, ...]:
    if args.no_allow_list:
        if args.allow_list_prefixes:
            raise UsageError("--no-allow-list and --allow-list-prefix contradict each other")
        return ()
    if args.allow_list_prefixes:
        return tuple(args.allow_list_prefixes)
    if args.source is not None:
        return ()  # your own wheels: every project is yours to publish
    return DEFAULT_ALLOW_LIST_PREFIXES


async def _build_from_directory(
    plan: Plan, config: BuildConfig, progress: ProgressBar, log: Log
) -> RunReport:
    assert plan.source is not None
    try:
        # Serving the tree needs the files the pages advertise; writing the PEP 658 sidecars
        # first also rejects an unreadable wheel before any page changes.
        if plan.out.resolve() != plan.source.resolve() and not config.file_base_url:
            link_files(plan.source, plan.out, plan.prefixes)
        write_sidecars(plan.source, plan.out, plan.prefixes)
    except InvalidWheel as error:
        raise UsageError(f"unreadable wheel: {error}") from None
    except OSError as error:
        raise UsageError(f"cannot read or write {error.filename}: {error.strerror}") from None
    return await _run(WheelDirectory(plan.source), plan, config, progress, log)


def link_files(root: Path, out: Path, prefixes: tuple[str, ...]) -> None:
    """Makes ``out`` hold the indexed files of ``root`` at the same relative paths, so the pages
    written there link to files a static server finds: hard links where the filesystem allows,
    symbolic links elsewhere."""
    for path in indexed_files(root, prefixes):
        target = out / path.relative_to(root)
        if target.exists() and target.samefile(path):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        try:
            os.link(path, target)
        except OSError:
            target.symlink_to(path.resolve())


async def _build_from_s3(
    args: argparse.Namespace, plan: Plan, config: BuildConfig, progress: ProgressBar, log: Log
) -> RunReport:
    """The same credentials as the Worker's (a key pair, optionally assuming ``AWS_ROLE_ARN``),
    from the environment; a misconfiguration is a ``ConfigError`` (exit 2)."""
    reader = EnvReader(os.environ)
    settings = read_credentials(reader)
    reader.check()
    region = args.s3_region or "us-east-1"
    async with httpx_fetch() as fetch:
        client = S3Client(
            fetch,
            region=region,
            endpoint=args.s3_endpoint,
            credentials=credential_source(settings, fetch=fetch, region=region),
        )
        return await _run(S3Source(client, args.s3_bucket), plan, config, progress, log)


async def _run(
    source: Source, plan: Plan, config: BuildConfig, progress: ProgressBar, log: Log
) -> RunReport:
    """One build into ``plan.out``, its run state kept beside the pages (a local tree has no
    public readers to hide it from)."""
    builder = IndexBuilder(
        source,
        [DirectoryBucket(plan.out)],
        DirectoryBucket(plan.out / STATE_DIR),
        config=config,
        log=log,
        progress=progress,
    )
    return await builder.run()


def _quiet_log(event: str, /, **fields: object) -> None:
    if event in ("index.rejected", "index.budget_warning", "index.state_discarded"):
        stderr_json_log(event, **fields)


def _print_report(report: RunReport, plan: Plan, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
        return
    for prefix in report.prefixes:
        line = (
            f"{prefix.prefix or '.':<20} {prefix.status:<8} {prefix.distributions:>6} files  "
            f"{prefix.pages_written:>5} pages written  {prefix.pages_unchanged:>5} unchanged"
        )
        if prefix.hidden:
            line += f"  {prefix.hidden} hidden"
        if prefix.skipped_directories:
            line += f"  skipped: {', '.join(prefix.skipped_directories)}"
        if prefix.error:
            line += f"  error: {prefix.error}"
        print(line)
    if _found_nothing(report):  # the reason follows on stderr
        print(f"empty: nothing indexed, no page written in {plan.out}/ ({report.seconds:.2f} s)")
        return
    print(f"{report.status}: index in {plan.out}/ ({report.seconds:.2f} s)")
    if report.status != "ok":
        return
    if not plan.files_served:
        print("  its pages link files at /<key>: pass --base-url with the bucket's public URL")
        return
    index = _example_index(plan)
    print("Serve it with:")
    print(f"  flaresuite index serve {plan.out}")
    print(f"  pip download --no-deps --index-url http://127.0.0.1:{SERVE_PORT}/{index} <project>")


def _example_index(plan: Plan) -> str:
    """An index URL path worth trying: ``whl/cpu/`` for the demo, else the first prefix."""
    if (plan.out / "whl" / "cpu" / "index.html").is_file():
        return "whl/cpu/"
    first = plan.prefixes[0]
    return f"{first}/" if first else ""


def run_serve(args: argparse.Namespace) -> int:
    directory: Path = args.directory
    if not (directory / "index.html").is_file() and not any(directory.glob("*/index.html")):
        raise UsageError(f"no built index in {directory} (run flaresuite index build first)")
    try:
        server = make_server(directory, args.host, args.port)
    except OSError as error:
        raise RuntimeFailure(
            f"cannot listen on {args.host}:{args.port}: {error.strerror}"
        ) from None
    print(f"serving {directory}/ at http://{args.host}:{server.server_port}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
