"""Per-job series resolved once per job name; unknown names share one series; what
/metrics shows of them is what prometheus_client's own metrics showed."""

from __future__ import annotations

from prometheus_client import disable_created_metrics, enable_created_metrics

from workers.metrics import UNKNOWN_JOB, WorkerMetrics


def _value(metrics: WorkerMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_it_should_count_through_cached_children() -> None:
    metrics = WorkerMetrics("q", ["send-email"])
    series = metrics.series("send-email")
    assert metrics.series("send-email") is series
    series.completed.inc()
    series.failed("timeout").inc()
    series.failed("timeout").inc()
    labels = {"queue": "q", "job_name": "send-email"}
    assert _value(metrics, "bullmq_jobs_completed_total", **labels) == 1
    assert _value(metrics, "bullmq_jobs_failed_total", **labels, reason="timeout") == 2


def test_it_should_fold_unknown_names_into_one_series() -> None:
    metrics = WorkerMetrics("q", ["send-email"])
    for i in range(100):
        metrics.series(f"random-{i}").completed.inc()
    assert metrics.series("random-x") is metrics.series(UNKNOWN_JOB)
    assert set(metrics._series) == {"send-email", UNKNOWN_JOB}  # random names add none
    assert _value(metrics, "bullmq_jobs_completed_total", queue="q", job_name=UNKNOWN_JOB) == 100


def test_it_should_expose_plain_series_as_prometheus_client_would() -> None:
    """Bucket edges count as `le` (value <= bound), buckets are cumulative, the le labels
    are prometheus_client's spelling, and gauges and _created samples are there."""
    metrics = WorkerMetrics("q", ["send-email"])
    series = metrics.series("send-email")
    for seconds in (0.01, 0.02, 5000.0):
        series.duration.observe(seconds)
    series.active.inc()
    series.active.inc()
    series.active.dec()
    labels = {"queue": "q", "job_name": "send-email"}
    bucket = "bullmq_job_duration_seconds_bucket"
    assert _value(metrics, bucket, **labels, le="0.01") == 1  # 0.01 <= 0.01
    assert _value(metrics, bucket, **labels, le="0.025") == 2
    assert _value(metrics, bucket, **labels, le="1.0") == 2
    assert _value(metrics, bucket, **labels, le="3600.0") == 2
    assert _value(metrics, bucket, **labels, le="+Inf") == 3
    assert _value(metrics, "bullmq_job_duration_seconds_count", **labels) == 3
    assert _value(metrics, "bullmq_job_duration_seconds_sum", **labels) == 5000.03
    assert _value(metrics, "bullmq_jobs_active", **labels) == 1
    assert _value(metrics, "bullmq_job_wait_seconds_count", **labels) == 0  # there at zero
    assert _value(metrics, "bullmq_job_duration_seconds_created", **labels) is not None
    assert _value(metrics, "bullmq_jobs_completed_created", **labels) is not None
    text = metrics.render().decode()
    assert "# TYPE bullmq_job_duration_seconds histogram" in text
    assert "# TYPE bullmq_jobs_completed_total counter" in text
    assert "# TYPE bullmq_jobs_active gauge" in text


def test_it_should_leave_out_created_samples_when_prometheus_client_is_told_to() -> None:
    """PROMETHEUS_DISABLE_CREATED_SERIES / disable_created_metrics(), as its own metrics obey."""
    metrics = WorkerMetrics("q", ["send-email"])
    disable_created_metrics()
    try:
        text = metrics.render().decode()
    finally:
        enable_created_metrics()
    assert "bullmq_jobs_completed_total{" in text
    assert "bullmq_job_duration_seconds_bucket{" in text
    assert "_created{" not in text
