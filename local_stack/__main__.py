"""`python -m local_stack`: the whole platform on one machine, for newcomers and drills.

python -m local_stack up [--stack dev]        # Redis, scheduler, a worker per queue, dashboard
python -m local_stack up --monitoring         # ... plus redis_exporter and Prometheus
python -m local_stack enqueue [--count 5]     # sample jobs into every queue (another terminal)
python -m local_stack up --redis sentinel     # 3 Redis nodes + 3 Sentinels (failover)
python -m local_stack kill-primary            # SIGKILL the current primary; watch the failover
python -m local_stack sizing [--payload 1024]  # Redis bytes per job by state and payload size
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import tempfile
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import redis
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from local_stack import samples
from local_stack import sizing as sizing_table
from local_stack.processes import Platform, PlatformProcess
from local_stack.redis_cluster import RedisClusterStack
from local_stack.redis_server import RedisServer, local_spec
from local_stack.sentinel_cluster import SentinelCluster
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


class RedisMode(StrEnum):
    standalone = "standalone"
    sentinel = "sentinel"
    cluster = "cluster"


# A local Redis Cluster (local_stack/redis_cluster.py) or Sentinel deployment, if any.
Cluster = SentinelCluster | RedisClusterStack


# Sentinel timings for a laptop: fail over about 2 s after the primary dies.
LOCAL_SENTINEL = {"downAfterMilliseconds": 4000, "failoverTimeoutMilliseconds": 3000}


def _local_variant(spec: PlatformSpec, mode: RedisMode = RedisMode.standalone) -> PlatformSpec:
    """The stack's spec, with what a laptop needs: admin user on, same policy otherwise."""
    data = spec.model_dump(by_alias=True)
    data["redis"]["auth"]["adminEnabled"] = True
    data["redis"]["mode"] = "in-cluster"
    if mode is RedisMode.sentinel:
        data["redis"]["mode"] = "sentinel"
        data["redis"]["sentinel"].update(LOCAL_SENTINEL)
    if mode is RedisMode.cluster:
        data["redis"]["mode"] = "cluster"
    return local_spec(**{k: v for k, v in data.items() if k != "environment"})


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
    for queue in spec.queues:
        # A partitioned queue's partitions, added up (one BullMQ queue otherwise).
        totals = [0] * len(columns)
        for keys in spec.partition_keys(queue.name):
            pipe = client.pipeline(transaction=False)
            pipe.llen(keys.wait)
            pipe.zcard(keys.prioritized)
            pipe.llen(keys.active)
            pipe.zcard(keys.delayed)
            pipe.zcard(keys.completed)
            pipe.zcard(keys.failed)
            totals = [t + int(c) for t, c in zip(totals, pipe.execute(), strict=False)]
        totals[-1] = int(client.llen(spec.queue_keys(queue.dlq_name).wait))
        table.add_row(queue.name, *(str(c) for c in totals))
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


