"""The bench's own report: spreads, ratios to Node in the same repeat, goals as met/not met."""

from __future__ import annotations

from typing import Any

from bench.report import goal_lines, summarize, table


def _row(engine: str, repeat: int, rate: float, cpu: float, **extra: Any) -> dict[str, Any]:
    return {
        "case": "drain",
        "kind": "noop",
        "concurrency": 10,
        "repeat": repeat,
        "engine": engine,
        "jobs_per_s": rate,
        "cpu_us_per_job": cpu,
        "redis_cpu_us_per_job": 40.0,
        "startup_s": extra.get("startup", 0.5),
        "startup_cpu_s": extra.get("startup_cpu", 0.3 if engine == "worker" else 0.4),
        "max_rss_mb": extra.get("rss", 50.0),
        "disturbed": extra.get("disturbed", False),
        "ok": True,
        "stalled": False,
    }


ROWS = [
    _row("node", 0, 1000, 100, startup=0.6, rss=90),
    _row("node", 1, 2000, 100, startup=0.6, rss=90),
    _row("worker", 0, 1500, 50, startup=0.4),
    _row("worker", 1, 2200, 80, startup=0.5, disturbed=True),
]


def test_it_should_compare_each_repeat_with_node_in_the_same_repeat() -> None:
    worker = next(s for s in summarize(ROWS) if s["engine"] == "worker")
    assert (worker["ratio_min"], worker["ratio_max"]) == (1.1, 1.5)
    assert worker["ratio_to_node"] == 1.3  # median of 1.5 and 1.1
    assert (worker["jobs_per_s_min"], worker["jobs_per_s_max"]) == (1500, 2200)
    assert worker["cpu_ratio_to_node"] == 0.65
    assert worker["disturbed"] == 1
    assert "(1 disturbed)" in table(summarize(ROWS))


def test_it_should_print_each_goal_met_or_not() -> None:
    lines = goal_lines(summarize(ROWS))
    assert lines == [
        "goal c=10 jobs/s: worker 1.30x Node (>= 1.25x; repeats 1.10-1.50x) met",
        "goal c=10 CPU/job: worker 65.0 us = 0.65x Node's 100.0 (<= 0.7x) met",
        "goal c=10 start-up: worker 0.45 s, Node 0.60 s (<= Node) met; CPU to the first job: "
        "worker 0.30 s, Node 0.40 s met",
        "goal c=10 peak RSS: worker 50.0 MB (<= 60) met",
    ]
    slow = [*ROWS[:2], *(_row("worker", r, 900 * (r + 1), 90, rss=70, startup=0.9) for r in (0, 1))]
    assert all("NOT MET" in line for line in goal_lines(summarize(slow)))
