"""Per-job cost of each runtime lever, the way it was against the way it is, in one process.

usage: python -m bench.runtime_levers [N] [--baseline DIR]

The real-process bench (`python -m bench --baseline DIR`) measures all levers
together; this splits the gain by lever, each measured as the difference of
two loops over N jobs in the same process (best of 5 rounds, microseconds per
job). Printed as ratios too, since absolute figures depend on the machine.
With `--baseline DIR` (a source tree, e.g. `git archive <commit>`), the check
of a fetched job hash (workers/job_hash.py) is also timed against that tree's.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import io
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from workers.bullmq_wire import FastJob, spelled_out
from workers.deadlines import JobDeadlines
from workers.engine_fast_adapter import PlatformFastEngine, job_view
from workers.job_hash import check_job_hash
from workers.job_log import CompletionLog
from workers.logs import JsonFormatter
from workers.metrics import DURATION_BUCKETS, WorkerMetrics

ROUNDS = 5


def best_us(loop: Callable[[int], None], n: int) -> float:
    """Best of ROUNDS runs of `loop(n)`, in microseconds per iteration."""
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        loop(n)
        best = min(best, time.perf_counter() - started)
    return best / n * 1e6


def metrics_levers(n: int) -> tuple[float, float]:
    """A job's five metric updates: prometheus_client children (resolved once) vs the
    plain series JobSeriesCollector reads at scrape time (workers/metrics.py)."""
    registry = CollectorRegistry()
    counter = Counter("c", "c", ("queue", "job_name"), registry=registry).labels("q", "noop")
    gauge = Gauge("g", "g", ("queue", "job_name"), registry=registry).labels("q", "noop")
    duration = Histogram(
        "d", "d", ("queue", "job_name"), buckets=DURATION_BUCKETS, registry=registry
    ).labels("q", "noop")
    wait = Histogram(
        "w", "w", ("queue", "job_name"), buckets=DURATION_BUCKETS, registry=registry
    ).labels("q", "noop")
    m = WorkerMetrics("q", ["noop"])

    def children(k: int) -> None:
        for _ in range(k):
            wait.observe(0.002)
            gauge.inc()
            duration.observe(0.001)
            gauge.dec()
            counter.inc()

    def plain(k: int) -> None:
        for _ in range(k):
            s = m.series("noop")
            s.wait.observe(0.002)
            s.active.inc()
            s.duration.observe(0.001)
            s.active.dec()
            m.series("noop").completed.inc()

    return best_us(children, n), best_us(plain, n)


def log_levers(n: int) -> tuple[float, float]:
    """A JSON line per completed job (to a buffer, as to a pipe) vs the summed line."""
    log = logging.getLogger("workers.bench-levers")
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(JsonFormatter())
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.INFO)
    fields = {"queue": "q", "jobId": "j1", "jobName": "noop", "attempt": 1, "outcome": "completed"}

    def each(k: int) -> None:
        for _ in range(k):
            log.info("job completed", extra=dict(fields, seconds=0.0001, tenantId=None))

    summary = CompletionLog(log, "q", 10.0, 10.0)

    def summed(k: int) -> None:
        for _ in range(k):
            summary.completed("noop", 0.0001, lambda: dict(fields))

    return best_us(each, n), best_us(summed, n)


def timeout_levers(n: int) -> tuple[float, float]:
    """A job under asyncio.timeout() vs under the shared deadline watcher."""

    async def job() -> int:
        return 1

    async def measure() -> tuple[float, float]:
        deadlines = JobDeadlines()

        async def per_job_timer(k: int) -> None:
            for _ in range(k):
                async with asyncio.timeout(60):
                    await job()

        async def watcher(k: int) -> None:
            for _ in range(k):
                with deadlines.limit(60):
                    await job()

        async def bare(k: int) -> None:
            for _ in range(k):
                await job()

        async def best(loop: Callable[[int], object]) -> float:
            out = float("inf")
            for _ in range(ROUNDS):
                started = time.perf_counter()
                await loop(n)  # type: ignore[misc]
                out = min(out, time.perf_counter() - started)
            return out / n * 1e6

        base = await best(bare)
        timer, watched = await best(per_job_timer) - base, await best(watcher) - base
        await deadlines.close()
        return timer, watched

    return asyncio.run(measure())


def task_levers(n: int) -> tuple[float, float]:
    """The completion hook spawned as a task per job vs called directly."""

    async def measure() -> tuple[float, float]:
        pending: set[asyncio.Future[None]] = set()

        async def hook() -> None:
            return None

        def plain() -> None:
            return None

        started = time.perf_counter()
        for _ in range(n):
            task = asyncio.ensure_future(hook())
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.sleep(0)
        await asyncio.gather(*pending)
        spawned = (time.perf_counter() - started) / n * 1e6
        started = time.perf_counter()
        for _ in range(n):
            plain()
        return spawned, (time.perf_counter() - started) / n * 1e6

    return asyncio.run(measure())


def view_levers(n: int) -> tuple[float, float]:
    """The runtime's JobView built for process() and again for the completion, vs once."""
    job = FastJob("j1", "noop", {"i": 1}, {"attempts": 1, "jobId": "j1"}, 0, 1, 1, "tok")

    class Hooks:
        def on_completed(self, view: object, result: object) -> None:
            return None

    completed = PlatformFastEngine._completed

    hooks = Hooks()
    holder = type("Holder", (), {"hooks": hooks})()

    def twice(k: int) -> None:
        for _ in range(k):
            job.attachment = job_view(job)
            hooks.on_completed(job_view(job, finished=True), None)

    def once(k: int) -> None:
        for _ in range(k):
            job.attachment = job_view(job)
            completed(holder, job, None)

    return best_us(twice, n), best_us(once, n)


