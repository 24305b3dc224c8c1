"""Instructions per job of the real worker process, counted by valgrind's callgrind.

usage: python -m bench.instructions [--baseline DIR] [--seconds S] [--concurrency C]

Why: on this kind of VM the wall-clock bench moves with the host's load. On
one day, with the same code, Node's CPU per job at c=1 measured 272 to 403 µs
from run to run (124-153 µs on another) and the worker's ratio to it 1.10x to 1.31x
(docs/throughput.md, "Eighth round"), so a lever worth a few percent cannot be
seen there, even against a `--baseline` in the same run. Callgrind counts the
instructions a process executes: the same for the same code and inputs
whatever else the machine does (within about 0.5 % here). Instructions are
not time (after an idle wait the same instructions run several times slower),
so this ranks trees; the goals stay with `python -m bench`.

How: the bench's TLS + ACL Redis and jobs (bench/pyproducer.py), and the real
`python -m workers --queue Q` of this tree (and of DIR) started under callgrind
with instrumentation off. It is switched on once the first jobs are done
(start-up left out), off after S seconds and at least 50 jobs. The count is
divided by the jobs fetched in that window (the queue's wait list, read before
and after).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import redis

from bench.pyproducer import enqueue
from bench.run import precompile
from bench.runtime_venv import python_for
from bench.subjects import BASELINE, REPO, launch
from local_stack.lifetime import die_with_parent
from local_stack.redis_server import RedisServer
from platform_spec.keys import DEFAULT_PREFIX, QueueKeys

# Jobs fetched before the count starts (start-up and the first jobs' imports left out).
WARM_JOBS = 200
# The window lasts at least this many jobs, however long they take.
MIN_WINDOW_JOBS = 50
# Jobs enqueued per second of the window: far more than a worker under callgrind runs.
JOBS_PER_SECOND = 1_000
# Under callgrind the worker runs some 50 times slower: a start-up this long is stuck.
START_SECONDS = 180.0
STOP_SECONDS = 120.0


@dataclass
class Count:
    """Instructions of one window of one worker, and the jobs it fetched meanwhile."""

    instructions: int
    jobs: int

    @property
    def per_job(self) -> float:
        return self.instructions / self.jobs


def _totals(out: Path) -> int:
    """The instruction total of a callgrind output file: its `totals:` line (`summary:`
    says 0 when instrumentation was switched on and off by callgrind_control)."""
    found = [
        int(line.split()[1])
        for line in out.read_text().splitlines()
        if line.startswith(("summary:", "totals:"))
    ]
    if not found:
        raise RuntimeError(f"no totals in {out}")
    return max(found)


def _instrument(pid: int, state: str) -> None:
    """Switch callgrind's instrumentation of `pid` on or off (callgrind_control -i)."""
    subprocess.run(["callgrind_control", "-i", state, str(pid)], check=True, capture_output=True)


def count(
    server: RedisServer,
    tree: Path | None,
    python: str,
    seconds: float,
    concurrency: int,
    workdir: Path,
) -> Count:
    """Run one worker (this repository's, or `tree`'s) under callgrind and count a window."""
    queue = f"instr-{uuid.uuid4().hex[:8]}"
    keys = QueueKeys(DEFAULT_PREFIX, queue)
    # More than a worker under callgrind fetches in the warm-up and the window (it does
    # 80-200 jobs/s at c=1 here); a queue drained early is reported, not counted.
    n = WARM_JOBS + MIN_WINDOW_JOBS + int(JOBS_PER_SECOND * seconds)
    asyncio.run(enqueue(queue, n, 1000, server.connection_kwargs("worker"), "noop"))
    subject = "worker" if tree is None else BASELINE
    how = launch(subject, "", server, queue, n, concurrency, "noop", workdir, tree, python)
    out = workdir / f"{queue}.callgrind"
    argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    client = redis.Redis(**server.connection_kwargs("admin"))
    log = (workdir / f"{queue}.log").open("wb")
    proc = subprocess.Popen(
        [*argv, *how.argv],
        env=how.env,
        cwd=how.cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent,
    )
    try:

        def fetched() -> int:
            return n - int(client.llen(keys.wait))

        deadline = time.monotonic() + START_SECONDS
        while fetched() < WARM_JOBS:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (workdir / f"{queue}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the worker did not start under callgrind:\n{tail}")
            time.sleep(0.2)
        _instrument(proc.pid, "on")
        first = fetched()
        time.sleep(seconds)
        # A loaded machine may run few jobs in the window: it lasts until enough are done.
        deadline = time.monotonic() + START_SECONDS
        while fetched() - first < MIN_WINDOW_JOBS and time.monotonic() < deadline:
            time.sleep(0.2)
        before = fetched()
        _instrument(proc.pid, "off")
        after = fetched()
        proc.terminate()  # SIGTERM: the worker drains and exits; callgrind writes `out`
        proc.wait(STOP_SECONDS)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        client.close()
    if after >= n - concurrency:
        raise RuntimeError(f"the queue ran dry within the {seconds:g} s window: count fewer")
    # The switch off lands somewhere between the two reads.
    jobs = (before + after) / 2 - first
    if jobs < 1:
        raise RuntimeError(f"no job finished in the {seconds:g} s window")
    return Count(_totals(out), round(jobs))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.instructions",
        description="Instructions per job of the real worker process (python -m workers), "
        "counted by callgrind: repeatable on a noisy machine, to compare two trees.",
    )
    parser.add_argument("--baseline", type=Path, help="also count this source tree's worker")
    parser.add_argument("--seconds", type=float, default=20.0, help="counted window (default 20)")
    parser.add_argument("--concurrency", type=int, default=1, help="worker concurrency (default 1)")
    parser.add_argument(
        "--python",
        choices=("runtime", "current"),
        default="runtime",
        help="runtime (default): the image's packages (bench/runtime_venv.py); current: this one",
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error(f"--seconds must be more than 0, not {args.seconds:g}")
    if args.concurrency < 1:
        parser.error(f"--concurrency must be at least 1, not {args.concurrency}")
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind is not installed (scripts/bootstrap installs it: apt valgrind)")
    python = python_for(args.python)
    trees: list[tuple[str, Path | None]] = [("this tree", None)]
    if args.baseline is not None:
        trees.append(("baseline", args.baseline.resolve()))
    precompile(python, [REPO] + [tree for _, tree in trees if tree is not None])
    counts: dict[str, Count] = {}
    with tempfile.TemporaryDirectory(prefix="instr-") as tmp:
        server = RedisServer(Path(tmp) / "redis")
        server.start()
        try:
            for label, tree in trees:
                print(f"  {label}: counting {args.seconds:g} s under callgrind ...", flush=True)
                counts[label] = found = count(
                    server, tree, python, args.seconds, args.concurrency, Path(tmp)
                )
                print(
                    f"{label}: {found.per_job:,.0f} instructions per job "
                    f"({found.jobs:,} jobs, c={args.concurrency})",
                    flush=True,
                )
        finally:
            server.stop()
    if "baseline" in counts:
        ratio = counts["this tree"].per_job / counts["baseline"].per_job
        print(f"this tree / baseline: {ratio:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
