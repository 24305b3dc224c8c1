"""`python -m bench`: the real `python -m workers` process (and references) vs Node BullMQ 6."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.report import goal_lines, plot, summarize, table, write_results
from bench.run import RESULTS_DIR, Config, run
from bench.runtime_venv import PYTHONS
from bench.subjects import DEFAULT_SUBJECTS, KINDS, LEVER_ENV, SUBJECTS


def parse(argv: list[str]) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Start a TLS + ACL Redis, then measure the real worker process (python -m workers "
            "--queue Q, with its defaults), the fast engine alone, the stock Python bullmq "
            "Worker and a Node BullMQ 6 worker draining N pre-enqueued jobs (no-op and 1 ms "
            "I/O; concurrency 1, 10, 50; repeats in rotated order; one worker process at a "
            "time, pinned to its own core), all from outside: jobs/s from the jobs' finishedOn, "
            "CPU and peak RSS from /proc, start-up from spawn to the first finished job. Plus "
            "Python vs Node addBulk. Prints each row's median, spread and ratio to Node, flags "
            "disturbed repeats, prints the goals as met/not met; writes raw rows to "
            "bench/results/ and a plot."
        ),
    )
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs per run (default 10000)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per case (default 3)")
    parser.add_argument(
        "--quick", action="store_true", help="2000 jobs, 1 repeat: a few-minute sanity run"
    )
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[1, 10, 50], help="default: 1 10 50"
    )
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument(
        "--engines",
        nargs="+",
        choices=(*SUBJECTS, *LEVER_ENV),
        default=list(DEFAULT_SUBJECTS),
        metavar="ENGINE",
        help="worker: python -m workers (the product); fast: the engine alone; stock: Python "
        "bullmq's Worker; node: Node BullMQ 6 (the reference); or one lever variant, e.g. "
        "'worker[loop=asyncio]' (bench/subjects.py LEVER_ENV). Default: node worker fast",
    )
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin the worker and Redis to separate cores"
    )
    parser.add_argument("--no-enqueue", action="store_true", help="skip the addBulk cases")
    parser.add_argument(
        "--levers",
        action="store_true",
        help="also run variants with one lever off (worker: one log line per job, flush per "
        "tick at c=1, one write per tick, asyncio's loop; fast: flush adaptive/immediate, "
        "no fetch-next)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="also run the real worker from this source tree (e.g. `git archive <commit> | "
        "tar -x -C DIR`) as worker[baseline]: a change measured against what it replaces",
    )
    parser.add_argument(
        "--python",
        choices=PYTHONS,
        default="runtime",
        help="the Python workers run with: runtime (default) = a venv with exactly "
        "requirements/runtime.lock, as in the image (.venv-runtime, built once); "
        "current = this interpreter (the dev venv, with Pulumi's opentelemetry)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--plot",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "docs" / "bench.png",
        help="PNG to write (default docs/bench.png); --no-plot to skip",
    )
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    jobs, repeats = args.jobs, args.repeats
    if args.quick:
        jobs, repeats = min(jobs, 2000), 1
    if jobs < 2 or repeats < 1:
        parser.error("--jobs must be >= 2 and --repeats >= 1")
    return Config(
        jobs=jobs,
        repeats=repeats,
        concurrencies=tuple(args.concurrency),
        kinds=tuple(args.kinds),
        engines=tuple(args.engines),
        enqueue=not args.no_enqueue,
        levers=args.levers,
        pin=not args.no_pin,
        baseline=args.baseline,
        python=args.python,
        results_dir=args.results_dir,
        plot=None if args.no_plot else args.plot,
    )


def main(argv: list[str] | None = None) -> int:
    cfg = parse(sys.argv[1:] if argv is None else argv)
    rows = run(cfg)
    summary = summarize(rows)
    print()
    print(table(summary))
    print()
    for line in goal_lines(summary):
        print(line)
    path = write_results(cfg, rows, summary)
    print(f"\nraw rows: {path} (+ .json)")
    if cfg.plot is not None:
        plot(summary, cfg.plot)
        print(f"plot: {cfg.plot}")
    for row in rows:
        if row.get("close_hung"):
            print(
                f"close() HUNG after the last job: {row['kind']} c={row['concurrency']} "
                f"r={row['repeat']} {row['engine']} (figures kept): {row['close_hung']}"
            )
    failed = [r for r in rows if not r["ok"]]
    for row in failed:
        print(
            f"FAILED run: {row['kind']} c={row['concurrency']} r={row['repeat']} "
            f"{row['engine']}: {row['problems']}"
        )
    # The stock Worker is the comparison, not the product: its failures (a stall
    # of Python bullmq's loop) are reported above but do not fail the bench.
    fatal = [r for r in failed if r["engine"].split("[")[0] != "stock"]
    if any("NOT MET" in line for line in goal_lines(summary)):
        print("(goals are printed, never asserted: the bench's exit code is about correctness)")
    if fatal:
        print(f"\n{len(fatal)} runs FAILED verification", file=sys.stderr)
        return 1
    if failed:
        print(f"\n{len(failed)} stock-engine runs failed (not counted against the bench)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
