"""A queue's `logLevel` (spec -> chart values -> BULLMQ_PLATFORM_LOG_LEVEL) decides the
per-job success lines of the real `python -m workers` process; failures keep their line
with the job id at the default level, and the metrics count every outcome either way."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import make_spec, producer, start_worker, wait_finished

from local_stack.redis_server import RedisServer
from platform_spec.model import PlatformSpec

pytestmark = pytest.mark.redis


def _lines(log: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]


def _run(
    redis_server: RedisServer,
    queue_name: str,
    env: dict[str, str],
    proc: subprocess.Popen[bytes],
) -> list[str]:
    """Two completed pings and one failed job; then SIGTERM (the summary is flushed)."""

    async def scenario() -> list[str]:
        async with producer(redis_server, queue_name) as q:
            ok = [await q.add("ping", {"n": i}) for i in range(2)]
            bad = await q.add("fail", {"text": "boom"})
            for job in ok:
                assert await wait_finished(q, job.id) == "completed"
            assert await wait_finished(q, bad.id) == "failed"
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(proc.wait, 30) == 0
            return [str(job.id) for job in (*ok, bad)]

    return asyncio.run(scenario())


@pytest.mark.parametrize("level", ["info", "debug"])
def test_it_should_log_each_completion_only_at_debug(
    redis_server: RedisServer,
    queue_name: str,
    worker_env: Callable[[PlatformSpec], dict[str, str]],
    processes: list[subprocess.Popen[bytes]],
    tmp_path: Path,
    level: str,
) -> None:
    env = worker_env(make_spec(queue_name, logLevel=level))
    log = tmp_path / "worker.log"
    proc = start_worker(env, queue_name, log)
    processes.append(proc)
    first, second, failed = _run(redis_server, queue_name, env, proc)
    lines = _lines(log)
    per_job = [x["jobId"] for x in lines if x["msg"] == "job completed"]
    assert per_job == ([first, second] if level == "debug" else [])
    (failure,) = [x for x in lines if x["msg"] == "job failed"]
    assert failure["jobId"] == failed
    summed = sum(int(str(x["completed"])) for x in lines if x["msg"] == "jobs completed")
    assert summed == 2


def test_it_should_let_the_setting_override_the_spec(
    redis_server: RedisServer,
    queue_name: str,
    worker_env: Callable[[PlatformSpec], dict[str, str]],
    processes: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    """BULLMQ_PLATFORM_LOG_LEVEL (set by the chart, or by hand on one pod) wins."""
    env = worker_env(make_spec(queue_name)) | {"BULLMQ_PLATFORM_LOG_LEVEL": "DEBUG"}
    log = tmp_path / "worker.log"
    proc = start_worker(env, queue_name, log)
    processes.append(proc)
    first, second, _ = _run(redis_server, queue_name, env, proc)
    per_job = [x["jobId"] for x in _lines(log) if x["msg"] == "job completed"]
    assert per_job == [first, second]
