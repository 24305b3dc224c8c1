"""Every rejected input fails at once (no retry, attempts 3 notwithstanding), lands
in `<queue>-dlq` with the validation error, and the worker keeps running."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis
from conftest import dead_letter, get_job, make_spec, producer, running_worker, wait_finished

from local_stack.redis_server import RedisServer
from workers.dlq import entry_id

pytestmark = pytest.mark.redis

CASES: list[tuple[str, str, Any, str]] = [
    (
        "wrong-type",
        "echo",
        {"text": "x", "count": "many"},
        "count: Input should be a valid integer",
    ),
    ("missing-field", "echo", {"count": 1}, "text: Field required"),
    ("unknown-field", "echo", {"text": "x", "extra": 1}, "extra: unknown field"),
    ("unknown-name", "no-such-job", {"text": "x"}, "unknown job name 'no-such-job'"),
    ("too-big", "echo", {"text": "x" * 2000}, "over maxPayloadBytes 1024"),
    ("not-an-object", "echo", [1, 2], "payload must be a JSON object"),
    ("no-tenant", "echo", {"text": "x"}, "tenantId is required"),
]


@pytest.mark.parametrize(("case", "name", "data", "error"), CASES, ids=[c[0] for c in CASES])
def test_it_should_reject_and_dead_letter(
    redis_server: RedisServer, queue_name: str, case: str, name: str, data: Any, error: str
) -> None:
    tenancy = {"required": case == "no-tenant"}
    # unknown fields are refused where the spec says so (the default ignores them)
    jobs = [{"name": "echo", "unknownFields": "forbid"}] if case == "unknown-field" else []
    spec = make_spec(queue_name, attempts=3, maxPayloadBytes=1024, tenancy=tenancy, jobs=jobs)
    if case != "no-tenant" and isinstance(data, dict):
        data = {**data, "tenantId": "t1"} if case != "unknown-name" else data

    async def scenario() -> None:
        async with (
            running_worker(redis_server, spec) as runtime,
            producer(redis_server, queue_name) as q,
            producer(redis_server, spec.queues[0].dlq_name) as dlq,
        ):
            bad = await q.add(name, data, {"attempts": 3, "backoff": {"type": "fixed", "delay": 0}})
            assert await wait_finished(q, bad.id) == "failed"
            job = await get_job(q, bad.id)
            assert job.attemptsMade == 1, "an invalid job must not be retried"
            assert error in job.failedReason
            letter = await dead_letter(dlq, entry_id(queue_name, bad.id))
            assert letter is not None, "the invalid job is not in the DLQ"
            assert error in letter.data["error"]
            assert letter.data["jobId"] == bad.id and letter.data["attemptsMade"] == 1
            # still running: the next job completes
            ok = await q.add("ping", {"after": case})
            assert await wait_finished(q, ok.id) == "completed"
            text = runtime.metrics.render().decode()
            label = name if name != "no-such-job" else "unknown"
            assert (
                f'bullmq_jobs_dead_lettered_total{{job_name="{label}",queue="{queue_name}"}} 1.0'
                in text
            )

    asyncio.run(scenario())


def test_it_should_dead_letter_malformed_json(
    redis_server: RedisServer, admin_client: redis.Redis, queue_name: str
) -> None:
    """Data that is not JSON (written by hand, not by a BullMQ producer) must not
    wedge the job in `active`: it fails as invalid and is dead-lettered."""
    spec = make_spec(queue_name, attempts=3)
    job_id = "hand-written-1"
    admin_client.hset(
        f"bull:{queue_name}:{job_id}",
        mapping={
            "name": "echo",
            "data": '{"text": "unterminated',
            "opts": '{"attempts":3}',
            "timestamp": int(time.time() * 1000),
            "delay": 0,
            "priority": 0,
        },
    )
    admin_client.lpush(f"bull:{queue_name}:wait", job_id)

    async def scenario() -> None:
        async with (
            running_worker(redis_server, spec),
            producer(redis_server, queue_name) as q,
            producer(redis_server, spec.queues[0].dlq_name) as dlq,
        ):
            assert await wait_finished(q, job_id) == "failed"
            # (bullmq's own Job.fromJSON cannot read this job back: read the hash)
            reason = admin_client.hget(f"bull:{queue_name}:{job_id}", "failedReason")
            assert "data is not valid JSON" in str(reason)
            letter = await dead_letter(dlq, entry_id(queue_name, job_id))
            assert letter is not None and "not valid JSON" in letter.data["error"]

    asyncio.run(scenario())
