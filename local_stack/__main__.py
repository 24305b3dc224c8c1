"""`python -m local_stack`: the whole platform on one machine, for newcomers and drills.

python -m local_stack up [--stack dev]        # Redis, scheduler, a worker per queue, dashboard
python -m local_stack up --redis cluster      # ... on a 6-node Redis Cluster (3 shards x 2)
python -m local_stack up --monitoring         # ... plus redis_exporter and Prometheus
python -m local_stack enqueue [--count 5]     # sample jobs into every queue (another terminal)
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Annotated, Any

import redis
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from local_stack import samples
from local_stack.processes import Platform, PlatformProcess
from local_stack.redis_cluster import RedisClusterStack
from local_stack.redis_server import RedisServer, local_spec
from monitoring.stack import MonitoringStack
from platform_spec.model import PlatformSpec
from platform_spec.settings import RedisSettings
from platform_spec.stack import REPO_ROOT, STACKS, load_stack
from workers.connection import connect_sync

app = typer.Typer(
    help="Run the BullMQ platform locally: TLS + ACL Redis configured by the chart, "
    "the scheduler and one worker per queue.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)
STATE_FILE = "platform.json"

StackOption = Annotated[str, typer.Option(help=f"Stack whose queues to run ({', '.join(STACKS)}).")]
StateDirOption = Annotated[
    Path | None,
    typer.Option(help="Where certificates, passwords, data and logs live (.state/<stack>)."),
]


@app.callback()
def main() -> None:
    """Run the BullMQ platform locally (see `up --help` and `enqueue --help`)."""


def _local_variant(spec: PlatformSpec, redis_mode: str = "standalone") -> PlatformSpec:
    """The stack's spec, with what a laptop needs: admin user on, same policy otherwise;
    `redis_mode` cluster runs it on a local Redis Cluster (redis.mode cluster)."""
    data = spec.model_dump(by_alias=True)
    data["redis"]["auth"]["adminEnabled"] = True
    data["redis"]["mode"] = "cluster" if redis_mode == "cluster" else "in-cluster"
    return local_spec(**{k: v for k, v in data.items() if k != "environment"})


def _redis(spec: PlatformSpec, state: Path, port: int) -> RedisServer | RedisClusterStack:
    """The local Redis of a spec: one server, or a cluster of its shards x (1 + replicas)."""
    if spec.redis.mode == "cluster":
        c = spec.redis.cluster
        return RedisClusterStack(
            state / "redis-cluster", spec=spec, shards=c.shards, replicas=c.replicas_per_shard
        )
    return RedisServer(state / "redis", spec=spec, port=port)


def _state_dir(stack: str, state_dir: Path | None) -> Path:
    if stack not in STACKS:
        raise typer.BadParameter(f"unknown stack {stack!r} (known: {', '.join(STACKS)})")
    return state_dir or REPO_ROOT / ".state" / stack


def depth_table(client: redis.Redis, spec: PlatformSpec) -> Table:
    """A table of every queue's depth, read with the key names of platform_spec.keys."""
    table = Table(title="queue depths (refreshes every second; Ctrl-C stops)")
    width = max((len(q.name) for q in spec.queues), default=5)
    table.add_column("queue", no_wrap=True, min_width=width)
    # wait + prio is the backlog; done = completed jobs BullMQ still keeps; dlq = <queue>-dlq
    columns = ("wait", "prio", "active", "delayed", "done", "failed", "dlq")
    for column in columns:
        table.add_column(column, justify="right")
    pipe = client.pipeline(transaction=False)
    for queue in spec.queues:
        keys = spec.queue_keys(queue.name)
        pipe.llen(keys.wait)
        pipe.zcard(keys.prioritized)
        pipe.llen(keys.active)
        pipe.zcard(keys.delayed)
        pipe.zcard(keys.completed)
        pipe.zcard(keys.failed)
        pipe.llen(spec.queue_keys(queue.dlq_name).wait)
    counts = pipe.execute()
    n = len(columns)
    for i, queue in enumerate(spec.queues):
        table.add_row(queue.name, *(str(c) for c in counts[i * n : i * n + n]))
    return table


def process_table(processes: list[PlatformProcess]) -> Table:
    """Each process: pid, state, restarts, and its /healthz and /readyz answers."""
    table = Table(title="processes (http://127.0.0.1:<port>/healthz, /readyz, /metrics)")
    for column in ("process", "pid", "state", "starts", "port", "healthz", "readyz"):
        left = column in ("process", "state")
        table.add_column(column, justify="left" if left else "right", no_wrap=True)
    for p in processes:
        health, ready = p.probe("/healthz"), p.probe("/readyz")
        table.add_row(
            p.name,
            str(p.pid or "-"),
            p.status(),
            str(p.starts),
            str(p.http_port),
            "-" if health is None else str(health),
            "-" if ready is None else str(ready),
        )
    return table


