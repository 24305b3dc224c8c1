"""tenancy.maxActivePerTenant: a tenant at its limit has its next job put back
(delayed, no attempt spent) while other tenants' jobs run."""

from __future__ import annotations

import asyncio

import pytest
from conftest import get_job, make_spec, producer, running_worker, wait_finished, wait_for

from local_stack.redis_server import RedisServer

pytestmark = pytest.mark.redis


def test_it_should_defer_a_tenant_at_its_limit(redis_server: RedisServer, queue_name: str) -> None:
    spec = make_spec(queue_name, concurrency=4, tenancy={"required": True, "maxActivePerTenant": 1})

    async def scenario() -> None:
        async with running_worker(redis_server, spec), producer(redis_server, queue_name) as q:
            first = await q.add("sleep", {"seconds": 2, "tenantId": "a"})

            async def first_active() -> bool:
                return str(await q.getJobState(first.id)) == "active"

            assert await wait_for(first_active)
            second = await q.add("sleep", {"seconds": 0, "tenantId": "a"})
            other = await q.add("sleep", {"seconds": 0, "tenantId": "b"})
            assert await wait_finished(q, other.id) == "completed"

            async def second_put_back() -> bool:
                return str(await q.getJobState(second.id)) == "delayed"

            assert await wait_for(second_put_back), "tenant a's second job was not deferred"
            assert await q.getJobState(first.id) == "active"
            assert await wait_finished(q, first.id) == "completed"
            assert await wait_finished(q, second.id, attempts=400) == "completed"
            assert (await get_job(q, second.id)).attemptsMade == 1

    asyncio.run(scenario())
