"""Redis connections of a worker: TLS with the platform CA, ACL user and password.

Everything comes from `platform_spec.settings.RedisSettings`; the password is
read from the mounted secrets dir and never logged (use `describe()`).

One factory, `connect()`, turns connection keyword arguments into a client: a
plain `redis.asyncio.Redis`, or, when the kwargs carry a `sentinel` target
(redis.mode sentinel, or external Sentinels), a Sentinel-managed client that asks
the Sentinels for the primary at every (re)connect. Python bullmq has no Sentinel
option but takes that ready client (`bullmq_connection_arg`). When the kwargs
carry the cluster marker (redis.mode cluster, or a managed cluster endpoint) the
client is a `RedisCluster` (workers/cluster_client.py), which bullmq takes too.
"""

from __future__ import annotations

import time
from typing import Any, cast

import redis
import redis.asyncio as aioredis
import redis.sentinel as sync_sentinel
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import (
    Sentinel,
    SentinelConnectionPool,
    SentinelManagedConnection,
    SentinelManagedSSLConnection,
)
from redis.backoff import ExponentialBackoff
from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError

from platform_spec.settings import RedisSettings, SentinelTarget
from workers.cluster_client import cluster_client, cluster_client_sync, split_cluster
from workers.tls_context import install as _install_tls_contexts

# One TLS context per settings, platform CA only, for every redis-py client of the process.
_install_tls_contexts()

# Key of the Sentinel target in the connection kwargs (platform_spec/settings.py).
SENTINEL_KEY = "sentinel"


class ConnectionOptions(dict[str, Any]):
    """Keyword arguments of a Redis connection whose repr and str leave the password out.

    bullmq takes them as a plain dict (`opts["connection"]`); they reach
    handlers (JobContext.extras) and could reach a log line or a traceback.
    """

    def __repr__(self) -> str:
        shown = {k: "**********" if k == "password" and v else v for k, v in self.items()}
        return f"{type(self).__name__}({shown!r})"

    __str__ = __repr__


class _ResolveOnReconnect(SentinelManagedConnection):
    """Asks the Sentinels for the primary before every (re)connect.

    Why: redis-py 8 reconnects a dropped connection through `connect_check_health`
    (e.g. in `send_packed_command`), which skips `SentinelManagedConnection.connect`
    and so dials the old primary's address again after a failover.
    """

    _resolved = False

    async def connect_to(self, address: Any) -> None:
        self._resolved = True
        try:
            await super().connect_to(address)  # type: ignore[no-untyped-call]
        finally:
            self._resolved = False

    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if not self.is_connected and not self._resolved and self.connection_pool.is_master:
            self.host, self.port = await self.connection_pool.get_master_address()
        await super().connect_check_health(
            check_health=check_health, retry_socket_connect=retry_socket_connect
        )


class _ResolveOnReconnectSSL(_ResolveOnReconnect, SentinelManagedSSLConnection):
    """The TLS variant (the platform's default)."""


class _SyncResolveOnReconnect(sync_sentinel.SentinelManagedConnection):
    """The blocking client's twin of `_ResolveOnReconnect` (threads, e.g. loop_watch)."""

    _resolved = False

    def connect_to(self, address: Any) -> None:
        self._resolved = True
        try:
            super().connect_to(address)  # type: ignore[no-untyped-call]
        finally:
            self._resolved = False

    def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if not self._sock and not self._resolved and self.connection_pool.is_master:
            self.host, self.port = self.connection_pool.get_master_address()
        super().connect_check_health(
            check_health=check_health, retry_socket_connect=retry_socket_connect
        )


class _SyncResolveOnReconnectSSL(
    _SyncResolveOnReconnect, sync_sentinel.SentinelManagedSSLConnection
):
    """The TLS variant."""


