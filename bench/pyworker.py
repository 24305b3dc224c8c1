"""One bench worker process: drain N pre-enqueued jobs, print one JSON line of figures.

usage: python -m bench.pyworker fast|stock QUEUE N CONCURRENCY noop|io
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any

from bench._conn import connection_from_env


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def _run_fast(queue: str, n: int, concurrency: int, io: bool) -> dict[str, Any]:
    from workers.engine_fast import EngineOptions, FastEngine, from_env_levers

    done = asyncio.get_running_loop().create_future()
    counts = {"invocations": 0, "completed": 0}

    async def processor(job: Any) -> Any:
        counts["invocations"] += 1
        if io:
            await asyncio.sleep(0.001)
        return job.data["i"]

    def on_completed(job: Any, result: Any) -> None:
        counts["completed"] += 1
        if counts["completed"] == n and not done.done():
            done.set_result(None)

    options = from_env_levers(EngineOptions(concurrency=concurrency))
    engine = FastEngine(queue, connection_from_env(), options, on_completed=on_completed)
    cpu0, t0 = _cpu(), time.perf_counter()
    task = asyncio.create_task(engine.run(processor))
    await done
    elapsed, cpu = time.perf_counter() - t0, _cpu() - cpu0
    await engine.close(drain=True)
    await task
    return {"elapsed": elapsed, "cpu": cpu, **counts}


async def _run_stock(queue: str, n: int, concurrency: int, io: bool) -> dict[str, Any]:
    from bullmq import Worker

    done = asyncio.get_running_loop().create_future()
    counts = {"invocations": 0, "completed": 0}

    async def processor(job: Any, token: str) -> Any:
        counts["invocations"] += 1
        if io:
            await asyncio.sleep(0.001)
        return job.data["i"]

    worker = Worker(
        queue,
        processor,
        {"connection": connection_from_env(), "concurrency": concurrency, "autorun": False},
    )

    def on_completed(job: Any, result: Any) -> None:
        counts["completed"] += 1
        if counts["completed"] == n and not done.done():
            done.set_result(None)

    worker.on("completed", on_completed)
    await worker.client.ping()
    cpu0, t0 = _cpu(), time.perf_counter()
    task = asyncio.create_task(worker.run())
    await done
    elapsed, cpu = time.perf_counter() - t0, _cpu() - cpu0
    await worker.close()
    await task
    return {"elapsed": elapsed, "cpu": cpu, **counts}


def main(argv: list[str]) -> None:
    engine, queue, n, concurrency, kind = argv
    run = _run_fast if engine == "fast" else _run_stock
    figures = asyncio.run(run(queue, int(n), int(concurrency), kind == "io"))
    figures.update(
        engine=engine,
        processed=figures["completed"],
        maxrss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    )
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
