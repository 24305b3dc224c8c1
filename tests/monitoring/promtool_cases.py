"""promtool unit-test cases for every alerting rule the chart renders: one where it fires
(with the labels and annotations a person sees) and near misses where it stays silent.

Series carry the label sets the platform's processes and redis_exporter really
produce (tests/monitoring/test_it_should_fire_and_resolve_alerts_live.py scrapes
them); selectors are read from the rendered expression, so a matcher the series
do not satisfy makes the fire case fail. Time runs in minutes (`interval: 1m`).
Near misses come two ways: the value one step short of the threshold, and the
condition true but for less than the rule's `for:` (pending, never firing).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from platform_spec.keys import QueueKeys

Series = dict[str, str]  # promtool series selector -> values expression
# A selector's body may hold `}` inside a quoted matcher (a cluster hash tag as `[}]`).
SELECTOR = re.compile(r'\b([a-z_:][a-z0-9_:]*)\{((?:[^}"]|"[^"]*")*)\}')
MATCHER = re.compile(r'([a-z_]+)\s*(=~|=)\s*"([^"]*)"')
# Labels Prometheus adds to every scraped series (PodMonitor / ServiceMonitor targets).
TARGET = {"pod": "p-0", "instance": "10.0.0.1:9121", "job": "scrape"}


@dataclass
class Case:
    """One promtool test group: input series, one evaluation, the expected alerts."""

    name: str
    alertname: str
    series: Series
    eval_minutes: int
    expected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fires(self) -> bool:
        return bool(self.expected)

    def as_promtool(self) -> dict[str, Any]:
        length = self.eval_minutes + 3
        return {
            "name": self.name,
            "interval": "1m",
            "input_series": [
                {"series": sel, "values": f"{vals}x{length}"} for sel, vals in self.series.items()
            ],
            "alert_rule_test": [
                {
                    "eval_time": f"{self.eval_minutes}m",
                    "alertname": self.alertname,
                    "exp_alerts": self.expected,
                }
            ],
        }


def for_minutes(rule: dict[str, Any]) -> int:
    value = str(rule.get("for", "0m"))
    number, unit = int(value[:-1]), value[-1]
    return {"s": max(number // 60, 0), "m": number, "h": number * 60}[unit]


def selector(expr: str, metric: str, keys: QueueKeys | None = None, **extra: str) -> str:
    """A series selector of `metric` satisfying the matchers the expression uses on it.

    A regex matcher on `key` is filled with the key names of platform_spec/keys.py
    (`extra["suffix"]` picks which); the regex must accept it, or the case fails here.
    """
    suffix = extra.pop("suffix", None)
    for name, body in SELECTOR.findall(expr):
        if name != metric:
            continue
        labels: dict[str, str] = {**TARGET}
        for label, op, value in MATCHER.findall(body):
            if op == "=":
                labels[label] = value
            else:
                assert keys is not None and suffix is not None, f"{metric}: regex on {label}"
                concrete = keys.key(suffix)
                assert re.fullmatch(value, concrete), f"{value!r} does not match {concrete!r}"
                labels[label] = concrete
        labels.update(extra)
        inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        return f"{metric}{{{inner}}}"
    raise AssertionError(f"{metric} not in {expr}")


def expected(rule: dict[str, Any], **result_labels: str) -> list[dict[str, Any]]:
    """The one alert a person sees: rule labels + result labels, annotations expanded."""
    labels = {**{k: str(v) for k, v in rule.get("labels", {}).items()}, **result_labels}
    annotations = {
        k: re.sub(r"\{\{\s*\$labels\.(\w+)\s*\}\}", lambda m: labels[m.group(1)], str(v))
        for k, v in rule["annotations"].items()
    }
    return [{"exp_labels": labels, "exp_annotations": annotations}]


Builder = Callable[[dict[str, Any], str, QueueKeys | None], list[Case]]


def _three(rule: dict[str, Any], fire: Series, below: Series, **result_labels: str) -> list[Case]:
    """Fire after `for:`; silent one step below; silent while `for:` has not elapsed."""
    alert, wait = rule["alert"], for_minutes(rule)
    tag = rule.get("labels", {}).get("queue", "")
    name = f"{alert} {tag}".strip()
    cases = [
        Case(f"it should fire {name}", alert, fire, wait + 2, expected(rule, **result_labels)),
        Case(f"it should stay silent just below {name}", alert, below, wait + 2),
    ]
    if wait:
        cases.append(Case(f"it should not fire {name} before for: elapsed", alert, fire, wait - 1))
    return cases


def redis_down(rule: dict[str, Any], ns: str, keys: QueueKeys | None) -> list[Case]:
    e = rule["expr"]
    up = selector(e, "redis_up")
    cases = _three(rule, {up: "0"}, {up: "1"})
    # No series at all (exporter gone): absent() fires, carrying its equality matchers.
    labels = {k: v for k, op, v in MATCHER.findall(e.split("absent(")[1]) if op == "="}
    other = selector(e, "redis_up", service="someone-else-metrics")
    cases.append(
        Case(
            f"it should fire {rule['alert']} when the exporter is gone",
            rule["alert"],
            {other: "1"},
            for_minutes(rule) + 2,
            expected(rule, **labels),
        )
    )
    return cases


def memory_high(rule: dict[str, Any], ns: str, keys: QueueKeys | None) -> list[Case]:
    """Both memory alerts: `ratio >= threshold`, the threshold read from the expression."""
    e = rule["expr"]
    percent = round(float(e.rsplit(">=", 1)[1]) * 100)
    used, cap = selector(e, "redis_memory_used_bytes"), selector(e, "redis_memory_max_bytes")
    cases = _three(rule, {used: str(percent), cap: "100"}, {used: str(percent - 1), cap: "100"})
    # maxmemory 0 (unlimited) must not page however much is used.
    cases.append(
        Case(
            f"it should stay silent for {rule['alert']} without maxmemory",
            rule["alert"],
            {used: "1000", cap: "0"},
            for_minutes(rule) + 2,
        )
    )
    return cases


def aof_write_errors(rule: dict[str, Any], ns: str, keys: QueueKeys | None) -> list[Case]:
    status = selector(rule["expr"], "redis_aof_last_write_status")
    return _three(rule, {status: "0"}, {status: "1"})


def pvc_nearly_full(rule: dict[str, Any], ns: str, keys: QueueKeys | None) -> list[Case]:
    e = rule["expr"]
    used = selector(e, "kubelet_volume_stats_used_bytes")
    cap = selector(e, "kubelet_volume_stats_capacity_bytes")
    return _three(rule, {used: "86", cap: "100"}, {used: "85", cap: "100"})


def rdb_snapshot_failing(rule: dict[str, Any], ns: str, keys: QueueKeys | None) -> list[Case]:
    status = selector(rule["expr"], "redis_rdb_last_bgsave_status")
    return _three(rule, {status: "0"}, {status: "1"})


def certificate_expires_soon(rule: dict[str, Any], ns: str, keys: QueueKeys | None) -> list[Case]:
    """`expiry - time() < days * 86400`: promtool's clock starts at 0, so an expiry at
    exactly `days` fires at once; one minute past the evaluation's window stays silent."""
    e = rule["expr"]
    match = re.search(r"<\s*(\d+)\s*\*\s*86400", e)
    assert match, e
    window = int(match.group(1)) * 86400
    expiry = selector(e, "bullmq_tls_certificate_expiry_timestamp_seconds", certificate="redis")
    late = window + (for_minutes(rule) + 3) * 60  # still > window at the evaluation
    return _three(rule, {expiry: str(window)}, {expiry: str(late)}, certificate="redis")


