"""Fixtures for lane tests: one lane process per configuration per pytest session."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from driver import Lane, LaneConfig

BINDINGS_PROBE = LaneConfig(
    main="tests/lane/workers/bindings_probe.py",
    module_roots=("src", "tests/lane/workers"),
    r2_buckets=["BUCKET"],
    kv_namespaces=["KV"],
)
"""The probe Worker (workers/bindings_probe.py) with an R2 bucket ``BUCKET`` and a KV
namespace ``KV``."""


@pytest.fixture(scope="session")
def lane_factory() -> Iterator[Callable[[LaneConfig], Lane]]:
    """``lane_factory(LaneConfig(...))`` starts (or reuses) the lane for that configuration.

    The lane is shared by every test that asks for the same configuration, so a test that
    needs empty bindings calls ``lane.reset()`` first (or uses keys of its own)."""
    lanes: dict[LaneConfig, Lane] = {}
    failures: dict[LaneConfig, Exception] = {}

    def start(config: LaneConfig) -> Lane:
        # A lane that failed to start (say, the entry module does not import) fails every
        # test that needs it at once, instead of paying the start-up again per test.
        if config in failures:
            raise failures[config]
        if config not in lanes:
            try:
                lanes[config] = Lane(config)
            except Exception as error:
                failures[config] = error
                raise
        return lanes[config]

    yield start
    for lane in lanes.values():
        lane.close()


@pytest.fixture
def probe_lane(lane_factory) -> Lane:
    """The bindings probe's lane, with empty bindings."""
    lane = lane_factory(BINDINGS_PROBE)
    lane.reset()
    return lane
