"""A partitioned worker's liveness reads the stalest partition that can still fetch: a
partition whose slots all run long jobs does not fetch, and must not fail the probe."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from workers.partitioned_engine import PartitionedEngine


def engine(active: int, last_progress: float) -> Any:
    return SimpleNamespace(active=active, last_progress=last_progress)


def test_it_should_leave_out_a_partition_whose_slots_are_all_busy() -> None:
    busy, idle = engine(active=1, last_progress=100.0), engine(active=0, last_progress=500.0)
    assert PartitionedEngine([busy, idle], [1, 1]).last_progress == 500.0


def test_it_should_report_the_stalest_partition_that_has_a_free_slot() -> None:
    stale, fresh = engine(active=1, last_progress=100.0), engine(active=0, last_progress=500.0)
    assert PartitionedEngine([stale, fresh], [2, 1]).last_progress == 100.0
