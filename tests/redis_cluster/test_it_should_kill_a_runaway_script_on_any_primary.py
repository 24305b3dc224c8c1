"""The scheduler's runaway-script watchdog on a Redis Cluster: one connection per primary.

An endless `EVAL` (sent with the worker's password) runs on a primary that is
not the seed; that node answers BUSY to everyone until SCRIPT KILL reaches *it*.
The watchdog finds every primary and kills the script there, once the node
answers BUSY (busy-reply-threshold, 5 s as the chart keeps it: the test's cost).
"""

from __future__ import annotations

import asyncio
import threading

import pytest
import redis
from cluster_support import settings_for

from local_stack.redis_cluster import RedisClusterStack
from scheduler.watchdog import ClusterScriptWatchdog, script_watchdog
from workers.connection import bullmq_connection

pytestmark = [pytest.mark.redis]


def test_it_should_kill_a_runaway_script_on_a_primary_that_is_not_the_seed(
    redis_cluster: RedisClusterStack,
) -> None:
    seed = redis_cluster.seed
    victim = next(p for p in redis_cluster.primaries if p.port != seed.port)
    kills: list[str] = []
    dog = script_watchdog(bullmq_connection(settings_for(redis_cluster, "scheduler")), kills.append)
    assert isinstance(dog, ClusterScriptWatchdog)
    outcome: dict[str, str] = {}

    def attack() -> None:
        # No read timeout: a timed-out EVAL would be re-sent and meet its own BUSY.
        kwargs = {**victim.connection_kwargs("worker"), "socket_timeout": 60}
        with redis.Redis(**kwargs) as client:
            try:
                client.eval("while true do end", 0)
                outcome["result"] = "returned"
            except redis.ResponseError as exc:
                outcome["result"] = str(exc)

    async def scenario() -> dict[tuple[str, int], str]:
        primaries = await dog.discover()
        assert victim.port in {port for _, port in primaries}
        assert len(primaries) == len(redis_cluster.primaries)
        thread = threading.Thread(target=attack, daemon=True)
        thread.start()
        try:
            for _ in range(300):  # BUSY after 5 s; bounded at about 30 s
                seen = await dog.check()
                if "killed" in seen.values():
                    return seen
                await asyncio.sleep(0.1)
            raise AssertionError("the watchdog never killed the script")
        finally:
            thread.join(10)
            for d in dog.dogs.values():
                await d.redis.aclose()

    seen = asyncio.run(scenario())
    assert [port for (_, port), o in seen.items() if o == "killed"] == [victim.port]
    assert kills == ["killed"]
    assert "killed" in outcome.get("result", "").lower(), outcome
