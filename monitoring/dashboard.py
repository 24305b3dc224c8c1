"""The Grafana dashboard of the platform, built here and shipped in the chart.

`python -m monitoring dashboard` writes helm/bullmq-platform/files/grafana-dashboard.json
(committed; a test fails on drift); the chart puts it in a ConfigMap with the
`grafana_dashboard: "1"` label when `monitoring.grafanaDashboard` is on. Panels
read the chart's recording rules (`bullmq:*`) and the raw series of docs/metrics.md.
One row per queue (Grafana repeats it over the `queue` variable), then a
platform row (schedules, Redis). The live-scrape test runs every query
against a real Prometheus and requires data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platform_spec.chart import CHART_DIR

DASHBOARD_FILE = CHART_DIR / "files" / "grafana-dashboard.json"
UID = "bullmq-platform"
NS = 'namespace="$namespace"'
Q = f'{NS}, queue="$queue"'


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    queries: tuple[Query, ...]
    per_queue: bool = True
    description: str = ""


PANELS = (
    Panel(
        "Jobs by state",
        "short",
        (Query(f"sum by (state) (bullmq:queue_jobs{{{Q}}})", "{{state}}"),),
        description="wait, prioritized, active, delayed, failed: the exporter's key sizes",
    ),
    Panel(
        "Throughput and failures",
        "ops",
        (
            Query(f"bullmq:jobs_completed:rate5m{{{Q}}}", "completed/s"),
            Query(f"bullmq:jobs_failed:rate5m{{{Q}}}", "failed attempts/s"),
        ),
    ),
    Panel(
        "Job duration",
        "s",
        (Query(f"bullmq:job_duration_seconds:quantile5m{{{Q}}}", "p{{quantile}}"),),
        description="Handler run time per attempt, quantiles over 5 minutes",
    ),
    Panel(
        "Wait time (enqueue to start)",
        "s",
        (Query(f"bullmq:job_wait_seconds:quantile5m{{{Q}}}", "p{{quantile}}"),),
    ),
    Panel(
        "Dead-letter queue",
        "short",
        (Query(f'bullmq:queue_jobs{{{NS}, queue="$queue-dlq", state="wait"}}', "DLQ jobs"),),
    ),
    Panel(
        "Replicas: desired vs actual",
        "short",
        (
            Query(f"max(bullmq_queue_desired_replicas{{{Q}}})", "desired (scaling signal)"),
            Query(
                f"count(bullmq_worker_fetch_progress_timestamp_seconds{{{Q}}})",
                "actual (worker processes)",
            ),
        ),
    ),
    Panel(
        "Schedules: seconds since last success",
        "s",
        (
            Query(
                f"max by (schedule) (bullmq_schedule_seconds_since_last_success{{{NS}}})",
                "{{schedule}}",
            ),
        ),
        per_queue=False,
    ),
    Panel(
        "Redis memory",
        "bytes",
        (
            Query(f"max(redis_memory_used_bytes{{{NS}}})", "used"),
            Query(f"max(redis_memory_max_bytes{{{NS}}})", "maxmemory"),
        ),
        per_queue=False,
    ),
    Panel(
        "Redis up and AOF status",
        "short",
        (
            Query(f"min(redis_up{{{NS}}})", "up"),
            Query(f"min(redis_aof_last_write_status{{{NS}}})", "AOF last write ok"),
        ),
        per_queue=False,
    ),
)


def queries(panels: tuple[Panel, ...] = PANELS) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query, with the dashboard variables in it."""
    return [(p.title, q.expr) for p in panels for q in p.queries]


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": panel.title,
        "description": panel.description,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 7, "w": 8, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "expr": q.expr,
                "legendFormat": q.legend,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
            }
            for i, q in enumerate(panel.queries)
        ],
    }


def _row(title: str, panel_id: int, y: int, repeat: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": panel_id,
        "type": "row",
        "title": title,
        "collapsed": False,
        "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
        "panels": [],
    }
    if repeat:
        row["repeat"] = repeat
    return row


def _variable(name: str, query: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "label": name,
        "type": "query",
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "query": {"query": query, "refId": name},
        "definition": query,
        "refresh": 2,
        "sort": 1,
        **extra,
    }


def dashboard() -> dict[str, Any]:
    """The dashboard model (Grafana 10+ JSON)."""
    panels: list[dict[str, Any]] = []
    next_id, y = 1, 0
    for title, per_queue, repeat in (("Queue $queue", True, "queue"), ("Platform", False, None)):
        panels.append(_row(title, next_id, y, repeat))
        next_id, y = next_id + 1, y + 1
        members = [p for p in PANELS if p.per_queue == per_queue]
        for i, panel in enumerate(members):
            panels.append(_panel(panel, next_id, 8 * (i % 3), y + 7 * (i // 3)))
            next_id += 1
        y += 7 * ((len(members) + 2) // 3)
    return {
        "uid": UID,
        "title": "BullMQ platform",
        "description": "Queues, workers, schedules and Redis of one bullmq-platform release "
        "(docs/metrics.md).",
        "tags": ["bullmq"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                },
                _variable("namespace", "label_values(redis_up, namespace)"),
                _variable(
                    "queue",
                    'label_values(bullmq:queue_jobs{namespace="$namespace"}, queue)',
                    multi=True,
                    includeAll=True,
                    regex="/^(?!.*-dlq$).*$/",
                ),
            ]
        },
        "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, sort_keys=False) + "\n"


def write(path: Path = DASHBOARD_FILE) -> Path:
    path.write_text(render())
    return path


def substitute(expr: str, namespace: str, queue: str) -> str:
    """A panel query with the dashboard's variables filled in (for the HTTP API)."""
    return expr.replace("$namespace", namespace).replace("$queue", queue)
