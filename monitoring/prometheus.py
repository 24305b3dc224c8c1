"""A real Prometheus (Debian's) scraping local targets with the chart's rules loaded.

Targets get the labels the Prometheus Operator would add in a cluster
(`namespace`, `service` for the ServiceMonitor, `pod` for the PodMonitor), so
the chart's rules select them unchanged. The HTTP API answers the tests and
the dashboard checks: /api/v1/alerts, /api/v1/query, /api/v1/query_range.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from local_stack.redis_server import free_port
from monitoring.binaries import binary
from monitoring.child import spawn, stop, wait_until
from monitoring.rules import write_rules_file


@dataclass(frozen=True)
class Target:
    """One scrape target: `host:port` and the labels the operator would give it."""

    job: str
    address: str
    labels: dict[str, str]


@dataclass
class Prometheus:
    """`prometheus` in `state_dir` on an ephemeral 127.0.0.1 port."""

    state_dir: Path
    targets: list[Target]
    rule_groups: list[dict[str, Any]]
    interval: str = "1s"
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def config(self) -> dict[str, Any]:
        jobs: dict[str, list[Target]] = {}
        for target in self.targets:
            jobs.setdefault(target.job, []).append(target)
        return {
            "global": {
                "scrape_interval": self.interval,
                "evaluation_interval": self.interval,
                "scrape_timeout": self.interval,
            },
            "rule_files": [str(self.state_dir / "rules.yaml")],
            "scrape_configs": [
                {
                    "job_name": job,
                    "static_configs": [
                        {"targets": [t.address], "labels": t.labels} for t in targets
                    ],
                }
                for job, targets in jobs.items()
            ],
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Prometheus:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        write_rules_file(self.state_dir / "rules.yaml", self.rule_groups)
        config = self.state_dir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        argv = [
            binary("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={self.state_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            "--log.level=warn",
        ]
        self.process = spawn(argv, {"PATH": "/usr/bin:/bin"}, self.state_dir / "prometheus.log")
        wait_until(
            "prometheus",
            lambda: httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200,
            timeout,
            self.process,
        )
        return self

    def stop(self) -> None:
        stop(self.process)

    # ------------------------------------------------------------ HTTP API

    def _get(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.url}{path}", params=params, timeout=10)
        response.raise_for_status()
        body = response.json()
        if body.get("status") != "success":
            raise RuntimeError(f"{path}: {body}")
        return body["data"]

    def alerts(self) -> list[dict[str, Any]]:
        """Active alerts (pending or firing), as /api/v1/alerts lists them."""
        return list(self._get("/api/v1/alerts")["alerts"])

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant vector result of `expr` (empty list: no data)."""
        return list(self._get("/api/v1/query", query=expr)["result"])

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Any]:
        data = self._get("/api/v1/query_range", query=expr, start=start, end=end, step=step)
        return list(data["result"])

    def metric_names(self) -> set[str]:
        """Every metric name Prometheus has ingested so far."""
        return set(self._get("/api/v1/label/__name__/values"))

    def target_health(self) -> dict[str, str]:
        """scrapeUrl -> health of every active target."""
        data = self._get("/api/v1/targets")
        return {t["scrapeUrl"]: t["health"] for t in data["activeTargets"]}
