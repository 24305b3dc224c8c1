"""Prometheus metrics of one worker process (its own registry, served on /metrics).

Names follow `bullmq_<thing>_<unit>` (seconds, `_total` counters); labels are
`queue` and `job_name`, never a job or tenant id. Job names outside the queue's
registry are counted as `unknown`, so a producer sending random names cannot
blow up the series count: at most (known names + 1) x len(FAIL_REASONS) series
per metric. Every series of a known name exists from start-up at zero, so
`rate()` and "absent" checks work before the first job. All names: docs/metrics.md.

The runtime counts every job through `JobSeries`: the series of one (queue, job
name), resolved once, held as plain numbers and turned into samples only when
/metrics is read (`JobSeriesCollector`). Why not prometheus_client's own
Counter/Histogram children: each update takes a lock and runs several checks,
and a job makes five updates; in an in-process measure of the runtime's per-job
path they were about a quarter of its time (docs/throughput.md, "The real worker
process", sixth round). These numbers are updated on the event
loop's thread only (the runtime's hooks all run there; the loop-watch thread's
histogram stays a prometheus_client one), so they need no lock.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import metrics as client_metrics
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

LABELS = ("queue", "job_name")
UNKNOWN_JOB = "unknown"
FAIL_REASONS = ("invalid", "timeout", "error")
# Seconds, for run and wait times alike: from a 10 ms job to one of an hour.
DURATION_BUCKETS = (
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
)  # fmt: skip
LOOP_BLOCK_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300)
RTT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)


# Name and help of each per-job series (JobSeriesCollector exposes them; docs/metrics.md).
COMPLETED = ("bullmq_jobs_completed", "Jobs completed.")
FAILED = ("bullmq_jobs_failed", "Job attempts that failed (retried or final), by reason.")
RETRIED = ("bullmq_jobs_retried", "Failed attempts scheduled for another try.")
DEAD_LETTERED = ("bullmq_jobs_dead_lettered", "Jobs moved to the dead-letter queue.")
DURATION = ("bullmq_job_duration_seconds", "Handler run time per attempt.")
WAIT = (
    "bullmq_job_wait_seconds",
    "First attempt only: from when the job was due (enqueue time plus its delay) to its start.",
)
ACTIVE = ("bullmq_jobs_active", "Jobs running in this process.")


class Count:
    """A counter's or gauge's value (no lock: see the module's docstring)."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        self.value -= amount


class Buckets:
    """A histogram's counts per bucket (the last one is +Inf) and its sum."""

    __slots__ = ("bounds", "counts", "created", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, amount: float) -> None:
        # The first bound >= amount: Prometheus buckets count values <= `le`.
        self.counts[bisect_left(self.bounds, amount)] += 1
        self.sum += amount


class JobSeries:
    """The series of one (queue, job name), resolved once."""

    def __init__(self, job_name: str) -> None:
        self.job_name = job_name
        self.completed = Count()
        self.retried = Count()
        self.dead_lettered = Count()
        self.active = Count()
        self.duration = Buckets(DURATION_BUCKETS)
        self.wait = Buckets(DURATION_BUCKETS)
        self.failures = {reason: Count() for reason in FAIL_REASONS}

    def failed(self, reason: str) -> Count:
        """The `bullmq_jobs_failed_total` value for `reason` (one of FAIL_REASONS)."""
        return self.failures[reason]


def _le(bound: float) -> str:
    """A bucket's `le` label exactly as prometheus_client's own Histogram writes it."""
    text: str = floatToGoString(bound)  # type: ignore[no-untyped-call]
    return text


def _created_series() -> bool:
    """prometheus_client's own switch for `_created` samples (PROMETHEUS_DISABLE_CREATED_SERIES,
    `disable_created_metrics()`), which its Counter and Histogram obey: these series do too."""
    return bool(getattr(client_metrics, "_use_created", True))


def _counter(
    spec: tuple[str, str], labels: tuple[str, ...], values: list[tuple[list[str], Count]]
) -> CounterMetricFamily:
    family = CounterMetricFamily(*spec, labels=labels)
    created = _created_series()
    for label_values, count in values:
        family.add_metric(label_values, count.value, created=count.created if created else None)
    return family


def _histogram(
    spec: tuple[str, str], queue: str, series: list[JobSeries], pick: str
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(*spec, labels=LABELS)
    created = _created_series()
    for one in series:
        buckets: Buckets = getattr(one, pick)
        counts, total, cumulative = list(buckets.counts), buckets.sum, 0
        les = [*(_le(b) for b in buckets.bounds), "+Inf"]
        pairs = []
        for le, count in zip(les, counts, strict=True):
            cumulative += count
            pairs.append((le, float(cumulative)))
        family.add_metric([queue, one.job_name], pairs, total)
        if created:
            family.samples.append(
                Sample(
                    f"{spec[0]}_created",
                    {"queue": queue, "job_name": one.job_name},
                    buckets.created,
                )
            )
    return family


class JobSeriesCollector:
    """Turns the JobSeries of one worker into samples when /metrics is read."""

    def __init__(self, metrics: WorkerMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        queue = self.metrics.queue
        series = self.metrics.all_series()
        yield _counter(COMPLETED, LABELS, [([queue, s.job_name], s.completed) for s in series])
        yield _counter(
            FAILED,
            (*LABELS, "reason"),
            [([queue, s.job_name, r], s.failures[r]) for s in series for r in FAIL_REASONS],
        )
        yield _counter(RETRIED, LABELS, [([queue, s.job_name], s.retried) for s in series])
        yield _counter(
            DEAD_LETTERED, LABELS, [([queue, s.job_name], s.dead_lettered) for s in series]
        )
        yield _histogram(DURATION, queue, series, "duration")
        yield _histogram(WAIT, queue, series, "wait")
        active = GaugeMetricFamily(*ACTIVE, labels=LABELS)
        for s in series:
            active.add_metric([queue, s.job_name], s.active.value)
        yield active


class WorkerMetrics:
    """The counters, histograms and gauges of one worker."""

    def __init__(self, queue: str, known_jobs: list[str]) -> None:
        self.queue = queue
        self.known = set(known_jobs)
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._series: dict[str, JobSeries] = {}
        r.register(JobSeriesCollector(self))
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
        self._initialise(queue, [*sorted(self.known), UNKNOWN_JOB])

    def _initialise(self, queue: str, names: list[str]) -> None:
        """Create every series of the known label values at zero (`rate()` and absent
        checks work before the first job)."""
        for name in names:
            self.series(name)
            self.loop_blocked.labels(queue, name)  # no block yet: zero observations
        self.redis_rtt.labels(queue)
        self.dead_letters_recovered.labels(queue)

    def job(self, name: str) -> str:
        """The job_name label value for `name`."""
        return name if name in self.known else UNKNOWN_JOB

    def series(self, name: str) -> JobSeries:
        """The series of job name `name` (unknown names share `unknown`'s)."""
        found = self._series.get(name)
        if found is None:
            label = self.job(name)
            found = self._series.get(label) or JobSeries(label)
            # Only known names (and `unknown` itself) get an entry: a producer sending
            # random names cannot grow this cache.
            self._series[label] = found
        return found

    def all_series(self) -> list[JobSeries]:
        """Each (queue, job name) series once."""
        return list(self._series.values())

    def render(self) -> bytes:
        return generate_latest(self.registry)
