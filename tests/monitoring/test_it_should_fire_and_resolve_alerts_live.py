"""The chart's alerts fire and resolve in a real Prometheus scraping the real processes.

Staged: a backlog over the threshold on a queue with no worker (backlog, backlog
without workers), a stuck active job there, a schedule there that cannot
succeed (missed), failed jobs over the threshold, Redis memory above 90 %,
Redis down, and the exporter gone (no redis_up at all). Each is seen firing in
Prometheus's own /api/v1/alerts, then gone after the condition is undone. The
chart has no knob for `for:`: the loaded copy has every `for:` rewritten to 2s
(the real durations are exercised by the promtool cases). Every metric a rule,
the dashboard or the docs name is seen in the live scrape, except kubelet and
kube-state-metrics series, which only a cluster has.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_platform import (
    FAILED_THRESHOLD,
    WAITING_THRESHOLD,
    LivePlatform,
    wait_for,
)

from monitoring import catalog, dashboard
from monitoring.picture import panel_series
from monitoring.rules import alerting_rules, metric_names
from platform_spec.keys import QueueKeys

pytestmark = [pytest.mark.helm, pytest.mark.slow]
IDLE = "agent-execution"  # no worker until the resolve step
BUSY = "background-tasks"
CLUSTER_ONLY = ("kube_", "kubelet_")
MISSED = ("BullmqScheduleMissed", "agent-tick")
QUEUE_ALERTS = {
    ("BullmqQueueBacklog", IDLE),
    ("BullmqBacklogWithoutWorkers", IDLE),
    ("BullmqStuckActiveJobs", IDLE),
    MISSED,
    ("BullmqQueueFailed", BUSY),
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePlatform]:
    platform = LivePlatform(tmp_path_factory.mktemp("live"))
    try:
        platform.start(idle_queue=IDLE)
        # A clean baseline: Redis scraped, nothing pending (absent() fires before a scrape)
        # but missed schedules, which only need time (see live_platform.live_spec).
        wait_for(
            "a first scrape and no alert",
            lambda: (
                bool(platform.prometheus.query("redis_up == 1"))
                and not [k for k in _active(platform) if k[0] != MISSED[0]]
            ),
            show=lambda: _active(platform),
        )
        yield platform
    finally:
        platform.stop()


def _active(live: LivePlatform) -> dict[tuple[str, str], str]:
    """(alertname, queue or schedule) -> state, for every pending/firing alert."""
    out = {}
    for alert in live.prometheus.alerts():
        labels = alert["labels"]
        key = (labels["alertname"], labels.get("schedule") or labels.get("queue", ""))
        out[key] = alert["state"]
    return out


def _stage_stuck_job(live: LivePlatform) -> None:
    """A job BullMQ shows as active for an hour, with no worker holding it."""
    (job_id,) = live.enqueue(IDLE, "execute-agent", {"agentId": "stuck", "input": "Hi."}, 1)
    keys = QueueKeys(live.spec.key_prefix, IDLE)
    admin = live.client()
    try:
        with admin.pipeline(transaction=True) as pipe:
            pipe.zrem(keys.prioritized, job_id)
            pipe.lrem(keys.wait, 0, job_id)
            pipe.lpush(keys.active, job_id)
            pipe.hset(keys.job(job_id), "processedOn", int((time.time() - 3600) * 1000))
            pipe.execute()
    finally:
        admin.close()


class FiringLog:
    """First time each alert was seen firing, since the log was made."""

    def __init__(self, live: LivePlatform) -> None:
        self.live, self.started = live, time.monotonic()
        self.first: dict[tuple[str, str], float] = {}

    def all_firing(self, keys: set[tuple[str, str]]) -> bool:
        for key, state in _active(self.live).items():
            if state == "firing":
                self.first.setdefault(key, round(time.monotonic() - self.started, 1))
        return keys <= set(self.first)


def test_it_should_fire_and_resolve_each_stageable_alert(live: LivePlatform) -> None:
    # Stage the queue conditions at once: they are independent.
    log = FiringLog(live)
    live.enqueue(IDLE, "execute-agent", {"agentId": "a", "input": "Work."}, WAITING_THRESHOLD + 1)
    _stage_stuck_job(live)
    live.enqueue(BUSY, "no-such-job", {}, FAILED_THRESHOLD + 1)  # invalid: failed at once
    live.remove_schedule("scheduled-jobs", "metrics-aggregate")  # drift, repaired and counted
    wait_for(
        f"all of {sorted(QUEUE_ALERTS)} firing",
        lambda: log.all_firing(QUEUE_ALERTS),
        timeout=90,
        show=lambda: _active(live),
    )
    print(f"seconds from staging to firing: {log.first}")

    # Undo: a worker for the idle queue drains it (and recovers the stalled job, and runs
    # the tick); failed jobs are cleaned.
    live.processes[f"worker {IDLE}"].start()
    live.clean_failed(BUSY)
    took = wait_for(
        "queue alerts resolved",
        lambda: not set(_active(live)) & QUEUE_ALERTS,
        timeout=90,
        show=lambda: _active(live),
    )
    print(f"queue alerts resolved after {took:.1f}s")
    _assert_every_metric_scraped(live)
    health = live.prometheus.target_health()
    assert health and all(h == "up" for h in health.values()), health
    _assert_every_panel_returns_data(live)
    _assert_waits_measured_from_enqueue(live)


def test_it_should_fire_and_resolve_memory_high(live: LivePlatform) -> None:
    """Alone: with maxmemory this close, writes elsewhere could hit noeviction's refusal."""
    key = ("BullmqRedisMemoryHigh", "")
    admin = live.client()
    try:
        maxmemory = int(admin.info("memory")["maxmemory"])
        admin.config_set("maxmemory", int(int(admin.info("memory")["used_memory"]) / 0.92))
        try:
            took = wait_for(
                "BullmqRedisMemoryHigh firing",
                lambda: _active(live).get(key) == "firing",
                show=lambda: _active(live),
            )
        finally:
            admin.config_set("maxmemory", maxmemory)
        took += wait_for("BullmqRedisMemoryHigh resolved", lambda: key not in _active(live))
    finally:
        admin.close()
    print(f"memory high fired and resolved in {took:.1f}s")


