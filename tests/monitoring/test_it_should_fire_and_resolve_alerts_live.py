"""The chart's alerts fire and resolve in a real Prometheus scraping the real processes.

Staged: a backlog over the threshold on a queue with no worker (backlog, backlog
without workers), a stuck active job there, a schedule there that cannot
succeed (missed), failed jobs over the threshold, Redis memory above 90 %, and
Redis down. Each is seen firing in Prometheus's own /api/v1/alerts, then gone
after the condition is undone. The chart has no knob for `for:`: the loaded
copy has every `for:` rewritten to 2s (the real durations are exercised by the
promtool cases). Every metric a rule reads is seen in the live scrape, except
kubelet and kube-state-metrics series, which only a cluster has.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from live_platform import (
    FAILED_THRESHOLD,
    WAITING_THRESHOLD,
    LivePlatform,
    wait_for,
)

from monitoring.rules import alerting_rules, metric_names
from platform_spec.keys import QueueKeys

pytestmark = [pytest.mark.helm, pytest.mark.slow]
IDLE = "agent-execution"  # no worker until the resolve step
BUSY = "background-tasks"
CLUSTER_ONLY = ("kube_", "kubelet_")
STAGED = {
    ("BullmqQueueBacklog", IDLE),
    ("BullmqBacklogWithoutWorkers", IDLE),
    ("BullmqStuckActiveJobs", IDLE),
    ("BullmqScheduleMissed", "agent-tick"),
    ("BullmqQueueFailed", BUSY),
    ("BullmqRedisMemoryHigh", ""),
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePlatform]:
    platform = LivePlatform(tmp_path_factory.mktemp("live"))
    try:
        platform.start(idle_queue=IDLE)
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


def test_it_should_fire_and_resolve_each_stageable_alert(live: LivePlatform) -> None:
    admin = live.client()
    maxmemory = int(admin.info("memory")["maxmemory"])
    # Stage everything at once: the conditions are independent.
    live.enqueue(IDLE, "execute-agent", {"agentId": "a", "input": "Work."}, WAITING_THRESHOLD + 1)
    _stage_stuck_job(live)
    live.enqueue(BUSY, "no-such-job", {}, FAILED_THRESHOLD + 1)  # invalid: failed at once
    used = int(admin.info("memory")["used_memory"])
    admin.config_set("maxmemory", int(used / 0.93))
    took = wait_for(
        f"all of {sorted(STAGED)} firing",
        lambda: all(_active(live).get(k) == "firing" for k in STAGED),
        timeout=90,
    )
    print(f"staged alerts firing after {took:.1f}s")

    # Undo: a worker for the idle queue drains it (and recovers the stalled job, and runs
    # the tick), failed jobs are cleaned, maxmemory is restored.
    live.processes[f"worker {IDLE}"].start()
    live.clean_failed(BUSY)
    admin.config_set("maxmemory", maxmemory)
    admin.close()
    took = wait_for(
        "staged alerts resolved",
        lambda: not set(_active(live)) & STAGED,
        timeout=90,
    )
    print(f"staged alerts resolved after {took:.1f}s")
    _assert_every_metric_scraped(live)
    health = live.prometheus.target_health()
    assert health and all(h == "up" for h in health.values()), health


def test_it_should_fire_and_resolve_redis_down(live: LivePlatform) -> None:
    assert live.server is not None
    key = ("BullmqRedisDown", "")
    live.server.stop()
    took = wait_for("BullmqRedisDown firing", lambda: _active(live).get(key) == "firing")
    live.server.start()
    took += wait_for("BullmqRedisDown resolved", lambda: key not in _active(live))
    print(f"redis down fired and resolved in {took:.1f}s")


def _assert_every_metric_scraped(live: LivePlatform) -> None:
    """Every metric a rule reads was scraped from a live process (cluster-only ones aside)."""
    assert live.monitoring is not None
    wanted = {n for r in alerting_rules(live.monitoring.groups) for n in metric_names(r["expr"])}
    wanted = {n for n in wanted if not n.startswith(CLUSTER_ONLY)}
    seen = live.prometheus.metric_names()
    assert wanted <= seen, f"never scraped: {sorted(wanted - seen)}"