def _endpoints(server: RedisServer | RedisClusterStack, platform: Platform) -> str:
    assert server.tls is not None
    pw = server.state_dir / "passwords"
    kind = "TLS"
    if isinstance(server, RedisClusterStack):
        kind = f"Redis Cluster, {server.shards} shards x {1 + server.replicas} nodes, TLS"
    lines = [
        f"Redis: rediss://127.0.0.1:{server.port} ({kind}, CA {server.tls.ca_cert})",
        f"Passwords: {pw}/<user> (users: worker, scheduler, keda, exporter, admin, dashboard)",
        f"Connect: REDISCLI_AUTH=$(cat {pw / 'admin'}) redis-cli "
        + ("-c " if isinstance(server, RedisClusterStack) else "")
        + f"--tls --cacert {server.tls.ca_cert} -p {server.port} --user admin",
        f"Logs: {platform.log_dir}/<process>.log (JSON lines)",
    ]
    for p in platform.processes:
        if p is platform.dashboard:
            continue
        lines.append(f"{p.name:<32} health {p.url('/healthz')}  metrics {p.url('/metrics')}")
    if platform.dashboard is not None:
        board = platform.spec.dashboard
        mode = "actions on" if board.actions_enabled else "read-only"
        lines.append(
            f"Dashboard ({mode}): {platform.dashboard.url(board.base_path)}  user "
            f"{board.auth.username}, password in {platform.dashboard_password_file}"
        )
    return "\n".join(lines)


def _write_state(
    state: Path, stack: str, server: RedisServer | RedisClusterStack, platform: Platform
) -> None:
    doc: dict[str, Any] = {
        "stack": stack,
        "redisPort": server.port,
        "redisDir": str(server.state_dir),
        "redisCluster": isinstance(server, RedisClusterStack),
        "specFile": str(platform.spec_file),
        "processes": [
            {"name": p.name, "pid": p.pid, "httpPort": p.http_port} for p in platform.processes
        ],
    }
    (state / STATE_FILE).write_text(json.dumps(doc, indent=2))


class _StopDuringStartup(Exception):
    """SIGTERM arrived before the stack was up (raised by the signal handler)."""


def _stop_starting(*_: object) -> None:
    raise _StopDuringStartup


def _watch(
    server: RedisServer | RedisClusterStack, spec: PlatformSpec, platform: Platform, once: bool
) -> None:
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    client = connect_sync(server.connection_kwargs("admin"), socket_timeout=5)
    try:
        if once:
            missing = platform.wait_healthy(timeout=90)
            console.print(Group(depth_table(client, spec), process_table(platform.processes)))
            if missing:
                console.print(f"[red]not ready:[/] {', '.join(missing)} (see their logs)")
                raise typer.Exit(1)
            return
        view = Group(depth_table(client, spec), process_table(platform.processes))
        with Live(view, console=console, refresh_per_second=2) as live:
            while not stop:
                time.sleep(1)
                revived = platform.revive()
                if revived:
                    console.log(f"restarted after an exit: {', '.join(revived)}")
                live.update(Group(depth_table(client, spec), process_table(platform.processes)))
        console.print()
    except KeyboardInterrupt:
        pass
    finally:
        client.close()


def _start_monitoring(
    server: RedisServer, platform: Platform, state: Path, once: bool
) -> MonitoringStack:
    """redis_exporter + Prometheus (5 s scrapes, the chart's rules with their real `for:`)."""
    console.print("starting redis_exporter and Prometheus ...")
    watchers = MonitoringStack(
        server, platform.processes, state / "monitoring", interval="5s"
    ).start()
    assert watchers.prometheus is not None and watchers.exporter is not None
    prom = watchers.prometheus
    console.print(
        f"Prometheus: {prom.url}  (alerts {prom.url}/alerts, targets {prom.url}/targets)\n"
        f"redis_exporter: {watchers.exporter.url}",
        soft_wrap=True,
    )
    if once:  # prove the scrape: every target up (bounded)
        deadline = time.monotonic() + 60
        health = prom.target_health()
        while time.monotonic() < deadline and not (
            health and all(h == "up" for h in health.values())
        ):
            time.sleep(0.5)
            health = prom.target_health()
        up_count = sum(h == "up" for h in health.values())
        console.print(f"Prometheus targets up: {up_count}/{len(health)}")
    return watchers


