"""The bench run: one TLS + password Redis, each implementation in turn, one process at a time.

For each job kind (no-op, 1 ms of awaited I/O), concurrency and repeat, the
subjects (bench/subjects.py: the real `python -m workers` process, the fast
engine alone, the stock Python Worker, Node BullMQ) run in an order rotated by
the repeat, each draining its own freshly enqueued queue of N jobs. Every one
is measured from outside the same way (bench/measure.py: the jobs'
`finishedOn`, the process's CPU and VmHWM from /proc), with the worker pinned
to one core and Redis plus the bench to the other when there are two. The
bench then checks the queue (every job completed exactly once, nothing
waiting/active/locked, removeOnComplete honoured; for the real worker, its
/metrics count every outcome) and deletes the queue's keys.

The checks of a drained queue are bench/verify.py; medians, spreads, ratios,
the table, the goals and the files written are bench/report.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from bench.measure import StalledRun, drain
from bench.probe import core_plan, pin
from bench.pyproducer import enqueue
from bench.pyworker import CLOSE_SECONDS
from bench.runtime_venv import python_for
from bench.subjects import (
    BASELINE,
    BENCH_DIR,
    DEFAULT_SUBJECTS,
    KINDS,
    LEVER_ENV,
    NODE_DIR,
    REPO,
    base_of,
    launch,
)
from bench.verify import delete_queue, queue_state, verify
from local_stack.npm import npm_ci
from local_stack.redis_server import RedisServer
from platform_spec.keys import DEFAULT_PREFIX, QueueKeys

RESULTS_DIR = BENCH_DIR / "results"
CHUNK = 1000
# The packages a measured Python process imports from a source tree.
PYTHON_PACKAGES = ("workers", "platform_spec", "bench", "local_stack")


@dataclass
class Config:
    jobs: int = 10_000
    repeats: int = 3
    concurrencies: tuple[int, ...] = (1, 10, 50)
    kinds: tuple[str, ...] = KINDS
    engines: tuple[str, ...] = DEFAULT_SUBJECTS
    enqueue: bool = True
    levers: bool = False
    pin: bool = True
    baseline: Path | None = None
    # Which Python runs the Python workers (bench/runtime_venv.py).
    python: str = "runtime"
    results_dir: Path = RESULTS_DIR
    plot: Path | None = REPO / "docs" / "bench.png"


# ------------------------------------------------------------ Node


def ensure_node() -> str:
    """node on PATH and bench/node/node_modules installed (npm ci from the lock file)."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node not found: install Node.js (>= 18) to run the bench")
    if not (NODE_DIR / "node_modules" / "bullmq").is_dir():
        print("installing Node BullMQ into bench/node (npm ci) ...", flush=True)
    try:
        npm_ci(NODE_DIR, "bullmq")
    except FileNotFoundError as error:
        raise SystemExit(f"{error}; npm installs Node BullMQ into bench/node") from error
    return node


def precompile(python: str, roots: list[Path]) -> None:
    """Write the bytecode of each tree's packages, as the image does (`compileall` in
    images/platform/Containerfile): otherwise, with PYTHONDONTWRITEBYTECODE set, every
    worker would compile its sources at start-up, which no pod does."""
    dirs = [str(root / pkg) for root in roots for pkg in PYTHON_PACKAGES if (root / pkg).is_dir()]
    subprocess.run([python, "-m", "compileall", "-q", *dirs], check=True, stdout=subprocess.DEVNULL)


# ------------------------------------------------------------ processes


