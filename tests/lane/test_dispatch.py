"""Events reach the entry module the way workerd delivers them (docs/runtime.md)."""

from __future__ import annotations

import pytest

from driver import WorkerError

pytestmark = pytest.mark.lane


@pytest.fixture
def lane(probe_lane):
    return probe_lane


def test_scheduled_gets_cron_and_time_and_finishes_after_wait_until(lane):
    no_retry = lane.scheduled("0 * * * *", scheduled_time_ms=1_735_689_600_000)

    assert no_retry is False
    assert lane.r2_get("BUCKET", "scheduled.txt").body == b"0 * * * *|1735689600000"


def test_scheduled_reports_no_retry(lane):
    assert lane.scheduled("59 23 * * *") is True


def test_a_rejected_wait_until_fails_the_event(lane):
    with pytest.raises(WorkerError, match="background work failed"):
        lane.fetch("GET", "/fails-later")


def test_an_uncaught_exception_is_a_worker_error_with_its_traceback(lane):
    with pytest.raises(WorkerError, match="LookupError: handler bug"):
        lane.fetch("GET", "/raises")


def test_the_entry_module_exports_its_default_entrypoint(lane):
    assert lane.entrypoints["workerEntrypoints"] == ["Default"]
