"""What the dashboard tests share: a platform with the dashboard on (its own TLS
Redis with the chart's ACL rules, the dashboard process, a Python worker), the
browser driver, and polling helpers that wait on conditions, never on sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bullmq import Queue
from node_json import node_json

from local_stack.dashboard import basic_auth_password_file
from local_stack.processes import (
    PlatformProcess,
    dashboard_process,
    worker_process,
    write_spec_file,
)
from local_stack.redis_server import RedisServer, local_spec
from platform_spec.model import PlatformSpec

HERE = Path(__file__).resolve().parent
BROWSER_DIR = HERE / "browser"
CHROMIUM = Path("/usr/bin/chromium")
REPORTS, MAIL = "reports", "mail"  # the worked queue and a queue nobody consumes
USER = "oncall"
DEADLINE_SECONDS = 90.0


def board_spec(*, actions: bool) -> PlatformSpec:
    """Two queues (one served by dashboard_handlers), the dashboard on."""
    return local_spec(
        queues=[
            {
                "name": REPORTS,
                "handler": "dashboard_handlers",
                "jobs": [{"name": "report"}],
                "attempts": 1,
                "defaultPriority": 0,
            },
            {
                "name": MAIL,
                "handler": "dashboard_handlers",
                "jobs": [{"name": "report"}],
                "attempts": 1,
                "defaultPriority": 0,
            },
        ],
        schedules=[],
        maintenanceQueue=REPORTS,
        dashboard={"enabled": True, "actionsEnabled": actions, "basePath": "/ops/queues"},
    )


@dataclass
class Board:
    """A running platform with the dashboard: where it is and how to log in."""

    server: RedisServer
    spec: PlatformSpec
    dashboard: PlatformProcess
    worker: PlatformProcess
    password: str

    @property
    def url(self) -> str:
        """The board's base URL (under the spec's basePath), with a trailing slash."""
        return self.dashboard.url(self.spec.dashboard.base_path.rstrip("/") + "/")

    @property
    def credentials(self) -> dict[str, str]:
        return {"username": USER, "password": self.password}

    def drive(self, scenario: str, *, login: bool = True, **args: Any) -> dict[str, Any]:
        """Run one browser scenario of browser/drive.mjs; its JSON answer."""
        request: dict[str, Any] = {"scenario": scenario, "url": self.url, **args}
        if login:
            request.setdefault("credentials", self.credentials)
        return drive(request)

    def run(self, body: Callable[[], Awaitable[Any]]) -> Any:
        return asyncio.run(body())


def drive(request: dict[str, Any]) -> dict[str, Any]:
    """One browser scenario of drive.mjs in Debian's chromium; its JSON answer."""
    env = {"CHROMIUM_PATH": str(CHROMIUM), "PATH": "/usr/bin:/bin", "HOME": str(BROWSER_DIR)}
    what = f"browser scenario {request['scenario']}"
    return dict(node_json(BROWSER_DIR / "drive.mjs", request, timeout=180, what=what, env=env))


def start_board(state_dir: Path, *, actions: bool) -> Board:
    """Redis (the chart's ACL with the dashboard user), the dashboard and a worker for REPORTS."""
    spec = board_spec(actions=actions)
    server = RedisServer(state_dir / "redis", spec=spec)
    server.start()
    spec_file = write_spec_file(state_dir / "spec.json", spec)
    password_file = basic_auth_password_file(state_dir)
    logs = state_dir / "logs"
    dashboard = dashboard_process(server, spec_file, logs, password_file=password_file).start()
    worker = worker_process(server, spec, spec_file, REPORTS, logs, pythonpath=[HERE]).start()
    board = Board(server, spec, dashboard, worker, password_file.read_text())
    try:
        wait_until(lambda: dashboard.probe("/readyz") == 200, "the dashboard is ready", dashboard)
        wait_until(lambda: worker.probe("/readyz") == 200, "the worker is ready", worker)
    except BaseException:
        stop_board(board)
        raise
    return board


def stop_board(board: Board) -> None:
    for process in (board.worker, board.dashboard):
        process.terminate(timeout=15)
    board.server.stop()


def wait_until(
    check: Callable[[], bool], what: str, process: PlatformProcess | None = None
) -> None:
    """Poll `check` until it holds; fail naming `what` (and the process log) after a deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not check():
        if process is not None and not process.running:
            raise AssertionError(f"{process.name} exited before {what}:\n{_tail(process)}")
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out waiting until {what}" + (f":\n{_tail(process)}" if process else "")
            )
        time.sleep(0.05)


def _tail(process: PlatformProcess) -> str:
    try:
        return "\n".join(process.log_file.read_text().splitlines()[-30:])
    except OSError:
        return "(no log)"


async def queue(server: RedisServer, name: str, role: str = "worker") -> Queue:
    """A bullmq Queue on `name` as an ACL user; close it with `await q.close()`."""
    return Queue(name, {"connection": server.connection_kwargs(role), "prefix": "bull"})


async def counts(server: RedisServer, name: str) -> dict[str, int]:
    """BullMQ's own job counts of a queue (the truth the board must show)."""
    q = await queue(server, name)
    try:
        return dict(await q.getJobCounts())
    finally:
        await q.close()


async def wait_counts(server: RedisServer, name: str, **want: int) -> dict[str, int]:
    """Poll a queue's counts until every named status has the wanted count."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        now = await counts(server, name)
        if all(now.get(status) == n for status, n in want.items()):
            return now
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}: counts {now}, wanted {want}")
        await asyncio.sleep(0.05)
