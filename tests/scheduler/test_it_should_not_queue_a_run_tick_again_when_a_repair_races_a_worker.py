"""A repair that races a worker never queues a tick that already ran.

Seen in the Sentinel failover drill (one tick in three runs ran twice): a
reconcile pass read the scheduler's next tick, and while it looked for that
tick's job a worker ran the tick and added the one after it. The pass saw the
job gone ("next job missing") and re-registered the schedule with bullmq's
addJobScheduler, whose next fire (computed before the script ran) was the tick
that had just run: the script removed the newer tick as "the previous job",
rewrote the finished job and queued it again. The repair is now bullmq's
guarded next-iteration add (workers/next_tick.py): it does nothing once the
scheduler points elsewhere. The race is staged exactly: the worker's steps run
between the pass's read and its check.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis
from bullmq import Queue
from scheduler_harness import make_spec, pending_ticks, registrar, schedule

from local_stack.redis_server import RedisServer
from workers.next_tick import add_next_tick

pytestmark = [pytest.mark.redis]


def test_it_should_not_queue_a_run_tick_again_when_a_repair_races_a_worker(
    redis_server: RedisServer, queue_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hourly: the pass's own next fire is the tick the worker runs meanwhile.
    spec = make_spec(queue_name, [schedule(queue_name, "hourly", cron="0 * * * *")])

    async def scenario() -> None:
        admin = aioredis.Redis(**redis_server.connection_kwargs("admin"), decode_responses=True)
        worker_side = Queue(queue_name, {"connection": redis_server.connection_kwargs("worker")})
        try:
            async with registrar(redis_server, spec) as reg:
                assert (await reg.reconcile()).created == ["hourly"]
                (ran,) = await pending_ticks(redis_server, queue_name, "hourly")
                ran_ms = int(ran.rsplit(":", 1)[1])

                async def worker_runs_the_tick(_decl: Any, _record: Any) -> bool:
                    # What a worker does meanwhile: run the tick and add the next one.
                    await admin.zrem(f"bull:{queue_name}:delayed", ran)
                    await admin.hset(f"bull:{queue_name}:{ran}", mapping={"ats": 1})
                    await admin.zadd(f"bull:{queue_name}:completed", {ran: ran_ms})
                    added = await add_next_tick(
                        worker_side,
                        "hourly",
                        {"pattern": "0 * * * *", "tz": "UTC"},
                        "tick",
                        {},
                        {"prevMillis": ran_ms},
                        ran,
                    )
                    assert added == f"repeat:hourly:{ran_ms + 3_600_000}"
                    return False  # the pass looked for `ran` after it had moved

                monkeypatch.setattr(reg, "_next_job_present", worker_runs_the_tick)
                report = await reg.reconcile()
            # Before: [`ran` queued again], the newer tick removed, and a repair counted.
            assert await pending_ticks(redis_server, queue_name, "hourly") == [
                f"repeat:hourly:{ran_ms + 3_600_000}"
            ]
            assert report.repaired == {}, report
            assert await admin.zscore(f"bull:{queue_name}:completed", ran) is not None
        finally:
            await worker_side.close()
            await admin.aclose()

    asyncio.run(scenario())