def _endpoints(server: RedisServer, platform: Platform, cluster: Cluster | None = None) -> str:
    assert server.tls is not None
    pw = server.state_dir / "passwords"
    first = "Redis" if cluster is None else "Redis node-0 (first primary)"
    cli = ""
    if isinstance(cluster, RedisClusterStack):
        first = f"Redis Cluster ({cluster.shards} shards x {1 + cluster.replicas} nodes), seed"
        cli = "-c "
    lines = [f"{first}: rediss://127.0.0.1:{server.port} (TLS, CA {server.tls.ca_cert})"]
    if isinstance(cluster, SentinelCluster):
        hosts = cluster.sentinel_env()["BULLMQ_PLATFORM_REDIS_SENTINEL_HOSTS"]
        lines.append(f"Sentinels: {hosts} (master {cluster.master_name}, TLS, same users)")
    lines += [
        f"Passwords: {pw}/<user> (users: worker, scheduler, keda, exporter, admin, dashboard)",
        f"Connect: REDISCLI_AUTH=$(cat {pw / 'admin'}) redis-cli {cli}"
        f"--tls --cacert {server.tls.ca_cert} -p {server.port} --user admin",
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
    state: Path,
    stack: str,
    server: RedisServer,
    platform: Platform,
    cluster: Cluster | None = None,
) -> None:
    rc = cluster if isinstance(cluster, RedisClusterStack) else None
    doc: dict[str, Any] = {
        "stack": stack,
        "redisPort": server.port,
        # a cluster keeps the shared passwords/ and tls/ in its own folder
        "redisDir": str(rc.state_dir if rc else server.state_dir),
        "redisCluster": rc is not None,
        "sentinel": cluster.state() if isinstance(cluster, SentinelCluster) else None,
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


def node_table(cluster: SentinelCluster) -> Table:
    """Each Redis node: port, pid and role as it reports it (the primary marked)."""
    table = Table(title="redis nodes (Sentinel mode; `python -m local_stack kill-primary`)")
    for column in ("node", "port", "pid", "role", "sentinel"):
        table.add_column(column, justify="left" if column in ("node", "role") else "right")
    for i, (node, sentinel) in enumerate(zip(cluster.nodes, cluster.sentinels, strict=True)):
        role = cluster.role(node)
        shown = {"master": "[bold green]primary[/]", "slave": "replica"}.get(
            role, f"[red]{role}[/]"
        )
        alive = node.process is not None and node.process.poll() is None
        pid = str(node.process.pid) if node.process is not None and alive else "-"
        table.add_row(f"node-{i}", str(node.port), pid, shown, str(sentinel.port))
    return table


def _admin_client(server: RedisServer, cluster: Cluster | None) -> redis.Redis:
    """The admin's client: the one Redis, a cluster client, or whichever node the
    Sentinels call primary."""
    if isinstance(cluster, RedisClusterStack):
        return connect_sync(cluster.connection_kwargs("admin"), socket_timeout=5)
    if cluster is None:
        return redis.Redis(**server.connection_kwargs("admin"), socket_timeout=5)
    assert server.tls is not None
    settings = RedisSettings(
        username="admin",
        password_file=server.password_dir / "admin",
        ca_file=server.tls.ca_cert,
        secrets_dir=server.state_dir / "no-secrets-dir",
        sentinel_hosts=cluster.sentinel_env()["BULLMQ_PLATFORM_REDIS_SENTINEL_HOSTS"],
        sentinel_master=cluster.master_name,
    )
    return connect_sync(settings.redis_kwargs(), socket_timeout=5)


def _view(
    client: redis.Redis, spec: PlatformSpec, platform: Platform, cluster: Cluster | None
) -> Group:
    tables = [process_table(platform.processes)]
    if isinstance(cluster, SentinelCluster):
        tables.append(node_table(cluster))
    try:
        tables.insert(0, depth_table(client, spec))
    except redis.RedisError as exc:  # e.g. during a failover: the next refresh reconnects
        tables.insert(0, Table(title=f"queue depths: Redis unavailable ({type(exc).__name__})"))
    return Group(*tables)


def _watch(
    server: RedisServer,
    spec: PlatformSpec,
    platform: Platform,
    once: bool,
    cluster: Cluster | None = None,
    on_restart: Callable[[], None] | None = None,
) -> None:
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    client = _admin_client(server, cluster)
    try:
        if once:
            missing = platform.wait_healthy(timeout=90)
            console.print(_view(client, spec, platform, cluster))
            if missing:
                console.print(f"[red]not ready:[/] {', '.join(missing)} (see their logs)")
                raise typer.Exit(1)
            return
        with Live(_view(client, spec, platform, cluster), console=console) as live:
            while not stop:
                time.sleep(1)
                revived = platform.revive()
                if revived:
                    console.log(f"restarted after an exit: {', '.join(revived)}")
                if cluster is not None:
                    for port in cluster.restart_dead_nodes():
                        console.log(f"redis node on port {port} restarted; it rejoins as a replica")
                        if on_restart is not None:
                            on_restart()  # new pids for kill-primary
                live.update(_view(client, spec, platform, cluster))
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
    monitoring: Annotated[
        bool,
        typer.Option(
            "--monitoring",
            help="Also run redis_exporter (configured as the chart's sidecar) and Prometheus "
            "(scraping every process, the chart's alerts and recording rules loaded); "
            "prints Prometheus's URL.",
        ),
    ] = False,
    redis_mode: Annotated[
        RedisMode,
        typer.Option(
            "--redis",
            help="`standalone`: one Redis; `sentinel`: a primary, 2 replicas and 3 Sentinels "
            "(redis.mode sentinel, the chart's config); the status shows the primary and "
            "`python -m local_stack kill-primary` makes it fail over; `cluster`: a Redis "
            "Cluster of the stack's redis.cluster shards x (1 + replicasPerShard) nodes "
            "(default 3 x 2, redis.mode cluster, the chart's config; workers run the fast "
            "engine, the default), killed nodes restarted.",
        ),
    ] = RedisMode.standalone,
) -> None:
    """Start Redis (TLS, ACL users, AOF, noeviction), the scheduler, one worker per queue
    and, when the stack enables it, the dashboard (its URL and password file are printed).

    Shows live queue depths and process health; Ctrl-C or SIGTERM stops everything
    cleanly: workers stop fetching and finish their active jobs, then the
    scheduler and Redis stop (Redis writes its AOF and RDB files).
    """
    state = _state_dir(stack, state_dir)
    spec = _local_variant(load_stack(stack).spec, redis_mode)
    cluster: Cluster | None = None
    if redis_mode is not RedisMode.standalone and monitoring:
        raise typer.BadParameter("--monitoring runs with --redis standalone only")
    if redis_mode is RedisMode.sentinel:
        cluster = SentinelCluster(state / "redis-sentinel", spec=spec)
        cluster.prepare()
        server = cluster.nodes[0]
    elif redis_mode is RedisMode.cluster:
        c = spec.redis.cluster
        cluster = RedisClusterStack(
            state / "redis-cluster", spec=spec, shards=c.shards, replicas=c.replicas_per_shard
        )
        cluster.prepare()
        server = cluster.nodes[0]
    else:
        server = RedisServer(state / "redis", spec=spec, port=port)
    platform = Platform(server, spec, state, redis_env=_redis_env(cluster))
    watchers: MonitoringStack | None = None
    # SIGTERM during start-up stops what already runs and exits 0, like one later
    # (_watch turns it into a flag); before, it killed us with children orphaned.
    signal.signal(signal.SIGTERM, _stop_starting)
    try:
        console.print(f"[bold]bullmq-platform local stack[/] ({stack}): preparing {state}")
        if isinstance(cluster, SentinelCluster):
            console.print("starting 3 Redis nodes and 3 Sentinels ...")
            cluster.start()
            platform.redis_env = cluster.sentinel_env()
        elif isinstance(cluster, RedisClusterStack):
            cluster.start(progress=console.print)
        else:
            server.prepare()
            server.start()
            if spec.redis.auth.enabled:  # as in the pod: rotations and renewals reach Redis live
                server.start_reloader(interval_seconds=spec.redis.auth.reload_interval_seconds)
        platform.start()
        _write_state(state, stack, server, platform, cluster)
        console.print(_endpoints(server, platform, cluster), soft_wrap=True)
        if monitoring:
            watchers = _start_monitoring(server, platform, state, once)
        console.print(
            f"Sample jobs: .venv/bin/python -m local_stack enqueue --stack {stack}"
            + (f" --state-dir {state}" if state_dir else "")
        )
        _watch(
            server,
            spec,
            platform,
            once,
            cluster,
            on_restart=lambda: _write_state(state, stack, server, platform, cluster),
        )
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
            if cluster is not None:
                cluster.stop()
            else:
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
    settings = _settings(doc, "worker")
    jobs = samples.plan(spec, count, queue)
    ids = asyncio.run(samples.enqueue(spec, settings, jobs))
    table = Table(title=f"enqueued {len(ids)} sample jobs")
    for column in ("queue", "jobs", "names"):
        table.add_column(column)
    for name in dict.fromkeys(j.queue for j in jobs):
        mine = [j for j in jobs if j.queue == name]
        table.add_row(name, str(len(mine)), ", ".join(dict.fromkeys(j.name for j in mine)))
    Console().print(table)


