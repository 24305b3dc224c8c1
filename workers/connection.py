"""Redis connections of a worker: TLS with the platform CA, ACL user and password.

Everything comes from `platform_spec.settings.RedisSettings`; the password is
read from the mounted secrets dir and never logged (use `describe()`).
"""

from __future__ import annotations

import time
from typing import Any

import redis.asyncio as aioredis

from platform_spec.settings import RedisSettings


def bullmq_connection(settings: RedisSettings) -> dict[str, Any]:
    """Connection keyword arguments for bullmq's Queue/Worker (`opts["connection"]`)."""
    kwargs = settings.redis_kwargs()
    kwargs["socket_keepalive"] = True
    return kwargs


def redis_client(settings: RedisSettings, **extra: Any) -> aioredis.Redis:
    """A decoded asyncio client for probes, DLQ and handlers that need Redis."""
    kwargs = bullmq_connection(settings)
    kwargs.update(extra)
    return aioredis.Redis(decode_responses=True, **kwargs)


async def round_trip_seconds(client: aioredis.Redis) -> float:
    """One authenticated PING over TLS; raises if Redis is unreachable."""
    started = time.perf_counter()
    await client.ping()
    return time.perf_counter() - started
