"""The scaling endpoint KEDA's metrics-api scaler reads: `GET /scaling/<queue>`.

The signal itself (one Lua script per queue, the desired replicas) lives in
autoscaling.signal; this module only serves it over HTTPS with a bearer token,
and makes sure every queue of the spec has its meta hash, so a queue that never
saw a job reads as "no work" rather than as a scaler failure.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from pydantic import SecretStr

from autoscaling.signal import QueueNotFound, scaling_payload, scaling_response
from platform_spec.http_server import Request, Response
from platform_spec.keys import META_MAX_LEN_EVENTS
from platform_spec.model import PlatformSpec

log = logging.getLogger("scheduler.scaling")
PATH_PREFIX = "/scaling/"


async def ensure_queue_meta(redis: Any, spec: PlatformSpec) -> None:
    """Create each queue's meta hash (each partition's) the way BullMQ's first add does
    (HSETNX, idempotent)."""
    pipe = redis.pipeline(transaction=False)
    for queue in spec.queues:
        for keys in spec.partition_keys(queue.name):
            pipe.hsetnx(keys.meta, META_MAX_LEN_EVENTS, spec.scheduler.events_max_length)
    await pipe.execute()


async def desired_replicas(redis: Any, spec: PlatformSpec) -> dict[str, int]:
    """Each queue's desired replicas, as `/scaling/<queue>` would answer KEDA now (for the
    `bullmq_queue_desired_replicas` metric); queues without a meta hash are left out."""
    out = {}
    for queue in spec.queues:
        try:
            payload = await scaling_payload(redis, spec, queue.name)
        except QueueNotFound:
            continue
        out[queue.name] = int(payload["desiredReplicas"])
    return out


class ScalingEndpoint:
    """Answers `/scaling/<queue>` for requests that present the bearer token."""

    def __init__(self, redis: Any, spec: PlatformSpec, token: SecretStr | None) -> None:
        self.redis = redis
        self.spec = spec
        self._expected = f"Bearer {token.get_secret_value()}".encode() if token else None

    def authorized(self, request: Request) -> bool:
        if self._expected is None:
            return True  # no token configured: local runs only (the chart always sets one)
        presented = request.headers.get("authorization", "").encode()
        return hmac.compare_digest(presented, self._expected)

    async def __call__(self, request: Request) -> Response:
        if not request.path.startswith(PATH_PREFIX):
            return Response.text(404, "not found\n")
        if not self.authorized(request):
            log.warning("scaling request refused: bad or missing bearer token")
            return Response.json(401, {"error": "unauthorized"})
        status, body = await scaling_response(
            self.redis, self.spec, request.path.removeprefix(PATH_PREFIX)
        )
        return Response.json(status, body)
