"""Autoscaling simulator: backlog and worker pods over time for an arrival curve.

A deterministic, one-second-step model of one queue under KEDA + HPA:

- jobs arrive at `curve(t)` jobs/s (fluid: fractions of jobs are allowed);
- each ready pod has `slots` = throughput * job_seconds concurrency slots; a
  job holds a slot for `job_seconds`, so a pod completes `throughput` jobs/s;
- every `hpa_sync_seconds` the HPA reads the metric (the metrics-api signal,
  `desired_replicas`, target 1; or the plain redis trigger, wait + active with
  target `target_per_replica`), applies the 10 % tolerance, the stabilization
  windows and the rate policies of `Behavior`, and clamps to [max(min, 1), max];
- every `polling_interval_seconds` KEDA checks activity: it activates a
  workload at zero, and scales it to zero `cooldown_seconds` after it was last
  active (minReplicas 0 only);
- a new pod serves after `pod_startup_seconds`; a removed pod finishes its
  jobs (the worker drains on SIGTERM) but takes no new ones.

It reports peak backlog, time to drain after a burst, p95 job wait (arrival to
start) and replica-minutes (pods that exist, started or starting).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from autoscaling.hpa import HPA_SYNC_SECONDS, HPA_TOLERANCE, Behavior, hpa_recommendation
from autoscaling.signal import QueueState, ScalingPolicy, desired_replicas

Curve = Callable[[int], float]
Scaler = Literal["metricsApi", "redis"]
EPS = 1e-9


@dataclass(frozen=True)
class Arrivals:
    """An arrival-rate curve (jobs/s) over `seconds`, with the burst window if any."""

    name: str
    seconds: int
    rate: Curve
    burst: tuple[int, int] | None = None  # [start, end) of the peak


def burst_curve(base: float, factor: float = 10, *, at: int = 600, length: int = 120) -> Arrivals:
    """`base` jobs/s, `factor` times that for `length` s from `at`, then base again."""
    end = at + length

    def rate(t: int) -> float:
        return base * factor if at <= t < end else base

    return Arrivals("burst", end + 1800, rate, (at, end))


def wave_curve(base: float, *, day: int = 86_400) -> Arrivals:
    """A daily wave: from 5 % of `base` at night to `base` at midday, over one day."""

    def rate(t: int) -> float:
        return base * (0.525 - 0.475 * math.cos(2 * math.pi * t / day))

    return Arrivals("wave", day, rate)


def trickle_curve(jobs: int = 3, *, every: int = 1800, seconds: int = 6 * 3600) -> Arrivals:
    """`jobs` jobs at once every `every` s (long idle gaps in between), over `seconds`."""

    def rate(t: int) -> float:
        return float(jobs) if t % every == 0 else 0.0

    return Arrivals("trickle", seconds, rate)


@dataclass(frozen=True)
class SimConfig:
    """A queue's autoscaling values and its workers' speed."""

    throughput: float = 1.0  # jobs/s one pod completes
    job_seconds: int = 10  # how long a job holds a slot
    target_per_replica: float | None = None  # work per pod; None: the pod's slots
    min_replicas: int = 1
    max_replicas: int = 10
    polling_interval_seconds: int = 15
    cooldown_seconds: int = 300
    pod_startup_seconds: int = 20
    behavior: Behavior = field(default_factory=Behavior)
    scaler: Scaler = "metricsApi"
    hpa_sync_seconds: int = HPA_SYNC_SECONDS
    tolerance: float = HPA_TOLERANCE
    initial_replicas: int | None = None  # None: min_replicas

    @property
    def slots(self) -> float:
        return self.throughput * self.job_seconds

    @property
    def target(self) -> float:
        return self.target_per_replica or self.slots

    @property
    def scale_up_window(self) -> int:
        """The earliest a new pod can serve after a rise: HPA sync + up-stabilization + start-up."""
        return (
            self.hpa_sync_seconds
            + self.behavior.up_stabilization_seconds
            + self.pod_startup_seconds
        )


@dataclass
class Result:
    """Series (one point per second) and figures of one run."""

    config: SimConfig
    arrivals: Arrivals
    backlog: list[float]
    replicas: list[int]
    ready: list[int]
    cum_arrived: list[float]
    cum_started: list[float]
    peak_backlog: float = 0.0
    drain_seconds: int | None = None
    p95_wait_seconds: float = 0.0
    replica_minutes: float = 0.0
    max_replicas_seen: int = 0

    def figures(self) -> dict[str, float | int | None]:
        return {
            "peak_backlog": round(self.peak_backlog, 1),
            "drain_seconds": self.drain_seconds,
            "p95_wait_seconds": round(self.p95_wait_seconds, 1),
            "replica_minutes": round(self.replica_minutes, 1),
            "max_replicas": self.max_replicas_seen,
        }


class _Hpa:
    """The HPA's scale decision with behavior (stabilization windows, rate policies)."""

    def __init__(self, config: SimConfig):
        self.config = config
        self.recommendations: deque[tuple[int, int]] = deque()
        self.events: deque[tuple[int, int]] = deque()  # (t, change in replicas)

    def decide(self, t: int, metric: float, target: float, current: int) -> int:
        cfg, beh = self.config, self.config.behavior
        floor = max(cfg.min_replicas, 1)
        rec = hpa_recommendation(metric, target, current, tolerance=cfg.tolerance)
        rec = max(floor, min(cfg.max_replicas, rec))
        self.recommendations.append((t, rec))
        keep = max(beh.up_stabilization_seconds, beh.down_stabilization_seconds)
        while self.recommendations and self.recommendations[0][0] < t - keep:
            self.recommendations.popleft()
        up = min(r for s, r in self.recommendations if s >= t - beh.up_stabilization_seconds)
        down = max(r for s, r in self.recommendations if s >= t - beh.down_stabilization_seconds)
        desired = min(max(current, up), down)
        if desired > current:
            ups = sum(d for s, d in self.events if d > 0 and s > t - beh.up_period_seconds)
            desired = min(desired, beh.up_limit(current - ups))
        elif desired < current:
            downs = -sum(d for s, d in self.events if d < 0 and s > t - beh.down_period_seconds)
            desired = max(desired, beh.down_limit(current + downs))
        desired = max(floor, min(cfg.max_replicas, desired))
        if desired != current:
            self.events.append((t, desired - current))
        return desired


