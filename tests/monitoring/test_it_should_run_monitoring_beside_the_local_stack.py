"""`scripts/local --monitoring`: exporter and Prometheus next to the local stack, all scraped."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from local_stack.__main__ import app
from platform_spec.stack import load_stack

pytestmark = [pytest.mark.redis, pytest.mark.helm]


def test_it_should_start_prometheus_scraping_every_process(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["up", "--once", "--monitoring", "--state-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Prometheus: http://127.0.0.1:" in result.output
    targets = len(load_stack("dev").spec.queues) + 2  # workers, scheduler, redis_exporter
    assert f"Prometheus targets up: {targets}/{targets}" in result.output
    assert "stopping Prometheus and redis_exporter" in result.output
    password = (tmp_path / "redis" / "passwords" / "exporter").read_text()
    assert password not in result.output
    assert password not in (tmp_path / "monitoring" / "prometheus" / "prometheus.yml").read_text()