def _spawn(cmd: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Run one producer process to its end; its JSON line of figures."""
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{cmd[:3]} exited {proc.returncode}: {proc.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(lines[-1])
    return report


# ------------------------------------------------------------ the run


def rotated(items: tuple[str, ...], r: int) -> tuple[str, ...]:
    k = r % len(items)
    return items[k:] + items[:k]


def drain_cases(cfg: Config) -> Iterator[tuple[str, int, int, str]]:
    engines = cfg.engines
    if cfg.levers:
        engines = (*engines, *(k for k in LEVER_ENV if base_of(k) in engines))
    if cfg.baseline is not None:
        engines = (*engines, BASELINE)
    engines = tuple(dict.fromkeys(engines))  # a lever named in --engines and by --levers
    for kind in cfg.kinds:
        for c in cfg.concurrencies:
            for r in range(cfg.repeats):
                for engine in rotated(engines, r):
                    yield kind, c, r, engine


def jobs_for(cfg: Config, kind: str, c: int) -> int:
    # 1 ms of I/O one job at a time caps every engine near 1k jobs/s: fewer jobs.
    return max(50, cfg.jobs // 5) if kind == "io" and c == 1 else cfg.jobs


def run_drain(
    cfg: Config,
    server: RedisServer,
    client: redis.Redis,
    node: str,
    case: tuple[Any, ...],
    workdir: Path,
    worker_cores: set[int] | None,
) -> dict[str, Any]:
    kind, c, r, subject = case
    n = jobs_for(cfg, kind, c)
    queue = f"bench-{kind}-c{c}-{base_of(subject)}-{uuid.uuid4().hex[:8]}"
    keys = QueueKeys(DEFAULT_PREFIX, queue)
    asyncio.run(enqueue(queue, n, CHUNK, server.connection_kwargs("worker"), kind))
    how = launch(
        subject, node, server, queue, n, c, kind, workdir, cfg.baseline, python_for(cfg.python)
    )
    assert server.process is not None
    row: dict[str, Any] = {
        "case": "drain",
        "kind": kind,
        "concurrency": c,
        "repeat": r,
        "engine": subject,
        "jobs": n,
    }
    nan = float("nan")
    figures: dict[str, Any] = {
        "jobs_per_s": nan,
        "cpu_us_per_job": nan,
        "redis_cpu_us_per_job": nan,
        "startup_s": nan,
        "startup_cpu_s": nan,
        "max_rss_mb": nan,
        "others_cores": nan,
        "disturbed": False,
    }
    stalled = False
    report: dict[str, Any] = {}
    try:
        result = drain(
            how, client, keys, n, server.process.pid, worker_cores, workdir / f"{queue}.log"
        )
        figures, report = result.row(), result.report
        problems = verify(client, keys, n, report)
    except RuntimeError as err:
        stalled = isinstance(err, StalledRun)
        problems = [f"STALLED ({err}); queue: {queue_state(client, keys)}" if stalled else str(err)]
    finally:
        delete_queue(client, keys)
    return {
        **row,
        **figures,
        "log_lines": report.get("log_lines", 0),
        "ok": not problems,
        "stalled": stalled,
        "problems": "; ".join(problems),
        # A reference worker's close hung after its N-th completion (figures stand).
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
        cmd = [python_for(cfg.python), "-m", "bench.pyproducer", queue, str(cfg.jobs), str(CHUNK)]
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
    python = python_for(cfg.python)
    build = subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0], sys.base_prefix)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split(maxsplit=1)
    print(f"Python workers run with {python} (Python {build[0]} of {build[1].strip()})", flush=True)
    precompile(python, [REPO] if cfg.baseline is None else [REPO, cfg.baseline.resolve()])
    rows: list[dict[str, Any]] = []
    plan = core_plan() if cfg.pin else None
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        server = RedisServer(Path(tmp) / "redis")
        server.start()
        assert server.process is not None
        # The bench's own checks and clean-up list a queue's keys with SCAN, which only
        # admin may run (docs/security.md); the workers and producers run as `worker`.
        client = redis.Redis(**server.connection_kwargs("admin"), decode_responses=True)
        try:
            where = "not pinned (one core)" if plan is None else "not pinned (--no-pin)"
            if plan is not None:
                shared, worker = plan
                pin(server.process.pid, shared)
                os.sched_setaffinity(0, shared)
                where = f"worker on core {sorted(worker)}, Redis + bench on {sorted(shared)}"
            load = os.getloadavg()
            print(
                f"Redis {client.info('server')['redis_version']} over TLS (ACL user worker), "
                f"port {server.port}; {os.cpu_count()} CPUs, {where}; load average "
                f"{load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}; {cfg.jobs} jobs per run",
                flush=True,
            )
            cases = list(drain_cases(cfg))
            for i, case in enumerate(cases, 1):
                row = run_drain(
                    cfg, server, client, node, case, Path(tmp), None if plan is None else plan[1]
                )
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
    extra = ""
    if row["case"] == "drain":
        extra = (
            f", start-up {row['startup_s']:.2f} s ({row['startup_cpu_s']:.2f} s CPU), "
            f"Redis {row['redis_cpu_us_per_job']:.0f} us/job, "
            f"others {row['others_cores']:.2f} cores" + (" DISTURBED" if row["disturbed"] else "")
        )
    if row.get("close_hung"):
        status += f"; close() HUNG >{CLOSE_SECONDS:.0f}s, abandoned: {row['close_hung']}"
    return (
        f"  {where}{row['case']} {row['kind']} c={row['concurrency']} r={row['repeat']} "
        f"{row['engine']}: {row['jobs_per_s']:.0f} jobs/s, {row['cpu_us_per_job']:.0f} us/job, "
        f"{row['max_rss_mb']:.0f} MB{extra}  {status}"
    )
