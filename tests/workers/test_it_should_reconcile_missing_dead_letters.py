"""The dead-letter reconciler (workers/dlq_reconcile.py), against a real Redis.

Failed jobs whose DLQ entry never got written (their worker died first) get
one, built from the job hash; a second pass adds nothing (entry ids derive from
job ids); an entry an operator purged is not brought back. The SIGKILL itself is
the drill's (tests/drills/test_it_should_dead_letter_every_failure_through_a_worker_kill.py).
"""

from __future__ import annotations

import asyncio

import pytest
from conftest import (
    dead_letter,
    make_spec,
    producer,
    redis_settings,
    running_worker,
    wait_finished,
)

from local_stack.redis_server import RedisServer
from workers.connection import bullmq_connection, connect
from workers.dlq import DeadLetterQueue, entry_id
from workers.dlq_reconcile import DeadLetterReconciler

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def test_it_should_add_missing_entries_once_and_leave_purged_ones_alone(
    redis_server: RedisServer, queue_name: str
) -> None:
    spec = make_spec(queue_name)
    q = spec.queues[0]
    checkpoint = spec.platform_keys().dlq_checkpoint(q.name)
    connection = bullmq_connection(redis_settings(redis_server))

    async def scenario() -> None:
        async with (
            producer(redis_server, q.name) as source,
            producer(redis_server, q.dlq_name) as dlq_queue,
        ):
            async with running_worker(redis_server, spec):
                ids = [str((await source.add("fail", {"text": str(i)})).id) for i in range(3)]
                for job_id in ids:
                    assert await wait_finished(source, job_id) == "failed"
                    assert await dead_letter(dlq_queue, entry_id(q.name, job_id)) is not None
            dlq = DeadLetterQueue(q, spec.queue_prefix(q.name), connection)
            recovered: list[int] = []
            reconciler = DeadLetterReconciler(
                dlq,
                connect(connection, decode_responses=False),
                spec.queue_keys(q.name),
                checkpoint,
                recovered.append,
            )
            try:
                # Two entries lost (as if their worker died), one purged by an operator.
                for job_id in ids[:2]:
                    await dlq_queue.remove(entry_id(q.name, job_id))
                assert await dlq.purge(entry_id(q.name, ids[2])) == 1
                await reconciler.client.delete(checkpoint)  # look at every failed job again
                assert await reconciler.run_pass() == 2
                for job_id in ids[:2]:
                    letter = await dlq.get(entry_id(q.name, job_id))
                    assert letter is not None and letter.job_id == job_id
                    assert letter.error.startswith("always fails") and letter.name == "fail"
                    assert letter.data == {"text": str(ids.index(job_id))}
                    assert letter.stacktrace and letter.attempts_made == 1
                assert await dlq.get(entry_id(q.name, ids[2])) is None
                await reconciler.client.delete(checkpoint)
                assert await reconciler.run_pass() == 0  # nothing twice
                assert await dlq.count() == 2 and recovered == [2]
                assert float(await reconciler.client.get(checkpoint) or 0) > 0
            finally:
                await reconciler.stop()
                await dlq.close()

    asyncio.run(scenario())
