"""The exact Redis commands the `worker` and `scheduler` ACL users may run.

Redis 7 checks every command against the caller's ACL, including each command a
Lua script calls, so a role needs (a) every command of the scripts it runs and
(b) every command its clients send themselves. The chart's rules give both
roles `-@all` plus `role_commands(role)` and nothing else
(helm/bullmq-platform/templates/redis/_config.tpl reads them from the generated
`bullmq-platform.aclCommands` helper in templates/_facts.tpl; issue 25, item 2).

(a) is read from the scripts: bullmq's (`rcall("ZADD", ...)`,
`redis.call`/`redis.pcall`), plus the ones a script picks at run time
(`paginate`: SSCAN or HSCAN, SCARD or HLEN; `pushCmd`: LPUSH or RPUSH), and the
platform's own Lua (PLATFORM_SCRIPTS).

(b) is written out below, each command with the code that sends it. It was
found by reading that code (redis-py's connection set-up, python bullmq's
non-script calls, the platform's packages) and checked by watching: the
tests/workers, tests/scheduler, tests/maintenance and tests/autoscaling suites
ran (131 tests, under the earlier category rules) with a pytest plugin that
wrapped `RedisServer.start` with a MONITOR reader, naming each client's ACL user
from CLIENT LIST. Every command a platform process sent as `worker` or
`scheduler` is below (and each command scripts called, "lua" in MONITOR, is in
(a)); XRANGE, TTL, XLEN and SCAN were only tests inspecting Redis, which now
use the admin credential.

Kept in step by tests: `no_acl_denials` (tests/conftest.py) fails any test on
the suite's server during which Redis refused `worker` or `scheduler` a command
(ACL LOG), and tests/redis/test_acl_allow_list.py checks the rendered rules and
the refusals.
"""

from __future__ import annotations

import re
from importlib import resources

from bullmq.redis_connection import SCRIPT_DEFINITIONS

from platform_spec.chart import REPO_ROOT

CALL = re.compile(r"""(?:rcall|redis\.p?call)\(\s*["']([A-Za-z]+)["']""")
# Commands a script holds in a variable (`rcall(command, ...)`): never literal above.
CHOSEN_AT_RUN_TIME = frozenset({"SSCAN", "HSCAN", "SCARD", "HLEN", "LPUSH", "RPUSH"})

# The platform's own Lua, by role (the files hold the script text).
PLATFORM_SCRIPTS: dict[str, tuple[str, ...]] = {
    "worker": ("workers/dlq.py", "workers/dlq_reconcile.py"),
    "scheduler": ("scheduler/register.py", "autoscaling/signal.py"),
}

# Sent by every client of both roles, outside scripts.
CONNECTION: dict[str, str] = {
    "AUTH": "redis-py and workers/_fast_redis.py log in (HELLO 3 AUTH when RESP3)",
    "HELLO": "redis-py with protocol=3",
    "QUIT": "ioredis closing (Node BullMQ producers and workers, tests/node/interop.mjs)",
    "PING": "redis-py health checks, workers/connection.py, readiness, scheduler/watchdog.py",
    "SELECT": "redis-py and workers/_fast_redis.py when db != 0",
    "CLIENT|SETNAME": "bullmq RedisConnection.set_client_name, workers/_fast_redis.py",
    "INFO": "bullmq getRedisVersion, workers/memory_guard.py, workers/health.py, scheduler",
    "EVALSHA": "redis-py Script objects, bullmq's scripts, workers/_fast_redis.py",
    "EVAL": "redis-py Redis.eval: workers/dlq.py, workers/cluster_client.py, scheduler/register.py",
    "SCRIPT|LOAD": "redis-py Script after NOSCRIPT, workers/_fast_redis.py",
    "SCRIPT|EXISTS": "redis-py pipelines holding a Script",
    "MULTI": "redis-py pipeline(transaction=True)",
    "EXEC": "redis-py pipeline(transaction=True)",
    "DISCARD": "redis-py pipeline reset after an error",
    "WAIT": "workers/replication_ack.py, scheduler/service.py (writes held by a replica)",
    "TIME": "workers/maintenance/cleanup.py, workers/health.py, scheduler/metrics.py",
}