def _threshold(rule: dict[str, Any]) -> int:
    return int(float(rule["expr"].rsplit(">", 1)[1]))


def queue_backlog(rule: dict[str, Any], ns: str, keys: QueueKeys | None) -> list[Case]:
    e, limit = rule["expr"], _threshold(rule)
    wait = selector(e, "redis_key_size", keys, suffix="wait", db="db0")
    prio = selector(e, "redis_key_size", keys, suffix="prioritized", db="db0")
    # wait + prioritized is the backlog: each alone stays below the threshold.
    return _three(
        rule,
        {wait: str(limit), prio: "1"},
        {wait: str(limit - 1), prio: "1"},
    )


def queue_failed(rule: dict[str, Any], ns: str, keys: QueueKeys | None) -> list[Case]:
    e, limit = rule["expr"], _threshold(rule)
    failed = selector(e, "redis_key_size", db="db0")
    return _three(rule, {failed: str(limit + 1)}, {failed: str(limit)})


def stuck_active(rule: dict[str, Any], ns: str, keys: QueueKeys | None) -> list[Case]:
    e = rule["expr"]
    mine = selector(e, "bullmq_platform_health_findings")
    others = {
        selector(e, "bullmq_platform_health_findings", queue="some-other-queue"): "1",
        selector(e, "bullmq_platform_health_findings", check="memory_high"): "1",
    }
    return _three(rule, {mine: "1", **others}, others)


