"""Fixtures for lane tests: one lane process per configuration per pytest session."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from driver import Lane, LaneConfig


@pytest.fixture(scope="session")
def lane_factory() -> Iterator[Callable[[LaneConfig], Lane]]:
    """``lane_factory(LaneConfig(...))`` starts (or reuses) the lane for that configuration.

    The lane is shared by every test that asks for the same configuration, so a test that
    needs empty bindings calls ``lane.reset()`` first (or uses keys of its own)."""
    lanes: dict[LaneConfig, Lane] = {}

    def start(config: LaneConfig) -> Lane:
        if config not in lanes:
            lanes[config] = Lane(config)
        return lanes[config]

    yield start
    for lane in lanes.values():
        lane.close()
