"""The bench cannot hang on a stuck worker: the watchdog and the summary of failed runs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bench import pyworker
from bench.report import summarize


def test_it_should_report_a_run_without_progress_as_stalled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pyworker, "STALL_SECONDS", 0.3)

    async def scenario() -> dict[str, Any] | None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        counts = {"invocations": 7, "completed": 7, "failed": 0}
        return await pyworker.watch(done, counts, lambda: {"active": 3})

    stalled = asyncio.run(asyncio.wait_for(scenario(), 10))
    assert stalled is not None
    assert stalled["completed"] == 7 and stalled["active"] == 3


def test_it_should_return_at_once_when_every_job_completed() -> None:
    async def scenario() -> dict[str, Any] | None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return await pyworker.watch(done, {"completed": 10}, dict)

    assert asyncio.run(asyncio.wait_for(scenario(), 10)) is None


def _row(engine: str, repeat: int, jobs_per_s: float, ok: bool = True) -> dict[str, Any]:
    return {
        "case": "drain",
        "kind": "io",
        "concurrency": 10,
        "repeat": repeat,
        "engine": engine,
        "jobs_per_s": jobs_per_s if ok else float("nan"),
        "cpu_us_per_job": 10.0 if ok else float("nan"),
        "max_rss_mb": 30.0 if ok else 0.0,
        "ok": ok,
        "stalled": not ok,
    }


def test_it_should_leave_a_stalled_repeat_out_of_medians_and_ratios() -> None:
    rows = [
        _row("node", 0, 1000),
        _row("node", 1, 1000),
        _row("stock", 0, 500),
        _row("stock", 1, 0, ok=False),
    ]
    stock = next(s for s in summarize(rows) if s["engine"] == "stock")
    assert stock["jobs_per_s"] == 500
    assert stock["ratio_to_node"] == 0.5
    assert stock["repeats"] == "1/2" and stock["stalled"] == 1 and not stock["ok"]