def _state(now: int, waiting: float, active: float) -> QueueState:
    def jobs(x: float) -> int:
        return max(0, math.ceil(x - 1e-6))

    return QueueState(
        now_ms=now * 1000,
        found=True,
        wait=jobs(waiting),
        prioritized=0,
        active=jobs(active),
        delayed=0,
        delayed_due=0,
        delayed_soon=0,
        paused=False,
        concurrency=None,
        rate_max=None,
        rate_duration_ms=None,
        limiter_count=0,
        limiter_pttl_ms=-2,
        oldest_enqueued_ms=None,
        job_seconds=None,
    )


def _metric(cfg: SimConfig, state: QueueState) -> tuple[float, float]:
    """(metric, target) as KEDA serves them to the HPA."""
    if cfg.scaler == "redis":
        return float(state.wait + state.active), cfg.target
    policy = ScalingPolicy(
        concurrency=max(1, round(cfg.slots)),
        target_per_replica=max(1, round(cfg.target)),
        max_replicas=cfg.max_replicas,
    )
    return float(desired_replicas(state, policy).replicas), 1.0


def simulate(arrivals: Arrivals, cfg: SimConfig) -> Result:
    """Run the model second by second; deterministic."""
    start = cfg.min_replicas if cfg.initial_replicas is None else cfg.initial_replicas
    pods: list[int] = [0] * start  # ready-at time of each pod; the initial ones are ready
    waiting = active = 0.0
    starts: deque[float] = deque([0.0] * cfg.job_seconds, maxlen=cfg.job_seconds)
    hpa = _Hpa(cfg)
    last_active = 0
    res = Result(cfg, arrivals, [], [], [], [], [])
    cum_a = cum_s = 0.0
    for t in range(arrivals.seconds):
        arrived = arrivals.rate(t)
        waiting += arrived
        cum_a += arrived
        active -= starts[0]  # jobs started job_seconds ago finish now
        ready = sum(1 for r in pods if r <= t)
        free = ready * cfg.slots - active
        begun = max(0.0, min(waiting, free))
        waiting -= begun
        active += begun
        cum_s += begun
        starts.append(begun)
        if waiting < EPS:
            waiting = 0.0
        state = _state(t, waiting, active)
        metric, target = _metric(cfg, state)
        current = len(pods)
        if t % cfg.polling_interval_seconds == 0:
            if metric > 0:
                last_active = t
                if current == 0:  # KEDA activates
                    pods = [t + cfg.pod_startup_seconds] * max(cfg.min_replicas, 1)
            elif cfg.min_replicas == 0 and current and t - last_active >= cfg.cooldown_seconds:
                pods = []  # KEDA scales to zero after the cooldown
        if pods and t % cfg.hpa_sync_seconds == 0:
            want = hpa.decide(t, metric, target, len(pods))
            if want > len(pods):
                pods += [t + cfg.pod_startup_seconds] * (want - len(pods))
            elif want < len(pods):
                # Not-ready pods go first, then the newest ready ones.
                pods = sorted(pods)[:want]
        res.backlog.append(waiting)
        res.replicas.append(len(pods))
        res.ready.append(ready)
        res.cum_arrived.append(cum_a)
        res.cum_started.append(cum_s)
    _figures(res)
    return res


