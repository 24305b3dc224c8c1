"""What a bench run reports: per-case medians and ratios to Node, the table, the goals,
the CSV/JSON results and the plot. The run itself is bench/run.py."""

from __future__ import annotations

import csv
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.run import KINDS, Config

# Throughput goals, fast/node on no-op jobs per concurrency (README "Worker throughput",
# docs/throughput.md).
GOALS = {1: 0.9, 10: 0.9, 50: 1.0}
CPU_GOAL_US = 50
RSS_GOAL_MB = 60


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