# A fetched job hash as Python bullmq's addBulk writes it (moveToActive's reply).
JOB_HASH = {
    b"name": b"noop",
    b"data": b'{"i":1}',
    b"opts": b'{"attempts":1,"delay":0,"jobId":"j1","removeOnComplete":true}',
    b"timestamp": b"1700000000000",
    b"delay": b"0",
    b"priority": b"0",
    b"processedOn": b"1700000000001",
    b"ats": b"1",
    b"atm": b"0",
}


def job_hash_levers(n: int, baseline: Path) -> tuple[float, float]:
    """The fetched job hash checked and its opts decoded: `baseline`'s workers/job_hash.py
    (then bullmq_wire parsed opts again) vs this tree's (one pass, opts parsed once).
    Rounds alternate between the two, so load on the machine hits both alike."""
    spec = importlib.util.spec_from_file_location(
        "baseline_job_hash", baseline / "workers" / "job_hash.py"
    )
    if spec is None or spec.loader is None:
        raise SystemExit(f"no workers/job_hash.py under {baseline}")
    old = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = old  # dataclasses look their module up
    spec.loader.exec_module(old)

    def before(k: int) -> None:
        for _ in range(k):
            checked = old.check_job_hash(JOB_HASH)
            spelled_out(orjson.loads(checked.fields["opts"]))

    def after(k: int) -> None:
        for _ in range(k):
            spelled_out(check_job_hash(JOB_HASH).opts)

    best = [float("inf"), float("inf")]
    for _ in range(3 * ROUNDS):
        for i, loop in enumerate((before, after)):
            started = time.perf_counter()
            loop(n)
            best[i] = min(best[i], (time.perf_counter() - started) / n * 1e6)
    return best[0], best[1]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.runtime_levers",
        description="Per-job cost of each runtime lever, before and after, in one process.",
    )
    parser.add_argument("n", nargs="?", type=int, default=20_000, help="jobs per round")
    parser.add_argument(
        "--baseline", type=Path, help="also time the job-hash decoding in this source tree"
    )
    args = parser.parse_args(argv)
    n, baseline = args.n, args.baseline
    print(f"{'lever':<34}{'before us/job':>14}{'after us/job':>14}{'saved':>8}")
    for name, measure in (
        ("metrics as plain series", metrics_levers),
        ("success lines summed", log_levers),
        ("one deadline watcher", timeout_levers),
        ("no task per completion", task_levers),
        ("JobView built once", view_levers),
    ):
        before, after = measure(n)
        print(f"{name:<34}{before:>14.2f}{after:>14.2f}{before - after:>8.2f}")
    if baseline is not None:
        before, after = job_hash_levers(n, baseline.resolve())
        name = "job hash checked in one pass"
        print(f"{name:<34}{before:>14.2f}{after:>14.2f}{before - after:>8.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
