"""docs/metrics.md's table is the registries' own: a metric added or renamed must be documented."""

from __future__ import annotations

from typer.testing import CliRunner

from monitoring import catalog
from monitoring.__main__ import app
from workers.metrics import DURATION_BUCKETS


def test_it_should_keep_the_metrics_table_in_step_with_the_registries() -> None:
    text = catalog.DOC.read_text()
    assert catalog.render_doc(text) == text, "run: .venv/bin/python -m monitoring metrics-table"


def test_it_should_follow_the_naming_conventions() -> None:
    for doc in catalog.catalog():
        if doc.kind == "counter":
            assert doc.name.endswith("_total"), doc.name
        if doc.source != "redis_exporter":
            assert doc.name.startswith("bullmq_"), doc.name
        assert "_ms" not in doc.name and "milliseconds" not in doc.name, doc.name
        assert not {"job_id", "jobId", "tenant", "tenant_id"} & set(doc.labels.split(", "))


def test_it_should_bucket_jobs_from_ten_milliseconds_to_an_hour() -> None:
    assert DURATION_BUCKETS[0] == 0.01 and DURATION_BUCKETS[-1] == 3600
    assert list(DURATION_BUCKETS) == sorted(DURATION_BUCKETS)


def test_it_should_have_help_on_every_monitoring_command() -> None:
    for command in ([], ["metrics-table"], ["dashboard"], ["dashboard-png"]):
        result = CliRunner().invoke(app, [*command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, command
