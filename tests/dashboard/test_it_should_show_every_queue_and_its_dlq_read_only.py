"""Read-only (the default): the board lists every spec queue and its DLQ with BullMQ's
own counts, shows a failed job's error and stack, offers no action, its API refuses
one, and Redis itself refuses a write from the dashboard's ACL user."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import redis
from board import MAIL, REPORTS, Board, counts, queue, wait_counts
from dashboard_handlers import ERROR

pytestmark = [pytest.mark.redis, pytest.mark.browser]
# Set to docs/dashboard.png to refresh the README's screenshot from this test's board.
SCREENSHOT = os.environ.get("DASHBOARD_SCREENSHOT")


@pytest.fixture(scope="module")
def jobs(read_only_board: Board) -> dict[str, str]:
    """3 reports completed, 2 failed (and dead-lettered); mail: 4 waiting, 1 delayed."""
    server = read_only_board.server

    async def fill() -> dict[str, str]:
        reports, mail = await queue(server, REPORTS), await queue(server, MAIL)
        try:
            for _ in range(3):
                await reports.add("report", {})
            failed = [(await reports.add("report", {"fail": True})).id for _ in range(2)]
            for _ in range(4):
                await mail.add("report", {})
            await mail.add("report", {}, {"delay": 3_600_000})
        finally:
            await reports.close()
            await mail.close()
        await wait_counts(server, REPORTS, completed=3, failed=2)
        await wait_counts(server, f"{REPORTS}-dlq", waiting=2)
        return {"failed": str(failed[0])}

    return dict(read_only_board.run(fill))


def test_it_should_list_every_queue_and_its_dlq_with_their_totals(
    read_only_board: Board, jobs: dict[str, str], tmp_path: Path
) -> None:
    spec = read_only_board.spec
    names = [n for q in spec.queues for n in (q.name, q.dlq_name)]  # the Python spec's names
    truth = {n: read_only_board.run(lambda n=n: counts(read_only_board.server, n)) for n in names}
    totals = {n: sum(c.values()) for n, c in truth.items()}
    assert totals == {"reports": 5, "reports-dlq": 2, "mail": 5, "mail-dlq": 0}
    shot = tmp_path / "queues.png"
    seen = read_only_board.drive(
        "overview", expectQueues=len(names), waitForJobs=totals, screenshot=str(shot)
    )
    assert sorted(q["name"] for q in seen["queues"]) == sorted(names)  # the board sorts by name
    assert {q["name"]: q["jobs"] for q in seen["queues"]} == totals
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if SCREENSHOT:
        shutil.copyfile(shot, SCREENSHOT)


def test_it_should_show_bullmq_s_own_counts_per_status(
    read_only_board: Board, jobs: dict[str, str]
) -> None:
    names = [REPORTS, f"{REPORTS}-dlq", MAIL]
    truth = {n: read_only_board.run(lambda n=n: counts(read_only_board.server, n)) for n in names}
    statuses = ("waiting", "completed", "failed", "delayed")
    want = {n: {s: truth[n][s] for s in statuses} for n in names}
    seen = read_only_board.drive("counts", queues=names, waitFor=want)["counts"]
    for name in names:
        assert {s: seen[name][s] for s in statuses} == want[name], name
        assert seen[name]["active"] == truth[name]["active"] == 0
    assert want[REPORTS] == {"waiting": 0, "completed": 3, "failed": 2, "delayed": 0}
    assert want[MAIL] == {"waiting": 4, "completed": 0, "failed": 0, "delayed": 1}
    assert want[f"{REPORTS}-dlq"]["waiting"] == 2


def test_it_should_show_a_failed_job_s_error_and_stack(
    read_only_board: Board, jobs: dict[str, str]
) -> None:
    page = read_only_board.drive("job", queue=REPORTS, jobId=jobs["failed"], expectText=ERROR)
    assert (
        f"RuntimeError: {ERROR} (attempt 1)" in page["text"]
        or f"{ERROR} (attempt 1)" in page["text"]
    )
    assert "dashboard_handlers.py" in page["text"], "the stack trace names the handler's file"
    assert page["actions"] == []


def test_it_should_offer_no_action_and_refuse_one_through_the_api(
    read_only_board: Board, jobs: dict[str, str]
) -> None:
    listed = read_only_board.drive("listActions", queue=REPORTS, status="failed", expectText=ERROR)
    assert listed["actions"] == []
    calls = [
        {"method": "PUT", "path": f"api/queues/{REPORTS}/{action}"}
        for action in (f"{jobs['failed']}/retry", "retry/failed", "clean/completed", "obliterate")
    ]
    assert read_only_board.drive("api", calls=calls)["statuses"] == [405] * len(calls)
    assert read_only_board.run(lambda: counts(read_only_board.server, REPORTS))["failed"] == 2


def test_it_should_have_redis_refuse_a_write_from_the_dashboard_user(
    read_only_board: Board, jobs: dict[str, str]
) -> None:
    server = read_only_board.server
    client = redis.Redis(**server.connection_kwargs("dashboard"), decode_responses=True)
    try:
        assert client.zcard(f"bull:{REPORTS}:failed") == 2  # reads work
        for command in (
            ("HSET", f"bull:{REPORTS}:meta", "paused", "1"),
            ("ZREM", f"bull:{REPORTS}:failed", jobs["failed"]),
            ("DEL", f"bull:{REPORTS}:completed"),
            ("FLUSHALL",),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.execute_command(*command)
    finally:
        client.close()

    async def retry_as_dashboard() -> None:
        # bullmq's own retry script, run by the dashboard user: Redis checks the
        # script's writes against the ACL and refuses them.
        q = await queue(server, REPORTS, role="dashboard")
        try:
            job = await q.getJob(jobs["failed"])
            assert job is not None
            with pytest.raises(Exception, match=r"(?i)noperm|permission"):
                await q.retryJobs({"state": "failed"})
        finally:
            await q.close()

    read_only_board.run(retry_as_dashboard)
    assert read_only_board.run(lambda: counts(server, REPORTS))["failed"] == 2
