"""Clients built by workers/connection.py find the new primary by themselves.

Regression: with redis-py 8, a pooled connection that dropped reconnected through
`connect_check_health`, which skips the Sentinel lookup of
`SentinelManagedConnection.connect`, so after a failover the client dialled the
dead primary's address forever. `_ResolveOnReconnect` asks the Sentinels at every
(re)connect. The fast engine's pipelined connection does the same on its own.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from local_stack.sentinel_cluster import SentinelCluster
from platform_spec.settings import RedisSettings
from workers._fast_redis import PipelinedRedis
from workers.connection import connect, connect_sync

pytestmark = [pytest.mark.redis, pytest.mark.slow]
FAILOVER_BOUND_SECONDS = 60.0


def kwargs_of(cluster: SentinelCluster) -> dict[str, Any]:
    env = cluster.env("worker")
    return RedisSettings(
        username="worker",
        password_file=Path(env["BULLMQ_PLATFORM_REDIS_PASSWORD_FILE"]),
        ca_file=Path(env["BULLMQ_PLATFORM_REDIS_CA_FILE"]),
        sentinel_hosts=env["BULLMQ_PLATFORM_REDIS_SENTINEL_HOSTS"],
        sentinel_master=cluster.master_name,
        connect_timeout_seconds=2,
    ).redis_kwargs()


async def _until_written(write: Any, key: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < FAILOVER_BOUND_SECONDS:
        try:
            await write(key)
            return time.monotonic() - started
        except (redis.RedisError, OSError, TimeoutError):
            await asyncio.sleep(0.1)  # the client's own retry pause; nothing is rebuilt
    raise TimeoutError(f"no write through the same client within {FAILOVER_BOUND_SECONDS}s")


def test_it_should_reconnect_the_same_clients_to_the_new_primary(
    sentinels: SentinelCluster,
) -> None:
    kwargs = kwargs_of(sentinels)

    async def run() -> dict[str, float]:
        pooled = connect(kwargs, decode_responses=True)
        single = connect(kwargs, decode_responses=True, single_connection_client=True)
        fast = PipelinedRedis(kwargs)
        await fast.connect()
        try:
            for client in (pooled, single):
                await client.set("bull:probe:before", "1")
            await fast.execute("SET", "bull:probe:before", "1")
            old = sentinels.primary().port
            await asyncio.to_thread(sentinels.kill_primary)

            async def fast_write(key: str) -> None:
                if not fast.connected:
                    await fast.connect()
                await fast.execute("SET", key, "1")

            seconds = {
                "pooled": await _until_written(lambda k: pooled.set(k, "1"), "bull:probe:pooled"),
                "single": await _until_written(lambda k: single.set(k, "1"), "bull:probe:single"),
                "fast": await _until_written(fast_write, "bull:probe:fast"),
            }
            assert sentinels.primary().port != old
            return seconds
        finally:
            await pooled.aclose()
            await single.aclose()
            await fast.close()

    seconds = asyncio.run(run())
    print(f"[sentinel] seconds until the same client wrote again: {seconds}")
    blocking = connect_sync(kwargs, decode_responses=True)
    try:
        assert blocking.get("bull:probe:pooled") == "1" and blocking.get("bull:probe:fast") == "1"
        assert blocking.connection_pool.get_master_address()[1] == sentinels.primary().port
    finally:
        blocking.close()
