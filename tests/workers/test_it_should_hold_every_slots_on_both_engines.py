"""`every` job schedulers keep their slots on both engines (issue 17): a Node
`upsertJobScheduler(id, {every})` consumed by our worker produces one job per
slot, none lost (the stock engine used to lose one tick in about ten)."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

import pytest
from conftest import make_spec, producer, running_worker, wait_for
from node_interop import node

from local_stack.redis_server import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.slow]

EVERY_MS = 1000
TICKS = 8


def test_it_should_run_one_job_per_every_slot(
    redis_server: RedisServer, node_bullmq: Path, queue_name: str
) -> None:
    spec = make_spec(queue_name)
    node(
        node_bullmq,
        redis_server,
        "every",
        queue_name,
        "tick",
        str(EVERY_MS),
        "echo",
        json.dumps({"text": "tick"}),
    )

    async def scenario() -> list[tuple[int, int]]:
        async with running_worker(redis_server, spec), producer(redis_server, queue_name) as q:

            async def enough() -> bool:
                return int(await q.getJobCountByTypes("completed")) >= TICKS

            assert await wait_for(enough, attempts=TICKS * 40, pause=0.05)
            done = await q.getJobs(["completed"], 0, -1)
            await q.removeJobScheduler("tick")
        # an `every` iteration's id ends in its slot (ms): repeat:<scheduler>:<slot>
        return sorted((int(job.id.rsplit(":", 1)[1]), int(job.processedOn)) for job in done)

    runs = asyncio.run(scenario())
    slots = [slot for slot, _ in runs]
    print(
        f"every {EVERY_MS} ms: slot gaps {[b - a for a, b in itertools.pairwise(slots)]}, "
        f"started late by {[started - slot for slot, started in runs]} ms"
    )
    # The first tick may be missed while the worker starts; after it, no slot is lost.
    assert all(b - a == EVERY_MS for a, b in itertools.pairwise(slots[1:])), slots
