"""A partitioned queue (`partitions: K`): one producer API, K BullMQ queues, one worker.

The producer (workers/producer.py) spreads jobs round-robin, or by key so one
key's jobs stay in one partition; the worker consumes every partition with its
concurrency split over them; the scaling signal, `ops counts` and the DLQ see
one queue.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import worker_test_handlers as handlers
from conftest import make_spec, redis_settings, running_worker, wait_for
from typer.testing import CliRunner

from autoscaling.signal import scaling_payload
from local_stack.redis_server import RedisServer
from platform_spec.keys import META_RATE_MAX
from platform_spec.model import PlatformSpec
from workers.cli import app
from workers.connection import bullmq_connection
from workers.producer import Producer

pytestmark = pytest.mark.redis

K = 4
JOBS = 40  # round-robin jobs; then PER_KEY jobs of each of 6 keys
PER_KEY = 4
# A job waits in `waiting`, or `prioritized` with a priority (the spec's default is 3).
WAITING = ("waiting", "prioritized")


async def _counts(producer: Producer, spec: PlatformSpec, *states: str) -> dict[str, int]:
    """Jobs in `states` per partition."""
    out = {}
    for name in spec.queues[0].partition_names:
        got = await producer.bull_queue(name).getJobCounts(*states)
        out[name] = sum(int(got.get(state, 0)) for state in states)
    return out


def test_it_should_drain_every_partition_in_key_order_and_count_them_as_one_queue(
    redis_server: RedisServer, queue_name: str
) -> None:
    # concurrency == partitions: each partition runs one job at a time, in its order.
    # The rate limit is split: 2 * K per ms for the queue, 2 per ms for each partition.
    limit = {"max": 2 * K, "durationMs": 1}
    spec = make_spec(queue_name, partitions=K, concurrency=K, rateLimit=limit)
    keys = [f"customer-{i}" for i in range(6)]

    async def scenario() -> None:
        handlers.ran_in_order.clear()
        producer = Producer(spec, bullmq_connection(redis_settings(redis_server)))
        client = aioredis.Redis(
            **redis_server.connection_kwargs("scheduler"), decode_responses=True
        )
        try:
            for n in range(JOBS):  # no key: round-robin
                await producer.enqueue(queue_name, "echo", {"text": "x", "count": n})
            spread = await _counts(producer, spec, *WAITING)
            assert sorted(spread.values()) == [JOBS // K] * K, spread
            for n in range(PER_KEY):
                for key in keys:
                    await producer.enqueue(
                        queue_name, "ordered", {"text": key, "count": n}, key=key
                    )
            failing = await producer.enqueue(queue_name, "fail", {"text": "boom"}, key="k1")
            total = JOBS + len(keys) * PER_KEY + 1
            body = await scaling_payload(client, spec, queue_name)
            assert body["partitions"] == K
            state = body["state"]
            assert state["wait"] + state["prioritized"] == total  # the partitions' sum
            async with running_worker(redis_server, spec) as runtime:
                for keys_of in spec.partition_keys(queue_name):
                    assert await client.hget(keys_of.meta, META_RATE_MAX) == "2"

                async def drained() -> bool:
                    done = await _counts(producer, spec, "completed")
                    return sum(done.values()) == total - 1

                assert await wait_for(drained, attempts=400)
                done = await _counts(producer, spec, "completed")
                assert all(n > 0 for n in done.values()), done

                async def dead_lettered() -> bool:
                    return await runtime.dlq.count() == 1

                assert await wait_for(dead_lettered)
                (letter,) = await runtime.dlq.list()
                assert letter.queue == failing.partition  # the partition it failed in
                assert letter.id == f"{failing.partition}-{failing.id}"
        finally:
            await producer.close()
            await client.aclose()
        for key in keys:
            seen = [n for k, n in handlers.ran_in_order if k == key]
            assert seen == list(range(PER_KEY)), (key, seen)

    asyncio.run(scenario())


def test_it_should_enqueue_by_key_and_count_from_the_cli(
    redis_server: RedisServer, queue_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = make_spec(queue_name, partitions=K, concurrency=K)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(spec.model_dump_json(by_alias=True))
    for key, value in redis_server.env("worker").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("BULLMQ_PLATFORM_REDIS_SECRETS_DIR", str(tmp_path / "none"))
    runner = CliRunner()
    partitions = set()
    for n in range(3):
        args = ["ops", "enqueue", queue_name, "echo", "--data", json.dumps({"text": str(n)})]
        args += ["--key", "order-7", "--json", "--spec-file", str(spec_file)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        partitions.add(json.loads(result.output)[0]["partition"])
    assert len(partitions) == 1  # one key, one partition
    counts = runner.invoke(
        app, ["ops", "counts", "-q", queue_name, "--json", "--spec-file", str(spec_file)]
    )
    assert counts.exit_code == 0, counts.output
    (row,) = json.loads(counts.output)
    assert row["queue"] == queue_name and row["waiting"] + row["prioritized"] == 3
