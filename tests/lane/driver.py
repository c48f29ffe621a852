"""Drive the Pyodide lane (lane/lane.mjs) from pytest.

One Node 22 process runs one Worker's entry module on Pyodide 314 with real Miniflare
R2/KV/Queues bindings and in-process Durable Objects. :class:`Lane` speaks the lane's JSON-lines
protocol over the process's stdin/stdout, one command at a time; the ``lane_factory`` fixture in
``conftest.py`` keeps one process per configuration for the whole pytest session.

Example (see docs/runtime.md)::

    config = LaneConfig(main="src/purge_worker.py", r2_buckets=["BUCKET"],
                        vars={"PURGE_TOKEN": "s3cret"})
    lane = lane_factory(config)
    lane.r2_put("BUCKET", "a.whl", b"...")
    response = lane.fetch("POST", "/", headers={"authorization": "Bearer s3cret"},
                          body=b'{"keys": ["a.whl"]}')
    assert response.status == 200 and lane.r2_list("BUCKET") == []
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import queue
import subprocess
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "node_modules" / ".bin" / "node"
LANE_SCRIPT = ROOT / "lane" / "lane.mjs"
WHEEL_CACHE = ROOT / "lane" / ".cache" / "wheels"
SETUP_HINT = "run `bash scripts/setup_lane.sh` first (npm ci, wheels into lane/.cache/)"

RECORD_R2_CALLS = """
import time
import cfbindings
if not hasattr(cfbindings.R2Bucket, "calls"):
    # Every R2 call the core makes goes through this adapter: record each on its way.
    cfbindings.R2Bucket.calls = []

    def _recording(name):
        original = getattr(cfbindings.R2Bucket, name)

        async def method(self, *args, **kwargs):
            started = time.perf_counter()
            try:
                return await original(self, *args, **kwargs)
            finally:
                cfbindings.R2Bucket.calls.append((name, time.perf_counter() - started))

        return method

    for _name in ("get", "put", "delete", "list"):
        setattr(cfbindings.R2Bucket, _name, _recording(_name))
