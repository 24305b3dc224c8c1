"""One bench worker process: drain N pre-enqueued jobs, print one JSON line of figures.

usage: python -m bench.pyworker fast|stock QUEUE N CONCURRENCY noop|io

A watchdog ends a run that stops making progress: when no job completed for
STALL_SECONDS, the process prints its figures with `stalled` (what it saw:
completions, failures, and for the stock Worker its fetch state) and exits 3,
so the bench reports the stall and goes on instead of waiting for its kill.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench._conn import connection_from_env
from platform_spec.settings import RuntimeSettings
from workers.bullmq_wire import FastJob
from workers.engine_fast import EngineOptions, FastEngine, from_env_levers
from workers.event_loop import event_loop_of
from workers.event_loop import run as run_on_loop

# No completion for this long: the run is reported as stalled (exit code 3).
STALL_SECONDS = 20.0
EXIT_STALLED = 3
# A worker's close (after the N-th completion, outside the measured span) that
# takes longer is abandoned: the figures stand, `close_hung` says where it hung.
CLOSE_SECONDS = 15.0


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def peak_rss_kb() -> int:
    """This process's peak RSS in kB.

    Not ru_maxrss: on Linux it keeps the parent's peak across fork+exec, so a
    worker started by a 70 MB bench process reported >= 70 MB whatever it used.
    VmHWM (/proc/self/status) is this process's own high-water mark.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


async def watch(
    done: asyncio.Future[None], counts: dict[str, int], probe: Callable[[], dict[str, Any]]
) -> dict[str, Any] | None:
    """Wait for `done`; None, or what was seen once no job completed for STALL_SECONDS."""
    last, since = -1, time.monotonic()
    while not done.done():
        await asyncio.wait({done}, timeout=1.0)
        if counts["completed"] != last:
            last, since = counts["completed"], time.monotonic()
        elif time.monotonic() - since >= STALL_SECONDS:
            return {"seconds_without_progress": STALL_SECONDS, **counts, **probe()}
    return None


def pending_stacks() -> list[str]:
    """Where every other pending task of the loop waits (innermost frames)."""
    stacks = []
    for task in asyncio.all_tasks():
        if task is asyncio.current_task():
            continue
        chain: list[str] = []
        awaited: Any = task.get_coro()
        while awaited is not None and len(chain) < 12:  # follow the await chain inwards
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
            if frame is None:
                chain.append(type(awaited).__name__)
                break
            name = os.path.basename(frame.f_code.co_filename)
            chain.append(f"{frame.f_code.co_name} ({name}:{frame.f_lineno})")
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
        stacks.append(f"{task.get_name()}: {' -> '.join(chain)}")
    return stacks


async def close_within(close: Awaitable[Any], figures: dict[str, Any], engine: str) -> None:
    """Await `close`; if it takes over CLOSE_SECONDS, report where it hangs and exit."""
    closing = asyncio.ensure_future(close)
    finished, _ = await asyncio.wait({closing}, timeout=CLOSE_SECONDS)
    if not finished:
        figures["close_hung"] = pending_stacks()
        report(figures, engine)  # exits


async def _run_fast(queue: str, n: int, concurrency: int, io: bool) -> dict[str, Any]:
    done = asyncio.get_running_loop().create_future()
    counts = {"invocations": 0, "completed": 0, "failed": 0}

    async def processor(job: FastJob) -> Any:
        counts["invocations"] += 1
        if io:
            await asyncio.sleep(0.001)
        return job.data["i"]

    def on_completed(job: FastJob, result: Any) -> None:
        counts["completed"] += 1
        if counts["completed"] == n and not done.done():
            done.set_result(None)

    def on_failed(job: FastJob, err: BaseException, final: bool) -> None:
        counts["failed"] += 1

    options = from_env_levers(EngineOptions(concurrency=concurrency))
    engine = FastEngine(
        queue, connection_from_env(), options, on_completed=on_completed, on_failed=on_failed
    )
    cpu0, t0 = _cpu(), time.perf_counter()
    task = asyncio.create_task(engine.run(processor))
    stalled = await watch(done, counts, lambda: {"active": engine.active_jobs})
    elapsed, cpu = time.perf_counter() - t0, _cpu() - cpu0
    figures = {"elapsed": elapsed, "cpu": cpu, "stalled": stalled, **counts}
    if stalled is not None:
        report(figures, "fast")  # exits: a stuck engine may not close
    await close_within(_gather(engine.close(drain=True), task), figures, "fast")
    return figures


async def _run_stock(queue: str, n: int, concurrency: int, io: bool) -> dict[str, Any]:
    from bullmq import Job, Worker

    done = asyncio.get_running_loop().create_future()
    counts = {"invocations": 0, "completed": 0, "failed": 0, "errors": 0}
    errors: list[str] = []

    async def processor(job: Job, token: str) -> Any:
        counts["invocations"] += 1
        if io:
            await asyncio.sleep(0.001)
        return job.data["i"]

    worker = Worker(
        queue,
        processor,
        {"connection": connection_from_env(), "concurrency": concurrency, "autorun": False},
    )

    def on_completed(job: Job, result: Any) -> None:
        counts["completed"] += 1
        if counts["completed"] == n and not done.done():
            done.set_result(None)

    def on_failed(job: Job, err: BaseException) -> None:
        counts["failed"] += 1
        errors.append(f"job {job.id} failed: {err!r}")

    def on_error(err: BaseException, job: Job | None = None) -> None:
        counts["errors"] += 1
        errors.append(repr(err))

    def probe() -> dict[str, Any]:
        return {
            "processing_tasks": len(worker.processing),
            "jobs_in_hand": len(worker.jobs),
            "blocking_wait": worker.waiting is not None,
            "drained": worker.drained,
            "running": worker.running,
            "errors_seen": errors[-5:],
        }

    worker.on("completed", on_completed)
    worker.on("failed", on_failed)
    worker.on("error", on_error)
    await worker.client.ping()
    cpu0, t0 = _cpu(), time.perf_counter()
    task = asyncio.create_task(worker.run())
    stalled = await watch(done, counts, probe)
    elapsed, cpu = time.perf_counter() - t0, _cpu() - cpu0
    figures = {"elapsed": elapsed, "cpu": cpu, "stalled": stalled, **counts}
    if stalled is not None:
        report(figures, "stock")  # exits: a stuck Worker may not close
    await close_within(_gather(worker.close(), task), figures, "stock")
    return figures


async def _gather(*steps: Awaitable[Any]) -> None:
    for step in steps:
        await step


def report(figures: dict[str, Any], engine: str) -> None:
    """Print the JSON line. A stalled run exits 3 at once, one whose close hung 0
    (no close, no loop teardown: either may hang)."""
    figures.update(engine=engine, processed=figures["completed"], maxrss_kb=peak_rss_kb())
    print(json.dumps(figures), flush=True)
    if figures["stalled"] is not None:
        os._exit(EXIT_STALLED)
    if figures.get("close_hung"):
        os._exit(0)


def main(argv: list[str]) -> None:
    engine, queue, n, concurrency, kind = argv
    run = _run_fast if engine == "fast" else _run_stock
    # On the loop a worker runs on by default, or BULLMQ_PLATFORM_EVENT_LOOP's (no spec).
    loop = event_loop_of(RuntimeSettings().event_loop, None, queue)
    report(run_on_loop(run(queue, int(n), int(concurrency), kind == "io"), loop), engine)


if __name__ == "__main__":
    main(sys.argv[1:])
