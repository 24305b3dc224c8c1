"""Every metric the platform exposes, collected from the real registries, as one table.

The worker's and the scheduler's names, types, labels and help come from their
own registries (workers/metrics.py, scheduler/metrics.py) filled with one
example of everything; the redis_exporter metrics listed are those the chart's
alerts and dashboard read. `python -m monitoring metrics-table` writes the table
into docs/metrics.md; a test fails when it drifts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry

from scheduler.metrics import ServiceState, build_registry
from workers.metrics import WorkerMetrics

DOC = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"
BEGIN, END = "<!-- metrics-table:start -->", "<!-- metrics-table:end -->"
# redis_exporter (Debian 1.45 / the sidecar image): what the alerts and the dashboard read.
EXPORTER = {
    "redis_up": ("gauge", "", "1 when the exporter's last scrape reached Redis."),
    "redis_memory_used_bytes": ("gauge", "", "Redis used_memory."),
    "redis_memory_max_bytes": ("gauge", "", "Redis maxmemory (0: unlimited)."),
    "redis_aof_last_write_status": ("gauge", "", "1 when the last AOF write succeeded."),
    "redis_key_size": (
        "gauge",
        "db, key",
        "Length of each queue key the chart lists (wait, prioritized, active, delayed, "
        "failed of every queue and its DLQ's wait).",
    ),
}


@dataclass(frozen=True)
class MetricDoc:
    name: str
    kind: str
    labels: str
    source: str
    help: str


def _families(registry: CollectorRegistry, source: str) -> list[MetricDoc]:
    out = []
    for family in registry.collect():
        labels: set[str] = set()
        for sample in family.samples:
            labels |= set(sample.labels) - {"le"}
        name = f"{family.name}_total" if family.type == "counter" else family.name
        out.append(
            MetricDoc(name, family.type, ", ".join(sorted(labels)), source, family.documentation)
        )
    return out


def example_state() -> ServiceState:
    """A scheduler state with one of everything, so every family has a sample."""
    return ServiceState(
        schedules={"s": "q"},
        intervals={"s": 60.0},
        reconciles={"ok": 1},
        drift_repairs={("s", "scheduler missing"): 1},
        next_fire_ms={"s": 1},
        last_success={"s": 1.0},
        run_records={"s": {"registered": 1.0}},
        health={"healthy": False, "at": 1, "findings": [{"check": "stuck_active", "queue": "q"}]},
        desired_replicas={"q": 1},
        rollups={"q": {f: 1.0 for f in ("completed", "failed", "throughput_per_second",
                                        "processing_seconds_avg", "processing_seconds_p95")}},
    )  # fmt: skip


def catalog() -> list[MetricDoc]:
    """Worker, scheduler and exporter metrics, sorted by name."""
    worker = WorkerMetrics("q", ["j"])
    worker.loop_progress.labels("q").set(1)  # set by the first /healthz or /metrics
    docs = _families(worker.registry, "worker")
    docs += _families(build_registry(example_state()), "scheduler")
    docs += [MetricDoc(n, k, lab, "redis_exporter", h) for n, (k, lab, h) in EXPORTER.items()]
    return sorted(docs, key=lambda d: d.name)


def table() -> str:
    rows = ["| metric | type | labels | from | meaning |", "| --- | --- | --- | --- | --- |"]
    for d in catalog():
        labels = d.labels or "(none)"
        rows.append(f"| `{d.name}` | {d.kind} | {labels} | {d.source} | {d.help} |")
    return "\n".join(rows)


def render_doc(text: str) -> str:
    """`text` with the table between its markers replaced by the current one."""
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


def documented_names(text: str) -> set[str]:
    """Metric names in the first column of the doc's table."""
    body = text.partition(BEGIN)[2].partition(END)[0]
    return {line.split("`")[1] for line in body.splitlines() if line.startswith("| `")}