cfbindings.R2Bucket.calls.clear()
"""
"""Python for :meth:`Lane.run_python`: from then on ``cfbindings.R2Bucket.calls`` lists
``(method, seconds)`` for every R2 call a Worker makes in that lane."""

START_TIMEOUT = 120.0
"""Seconds for Miniflare + Pyodide + the entry module import; generous for a loaded CI box."""
COMMAND_TIMEOUT = 300.0
"""Seconds for one command: a cron event that builds a whole index is the longest."""


class LaneError(Exception):
    """The lane itself failed (bad command, missing binding, process died)."""


class WorkerError(Exception):
    """The Worker's code raised (or returned something workerd would reject); the message
    carries the Python traceback."""


class WebSocketClosed(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"WebSocket closed: {code} {reason}".rstrip())
        self.code = code
        self.reason = reason


def _pairs(mapping: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> tuple:
    items = mapping.items() if isinstance(mapping, Mapping) else (mapping or ())
    return tuple(sorted((str(k), v) for k, v in items))


@dataclass(frozen=True)
class QueueConsumer:
    """The Worker consumes ``queue`` (wrangler.toml's ``[[queues.consumers]]``). Defaults are
    Cloudflare's, except ``max_batch_timeout``: 0 delivers a batch as soon as messages wait,
    so tests do not sleep (Cloudflare's default is 5 s)."""

    queue: str
    max_batch_size: int = 10
    max_batch_timeout: float = 0.0
    """Seconds the broker waits for a batch to fill."""
    max_retries: int = 3
    """Deliveries after the first; then the message is dropped or dead-lettered."""
    retry_delay: int = 0
    """Seconds before a retried message is delivered again (unless retry() says)."""
    dead_letter_queue: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "max_batch_size": self.max_batch_size,
            "max_batch_timeout": self.max_batch_timeout,
            "max_retries": self.max_retries,
            "retry_delay": self.retry_delay,
            "dead_letter_queue": self.dead_letter_queue,
        }


@dataclass(frozen=True)
class LaneConfig:
    """What one lane process hosts: an entry module and the bindings wrangler.toml would give
    it. Hashable, so equal configurations share one process per session."""

    main: str
    """Entry module path relative to the repository root, e.g. ``src/index_worker.py``."""
    r2_buckets: tuple[str, ...] = ()
    kv_namespaces: tuple[str, ...] = ()
    durable_objects: tuple[tuple[str, str], ...] = ()
    """``{binding: class name}``: classes the entry module exports."""
    queues: tuple[tuple[str, str], ...] = ()
    """``{binding: queue name}``: queue producer bindings (``env.<binding>.send(...)``)."""
    queue_consumers: tuple[QueueConsumer, ...] = ()
    """Queues whose batches go to the Worker's ``queue(batch, env, ctx)``."""
    vars: tuple[tuple[str, str], ...] = ()
    """Plain-text vars and secrets alike (both are strings on ``env``)."""
    alarms: str = "auto"
    """``auto``: alarms fire when due, as on Cloudflare; ``manual``: only
    :meth:`DurableObject.alarm` fires them, for deterministic tests."""
    module_roots: tuple[str, ...] = ("src",)
    """Directories (relative to the repository root) whose trees become the Worker's
    modules, as wrangler bundles ``src/``; ``main`` lies in one of them."""
    compatibility_date: str = "2026-11-01"
    origin: str = "http://localhost:8787"

    def __post_init__(self) -> None:
        object.__setattr__(self, "r2_buckets", tuple(self.r2_buckets))
        object.__setattr__(self, "kv_namespaces", tuple(self.kv_namespaces))
        object.__setattr__(self, "durable_objects", _pairs(self.durable_objects))
        object.__setattr__(self, "vars", _pairs(self.vars))
        object.__setattr__(self, "queues", _pairs(self.queues))
        object.__setattr__(self, "queue_consumers", tuple(self.queue_consumers))
        object.__setattr__(self, "module_roots", tuple(self.module_roots))
        if self.alarms not in ("auto", "manual"):
            raise ValueError(f"alarms must be 'auto' or 'manual', not {self.alarms!r}")
        if not self.main.endswith(".py") or not any(
            self.main.startswith(root + "/") for root in self.module_roots
        ):
            raise ValueError(f"main must be a .py file under one of {self.module_roots}")

    @property
    def main_module(self) -> str:
        root = next(r for r in self.module_roots if self.main.startswith(r + "/"))
        return self.main[len(root) + 1 : -len(".py")].replace("/", ".")

    def to_wire(self, root: Path) -> dict[str, Any]:
        return {
            "main_module": self.main_module,
            "module_roots": [str(root / r) for r in self.module_roots],
            "wheels": sorted(str(p) for p in WHEEL_CACHE.glob("*.whl")),
            "r2_buckets": list(self.r2_buckets),
            "kv_namespaces": list(self.kv_namespaces),
            "durable_objects": dict(self.durable_objects),
            "queues": dict(self.queues),
            "queue_consumers": [c.to_wire() for c in self.queue_consumers],
            "vars": dict(self.vars),
            "alarms": self.alarms,
            "compatibility_date": self.compatibility_date,
            "origin": self.origin,
        }


@dataclass(frozen=True)
class LaneResponse:
    status: int
    headers: Mapping[str, str]
    """Lower-case names."""
    body: bytes
    websocket: WebSocket | None = None
    """Set when the Worker answered 101 with a ``webSocket``."""

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class R2Object:
    key: str
    body: bytes
    size: int
    etag: str
    content_type: str | None
    cache_control: str | None
    custom_metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AlarmResult:
    ran: bool
    """False when no alarm was set."""
    error: str | None
    """The handler's exception, if it raised (the alarm is then retried)."""
    retry_count: int


@dataclass(frozen=True)
class DurableObjectState:
    storage: Mapping[str, Any]
    alarm: float | None
    """Epoch milliseconds of the pending alarm."""
    alarm_retries: int
    live: bool
    """Whether an instance exists (False before the first event and after eviction)."""
    websockets: list[dict[str, Any]]
    """Open hibernatable sockets: ``{"tags": [...], "attachment": ...}``."""


@dataclass(frozen=True)
class DeliveredMessage:
    id: str
    body: Any
    """As the consumer received it: JSON values, ``bytes``, ``datetime``, ``set``."""
    attempts: int
    """1 on the first delivery."""
    outcome: str
    """``acked``, ``retried`` (it will come again), ``dropped`` or ``dead-lettered`` (that was
    its last attempt)."""


@dataclass(frozen=True)
class DeliveredBatch:
    queue: str
    messages: list[DeliveredMessage]
    calls: list[list[Any]]
    """What the handler called, in order: ``["ack", id]``, ``["retry", id, options]``,
    ``["ackAll"]``, ``["retryAll", options]``."""
    error: str | None
    """The handler's exception (with its traceback): the broker then retries the batch."""


def wire_encode(value: Any) -> Any:
    """A Python value as lane/queues.mjs's ``wireDecode`` reads it (the structured-clone
    values a queue message may carry)."""
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, datetime.datetime):
        return {"$date": value.timestamp() * 1000}
    if isinstance(value, (set, frozenset)):
        return {"$set": [wire_encode(v) for v in value]}
    if isinstance(value, (list, tuple)):
        return [wire_encode(v) for v in value]
    if isinstance(value, dict):
        encoded = {str(k): wire_encode(v) for k, v in value.items()}
        return {"$object": encoded} if any(k.startswith("$") for k in encoded) else encoded
    return value


