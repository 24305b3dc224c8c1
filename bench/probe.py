"""Black-box figures of a running process, read from /proc (Linux), the same for every subject.

A worker under test reports nothing about itself: the bench reads its CPU
(`/proc/<pid>/task/*/schedstat`, nanoseconds summed over every thread, so
Node's GC and libuv threads count), its peak RSS (`VmHWM` in
`/proc/<pid>/status`, the process's own high-water mark; `ru_maxrss` would
keep the bench's peak across fork+exec), and the machine's busy time
(`/proc/stat`) to tell how much CPU other processes took during a run.
proc(5): https://man7.org/linux/man-pages/man5/proc.5.html
"""

from __future__ import annotations

import os
import threading
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path

# How often the sampler reads the subject's CPU (seconds). CPU between two
# instants is interpolated between samples, so this bounds the error per end.
SAMPLE_SECONDS = 0.005
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """CPU time of every thread of `pid` so far; None once it has exited."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
                total += int(fh.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended between listdir and open
    return total / 1e9


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM of `pid` in MB; None once it has exited."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot (steal counted as busy: taken from us)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    values = [int(v) for v in fields[:8]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / _TICKS


def pin(pid: int, cpus: set[int]) -> None:
    """Every thread of `pid` onto `cpus` (threads started later inherit it from theirs)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except OSError:
            continue


def core_plan() -> tuple[set[int], set[int]] | None:
    """(cores for Redis and the bench, cores for the worker), or None with fewer than two."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    return {cores[0]}, {cores[1]}


@dataclass
class Timeline:
    """(wall time, CPU seconds) samples of a few processes plus the machine, while one runs."""

    pids: dict[str, int]
    times: list[float] = field(default_factory=list)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    machine: list[float] = field(default_factory=list)
    peak_mb: dict[str, float] = field(default_factory=dict)
    _last: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self.cpu = {name: [] for name in self.pids}
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(SAMPLE_SECONDS)

    def sample(self) -> None:
        """One sample of every process (an exited one keeps its last CPU figure)."""
        last = self._last
        now = time.time()
        for name, pid in self.pids.items():
            value = cpu_seconds(pid)
            last[name] = value if value is not None else last.get(name, 0.0)
            self.cpu[name].append(last[name])
            peak = peak_rss_mb(pid)
            if peak is not None:
                self.peak_mb[name] = peak
        self.machine.append(machine_busy_seconds())
        self.times.append(now)

    def at(self, series: list[float], when: float) -> float:
        """`series` interpolated at wall time `when` (clamped to the samples)."""
        i = bisect_left(self.times, when)
        if i <= 0:
            return series[0]
        if i >= len(self.times):
            return series[-1]
        t0, t1 = self.times[i - 1], self.times[i]
        v0, v1 = series[i - 1], series[i]
        return v0 + (v1 - v0) * (when - t0) / (t1 - t0) if t1 > t0 else v1

    def between(self, name: str, start: float, end: float) -> float:
        """CPU seconds `name` used between two wall times."""
        return self.at(self.cpu[name], end) - self.at(self.cpu[name], start)

    def machine_between(self, start: float, end: float) -> float:
        return self.at(self.machine, end) - self.at(self.machine, start)