# Sent by the worker's own code and python bullmq's Worker/Queue, outside scripts.
WORKER: dict[str, str] = {
    "BZPOPMIN": "bullmq Worker and workers/engine_fast.py wait on the marker key",
    "CLIENT|LIST": "bullmq Queue.get_workers: workers/maintenance/health.py worker counts",
    "GET": "workers/job_log.py, workers/runs.py, workers/maintenance",
    "SET": "workers/health.py, workers/loop_watch.py, bullmq Queue rate limit",
    "DEL": "workers/maintenance/rollups.py, bullmq Queue.removeRateLimitKey",
    "EXISTS": "workers/dlq_reconcile.py",
    "EXPIRE": "workers/deadlines.py, workers/maintenance/rollups.py",
    "HSET": "workers/engine_fast.py, workers/engine_stock.py, workers/runs.py",
    "HSETNX": "workers/runs.py",
    "HGET": "bullmq Queue.getGlobalConcurrency, workers/maintenance/health.py",
    "HMGET": "workers/rate_limit.py, workers/dlq_reconcile.py, workers/maintenance/rollups.py",
    "HGETALL": "workers/job.py, workers/runs.py, workers/maintenance/rollups.py",
    "HDEL": "workers/rate_limit.py",
    "HEXISTS": "workers/maintenance/health.py",
    "HINCRBY": "workers/runs.py",
    "LLEN": "workers/dlq.py, workers/maintenance/health.py",
    "LRANGE": "workers/runs.py, workers/maintenance/health.py",
    "LINDEX": "workers/maintenance/health.py",
    "LPUSH": "workers/engine_fast.py",
    "RPUSH": "workers/engine_fast.py (lifo)",
    "SMEMBERS": "workers/job.py",
    "ZADD": "workers/maintenance/rollups.py",
    "ZCARD": "workers/maintenance/health.py",
    "ZCOUNT": "workers/maintenance/cleanup.py, workers/maintenance/rollups.py",
    "ZRANGE": "workers/job.py",
    "ZRANGEBYSCORE": "workers/dlq_reconcile.py, workers/maintenance/rollups.py, retention.py",
    "ZREVRANGE": "workers/maintenance/rollups.py",
    "ZREM": "workers/maintenance/retention.py",
    "XADD": "bullmq QueueEventsProducer",
    "XREAD": "bullmq QueueEvents",
    "XREVRANGE": "workers/runs.py",
    "XTRIM": "workers/maintenance/retention.py",
}

# Sent by the scheduler's own code (and the workers' readers it reuses), outside scripts.
SCHEDULER: dict[str, str] = {
    "SCRIPT|KILL": "scheduler/watchdog.py ends a runaway script (docs/security.md)",
    "GET": "scheduler/register.py, workers/runs.py readers",
    "SET": "scheduler/register.py lock, scheduler/service.py",
    "DEL": "bullmq Queue",
    "HSET": "scheduler/register.py, bullmq Queue.setGlobalConcurrency",
    "HSETNX": "scheduler/register.py, scheduler/scaling.py",
    "HGET": "bullmq Queue",
    "HMGET": "bullmq Queue.getRateLimit",
    "HGETALL": "scheduler/register.py, workers/runs.py readers",
    "HDEL": "scheduler/register.py",
    "LPOS": "scheduler/register.py",
    "LRANGE": "workers/runs.py readers",
    "ZRANGE": "scheduler/register.py",
    "ZSCORE": "scheduler/register.py",
    "ZREVRANGE": "workers/maintenance/rollups.py readers (latest_rollups)",
    "ZRANGEBYSCORE": "workers/maintenance/rollups.py readers",
    "XREVRANGE": "workers/runs.py readers (run_records)",
}

DIRECT: dict[str, dict[str, str]] = {"worker": WORKER, "scheduler": SCHEDULER}
ROLES = tuple(DIRECT)


def _script_commands(text: str) -> set[str]:
    return {name.upper() for name in CALL.findall(text)}


def bullmq_script_commands() -> frozenset[str]:
    """Upper-case names of every command the scripts the installed bullmq loads call.

    Only the scripts of `SCRIPT_DEFINITIONS` (what bullmq's RedisConnection
    registers): the package also ships `relay*` scripts nothing in it loads.
    """
    found: set[str] = set(CHOSEN_AT_RUN_TIME)
    folder = resources.files("bullmq") / "commands"
    for file_name in SCRIPT_DEFINITIONS.values():
        found |= _script_commands((folder / file_name).read_text())
    return frozenset(found)


def platform_script_commands(role: str) -> frozenset[str]:
    """Commands the platform's own Lua scripts of one role call (read from the files)."""
    found: set[str] = set()
    for path in PLATFORM_SCRIPTS[role]:
        found |= _script_commands((REPO_ROOT / path).read_text())
    return frozenset(found)


def role_commands(role: str) -> tuple[str, ...]:
    """The sorted allow-list of `worker` or `scheduler`: `+<command>` each, after `-@all`.

    Both roles run bullmq's scripts (the scheduler's job schedulers and the
    workers' moves are the same library), so both get all of them.
    """
    wanted = (
        bullmq_script_commands()
        | platform_script_commands(role)
        | CONNECTION.keys()
        | DIRECT[role].keys()
    )
    return tuple(sorted(wanted))


def chart_acl_commands() -> dict[str, list[str]]:
    """What the chart's `bullmq-platform.aclCommands` helper returns (lower case, as ACL rules)."""
    return {role: [c.lower() for c in role_commands(role)] for role in ROLES}
