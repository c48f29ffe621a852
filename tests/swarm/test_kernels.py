"""The chunk kernels: the coordinator's cheap check computes what a device computes the long
way, and the join page's Web Worker (JavaScript, run here under Node 22) gets the same
numbers bit for bit."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flaresuite.swarm.kernels import (
    ENTRY_RANGE,
    INCREMENT,
    MAX_MATRIX_SIDE,
    MODULUS,
    MULTIPLIER,
    expected_result,
    matrix_side,
    seed_of,
)
from flaresuite.swarm.templates.worker_js import WORKER_JS

NODE = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "node"


def math_stress_the_long_way(seed: int, ops: int) -> int:
    x = seed % MODULUS
    for _ in range(ops):
        x = (MULTIPLIER * x + INCREMENT) % MODULUS
    return x


def mat_mul_the_long_way(seed: int, ops: int) -> int:
    n = matrix_side(ops)
    x = seed % MODULUS

    def draw() -> int:
        nonlocal x
        x = (MULTIPLIER * x + INCREMENT) % MODULUS
        return x % ENTRY_RANGE

    a = [[draw() for _ in range(n)] for _ in range(n)]
    b = [[draw() for _ in range(n)] for _ in range(n)]
    u = [draw() for _ in range(n)]
    w = [draw() for _ in range(n)]
    c = [[sum(a[i][k] * b[k][j] for k in range(n)) for j in range(n)] for i in range(n)]
    result = 0
    for i in range(n):
        result = (result + u[i] * (sum(c[i][j] * w[j] for j in range(n)) % MODULUS)) % MODULUS
    return result


@given(seed=st.integers(0, MODULUS - 1), ops=st.integers(0, 3000))
def test_math_stress_jumps_ahead_to_where_the_loop_ends(seed, ops):
    assert expected_result("MATH_STRESS", seed, ops) == math_stress_the_long_way(seed, ops)


@given(seed=st.integers(0, MODULUS - 1), ops=st.integers(1, 12**3))
def test_mat_mul_is_checked_in_quadratic_time_with_the_same_answer(seed, ops):
    assert expected_result("MAT_MUL", seed, ops) == mat_mul_the_long_way(seed, ops)


@pytest.mark.parametrize(
    ("ops", "side"), [(1, 2), (8, 2), (26, 2), (27, 3), (10**6, 100), (10**9, MAX_MATRIX_SIDE)]
)
def test_the_matrix_side_is_the_cube_root_rounded_down(ops, side):
    assert matrix_side(ops) == side


def test_a_seed_is_the_chunk_id_modulo_the_prime():
    chunk = str(uuid.UUID(int=2**100 + 5))
    assert seed_of(chunk) == (2**100 + 5) % MODULUS


CASES = [
    ("MATH_STRESS", 0, 0),
    ("MATH_STRESS", 1, 1),
    ("MATH_STRESS", MODULUS - 1, 1_000_000),
    ("MATH_STRESS", 12_345_678, 2_000_003),
    ("MAT_MUL", 0, 8),
    ("MAT_MUL", 42, 1_000_000),
    ("MAT_MUL", MODULUS - 1, 29_791),
    ("MAT_MUL", 7, MAX_MATRIX_SIDE**3),  # the largest: every sum at its widest
]


@pytest.mark.skipif(not NODE.exists(), reason="needs the lane's Node 22 (scripts/setup_lane.sh)")
def test_the_web_worker_computes_exactly_what_the_coordinator_checks():
    chunks = [
        {"chunkId": f"c{i}", "kind": kind, "seed": seed, "ops": ops}
        for i, (kind, seed, ops) in enumerate(CASES)
    ]
    script = (
        "var self = { postMessage: function (m) { console.log(JSON.stringify(m)); } };\n"
        "var performance = globalThis.performance;\n"
        + WORKER_JS
        + f"\nJSON.parse({json.dumps(json.dumps(chunks))}).forEach(function (chunk) {{"
        "  self.onmessage({ data: { type: 'run', chunk: chunk } }); });\n"
        "self.onmessage({ data: { type: 'benchmark' } });\n"
    )
    output = subprocess.run(
        [str(NODE), "-e", script], capture_output=True, text=True, check=True, timeout=300
    ).stdout.splitlines()
    *done, benchmark = [json.loads(line) for line in output]
    assert [(d["type"], d["chunkId"], d["result"]) for d in done] == [
        ("done", f"c{i}", expected_result(kind, seed, ops))
        for i, (kind, seed, ops) in enumerate(CASES)
    ]
    assert all(d["durationMs"] > 0 for d in done)
    assert benchmark["type"] == "benchmark" and benchmark["opsPerSecond"] > 0


@pytest.mark.skipif(not NODE.exists(), reason="needs the lane's Node 22 (scripts/setup_lane.sh)")
def test_the_web_worker_keeps_the_pages_heartbeat_clock():
    script = (
        "var ticks = 0, self = { postMessage: function (m) {\n"
        "  if (m.type === 'tick' && ++ticks === 3) {\n"
        "    console.log('three ticks'); process.exit(0);\n"
        "  }\n"
        "} };\n" + WORKER_JS + "\nself.onmessage({ data: { type: 'clock', seconds: 0.01 } });\n"
    )
    output = subprocess.run(
        [str(NODE), "-e", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert output.strip() == "three ticks"