class _SentinelRedis(aioredis.Redis):
    """A Sentinel-managed client that owns its pool and the Sentinel connections."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool=True)
        manager: Sentinel = getattr(self.connection_pool, "sentinel_manager")  # noqa: B009
        await manager.aclose()


class _SyncSentinelRedis(redis.Redis):
    """The blocking twin of `_SentinelRedis`."""

    def close(self) -> None:
        super().close()
        self.connection_pool.close()
        manager: sync_sentinel.Sentinel = getattr(self.connection_pool, "sentinel_manager")  # noqa: B009
        manager.close()


def split_sentinel(kwargs: dict[str, Any]) -> tuple[dict[str, Any], SentinelTarget | None]:
    """The data nodes' kwargs without the Sentinel target, and the target (or None)."""
    rest = {k: v for k, v in kwargs.items() if k != SENTINEL_KEY}
    target = kwargs.get(SENTINEL_KEY)
    return rest, target if isinstance(target, SentinelTarget) else None


def sentinel_manager(target: SentinelTarget) -> Sentinel:
    """A redis-py Sentinel over the target's addresses, logging in by credential_provider."""
    return Sentinel(list(target.addresses), sentinel_kwargs=dict(target.kwargs))  # type: ignore[no-untyped-call]


def is_cluster(kwargs: dict[str, Any]) -> bool:
    """Whether these connection kwargs name a Redis Cluster."""
    return split_cluster(kwargs)[1]


def connect(kwargs: dict[str, Any], **extra: Any) -> aioredis.Redis:
    """A client for these kwargs: a RedisCluster when they carry the cluster marker,
    Sentinel-managed when they carry a target, else plain.

    The cluster client is typed as `Redis`: it implements the same command
    methods (redis-py's cluster command mixins), which is all callers use.
    """
    plain, cluster = split_cluster({**kwargs, **extra})
    if cluster:
        return cast(aioredis.Redis, cluster_client(plain))
    data, target = split_sentinel(plain)
    if target is None:
        return aioredis.Redis(**data)
    data.pop("host", None)
    data.pop("port", None)
    single = bool(data.pop("single_connection_client", False))
    tls = bool(data.pop("ssl", False))
    pool = SentinelConnectionPool(  # type: ignore[no-untyped-call]
        target.master_name,
        sentinel_manager(target),
        connection_class=_ResolveOnReconnectSSL if tls else _ResolveOnReconnect,
        **data,
    )
    return _SentinelRedis(connection_pool=pool, single_connection_client=single)


def connect_sync(kwargs: dict[str, Any], **extra: Any) -> redis.Redis:
    """The blocking client for these kwargs, for code that runs in a thread."""
    plain, cluster = split_cluster({**kwargs, **extra})
    if cluster:
        return cast(redis.Redis, cluster_client_sync(plain))
    data, target = split_sentinel(plain)
    if target is None:
        return redis.Redis(**data)
    data.pop("host", None)
    data.pop("port", None)
    tls = bool(data.pop("ssl", False))
    manager = sync_sentinel.Sentinel(list(target.addresses), sentinel_kwargs=dict(target.kwargs))  # type: ignore[no-untyped-call]
    pool = sync_sentinel.SentinelConnectionPool(  # type: ignore[no-untyped-call]
        target.master_name,
        manager,
        connection_class=_SyncResolveOnReconnectSSL if tls else _SyncResolveOnReconnect,
        **data,
    )
    return _SyncSentinelRedis(connection_pool=pool)


def bullmq_connection_arg(
    kwargs: dict[str, Any], *, pooled: bool = False
) -> dict[str, Any] | aioredis.Redis:
    """What bullmq's `opts["connection"]` gets: the kwargs, or a Sentinel-managed client.

    One connection, as bullmq makes its own (producers' WAIT must run on the add's
    connection), unless `pooled`: a stock Worker shares the client between its
    commands and its blocking BZPOPMIN, so each needs a connection of its own.
    """
    if is_cluster(kwargs):
        # A RedisCluster pools per node (its blocking BZPOPMIN gets its own connection);
        # bullmq closes what it is given, so each call makes a new client.
        return connect(kwargs, decode_responses=True)
    data, target = split_sentinel(kwargs)
    if target is None:
        return ConnectionOptions(data)
    return connect(
        kwargs,
        single_connection_client=not pooled,
        decode_responses=True,
        retry=Retry(ExponentialBackoff(cap=20, base=1), 20),
        retry_on_error=[BusyLoadingError, ConnectionError, TimeoutError],
    )


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
