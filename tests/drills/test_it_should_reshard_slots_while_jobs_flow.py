"""Drill: move hash slots between shards with `redis-cli --cluster reshard` while jobs flow.

A 3-shard TLS + ACL Redis Cluster (no replicas: nothing fails over here), one
worker process per queue. Queue M's slot is among the first slots of shard 0;
while jobs stream into M and into a control queue on another shard, redis-cli
(TLS, the `cluster` ACL user, password in REDISCLI_AUTH) moves those slots,
keys and all, to shard 1. M's worker runs the fast engine (its own pipelined
connection follows MOVED / ASK / TRYAGAIN), the control queue's the stock one.
Printed: sent / completed / duplicated / lost / stuck per queue and the reshard's
seconds. Asserted: M's slot moved, nothing lost, nothing stuck, and M's fast engine
followed MOVED.
"""

from __future__ import annotations

import subprocess
import threading
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
from local_stack.redis_cluster import RedisClusterStack, key_slot

pytestmark = [pytest.mark.drill, pytest.mark.slow, pytest.mark.redis]

MOVED_SLOTS = 64
# The engine of the moving queue's worker and of the control queue's.
ENGINES = ("fast", "stock")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RedisClusterStack]:
    stack = RedisClusterStack(
        tmp_path / "cluster", spec=cluster_drill_spec(["drill"]), shards=3, replicas=0
    )
    stack.start(timeout=120)
    try:
        yield stack
    finally:
        stack.stop(kill=True)


def _queues(stack: RedisClusterStack) -> tuple[str, str]:
    """A queue whose slot is among the first MOVED_SLOTS of shard 0, and one on shard 2."""
    spec = stack.spec
    moving = control = None
    for i in range(20_000):  # CRC16 only: cheap; about 1 name in 256 qualifies
        name = f"m{i}"
        slot = key_slot(spec.queue_keys(name).wait)
        if moving is None and slot < MOVED_SLOTS:
            moving = name
        if control is None and slot >= 2 * 16384 // 3 + 1:
            control = name
        if moving and control:
            return moving, control
    raise AssertionError("no queue name in the first slots")


def test_it_should_reshard_slots_while_jobs_flow(
    cluster: RedisClusterStack, tmp_path: Path
) -> None:
    moving, control = _queues(cluster)
    names = [moving, control]
    spec = cluster_drill_spec(names)
    spec_file = write_spec_file(tmp_path / "spec.json", spec)
    source, target = cluster.primaries[0], cluster.primaries[1]
    assert cluster.queue_primary(moving).port == source.port
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
    producer = DurableProducer(cluster, spec, names, wait_replicas=0)
    result: dict[str, object] = {}

    def reshard() -> None:
        started = time.monotonic()
        try:
            result["out"] = cluster.redis_cli(
                "--cluster",
                "reshard",
                f"127.0.0.1:{source.port}",
                "--cluster-from",
                cluster.node_id(source),
                "--cluster-to",
                cluster.node_id(target),
                "--cluster-slots",
                str(MOVED_SLOTS),
                "--cluster-yes",
                node=source,
            )
        except subprocess.CalledProcessError as exc:
            result["error"] = f"{exc.returncode}: {exc.stdout[-800:]} {exc.stderr[-800:]}"
        result["seconds"] = time.monotonic() - started

    try:
        for _ in range(5):  # a backlog, so workers are busy on the slot when it moves
            for q in names:
                assert wait_until(lambda q=q: producer.feed(q), 60), f"cannot feed {q}"
        print(
            f"[drill] backlog of {moving} when the reshard starts: {pending(cluster, spec, moving)}"
        )
        mover = threading.Thread(target=reshard)
        mover.start()
        while mover.is_alive():  # jobs keep flowing while slots move (reshard is bounded)
            for q in names:
                producer.feed(q)
            time.sleep(0.05)
        mover.join()
        assert "error" not in result, result.get("error")
        for q in names:  # and after
            assert wait_until(lambda q=q: producer.feed(q), 60), f"cannot feed {q}"
        assert cluster.queue_primary(moving).port == target.port, "the slot did not move"
        assert wait_until(lambda: settled(cluster, spec, producer), 180), describe(
            cluster, spec, producer
        )
    finally:
        stop(workers)

    for q in names:
        ids, executions = done(cluster, spec, q)
        feed = producer.feeds[q]
        lost = feed.sent - len(ids & {f"j{n}" for n in range(feed.sent)})
        stuck = pending(cluster, spec, q)
        print(
            f"[drill] cluster reshard, queue {q} ({engines[q]} engine)"
            f"{' (slot moved)' if q == moving else ''}: "
            f"sent={feed.sent}, completed={len(ids)}, duplicated={executions - len(ids)}, "
            f"lost={lost}, stuck={stuck}, add retries={feed.errors}"
        )
        assert lost == 0 and stuck == 0
    print(f"[drill] reshard of {MOVED_SLOTS} slots took {float(result['seconds']):.1f}s")
    # The fast engine's own connection followed the slot (workers/_fast_cluster.py).
    log = (tmp_path / "logs" / f"worker-{moving}.log").read_text()
    assert "moved to" in log, "the fast engine never followed MOVED"
