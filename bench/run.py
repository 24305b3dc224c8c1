"""The bench run: one TLS + password Redis, three engines, one worker process at a time.

For each job kind (no-op, 1 ms of awaited I/O), concurrency and repeat, the
engines run in an order rotated by the repeat, each draining its own freshly
enqueued queue of N jobs. A worker process reports its own figures (elapsed
time from its first fetch to its N-th completion, CPU seconds over the same
span from its rusage, max RSS); the bench then checks the queue (every job
completed exactly once, nothing waiting/active/locked, removeOnComplete
honoured) and deletes the queue's keys.

The checks of a drained queue are bench/verify.py; medians, ratios, the
table, the goals and the files written are bench/report.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from bench.pyproducer import enqueue
from bench.pyworker import CLOSE_SECONDS, EXIT_STALLED, STALL_SECONDS
from bench.verify import delete_queue, queue_state, verify
from local_stack.redis_server import RedisServer
from platform_spec.keys import DEFAULT_PREFIX, QueueKeys

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
NODE_DIR = BENCH_DIR / "node"
RESULTS_DIR = BENCH_DIR / "results"
ENGINES = ("node", "stock", "fast")
KINDS = ("noop", "io")
CHUNK = 1000


@dataclass
class Config:
    jobs: int = 10_000
    repeats: int = 3
    concurrencies: tuple[int, ...] = (1, 10, 50)
    kinds: tuple[str, ...] = KINDS
    engines: tuple[str, ...] = ENGINES
    enqueue: bool = True
    levers: bool = False
    results_dir: Path = RESULTS_DIR
    plot: Path | None = REPO / "docs" / "bench.png"


# ------------------------------------------------------------ Node


def ensure_node() -> str:
    """node on PATH and bench/node/node_modules installed (npm ci from the lock file)."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node not found: install Node.js (>= 18) to run the bench")
    if not (NODE_DIR / "node_modules" / "bullmq").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("npm not found: it installs Node BullMQ into bench/node")
        print("installing Node BullMQ into bench/node (npm ci) ...", flush=True)
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return node


# ------------------------------------------------------------ processes


class StalledRun(RuntimeError):
    """A worker stopped completing jobs (its watchdog fired, or the hard timeout)."""


