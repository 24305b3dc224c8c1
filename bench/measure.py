"""One drain, measured from outside the worker: the same way for every implementation.

The bench enqueues N jobs, spawns the subject (pinned to its own core when
there are two), samples its CPU and peak RSS from /proc (bench/probe.py) and
polls the queue until every job finished. The figures come from the jobs
themselves: BullMQ stamps `finishedOn` on each job it completes (the worker's
clock, the bench's machine), so

- jobs/s is the rate between the first and the last kept job's `finishedOn`;
- CPU per job is the subject's CPU between those two instants over the jobs
  finished in between (interpolated between 5 ms samples);
- start-up is spawn to the first job's `finishedOn` (and the CPU the process
  used until then, which a loaded machine does not inflate);
- peak RSS is the subject's VmHWM at the end of the drain.

Jobs with removeOnComplete leave no `finishedOn`: every other job is kept
(bench/pyproducer.py), so the kept ones cover the run from its first job to
its last but one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis

from bench.probe import Timeline
from bench.subjects import Launch
from local_stack.lifetime import die_with_parent
from platform_spec.keys import QueueKeys

# No job finished for this long: the run is stalled (reported, left out of medians).
STALL_SECONDS = 20.0
POLL_SECONDS = 0.01
# Other processes took more than this share of a core, on average, during the
# measured span: the repeat is flagged as disturbed.
DISTURBED_CORES = 0.25


class StalledRun(RuntimeError):
    """The subject stopped finishing jobs, or exceeded its hard time limit."""


@dataclass
class Drain:
    """The figures of one drain (NaN where a run failed)."""

    jobs_per_s: float
    cpu_us_per_job: float
    redis_cpu_us_per_job: float
    startup_s: float
    startup_cpu_s: float
    peak_rss_mb: float
    others_cores: float
    report: dict[str, Any]

    def row(self) -> dict[str, Any]:
        return {
            "jobs_per_s": self.jobs_per_s,
            "cpu_us_per_job": self.cpu_us_per_job,
            "redis_cpu_us_per_job": self.redis_cpu_us_per_job,
            "startup_s": self.startup_s,
            "startup_cpu_s": self.startup_cpu_s,
            "max_rss_mb": self.peak_rss_mb,
            "others_cores": self.others_cores,
            "disturbed": self.others_cores > DISTURBED_CORES,
        }


def finished_on(client: redis.Redis, keys: QueueKeys, n: int) -> list[int]:
    """`finishedOn` (ms) of every kept job (even numbers), sorted."""
    pipe = client.pipeline(transaction=False)
    for i in range(0, n, 2):
        pipe.hget(keys.job(f"j{i}"), "finishedOn")
    return sorted(int(v) for v in pipe.execute() if v)


def _wait_drained(
    client: redis.Redis, keys: QueueKeys, kept: int, proc: subprocess.Popen[bytes], hard: float
) -> None:
    """Poll until every job finished (nothing waiting or active, the kept ones completed)."""
    last, since = (-1, -1), time.monotonic()
    while True:
        pipe = client.pipeline(transaction=False)
        pipe.llen(keys.wait)
        pipe.llen(keys.active)
        pipe.zcard(keys.completed)
        pipe.zcard(keys.failed)
        waiting, active, completed, failed = pipe.execute()
        if not waiting and not active and completed + failed >= kept:
            return
        now = time.monotonic()
        if (waiting, completed) != last:
            last, since = (waiting, completed), now
        elif now - since > STALL_SECONDS:
            raise StalledRun(f"no job finished for {STALL_SECONDS:.0f}s")
        if now > hard:
            raise StalledRun("hard time limit")
        if proc.poll() is not None and proc.returncode != 0:
            raise RuntimeError(f"worker exited {proc.returncode} before the queue drained")
        time.sleep(POLL_SECONDS)


def _metrics(url: str) -> dict[str, float]:
    """`bullmq_jobs_*_total` and the duration histogram's count, summed over labels."""
    totals: dict[str, float] = {}
    for line in httpx.get(url, timeout=10).text.splitlines():
        if line.startswith("#") or not line.startswith("bullmq_"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        totals[name] = totals.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return totals


def _stop(proc: subprocess.Popen[bytes], launch: Launch, timeout: float) -> int | None:
    """Let a reference worker exit by itself, or SIGTERM the real one; its exit code."""
    if not launch.exits_by_itself:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def drain(
    launch: Launch,
    client: redis.Redis,
    keys: QueueKeys,
    n: int,
    redis_pid: int,
    worker_cores: set[int] | None,
    log: Path,
) -> Drain:
    """Run `launch` until the queue of `keys` is drained; its figures and its own report."""
    kept = (n + 1) // 2
    cores = worker_cores

    def preexec() -> None:
        die_with_parent()  # the subject dies with the bench, even when the bench is killed
        if cores is not None:
            os.sched_setaffinity(0, cores)

    hard = time.monotonic() + 60 + n / 100
    with log.open("wb") as out:
        spawned = time.time()
        proc = subprocess.Popen(
            launch.argv,
            env=launch.env,
            cwd=launch.cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec,
        )
    timeline = Timeline({"worker": proc.pid, "redis": redis_pid, "bench": os.getpid()})
    timeline.start()
    report: dict[str, Any] = {}
    try:
        _wait_drained(client, keys, kept, proc, hard)
        timeline.stop()
        timeline.sample()
        if launch.metrics_url is not None:
            report["metrics"] = _metrics(launch.metrics_url)
        code = _stop(proc, launch, max(hard - time.monotonic(), 5))
        report["exit_code"] = code
    finally:
        timeline.stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if report["exit_code"] != 0:
        raise RuntimeError(f"worker exited {report['exit_code']}: {log.read_text()[-1500:]}")
    lines = [ln for ln in log.read_text().splitlines() if ln.startswith("{")]
    report["log_lines"] = len(lines)
    if launch.exits_by_itself and lines:
        report.update(json.loads(lines[-1]))
    stamps = finished_on(client, keys, n)
    if len(stamps) < 2:
        raise RuntimeError(f"only {len(stamps)} kept jobs have finishedOn")
    first, last = stamps[0] / 1000, stamps[-1] / 1000
    span = max(last - first, 1e-3)
    # Jobs finished between the first and the last kept one (every other job is kept).
    jobs = (len(stamps) - 1) * n / kept
    worker_cpu = timeline.between("worker", first, last)
    redis_cpu = timeline.between("redis", first, last)
    bench_cpu = timeline.between("bench", first, last)
    others = timeline.machine_between(first, last) - worker_cpu - redis_cpu - bench_cpu
    return Drain(
        jobs_per_s=jobs / span,
        cpu_us_per_job=worker_cpu / jobs * 1e6,
        redis_cpu_us_per_job=redis_cpu / jobs * 1e6,
        startup_s=first - spawned,
        # CPU the process used up to its first finished job: start-up without the
        # waits for a busy core, so it holds on a loaded machine where wall time does not.
        startup_cpu_s=timeline.at(timeline.cpu["worker"], first),
        peak_rss_mb=timeline.peak_mb.get("worker", float("nan")),
        others_cores=max(others, 0.0) / span,
        report=report,
    )
