"""``flaresuite dev``: run a Worker of wrangler.toml locally on the Pyodide lane, offline.

``flaresuite dev [--env NAME]`` serves the Worker over HTTP as ``wrangler dev`` would: the
interpreter Cloudflare uses (Pyodide 314), that environment's R2, KV and queue bindings
(Miniflare's, persisted under ``.wrangler/state/v3``), its Durable Objects (the lane's, also
persisted), vars from wrangler.toml and secrets from ``.dev.vars``. ``GET /__scheduled?cron=``
runs the cron handler. ``flaresuite dev r2|kv ls|get|put`` reads and writes the same local
storage. docs/runtime.md ("flaresuite dev") describes all of it.
"""

from __future__ import annotations

import argparse
import base64
import errno
import importlib
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import quote_plus

from flaresuite.config import Setting
from flaresuite.errors import RuntimeFailure
from flaresuite_host.arguments import UsageError
from flaresuite_host.dev.devvars import DevVars, missing_settings, read_dev_vars
from flaresuite_host.dev.lane import LaneFailed, LaneProcess, lane_config
from flaresuite_host.dev.wrangler import WorkerSpec, worker_spec

DEFAULT_PORT = 8787
STATE_DIR = Path(".wrangler") / "state"
PERSIST_DIR = STATE_DIR / "v3"
"""Where wrangler dev keeps local state, relative to wrangler.toml; so does flaresuite dev."""


def add_commands(group: argparse.ArgumentParser) -> None:
    """Adds ``flaresuite dev`` (serve) and its ``r2``/``kv`` sub-commands to its parser."""
    _shared(group, None)
    group.add_argument("--host", default="127.0.0.1", help="address to listen on")
    group.add_argument("--port", type=_port, default=DEFAULT_PORT)
    group.add_argument(
        "--reset",
        action="store_true",
        help="wipe the local state (R2, KV, queues, Durable Objects of every Worker) first",
    )
    group.add_argument(
        "--var",
        action="append",
        default=[],
        type=_var,
        metavar="NAME:VALUE",
        help="a var or secret for this run, over wrangler.toml and .dev.vars; repeatable",
    )
    group.set_defaults(run=run_serve)
    commands = group.add_subparsers(dest="command", metavar="COMMAND")

    for kind, noun in (("r2", "object"), ("kv", "key")):
        store = commands.add_parser(kind, help=f"read and write the local {kind.upper()} storage")
        actions = store.add_subparsers(dest="action", required=True, metavar="ACTION")
        ls = actions.add_parser("ls", help=f"list {noun}s")
        ls.add_argument("binding")
        ls.add_argument("prefix", nargs="?", default="")
        get = actions.add_parser("get", help=f"print one {noun}'s value")
        get.add_argument("binding")
        get.add_argument("key")
        get.add_argument("--output", "-o", type=Path, help="write it to this file instead")
        put = actions.add_parser("put", help=f"write one {noun}")
        put.add_argument("binding")
        put.add_argument("key")
        put.add_argument("--file", "-f", type=Path, help="the value (default: standard input)")
        if kind == "r2":
            put.add_argument("--content-type")
        for action in (ls, get, put):
            _shared(action, argparse.SUPPRESS)
            action.set_defaults(run=run_r2 if kind == "r2" else run_kv)


def _shared(parser: argparse.ArgumentParser, default: Any) -> None:
    """--env/--config/--persist-to, accepted before and after the sub-command."""
    parser.add_argument(
        "--env", default=default, help="a [env.NAME] of wrangler.toml (default: the top level)"
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("wrangler.toml") if default is None else default,
        help="wrangler.toml to read (default: ./wrangler.toml)",
    )
    parser.add_argument(
        "--persist-to",
        type=Path,
        default=default,
        metavar="DIR",
        help=f"local state directory (default: {PERSIST_DIR} next to wrangler.toml)",
    )


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, got {port}")
    return port


def _var(text: str) -> tuple[str, str]:
    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME:VALUE, got {text.split(':')[0]!r}...")
    return name.strip(), value


def _persist(args: argparse.Namespace) -> Path:
    if args.persist_to is not None:
        return Path(args.persist_to).resolve()
    return Path(args.config).resolve().parent / PERSIST_DIR


def settings_of(spec: WorkerSpec) -> tuple[str, tuple[Setting, ...] | None]:
    """The config module of the Worker's area (``src/<area>_worker.py`` reads
    ``flaresuite.<area>.config``) and its ``SETTINGS``, or None when it declares none."""
    area = spec.main.stem.removesuffix("_worker")
    module_name = f"flaresuite.{area}.config"
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return module_name, None
    settings = getattr(module, "SETTINGS", None)
    return module_name, tuple(settings) if settings is not None else None


