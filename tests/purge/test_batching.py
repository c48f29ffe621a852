"""Batching: at most 1000 keys per R2 call, per-key retry of a failed batch, and learning by
listing which keys existed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flaresuite.purge.batching import Existence, batches, delete_in_batches, find_existing
from flaresuite.stores.memory import MemoryBucket
from tests.purge.conftest import seed

keys_strategy = st.lists(st.text(min_size=1, max_size=8), max_size=3000)


@given(keys_strategy)
def test_batches_keep_every_key_in_order_and_hold_at_most_1000(keys):
    cut = batches(keys)
    assert [key for batch in cut for key in batch] == keys
    assert all(1 <= len(batch) <= 1000 for batch in cut)
    assert len(cut) == -(-len(keys) // 1000)


@pytest.mark.parametrize("size", [0, 1001])
def test_a_batch_size_r2_would_refuse_is_an_error(size):
    with pytest.raises(ValueError, match="1 to 1000"):
        batches(["k"], size)


def nothing_known(keys) -> Existence:
    return Existence(existing=frozenset(keys), unknown=frozenset(), list_calls=0)


async def test_2500_keys_take_three_delete_calls(bucket):
    keys = [f"projects/7/{i:05}" for i in range(2500)]
    await seed(bucket, keys)
    report = await delete_in_batches(bucket, keys, nothing_known(keys))
    assert [len(argument) for name, argument in bucket.calls] == [1000, 1000, 500]
    assert report.delete_calls == 3
    assert (report.deleted, report.failed) == (2500, 0)
    assert bucket.objects == {}


async def test_a_failed_batch_is_retried_key_by_key_so_one_bad_key_fails_alone(bucket):
    keys = [f"k{i:04}" for i in range(1500)]
    await seed(bucket, keys)
    bucket.poisoned = {"k1234"}
    report = await delete_in_batches(bucket, keys, nothing_known(keys))
    failures = [outcome for outcome in report.outcomes if not outcome.success]
    assert [(f.key, f.error) for f in failures] == [
        ("k1234", "RuntimeError: R2 delete failed (10001)")
    ]
    assert report.deleted == 1499
    # First batch whole; second batch once whole, then each of its 500 keys alone.
    assert report.delete_calls == 1 + 1 + 500
    assert set(bucket.objects) == {"k1234"}
    assert [outcome.key for outcome in report.outcomes] == keys


async def test_clustered_keys_are_checked_with_one_list_call_per_1000(bucket):
    stored = [f"projects/7/{i:05}" for i in range(2500)]
    await seed(bucket, [*stored, "projects/8/a", "zzz"])
    asked = [*stored, "projects/7/missing"]
    existence = await find_existing(bucket, asked, max_list_calls=100)
    assert existence.list_calls == 3
    assert existence.existing == frozenset(stored)
    assert existence.absent("projects/7/missing") is True
    assert existence.absent("projects/7/00001") is False


async def test_a_single_key_is_checked_with_one_call_even_in_a_crowded_bucket(bucket):
    await seed(bucket, [f"a{i:05}" for i in range(5000)] + ["a00042-suffix"])
    existence = await find_existing(bucket, ["a00042"], max_list_calls=10)
    assert (existence.existing, existence.list_calls) == (frozenset({"a00042"}), 1)


async def test_scattered_keys_beyond_the_list_budget_are_reported_unknown(bucket):
    crowd = [f"{i:05}" for i in range(20_000)]
    await seed(bucket, crowd)
    asked = crowd[::997]
    existence = await find_existing(bucket, asked, max_list_calls=5)
    assert existence.list_calls == 5
    assert existence.unknown
    assert all(existence.absent(key) in (False, None) for key in asked)


@settings(max_examples=60, deadline=None)
@given(
    st.sets(st.text("ab/_", min_size=1, max_size=6), max_size=60),
    st.lists(st.text("ab/_", min_size=1, max_size=6), min_size=1, max_size=40),
    st.integers(1, 30),
)
async def test_existence_is_never_wrong_only_sometimes_unknown(stored, asked, budget):
    bucket = MemoryBucket()
    await seed(bucket, sorted(stored))
    existence = await find_existing(bucket, asked, max_list_calls=budget)
    assert existence.list_calls <= budget
    for key in asked:
        assert existence.absent(key) in (key not in stored, None)


@settings(max_examples=30, deadline=None)
@given(
    st.sets(st.text("ab/_", min_size=1, max_size=6), max_size=60),
    st.lists(st.text("ab/_", min_size=1, max_size=6), min_size=1, max_size=40),
)
async def test_with_enough_list_calls_every_key_is_known(stored, asked):
    bucket = MemoryBucket()
    await seed(bucket, sorted(stored))
    existence = await find_existing(bucket, asked, max_list_calls=10_000)
    assert not existence.unknown
    assert {key for key in asked if existence.absent(key) is False} == set(asked) & stored
