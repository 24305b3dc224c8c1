"""`python -m local_stack`: the platform on one machine, for newcomers and drills."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Annotated

import redis
import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from local_stack.redis_server import RedisServer, local_spec
from platform_spec.keys import QueueKeys
from platform_spec.model import PlatformSpec
from platform_spec.stack import REPO_ROOT, STACKS, load_stack

app = typer.Typer(
    help="Run the BullMQ platform locally (TLS + ACL Redis configured by the chart).",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)


@app.callback()
def main() -> None:
    """Run the BullMQ platform locally (TLS + ACL Redis configured by the chart)."""


def _local_variant(spec: PlatformSpec) -> PlatformSpec:
    """The stack's spec, with what a laptop needs: admin user on, same policy otherwise."""
    data = spec.model_dump(by_alias=True)
    data["redis"]["auth"]["adminEnabled"] = True
    data["redis"]["mode"] = "in-cluster"
    return local_spec(**{k: v for k, v in data.items() if k != "environment"})


def depth_table(client: redis.Redis, spec: PlatformSpec) -> Table:
    """A table of every queue's depth, read with the key names of platform_spec.keys."""
    table = Table(title="queue depths (refreshes every second; Ctrl-C stops)")
    width = max((len(q.name) for q in spec.queues), default=5)
    table.add_column("queue", no_wrap=True, min_width=width)
    for column in ("waiting", "prioritized", "active", "delayed", "completed", "failed"):
        table.add_column(column, justify="right")
    pipe = client.pipeline(transaction=False)
    for queue in spec.queues:
        keys = QueueKeys(spec.key_prefix, queue.name)
        pipe.llen(keys.wait)
        pipe.zcard(keys.prioritized)
        pipe.llen(keys.active)
        pipe.zcard(keys.delayed)
        pipe.zcard(keys.completed)
        pipe.zcard(keys.failed)
    counts = pipe.execute()
    for i, queue in enumerate(spec.queues):
        table.add_row(queue.name, *(str(n) for n in counts[i * 6 : i * 6 + 6]))
    return table


@app.command()
def up(
    stack: Annotated[
        str, typer.Option(help=f"Stack whose queues to run ({', '.join(STACKS)}).")
    ] = "dev",
    state_dir: Annotated[
        Path | None, typer.Option(help="Where certificates, passwords and data live.")
    ] = None,
    port: Annotated[int, typer.Option(help="Redis TLS port on 127.0.0.1 (0: any free).")] = 0,
    once: Annotated[
        bool, typer.Option("--once", help="Start, print the status once, stop (smoke test).")
    ] = False,
) -> None:
    """Start Redis (TLS, ACL users, AOF, noeviction) and show live queue depths."""
    spec = _local_variant(load_stack(stack).spec)
    state = state_dir or REPO_ROOT / ".state" / stack
    server = RedisServer(state / "redis", spec=spec, port=port)
    console.print(f"[bold]bullmq-platform local stack[/] ({stack}): preparing {state}")
    server.prepare()
    server.start()
    assert server.tls is not None
    console.print(
        f"Redis: rediss://127.0.0.1:{server.port} (TLS, CA {server.tls.ca_cert})\n"
        f"Passwords: {server.state_dir / 'passwords'}/<user> (users: worker, scheduler, keda, "
        "exporter, admin)\n"
        f"Connect: REDISCLI_AUTH=$(cat {server.state_dir / 'passwords' / 'admin'}) redis-cli "
        f"--tls --cacert {server.tls.ca_cert} -p {server.port} --user admin"
    )
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    client = redis.Redis(**server.connection_kwargs("admin"))
    try:
        if once:
            console.print(depth_table(client, spec))
            return
        with Live(depth_table(client, spec), console=console, refresh_per_second=2) as live:
            while not stop:
                time.sleep(1)
                live.update(depth_table(client, spec))
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
        console.print("stopping Redis (it writes its AOF and RDB files) ...")
        server.stop()
        console.print("stopped; state kept in " + str(state))


if __name__ == "__main__":
    app()
