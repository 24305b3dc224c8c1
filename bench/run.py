"""The bench run: one TLS + password Redis, three engines, one worker process at a time.

For each job kind (no-op, 1 ms of awaited I/O), concurrency and repeat, the
engines run in an order rotated by the repeat, each draining its own freshly
enqueued queue of N jobs. A worker process reports its own figures (elapsed
time from its first fetch to its N-th completion, CPU seconds over the same
span from its rusage, max RSS); the bench then checks the queue (every job
completed exactly once, nothing waiting/active/locked, removeOnComplete
honoured) and deletes the queue's keys.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from bench.pyproducer import enqueue
from bench.pyworker import CLOSE_SECONDS, EXIT_STALLED, STALL_SECONDS
from local_stack.redis_server import RedisServer

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
NODE_DIR = BENCH_DIR / "node"
RESULTS_DIR = BENCH_DIR / "results"
ENGINES = ("node", "stock", "fast")
KINDS = ("noop", "io")
CHUNK = 1000
# The goal of issue 13: fast/node on no-op jobs, per concurrency.
GOALS = {1: 0.9, 10: 0.9, 50: 1.0}
CPU_GOAL_US = 50
RSS_GOAL_MB = 60


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


# ------------------------------------------------------------ verification


def verify(client: redis.Redis, base: str, n: int, report: dict[str, Any]) -> list[str]:
    """Problems found in a drained queue (empty list: all good)."""
    problems = []
    if report.get("invocations") != n:
        problems.append(f"processor ran {report.get('invocations')} times for {n} jobs")
    pipe = client.pipeline(transaction=False)
    for suffix in ("wait", "active", "paused"):
        pipe.llen(base + suffix)
    for suffix in ("prioritized", "delayed", "failed", "waiting-children"):
        pipe.zcard(base + suffix)
    pipe.scard(base + "stalled")
    counts = pipe.execute()
    names = ("wait", "active", "paused", "prioritized", "delayed", "failed", "waiting-children")
    for name, count in zip((*names, "stalled"), counts, strict=True):
        if count:
            problems.append(f"{count} jobs left in {name}")
    kept = {f"j{i}" for i in range(1, n, 2)}
    completed = set(client.zrange(base + "completed", 0, -1))
    if completed != kept:
        problems.append(
            f"completed set: {len(completed - kept)} unexpected, {len(kept - completed)} missing"
        )
    problems += _check_jobs(client, base, n)
    locks = list(client.scan_iter(match=base + "*:lock", count=1000))
    if locks:
        problems.append(f"{len(locks)} job locks left")
    return problems


def _check_jobs(client: redis.Redis, base: str, n: int) -> list[str]:
    """Kept jobs ran once and returned i; removeOnComplete jobs are gone."""
    problems = []
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        if i % 2:
            pipe.hmget(f"{base}j{i}", "atm", "ats", "returnvalue")
        else:
            pipe.exists(f"{base}j{i}")
    bad = 0
    for i, value in enumerate(pipe.execute()):
        if i % 2:
            if value != ["1", "1", str(i)]:
                bad += 1
        elif value:
            problems.append(f"j{i} has removeOnComplete but its hash is still there")
            break
    if bad:
        problems.append(f"{bad} kept jobs without attemptsMade=1, attemptsStarted=1, returnvalue=i")
    return problems


def queue_state(client: redis.Redis, base: str) -> dict[str, int]:
    """Where a stalled run left the jobs."""
    pipe = client.pipeline(transaction=False)
    for suffix in ("wait", "active"):
        pipe.llen(base + suffix)
    for suffix in ("delayed", "prioritized", "failed", "completed", "marker"):
        pipe.zcard(base + suffix)
    pipe.scard(base + "stalled")
    names = ("wait", "active", "delayed", "prioritized", "failed", "completed", "marker", "stalled")
    return dict(zip(names, pipe.execute(), strict=True))


def delete_queue(client: redis.Redis, base: str) -> None:
    batch: list[str] = []
    for key in client.scan_iter(match=base + "*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            client.unlink(*batch)
            batch.clear()
    if batch:
        client.unlink(*batch)


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
    base = f"bull:{queue}:"
    asyncio.run(enqueue(queue, n, CHUNK, server.connection_kwargs("worker"), kind))
    env = {**os.environ, **server.env("worker"), **LEVER_ENV.get(engine, {})}
    env["PYTHONPATH"] = str(REPO)
    # Hard bound (the slowest engine, stock at ~500 jobs/s, needs n/500 s).
    timeout = 60 + n / 100
    stalled = False
    try:
        report = _spawn(worker_cmd(engine, node, queue, n, c, kind), env, timeout)
        problems = verify(client, base, n, report)
    except RuntimeError as err:
        stalled = isinstance(err, StalledRun)
        report = {"elapsed": float("nan"), "cpu": float("nan"), "maxrss_kb": 0}
        problems = [f"STALLED ({err}); queue: {queue_state(client, base)}" if stalled else str(err)]
    finally:
        delete_queue(client, base)
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
    base = f"bull:{queue}:"
    env = {**os.environ, **server.env("worker"), "PYTHONPATH": str(REPO)}
    if who == "node":
        cmd = [node, str(NODE_DIR / "producer.mjs"), queue, str(cfg.jobs), str(CHUNK)]
    else:
        cmd = [sys.executable, "-m", "bench.pyproducer", queue, str(cfg.jobs), str(CHUNK)]
    problems = []
    try:
        report = _spawn(cmd, env, 60 + cfg.jobs / 100)
        waiting = client.llen(base + "wait")
        if waiting != cfg.jobs:
            problems.append(f"{waiting} jobs waiting, {cfg.jobs} enqueued")
    except RuntimeError as err:
        report = {"elapsed": float("nan"), "cpu": float("nan"), "maxrss_kb": 0}
        problems.append(str(err))
    finally:
        delete_queue(client, base)
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


# ------------------------------------------------------------ summary


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per case and engine: medians, and the median of per-repeat ratios to Node."""
    by_case: dict[tuple[str, str, int], dict[str, dict[int, dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for row in rows:
        key = (row["case"], row["kind"], row["concurrency"])
        by_case[key][row["engine"]][row["repeat"]] = row
    out = []
    nan = float("nan")
    for (case, kind, c), engines in by_case.items():
        ref = {r: row for r, row in engines.get("node", {}).items() if row["ok"]}
        for engine, reps in engines.items():
            good = {r: row for r, row in reps.items() if row["ok"]}
            ratios = [
                good[r]["jobs_per_s"] / ref[r]["jobs_per_s"]
                for r in good
                if r in ref and ref[r]["jobs_per_s"] > 0
            ]
            vals = list(good.values())
            out.append(
                {
                    "case": case,
                    "kind": kind,
                    "concurrency": c,
                    "engine": engine,
                    "jobs_per_s": statistics.median(v["jobs_per_s"] for v in vals) if vals else nan,
                    "cpu_us_per_job": (
                        statistics.median(v["cpu_us_per_job"] for v in vals) if vals else nan
                    ),
                    "max_rss_mb": max(v["max_rss_mb"] for v in vals) if vals else nan,
                    "ratio_to_node": statistics.median(ratios) if ratios else nan,
                    "repeats": f"{len(vals)}/{len(reps)}",
                    "stalled": sum(1 for v in reps.values() if v.get("stalled")),
                    "ok": len(vals) == len(reps),
                }
            )
    return out


def table(summary: list[dict[str, Any]]) -> str:
    head = (
        f"{'case':<8}{'kind':<9}{'conc':>5}  {'engine':<22}{'jobs/s':>9}{'CPU us/job':>12}"
        f"{'max RSS MB':>12}{'x Node':>8}  verified runs"
    )
    lines = [head, "-" * len(head)]
    for s in summary:
        lines.append(
            f"{s['case']:<8}{s['kind']:<9}{s['concurrency']:>5}  {s['engine']:<22}"
            f"{s['jobs_per_s']:>9.0f}{s['cpu_us_per_job']:>12.1f}{s['max_rss_mb']:>12.1f}"
            f"{s['ratio_to_node']:>7.2f}x  {s['repeats']}"
            + (f" ({s['stalled']} STALLED)" if s["stalled"] else "")
        )
    return "\n".join(lines)


def goal_lines(summary: list[dict[str, Any]]) -> list[str]:
    lines = []
    for s in summary:
        if s["case"] != "drain" or s["engine"] != "fast" or s["kind"] != "noop":
            continue
        goal = GOALS.get(s["concurrency"])
        if goal is None:
            continue
        met = s["ratio_to_node"] >= goal
        lines.append(
            f"goal fast/node no-op c={s['concurrency']}: {s['ratio_to_node']:.2f}x "
            f"(>= {goal}x) {'MET' if met else 'NOT MET'}; CPU {s['cpu_us_per_job']:.1f} us/job "
            f"(<= {CPU_GOAL_US}) {'MET' if s['cpu_us_per_job'] <= CPU_GOAL_US else 'NOT MET'}; "
            f"RSS {s['max_rss_mb']:.0f} MB (<= {RSS_GOAL_MB}) "
            f"{'MET' if s['max_rss_mb'] <= RSS_GOAL_MB else 'NOT MET'}"
        )
    return lines


def write_results(cfg: Config, rows: list[dict[str, Any]], summary: list[dict[str, Any]]) -> Path:
    cfg.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = cfg.results_dir / f"bench-{stamp}.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (cfg.results_dir / f"bench-{stamp}.json").write_text(
        json.dumps({"rows": rows, "summary": summary}, indent=1)
    )
    return path


def plot(summary: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in KINDS if any(s["kind"] == k for s in summary)]
    fig, axes = plt.subplots(1, len(kinds), figsize=(5 * len(kinds), 4), squeeze=False)
    titles = {"noop": "no-op jobs", "io": "jobs with 1 ms of awaited I/O"}
    for ax, kind in zip(axes[0], kinds, strict=True):
        for engine, style in (("node", "s-"), ("stock", "v-"), ("fast", "o-")):
            pts = sorted(
                (s["concurrency"], s["jobs_per_s"])
                for s in summary
                if s["case"] == "drain" and s["kind"] == kind and s["engine"] == engine
            )
            if pts:
                label = {"node": "Node BullMQ 6", "stock": "Python bullmq Worker"}.get(
                    engine, "fast engine"
                )
                ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label)
        ax.set_xscale("log")
        ax.set_xticks([1, 10, 50], ["1", "10", "50"])
        ax.set_xlabel("concurrency (one process)")
        ax.set_ylabel("jobs/s")
        ax.set_title(titles.get(kind, kind))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Draining pre-enqueued jobs over TLS, one worker process (median of repeats)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
