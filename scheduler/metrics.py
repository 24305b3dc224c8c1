"""The scheduler's /metrics: a snapshot refreshed by the service loop, read at scrape time."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from platform_spec.cron import next_fires
from platform_spec.model import PlatformSpec
from scheduler.register import ReconcileReport


@dataclass
class ServiceState:
    """What the loop learnt last; the HTTP handlers only read it."""

    schedules: dict[str, str] = field(default_factory=dict)  # id -> queue (declared, enabled)
    intervals: dict[str, float] = field(default_factory=dict)  # id -> seconds between ticks
    last_report: ReconcileReport | None = None
    last_reconcile_ok_at: float = 0.0
    reconciles: dict[str, int] = field(default_factory=dict)  # outcome -> count
    drift_repairs: dict[tuple[str, str], int] = field(default_factory=dict)
    next_fire_ms: dict[str, int] = field(default_factory=dict)
    last_success: dict[str, float] = field(default_factory=dict)
    run_records: dict[str, dict[str, float]] = field(default_factory=dict)
    health: dict[str, Any] | None = None
    rollups: dict[str, dict[str, float]] = field(default_factory=dict)
    desired_replicas: dict[str, int] = field(default_factory=dict)  # queue -> scaling signal
    certificate_expiry: dict[str, float] = field(default_factory=dict)  # which -> not after
    started_at: float = field(default_factory=time.time)
    scripts_killed: dict[str, int] = field(default_factory=dict)  # outcome -> count

    def record(self, report: ReconcileReport) -> None:
        outcome = "ok" if report.ok else ("lock_busy" if not report.lock_acquired else "error")
        self.reconciles[outcome] = self.reconciles.get(outcome, 0) + 1
        if not report.lock_acquired:
            return
        self.last_report = report
        if report.ok:
            self.last_reconcile_ok_at = report.at
        for schedule_id, reason in report.repaired.items():
            key = (schedule_id, reason)
            self.drift_repairs[key] = self.drift_repairs.get(key, 0) + 1
        self.next_fire_ms.update(report.next_fire_ms)


def _by_label(
    kind: type[GaugeMetricFamily] | type[CounterMetricFamily],
    name: str,
    doc: str,
    label: str,
    samples: Iterable[tuple[str, float]],
) -> GaugeMetricFamily | CounterMetricFamily:
    """A family with one label and a sample per value of it."""
    family = kind(name, doc, labels=[label])
    for value, sample in samples:
        family.add_metric([value], sample)
    return family


class StateCollector(Collector):
    def __init__(self, state: ServiceState) -> None:
        self.state = state

    def collect(self) -> Iterator[Any]:
        s, now = self.state, time.time()
        yield GaugeMetricFamily(
            "bullmq_scheduler_schedules_registered",
            "Declared, enabled schedules present as BullMQ job schedulers after the last pass.",
            value=len(s.next_fire_ms.keys() & s.schedules.keys()),
        )
        yield GaugeMetricFamily(
            "bullmq_scheduler_last_reconcile_timestamp_seconds",
            "End of the last successful reconcile pass (0: none yet).",
            value=s.last_reconcile_ok_at,
        )
        yield _by_label(
            CounterMetricFamily,
            "bullmq_scheduler_reconciles",
            "Reconcile passes by outcome.",
            "outcome",
            sorted(s.reconciles.items()),
        )
        repairs = CounterMetricFamily(
            "bullmq_scheduler_drift_repairs",
            "Schedules re-created because they drifted from the spec.",
            labels=["schedule", "reason"],
        )
        for (schedule_id, reason), count in sorted(s.drift_repairs.items()):
            repairs.add_metric([schedule_id, reason], count)
        yield repairs
        yield _by_label(
            GaugeMetricFamily,
            "bullmq_tls_certificate_expiry_timestamp_seconds",
            "Expiry of a certificate the platform serves or relies on "
            "(scaling-endpoint: served to KEDA by this scheduler; redis: presented by Redis).",
            "certificate",
            sorted(s.certificate_expiry.items()),
        )
        yield _by_label(
            CounterMetricFamily,
            "bullmq_scheduler_scripts_killed",
            "Runaway Lua scripts the watchdog stopped with SCRIPT KILL (or could not).",
            "outcome",
            [(outcome, s.scripts_killed.get(outcome, 0)) for outcome in ("killed", "unkillable")],
        )
        yield from self._per_schedule(now)
        yield from self._health()
        yield from self._rollups()
        yield _by_label(
            GaugeMetricFamily,
            "bullmq_queue_desired_replicas",
            "Worker replicas the scaling signal asks for (what KEDA's metrics-api scaler reads "
            "from /scaling/<queue>), at the last metrics refresh.",
            "queue",
            sorted(s.desired_replicas.items()),
        )

    def _per_schedule(self, now: float) -> Iterator[Any]:
        s = self.state
        labels = ["schedule", "queue"]
        nxt = GaugeMetricFamily(
            "bullmq_schedule_next_fire_timestamp_seconds", "Next tick BullMQ holds.", labels=labels
        )
        last = GaugeMetricFamily(
            "bullmq_schedule_last_success_timestamp_seconds",
            "Newest successful run of the schedule (0: none seen).",
            labels=labels,
        )
        since = GaugeMetricFamily(
            "bullmq_schedule_seconds_since_last_success",
            "Seconds since the newest successful run (or since registration if none). "
            "Missed ticks are not back-filled: this is how they show.",
            labels=labels,
        )
        skipped = CounterMetricFamily(
            "bullmq_schedule_skipped", "Ticks skipped by overlap: skip.", labels=labels
        )
        interval = GaugeMetricFamily(
            "bullmq_schedule_interval_seconds",
            "Seconds between the schedule's next two ticks (the missed-schedule alert's unit).",
            labels=labels,
        )
        for schedule_id, queue in sorted(s.schedules.items()):
            lv = [schedule_id, queue]
            if schedule_id in s.next_fire_ms:
                nxt.add_metric(lv, s.next_fire_ms[schedule_id] / 1000)
            success = s.last_success.get(schedule_id, 0.0)
            last.add_metric(lv, success)
            records = s.run_records.get(schedule_id, {})
            since_ref = success or records.get("registered", 0.0)
            if since_ref:
                since.add_metric(lv, max(0.0, now - since_ref))
            skipped.add_metric(lv, records.get("skipped", 0.0))
            if schedule_id in s.intervals:
                interval.add_metric(lv, s.intervals[schedule_id])
        yield from (nxt, last, since, skipped, interval)

    def _health(self) -> Iterator[Any]:
        health = self.state.health
        if not health:
            return
        yield GaugeMetricFamily(
            "bullmq_platform_healthy",
            "1 if the last health check found nothing.",
            value=1.0 if health.get("healthy") else 0.0,
        )
        yield GaugeMetricFamily(
            "bullmq_platform_health_check_timestamp_seconds",
            "When the last health check ran.",
            value=float(health.get("at", 0)),
        )
        findings = GaugeMetricFamily(
            "bullmq_platform_health_findings",
            "Findings of the last health check.",
            labels=["check", "queue"],
        )
        for finding in health.get("findings", []):
            findings.add_metric([finding["check"], finding.get("queue", "")], 1.0)
        yield findings

    def _rollups(self) -> Iterator[Any]:
        names = {
            "completed": "Jobs completed in the last full hour.",
            "failed": "Jobs failed in the last full hour.",
            "throughput_per_second": "Completed jobs per second over the last full hour.",
            "processing_seconds_avg": "Average processing time over the last full hour.",
            "processing_seconds_p95": "95th percentile processing time over the last full hour.",
        }
        for field_name, doc in names.items():
            family = GaugeMetricFamily(f"bullmq_queue_hourly_{field_name}", doc, labels=["queue"])
            for queue, rollup in sorted(self.state.rollups.items()):
                if field_name in rollup:
                    family.add_metric([queue], rollup[field_name])
            yield family


def schedule_intervals(spec: PlatformSpec, now: datetime | None = None) -> dict[str, float]:
    """Seconds between the next two ticks of each enabled schedule (every, or cron)."""
    start = now or datetime.now(UTC)
    out: dict[str, float] = {}
    for schedule in spec.schedules:
        if not schedule.enabled:
            continue
        if schedule.every_ms is not None:
            out[schedule.name] = schedule.every_ms / 1000
        elif schedule.cron is not None:
            first, second = next_fires(schedule.cron, schedule.timezone, start, 2)
            out[schedule.name] = (second - first).total_seconds()
    return out


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


def build_registry(state: ServiceState) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(state))
    return registry