def run_serve(args: argparse.Namespace) -> int:
    began = _process_start()
    config_path = args.config.resolve()
    spec = worker_spec(config_path, args.env)
    dev_vars = read_dev_vars(config_path.parent, args.env)
    values: dict[str, object] = {**spec.vars, **dev_vars.values, **dict(args.var)}
    module_name, settings = settings_of(spec)
    _check_settings(spec, settings, values, dev_vars)
    persist = _persist(args)
    if args.reset:
        wiped = persist.parent if args.persist_to is None else persist
        shutil.rmtree(wiped, ignore_errors=True)
    _check_port(args.host, args.port)

    lane = LaneProcess(lane_config(spec, values, persist))
    try:
        try:
            served = lane.call("serve", host=args.host, port=args.port)
        except LaneFailed as error:
            if "EADDRINUSE" in str(error):
                raise UsageError(_port_in_use(args.host, args.port)) from None
            raise
        served = {**served, "timings": lane.started["timings"]}
        _banner(spec, module_name, settings, values, dev_vars, persist, served, began)
        return _serve_until_stopped(lane)
    finally:
        lane.close()


def _check_settings(
    spec: WorkerSpec,
    settings: tuple[Setting, ...] | None,
    values: Mapping[str, object],
    dev_vars: DevVars,
) -> None:
    if settings is None:
        return
    missing = missing_settings(settings, values)
    if missing.required:
        where = dev_vars.path.name if dev_vars.path else _dev_vars_name(spec.env)
        names = ", ".join(f"{s.name} ({'secret' if s.secret else 'var'})" for s in missing.required)
        raise UsageError(
            f"{spec.name} needs settings that are not set: {names}. Put them in {where} next "
            "to wrangler.toml (see .dev.vars.example), or pass --var NAME:VALUE"
        )


def _dev_vars_name(env: str | None) -> str:
    return f".dev.vars.{env} (or .dev.vars)" if env else ".dev.vars"


