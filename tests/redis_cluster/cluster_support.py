"""Helpers of the Redis Cluster tests: fresh queue names, a cluster-mode spec, settings."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from local_stack.redis_cluster import RedisClusterStack, cluster_spec
from platform_spec.model import PlatformSpec
from platform_spec.settings import RedisSettings

HERE = Path(__file__).resolve().parent
HANDLERS = "cluster_handlers"


def queue_names(count: int) -> list[str]:
    """Fresh queue names (their hash tags land on slots all over the ring)."""
    return [f"c{i}-{uuid.uuid4().hex[:10]}" for i in range(count)]


def spec_for(queues: list[str], **cluster: Any) -> PlatformSpec:
    """A dev spec in cluster mode whose queues are served by cluster_handlers."""
    return cluster_spec(
        redis={"cluster": cluster},
        queues=[
            {
                "name": name,
                "handler": HANDLERS,
                "jobs": [{"name": "work"}, {"name": "boom"}],
                "concurrency": 4,
                "attempts": 1,
                "backoff": {"type": "fixed", "delayMs": 0},
                "jobTimeoutSeconds": 20,
                "terminationGracePeriodSeconds": 30,
            }
            for name in queues
        ],
        schedules=[],
        maintenanceQueue=queues[0],
    )


def settings_for(stack: RedisClusterStack, role: str = "worker") -> RedisSettings:
    """RedisSettings of a role on the cluster, as a pod would build them from its env."""
    env = stack.env(role)
    return RedisSettings(
        host=env["BULLMQ_PLATFORM_REDIS_HOST"],
        port=int(env["BULLMQ_PLATFORM_REDIS_PORT"]),
        username=role,
        password_file=Path(env["BULLMQ_PLATFORM_REDIS_PASSWORD_FILE"]),
        ca_file=Path(env["BULLMQ_PLATFORM_REDIS_CA_FILE"]),
        secrets_dir=HERE / "no-secrets-dir",
        cluster=True,
    )
