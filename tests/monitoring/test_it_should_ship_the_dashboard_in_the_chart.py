"""The Grafana dashboard: generated, shipped as a sidecar-labelled ConfigMap only when asked."""

from __future__ import annotations

import json

import pytest
from chart_rendering import default_values, objects, of_kind

from monitoring import dashboard
from monitoring.rules import metric_names

pytestmark = pytest.mark.helm


def test_it_should_keep_the_shipped_json_generated() -> None:
    shipped = dashboard.DASHBOARD_FILE.read_text()
    assert shipped == dashboard.render(), "run: .venv/bin/python -m monitoring dashboard"


def test_it_should_render_the_configmap_only_when_switched_on() -> None:
    labelled = [
        c
        for c in of_kind(objects(default_values()), "ConfigMap")
        if "grafana_dashboard" in c["metadata"].get("labels", {})
    ]
    assert not labelled
    docs = objects(default_values(**{"monitoring.grafanaDashboard": True}))
    (cm,) = [c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"].endswith("-dashboard")]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    model = json.loads(cm["data"]["bullmq-platform.json"])
    assert model == dashboard.dashboard()


def test_it_should_read_only_recorded_or_documented_series() -> None:
    """Panels read the chart's recording rules (bullmq:*) or raw series; none is re-typed."""
    values = default_values(**{"monitoring.prometheusRule": True})
    (rule,) = of_kind(objects(values), "PrometheusRule")
    recorded = {r["record"] for g in rule["spec"]["groups"] for r in g["rules"] if "record" in r}
    used = {n for _, expr in dashboard.queries() for n in metric_names(expr)}
    assert {n for n in used if ":" in n} <= recorded
