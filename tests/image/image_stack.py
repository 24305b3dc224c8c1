"""A per-test stack for the image tests: spec, rendered chart, and the files its pods mount.

The queue runs the derived image's handler (`acme_handlers.invoices`); the spec,
the Deployments and the spec ConfigMap come from the real chart (helm template),
and the Secrets the chart names are filled from the suite's Redis fixture.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from containers import ChartPod

from local_stack.redis_server import RedisServer, free_port, local_spec
from platform_spec import chart
from platform_spec.model import PlatformSpec
from platform_spec.values import chart_values

AUTH_SECRET = "image-test-auth"
TLS_SECRET = "image-test-tls"
HANDLER = "acme_handlers.invoices"
JOB = "render-invoice"


def image_spec(queue: str) -> PlatformSpec:
    """The default catalog plus `queue` on the example handler, with one schedule on it."""
    base = local_spec()
    data = base.model_dump(by_alias=True, mode="json")
    data["fullnameOverride"] = f"o-{uuid.uuid4().hex[:10]}"
    data["queues"].append(
        {"name": queue, "handler": HANDLER, "jobs": [{"name": JOB}], "concurrency": 2}
    )
    data["schedules"] = [
        {
            "name": f"{queue}-nightly",
            "queue": queue,
            "jobName": JOB,
            "cron": "0 4 * * *",
            "timezone": "UTC",
            "payload": {"invoiceId": "nightly", "lines": [{"description": "x", "cents": 1}]},
        }
    ]
    data["keda"] = {**data["keda"], "enabled": True, "scaler": "metricsApi"}
    return PlatformSpec.model_validate(data)


@dataclass
class ImageStack:
    """One spec rendered by the chart, and the Secret data its pods would mount."""

    server: RedisServer
    queue: str
    workdir: Path
    spec: PlatformSpec = field(init=False)
    values: dict[str, Any] = field(init=False)
    docs: list[dict[str, Any]] = field(init=False)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)

    def __post_init__(self) -> None:
        self.spec = image_spec(self.queue)
        self.values = chart_values(self.spec, auth_secret=AUTH_SECRET, tls_secret=TLS_SECRET)
        self.docs = chart.objects(chart.template(self.values))

    @property
    def fullname(self) -> str:
        return str(self.spec.fullname_override)

    def secret_data(self) -> dict[str, dict[str, bytes]]:
        """The two Secrets the chart names, as Pulumi (or a GitOps user) would create them."""
        tls = self.server.tls
        assert tls is not None
        keys = self.values["redis"]["auth"]["passwordKeys"]
        auth = {keys[role]: pw.encode() for role, pw in self.server.passwords.items()}
        auth[keys["scalingToken"]] = self.token.encode()
        return {
            AUTH_SECRET: auth,
            TLS_SECRET: {
                "ca.crt": tls.ca_cert.read_bytes(),
                "tls.crt": tls.server_cert.read_bytes(),
                "tls.key": tls.server_key.read_bytes(),
            },
        }

    def volume_files(self, volume: str, source: dict[str, Any]) -> dict[str, bytes]:
        """What the kubelet mounts for a ConfigMap or projected Secret volume."""
        if "name" in source:  # a configMap volume
            configmap = chart.find(self.docs, "ConfigMap", source["name"])
            return {key: value.encode() for key, value in configmap["data"].items()}
        data = self.secret_data()
        files: dict[str, bytes] = {}
        for projection in source["sources"]:
            secret = projection["secret"]
            for item in secret["items"]:
                files[item["path"]] = data[secret["name"]][item["key"]]
        return files

    def pod(self, deployment: str, container: str) -> tuple[ChartPod, int]:
        """The chart's pod for `deployment`, pointed at the suite's Redis; its HTTP port."""
        http_port = free_port()
        overrides = {
            # The chart's Service name and port become the fixture's loopback address.
            "BULLMQ_PLATFORM_REDIS_HOST": "127.0.0.1",
            "BULLMQ_PLATFORM_REDIS_PORT": str(self.server.port),
            # Host networking: each process gets a free loopback port instead of 8080/8443.
            "BULLMQ_PLATFORM_HTTP_HOST": "127.0.0.1",
            "BULLMQ_PLATFORM_HTTP_PORT": str(http_port),
            "BULLMQ_PLATFORM_LOG_FORMAT": "json",
        }
        pod = ChartPod(
            chart.find(self.docs, "Deployment", deployment),
            container,
            self.workdir / deployment,
            self.volume_files,
            overrides,
        )
        return pod, http_port
