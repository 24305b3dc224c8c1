"""Redis connections of a worker: TLS with the platform CA, ACL user and password.

Everything comes from `platform_spec.settings.RedisSettings`; the password is
read from the mounted secrets dir and never logged (use `describe()`).

One factory, `connect()`, turns connection keyword arguments into a client: a
plain `redis.asyncio.Redis`, or a `RedisCluster` when the kwargs carry the
cluster marker (redis.mode cluster, or a managed cluster endpoint;
workers/cluster_client.py). bullmq's `opts["connection"]` gets
`bullmq_connection_arg()`: the kwargs, or a ready cluster client.
"""

from __future__ import annotations

import time
from typing import Any, cast

import redis
import redis.asyncio as aioredis

from platform_spec.settings import RedisSettings
from workers.cluster_client import cluster_client, cluster_client_sync, split_cluster


class ConnectionOptions(dict[str, Any]):
    """Keyword arguments of a Redis connection whose repr and str leave the password out.

    bullmq takes them as a plain dict (`opts["connection"]`); they reach
    handlers (JobContext.extras) and could reach a log line or a traceback.
    """

    def __repr__(self) -> str:
        shown = {k: "**********" if k == "password" and v else v for k, v in self.items()}
        return f"{type(self).__name__}({shown!r})"

    __str__ = __repr__


def is_cluster(kwargs: dict[str, Any]) -> bool:
    """Whether these connection kwargs name a Redis Cluster."""
    return split_cluster(kwargs)[1]


def connect(kwargs: dict[str, Any], **extra: Any) -> aioredis.Redis:
    """A client for these kwargs: a RedisCluster when they carry the marker, else plain.

    The cluster client is typed as `Redis`: it implements the same command
    methods (redis-py's cluster command mixins), which is all callers use.
    """
    data, cluster = split_cluster({**kwargs, **extra})
    if cluster:
        return cast(aioredis.Redis, cluster_client(data))
    return aioredis.Redis(**data)


def connect_sync(kwargs: dict[str, Any], **extra: Any) -> redis.Redis:
    """The blocking client for these kwargs, for code that runs in a thread."""
    data, cluster = split_cluster({**kwargs, **extra})
    if cluster:
        return cast(redis.Redis, cluster_client_sync(data))
    return redis.Redis(**data)


def bullmq_connection_arg(kwargs: dict[str, Any]) -> dict[str, Any] | aioredis.Redis:
    """What bullmq's `opts["connection"]` gets: the kwargs, or a ready cluster client.

    bullmq closes the client it is given when its Queue/Worker closes, so each
    call makes a new one.
    """
    data, cluster = split_cluster(kwargs)
    if not cluster:
        return ConnectionOptions(data)
    return connect(kwargs, decode_responses=True)


def bullmq_connection(settings: RedisSettings) -> ConnectionOptions:
    """Connection keyword arguments for bullmq's Queue/Worker (`opts["connection"]`)."""
    kwargs = ConnectionOptions(settings.redis_kwargs())
    kwargs["socket_keepalive"] = True
    return kwargs


def redis_client(settings: RedisSettings, **extra: Any) -> aioredis.Redis:
    """A decoded asyncio client for probes, DLQ and handlers that need Redis."""
    return connect(bullmq_connection(settings), decode_responses=True, **extra)


async def round_trip_seconds(client: aioredis.Redis) -> float:
    """One authenticated PING over TLS; raises if Redis is unreachable."""
    started = time.perf_counter()
    await client.ping()
    return time.perf_counter() - started
