"""Kill a runaway Lua script so one credential cannot take Redis down.

Any user allowed EVAL (worker, scheduler, keda in redis-scaler mode) can run
`EVAL 'while true do end' 0`: Redis then answers BUSY to every client, and only
SCRIPT KILL (or SHUTDOWN NOSAVE) ends it (drill:
tests/drills/test_it_should_kill_a_runaway_script.py). The scheduler
runs this watchdog on a connection of its own: it PINGs every CHECK_SECONDS;
a BUSY reply means a script has run past Redis's busy-reply-threshold (5 s by
default), and it answers with SCRIPT KILL, counted in
`bullmq_scheduler_scripts_killed_total` and logged. The scheduler's ACL user is
the one role allowed `SCRIPT|KILL` (helm/bullmq-platform/templates/redis/_config.tpl).
A script that already wrote cannot be killed (Redis answers UNKILLABLE): that is
logged as an error for an operator (SHUTDOWN NOSAVE is theirs to decide).

On a Redis Cluster a script runs on one node and only that node's SCRIPT KILL
ends it: `ClusterScriptWatchdog` keeps one such connection per primary, found
with the cluster client and looked up again every REDISCOVER_SECONDS (a
failover promotes a replica, a reshard may add a primary).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError, ResponseError

from workers.cluster_client import split_cluster
from workers.connection import connect, is_cluster

log = logging.getLogger("scheduler.watchdog")
CHECK_SECONDS = 1.0
PING_TIMEOUT_SECONDS = 2.0
REDISCOVER_SECONDS = 30.0


class ScriptWatchdog:
    """PING on a dedicated connection; SCRIPT KILL when Redis is BUSY."""

    def __init__(self, redis_kwargs: dict[str, Any], on_kill: Callable[[str], None]) -> None:
        # One connection, opened before any trouble: a new AUTH would wait behind the script.
        self.redis = connect(redis_kwargs, single_connection_client=True, decode_responses=True)
        self.on_kill = on_kill

    async def run(self, stopping: asyncio.Event) -> None:
        try:
            while not stopping.is_set():
                await self.check()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), CHECK_SECONDS)
        finally:
            await self.redis.aclose()

    async def check(self) -> str:
        """One look: 'ok', 'killed', 'unkillable', or 'unreachable'."""
        try:
            await asyncio.wait_for(self.redis.ping(), PING_TIMEOUT_SECONDS)
            return "ok"
        except ResponseError as exc:
            if not str(exc).startswith("BUSY"):
                raise
        except (RedisError, OSError, TimeoutError):
            return "unreachable"  # readiness reports outages; nothing to kill here
        try:
            await self.redis.script_kill()
        except ResponseError as exc:
            if "UNKILLABLE" in str(exc):
                log.error(
                    "runaway script cannot be killed: it already wrote", extra={"error": str(exc)}
                )
                self.on_kill("unkillable")
                return "unkillable"
            return "ok"  # NOTBUSY: it ended by itself meanwhile
        log.warning("runaway script killed (Redis answered BUSY)")
        self.on_kill("killed")
        return "killed"


class ClusterScriptWatchdog:
    """A ScriptWatchdog per primary of a Redis Cluster, on connections of its own."""

    def __init__(self, redis_kwargs: dict[str, Any], on_kill: Callable[[str], None]) -> None:
        self.cluster_kwargs = redis_kwargs
        self.node_kwargs, _ = split_cluster(redis_kwargs)
        self.on_kill = on_kill
        self.dogs: dict[tuple[str, int], ScriptWatchdog] = {}

    async def discover(self) -> list[tuple[str, int]]:
        """Ask the cluster for its primaries; open a watchdog for each new one."""
        cluster: Any = connect(self.cluster_kwargs)
        try:
            await cluster.initialize()
            primaries = [(str(n.host), int(n.port)) for n in cluster.get_primaries()]
        finally:
            await cluster.aclose()
        for address in primaries:
            if address not in self.dogs:
                host, port = address
                kwargs = {**self.node_kwargs, "host": host, "port": port}
                self.dogs[address] = ScriptWatchdog(kwargs, self.on_kill)
        for address in [a for a in self.dogs if a not in primaries]:
            with contextlib.suppress(Exception):
                await self.dogs.pop(address).redis.aclose()
        return primaries

    async def check(self) -> dict[tuple[str, int], str]:
        """One look at every primary: its outcome ('ok', 'killed', ...)."""
        addresses = list(self.dogs)
        outcomes = await asyncio.gather(
            *(self.dogs[a].check() for a in addresses), return_exceptions=True
        )
        return {
            a: o if isinstance(o, str) else f"error: {o}"
            for a, o in zip(addresses, outcomes, strict=True)
        }

    async def run(self, stopping: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        next_discovery = 0.0
        try:
            while not stopping.is_set():
                if loop.time() >= next_discovery:
                    try:
                        await self.discover()
                        next_discovery = loop.time() + REDISCOVER_SECONDS
                    except (RedisError, OSError) as exc:  # keep the dogs we have; ask again soon
                        log.warning("cluster primaries not found", extra={"error": str(exc)})
                        next_discovery = loop.time() + CHECK_SECONDS
                await self.check()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), CHECK_SECONDS)
        finally:
            for dog in self.dogs.values():
                with contextlib.suppress(Exception):
                    await dog.redis.aclose()


def script_watchdog(
    redis_kwargs: dict[str, Any], on_kill: Callable[[str], None]
) -> ScriptWatchdog | ClusterScriptWatchdog:
    """The watchdog for these connection kwargs: one per primary on a Redis Cluster."""
    if is_cluster(redis_kwargs):
        return ClusterScriptWatchdog(redis_kwargs, on_kill)
    return ScriptWatchdog(redis_kwargs, on_kill)
