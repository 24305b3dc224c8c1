"""Actions on: "retry" on a failed job moves it back and a Python worker completes it;
"clean all" on completed removes them; actions outside the allow-list stay refused;
and the dashboard's ACL user gets exactly the writes of bullmq's action scripts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import redis
from board import REPORTS, Board, counts, queue, wait_counts, wait_until

from local_stack.dashboard import DASHBOARD_DIR
from local_stack.redis_server import render_redis_files
from platform_spec.keys import DEFAULT_PREFIX, QueueKeys

pytestmark = [pytest.mark.redis, pytest.mark.browser]
# The bullmq scripts behind the actions the dashboard serves (dashboard/src/actions.mjs):
# retry one (reprocessJob), retry all and promote all (moveJobsToWait), promote one
# (promote), clean a status (cleanJobsInSet), remove one (removeJob).
ACTION_SCRIPTS = ("reprocessJob", "moveJobsToWait", "promote", "cleanJobsInSet", "removeJob")
SCRIPTS_DIR = DASHBOARD_DIR / "node_modules" / "bullmq" / "dist" / "esm" / "commands"
CLEAN_GRACE_MS = 5000  # @bull-board/api handlers/cleanAll.js


def test_it_should_retry_a_failed_job_that_a_python_worker_then_completes(
    actions_board: Board,
) -> None:
    server = actions_board.server

    async def fail_one() -> str:
        q = await queue(server, REPORTS)
        try:
            job = await q.add("report", {"failFirst": True})
        finally:
            await q.close()
        await wait_counts(server, REPORTS, failed=1)
        return str(job.id)

    job_id = actions_board.run(fail_one)
    # retryJob opens the failed job's page and clicks its retry button (it fails if
    # there is none), then waits for the API's answer.
    assert actions_board.drive("retryJob", queue=REPORTS, jobId=job_id)["status"] == 204

    async def completed() -> None:
        await wait_counts(server, REPORTS, failed=0, completed=1)
        q = await queue(server, REPORTS)
        try:
            job = await q.getJob(job_id)
            assert job is not None
            assert job.returnvalue == {"attempt": 2}  # the worker ran it again, and it passed
        finally:
            await q.close()

    actions_board.run(completed)


def test_it_should_clean_completed_jobs(actions_board: Board) -> None:
    server = actions_board.server

    async def complete_three() -> int:
        done = (await counts(server, REPORTS))["completed"] + 3
        q = await queue(server, REPORTS)
        try:
            for _ in range(3):
                await q.add("report", {})
        finally:
            await q.close()
        await wait_counts(server, REPORTS, completed=done)
        return done

    done = actions_board.run(complete_three)
    assert done >= 3
    # bull-board's "Clean all" removes only jobs finished more than 5 s ago
    # (@bull-board/api handlers/cleanAll.js GRACE_TIME_MS): wait until ours are, by
    # Redis's clock, instead of racing a fast machine.
    admin = redis.Redis(**server.connection_kwargs("admin"))
    try:
        completed = QueueKeys(DEFAULT_PREFIX, REPORTS).completed

        def finished_before_grace() -> bool:
            (_, newest), *_ = admin.zrange(completed, -1, -1, withscores=True)
            seconds, micros = admin.time()
            return newest + CLEAN_GRACE_MS < seconds * 1000 + micros // 1000

        wait_until(finished_before_grace, "the completed jobs are older than the clean grace")
    finally:
        admin.close()
    cleaned = actions_board.drive("cleanAll", queue=REPORTS, status="completed", expectBefore=done)
    assert cleaned == {"before": done, "status": 200, "after": 0}
    assert actions_board.run(lambda: counts(server, REPORTS))["completed"] == 0


def test_it_should_still_refuse_actions_outside_the_allow_list(actions_board: Board) -> None:
    calls = [
        {"method": "PUT", "path": f"api/queues/{REPORTS}/{action}"}
        for action in ("obliterate", "empty", "pause", "concurrency")
    ] + [{"method": "POST", "path": f"api/queues/{REPORTS}/add"}]
    assert actions_board.drive("api", calls=calls)["statuses"] == [405] * len(calls)


def test_it_should_let_the_actions_user_write_only_bullmq_keys_with_listed_commands(
    actions_board: Board,
) -> None:
    client = redis.Redis(**actions_board.server.connection_kwargs("dashboard"))
    try:
        client.hset(f"bull:{REPORTS}:probe", "x", "1")  # a listed write, on the prefix
        client.delete(f"bull:{REPORTS}:probe")
        for command in (
            ("SET", f"bull:{REPORTS}:probe", "1"),  # a write no action needs
            ("HSET", "other:key", "x", "1"),  # outside the key prefix
            ("FLUSHALL",),
            ("CONFIG", "GET", "maxmemory"),
            ("KEYS", "*"),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.execute_command(*command)
    finally:
        client.close()


def _script_commands(name: str, seen: set[str]) -> set[str]:
    """Redis commands a bullmq Lua script (and the scripts it includes) may call."""
    path = next(SCRIPTS_DIR.glob(f"{name}-*.lua"), None) or SCRIPTS_DIR / "includes" / f"{name}.lua"
    if path.name in seen:
        return set()
    seen.add(path.name)
    text = path.read_text()
    found = {c.lower() for c in re.findall(r"rcall\(\s*[\"'](\w+)[\"']", text)}
    for include in re.findall(r'--- @include "(?:includes/)?([^"]+)"', text):
        found |= _script_commands(Path(include).name, seen)
    return found


def test_it_should_grant_exactly_the_writes_of_the_action_scripts(actions_board: Board) -> None:
    needed: set[str] = set()
    for script in ACTION_SCRIPTS:
        needed |= _script_commands(script, set())
    assert {"zrem", "lpush", "xadd"} <= needed, "the scripts were read"
    client = redis.Redis(**actions_board.server.connection_kwargs("admin"), decode_responses=True)
    try:
        reads = {c.lower() for c in client.acl_cat("read")}  # Redis's own @read category
    finally:
        client.close()
    writes = needed - reads
    rules = render_redis_files(actions_board.spec)["acl.rules"]
    (line,) = [r for r in rules.splitlines() if r.startswith("dashboard ")]
    granted = {w[1:] for w in line.split() if w.startswith("+") and not w.startswith("+@")}
    read_only = render_redis_files(
        actions_board.spec.model_copy(
            update={
                "dashboard": actions_board.spec.dashboard.model_copy(
                    update={"actions_enabled": False}
                )
            }
        )
    )["acl.rules"]
    (ro_line,) = [r for r in read_only.splitlines() if r.startswith("dashboard ")]
    base = {w[1:] for w in ro_line.split() if w.startswith("+") and not w.startswith("+@")}
    assert granted - base == writes
