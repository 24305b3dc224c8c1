"""Metric children resolved once per job name; unknown names share one series."""

from __future__ import annotations

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
