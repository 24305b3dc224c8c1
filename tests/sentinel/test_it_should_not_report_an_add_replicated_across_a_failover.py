"""WAIT after an add answers for the add's own primary, or not at all.

Regression: the producer's client retried WAIT after its connection dropped; the
retry went through Sentinel to the promoted replica, which answered for its own
writes, so an add the dead primary never replicated was reported "replicated".
Here both replicas are frozen while the add lands, the primary is killed while
WAIT blocks, and the replicas resume: WAIT must end in NotReplicated.
"""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
import redis
from bullmq import Queue as BullQueue
from test_it_should_follow_the_primary_after_a_failover import kwargs_of

from local_stack.sentinel_cluster import SentinelCluster
from workers.connection import bullmq_connection_arg
from workers.replication_ack import NotReplicated, add_acknowledged

pytestmark = [pytest.mark.redis, pytest.mark.slow]
# Long enough that the kill and the failover happen while WAIT still blocks.
WAIT_TIMEOUT_MS = 60_000


def _blocked_clients(cluster: SentinelCluster, port: int) -> int:
    node = next(n for n in cluster.nodes if n.port == port)
    client = redis.Redis(**node.connection_kwargs("admin"), socket_timeout=2)
    try:
        return int(client.info("clients")["blocked_clients"])
    finally:
        client.close()


def test_it_should_report_not_replicated_when_the_primary_dies_during_wait(
    sentinels: SentinelCluster,
) -> None:
    old = sentinels.primary()
    replicas = [n for n in sentinels.nodes if n.port != old.port]
    outcome: dict[str, object] = {}

    async def run() -> None:
        queue = BullQueue(
            "wait-failover", {"connection": bullmq_connection_arg(kwargs_of(sentinels))}
        )
        await queue.client.ping()  # the queue's one connection, to the current primary
        for node in replicas:
            assert node.process is not None
            node.process.send_signal(signal.SIGSTOP)  # the add reaches no replica
        started = time.monotonic()
        add = asyncio.create_task(
            add_acknowledged(queue, "work", {}, {"jobId": "j1"}, (1, WAIT_TIMEOUT_MS))
        )
        try:
            deadline = started + 60
            while time.monotonic() < deadline and not add.done():
                blocked = await asyncio.to_thread(_blocked_clients, sentinels, old.port)
                if blocked:
                    break
            outcome["waiting_at"] = round(time.monotonic() - started, 2)
            sentinels.kill_primary(signal.SIGKILL)
            for node in replicas:
                assert node.process is not None
                node.process.send_signal(signal.SIGCONT)
            try:
                job = await asyncio.wait_for(add, WAIT_TIMEOUT_MS / 1000 + 60)
                outcome["result"] = f"reported replicated: {job.id}"
            except NotReplicated as exc:
                outcome["result"] = f"NotReplicated: {exc}"
            outcome["seconds"] = round(time.monotonic() - started, 2)
        finally:
            for node in replicas:
                if node.process is not None:
                    node.process.send_signal(signal.SIGCONT)
            await queue.close()

    asyncio.run(run())
    print(
        f"[sentinel] add, then kill -9 the primary while WAIT 1 blocks: WAIT blocking at "
        f"{outcome.get('waiting_at')} s, outcome after {outcome.get('seconds')} s: "
        f"{outcome.get('result')}"
    )
    assert str(outcome.get("result", "")).startswith("NotReplicated"), outcome
