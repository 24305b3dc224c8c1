"""The producers' memory limit counts what Redis's maxmemory check counts.

Regression: the guard compared used_memory, which includes replica output buffers
(left out of maxmemory: mem_not_counted_for_evict), so a replica that fell behind
(a full resync, a stall) got producers refused while Redis was far from full.
Here a frozen replica's output buffer grows while the data stays at 80 % of
maxmemory: the guard (limit 85 %) must let producers through.
"""

from __future__ import annotations

import asyncio
import signal

import pytest
import redis
import redis.asyncio as aioredis

from local_stack.sentinel_cluster import SentinelCluster
from workers.memory_guard import ProducerGuard, RedisNearlyFull

pytestmark = [pytest.mark.redis, pytest.mark.slow]
LIMIT_PERCENT = 85
CHUNK = b"x" * 100_000


def test_it_should_let_producers_through_while_a_replica_buffer_grows(
    sentinels: SentinelCluster,
) -> None:
    primary = sentinels.primary()
    frozen = next(n for n in sentinels.nodes if n.port != primary.port)
    admin = redis.Redis(**primary.connection_kwargs("admin"), socket_timeout=10)
    configured = admin.config_get("maxmemory")["maxmemory"]
    assert frozen.process is not None
    frozen.process.send_signal(signal.SIGSTOP)
    try:
        # Write until the frozen replica's buffer is a quarter of what Redis counts.
        n = 0
        memory = admin.info("memory")
        while n < 400 and int(memory["mem_not_counted_for_evict"]) * 4 < int(memory["used_memory"]):
            admin.set(f"buffer:{n}", CHUNK)
            n += 1
            memory = admin.info("memory")
        used, hidden = int(memory["used_memory"]), int(memory["mem_not_counted_for_evict"])
        counted = used - hidden
        maxmemory = counted * 100 // 80  # the data fills 80 %: under the 85 % limit
        admin.config_set("maxmemory", maxmemory)

        async def guard() -> str:
            client = aioredis.Redis(**primary.connection_kwargs("admin"))
            try:
                await ProducerGuard(client, LIMIT_PERCENT).check()
                return "let through"
            except RedisNearlyFull as exc:
                return f"refused: {exc}"
            finally:
                await client.aclose()

        outcome = asyncio.run(guard())
    finally:
        frozen.process.send_signal(signal.SIGCONT)
        admin.config_set("maxmemory", configured)
        admin.close()
    print(
        f"[sentinel] producers' guard with a frozen replica: used_memory={used}, "
        f"not_counted_for_evict={hidden}, maxmemory={maxmemory} (counted "
        f"{counted * 100 // maxmemory} %, used_memory {used * 100 // maxmemory} %), {n} writes "
        f"of 100 kB: {outcome}"
    )
    assert hidden * 4 >= used, "the replica buffer did not grow"
    assert outcome == "let through", outcome
