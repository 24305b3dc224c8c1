"""Prometheus metrics of one worker process (its own registry, served on /metrics).

Names follow `bullmq_<thing>_<unit>` (seconds, `_total` counters); labels are
`queue` and `job_name`, never a job or tenant id. Job names outside the queue's
registry are counted as `unknown`, so a producer sending random names cannot
blow up the series count: at most (known names + 1) x len(FAIL_REASONS) series
per metric. Every series of a known name exists from start-up at zero, so
`rate()` and "absent" checks work before the first job. All names: docs/metrics.md.

The runtime counts every job through `JobSeries`: the labelled children of one
(queue, job name), resolved once. `Counter.labels()` takes a lock and builds a
key tuple on every call, and a job makes four metric updates: in a profile of
no-op jobs, metric updates were about 18 % of the process's busy time,
labels() most of it (docs/throughput.md, "The real worker process").
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LABELS = ("queue", "job_name")
UNKNOWN_JOB = "unknown"
FAIL_REASONS = ("invalid", "timeout", "error")
# Seconds, for run and wait times alike: from a 10 ms job to one of an hour.
DURATION_BUCKETS = (
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
)  # fmt: skip
LOOP_BLOCK_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300)
RTT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)


class JobSeries:
    """The metric children of one (queue, job name), resolved once."""

    def __init__(self, metrics: WorkerMetrics, job_name: str) -> None:
        labels = (metrics.queue, job_name)
        self.labels = labels
        self.completed = metrics.completed.labels(*labels)
        self.retried = metrics.retried.labels(*labels)
        self.dead_lettered = metrics.dead_lettered.labels(*labels)
        self.duration = metrics.duration.labels(*labels)
        self.wait = metrics.wait.labels(*labels)
        self.active = metrics.active.labels(*labels)
        self._failed = metrics.failed
        self._failed_by_reason: dict[str, Any] = {}

    def failed(self, reason: str) -> Any:
        """The `bullmq_jobs_failed_total` child for `reason` (a small fixed set)."""
        child = self._failed_by_reason.get(reason)
        if child is None:
            child = self._failed_by_reason[reason] = self._failed.labels(*self.labels, reason)
        return child


class WorkerMetrics:
    """The counters, histograms and gauges of one worker."""

    def __init__(self, queue: str, known_jobs: list[str]) -> None:
        self.queue = queue
        self.known = set(known_jobs)
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.completed = Counter("bullmq_jobs_completed", "Jobs completed.", LABELS, registry=r)
        self.failed = Counter(
            "bullmq_jobs_failed",
            "Job attempts that failed (retried or final), by reason.",
            (*LABELS, "reason"),
            registry=r,
        )
        self.retried = Counter(
            "bullmq_jobs_retried", "Failed attempts scheduled for another try.", LABELS, registry=r
        )
        self.dead_lettered = Counter(
            "bullmq_jobs_dead_lettered", "Jobs moved to the dead-letter queue.", LABELS, registry=r
        )
        self.duration = Histogram(
            "bullmq_job_duration_seconds",
            "Handler run time per attempt.",
            LABELS,
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.wait = Histogram(
            "bullmq_job_wait_seconds",
            "First attempt only: from when the job was due (enqueue time plus its delay) to "
            "its start.",
            LABELS,
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.active = Gauge(
            "bullmq_jobs_active", "Jobs running in this process.", LABELS, registry=r
        )
        self.redis_rtt = Histogram(
            "bullmq_redis_roundtrip_seconds",
            "Authenticated PING round trip over TLS.",
            ("queue",),
            buckets=RTT_BUCKETS,
            registry=r,
        )
        self.loop_blocked = Histogram(
            "bullmq_worker_event_loop_blocked_seconds",
            "Times the event loop was blocked (by the named job's handler), and for how long.",
            LABELS,
            buckets=LOOP_BLOCK_BUCKETS,
            registry=r,
        )
        self.clock_skew = Gauge(
            "bullmq_worker_clock_skew_seconds",
            "This process's clock minus Redis's (positive: running ahead), at the last /readyz.",
            ("queue",),
            registry=r,
        )
        self.dead_letters_recovered = Counter(
            "bullmq_dead_letters_recovered",
            "DLQ entries added from `failed` because the worker that failed the job died "
            "before writing them (workers/dlq_reconcile.py).",
            ("queue",),
            registry=r,
        )
        self.loop_progress = Gauge(
            "bullmq_worker_fetch_progress_timestamp_seconds",
            "Unix time the fetch loop last made progress (liveness).",
            ("queue",),
            registry=r,
        )
        self._series: dict[str, JobSeries] = {}
        self._initialise(queue, [*sorted(self.known), UNKNOWN_JOB])

    def _initialise(self, queue: str, names: list[str]) -> None:
        """Create every series of the known label values at zero (`rate()` and absent
        checks work before the first job)."""
        for name in names:
            series = self.series(name)
            for reason in FAIL_REASONS:
                series.failed(reason)
            self.loop_blocked.labels(queue, name)  # no block yet: zero observations
        self.redis_rtt.labels(queue)
        self.dead_letters_recovered.labels(queue)

    def job(self, name: str) -> str:
        """The job_name label value for `name`."""
        return name if name in self.known else UNKNOWN_JOB

    def series(self, name: str) -> JobSeries:
        """The metric children of job name `name` (unknown names share `unknown`'s)."""
        found = self._series.get(name)
        if found is None:
            label = self.job(name)
            found = self._series.get(label) or JobSeries(self, label)
            # Only known names (and `unknown` itself) get an entry: a producer sending
            # random names cannot grow this cache.
            self._series[label] = found
        return found

    def render(self) -> bytes:
        return generate_latest(self.registry)