def wire_decode(value: Any) -> Any:
    """The inverse of :func:`wire_encode` (a JS ``Map`` becomes a ``dict``)."""
    if isinstance(value, list):
        return [wire_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, tagged),) = value.items()
        if tag == "$undefined":
            return None
        if tag == "$bigint":
            return int(tagged)
        if tag == "$date":
            return datetime.datetime.fromtimestamp(tagged / 1000, tz=datetime.UTC)
        if tag == "$bytes":
            return base64.b64decode(tagged)
        if tag == "$set":
            return {wire_decode(v) for v in tagged}
        if tag == "$map":
            return {wire_decode(k): wire_decode(v) for k, v in tagged}
        if tag == "$object":
            return {k: wire_decode(v) for k, v in tagged.items()}
    return {k: wire_decode(v) for k, v in value.items()}


def _b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def _request(
    method: str, path: str, headers: Mapping[str, str] | None, body: bytes | str | None
) -> dict[str, Any]:
    """A request as the lane's fetch and do_fetch commands take it."""
    return {
        "method": method,
        "path": path,
        "headers": [[k, v] for k, v in (headers or {}).items()],
        "body": None if body is None else _b64(body),
    }


class WebSocket:
    """The test's end of a WebSocket whose other end the Worker holds."""

    def __init__(self, lane: Lane, handle: int) -> None:
        self._lane = lane
        self._handle = handle

    def send(self, message: str | bytes) -> None:
        """Sends one message and returns once the Durable Object has handled it."""
        if isinstance(message, str):
            self._lane.call("ws_send", handle=self._handle, text=message)
        else:
            self._lane.call("ws_send", handle=self._handle, binary=_b64(message))

    def receive(self, timeout: float = 5.0) -> str | bytes:
        """The next message from the Worker; raises :class:`WebSocketClosed` if it closed the
        socket, :class:`TimeoutError` if nothing came within ``timeout`` seconds."""
        event = self._lane.call("ws_receive", handle=self._handle, timeout_ms=int(timeout * 1000))
        if event["type"] == "text":
            return event["data"]
        if event["type"] == "binary":
            return base64.b64decode(event["data"])
        if event["type"] == "close":
            raise WebSocketClosed(event["code"], event["reason"])
        raise TimeoutError(f"no WebSocket message within {timeout} s")

    def receive_json(self, timeout: float = 5.0) -> Any:
        return json.loads(self.receive(timeout))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """A clean close: the Durable Object gets ``webSocketClose(ws, code, reason, True)``."""
        self._lane.call("ws_close", handle=self._handle, code=code, reason=reason)

    def disconnect(self) -> None:
        """The client vanishes: ``webSocketClose(ws, 1006, "", False)``."""
        self._lane.call("ws_close", handle=self._handle, clean=False)

    def fail(self, message: str) -> None:
        """A protocol error: ``webSocketError(ws, Error(message))``."""
        self._lane.call("ws_error", handle=self._handle, message=message)


class DurableObject:
    """One Durable Object, addressed as ``env.<binding>.getByName(name)`` would."""

    def __init__(self, lane: Lane, binding: str, name: str) -> None:
        self._lane = lane
        self._address = {"binding": binding, "name": name}

    def fetch(
        self,
        method: str = "GET",
        path: str = "/",
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
    ) -> LaneResponse:
        reply = self._lane.call(
            "do_fetch", **self._address, **_request(method, path, headers, body)
        )
        return self._lane._response(reply)

    def websocket(self, path: str = "/", headers: Mapping[str, str] | None = None) -> WebSocket:
        response = self.fetch("GET", path, headers={"upgrade": "websocket", **(headers or {})})
        return _expect_websocket(response)

    def call(self, method: str, *args: Any) -> Any:
        """An RPC method call through the stub; arguments and result are JSON values."""
        return self._lane.call("do_call", **self._address, method=method, args=list(args))

    def alarm(self) -> AlarmResult:
        """Delivers the pending alarm now, whatever its time."""
        reply = self._lane.call("do_alarm", **self._address)
        return AlarmResult(ran=reply["ran"], error=reply["error"], retry_count=reply["retryCount"])

    def evict(self) -> None:
        """Drops the instance as workerd does when an object hibernates: the constructor runs
        again on the next event; storage, alarm and accepted sockets (with their
        attachments) survive."""
        self._lane.call("do_evict", **self._address)

    def state(self) -> DurableObjectState:
        reply = self._lane.call("do_state", **self._address)
        return DurableObjectState(**reply)


