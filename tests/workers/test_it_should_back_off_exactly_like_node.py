"""Retry delays agree with Node BullMQ 6's (issue 17): the same job, failed the same
way by a Node worker and by each engine, gets `delayed` events whose delays (due time
minus the event's time, read by Node from the events stream) agree within the
jitter and 100 ms. Before the fix the runtime passed the tries *before* the failing
one, so exponential waited 1x, 1x, 2x the delay where Node waits 1x, 2x, 4x."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import make_spec, producer, running_worker, wait_finished
from node_interop import node, node_add_many

from local_stack.redis_server import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ATTEMPTS = 4
BASE_MS = 300
JOBS: dict[str, dict[str, Any]] = {
    "plain": {"type": "exponential", "delay": BASE_MS},
    "jittered": {"type": "exponential", "delay": BASE_MS, "jitter": 0.5},
}
TOLERANCE_MS = 100


def _add_jobs(node_dir: Path, server: RedisServer, queue: str) -> dict[str, str]:
    jobs = [
        ("fail", {"text": label}, {"attempts": ATTEMPTS, "backoff": backoff})
        for label, backoff in JOBS.items()
    ]
    return dict(zip(JOBS, node_add_many(node_dir, server, queue, jobs), strict=True))


def _delays(node_dir: Path, server: RedisServer, queue: str, ids: dict[str, str]) -> Any:
    by_id = node(node_dir, server, "delays", queue, *ids.values())
    return {label: by_id[job_id] for label, job_id in ids.items()}


@pytest.fixture(scope="module")
def node_delays(redis_server: RedisServer, node_bullmq: Path) -> dict[str, list[int]]:
    """Node's own delays for the same jobs, measured once per run."""
    queue = f"t-{uuid.uuid4().hex[:12]}"
    ids = _add_jobs(node_bullmq, redis_server, queue)
    node(node_bullmq, redis_server, "fail-worker", queue, str(len(JOBS)), "30000", timeout=40)
    delays: dict[str, list[int]] = _delays(node_bullmq, redis_server, queue, ids)
    return delays


def test_it_should_wait_one_two_four_times_the_delay_like_node(
    redis_server: RedisServer,
    node_bullmq: Path,
    queue_name: str,
    node_delays: dict[str, list[int]],
) -> None:
    spec = make_spec(queue_name, attempts=ATTEMPTS)
    ids = _add_jobs(node_bullmq, redis_server, queue_name)

    async def scenario() -> None:
        async with running_worker(redis_server, spec), producer(redis_server, queue_name) as q:
            for job_id in ids.values():
                assert await wait_finished(q, job_id) == "failed"

    asyncio.run(scenario())
    ours = _delays(node_bullmq, redis_server, queue_name, ids)
    print(f"backoff delays ms: node={node_delays} ours={ours}")
    expected = [BASE_MS * 2**n for n in range(ATTEMPTS - 1)]  # 300, 600, 1200
    for delays in (node_delays["plain"], ours["plain"]):
        assert len(delays) == ATTEMPTS - 1
        assert all(abs(d - e) <= TOLERANCE_MS for d, e in zip(delays, expected, strict=True))
    for label, backoff in JOBS.items():
        slack = [e * backoff.get("jitter", 0) + TOLERANCE_MS for e in expected]
        pairs = zip(ours[label], node_delays[label], slack, strict=True)
        assert all(abs(a - b) <= s for a, b, s in pairs), (label, ours, node_delays)
    for delays in (node_delays["jittered"], ours["jittered"]):
        assert all(e / 2 - TOLERANCE_MS <= d <= e for d, e in zip(delays, expected, strict=True))
