"""The cluster bench's queue choice: queues spread evenly over the shard ranges."""

from __future__ import annotations

from bench.cluster_scale import Figures, spread_queues
from local_stack.redis_cluster import key_slot, slot_ranges


def test_it_should_put_as_many_queues_on_each_shard() -> None:
    queues = spread_queues(6, 3)
    ranges = slot_ranges(3)
    per_shard = [0, 0, 0]
    for q in queues:
        slot = key_slot(f"bull:{{{q}}}:{q}:wait")
        per_shard[next(i for i, (lo, hi) in enumerate(ranges) if lo <= slot <= hi)] += 1
    assert per_shard == [2, 2, 2]


def test_it_should_print_cpu_per_job_in_microseconds() -> None:
    line = Figures(3, 1000, 2.0, 0.05, 0.02, 0.6).line()
    assert "500 jobs/s" in line and "50 us/job (all nodes)" in line
    assert "busiest node 20 us/job" in line and "workers CPU 600 us/job" in line
