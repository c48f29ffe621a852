"""The chunk kernels devices run, and how the coordinator checks a result.

Both kernels compute on integers modulo the prime :data:`MODULUS` (just under 2**26), so every
intermediate value of the JavaScript implementation (the join page's Web Worker,
:mod:`flaresuite.swarm.templates.worker_js`) stays below 2**53 and is exact in a double: a
browser and CPython get the same number, and the coordinator compares for equality. Floating
point would not do: ``Math.sin`` and C's ``sin`` may differ in the last bit.

A chunk's seed is its id (a UUID) as an integer modulo :data:`MODULUS`, sent with the
assignment. The generator is the affine map ``x -> (MULTIPLIER * x + INCREMENT) mod MODULUS``.

``MATH_STRESS(seed, ops)``
    Apply the map ``ops`` times to ``seed``; the result is the last value. A device does
    ``ops`` multiply-add-mods; the coordinator jumps ahead in O(log ops) by squaring the map.

``MAT_MUL(seed, ops)``
    ``n`` is the largest side with ``n**3 <= ops`` (at least 2). Starting from ``seed``, each
    draw applies the map once and takes the value modulo 1024; draw the n-by-n matrix ``A``
    row by row, then ``B``, then the vectors ``u`` and ``w`` (n draws each). ``C = A B``
    exactly (entries below ``n * 2**20``). The result is
    ``sum_i u_i * ((sum_j C_ij * w_j) mod MODULUS)``, reduced modulo :data:`MODULUS`.
    A device multiplies in O(n**3); the coordinator computes ``((u^T A) B) w`` in O(n**2), the
    way Freivalds' check does, which is the same number modulo :data:`MODULUS`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

MODULUS = 67_108_859
"""The largest prime below 2**26: a product of two values below it stays below 2**52."""
MULTIPLIER = 48_271
INCREMENT = 12_345
ENTRY_RANGE = 1024
"""Matrix and vector entries are draws modulo this."""
MAX_MATRIX_SIDE = 256
"""Checking a MAT_MUL result costs the coordinator O(side**2); 256 keeps one check near
0.1 s of Pyodide CPU, and a chunk above 256**3 multiply-adds is refused at submission."""

MAX_OPS = {"MATH_STRESS": 10**9, "MAT_MUL": MAX_MATRIX_SIDE**3}
"""The most operations one chunk of each kind may ask for."""
KINDS = tuple(MAX_OPS)


def seed_of(chunk_id: str) -> int:
    """The seed a chunk's kernel starts from."""
    return uuid.UUID(chunk_id).int % MODULUS


def expected_result(kind: str, seed: int, ops: int) -> int:
    """The correct result of one chunk, computed the cheap way (see the module docstring)."""
    return _EXPECTED[kind](seed, ops)


def matrix_side(ops: int) -> int:
    """The side ``n`` of a MAT_MUL chunk of ``ops`` operations: the largest with n**3 <= ops."""
    side = 2
    while (side + 1) ** 3 <= ops and side < MAX_MATRIX_SIDE:
        side += 1
    return side


def _math_stress(seed: int, ops: int) -> int:
    # (a, c) is the map x -> a*x + c; composing it with itself squares it.
    a, c = 1, 0  # the identity: the result of applying the map zero times
    step_a, step_c = MULTIPLIER, INCREMENT
    while ops:
        if ops & 1:
            a, c = (step_a * a) % MODULUS, (step_a * c + step_c) % MODULUS
        step_a, step_c = (step_a * step_a) % MODULUS, (step_a * step_c + step_c) % MODULUS
        ops >>= 1
    return (a * (seed % MODULUS) + c) % MODULUS


def _mat_mul(seed: int, ops: int) -> int:
    n = matrix_side(ops)
    x = seed % MODULUS

    def draws(count: int) -> list[int]:
        nonlocal x
        values = []
        for _ in range(count):
            x = (MULTIPLIER * x + INCREMENT) % MODULUS
            values.append(x % ENTRY_RANGE)
        return values

    a, b = draws(n * n), draws(n * n)
    u, w = draws(n), draws(n)
    # (u^T A)_k, then ((u^T A) B)_j: two vector-matrix products instead of C = A B.
    ua = [sum(u[i] * a[i * n + k] for i in range(n)) for k in range(n)]
    uab = [sum(ua[k] * b[k * n + j] for k in range(n)) for j in range(n)]
    return sum(uab[j] * w[j] for j in range(n)) % MODULUS


_EXPECTED: dict[str, Callable[[int, int], int]] = {
    "MATH_STRESS": _math_stress,
    "MAT_MUL": _mat_mul,
}