def _load_state(state: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((state / STATE_FILE).read_text()))
    except FileNotFoundError:
        console.print(f"[red]no local stack runs from {state}[/]: start it with scripts/local")
        raise typer.Exit(1) from None


def _redis_env(cluster: Cluster | None) -> dict[str, str]:
    """What the platform's processes add to the Redis env of node-0 (server.env)."""
    if isinstance(cluster, SentinelCluster):
        return cluster.sentinel_env()
    if isinstance(cluster, RedisClusterStack):
        return {"BULLMQ_PLATFORM_REDIS_CLUSTER": "true"}
    return {}


def _settings(doc: dict[str, Any], role: str) -> RedisSettings:
    """How `role` reaches the running local stack's Redis (through its Sentinels if any)."""
    redis_dir = Path(doc.get("redisDir") or "")
    sentinel = doc.get("sentinel")
    hosts = ",".join(f"127.0.0.1:{s['port']}" for s in sentinel["sentinels"]) if sentinel else None
    return RedisSettings(
        host="127.0.0.1",
        port=int(doc["redisPort"]),
        username=role,
        password_file=redis_dir / "passwords" / role,
        ca_file=redis_dir / "tls" / "ca.crt",
        secrets_dir=redis_dir / "no-secrets-dir",
        sentinel_hosts=hosts,
        sentinel_master=sentinel["masterName"] if sentinel else None,
        cluster=bool(doc.get("redisCluster")),
    )


