"""redis_exporter + Prometheus around a local platform (tests, `scripts/local --monitoring`).

Targets are labelled as the chart's ServiceMonitor / PodMonitor would have the
Prometheus Operator label them, and the rules are the chart's own for the same
spec, so what fires here fires in a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_stack.processes import PlatformProcess
from local_stack.redis_server import RedisServer
from monitoring.exporter import RedisExporter
from monitoring.prometheus import Prometheus, Target
from monitoring.rules import rule_groups, shorten_for, with_rules_on
from platform_spec import chart
from platform_spec.values import chart_values

SERVICES = "templates/redis/services.yaml"
METRICS_LABEL = "bullmq-platform/metrics"


def exporter_service_name(values: dict[str, Any]) -> str:
    """Name of the Service the chart's ServiceMonitor scrapes the exporter through."""
    services = chart.objects(chart.template(values, show_only=SERVICES))
    (name,) = [
        s["metadata"]["name"]
        for s in services
        if s["metadata"].get("labels", {}).get(METRICS_LABEL) == "redis"
    ]
    return str(name)


@dataclass
class MonitoringStack:
    """The exporter and a Prometheus scraping it and every platform process given."""

    server: RedisServer
    processes: list[PlatformProcess]
    state_dir: Path
    interval: str = "1s"
    rule_for: str | None = None  # rewrite every `for:` (live tests: the chart has no knob)
    exporter: RedisExporter | None = None
    prometheus: Prometheus | None = None
    groups: list[dict[str, Any]] = field(default_factory=list)

    def start(self) -> MonitoringStack:
        spec = self.server.spec
        values = with_rules_on(
            chart_values(spec, auth_secret="local", tls_secret="local", dashboard_secret="local")
        )
        self.groups = rule_groups(values)
        loaded = shorten_for(self.groups, self.rule_for) if self.rule_for else self.groups
        self.exporter = RedisExporter(self.server, self.state_dir / "exporter").start()
        ns = spec.namespace
        targets = [
            Target(
                "redis-exporter",
                f"127.0.0.1:{self.exporter.port}",
                {"namespace": ns, "service": exporter_service_name(values)},
            )
        ]
        targets += [
            Target("runtime", f"127.0.0.1:{p.http_port}", {"namespace": ns, "pod": pod_name(p)})
            for p in self.processes
            if p.serves_metrics
        ]
        self.prometheus = Prometheus(
            self.state_dir / "prometheus", targets, loaded, interval=self.interval
        ).start()
        return self

    def stop(self) -> None:
        for part in (self.prometheus, self.exporter):
            if part is not None:
                part.stop()


def pod_name(process: PlatformProcess) -> str:
    return process.name.replace(" ", "-")
