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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError, ResponseError

from workers.connection import connect

log = logging.getLogger("scheduler.watchdog")
CHECK_SECONDS = 1.0
PING_TIMEOUT_SECONDS = 2.0


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
