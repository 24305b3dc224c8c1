"""A partitioned queue on a real Redis Cluster: its partitions land on several shards,
the producer writes each partition on its own shard, and the scaling signal adds them
up. (A worker draining every partition, on both engines, is
tests/workers/test_it_should_spread_a_partitioned_queue.py: on this cluster K stock
engines take a minute to start and stop on a loaded 2-core machine.)"""

from __future__ import annotations

import asyncio

import pytest
from cluster_support import queue_names, settings_for, spec_for

from autoscaling.signal import scaling_response
from local_stack.redis_cluster import RedisClusterStack
from platform_spec.model import PlatformSpec
from workers.connection import bullmq_connection, connect
from workers.producer import Producer

pytestmark = [pytest.mark.redis, pytest.mark.slow]

K = 6
JOBS = 12
# A job waits in `waiting`, or `prioritized` with a priority (the spec's default is 3).
WAITING = ("waiting", "prioritized")


def test_it_should_spread_partitions_over_shards_and_count_them_as_one_queue(
    redis_cluster: RedisClusterStack,
) -> None:
    (name,) = queue_names(1)
    data = spec_for([name]).model_dump(by_alias=True)
    data["queues"][0].update(partitions=K, concurrency=K)
    spec = PlatformSpec.model_validate(data)
    parts = spec.queue(name).partition_names
    owners = {p: redis_cluster.primary_of(spec.queue_keys(p).wait).port for p in parts}
    print(f"[cluster] {K} partitions of {name} on {len(set(owners.values()))} primaries")
    assert len(set(owners.values())) >= 2

    async def scenario() -> None:
        settings = settings_for(redis_cluster)
        producer = Producer(spec, bullmq_connection(settings))
        client = connect(settings.redis_kwargs(), decode_responses=True)
        try:
            for n in range(JOBS):
                await producer.enqueue(name, "work", {"n": n})
            status, body = await scaling_response(client, spec, name)
            assert status == 200, body
            assert body["state"]["wait"] + body["state"]["prioritized"] == JOBS

            counts = [
                sum((await producer.bull_queue(p).getJobCounts(*WAITING)).values()) for p in parts
            ]
            assert counts == [JOBS // K] * K, counts  # round-robin, one per shard's slot
        finally:
            await producer.close()
            await client.aclose()

    asyncio.run(scenario())
