"""Redis connections of a worker: TLS with the platform CA, ACL user and password.

Everything comes from `platform_spec.settings.RedisSettings`; the password is
read from the mounted secrets dir and never logged (use `describe()`).
"""

from __future__ import annotations

import time
from typing import Any

import redis.asyncio as aioredis

from platform_spec.settings import RedisSettings


class ConnectionOptions(dict[str, Any]):
    """Keyword arguments of a Redis connection whose repr and str leave the password out.

    bullmq takes them as a plain dict (`opts["connection"]`); they reach
    handlers (JobContext.extras) and could reach a log line or a traceback.
    """

    def __repr__(self) -> str:
        shown = {k: "**********" if k == "password" and v else v for k, v in self.items()}
        return f"{type(self).__name__}({shown!r})"

    __str__ = __repr__


def bullmq_connection(settings: RedisSettings) -> ConnectionOptions:
    """Connection keyword arguments for bullmq's Queue/Worker (`opts["connection"]`)."""
    kwargs = ConnectionOptions(settings.redis_kwargs())
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
