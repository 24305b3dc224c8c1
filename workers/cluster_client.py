"""Redis Cluster clients from the platform's connection keyword arguments.

`RedisSettings.redis_kwargs()` marks a cluster endpoint (`cluster: True`);
these factories turn the same kwargs (TLS, ACL user, password file) into a
redis-py `RedisCluster` that discovers the shards from the seed node, routes
each command by its key's slot and follows MOVED / ASK redirections. Python
bullmq takes such a ready client (`bullmq/redis_connection.py`). The client
does not require full slot coverage: while one shard fails over, the queues
on the other shards keep working.

redis-py refuses EVALSHA inside a cluster pipeline, and bullmq runs its Lua
scripts in pipelines to add jobs in bulk and to add a flow in one MULTI. The
client here remembers every script it registered and sends such a call as
EVAL with the script's text (routed by its keys, which must share one slot,
as the spec's hash tags make sure): one round trip, no NOSCRIPT on a node that
never saw the script.

`WAIT n` counts the writes of the connection it runs on, and a RedisCluster
hands each command any free connection of the node. Inside
`pinned_connections()` the commands of the current task keep one connection
per node, held until the block ends, so a producer can send WAIT on the
connection that made its add (workers/replication_ack.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, cast

import redis.cluster as sync_cluster
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

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


@dataclass
class Pins:
    """Connections held for one task: node name -> (node, connection)."""

    held: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    # A command answered by a node reached through a redirect (not on a held connection).
    unpinned: bool = False
    # What a held connection last raised (MOVED, ASK, ...): says why a command was unpinned.
    last_error: str = ""


_PINS: ContextVar[Pins | None] = ContextVar("bullmq_platform_cluster_pins", default=None)


@asynccontextmanager
async def pinned_connections() -> AsyncIterator[Pins]:
    """Within the block, this task's cluster commands use one held connection per node."""
    pins = Pins()
    token = _PINS.set(pins)
    try:
        yield pins
    finally:
        _PINS.reset(token)
        for node, conn in pins.held.values():
            node.release(conn)


class _PinnedNode:
    """A ClusterNode stand-in that runs commands on the task's held connection."""

    def __init__(self, node: Any, pins: Pins) -> None:
        self._node = node
        self._pins = pins
        self.answered = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._node, name)

    async def execute_command(self, *args: Any, asking: bool = False, **kwargs: Any) -> Any:
        self.answered = False
        node = self._node
        if asking:  # only HIMPORT uses this path; not a producer's command
            return await node.execute_command(*args, asking=asking, **kwargs)
        held = self._pins.held.get(node.name)
        if held is None:
            held = self._pins.held[node.name] = (node, node.acquire_connection())
        conn = held[1]
        try:
            await conn.send_packed_command(conn.pack_command(*args))
            reply = await node.parse_response(conn, args[0], **kwargs)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            self._pins.last_error = f"{type(exc).__name__}: {exc}"
            await conn.disconnect()
            raise
        except Exception as exc:
            self._pins.last_error = f"{type(exc).__name__}: {exc}"
            raise
        self.answered = True
        return reply


class _Queued:
    """Awaitable that gives back the pipeline as is.

    Why: redis-py's Script awaits `pipeline.evalsha(...)`, and awaiting a
    ClusterPipeline re-initializes it, which empties the queued commands.
    """

    def __init__(self, pipe: ClusterPipeline) -> None:
        self.pipe = pipe

    def __await__(self) -> Generator[Any, None, ClusterPipeline]:
        return self.pipe
        yield  # a generator that returns at once


class ScriptingClusterPipeline(ClusterPipeline):
    """A cluster pipeline that sends a registered script's EVALSHA as EVAL."""

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        # redis-py 8's cluster MULTI passes each command's kwargs to its reply callback,
        # and `keys=` (client-side caching hint) breaks callbacks such as HEXISTS's `bool`.
        kwargs.pop("keys", None)
        return super().execute_command(*args, **kwargs)

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> Any:
        client = self.cluster_client
        bodies: dict[str, Any] = getattr(client, "script_bodies", {})
        if sha not in bodies:
            raise KeyError(f"script {sha} was not registered on this cluster client")
        return _Queued(self.execute_command("EVAL", bodies[sha], numkeys, *keys_and_args))


class ScriptingRedisCluster(RedisCluster):
    """RedisCluster whose pipelines can run the Lua scripts registered on it."""

    script_bodies: dict[str, Any]

    def register_script(self, script: Any) -> AsyncScript:  # type: ignore[override]
        registered = super().register_script(script)
        if not hasattr(self, "script_bodies"):
            self.script_bodies = {}
        self.script_bodies[registered.sha] = registered.script
        return registered

    async def _execute_command(self, target_node: Any, *args: Any, **kwargs: Any) -> Any:
        pins = _PINS.get()
        if pins is None:
            return await super()._execute_command(target_node, *args, **kwargs)
        pinned = _PinnedNode(target_node, pins)
        reply = await super()._execute_command(cast(ClusterNode, pinned), *args, **kwargs)
        if not pinned.answered:
            pins.unpinned = True  # MOVED / ASK: answered by a node on a pooled connection
        return reply

    def pipeline(
        self, transaction: Any | None = None, shard_hint: Any | None = None
    ) -> ClusterPipeline:
        if shard_hint:
            return super().pipeline(transaction, shard_hint)  # raises, as redis-py does
        # mypy reads redis-py's `_event_dispatcher` annotation as abstract; set at runtime.
        return ScriptingClusterPipeline(self, transaction)  # type: ignore[abstract]


def cluster_client(kwargs: dict[str, Any]) -> RedisCluster:
    """An asyncio RedisCluster seeded by `host:port` of the kwargs (marker removed)."""
    return ScriptingRedisCluster(**_cluster_kwargs(kwargs))


def cluster_client_sync(kwargs: dict[str, Any]) -> sync_cluster.RedisCluster:
    """The blocking twin, for code that runs in a thread (workers/loop_watch.py)."""
    return sync_cluster.RedisCluster(**_cluster_kwargs(kwargs))
