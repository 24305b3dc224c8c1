"""Prometheus metrics of one worker process (its own registry, served on /metrics).

Names follow `bullmq_<thing>_<unit>`; labels are `queue` and `job_name`, never
a job id. Job names outside the queue's registry are counted as `unknown`, so
a producer sending random names cannot blow up the series count.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LABELS = ("queue", "job_name")
UNKNOWN_JOB = "unknown"
# Seconds: from a 5 ms no-op to a 15-minute report.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
LOOP_BLOCK_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300)
RTT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)


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
        self.loop_progress = Gauge(
            "bullmq_worker_fetch_progress_timestamp_seconds",
            "Unix time the fetch loop last made progress (liveness).",
            ("queue",),
            registry=r,
        )

    def job(self, name: str) -> str:
        """The job_name label value for `name`."""
        return name if name in self.known else UNKNOWN_JOB

    def render(self) -> bytes:
        return generate_latest(self.registry)
