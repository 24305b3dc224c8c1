"""Drill (issue 25, item 5): a handler that blocks the event loop runs exactly once.

An `async def` handler that calls `time.sleep` for 1.5 times the lock duration used
to lose its lock (renewal ran on the blocked loop): the other worker took the
job as stalled and it ran twice. With lock renewal on its own thread and
connection (workers/loop_watch.py) it runs once, the worker logs which handler
blocked the loop and for how long, counts it in
`bullmq_worker_event_loop_blocked_seconds`, and /healthz (served by that loop)
does not answer while the loop is blocked: liveness sees it. Both engines.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from bullmq import Queue as BullQueue
from drill_handlers import keys
from drill_support import Figures, add, admin, drained, drill_spec, runs, stop, wait_until
from drill_support import workers as start_workers

from local_stack.processes import stop_all
from local_stack.redis_server import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.drill]
# Short enough for a quick drill, long enough that the renewal thread's first round fits
# well inside it on a loaded machine: at 3 s a loaded run (two pytest processes and a CPU
# hog on 2 cores) lost the lock once, when the thread still made its TLS connection in
# that round (it now connects once the first job is active). The block outlasts the lock
# by half, so only renewal keeps the job from a second run.
LOCK_MS = 5000
BLOCK_SECONDS = 1.5 * LOCK_MS / 1000
GOOD = 20
ENV = {
    "BULLMQ_PLATFORM_WORKER_LOCK_DURATION_MS": str(LOCK_MS),
    "BULLMQ_PLATFORM_WORKER_STALLED_INTERVAL_MS": "1000",
    "BULLMQ_PLATFORM_WORKER_LOOP_BLOCK_REPORT_SECONDS": "1",
}


async def _add_block(server: RedisServer, queue: str) -> None:
    producer = BullQueue(
        queue, {"connection": server.connection_kwargs("worker"), "prefix": "bull"}
    )
    try:
        await producer.add("block", {"seconds": BLOCK_SECONDS}, {"jobId": "blocker"})
    finally:
        await producer.close()


@pytest.mark.parametrize("engine", ["fast", "stock"])
def test_it_should_run_a_loop_blocking_job_once_and_name_its_handler(
    redis_server: RedisServer, queue_name: str, tmp_path: Path, engine: str
) -> None:
    jobs = [{"name": "work"}, {"name": "tick"}, {"name": "block"}]
    # maxStalledCount 1000 (FAST_WORKER_ENV): a lost lock shows as a second run, not a failure.
    spec = drill_spec(queue_name, concurrency=2, jobs=jobs)
    client = admin(redis_server)
    procs = start_workers(redis_server, spec, tmp_path, 2, engine=engine, extra_env=ENV)
    k = keys("bull", queue_name)
    try:
        asyncio.run(_add_block(redis_server, queue_name))
        assert wait_until(lambda: client.hexists(k["owner"], "blocker"), timeout=60)
        owner_pid = int(client.hget(k["owner"], "blocker") or 0)
        owner = next(p for p in procs if p.pid == owner_pid)
        # While the handler sleeps, the owner's loop cannot answer its liveness probe.
        healthz_while_blocked = owner.probe("/healthz", timeout=1.0)
        add(redis_server, queue_name, GOOD)
        done = wait_until(drained(client, queue_name, GOOD + 1), timeout=90)
        seen = runs(client, queue_name)
        blocked_logged = wait_until(
            lambda: any(
                r.get("msg") == "event loop blocked" and r.get("handler") == "block"
                for r in _records(owner.log_file)
            ),
            timeout=10,
        )
        metric = httpx.get(owner.url("/metrics"), timeout=5).text
        codes = stop_all(procs)
    finally:
        stop(procs)
        client.close()
    blocked_seconds = [
        r["seconds"] for r in _records(owner.log_file) if r.get("msg") == "event loop blocked"
    ]
    completed = len({i for i in seen.done if i.startswith("j")})
    figures = Figures(
        f"loop-blocking handler ({engine})",
        sent=GOOD + 1,
        completed=completed + (1 if "blocker" in seen.done else 0),
        duplicated=seen.duplicated,
        lost=GOOD + 1 - completed - (1 if "blocker" in seen.done else 0),
        extra={
            "blocker_runs": seen.runs.get("blocker", 0),
            "loop_blocked_seconds": blocked_seconds,
            "healthz_while_blocked": healthz_while_blocked,
        },
    )
    figures.check()
    assert done
    assert seen.runs.get("blocker") == 1, "the loop-blocking job must run exactly once"
    assert seen.duplicated == 0, seen.runs
    assert blocked_logged, "no log line names the handler that blocked the loop"
    assert blocked_seconds and blocked_seconds[0] >= BLOCK_SECONDS - 1.5, blocked_seconds
    assert any(
        line.startswith("bullmq_worker_event_loop_blocked_seconds_count")
        and 'job_name="block"' in line
        and not line.endswith(" 0.0")
        for line in metric.splitlines()
    ), metric
    assert healthz_while_blocked is None, "a blocked loop must not pass liveness"
    assert all(code == 0 for code in codes.values()), codes


def _records(log_file: Path) -> list[dict[str, object]]:
    records = []
    for line in log_file.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records
