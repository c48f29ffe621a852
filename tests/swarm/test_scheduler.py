"""Weighted sharing with quotas (flaresuite.swarm.scheduler)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flaresuite.swarm import scheduler

demands = st.lists(
    st.tuples(st.floats(0.1, 5000, allow_nan=False), st.integers(0, 64)), max_size=40
).map(lambda ds: [(i, w, n) for i, (w, n) in enumerate(ds)])


@given(st.integers(0, 3000), demands)
def test_allocation_hands_out_what_it_can_and_never_more_than_asked(available, ds):
    grants = scheduler.allocate(available, ds)
    wanted = {key: n for key, _, n in ds}
    assert all(0 < n <= wanted[key] for key, n in grants.items())
    assert sum(grants.values()) == min(available, sum(wanted.values()))


def test_scarce_work_is_shared_by_weight():
    grants = scheduler.allocate(10, [("a", 300.0, 10), ("b", 100.0, 10)])
    assert grants == {"a": 8, "b": 2} or grants == {"a": 7, "b": 3}
    assert grants["a"] > grants["b"]


def test_plentiful_work_fills_every_request():
    assert scheduler.allocate(100, [("a", 1.0, 3), ("b", 50.0, 4)]) == {"a": 3, "b": 4}


def test_weight_grows_with_capability_and_speed():
    base = scheduler.weight(4, False, None, None)
    assert scheduler.weight(8, False, None, None) > base
    assert scheduler.weight(4, True, None, None) > base
    assert scheduler.weight(4, False, 50_000, None) > base
    assert scheduler.weight(4, False, None, 250) > base > scheduler.weight(4, False, None, 4000)


def test_quota_scales_with_cores_within_bounds():
    assert scheduler.quota(1, False) == 2
    assert scheduler.quota(4, True) == 12
    assert scheduler.quota(128, True) == scheduler.MAX_QUOTA