@app.command("kill-primary")
def kill_primary(stack: StackOption = "dev", state_dir: StateDirOption = None) -> None:
    """SIGKILL the primary of a local stack started with `--redis sentinel`.

    The Sentinels promote a replica within a few seconds; workers and the scheduler
    follow it without a restart, and `up` starts the killed node again, which
    rejoins as a replica (watch the status table).
    """
    doc = _load_state(_state_dir(stack, state_dir))
    if not doc.get("sentinel"):
        raise typer.BadParameter("the local stack runs one Redis: start it with --redis sentinel")
    settings = _settings(doc, "admin")
    target = settings.sentinel_target()
    assert target is not None
    client = redis.Redis(
        host="127.0.0.1", port=target.addresses[0][1], decode_responses=True, **target.kwargs
    )
    try:
        reply = client.sentinel_get_master_addr_by_name(target.master_name)
    finally:
        client.close()
    if not isinstance(reply, tuple | list):
        console.print("[red]the Sentinels know no primary right now[/]")
        raise typer.Exit(1)
    host, port = str(reply[0]), int(reply[1])
    pids = {n["port"]: n["pid"] for n in doc["sentinel"]["nodes"]}
    pid = pids.get(port)
    if pid is None:
        console.print(f"[red]no local node on port {port}[/]")
        raise typer.Exit(1)
    os.kill(int(pid), signal.SIGKILL)
    console.print(f"killed the primary {host}:{port} (pid {pid}); watch `up` fail over")


@app.command()
def sizing(
    jobs: Annotated[int, typer.Option(min=50, max=20_000, help="Jobs per measurement.")] = 1000,
    payload: Annotated[
        list[int] | None,
        typer.Option("--payload", "-p", help="Payload size in bytes (repeatable)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """Measure Redis bytes per waiting / completed / failed / DLQ job by payload size.

    Starts a Redis of its own (the chart's redis.conf, in a temporary folder),
    so nothing else writes while it measures. The figures feed
    platform_spec/sizing.py and the table in docs/memory.md.
    """
    sizes = sorted(payload or list(sizing_table.DEFAULT_SIZES))
    spec = _local_variant(load_stack("dev").spec)
    with tempfile.TemporaryDirectory(prefix="bullmq-sizing-") as tmp:
        server = RedisServer(Path(tmp) / "redis", spec=spec)
        server.start()
        try:
            rows = asyncio.run(
                sizing_table.measure(
                    server.connection_kwargs("admin"), spec, sizes, jobs, console.print
                )
            )
        finally:
            server.stop(kill=True)
    if as_json:
        typer.echo(json.dumps([{"payloadBytes": r.payload_bytes, **r.bytes_per_job} for r in rows]))
        return
    typer.echo(sizing_table.markdown(rows))


if __name__ == "__main__":
    app()
