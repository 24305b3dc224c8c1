"""The lock-renewal thread outlives a Redis it cannot reach.

A Redis Cluster client connects when it is built and, when no node answers, raises
RedisClusterException, which is not a RedisError: the thread used to die of it, and
with it every lock renewal and blocked-loop report of the process
(workers/loop_watch.py, CONNECT_ERRORS).
"""

from __future__ import annotations

import asyncio
import time

from local_stack.redis_server import free_port
from platform_spec.settings import CLUSTER_KWARG
from workers.loop_watch import LoopWatch

# Renewal every lockDuration/2 = 0.1 s, so the thread retries often.
LOCK_MS = 200
ROUNDS = 5


def test_it_should_keep_renewing_when_no_cluster_node_answers() -> None:
    calls = [0]

    def active_locks() -> list[tuple[str, str]]:
        calls[0] += 1
        return [("1", "token")]

    async def scenario() -> bool:
        watch = LoopWatch(
            # Nothing listens there: every connect is refused at once.
            connection={CLUSTER_KWARG: True, "host": "127.0.0.1", "port": free_port()},
            prefix="bull",
            queue="q",
            lock_duration_ms=LOCK_MS,
            active_locks=active_locks,
            handlers={},
            observe=lambda name, seconds: None,
            report_after_seconds=60,
        )
        await watch.start()
        try:
            deadline = time.monotonic() + 60
            # The open at the first active job, then renewals, each refused.
            while calls[0] < ROUNDS and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert watch._thread is not None
            return calls[0] >= ROUNDS and watch._thread.is_alive()
        finally:
            await watch.stop()

    assert asyncio.run(scenario())
