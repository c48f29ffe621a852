"""The swarm coordinator's core under load, measured side by side in one run.

1. Messages per second through ``Coordinator.message`` with 1,000 connected devices, per kind
   (heartbeats, a request/complete cycle, invalid frames that are refused and logged).
2. One broadcast tick with 1,000 devices and 5 dashboards: ``alarm()`` (liveness sweep and
   serialising the snapshot and the device status once each) and then the sends (each frame
   encoded to UTF-8 as a transport would, into in-memory sockets).
3. The scheduling decision as the swarm grows 10 -> 100 -> 1,000 -> 10,000 devices: a
   ``JOB_REQUEST`` when only the asking device waits (the common case); ``scheduler.allocate``
   when every device waits and work is scarce (the worst case); and, for scale, a whole job
   of n chunks arriving to n waiting devices (creating, assigning and serialising each chunk),
   with each row's ratio to the 10-device row.
4. Checking a result: the coordinator's cheap computation of a chunk's result beside the long
   way a device runs it (in Python here; browsers are faster, the ratio is the point).
5. Abuse: a frame dropped by its socket's budget beside one that is parsed and refused.
6. The Ostrich-Legs client's snapshot (its shape, built from ours) beside the native one.

Everything is in-process (no sockets), so the numbers are the core's own cost; nothing here is
asserted.

    uv run python benchmarks/swarm.py [--devices 1000] [--sizes 10 100 1000 10000]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
import uuid

from flaresuite.swarm import kernels, ostrich, protocol, scheduler
from flaresuite.swarm.coordinator import Admission, Coordinator
from flaresuite.swarm.effects import Broadcast, Send
from flaresuite.swarm.model import DEVICE, OBSERVER, Attachment
from flaresuite.swarm.ratelimit import FrameBudget

NOW = 1_800_000_000.0


def swarm_with(devices: int, *, observers: int = 0) -> tuple[Coordinator, list[str]]:
    counter = itertools.count(1)
    coordinator = Coordinator(
        "bench",
        new_id=lambda: str(uuid.UUID(int=next(counter))),
        new_secret=lambda: f"s{next(counter)}",
        sample=lambda: 0.0,  # every result checked: the worst case
    )
    sockets = []
    for i in range(devices):
        socket_id = f"socket-{i}"
        coordinator.connect(
            Admission(Attachment(socket_id, DEVICE, f"dev-{i}", NOW), f"key-{i}"), NOW
        )
        register = {
            "name": f"dev {i}",
            "cpuCores": 1 + i % 16,
            "memoryGB": 8,
            "gpuAvailable": i % 4 == 0,
        }
        coordinator.message(socket_id, frame("DEVICE_REGISTER", register), NOW)
        sockets.append(socket_id)
    for i in range(observers):
        coordinator.connect(Admission(Attachment(f"observer-{i}", OBSERVER, None, NOW), None), NOW)
    return coordinator, sockets


def frame(kind: str, payload: dict[str, object]) -> str:
    (text,) = protocol.encode(kind, payload)
    return text


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>12,.0f}/s"


def messages_per_second(devices: int) -> None:
    coordinator, sockets = swarm_with(devices)
    heartbeat = frame("HEARTBEAT", {"load": 0.5})
    started = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        for socket_id in sockets:
            coordinator.message(socket_id, heartbeat, NOW)
    heartbeats = time.perf_counter() - started

    coordinator.submit_job(NOW, kind="MATH_STRESS", chunks=10_000, ops_per_chunk=1000)
    request = frame("JOB_REQUEST", {"slots": 1})
    cycles = 0
    started = time.perf_counter()
    for socket_id in itertools.islice(itertools.cycle(sockets), 10_000):
        effects = coordinator.message(socket_id, request, NOW)
        for effect in effects:
            if isinstance(effect, Send) and '"JOB_ASSIGN"' in effect.text:
                chunk = json.loads(effect.text)["payload"]["chunks"][0]
                result = kernels.expected_result(chunk["kind"], chunk["seed"], chunk["ops"])
                done = frame(
                    "JOB_COMPLETE",
                    {"chunkId": chunk["chunkId"], "durationMs": 800, "result": result},
                )
                coordinator.message(socket_id, done, NOW)
                cycles += 1
    cycle_seconds = time.perf_counter() - started

    garbage = '{"type": "DEVICE_REGISTER", "payload": {"cpuCores": 999}}'
    started = time.perf_counter()
    for socket_id in sockets:
        coordinator.message(socket_id, garbage, NOW)
    invalid = time.perf_counter() - started

    print(f"\n1. Core messages per second, {devices:,} devices")
    print(f"   HEARTBEAT                        {rate(rounds * devices, heartbeats)}")
    print(
        f"   JOB_REQUEST + JOB_COMPLETE pairs {rate(2 * cycles, cycle_seconds)}"
        f"  ({cycles:,} chunks finished, every result checked)"
    )
    print(f"   invalid frame (error + log)      {rate(devices, invalid)}")


def broadcast_tick(devices: int, observers: int = 5) -> None:
    coordinator, _ = swarm_with(devices, observers=observers)
    coordinator.submit_job(NOW, kind="MAT_MUL", chunks=2000, ops_per_chunk=1000)
    alarm_times, send_times, frame_bytes = [], [], {}
    for tick in range(20):
        started = time.perf_counter()
        effects = coordinator.alarm(NOW + tick)
        alarm_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        sent = 0
        for effect in effects:
            if isinstance(effect, Broadcast):
                for _ in effect.socket_ids:
                    sent += len(effect.text.encode())
                frame_bytes[json.loads(effect.text)["type"]] = len(effect.text)
        send_times.append(time.perf_counter() - started)
    alarm_ms = statistics.median(alarm_times) * 1000
    send_ms = statistics.median(send_times) * 1000
    print(f"\n2. One broadcast tick, {devices:,} devices + {observers} dashboards (median of 20)")
    print(f"   alarm(): sweep + serialise once   {alarm_ms:8.2f} ms")
    print(
        f"   send to {devices + observers:,} sockets            {send_ms:8.2f} ms"
        f"   ({sent / 1e6:.1f} MB on the wire)"
    )
    print(
        f"   total                             {alarm_ms + send_ms:8.2f} ms   of a 2,000 ms period"
    )
    print(
        f"   frame sizes: SNAPSHOT {frame_bytes.get('SNAPSHOT', 0):,} B (dashboards), "
        f"STATUS {frame_bytes.get('STATUS', 0):,} B (devices)"
    )


def scheduling(sizes: list[int]) -> None:
    rows = []
    for n in sizes:
        coordinator, sockets = swarm_with(n)
        request = frame("JOB_REQUEST", {"slots": 1})
        coordinator.submit_job(
            NOW, kind="MATH_STRESS", chunks=min(10_000, 50 * 200), ops_per_chunk=1
        )
        one = []
        for socket_id in sockets[:200]:
            started = time.perf_counter()
            coordinator.message(socket_id, request, NOW)
            one.append(time.perf_counter() - started)

        # Every device waits with 4 slots; a job of n chunks (a quarter of the demand) arrives.
        coordinator, sockets = swarm_with(n)
        for socket_id in sockets:
            coordinator.message(socket_id, frame("JOB_REQUEST", {"slots": 4}), NOW)
        demands = [(d.id, d.weight, d.demand) for d in coordinator.devices.values()]
        timings = []
        for _ in range(20):
            started = time.perf_counter()
            scheduler.allocate(n, demands)
            timings.append(time.perf_counter() - started)
        decision = statistics.median(timings)
        started = time.perf_counter()
        coordinator.submit_job(NOW, kind="MATH_STRESS", chunks=min(n, 10_000), ops_per_chunk=1)
        dispatch = time.perf_counter() - started
        rows.append((n, statistics.median(one), decision, dispatch))
    base = rows[0]
    print("\n3. Scheduling decision as the swarm grows (ratios to the 10-device row)")
    print(
        f"   {'devices':>8} | {'one JOB_REQUEST':>15} {'ratio':>6}"
        f" | {'allocate(), all wait':>20} {'ratio':>6}"
        f" | {'job of n chunks: create+assign+persist':>38}"
    )
    for n, one, decision, dispatch in rows:
        print(
            f"   {n:>8,} | {one * 1e6:>12.1f} us {one / base[1]:>5.1f}x"
            f" | {decision * 1e3:>17.3f} ms {decision / base[2]:>5.0f}x"
            f" | {dispatch * 1e3:>15.1f} ms ({dispatch / n * 1e6:.1f} us per chunk)"
        )


def timed(action, repeat: int = 5) -> float:
    """Median seconds of ``action()``."""
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def math_stress_long(seed: int, ops: int) -> int:
    x = seed
    for _ in range(ops):
        x = (kernels.MULTIPLIER * x + kernels.INCREMENT) % kernels.MODULUS
    return x


def mat_mul_long(seed: int, ops: int) -> int:
    n, x = kernels.matrix_side(ops), seed

    def draws(count: int) -> list[int]:
        nonlocal x
        out = []
        for _ in range(count):
            x = (kernels.MULTIPLIER * x + kernels.INCREMENT) % kernels.MODULUS
            out.append(x % kernels.ENTRY_RANGE)
        return out

    a, b, u, w = draws(n * n), draws(n * n), draws(n), draws(n)
    result = 0
    for i in range(n):
        row = [sum(a[i * n + k] * b[k * n + j] for k in range(n)) for j in range(n)]
        result = result + u[i] * (
            sum(c * wj for c, wj in zip(row, w, strict=True)) % kernels.MODULUS
        )
        result %= kernels.MODULUS
    return result


def result_checks() -> None:
    print("\n4. Checking one result (CPython; the ratio is the coordinator's saving)")
    print(f"   {'kernel':<22} {'check':>12} {'long way':>12} {'ratio':>8}")
    for kind, ops, long_way in (
        ("MATH_STRESS", 10**6, math_stress_long),
        ("MAT_MUL", 64**3, mat_mul_long),
        ("MAT_MUL", 100**3, mat_mul_long),
    ):
        check = timed(lambda kind=kind, ops=ops: kernels.expected_result(kind, 12345, ops))
        long = timed(lambda fn=long_way, ops=ops: fn(12345, ops), repeat=1)
        label = f"{kind} {ops:,}"
        print(f"   {label:<22} {check * 1e3:>9.3f} ms {long * 1e3:>9.1f} ms {long / check:>7,.0f}x")
    worst = timed(lambda: kernels.expected_result("MAT_MUL", 1, kernels.MAX_OPS["MAT_MUL"]))
    print(f"   the largest MAT_MUL chunk (256^3) costs a check {worst * 1e3:.1f} ms")


def abuse(devices: int) -> None:
    coordinator, sockets = swarm_with(devices)
    garbage = '{"type": "DEVICE_REGISTER", "payload": {"cpuCores": 999}}'
    budget = FrameBudget(NOW)
    for _ in range(1000):  # empty the first socket's bucket
        budget.take(NOW)
    started = time.perf_counter()
    for socket_id in sockets:
        coordinator.message(socket_id, garbage, NOW)
    refused = (time.perf_counter() - started) / devices
    coordinator._budgets[sockets[1]] = budget
    started = time.perf_counter()
    for _ in range(devices):
        budget.debt = 0  # keep it dropping without closing the socket
        coordinator.message(sockets[1], garbage, NOW)
    dropped = (time.perf_counter() - started) / devices
    print("\n5. A flood: what one frame costs the swarm")
    print(f"   parsed, refused, answered, logged {refused * 1e6:>9.1f} us")
    print(
        f"   dropped by the socket's budget    {dropped * 1e6:>9.1f} us"
        f"   ({refused / dropped:.0f}x less)"
    )


def ostrich_snapshot(devices: int) -> None:
    coordinator, _ = swarm_with(devices)
    coordinator.submit_job(NOW, kind="MATH_STRESS", chunks=2000, ops_per_chunk=1000)
    snapshot = coordinator.snapshot(NOW)
    native = timed(lambda: protocol.encode("SNAPSHOT", snapshot), repeat=20)
    theirs = timed(lambda: ostrich.encode("SNAPSHOT", snapshot), repeat=20)
    native_bytes = len(protocol.encode("SNAPSHOT", snapshot)[0])
    their_bytes = len(ostrich.encode("SNAPSHOT", snapshot)[0])
    print(f"\n6. One snapshot frame, {devices:,} devices (serialised once per tick per format)")
    print(f"   native SNAPSHOT        {native * 1e3:>7.2f} ms  {native_bytes:>9,} B")
    print(
        f"   Ostrich swarm:snapshot {theirs * 1e3:>7.2f} ms  {their_bytes:>9,} B"
        f"   ({theirs / native:.1f}x the time)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 10_000])
    args = parser.parse_args()
    messages_per_second(args.devices)
    broadcast_tick(args.devices)
    scheduling(args.sizes)
    result_checks()
    abuse(args.devices)
    ostrich_snapshot(args.devices)


if __name__ == "__main__":
    main()
