"""Worker and scheduler processes of the local platform (and of the fault drills).

One `python -m workers --queue NAME` per queue and one `python -m scheduler`,
each configured exactly as the chart configures a pod: the spec as a JSON file
(`BULLMQ_PLATFORM_SPEC_FILE`), Redis from `RedisServer.env(role)` (password by
file, never by value), and its own HTTP port on 127.0.0.1 for `/healthz`,
`/readyz` and `/metrics`. Children run in their own session, so a Ctrl-C in the
terminal reaches only the local stack, which then stops them in order: SIGTERM,
workers drain, the scheduler last.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from local_stack.dashboard import MAIN as DASHBOARD_MAIN
from local_stack.dashboard import basic_auth_password_file, install_node_modules
from local_stack.lifetime import die_with_parent
from local_stack.redis_server import free_port
from platform_spec.model import PlatformSpec
from platform_spec.stack import REPO_ROOT

ENV_PREFIX = "BULLMQ_PLATFORM_"


def write_spec_file(path: Path, spec: PlatformSpec) -> Path:
    """The spec as the chart mounts it: JSON with camelCase keys."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(spec.model_dump_json(by_alias=True))
    return path


class RedisEndpoint(Protocol):
    """What a platform process needs of the Redis it runs against: a RedisServer, or a
    local Redis Cluster (local_stack/redis_cluster.py)."""

    @property
    def state_dir(self) -> Path: ...

    def env(self, role: str = "worker") -> dict[str, str]: ...


