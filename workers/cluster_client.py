"""Redis Cluster clients from the platform's connection keyword arguments.

`RedisSettings.redis_kwargs()` marks a cluster endpoint (`cluster: True`);
these factories turn the same kwargs (TLS, ACL user, password file) into a
redis-py `RedisCluster` that discovers the shards from the seed node, routes
each command by its key's slot and follows MOVED / ASK redirections. Python
bullmq takes such a ready client (`bullmq/redis_connection.py`). The client
does not require full slot coverage: while one shard fails over, the queues
on the other shards keep working.
"""

from __future__ import annotations

from typing import Any

import redis.cluster as sync_cluster
from redis.asyncio.cluster import RedisCluster

from platform_spec.settings import CLUSTER_KWARG

# Keyword arguments a standalone client takes that RedisCluster refuses or ignores.
_STANDALONE_ONLY = ("single_connection_client", "db")


def split_cluster(kwargs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The kwargs without the cluster marker, and whether it was set."""
    rest = {k: v for k, v in kwargs.items() if k != CLUSTER_KWARG}
    return rest, bool(kwargs.get(CLUSTER_KWARG))


def _cluster_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in kwargs.items() if k not in _STANDALONE_ONLY}
    # Redis Cluster has only database 0; anything else is a config error upstream.
    if kwargs.get("db", 0) != 0:
        raise ValueError("Redis Cluster has only database 0 (BULLMQ_PLATFORM_REDIS_DB)")
    data.setdefault("require_full_coverage", False)
    return data


def cluster_client(kwargs: dict[str, Any]) -> RedisCluster:
    """An asyncio RedisCluster seeded by `host:port` of the kwargs (marker removed)."""
    return RedisCluster(**_cluster_kwargs(kwargs))


def cluster_client_sync(kwargs: dict[str, Any]) -> sync_cluster.RedisCluster:
    """The blocking twin, for code that runs in a thread (workers/loop_watch.py)."""
    return sync_cluster.RedisCluster(**_cluster_kwargs(kwargs))
