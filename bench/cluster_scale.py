"""`python -m bench.cluster_scale`: total jobs/s of all queues on 1 shard vs 3 shards, same run.

For each shard count it starts a local TLS + ACL Redis Cluster (local_stack/redis_cluster.py,
no replicas: this measures throughput, not failover), pre-enqueues the same jobs into
the same queues, starts one `python -m workers --queue Q --engine E` per queue (`--engine`, fast by
default, as the runtime) and measures, between 10% and 100% of the jobs
finished: total jobs/s, Redis CPU per job (all nodes, and the busiest node) and
worker CPU per job, read from /proc. It prints figures, not verdicts: on a 2-core
machine the worker processes and the Redis nodes share the same cores, so the gain
from more shards is bounded by CPU. docs/redis-cluster.md turns the per-job Redis
cost into the scale model.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bullmq import Queue as BullQueue

from local_stack.processes import PlatformProcess, stop_all, worker_process, write_spec_file
from local_stack.redis_cluster import RedisClusterStack, cluster_spec, key_slot, slot_ranges
from platform_spec.keys import DEFAULT_PREFIX, hash_tagged_prefix
from platform_spec.model import PlatformSpec
from workers.connection import bullmq_connection_arg, connect

TICKS = os.sysconf("SC_CLK_TCK")
BATCH = 500


def cpu_seconds(pid: int | None) -> float:
    """utime + stime of a process from /proc (0 when it is gone)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def spread_queues(count: int, shards: int) -> list[str]:
    """Queue names whose hash tags fall evenly on `shards` equal slot ranges."""
    ranges = slot_ranges(shards)
    per: dict[int, list[str]] = {i: [] for i in range(shards)}
    i = 0
    while sum(len(v) for v in per.values()) < count:
        name = f"scale-{i}"
        slot = key_slot(hash_tagged_prefix(DEFAULT_PREFIX, name))  # the tag decides the slot
        shard = next(s for s, (lo, hi) in enumerate(ranges) if lo <= slot <= hi)
        if len(per[shard]) < -(-count // shards):
            per[shard].append(name)
        i += 1
    return [q for names in per.values() for q in names][:count]


def bench_spec(queues: list[str], concurrency: int, keep: int) -> PlatformSpec:
    return cluster_spec(
        queues=[
            {
                "name": q,
                "handler": "bench.handler",
                "jobs": [{"name": "noop"}],
                "concurrency": concurrency,
                "attempts": 1,
                "removeOnComplete": {"count": keep},  # every job kept: counted at the end
                "autoscaling": {"minReplicas": 1},
            }
            for q in queues
        ],
        schedules=[],
        maintenanceQueue=queues[0],
    )


@dataclass
class Figures:
    shards: int
    jobs: int
    seconds: float
    redis_cpu: float
    busiest_node_cpu: float
    worker_cpu: float

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds

    def line(self) -> str:
        per = 1e6 / self.jobs
        return (
            f"[bench] shards={self.shards}: {self.rate:,.0f} jobs/s total; Redis CPU "
            f"{self.redis_cpu * per:.0f} us/job (all nodes), busiest node "
            f"{self.busiest_node_cpu * per:.0f} us/job; workers CPU {self.worker_cpu * per:.0f} "
            f"us/job ({self.jobs} jobs in {self.seconds:.1f}s)"
        )


async def _enqueue(stack: RedisClusterStack, spec: PlatformSpec, queues: list[str], n: int) -> None:
    for q in queues:
        producer = BullQueue(
            q,
            {
                "connection": bullmq_connection_arg(stack.connection_kwargs("worker")),
                "prefix": spec.queue_prefix(q),
            },
        )
        try:
            for start in range(0, n, BATCH):
                await producer.addBulk(
                    [
                        {"name": "noop", "data": {"i": i}}
                        for i in range(start, min(n, start + BATCH))
                    ]
                )
        finally:
            await producer.close()


async def _finished(
    stack: RedisClusterStack, spec: PlatformSpec, queues: list[str]
) -> tuple[int, int]:
    """(completed, failed) over all queues."""
    client = connect(stack.connection_kwargs("worker"), decode_responses=True)
    try:
        completed = [int(await client.zcard(spec.queue_keys(q).completed)) for q in queues]
        failed = [int(await client.zcard(spec.queue_keys(q).failed)) for q in queues]
        return sum(completed), sum(failed)
    finally:
        await client.aclose()


def measure(
    shards: int,
    queues: list[str],
    per_queue: int,
    concurrency: int,
    tmp: Path,
    engine: str = "fast",
) -> Figures:
    spec = bench_spec(queues, concurrency, per_queue)
    stack = RedisClusterStack(tmp / f"cluster-{shards}", spec=spec, shards=shards, replicas=0)
    workers: list[PlatformProcess] = []
    try:
        stack.start(timeout=120, progress=lambda m: print(f"[bench] shards={shards}: {m}"))
        asyncio.run(_enqueue(stack, spec, queues, per_queue))
        total = per_queue * len(queues)
        print(f"[bench] shards={shards}: enqueued {total} jobs into {len(queues)} queues")
        spec_file = write_spec_file(tmp / f"spec-{shards}.json", spec)
        env = {"BULLMQ_PLATFORM_LOG_LEVEL": "WARNING"}
        workers = [
            worker_process(
                stack, spec, spec_file, q, tmp / f"logs-{shards}", extra_env=env, engine=engine
            ).start()
            for q in queues
        ]

        def sample() -> tuple[float, list[float], float]:
            nodes = [cpu_seconds(n.process.pid if n.process else None) for n in stack.nodes]
            return time.monotonic(), nodes, sum(cpu_seconds(w.pid) for w in workers)

        start: tuple[float, list[float], float] | None = None
        done = failed = 0
        deadline = time.monotonic() + 1800  # bounded
        while done < total and time.monotonic() < deadline:
            time.sleep(0.2)
            completed, failed = asyncio.run(_finished(stack, spec, queues))
            done = completed + failed
            if start is None and done >= total // 10:
                start, first = sample(), done
        end = sample()
        if start is None or done < total:
            raise RuntimeError(f"shards={shards}: only {done} of {total} jobs finished")
        node_cpu = [b - a for a, b in zip(start[1], end[1], strict=True)]
        if failed:
            print(f"[bench] shards={shards}: {failed} job(s) failed (see the workers' logs)")
        return Figures(
            shards=shards,
            jobs=done - first,
            seconds=end[0] - start[0],
            redis_cpu=sum(node_cpu),
            busiest_node_cpu=max(node_cpu),
            worker_cpu=end[2] - start[2],
        )
    finally:
        stop_all(workers)
        stack.stop(kill=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cluster_scale",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("--queues", type=int, default=6, help="queues (default 6)")
    parser.add_argument("--jobs", type=int, default=3000, help="jobs per queue (default 3000)")
    parser.add_argument("--concurrency", type=int, default=50, help="per worker (default 50)")
    parser.add_argument(
        "--shards", type=int, nargs="+", default=[1, 3], help="shard counts (default: 1 3)"
    )
    parser.add_argument(
        "--engine", choices=("fast", "stock"), default="fast", help="worker engine (default fast)"
    )
    args = parser.parse_args(argv)
    queues = spread_queues(args.queues, max(args.shards))
    print(f"[bench] queues: {', '.join(queues)}; {args.jobs} no-op jobs each; {args.engine} engine")
    results: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="cluster-scale-") as tmp:
        for shards in args.shards:
            results.append(
                measure(shards, queues, args.jobs, args.concurrency, Path(tmp), args.engine)
            )
            print(results[-1].line())
    print(f"[bench] cores: {os.cpu_count()} (workers and Redis nodes share them)")
    for r in results:
        print(r.line())
    base = results[0]
    for r in results[1:]:
        print(
            f"[bench] {r.shards} vs {base.shards} shard(s): {r.rate / base.rate:.2f}x jobs/s; "
            f"busiest node's Redis CPU per job {r.busiest_node_cpu / r.jobs * 1e6:.0f} vs "
            f"{base.busiest_node_cpu / base.jobs * 1e6:.0f} us"
        )


if __name__ == "__main__":
    main()