def backlog_without_workers(rule: dict[str, Any], ns: str, keys: QueueKeys | None) -> list[Case]:
    e, alert = rule["expr"], rule["alert"]
    wait = selector(e, "redis_key_size", keys, suffix="wait", db="db0")
    available = selector(e, "kube_deployment_status_replicas_available")
    assert keys is not None
    worker = selector(
        e, "bullmq_worker_fetch_progress_timestamp_seconds", job="worker", queue=keys.queue
    )
    late = for_minutes(rule) + 2
    return [
        *_three(rule, {wait: "1", available: "0", worker: "1"}, {wait: "0", available: "0"}),
        Case(
            f"it should fire {alert} {keys.queue} with no worker exporting (no kube-state-metrics)",
            alert,
            {wait: "1"},
            late,
            expected(rule),
        ),
        Case(
            f"it should stay silent for {alert} {keys.queue} while a worker runs",
            alert,
            {wait: "5", available: "1", worker: "1"},
            late,
        ),
    ]


def schedule_missed(rule: dict[str, Any], ns: str, keys: QueueKeys | None) -> list[Case]:
    e = rule["expr"]
    tick = {"schedule": "health-check", "queue": "scheduled-jobs"}
    since = selector(e, "bullmq_schedule_seconds_since_last_success", **tick)
    interval = selector(e, "bullmq_schedule_interval_seconds", **tick)
    # A second replica that saw the success more recently does not hide the miss (max).
    since2 = selector(e, "bullmq_schedule_seconds_since_last_success", pod="p-1", **tick)
    return _three(
        rule,
        {since: "601", since2: "10", interval: "300"},
        {since: "600", interval: "300"},
        namespace=ns,
        **tick,
    )


BUILDERS: dict[str, Builder] = {
    "BullmqRedisDown": redis_down,
    "BullmqRedisMemoryHigh": memory_high,
    "BullmqRedisNearlyFull": memory_high,
    "BullmqRedisAofWriteErrors": aof_write_errors,
    "BullmqRedisPvcNearlyFull": pvc_nearly_full,
    "BullmqQueueBacklog": queue_backlog,
    "BullmqQueueFailed": queue_failed,
    "BullmqStuckActiveJobs": stuck_active,
    "BullmqBacklogWithoutWorkers": backlog_without_workers,
    "BullmqScheduleMissed": schedule_missed,
    "BullmqRedisRdbSnapshotFailing": rdb_snapshot_failing,
    "BullmqCertificateExpiresSoon": certificate_expires_soon,
}


def cases_for(
    rules: list[dict[str, Any]], namespace: str, queue_keys: Callable[[str], QueueKeys]
) -> list[Case]:
    """Every case of every alerting rule; KeyError for an alert nobody wrote cases for.

    `queue_keys` is the spec's (PlatformSpec.queue_keys): in Redis Cluster mode a
    queue's keys carry its hash tag, and the rules' regexes must match those."""
    out: list[Case] = []
    for rule in rules:
        queue = rule.get("labels", {}).get("queue")
        keys = queue_keys(queue) if queue else None
        out += BUILDERS[rule["alert"]](rule, namespace, keys)
    return out