def _spawn(cmd: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Run one bench process; its JSON line of figures.

    Bounded twice: the Python worker's own watchdog exits 3 after 20 s without
    a completion (bench.pyworker.STALL_SECONDS), and every process is killed
    after `timeout` seconds.
    """
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise StalledRun(f"killed after {timeout:.0f}s: {err[-1000:]}") from None
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if proc.returncode == EXIT_STALLED and lines:
        raise StalledRun(f"no completion for {STALL_SECONDS:.0f}s: {lines[-1]}")
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{cmd[:3]} exited {proc.returncode}: {err[-2000:]}")
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def worker_cmd(engine: str, node: str, queue: str, n: int, c: int, kind: str) -> list[str]:
    if engine == "node":
        return [node, str(NODE_DIR / "worker.mjs"), queue, str(n), str(c), kind]
    base = engine.split("[", 1)[0]
    return [sys.executable, "-m", "bench.pyworker", base, queue, str(n), str(c), kind]


LEVER_ENV = {
    "fast[flush=adaptive]": {"BULLMQ_PLATFORM_FAST_FLUSH": "adaptive"},
    "fast[flush=immediate]": {"BULLMQ_PLATFORM_FAST_FLUSH": "immediate"},
    "fast[no-fetch-next]": {"BULLMQ_PLATFORM_FAST_NO_FETCH_NEXT": "1"},
}


# ------------------------------------------------------------ the run


def rotated(items: tuple[str, ...], r: int) -> tuple[str, ...]:
    k = r % len(items)
    return items[k:] + items[:k]


def drain_cases(cfg: Config) -> Iterator[tuple[str, int, int, str]]:
    engines = cfg.engines
    if cfg.levers:
        engines = (*engines, *LEVER_ENV)
    for kind in cfg.kinds:
        for c in cfg.concurrencies:
            for r in range(cfg.repeats):
                for engine in rotated(engines, r):
                    yield kind, c, r, engine


def jobs_for(cfg: Config, kind: str, c: int) -> int:
    # 1 ms of I/O one job at a time caps every engine near 1k jobs/s: fewer jobs.
    return max(50, cfg.jobs // 5) if kind == "io" and c == 1 else cfg.jobs


def run_drain(
    cfg: Config, server: RedisServer, client: redis.Redis, node: str, case: tuple[Any, ...]
) -> dict[str, Any]:
    kind, c, r, engine = case
    n = jobs_for(cfg, kind, c)
    queue = f"bench-{kind}-c{c}-{engine.split('[')[0]}-{uuid.uuid4().hex[:8]}"
    keys = QueueKeys(DEFAULT_PREFIX, queue)
    asyncio.run(enqueue(queue, n, CHUNK, server.connection_kwargs("worker"), kind))
    env = {**os.environ, **server.env("worker"), **LEVER_ENV.get(engine, {})}
    env["PYTHONPATH"] = str(REPO)
    # Hard bound (the slowest engine, stock at ~500 jobs/s, needs n/500 s).
    timeout = 60 + n / 100
    stalled = False
    try:
        report = _spawn(worker_cmd(engine, node, queue, n, c, kind), env, timeout)
        problems = verify(client, keys, n, report)
    except RuntimeError as err:
        stalled = isinstance(err, StalledRun)
        report = {"elapsed": float("nan"), "cpu": float("nan"), "maxrss_kb": 0}
        problems = [f"STALLED ({err}); queue: {queue_state(client, keys)}" if stalled else str(err)]
    finally:
        delete_queue(client, keys)
    return {
        "case": "drain",
        "kind": kind,
        "concurrency": c,
        "repeat": r,
        "engine": engine,
        "jobs": n,
        "elapsed_s": report["elapsed"],
        "jobs_per_s": n / report["elapsed"] if report["elapsed"] else float("nan"),
        "cpu_us_per_job": report["cpu"] / n * 1e6,
        "max_rss_mb": report["maxrss_kb"] / 1024,
        "ok": not problems,
        "stalled": stalled,
        "problems": "; ".join(problems),
        # The worker's close hung after its N-th completion (figures stand).
        "close_hung": " | ".join(report.get("close_hung") or []),
    }


def run_enqueue(
    cfg: Config, server: RedisServer, client: redis.Redis, node: str, r: int, who: str
) -> dict[str, Any]:
    queue = f"bench-enqueue-{who}-{uuid.uuid4().hex[:8]}"
    keys = QueueKeys(DEFAULT_PREFIX, queue)
    env = {**os.environ, **server.env("worker"), "PYTHONPATH": str(REPO)}
    if who == "node":
        cmd = [node, str(NODE_DIR / "producer.mjs"), queue, str(cfg.jobs), str(CHUNK)]
    else:
        cmd = [sys.executable, "-m", "bench.pyproducer", queue, str(cfg.jobs), str(CHUNK)]
    problems = []
    try:
        report = _spawn(cmd, env, 60 + cfg.jobs / 100)
        waiting = client.llen(keys.wait)
        if waiting != cfg.jobs:
            problems.append(f"{waiting} jobs waiting, {cfg.jobs} enqueued")
    except RuntimeError as err:
        report = {"elapsed": float("nan"), "cpu": float("nan"), "maxrss_kb": 0}
        problems.append(str(err))
    finally:
        delete_queue(client, keys)
    return {
        "case": "enqueue",
        "kind": "addBulk",
        "concurrency": CHUNK,
        "repeat": r,
        "engine": who,
        "jobs": cfg.jobs,
        "elapsed_s": report["elapsed"],
        "jobs_per_s": cfg.jobs / report["elapsed"] if report["elapsed"] else float("nan"),
        "cpu_us_per_job": report["cpu"] / cfg.jobs * 1e6,
        "max_rss_mb": report["maxrss_kb"] / 1024,
        "ok": not problems,
        "stalled": False,
        "problems": "; ".join(problems),
        "close_hung": "",
    }


def run(cfg: Config) -> list[dict[str, Any]]:
    node = ensure_node()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as tmp:
        server = RedisServer(Path(tmp))
        server.start()
        client = redis.Redis(**server.connection_kwargs("worker"), decode_responses=True)
        try:
            print(
                f"Redis {client.info('server')['redis_version']} over TLS (ACL user worker), "
                f"port {server.port}; {os.cpu_count()} CPUs; {cfg.jobs} jobs per run",
                flush=True,
            )
            cases = list(drain_cases(cfg))
            for i, case in enumerate(cases, 1):
                row = run_drain(cfg, server, client, node, case)
                rows.append(row)
                print(_progress(i, len(cases), row), flush=True)
            if cfg.enqueue:
                for r in range(cfg.repeats):
                    for who in rotated(("node", "python"), r):
                        row = run_enqueue(cfg, server, client, node, r, who)
                        rows.append(row)
                        print(_progress(0, 0, row), flush=True)
        finally:
            client.close()
            server.stop()
    return rows


def _progress(i: int, total: int, row: dict[str, Any]) -> str:
    where = f"[{i}/{total}] " if total else ""
    status = "ok" if row["ok"] else f"FAILED: {row['problems']}"
    if row.get("close_hung"):
        status += f"; close() HUNG >{CLOSE_SECONDS:.0f}s, abandoned: {row['close_hung']}"
    return (
        f"  {where}{row['case']} {row['kind']} c={row['concurrency']} r={row['repeat']} "
        f"{row['engine']}: {row['jobs_per_s']:.0f} jobs/s, {row['cpu_us_per_job']:.0f} us/job, "
        f"{row['max_rss_mb']:.0f} MB  {status}"
    )