def _figures(res: Result) -> None:
    res.peak_backlog = max(res.backlog, default=0.0)
    res.replica_minutes = sum(res.replicas) / 60
    res.max_replicas_seen = max(res.replicas, default=0)
    if res.arrivals.burst is not None:
        # From the burst's start until less than one job waits again.
        begin = res.arrivals.burst[0]
        res.drain_seconds = next(
            (t - begin for t in range(begin + 1, len(res.backlog)) if res.backlog[t] < 1.0),
            None,
        )
    res.p95_wait_seconds = wait_quantile(res.cum_arrived, res.cum_started, 0.95)


def _time_at(cum: list[float], n: float) -> float:
    """First time (linear within a second) at which the cumulative series reaches n."""
    lo, hi = 0, len(cum) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] + EPS >= n:
            hi = mid
        else:
            lo = mid + 1
    before = cum[lo - 1] if lo else 0.0
    step = cum[lo] - before
    return lo - 1 + (n - before) / step if step > EPS else float(lo)


def wait_quantile(cum_arrived: list[float], cum_started: list[float], q: float) -> float:
    """The q-quantile of job waits (FIFO): started job n waited start(n) - arrival(n)."""
    started = cum_started[-1] if cum_started else 0.0
    if started < EPS:
        return 0.0
    samples = 2000
    waits = sorted(
        max(0.0, _time_at(cum_started, n) - _time_at(cum_arrived, n))
        for n in (started * (i + 0.5) / samples for i in range(samples))
    )
    return waits[min(samples - 1, math.floor(q * samples))]


# ------------------------------------------------------------ choosing defaults


@dataclass(frozen=True)
class Candidate:
    config: SimConfig
    result: Result

    @property
    def meets_goal(self) -> bool:
        """Drains a 10x burst within twice the scale-up window."""
        d = self.result.drain_seconds
        return d is not None and d <= 2 * self.config.scale_up_window


def candidates(base: SimConfig, target_factors: tuple[float, ...] = (1.0,)) -> list[SimConfig]:
    """The grid the defaults are chosen from: HPA scale-up behavior (and optionally the target).

    Scale-down stays at its floor (300 s stabilization, required by the chart):
    a longer window only adds idle pod-minutes after every burst.
    """
    grid = []
    for up_stab in (0, 15, 30, 60):
        for up_pods in (4, 8, 16):
            for up_percent in (100, 200, 400):
                for factor in target_factors:
                    behavior = replace(
                        base.behavior,
                        up_stabilization_seconds=up_stab,
                        up_pods=up_pods,
                        up_percent=up_percent,
                    )
                    target = base.slots * factor
                    grid.append(replace(base, behavior=behavior, target_per_replica=target))
    return grid


def choose(
    arrivals: Arrivals, base: SimConfig, target_factors: tuple[float, ...] = (1.0,)
) -> tuple[Candidate | None, list[Candidate]]:
    """The goal-meeting candidate with the fewest replica-minutes (then lowest p95 wait)."""
    runs = [Candidate(cfg, simulate(arrivals, cfg)) for cfg in candidates(base, target_factors)]
    ok = [c for c in runs if c.meets_goal]
    best = min(
        ok,
        key=lambda c: (round(c.result.replica_minutes, 1), c.result.p95_wait_seconds),
        default=None,
    )
    return best, runs


# ------------------------------------------------------------ plot


def plot(results: list[Result], path: Path) -> Path:
    """Backlog and pods over time, one panel per run, to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 1, figsize=(10, 3.2 * len(results)), squeeze=False)
    for ax, res in zip(axes[:, 0], results, strict=True):
        scale = 3600 if len(res.backlog) > 4 * 3600 else 60
        unit = "h" if scale == 3600 else "min"
        xs = [t / scale for t in range(len(res.backlog))]
        ax.plot(xs, res.backlog, color="tab:red", label="waiting jobs")
        ax.set_ylabel("waiting jobs", color="tab:red")
        ax.set_xlabel(f"time ({unit})")
        twin = ax.twinx()
        twin.step(xs, res.replicas, color="tab:blue", where="post", label="pods")
        twin.step(xs, res.ready, color="tab:cyan", where="post", linestyle=":", label="ready")
        twin.set_ylabel("pods", color="tab:blue")
        twin.set_ylim(bottom=0)
        f = res.figures()
        ax.set_title(
            f"{res.arrivals.name} ({res.config.scaler}): peak backlog {f['peak_backlog']}, "
            f"drain {f['drain_seconds']} s, p95 wait {f['p95_wait_seconds']} s, "
            f"{f['replica_minutes']} pod-min",
            fontsize=9,
        )
        if res.arrivals.burst:
            ax.axvspan(*(b / scale for b in res.arrivals.burst), color="0.9")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
