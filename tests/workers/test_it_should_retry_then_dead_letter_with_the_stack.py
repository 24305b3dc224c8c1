"""Retries follow the spec (attempts, backoff); after the last attempt the job is
in `<queue>-dlq` with its data, error, stack and attempt count."""

from __future__ import annotations

import asyncio
import random

import pytest
from conftest import dead_letter, get_job, make_spec, producer, running_worker, wait_finished

from local_stack.redis_server import RedisServer
from platform_spec.model import Backoff
from workers.dlq import entry_id
from workers.options import retry_delay_ms

pytestmark = pytest.mark.redis


def test_it_should_retry_a_flaky_job_until_it_succeeds(
    redis_server: RedisServer, queue_name: str
) -> None:
    """A job sent without attempts (as a Node producer might) gets the spec's 3."""
    spec = make_spec(queue_name, attempts=3, backoff={"type": "fixed", "delayMs": 50})

    async def scenario() -> None:
        async with (
            running_worker(redis_server, spec) as rt,
            producer(redis_server, queue_name) as q,
        ):
            job = await q.add("flaky", {"succeedOn": 3})
            assert await wait_finished(q, job.id) == "completed"
            done = await get_job(q, job.id)
            assert done.returnvalue == {"attempt": 3}
            assert done.attemptsMade == 3
            text = rt.metrics.render().decode()
            assert f'bullmq_jobs_retried_total{{job_name="flaky",queue="{queue_name}"}} 2.0' in text

    asyncio.run(scenario())


def test_it_should_dead_letter_after_the_last_attempt(
    redis_server: RedisServer, queue_name: str
) -> None:
    spec = make_spec(queue_name, attempts=2, backoff={"type": "exponential", "delayMs": 20})

    async def scenario() -> None:
        async with (
            running_worker(redis_server, spec),
            producer(redis_server, queue_name) as q,
            producer(redis_server, spec.queues[0].dlq_name) as dlq,
        ):
            job = await q.add("fail", {"text": "boom"})
            assert await wait_finished(q, job.id) == "failed"
            assert (await get_job(q, job.id)).attemptsMade == 2
            letter = await dead_letter(dlq, entry_id(queue_name, job.id))
            assert letter is not None
            assert letter.name == "fail"
            assert letter.data["data"] == {"text": "boom"}
            assert letter.data["error"] == "always fails: boom"
            assert letter.data["attemptsMade"] == 2
            assert any("ValueError" in s for s in letter.data["stacktrace"])

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("kind", "attempts_made", "low", "high"),
    [("fixed", 3, 750, 1000), ("exponential", 1, 750, 1000), ("exponential", 3, 3000, 4000)],
)
def test_it_should_apply_jitter_within_bounds(
    kind: str, attempts_made: int, low: int, high: int
) -> None:
    backoff = Backoff(type=kind, delay_ms=1000, jitter=0.25)  # type: ignore[arg-type]
    rng = random.Random(7)
    delays = {retry_delay_ms(None, backoff, attempts_made, rng) for _ in range(200)}
    assert min(delays) >= low and max(delays) <= high
    assert len(delays) > 50, "jitter should spread the delays"
    # the job's own backoff wins over the spec's
    assert retry_delay_ms({"type": "fixed", "delay": 5}, backoff, attempts_made) == 5
