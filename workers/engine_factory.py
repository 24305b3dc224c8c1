"""Pick the fetch/finish loop by name: the one module that knows every engine.

Engines: `fast` (the default; workers/engine_fast.py: bullmq's own Lua scripts,
pipelined on one connection, one loop per slot, finish with fetch-next) and
`stock` (workers/engine_stock.py: Python bullmq's `Worker`, `--engine stock`).
The interface they implement is workers/engine.py.

Both run on a Redis Cluster: the stock engine over redis-py's RedisCluster, the
fast one with its pipelined connection sent to the primary that owns the queue's
hash slot, following MOVED / ASK itself (workers/_fast_cluster.py). The fast
engine stays the default there too: it passes the shard-kill and reshard drills.
"""

from __future__ import annotations

from workers.engine import Engine, EngineConfig, EngineHooks, Process
from workers.engine_fast_adapter import PlatformFastEngine
from workers.engine_stock import StockEngine

ENGINES = ("fast", "stock")
# What `python -m workers` runs without --engine (the CLI's default).
DEFAULT_ENGINE = "fast"


def pick_engine(requested: str | None, cluster: bool) -> str:
    """The engine to run: the requested one, or the default (fast, on a cluster too).

    `cluster` is kept so a mode that needs another default has one place to say so."""
    del cluster
    if requested is None:
        return DEFAULT_ENGINE
    if requested not in ENGINES:
        raise ValueError(f"unknown engine {requested!r} (known: {', '.join(ENGINES)})")
    return requested


def create_engine(kind: str, config: EngineConfig, process: Process, hooks: EngineHooks) -> Engine:
    """The engine `kind`, running `process` for each job and reporting through `hooks`."""
    if kind == "fast":
        return PlatformFastEngine(config, process, hooks)
    if kind == "stock":
        return StockEngine(config, process, hooks)
    raise ValueError(f"unknown engine {kind!r} (known: {', '.join(ENGINES)})")