def _expect_websocket(response: LaneResponse) -> WebSocket:
    if response.status != 101 or response.websocket is None:
        raise WorkerError(
            "expected a 101 response with a webSocket, "
            f"got {response.status}: {response.body[:200]!r}"
        )
    return response.websocket


class Lane:
    """A running lane process. Commands run one at a time; every reply means the event
    finished, ``ctx.waitUntil`` promises included."""

    def __init__(self, config: LaneConfig, root: Path = ROOT) -> None:
        if not NODE.exists() or not any(WHEEL_CACHE.glob("*.whl")):
            raise LaneError(f"the lane is not installed: {SETUP_HINT}")
        self.config = config
        self.stderr: deque[str] = deque(maxlen=2000)
        self._replies: queue.Queue[str | None] = queue.Queue()
        self._next_id = 0
        self.wasm_memory_bytes: int | None = None
        """Size of Pyodide's WebAssembly memory after the last command: linear memory only
        grows, so this is the peak so far (Cloudflare's 128 MB limit includes it)."""
        self._process = subprocess.Popen(
            [str(NODE), str(LANE_SCRIPT)],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env={**os.environ, "NO_COLOR": "1"},
        )
        threading.Thread(target=self._pump_stdout, daemon=True).start()
        threading.Thread(target=self._pump_stderr, daemon=True).start()
        try:
            started = self.call("start", timeout=START_TIMEOUT, config=config.to_wire(root))
        except BaseException:
            self.close()
            raise
        self.timings: Mapping[str, float] = started["timings"]
        self.entrypoints: Mapping[str, list[str]] = started["entrypoints"]

    def _pump_stdout(self) -> None:
        for line in self._process.stdout:
            self._replies.put(line)
        self._replies.put(None)

    def _pump_stderr(self) -> None:
        for line in self._process.stderr:
            self.stderr.append(line.rstrip("\n"))

    def call(self, op: str, *, timeout: float = COMMAND_TIMEOUT, **args: Any) -> Any:
        """Sends one command and returns its result (the protocol in lane/lane.mjs)."""
        if self._process.poll() is not None:
            raise LaneError(f"the lane exited ({self._process.returncode}): {self._tail()}")
        self._next_id += 1
        command_id = self._next_id
        self._process.stdin.write(json.dumps({"id": command_id, "op": op, **args}) + "\n")
        self._process.stdin.flush()
        while True:
            try:
                line = self._replies.get(timeout=timeout)
            except queue.Empty:
                raise LaneError(f"{op}: no reply within {timeout} s: {self._tail()}") from None
            if line is None:
                raise LaneError(f"{op}: the lane exited: {self._tail()}")
            reply = json.loads(line)
            if reply["id"] == command_id:
                break
        if reply.get("memory") is not None:
            self.wasm_memory_bytes = reply["memory"]
        if reply["ok"]:
            return reply["result"]
        error = WorkerError if reply["kind"] == "worker" else LaneError
        raise error(reply["error"])

    def _tail(self) -> str:
        return "\n".join(list(self.stderr)[-30:])

    def _response(self, reply: Mapping[str, Any]) -> LaneResponse:
        handle = reply["websocket"]
        return LaneResponse(
            status=reply["status"],
            headers={k.lower(): v for k, v in reply["headers"]},
            body=base64.b64decode(reply["body"]),
            websocket=None if handle is None else WebSocket(self, handle),
        )

    # Events delivered to the Worker's Default entrypoint.

    def fetch(
        self,
        method: str = "GET",
        path: str = "/",
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
    ) -> LaneResponse:
        """``Default(ctx, env).fetch(request)`` for ``<origin><path>``."""
        return self._response(self.call("fetch", **_request(method, path, headers, body)))

    def websocket(self, path: str = "/", headers: Mapping[str, str] | None = None) -> WebSocket:
        """A WebSocket upgrade through the Worker's fetch (which must answer 101)."""
        response = self.fetch("GET", path, headers={"upgrade": "websocket", **(headers or {})})
        return _expect_websocket(response)

    def scheduled(self, cron: str, scheduled_time_ms: int | None = None) -> bool:
        """A cron event: ``Default(ctx, env).scheduled(controller, env, ctx)``. Returns whether
        the handler called ``controller.noRetry()``."""
        reply = self.call("scheduled", cron=cron, scheduled_time=scheduled_time_ms)
        return reply["no_retry"]

    def rpc(self, method: str, *args: Any) -> Any:
        """An RPC call on the Default entrypoint (as a service binding would make it)."""
        return self.call("rpc", method=method, args=list(args))

    # Bindings, seen from outside the Worker.

    def r2_put(
        self,
        bucket: str,
        key: str,
        body: bytes | str,
        *,
        content_type: str | None = None,
        cache_control: str | None = None,
        custom_metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.call(
            "r2_put",
            bucket=bucket,
            key=key,
            body=_b64(body),
            content_type=content_type,
            cache_control=cache_control,
            custom_metadata=dict(custom_metadata or {}),
        )

    def r2_put_many(self, bucket: str, objects: Mapping[str, bytes | str]) -> None:
        """Writes many objects at once (no metadata), for seeding large listings."""
        self.call(
            "r2_put_many",
            bucket=bucket,
            objects=[{"key": k, "body": _b64(v)} for k, v in objects.items()],
        )

    def r2_get(self, bucket: str, key: str) -> R2Object | None:
        reply = self.call("r2_get", bucket=bucket, key=key)
        if reply is None:
            return None
        return R2Object(**{**reply, "body": base64.b64decode(reply["body"])})

    def r2_list(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key under ``prefix``, in order (all pages)."""
        return self.call("r2_list", bucket=bucket, prefix=prefix)

    def r2_delete(self, bucket: str, keys: Iterable[str]) -> None:
        self.call("r2_delete", bucket=bucket, keys=list(keys))

    def kv_get(self, namespace: str, key: str) -> str | None:
        return self.call("kv_get", namespace=namespace, key=key)

    def kv_put(
        self, namespace: str, key: str, value: str, *, expiration_ttl: int | None = None
    ) -> None:
        self.call(
            "kv_put", namespace=namespace, key=key, value=value, expiration_ttl=expiration_ttl
        )

    def kv_list(self, namespace: str, prefix: str = "") -> list[dict[str, Any]]:
        """``[{"name": key, "expiration": epoch seconds or None}, ...]``."""
        return self.call("kv_list", namespace=namespace, prefix=prefix)

    def kv_delete(self, namespace: str, key: str) -> None:
        self.call("kv_delete", namespace=namespace, key=key)

    def durable_object(self, binding: str, name: str) -> DurableObject:
        return DurableObject(self, binding, name)

    def queue_send(
        self,
        queue: str,
        body: Any,
        *,
        content_type: str | None = None,
        delay_seconds: int | None = None,
    ) -> None:
        """Sends one message to ``queue`` (by queue name) as a producer binding would;
        ``body`` is a JSON value, ``bytes``, ``datetime`` or ``set``."""
        self.call(
            "queue_send",
            queue=queue,
            body=wire_encode(body),
            content_type=content_type,
            delay_seconds=delay_seconds,
        )

    def drain_queues(self, timeout: float = 30.0) -> list[DeliveredBatch]:
        """Waits until every message sent so far to a queue the Worker consumes was acked, or
        dropped/dead-lettered after its last attempt, and returns the batches delivered since
        the last call, in delivery order. Miniflare's broker delivers them on its own schedule
        (batch size, batch timeout, retry delays), each as one ``queue`` event."""
        reply = self.call("queue_drain", timeout_ms=int(timeout * 1000), timeout=timeout + 30)
        return [
            DeliveredBatch(
                queue=batch["queue"],
                messages=[
                    DeliveredMessage(
                        id=m["id"],
                        body=wire_decode(m["body"]),
                        attempts=m["attempts"],
                        outcome=m["outcome"],
                    )
                    for m in batch["messages"]
                ],
                calls=batch["calls"],
                error=batch["error"],
            )
            for batch in reply
        ]

    def memory(self) -> int:
        """Size in bytes of Pyodide's WebAssembly memory now (see ``wasm_memory_bytes``)."""
        return int(self.call("memory"))

    # Housekeeping.

    def logs(self) -> list[str]:
        """Lines the Worker printed or logged since the last call (or reset), in order."""
        return self.call("logs")

    def json_logs(self) -> list[dict[str, Any]]:
        """The Worker's log lines that are JSON objects (the project's log format)."""
        records = []
        for line in self.logs():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def run_python(self, code: str) -> Any:
        """Evaluates ``code`` in the lane's interpreter (last expression's value, as JSON)."""
        return self.call("run_python", code=code)

    def reset(self) -> None:
        """Empties every R2 bucket and KV namespace, drops every Durable Object (storage,
        alarms, sockets) and the logs. Module-level Python state is kept, as in an isolate."""
        self.call("reset")

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                self._process.stdin.close()
                self._process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
