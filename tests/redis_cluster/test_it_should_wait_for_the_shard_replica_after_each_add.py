"""The platform's producers WAIT in cluster mode (`redis.cluster.waitReplicas`).

WAIT counts the writes of the connection it runs on, and a RedisCluster hands
each command any pooled connection: a WAIT on a connection that never wrote
answers at once with every connected replica, whatever happened to the add. So
the proof freezes (SIGSTOP) the replica of the queue's shard: a WAIT on the add's
own connection then times out and the add is reported not replicated; once the
replica runs again the same add is acknowledged.
"""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
from bullmq import Queue as BullQueue
from cluster_support import queue_names, settings_for, spec_for

from local_stack.redis_cluster import RedisClusterStack
from workers.connection import bullmq_connection, bullmq_connection_arg
from workers.replication_ack import NotReplicated, add_acknowledged

pytestmark = [pytest.mark.redis]

WAIT_MS = 300


def _replica_pid(stack: RedisClusterStack, queue: str) -> int:
    """pid of a replica of the primary that owns `queue`'s slot."""
    primary = stack.queue_primary(queue)
    for node in stack.nodes:
        with node.admin(socket_timeout=5) as client:
            info = client.info("replication")
        if info.get("role") == "slave" and int(info.get("master_port", 0)) == primary.port:
            assert node.process is not None
            return node.process.pid
    raise AssertionError(f"no replica of {queue}'s primary")


def test_it_should_wait_for_the_shard_replica_on_the_adds_connection(
    redis_cluster: RedisClusterStack,
) -> None:
    (name,) = queue_names(1)
    spec = spec_for([name], waitReplicas=1, waitTimeoutMilliseconds=WAIT_MS)
    policy = (1, WAIT_MS)
    replica = _replica_pid(redis_cluster, name)

    async def scenario() -> None:
        conn = bullmq_connection_arg(bullmq_connection(settings_for(redis_cluster)))
        queue = BullQueue(name, {"connection": conn, "prefix": spec.queue_prefix(name)})
        try:
            job = await add_acknowledged(queue, "work", {"n": 1}, {"jobId": "a1"}, policy)
            assert job.id == "a1"
            os.kill(replica, signal.SIGSTOP)
            try:
                with pytest.raises(NotReplicated, match="0 of 1 replica"):
                    await add_acknowledged(queue, "work", {"n": 2}, {"jobId": "a2"}, policy)
            finally:
                os.kill(replica, signal.SIGCONT)
            # The retry (same job id, which BullMQ keeps) is acknowledged once it catches up.
            for _ in range(50):
                try:
                    await add_acknowledged(queue, "work", {"n": 2}, {"jobId": "a2"}, policy)
                    break
                except NotReplicated:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("the add was never acknowledged after the replica resumed")
        finally:
            await queue.close()

    asyncio.run(scenario())
