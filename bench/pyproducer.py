"""Enqueue N jobs with Python bullmq's Queue.addBulk in chunks; print one JSON line.

usage: python -m bench.pyproducer QUEUE N CHUNK
The jobs are the bench's: data {"i": i}, jobId "j<i>", removeOnComplete on odd i
(the kept even ones, from j0 on, carry the `finishedOn` the bench measures).
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any

from bench._conn import connection_from_env


def bench_jobs(start: int, stop: int, name: str = "noop") -> list[dict[str, Any]]:
    return [
        {"name": name, "data": {"i": i}, "opts": {"jobId": f"j{i}", "removeOnComplete": i % 2 == 1}}
        for i in range(start, stop)
    ]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def enqueue(
    queue_name: str, n: int, chunk: int, connection: dict[str, Any], name: str = "noop"
) -> tuple[float, float]:
    """Add the bench's N jobs; (seconds, CPU seconds) it took, connection set-up excluded."""
    from bullmq import Queue

    queue = Queue(queue_name, {"connection": connection})
    try:
        await queue.client.ping()
        cpu0, t0 = _cpu(), time.perf_counter()
        for start in range(0, n, chunk):
            await queue.addBulk(bench_jobs(start, min(n, start + chunk), name))
        return time.perf_counter() - t0, _cpu() - cpu0
    finally:
        await queue.close()


def main(argv: list[str]) -> None:
    queue, n, chunk = argv[0], int(argv[1]), int(argv[2])
    elapsed, cpu = asyncio.run(enqueue(queue, n, chunk, connection_from_env()))
    print(
        json.dumps(
            {
                "engine": "python",
                "enqueued": n,
                "elapsed": elapsed,
                "cpu": cpu,
                "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
