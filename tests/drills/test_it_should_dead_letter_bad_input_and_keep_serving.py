"""Drill 6: bad input to a real notifications worker process.

Malformed JSON, an oversized payload, wrong types and an unknown job name are
each failed at once (no retry, whatever `attempts` says) with a clear reason,
land in `<queue>-dlq`, and the same worker process goes on serving good jobs
sent before, between and after them.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from bullmq import Queue as BullQueue
from drill_support import Figures, admin, counts, stop, wait_until, write_spec_file

from local_stack.processes import stop_all, worker_process
from local_stack.redis_server import RedisServer
from platform_spec.model import PlatformSpec
from workers.dlq import entry_id

pytestmark = [pytest.mark.redis, pytest.mark.drill, pytest.mark.slow]
GOOD_PER_ROUND = 10
MAX_BYTES = 2048
EMAIL = {"to": ["ops@example.com"], "subject": "drill", "body": "hello"}
BAD: dict[str, tuple[str, Any, str]] = {
    # case: (job name, data, what the DLQ entry's error must say)
    "oversized": ("send-email", {**EMAIL, "body": "x" * 4000}, f"over maxPayloadBytes {MAX_BYTES}"),
    "wrong-types": ("send-email", {"to": "nobody", "subject": 5, "body": []}, "Input should be"),
    "unknown-name": ("launch-rockets", EMAIL, "unknown job name 'launch-rockets'"),
}
MALFORMED_ERROR = "data is not valid JSON"


def _spec(queue: str) -> PlatformSpec:
    q = {
        "name": queue,
        "handler": "workers.handlers.notifications",
        "jobs": [{"name": "send-email"}],
        "attempts": 3,
        "maxPayloadBytes": MAX_BYTES,
        "concurrency": 4,
        "jobTimeoutSeconds": 20,
        "terminationGracePeriodSeconds": 30,
    }
    return PlatformSpec.model_validate(
        {"environment": "dev", "queues": [q], "schedules": [], "maintenanceQueue": queue}
    )


def _malformed(client: redis.Redis, queue: str, job_id: str) -> None:
    """A job whose data is not JSON, written by hand as a broken producer would."""
    client.hset(
        f"bull:{queue}:{job_id}",
        mapping={
            "name": "send-email",
            "data": '{"to": ["unterminated',
            "opts": json.dumps({"attempts": 3}),
            "timestamp": int(time.time() * 1000),
            "delay": 0,
            "priority": 0,
        },
    )
    client.lpush(f"bull:{queue}:wait", job_id)
    client.zadd(f"bull:{queue}:marker", {"0": 0})  # wake a worker blocked on the marker


async def _send(server: RedisServer, queue: str, round_: int) -> list[str]:
    conn = server.connection_kwargs("worker")
    producer = BullQueue(queue, {"connection": conn, "prefix": "bull"})
    try:
        good = [
            await producer.add("send-email", EMAIL, {"jobId": f"good-{round_}-{i}", "attempts": 3})
            for i in range(GOOD_PER_ROUND)
        ]
        if round_ == 1:
            for case, (name, data, _) in BAD.items():
                await producer.add(name, data, {"jobId": f"bad-{case}", "attempts": 3})
        return [str(j.id) for j in good]
    finally:
        await producer.close()


def test_it_should_dead_letter_each_bad_input_and_keep_serving_good_jobs(
    redis_server: RedisServer, queue_name: str, tmp_path: Path
) -> None:
    spec = _spec(queue_name)
    spec_file = write_spec_file(tmp_path / "spec.json", spec)
    proc = worker_process(
        redis_server, spec, spec_file, queue_name, tmp_path / "logs", extra_env={}
    ).start()
    client = admin(redis_server)
    good: list[str] = []
    try:
        for round_ in range(3):
            good += asyncio.run(_send(redis_server, queue_name, round_))
            if round_ == 1:
                _malformed(client, queue_name, "bad-malformed-json")
        total = len(good) + len(BAD) + 1

        dlq = spec.queues[0].dlq_name
        cases = [*BAD, "malformed-json"]

        def finished() -> bool:
            # The DLQ entry is written just after the job lands in `failed`: wait for both.
            c = counts(client, queue_name)
            letters = sum(
                client.exists(f"bull:{dlq}:{entry_id(queue_name, f'bad-{case}')}") for case in cases
            )
            return c["completed"] + c["failed"] >= total and letters == len(cases)

        done = wait_until(finished, timeout=90)
        kept_running = proc.running and proc.starts == 1
        final = counts(client, queue_name)
        states = {
            job_id: client.zscore(f"bull:{queue_name}:completed", job_id) is not None
            for job_id in good
        }
        letters: dict[str, dict[str, Any]] = {}
        for case in [*BAD, "malformed-json"]:
            raw = client.hget(
                f"bull:{spec.queues[0].dlq_name}:{entry_id(queue_name, f'bad-{case}')}", "data"
            )
            letters[case] = json.loads(raw) if raw else {}
        codes = stop_all([proc])
    finally:
        stop([proc])
        client.close()
    completed = sum(states.values())
    figures = Figures(
        "bad input",
        sent=len(good),
        completed=completed,
        duplicated=0,
        lost=len(good) - completed,
        extra={
            "bad_sent": len(BAD) + 1,
            "dead_lettered": sum(1 for v in letters.values() if v),
            "failed": final["failed"],
            "worker_kept_running": kept_running,
        },
    )
    figures.check()
    assert done, final
    assert kept_running, "the worker must survive bad input"
    expected = {**{c: e for c, (_, _, e) in BAD.items()}, "malformed-json": MALFORMED_ERROR}
    for case, error in expected.items():
        letter = letters[case]
        assert letter, f"{case}: no DLQ entry"
        assert error in letter["error"], f"{case}: unclear DLQ error {letter['error']!r}"
        assert letter["attemptsMade"] == 1, f"{case}: an invalid job must not be retried"
        print(f"[drill] bad input {case!r} -> DLQ: {letter['error'][:120]}")
    assert final["failed"] == len(expected), final
    assert all(code == 0 for code in codes.values()), codes