def _check_port(host: str, port: int) -> None:
    """Refuses a port another server holds, before paying for the lane's start-up."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise UsageError(f"cannot listen on {host!r}: {error.strerror}") from None
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As Node listens: SO_REUSEADDR, so a port in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise UsageError(_port_in_use(host, port)) from None
            raise UsageError(f"cannot listen on {host}:{port}: {error.strerror}") from None


def _port_in_use(host: str, port: int) -> str:
    return f"port {port} on {host} is in use (another dev server?); choose another with --port"


def _banner(
    spec: WorkerSpec,
    module_name: str,
    settings: tuple[Setting, ...] | None,
    values: Mapping[str, object],
    dev_vars: DevVars,
    persist: Path,
    served: Mapping[str, Any],
    began: float,
) -> None:
    url = served["url"]
    env = f" (--env {spec.env})" if spec.env else ""
    lines = [f"flaresuite dev: {spec.name}{env}, {spec.main.name} on Pyodide 314"]
    for binding, bucket in spec.r2_buckets.items():
        lines.append(f"  R2 bucket       env.{binding} -> {bucket}")
    for binding, namespace in spec.kv_namespaces.items():
        lines.append(f"  KV namespace    env.{binding} -> {namespace}")
    for binding, class_name in spec.durable_objects.items():
        lines.append(f"  Durable Object  env.{binding} -> {class_name}")
    for binding, queue in spec.queue_producers.items():
        lines.append(f"  Queue producer  env.{binding} -> {queue}")
    for consumer in spec.queue_consumers:
        lines.append(f"  Queue consumer  {consumer.queue}")
    secret = {s.name for s in settings or () if s.secret}
    for name in sorted(values):
        kind = "secret" if name in secret or name in dev_vars.values else "var"
        lines.append(f"  {kind:<15} {name}")
    if dev_vars.path is not None:
        lines.append(f"  (secrets from {dev_vars.path})")
    if settings is None:
        lines.append(f"  ({module_name} declares no SETTINGS: required settings not checked)")
    else:
        optional = missing_settings(settings, values).optional_secrets
        if optional:
            names = ", ".join(s.name for s in optional)
            lines.append(f"  not set (optional secrets): {names}")
    for cron in spec.crons:
        lines.append(f'  cron "{cron}": curl "{url}/__scheduled?cron={quote_plus(cron)}"')
    lines.append(f"  state in {persist}")
    lines.append(f"  Pyodide memory {served['memory'] / 2**20:.1f} MiB (Cloudflare allows 128 MiB)")
    elapsed = time.monotonic() - began
    seconds = {name: ms / 1000 for name, ms in served["timings"].items()}
    # Miniflare starts while Pyodide loads; its own figure is not shown, since its promise
    # settles only when Pyodide's (synchronous) load lets the event loop run.
    beside = ", Miniflare beside it" if _uses_miniflare(spec) else ""
    lines.append(
        f"Ready on {url} (started in {elapsed:.1f} s: Pyodide {seconds['pyodide_ms']:.1f} s"
        f"{beside}, then the entry module {seconds['import_ms']:.1f} s). Ctrl-C to stop."
    )
    print("\n".join(lines), flush=True)


def _uses_miniflare(spec: WorkerSpec) -> bool:
    """The lane starts Miniflare only for R2, KV and queues (lane/lane.mjs)."""
    queues = spec.queue_producers or spec.queue_consumers
    return bool(spec.r2_buckets or spec.kv_namespaces or queues)


def _process_start() -> float:
    """When this process began, as a ``time.monotonic()`` value, so "started in" includes the
    interpreter's own start and the CLI's imports, as a developer waits for them. Its age comes
    from /proc (start time after boot, against ``CLOCK_BOOTTIME``); without /proc: now."""
    try:
        # /proc/self/stat: field 22, starttime, in clock ticks after boot; the command name
        # (field 2) may hold spaces, so the fields are counted after its closing parenthesis.
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic()
    return time.monotonic() - max(age, 0.0)


class _Stop(Exception):
    """SIGTERM, handled like Ctrl-C."""


def _serve_until_stopped(lane: LaneProcess) -> int:
    def stop(signum: int, frame: FrameType | None) -> None:
        raise _Stop

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        status = lane.wait()
    except (KeyboardInterrupt, _Stop):
        print("flaresuite dev: stopping", file=sys.stderr, flush=True)
        lane.close()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
    if status != 0:
        raise RuntimeFailure(f"the lane exited with status {status}")
    return 0


def _spec_binding(args: argparse.Namespace, kind: str) -> tuple[WorkerSpec, str]:
    spec = worker_spec(args.config.resolve(), getattr(args, "env", None))
    bindings = spec.r2_buckets if kind == "r2" else spec.kv_namespaces
    if args.binding not in bindings:
        noun = "R2 bucket" if kind == "r2" else "KV namespace"
        raise UsageError(
            f"{spec.label} has no {noun} binding {args.binding}; "
            f"it has: {', '.join(bindings) or 'none'}"
        )
    return spec, args.binding


def _bindings_lane(args: argparse.Namespace, spec: WorkerSpec) -> LaneProcess:
    return LaneProcess(lane_config(spec, {}, _persist(args), bindings_only=True), quiet=True)


def _value(args: argparse.Namespace) -> bytes:
    if args.file is None:
        return sys.stdin.buffer.read()
    try:
        return Path(args.file).read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {args.file}: {error.strerror}") from None


def _emit(args: argparse.Namespace, data: bytes) -> None:
    if args.output is not None:
        args.output.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def run_r2(args: argparse.Namespace) -> int:
    spec, binding = _spec_binding(args, "r2")
    lane = _bindings_lane(args, spec)
    try:
        if args.action == "ls":
            for key in lane.call("r2_list", bucket=binding, prefix=args.prefix):
                print(key)
        elif args.action == "get":
            found = lane.call("r2_get", bucket=binding, key=args.key)
            if found is None:
                raise RuntimeFailure(f"no object {args.key!r} in {binding}")
            _emit(args, base64.b64decode(found["body"]))
        else:
            body = base64.b64encode(_value(args)).decode()
            lane.call(
                "r2_put",
                bucket=binding,
                key=args.key,
                body=body,
                content_type=args.content_type,
                cache_control=None,
                custom_metadata={},
            )
    finally:
        lane.close()
    return 0


def run_kv(args: argparse.Namespace) -> int:
    spec, binding = _spec_binding(args, "kv")
    lane = _bindings_lane(args, spec)
    try:
        if args.action == "ls":
            for key in lane.call("kv_list", namespace=binding, prefix=args.prefix):
                print(key["name"])
        elif args.action == "get":
            value = lane.call("kv_get", namespace=binding, key=args.key)
            if value is None:
                raise RuntimeFailure(f"no key {args.key!r} in {binding}")
            _emit(args, value.encode())
        else:
            try:
                text = _value(args).decode()
            except UnicodeDecodeError:
                raise UsageError("a KV value here must be UTF-8 text") from None
            lane.call("kv_put", namespace=binding, key=args.key, value=text, expiration_ttl=None)
    finally:
        lane.close()
    return 0
