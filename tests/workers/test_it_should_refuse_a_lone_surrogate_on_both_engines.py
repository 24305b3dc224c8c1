"""One text encoding on both engines (issue 17): a lone UTF-16 surrogate ("\\ud83d"),
which Node's JSON.stringify writes as an escape, is refused by both engines as
invalid data (Python could not encode it as UTF-8 later, in a log line or a Redis
write); a well-formed pair (an emoji) passes. Before, the fast engine dead-lettered
it and the stock engine handed it to the handler."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import get_job, make_spec, producer, running_worker, wait_finished, wait_for
from node_interop import node_add_many

from local_stack.redis_server import RedisServer
from workers.dlq import entry_id

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def test_it_should_dead_letter_a_lone_surrogate_and_pass_a_pair(
    redis_server: RedisServer, node_bullmq: Path, queue_name: str
) -> None:
    lone, pair = node_add_many(
        node_bullmq,
        redis_server,
        queue_name,
        [
            ("echo", {"text": "\ud83d"}, {"attempts": 3}),
            ("echo", {"text": "\ud83d\ude00"}, {"attempts": 3}),
        ],
    )
    spec = make_spec(queue_name, attempts=3)

    async def scenario() -> None:
        async with (
            running_worker(redis_server, spec),
            producer(redis_server, queue_name) as q,
            producer(redis_server, spec.queues[0].dlq_name) as dlq,
        ):
            assert await wait_finished(q, pair) == "completed"
            assert (await get_job(q, pair)).returnvalue["text"] == "\U0001f600"
            assert await wait_finished(q, lone) == "failed"

            # the DLQ entry is written by the failed hook, just after the job's state
            async def dead_lettered() -> bool:
                return await dlq.getJob(entry_id(queue_name, lone)) is not None

            assert await wait_for(dead_lettered), "the job is not in the DLQ"
            letter = await dlq.getJob(entry_id(queue_name, lone))
            assert letter is not None, "the job is not in the DLQ"
            error = letter.data["error"]
            assert "data is not valid JSON (no low surrogate in string" in error, error
            assert letter.data["attemptsMade"] == 1

    asyncio.run(scenario())