def test_it_should_fire_and_resolve_redis_down(live: LivePlatform) -> None:
    assert live.server is not None
    key = ("BullmqRedisDown", "")
    live.server.stop()
    took = wait_for(
        "BullmqRedisDown firing",
        lambda: _active(live).get(key) == "firing",
        show=lambda: _active(live),
    )
    live.server.start()
    took += wait_for("BullmqRedisDown resolved", lambda: key not in _active(live))
    print(f"redis down fired and resolved in {took:.1f}s")


def _finite(result: list[dict[str, Any]]) -> bool:
    return any(math.isfinite(float(r["value"][1])) for r in result)


def _assert_waits_measured_from_enqueue(live: LivePlatform) -> None:
    """The idle queue's jobs sat for seconds before its worker started: the wait histogram
    shows it (its mean is well above the run time)."""
    sel = f'{{queue="{IDLE}"}}'
    (mean_wait,) = live.prometheus.query(
        f"sum(bullmq_job_wait_seconds_sum{sel}) / sum(bullmq_job_wait_seconds_count{sel})"
    )
    (mean_run,) = live.prometheus.query(
        f"sum(bullmq_job_duration_seconds_sum{sel}) / sum(bullmq_job_duration_seconds_count{sel})"
    )
    assert float(mean_wait["value"][1]) > 1.0 > float(mean_run["value"][1])


def _assert_every_panel_returns_data(live: LivePlatform) -> None:
    """Each dashboard query, variables filled in for the queue that ran jobs, returns data
    from the Prometheus HTTP API; with BULLMQ_DASHBOARD_DATA set, the panels' time series
    are written there (`python -m monitoring dashboard-png` draws docs/grafana-dashboard.png)."""
    ns = live.spec.namespace
    empty = [
        (title, expr)
        for title, expr in dashboard.queries()
        if not _finite(live.prometheus.query(dashboard.substitute(expr, ns, IDLE)))
    ]
    assert not empty, f"panels without data (or only NaN): {empty}"
    print(f"{len(dashboard.PANELS)} panels, {len(dashboard.queries())} queries return data")
    out = os.environ.get("BULLMQ_DASHBOARD_DATA")
    if out:
        data = panel_series(live.prometheus, ns, IDLE, live.started_at, time.time())
        Path(out).write_text(json.dumps(data))


def _names_in_docs() -> set[str]:
    """`bullmq_*` names the README and docs/ mention: not `prefix_{a,b}` shorthands, module
    paths (`workers/bullmq_wire.py`, `bullmq_wire.fn`) or calls (`bullmq_connection(...)`)."""
    repo = catalog.DOC.parent.parent
    text = "".join(p.read_text() for p in [repo / "README.md", *sorted(repo.glob("docs/*.md"))])
    return {
        n
        for n in re.findall(r"(?<![/\w])bullmq_[a-z0-9_]+(?![\w(]|\.\w)", text)
        if not n.endswith("_")
    }


def _assert_every_metric_scraped(live: LivePlatform) -> None:
    """Every metric a rule reads or docs/metrics.md lists was scraped from a live process
    (cluster-only series aside); a histogram counts by its `_bucket` series."""
    assert live.monitoring is not None
    wanted = {n for r in alerting_rules(live.monitoring.groups) for n in metric_names(r["expr"])}
    wanted |= catalog.documented_names(catalog.DOC.read_text())
    wanted |= _names_in_docs()
    wanted |= {n for _, expr in dashboard.queries() for n in metric_names(expr)}
    wanted = {n for n in wanted if not n.startswith(CLUSTER_ONLY)}
    seen = live.prometheus.metric_names()
    missing = sorted(n for n in wanted if n not in seen and f"{n}_bucket" not in seen)
    assert not missing, f"never scraped: {missing}"
    print(f"{len(wanted)} metric names seen in the live scrape")


def test_it_should_fire_redis_down_when_the_exporter_is_gone(live: LivePlatform) -> None:
    """No redis_up series at all (the sidecar crashed): the rule's absent() branch pages."""
    assert live.monitoring is not None and live.monitoring.exporter is not None
    exporter, key = live.monitoring.exporter, ("BullmqRedisDown", "")
    exporter.stop()
    took = wait_for(
        "BullmqRedisDown firing",
        lambda: _active(live).get(key) == "firing",
        show=lambda: _active(live),
    )
    exporter.start()  # the same port: Prometheus's target comes back
    took += wait_for("BullmqRedisDown resolved", lambda: key not in _active(live))
    print(f"exporter gone fired and resolved in {took:.1f}s")
