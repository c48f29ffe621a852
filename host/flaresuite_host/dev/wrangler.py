"""One Worker of ``wrangler.toml``, as ``wrangler dev --env NAME`` would configure it.

wrangler's rule for environments (https://developers.cloudflare.com/workers/wrangler/environments/):
an ``[env.NAME]`` section *inherits* the top-level ``main``, ``compatibility_date``,
``compatibility_flags`` and ``triggers`` unless it sets them, but **not** ``vars`` or any
binding (``r2_buckets``, ``kv_namespaces``, ``durable_objects``, ``queues``): those it must
declare itself, which is why wrangler warns when the top level has them and an env does not.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flaresuite_host.arguments import UsageError

INHERITED = ("main", "compatibility_date", "compatibility_flags", "triggers")


@dataclass(frozen=True)
class QueueConsumer:
    """``[[queues.consumers]]``; unset options keep Cloudflare's defaults."""

    queue: str
    max_batch_size: int = 10
    max_batch_timeout: float = 5.0
    max_retries: int = 3
    retry_delay: int = 0
    dead_letter_queue: str | None = None


@dataclass(frozen=True)
class WorkerSpec:
    """What ``flaresuite dev`` serves: the entry module and that env's bindings and vars."""

    env: str | None
    name: str
    main: Path
    """Absolute path of the entry module; its directory holds the Worker's modules."""
    compatibility_date: str
    crons: tuple[str, ...] = ()
    r2_buckets: Mapping[str, str] = field(default_factory=dict)
    """Binding → bucket name (which names the local storage too, as in wrangler)."""
    kv_namespaces: Mapping[str, str] = field(default_factory=dict)
    """Binding → namespace id."""
    durable_objects: Mapping[str, str] = field(default_factory=dict)
    """Binding → class name."""
    queue_producers: Mapping[str, str] = field(default_factory=dict)
    """Binding → queue name."""
    queue_consumers: tuple[QueueConsumer, ...] = ()
    vars: Mapping[str, Any] = field(default_factory=dict)
    """As TOML gives them: a non-string var reaches the Worker as that JSON value, as in
    wrangler."""

    @property
    def label(self) -> str:
        return self.env or "(top level)"


def read_config(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise UsageError(f"no {path.name} at {path.parent}: pass --config") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{path} is not valid TOML: {error}") from None


def env_names(config: Mapping[str, Any]) -> list[str]:
    envs = config.get("env", {})
    return sorted(envs) if isinstance(envs, dict) else []


def worker_spec(config_path: Path, env: str | None) -> WorkerSpec:
    """The Worker ``wrangler dev [--env env]`` would run from ``config_path``."""
    config = read_config(config_path)
    section: Mapping[str, Any] = config
    if env is not None:
        known = env_names(config)
        if env not in known:
            raise UsageError(
                f"no [env.{env}] in {config_path.name}; "
                f"its environments are: {', '.join(known) or 'none'}"
            )
        section = config["env"][env]

    def inherited(key: str, default: Any = None) -> Any:
        return section.get(key, config.get(key, default))

    main = inherited("main")
    if not isinstance(main, str):
        where = f"[env.{env}]" if env else "the top level"
        raise UsageError(f"{config_path.name} names no `main` entry module for {where}")
    main_path = (config_path.parent / main).resolve()
    if main_path.suffix != ".py" or not main_path.is_file():
        raise UsageError(f"{config_path.name}: main = {main!r} is not a Python file")
    name = section.get("name") or (
        f"{config.get('name', 'worker')}-{env}" if env else config.get("name", "worker")
    )
    queues = section.get("queues", {})
    return WorkerSpec(
        env=env,
        name=str(name),
        main=main_path,
        compatibility_date=str(inherited("compatibility_date", "2026-11-01")),
        crons=tuple(str(c) for c in (inherited("triggers") or {}).get("crons", [])),
        r2_buckets={
            b["binding"]: b.get("bucket_name", b["binding"]) for b in section.get("r2_buckets", [])
        },
        kv_namespaces={
            b["binding"]: b.get("id", b["binding"]) for b in section.get("kv_namespaces", [])
        },
        durable_objects={
            b["name"]: b["class_name"]
            for b in section.get("durable_objects", {}).get("bindings", [])
            if "script_name" not in b
        },
        queue_producers={p["binding"]: p["queue"] for p in queues.get("producers", [])},
        queue_consumers=tuple(_consumer(c) for c in queues.get("consumers", [])),
        vars=dict(section.get("vars", {})),
    )


def _consumer(entry: Mapping[str, Any]) -> QueueConsumer:
    defaults = QueueConsumer(entry["queue"])
    return QueueConsumer(
        queue=entry["queue"],
        max_batch_size=int(entry.get("max_batch_size", defaults.max_batch_size)),
        max_batch_timeout=float(entry.get("max_batch_timeout", defaults.max_batch_timeout)),
        max_retries=int(entry.get("max_retries", defaults.max_retries)),
        retry_delay=int(entry.get("retry_delay", defaults.retry_delay)),
        dead_letter_queue=entry.get("dead_letter_queue"),
    )
