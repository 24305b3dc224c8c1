"""The runtime's JobView of a fast-engine job, built positionally
(workers/engine_fast_adapter.py job_view): every field distinct, so a swap shows."""

from __future__ import annotations

from workers.bullmq_wire import FastJob
from workers.engine import JobView
from workers.engine_fast_adapter import job_view


def test_job_view_should_put_each_field_where_it_belongs() -> None:
    opts = {"attempts": 5, "delay": 7}
    job = FastJob(
        id="id1",
        name="nm",
        data={"d": 1},
        opts=opts,
        attempts_made=2,
        timestamp=1700000000005,
        token="tok",
        raw_stacktrace=b'["s1","s2"]',
        processed_on=1700000000009,
        parent={"id": "p", "queue": "bull:q"},
    )
    assert job_view(job) == JobView(
        id="id1",
        name="nm",
        data={"d": 1},
        attempts_made=2,
        max_attempts=5,
        timestamp_ms=1700000000005,
        stacktrace=["s1", "s2"],
        opts=opts,
        token="tok",
        processed_on=1700000000009,
        parent={"id": "p", "queue": "bull:q"},
    )
    assert job_view(job, finished=True).attempts_made == 3
    assert job_view(job).delay_ms == 7
