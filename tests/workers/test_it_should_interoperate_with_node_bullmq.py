"""Wire compatibility with Node BullMQ 6 (tests/node, installed with `npm ci`):
a Node producer's jobs are processed here; jobs added here are readable by Node,
and a Node QueueEvents sees this worker's completed and failed events."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import get_job, make_spec, producer, running_worker, wait_finished
from node_interop import node_env

from local_stack.lifetime import die_with_parent
from local_stack.redis_server import RedisServer
from platform_spec.job_options import job_options

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def _node(node_dir: Path, server: RedisServer, *args: str) -> str:
    done = subprocess.run(
        ["node", "interop.mjs", *args],
        cwd=node_dir,
        env=node_env(server, args[0]),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_it_should_process_jobs_from_a_node_producer(
    redis_server: RedisServer, node_bullmq: Path, queue_name: str
) -> None:
    data = json.dumps({"text": "from node", "count": 7})
    ids = json.loads(_node(node_bullmq, redis_server, "produce", queue_name, "echo", data, "3"))
    bad = json.loads(
        _node(node_bullmq, redis_server, "produce", queue_name, "echo", '{"count": "x"}', "1")
    )
    spec = make_spec(queue_name, attempts=3)

    async def scenario() -> None:
        async with running_worker(redis_server, spec), producer(redis_server, queue_name) as q:
            for job_id in ids:
                assert await wait_finished(q, job_id) == "completed"
                job = await get_job(q, job_id)
                assert job.returnvalue == {"text": "from node", "count": 7, "tenant": None}
            assert await wait_finished(q, bad[0]) == "failed"
            assert (await get_job(q, bad[0])).attemptsMade == 1

    asyncio.run(scenario())
    seen = json.loads(_node(node_bullmq, redis_server, "read", queue_name, ids[0]))
    assert seen["state"] == "completed"
    assert seen["returnvalue"] == {"text": "from node", "count": 7, "tenant": None}


def test_it_should_be_read_by_node_and_seen_by_node_queue_events(
    redis_server: RedisServer, node_bullmq: Path, queue_name: str
) -> None:
    spec = make_spec(queue_name, attempts=2, backoff={"type": "fixed", "delayMs": 10})
    queue = spec.queues[0]
    listener = subprocess.Popen(
        ["node", "interop.mjs", "events", queue_name, "3", "30000"],
        cwd=node_bullmq,
        env={**redis_server.env("worker"), "PATH": os.environ["PATH"]},
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent,  # dies with pytest, even a killed one
    )
    try:
        assert listener.stdout is not None
        assert listener.stdout.readline().strip() == "ready"

        async def scenario() -> tuple[str, str]:
            async with running_worker(redis_server, spec), producer(redis_server, queue_name) as q:
                ok = await q.add("echo", {"text": "py"}, job_options(queue, priority=2))
                ko = await q.add("fail", {"text": "py"}, job_options(queue))
                assert await wait_finished(q, ok.id) == "completed"
                assert await wait_finished(q, ko.id) == "failed"
                return ok.id, ko.id

        ok_id, ko_id = asyncio.run(scenario())
        out, _ = listener.communicate(timeout=40)
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait(10)
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    completed = [e for e in events if e["event"] == "completed"]
    failed = [e for e in events if e["event"] == "failed"]
    assert [e["jobId"] for e in completed] == [ok_id]
    value = completed[0]["returnvalue"]
    value = json.loads(value) if isinstance(value, str) else value
    assert value == {"text": "py", "count": 0, "tenant": None}
    # one "failed" for the first attempt is not emitted (it is retried); the final one is
    assert ko_id in {e["jobId"] for e in failed}
    assert any(e["failedReason"] == "always fails: py" for e in failed)
    seen = json.loads(_node(node_bullmq, redis_server, "read", queue_name, ok_id))
    assert seen["name"] == "echo" and seen["data"] == {"text": "py"}
    assert seen["opts"]["attempts"] == 2 and seen["opts"]["priority"] == 2
