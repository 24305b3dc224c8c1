"""QueuePlatform: the local chart, deployed with `helm.v4.Chart` and values from the spec.

The chart is the only place manifests are written; this component hands it
`platform_spec.values.chart_values(spec, ...)`, which carries the Secrets'
*names* only. Under `render_yaml_to_directory` the same component writes the
manifests to files instead of a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.naming import redis_names
from platform_spec.chart import CHART_DIR
from platform_spec.model import PlatformSpec
from platform_spec.values import chart_values


@dataclass(frozen=True)
class QueuePlatformArgs:
    """Inputs of QueuePlatform."""

    spec: PlatformSpec
    release: str
    namespace: pulumi.Input[str]
    auth_secret: str | None = None
    tls_secret: str | None = None
    dashboard_secret: str | None = None


def redis_endpoint(spec: PlatformSpec, release: str) -> tuple[str, int]:
    """(host, port) the workers, scheduler and KEDA connect to."""
    if spec.redis.mode == "external":
        return str(spec.redis.external.host or ""), spec.redis.external.port
    names = redis_names(spec, release)
    if spec.redis.mode == "sentinel":
        # The first primary; clients ask the Sentinels (output redisSentinelAddresses).
        return names.pod_address(0), spec.redis.port
    return names.client_host, spec.redis.port


def drop_none(values: Any) -> Any:
    """`values` without null entries in maps.

    Pulumi drops None from map inputs on the wire, so the chart sees a missing
    key (and helm falls back to values.yaml) rather than null. Dropping them
    here makes the values the program holds the values helm receives; a test
    checks that no stack means anything different by it.
    """
    if isinstance(values, dict):
        return {k: drop_none(v) for k, v in values.items() if v is not None}
    if isinstance(values, list):
        return [drop_none(v) for v in values]
    return values


class QueuePlatform(pulumi.ComponentResource):
    """Redis, per-queue workers and their ScaledObjects, the scheduler: the chart."""

    TYPE = "bullmq-platform:platform:QueuePlatform"

    values: dict[str, Any]
    redis_host: pulumi.Output[str]
    redis_port: pulumi.Output[int]
    queue_names: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: QueuePlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self.values = drop_none(
            chart_values(
                args.spec,
                auth_secret=args.auth_secret,
                tls_secret=args.tls_secret,
                dashboard_secret=args.dashboard_secret,
            )
        )
        self.chart = k8s.helm.v4.Chart(
            name,
            k8s.helm.v4.ChartArgs(
                # Absolute: the provider resolves relative paths against its own
                # working directory, which `main: infra/` makes the program's.
                chart=str(CHART_DIR),
                name=args.release,
                namespace=args.namespace,
                values=self.values,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        host, port = redis_endpoint(args.spec, args.release)
        self.redis_host = pulumi.Output.from_input(host)
        self.redis_port = pulumi.Output.from_input(port)
        self.queue_names = pulumi.Output.from_input([q.name for q in args.spec.queues])
        self.register_outputs(
            {"redisHost": self.redis_host, "redisPort": self.redis_port, "queues": self.queue_names}
        )
