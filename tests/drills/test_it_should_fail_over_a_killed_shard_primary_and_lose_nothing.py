"""Drill: kill -9 the primary of one shard while jobs stream into queues on all three.

A 6-node TLS + ACL Redis Cluster (3 shards x 2, node timeout 1.5 s), one
worker process per queue (the killed shard's queue and one other on the fast engine,
the third on the stock one: both engines in one run). Jobs
stream into every queue; the primary that owns queue A's slot is SIGKILLed. Its
replica is promoted, the workers and the producer find it, the killed node is
restarted and rejoins as a replica. Printed: sent / completed / duplicated /
lost / stuck per queue, seconds without shard A, and what the other shards did
meanwhile. Asserted: nothing lost, nothing stuck, and the queues on the other
shards never refused an add.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_drill import (
    FAST_WORKER_ENV,
    DurableProducer,
    cluster_drill_spec,
    describe,
    done,
    pending,
    settled,
)
from drill_support import HERE, stop, wait_until

from local_stack.processes import worker_process, write_spec_file
from local_stack.redis_cluster import RedisClusterStack

pytestmark = [pytest.mark.drill, pytest.mark.slow, pytest.mark.redis]

STREAM_SECONDS = 20  # jobs keep coming this long after the kill (bounded)
# The engine of each queue's worker: the killed shard's queue first.
ENGINES = ("fast", "stock", "fast")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RedisClusterStack]:
    # The stack's spec renders the nodes' config; the drill's queues come later.
    stack = RedisClusterStack(tmp_path / "cluster", spec=cluster_drill_spec(["drill"]))
    stack.start(timeout=120)
    try:
        yield stack
    finally:
        stack.stop(kill=True)


def _distinct_shards(stack: RedisClusterStack) -> list[str]:
    """Queue names whose slots live on three different primaries (bounded search)."""
    spec = stack.spec
    chosen: dict[int, str] = {}
    for i in range(500):
        name = f"q{i}"
        port = stack.primary_of(spec.queue_keys(name).wait).port
        chosen.setdefault(port, name)
        if len(chosen) == 3:
            return list(chosen.values())
    raise AssertionError("no three queues on three shards in 500 names")


def test_it_should_fail_over_a_killed_shard_primary_and_lose_nothing(
    cluster: RedisClusterStack, tmp_path: Path
) -> None:
    names = _distinct_shards(cluster)
    spec = cluster_drill_spec(names, nodeTimeoutMs=1500)
    spec_file = write_spec_file(tmp_path / "spec.json", spec)
    engines = dict(zip(names, ENGINES, strict=True))
    workers = [
        worker_process(
            cluster,
            spec,
            spec_file,
            q,
            tmp_path / "logs",
            extra_env=FAST_WORKER_ENV,
            pythonpath=[HERE],
            engine=engines[q],
        ).start()
        for q in names
    ]
    producer = DurableProducer(cluster, spec, names)
    victim_queue, others = names[0], names[1:]
    try:
        for q in names:  # warm up: every queue takes work before the kill
            assert wait_until(lambda q=q: producer.feed(q), 60), f"cannot feed {q}"
        assert wait_until(lambda: all(done(cluster, spec, q)[0] for q in names), 90)

        victim = cluster.queue_primary(victim_queue)
        killed_at = time.monotonic()
        victim.stop(kill=True)  # kill -9 (and close our end of its stderr pipe)
        done_before = {q: len(done(cluster, spec, q)[0]) for q in others}

        victim_feed = producer.feeds[victim_queue]

        def recovered() -> float | None:
            after = [t for t in victim_feed.accepted_at if t > killed_at]
            return after[0] if after else None

        # Stream into every queue until the killed shard takes adds again (bounded).
        while recovered() is None and time.monotonic() - killed_at < STREAM_SECONDS:
            for q in names:
                producer.feed(q)
            time.sleep(0.05)
        recovered_at = recovered()
        assert recovered_at is not None, f"shard of {victim_queue} never came back"
        others_during = {q: len(done(cluster, spec, q)[0]) - done_before[q] for q in others}

        victim.start()  # rejoins (nodes.conf on its data dir) as a replica of the new primary
        cluster.wait_healthy(120)
        # The new primary has a replica again: the unconfirmed batch is sent once more.
        for q in names:
            assert wait_until(lambda q=q: producer.feed(q), 60), f"cannot feed {q}"
        assert wait_until(lambda: settled(cluster, spec, producer), 180), describe(
            cluster, spec, producer
        )
    finally:
        stop(workers)

    without = recovered_at - killed_at
    for q in names:
        ids, executions = done(cluster, spec, q)
        feed = producer.feeds[q]
        lost = feed.sent - len(ids & {f"j{n}" for n in range(feed.sent)})
        stuck = pending(cluster, spec, q)
        print(
            f"[drill] cluster primary kill-9, queue {q} ({engines[q]} engine)"
            f"{' (killed shard)' if q == victim_queue else ''}: sent={feed.sent}, "
            f"completed={len(ids)}, duplicated={executions - len(ids)}, lost={lost}, "
            f"stuck={stuck}, add errors={feed.errors}, unconfirmed={feed.unconfirmed}"
        )
        assert lost == 0 and stuck == 0
    print(
        f"[drill] seconds without the killed shard (kill to the first add it accepted): "
        f"{without:.1f}; "
        f"jobs completed meanwhile on the other shards: {others_during}"
    )
    for q in others:
        assert producer.feeds[q].errors == 0, f"{q} is on a live shard but refused adds"