def process_env(
    server: RedisEndpoint,
    role: str,
    spec_file: Path,
    http_port: int,
    *,
    extra: dict[str, str] | None = None,
    pythonpath: Sequence[Path] = (),
) -> dict[str, str]:
    """Env of one platform process: no inherited BULLMQ_PLATFORM_* and no secret values."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env.update(server.env(role))
    env.update(
        BULLMQ_PLATFORM_SPEC_FILE=str(spec_file),
        BULLMQ_PLATFORM_HTTP_HOST="127.0.0.1",
        BULLMQ_PLATFORM_HTTP_PORT=str(http_port),
        BULLMQ_PLATFORM_LOG_FORMAT="json",
        # Nothing from a machine-wide /var/run/secrets: only the files named above.
        BULLMQ_PLATFORM_REDIS_SECRETS_DIR=str(server.state_dir / "no-secrets-dir"),
        PYTHONPATH=os.pathsep.join(str(p) for p in (*pythonpath, REPO_ROOT)),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra or {})
    return env


@dataclass
class PlatformProcess:
    """One worker or scheduler process: start, signal, restart, probe."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_file: Path
    http_port: int
    grace_seconds: float = 30.0
    proc: subprocess.Popen[bytes] | None = None
    serves_metrics: bool = True  # Prometheus scrapes its /metrics (the dashboard has none)
    starts: int = 0

    def start(self) -> PlatformProcess:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the terminal is ours to forward
                preexec_fn=die_with_parent,  # no orphans when we are killed
            )
        self.starts += 1
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def url(self, path: str = "/healthz") -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"

    def signal(self, sig: signal.Signals) -> None:
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None if it still runs after `timeout` seconds."""
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> int | None:
        """SIGKILL (a crash, as the drills want it) and reap."""
        self.signal(signal.SIGKILL)
        return self.wait(10)

    def terminate(self, timeout: float | None = None) -> int | None:
        """SIGTERM (drain), wait up to the grace period, then SIGKILL like the kubelet."""
        if not self.running:
            return self.returncode
        self.signal(signal.SIGTERM)
        code = self.wait(self.grace_seconds if timeout is None else timeout)
        if code is None:
            code = self.kill()
        return code

    def restart(self) -> PlatformProcess:
        if self.running:
            self.kill()
        return self.start()

    def probe(self, path: str = "/healthz", timeout: float = 0.5) -> int | None:
        """HTTP status of one endpoint, or None when nothing answers."""
        if not self.running:
            return None
        try:
            return httpx.get(self.url(path), timeout=timeout).status_code
        except httpx.HTTPError:
            return None

    def status(self) -> str:
        if self.proc is None:
            return "not started"
        code = self.proc.poll()
        return "running" if code is None else f"exited {code}"


def worker_process(
    server: RedisEndpoint,
    spec: PlatformSpec,
    spec_file: Path,
    queue: str,
    log_dir: Path,
    *,
    name: str | None = None,
    http_port: int | None = None,
    extra_env: dict[str, str] | None = None,
    pythonpath: Sequence[Path] = (),
    engine: str | None = None,
) -> PlatformProcess:
    """`python -m workers --queue QUEUE` as the `worker` ACL user (not started yet);
    `engine` picks `--engine` (None: the CLI's default)."""
    port = http_port or free_port()
    label = name or f"worker {queue}"
    env = process_env(server, "worker", spec_file, port, extra=extra_env, pythonpath=pythonpath)
    return PlatformProcess(
        name=label,
        argv=[
            sys.executable,
            "-m",
            "workers",
            "--queue",
            queue,
            *(["--engine", engine] if engine else []),
        ],
        env=env,
        log_file=log_dir / f"{label.replace(' ', '-')}.log",
        http_port=port,
        grace_seconds=float(spec.queue(queue).grace_period_seconds),
    )


def scheduler_process(
    server: RedisEndpoint,
    spec_file: Path,
    log_dir: Path,
    *,
    name: str = "scheduler",
    http_port: int | None = None,
    extra_env: dict[str, str] | None = None,
) -> PlatformProcess:
    """`python -m scheduler` as the `scheduler` ACL user (not started yet)."""
    port = http_port or free_port()
    env = process_env(server, "scheduler", spec_file, port, extra=extra_env)
    return PlatformProcess(
        name=name,
        argv=[sys.executable, "-m", "scheduler"],
        env=env,
        log_file=log_dir / f"{name.replace(' ', '-')}.log",
        http_port=port,
        grace_seconds=30.0,
    )


def dashboard_process(
    server: RedisEndpoint,
    spec_file: Path,
    log_dir: Path,
    *,
    password_file: Path,
    http_port: int | None = None,
) -> PlatformProcess:
    """`node dashboard/src/main.mjs` as the `dashboard` ACL user on 127.0.0.1 (not started)."""
    port = http_port or free_port()
    env = process_env(server, "dashboard", spec_file, port)
    env.update(
        BULLMQ_PLATFORM_DASHBOARD_HOST="127.0.0.1",
        BULLMQ_PLATFORM_DASHBOARD_PORT=str(port),
        BULLMQ_PLATFORM_DASHBOARD_PASSWORD_FILE=str(password_file),
    )
    return PlatformProcess(
        name="dashboard",
        argv=[shutil.which("node") or "node", str(DASHBOARD_MAIN)],
        env=env,
        log_file=log_dir / "dashboard.log",
        http_port=port,
        grace_seconds=10.0,
        serves_metrics=False,
    )


def stop_all(processes: Iterable[PlatformProcess]) -> dict[str, int | None]:
    """SIGTERM every process at once, then wait for each within its grace period."""
    procs = [p for p in processes if p.running]
    for p in procs:
        p.signal(signal.SIGTERM)
    deadline = time.monotonic() + max((p.grace_seconds for p in procs), default=0)
    codes: dict[str, int | None] = {}
    for p in procs:
        code = p.wait(max(deadline - time.monotonic(), 0.1))
        codes[p.name] = code if code is not None else p.kill()
    return codes


@dataclass
class Platform:
    """The scheduler plus one worker per queue of a spec, against one Redis (or cluster)."""

    server: RedisEndpoint
    spec: PlatformSpec
    state_dir: Path
    worker_env: dict[str, str] = field(default_factory=dict)
    # Env of every Python process (e.g. the Sentinels to ask for the primary).
    redis_env: dict[str, str] = field(default_factory=dict)
    pythonpath: Sequence[Path] = ()
    scheduler: PlatformProcess | None = None
    workers: list[PlatformProcess] = field(default_factory=list)
    dashboard: PlatformProcess | None = None

    @property
    def spec_file(self) -> Path:
        return self.state_dir / "spec.json"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def processes(self) -> list[PlatformProcess]:
        extra = [p for p in (self.scheduler, self.dashboard) if p is not None]
        return [*extra, *self.workers]

    @property
    def dashboard_password_file(self) -> Path:
        return self.state_dir / "dashboard" / "password"

    def start(self) -> None:
        write_spec_file(self.spec_file, self.spec)
        self.scheduler = scheduler_process(
            self.server, self.spec_file, self.log_dir, extra_env=self.redis_env
        ).start()
        self.workers = [
            worker_process(
                self.server,
                self.spec,
                self.spec_file,
                q.name,
                self.log_dir,
                extra_env={**self.redis_env, **self.worker_env},
                pythonpath=self.pythonpath,
            ).start()
            for q in self.spec.queues
        ]
        if self.spec.dashboard.enabled:
            install_node_modules()
            password = basic_auth_password_file(self.state_dir)
            self.dashboard = dashboard_process(
                self.server, self.spec_file, self.log_dir, password_file=password
            ).start()

    def wait_healthy(self, timeout: float = 60.0, path: str = "/readyz") -> list[str]:
        """Names of processes not answering 200 on `path` when `timeout` ran out (bounded)."""
        deadline = time.monotonic() + timeout
        pending = list(self.processes)
        while pending and time.monotonic() < deadline:
            pending = [p for p in pending if p.running and p.probe(path) != 200]
            if pending:
                time.sleep(0.2)
        return [p.name for p in self.processes if not p.running or p in pending]

    def revive(self, max_starts: int = 5) -> list[str]:
        """Restart processes that died (as the kubelet would), at most `max_starts` each."""
        revived = []
        for p in self.processes:
            if p.proc is not None and not p.running and p.starts < max_starts:
                p.start()
                revived.append(p.name)
        return revived

    def stop(self) -> dict[str, int | None]:
        """Workers drain first (SIGTERM, all at once), then the scheduler stops."""
        codes = stop_all(self.workers)
        if self.dashboard is not None:
            codes[self.dashboard.name] = self.dashboard.terminate()
        if self.scheduler is not None:
            with contextlib.suppress(Exception):
                codes[self.scheduler.name] = self.scheduler.terminate()
        return codes