@app.command()
def up(
    stack: StackOption = "dev",
    state_dir: StateDirOption = None,
    port: Annotated[int, typer.Option(help="Redis TLS port on 127.0.0.1 (0: any free).")] = 0,
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="Start everything, wait until ready, print the status once, stop."
        ),
    ] = False,
    redis_mode: Annotated[
        str,
        typer.Option(
            "--redis",
            help="`standalone` (one Redis) or `cluster`: a Redis Cluster of the stack's "
            "redis.cluster shards x (1 + replicasPerShard) nodes (default 3 x 2), TLS and "
            "ACL on every node, ephemeral loopback ports; workers run the stock engine.",
        ),
    ] = "standalone",
    monitoring: Annotated[
        bool,
        typer.Option(
            "--monitoring",
            help="Also run redis_exporter (configured as the chart's sidecar) and Prometheus "
            "(scraping every process, the chart's alerts and recording rules loaded); "
            "prints Prometheus's URL.",
        ),
    ] = False,
) -> None:
    """Start Redis (TLS, ACL users, AOF, noeviction), the scheduler, one worker per queue
    and, when the stack enables it, the dashboard (its URL and password file are printed).

    Shows live queue depths and process health; Ctrl-C or SIGTERM stops everything
    cleanly: workers stop fetching and finish their active jobs, then the
    scheduler and Redis stop (Redis writes its AOF and RDB files).
    """
    state = _state_dir(stack, state_dir)
    if redis_mode not in ("standalone", "cluster"):
        raise typer.BadParameter(f"unknown mode {redis_mode!r}", param_hint="--redis")
    if redis_mode == "cluster" and monitoring:
        raise typer.BadParameter(
            "--monitoring watches one Redis; not with --redis cluster yet", param_hint="--redis"
        )
    spec = _local_variant(load_stack(stack).spec, redis_mode)
    server = _redis(spec, state, port)
    platform = Platform(server, spec, state)
    watchers: MonitoringStack | None = None
    # SIGTERM during start-up stops what already runs and exits 0, like one later
    # (_watch turns it into a flag); before, it killed us with children orphaned.
    signal.signal(signal.SIGTERM, _stop_starting)
    try:
        console.print(f"[bold]bullmq-platform local stack[/] ({stack}): preparing {state}")
        if isinstance(server, RedisClusterStack):
            server.start(progress=console.print)
        else:
            server.prepare()
            server.start()
        if isinstance(server, RedisServer) and spec.redis.auth.enabled:
            # as in the pod: rotations and renewals reach Redis live
            server.start_reloader(interval_seconds=spec.redis.auth.reload_interval_seconds)
        platform.start()
        _write_state(state, stack, server, platform)
        console.print(_endpoints(server, platform), soft_wrap=True)
        if monitoring and isinstance(server, RedisServer):
            watchers = _start_monitoring(server, platform, state, once)
        console.print(
            f"Sample jobs: .venv/bin/python -m local_stack enqueue --stack {stack}"
            + (f" --state-dir {state}" if state_dir else "")
        )
        _watch(server, spec, platform, once)
    except _StopDuringStartup:
        console.print("SIGTERM during start-up")
    finally:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: keep draining
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # so does a second SIGTERM
        try:
            if watchers is not None:
                console.print("stopping Prometheus and redis_exporter ...")
                watchers.stop()
            console.print("stopping: workers drain their active jobs, then the scheduler ...")
            codes = platform.stop()
            for name, code in codes.items():
                console.print(f"  {name}: exit {code}")
            console.print("stopping Redis (it writes its AOF and RDB files) ...")
            server.stop()
            (state / STATE_FILE).unlink(missing_ok=True)
            console.print("stopped; state kept in " + str(state))
        finally:
            signal.signal(signal.SIGINT, previous)


@app.command()
def enqueue(
    stack: StackOption = "dev",
    state_dir: StateDirOption = None,
    count: Annotated[int, typer.Option(min=1, max=10_000, help="Jobs per queue.")] = 5,
    queue: Annotated[
        list[str] | None, typer.Option("--queue", "-q", help="Only this queue (repeatable).")
    ] = None,
) -> None:
    """Send sample jobs (valid payloads for each queue's handlers) to the running local stack."""
    state = _state_dir(stack, state_dir)
    try:
        doc = json.loads((state / STATE_FILE).read_text())
    except FileNotFoundError:
        console.print(f"[red]no local stack runs from {state}[/]: start it with scripts/local")
        raise typer.Exit(1) from None
    spec = PlatformSpec.model_validate_json(Path(doc["specFile"]).read_text())
    known = [q.name for q in spec.queues]
    for name in queue or []:
        if name not in known:
            raise typer.BadParameter(f"unknown queue {name!r} (known: {known})")
    redis_dir = Path(doc.get("redisDir") or state / "redis")
    settings = RedisSettings(
        host="127.0.0.1",
        port=int(doc["redisPort"]),
        username="worker",
        password_file=redis_dir / "passwords" / "worker",
        ca_file=redis_dir / "tls" / "ca.crt",
        secrets_dir=redis_dir / "no-secrets-dir",
        cluster=bool(doc.get("redisCluster")),
    )
    jobs = samples.plan(spec, count, queue)
    ids = asyncio.run(samples.enqueue(spec, settings, jobs))
    table = Table(title=f"enqueued {len(ids)} sample jobs")
    for column in ("queue", "jobs", "names"):
        table.add_column(column)
    for name in dict.fromkeys(j.queue for j in jobs):
        mine = [j for j in jobs if j.queue == name]
        table.add_row(name, str(len(mine)), ", ".join(dict.fromkeys(j.name for j in mine)))
    Console().print(table)


if __name__ == "__main__":
    app()
