"""Pick the fetch/finish loop by name: the one module that knows every engine.

Engines: `fast` (the default; workers/engine_fast.py: bullmq's own Lua scripts,
pipelined on one connection, one loop per slot, finish with fetch-next) and
`stock` (workers/engine_stock.py: Python bullmq's `Worker`, `--engine stock`).
The interface they implement is workers/engine.py.

The fast engine's own pipelined connection talks to one Redis node: it does not
route by hash slot nor follow MOVED/ASK, so against a Redis Cluster the worker
runs the stock engine (bullmq over redis-py's RedisCluster), and asking for
the fast one there is refused.
"""

from __future__ import annotations

from workers.engine import Engine, EngineConfig, EngineHooks, Process
from workers.engine_fast_adapter import PlatformFastEngine
from workers.engine_stock import StockEngine

ENGINES = ("fast", "stock")
# What `python -m workers` runs without --engine (the CLI's default).
DEFAULT_ENGINE = "fast"


def pick_engine(requested: str | None, cluster: bool) -> str:
    """The engine to run: the requested one, or by default fast (stock on a cluster)."""
    if requested is None:
        return "stock" if cluster else DEFAULT_ENGINE
    if requested not in ENGINES:
        raise ValueError(f"unknown engine {requested!r} (known: {', '.join(ENGINES)})")
    if requested == "fast" and cluster:
        raise ValueError(
            "--engine fast: redis.mode cluster (or redis.external.cluster) needs --engine "
            "stock, the default there: the fast engine's pipelined connection talks to one "
            "node and does not route queues by hash slot"
        )
    return requested


def create_engine(kind: str, config: EngineConfig, process: Process, hooks: EngineHooks) -> Engine:
    """The engine `kind`, running `process` for each job and reporting through `hooks`."""
    if kind == "fast":
        return PlatformFastEngine(config, process, hooks)
    if kind == "stock":
        return StockEngine(config, process, hooks)
    raise ValueError(f"unknown engine {kind!r} (known: {', '.join(ENGINES)})")
