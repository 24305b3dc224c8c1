"""Job timeouts with one watcher: a job past its limit gets TimeoutError, others are untouched."""

from __future__ import annotations

import asyncio

import pytest

from workers.deadlines import JobDeadlines


async def _run(deadlines: JobDeadlines, seconds: float, work: float) -> str:
    deadline = deadlines.limit(seconds)
    try:
        with deadline:
            await asyncio.sleep(work)
    except TimeoutError:
        assert deadline.expired
        return "timed out"
    return "done"


def test_it_should_time_out_only_the_job_past_its_limit() -> None:
    async def scenario() -> list[str]:
        deadlines = JobDeadlines(resolution=0.01)
        try:
            return list(
                await asyncio.gather(
                    _run(deadlines, 0.05, 30), _run(deadlines, 30, 0.01), _run(deadlines, 30, 0)
                )
            )
        finally:
            await deadlines.close()

    assert asyncio.run(asyncio.wait_for(scenario(), 20)) == ["timed out", "done", "done"]


def test_it_should_let_an_outside_cancellation_through() -> None:
    """A cancel that is not the deadline's (a drain handing jobs back) stays a cancel."""

    async def scenario() -> None:
        deadlines = JobDeadlines(resolution=0.01)
        task = asyncio.ensure_future(_run(deadlines, 30, 30))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await deadlines.close()

    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_it_should_keep_the_task_usable_after_a_timeout() -> None:
    """The deadline takes back its own cancel request: the slot goes on with the next job."""

    async def scenario() -> list[str]:
        deadlines = JobDeadlines(resolution=0.01)
        first = await _run(deadlines, 0.02, 30)
        assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
        second = await _run(deadlines, 30, 0.01)
        await deadlines.close()
        return [first, second]

    assert asyncio.run(asyncio.wait_for(scenario(), 20)) == ["timed out", "done"]


def test_it_should_find_the_job_task_on_a_later_loop() -> None:
    """Deadlines remember their loop (a cheaper task lookup); a job on another loop (a
    second asyncio.run before close()) still finds its own task instead of failing."""
    deadlines = JobDeadlines(resolution=0.01)
    assert asyncio.run(asyncio.wait_for(_run(deadlines, 30, 0), 20)) == "done"
    assert deadlines.loop is not None
    assert asyncio.run(asyncio.wait_for(_run(deadlines, 30, 0), 20)) == "done"
