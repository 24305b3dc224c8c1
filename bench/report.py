"""What a bench run reports: per-case medians, spreads and ratios to Node, the table, the goals,
the CSV/JSON results and the plot. The run itself is bench/run.py."""

from __future__ import annotations

import csv
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.run import Config
from bench.subjects import KINDS

# Issue 20's goals for the real worker process (`worker`) on no-op jobs, in the
# same run as Node: jobs/s at least this multiple of Node's at each concurrency,
# CPU per job at most this multiple of Node's, start-up no slower than Node's,
# peak RSS at most this many MB.
PRODUCT = "worker"
RATE_GOAL = 1.25
GOAL_CONCURRENCIES = (1, 10, 50)
CPU_GOAL_RATIO = 0.7
RSS_GOAL_MB = 60


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _ratios(
    good: dict[int, dict[str, Any]], ref: dict[int, dict[str, Any]], key: str
) -> list[float]:
    """Per-repeat ratios of `key` to Node's in the same repeat."""
    return [good[r][key] / ref[r][key] for r in good if r in ref and ref[r][key] > 0]


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per case and subject: medians, spread, and the median of per-repeat ratios to Node."""
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
            vals = list(good.values())
            rates = [v["jobs_per_s"] for v in vals]
            ratios = _ratios(good, ref, "jobs_per_s")
            out.append(
                {
                    "case": case,
                    "kind": kind,
                    "concurrency": c,
                    "engine": engine,
                    "jobs_per_s": _median(rates),
                    "jobs_per_s_min": min(rates) if rates else nan,
                    "jobs_per_s_max": max(rates) if rates else nan,
                    "cpu_us_per_job": _median([v["cpu_us_per_job"] for v in vals]),
                    "cpu_ratio_to_node": _median(_ratios(good, ref, "cpu_us_per_job")),
                    "redis_cpu_us_per_job": _median(
                        [v.get("redis_cpu_us_per_job", nan) for v in vals]
                    ),
                    "startup_s": _median([v.get("startup_s", nan) for v in vals]),
                    "startup_cpu_s": _median([v.get("startup_cpu_s", nan) for v in vals]),
                    "max_rss_mb": max(v["max_rss_mb"] for v in vals) if vals else nan,
                    "ratio_to_node": _median(ratios),
                    "ratio_min": min(ratios) if ratios else nan,
                    "ratio_max": max(ratios) if ratios else nan,
                    "repeats": f"{len(vals)}/{len(reps)}",
                    "disturbed": sum(1 for v in reps.values() if v.get("disturbed")),
                    "stalled": sum(1 for v in reps.values() if v.get("stalled")),
                    "ok": len(vals) == len(reps),
                }
            )
    return out


def table(summary: list[dict[str, Any]]) -> str:
    head = (
        f"{'case':<8}{'kind':<8}{'conc':>5}  {'engine':<19}{'jobs/s':>8}{'spread':>15}"
        f"{'x Node':>8}{'(range)':>13}{'CPU us/job':>11}{'x Node':>7}{'start s':>8}{'(CPU)':>6}"
        f"{'RSS MB':>8}{'Redis us':>9}  runs"
    )
    lines = [head, "-" * len(head)]
    for s in summary:
        spread = f"{s['jobs_per_s_min']:.0f}-{s['jobs_per_s_max']:.0f}"
        ratio_range = f"{s['ratio_min']:.2f}-{s['ratio_max']:.2f}"
        flags = ""
        if s["disturbed"]:
            flags += f" ({s['disturbed']} disturbed)"
        if s["stalled"]:
            flags += f" ({s['stalled']} STALLED)"
        lines.append(
            f"{s['case']:<8}{s['kind']:<8}{s['concurrency']:>5}  {s['engine']:<19}"
            f"{s['jobs_per_s']:>8.0f}{spread:>15}{s['ratio_to_node']:>7.2f}x{ratio_range:>13}"
            f"{s['cpu_us_per_job']:>11.1f}{s['cpu_ratio_to_node']:>6.2f}x"
            f"{s.get('startup_s', float('nan')):>8.2f}{s.get('startup_cpu_s', float('nan')):>6.2f}"
            f"{s['max_rss_mb']:>8.1f}"
            f"{s.get('redis_cpu_us_per_job', float('nan')):>9.1f}  {s['repeats']}{flags}"
        )
    return "\n".join(lines)


def _met(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def goal_lines(summary: list[dict[str, Any]]) -> list[str]:
    """Issue 20's goals for the real worker process against Node, one line each."""
    rows = {
        (s["engine"], s["concurrency"]): s
        for s in summary
        if s["case"] == "drain" and s["kind"] == "noop"
    }
    lines = []
    nan = float("nan")
    for c in GOAL_CONCURRENCIES:
        mine, node = rows.get((PRODUCT, c)), rows.get(("node", c))
        if mine is None or node is None:
            continue
        rate, cpu = mine["ratio_to_node"], mine["cpu_ratio_to_node"]
        start, node_start = mine["startup_s"], node["startup_s"]
        # CPU to the first job: what start-up costs, whatever share of a contended core
        # each process got (the wall-clock figure depends on that share).
        start_cpu, node_cpu = mine.get("startup_cpu_s", nan), node.get("startup_cpu_s", nan)
        lines += [
            f"goal c={c} jobs/s: worker {rate:.2f}x Node (>= {RATE_GOAL}x; repeats "
            f"{mine['ratio_min']:.2f}-{mine['ratio_max']:.2f}x) {_met(rate >= RATE_GOAL)}",
            f"goal c={c} CPU/job: worker {mine['cpu_us_per_job']:.1f} us = {cpu:.2f}x Node's "
            f"{node['cpu_us_per_job']:.1f} (<= {CPU_GOAL_RATIO}x) {_met(cpu <= CPU_GOAL_RATIO)}",
            f"goal c={c} start-up: worker {start:.2f} s, Node {node_start:.2f} s "
            f"(<= Node) {_met(start <= node_start)}; CPU to the first job: worker "
            f"{start_cpu:.2f} s, Node {node_cpu:.2f} s {_met(start_cpu <= node_cpu)}",
            f"goal c={c} peak RSS: worker {mine['max_rss_mb']:.1f} MB (<= {RSS_GOAL_MB}) "
            f"{_met(mine['max_rss_mb'] <= RSS_GOAL_MB)}",
        ]
    return lines


def write_results(cfg: Config, rows: list[dict[str, Any]], summary: list[dict[str, Any]]) -> Path:
    cfg.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = cfg.results_dir / f"bench-{stamp}.csv"
    with path.open("w", newline="") as fh:
        fields = list(dict.fromkeys(key for row in rows for key in row))
        writer = csv.DictWriter(fh, fieldnames=fields)
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
        for engine, style in (("node", "s-"), ("stock", "v-"), ("fast", "o--"), ("worker", "o-")):
            pts = sorted(
                (s["concurrency"], s["jobs_per_s"])
                for s in summary
                if s["case"] == "drain" and s["kind"] == kind and s["engine"] == engine
            )
            if pts:
                label = {
                    "node": "Node BullMQ 6",
                    "stock": "Python bullmq Worker",
                    "fast": "fast engine alone",
                    "worker": "python -m workers",
                }[engine]
                ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label)
        ax.set_xscale("log")
        ax.set_xticks([1, 10, 50], ["1", "10", "50"])
        ax.set_xlabel("concurrency (one process)")
        ax.set_ylabel("jobs/s")
        ax.set_title(titles.get(kind, kind))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Draining pre-enqueued jobs over TLS\n(one worker process, median of repeats)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
