"""`python -m workers`: run a worker, or operate queues (`ops`).

    python -m workers --queue notifications            # the worker (what pods run)
    python -m workers ops counts [--json]               # every queue of the spec
    python -m workers ops pause|resume QUEUE
    python -m workers ops retry-failed QUEUE
    python -m workers ops clean QUEUE --state completed --grace-seconds 3600
    python -m workers ops enqueue QUEUE NAME --data '{"to": ["a@b.c"], ...}' [--key K]
    python -m workers ops dlq list|show|retry|purge QUEUE ...

A partitioned queue (`partitions: K`) is one queue here: counts add up its
partitions, pause/resume/retry-failed/clean act on all of them, and enqueue
picks the partition by `--key` (else round-robin; workers/producer.py).

The spec comes from BULLMQ_PLATFORM_SPEC_FILE (or --spec-file), Redis from
BULLMQ_PLATFORM_REDIS_* and the secrets directory. Tables for people, --json
for scripts.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from bullmq import Queue as BullQueue
from redis.exceptions import OutOfMemoryError

from platform_spec.model import PlatformSpec
from platform_spec.settings import RedisSettings, RuntimeSettings
from workers import worker_command
from workers.connection import bullmq_connection, bullmq_connection_arg
from workers.dlq import DeadLetterQueue
from workers.engine_factory import DEFAULT_ENGINE, ENGINES
from workers.errors import InvalidJob
from workers.memory_guard import RedisNearlyFull
from workers.payloads import validate_job
from workers.producer import Enqueued, Producer
from workers.registry import load_registry
from workers.replication_ack import NotReplicated

if TYPE_CHECKING:
    from rich.console import Console

COUNT_STATES = ("waiting", "prioritized", "active", "delayed", "completed", "failed", "paused")
T = TypeVar("T")

app = typer.Typer(help=__doc__, no_args_is_help=False, add_completion=False)
ops = typer.Typer(help="Operate queues: counts, pause, resume, retry, clean, enqueue, DLQ.")
dlq_app = typer.Typer(help="The dead-letter queue `<queue>-dlq` of a queue.")
app.add_typer(ops, name="ops")
ops.add_typer(dlq_app, name="dlq")

SpecFile = Annotated[
    Path | None, typer.Option("--spec-file", help="Spec JSON (default: BULLMQ_PLATFORM_SPEC_FILE).")
]
JsonOut = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@app.callback(invoke_without_command=True)
def run(
    ctx: typer.Context,
    queue: Annotated[str | None, typer.Option("--queue", "-q", help="Queue to work on.")] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help=f"Fetch/finish loop: {', '.join(ENGINES)} (default {DEFAULT_ENGINE}, "
            "on a Redis Cluster too)."
        ),
    ] = None,
) -> None:
    """Run the worker of one queue until SIGTERM (then drain and exit 0)."""
    if ctx.invoked_subcommand is not None:
        return
    if queue is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(2)
    if engine is not None and engine not in ENGINES:
        raise typer.BadParameter(f"unknown engine {engine!r}", param_hint="--engine")
    worker_command.run(queue, engine)


# ---------------------------------------------------------------- helpers


def _spec(spec_file: Path | None) -> PlatformSpec:
    settings = RuntimeSettings()
    if spec_file is not None:
        settings = RuntimeSettings(spec_file=spec_file)
    return settings.load_spec()


def _queue_names(spec: PlatformSpec, queue: list[str] | None) -> list[str]:
    known = [q.name for q in spec.queues]
    for name in queue or []:
        if name not in known:
            raise typer.BadParameter(f"unknown queue {name!r} (known: {known})")
    return list(queue) if queue else known


async def _with_queue(spec: PlatformSpec, name: str, fn: Callable[[BullQueue], Awaitable[T]]) -> T:
    """`fn` on the BullMQ queue `name` (a catalog queue, or one partition of one)."""
    conn = bullmq_connection(RedisSettings())
    queue = BullQueue(
        name, {"connection": bullmq_connection_arg(conn), "prefix": spec.queue_prefix(name)}
    )
    try:
        return await fn(queue)
    finally:
        await queue.close()


async def _each_partition(
    spec: PlatformSpec, name: str, fn: Callable[[BullQueue], Awaitable[T]]
) -> list[T]:
    """`fn` on every BullMQ queue of catalog queue `name` (its partitions, or itself)."""
    return [await _with_queue(spec, p, fn) for p in spec.queue(name).partition_names]


async def _with_dlq(
    spec: PlatformSpec, name: str, fn: Callable[[DeadLetterQueue], Awaitable[T]]
) -> T:
    queue = spec.queue(name)
    dlq = DeadLetterQueue(
        queue,
        spec.queue_prefix(name),
        bullmq_connection(RedisSettings()),
        {p: spec.queue_prefix(p) for p in queue.partition_names},
    )
    try:
        return await fn(dlq)
    finally:
        await dlq.close()


def _console() -> Console:
    """rich, for people reading `ops` output. Imported here, not at the top: the worker
    process (`--queue`) never prints a table, and rich costs it start-up time and RSS
    (docs/throughput.md, "Start-up")."""
    from rich.console import Console

    return Console()


def _emit(rows: list[dict[str, Any]], as_json: bool, title: str) -> None:
    if as_json:
        typer.echo(json.dumps(rows, default=str))
        return
    from rich.table import Table

    table = Table(title=title)
    for column in rows[0] if rows else ["(none)"]:
        table.add_column(str(column))
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    _console().print(table)


# ---------------------------------------------------------------- ops


@ops.command()
def counts(
    queue: Annotated[list[str] | None, typer.Option("--queue", "-q", help="Repeatable.")] = None,
    spec_file: SpecFile = None,
    as_json: JsonOut = False,
) -> None:
    """Jobs per state for each queue (and its DLQ size); a partitioned queue's partitions
    added up."""
    spec = _spec(spec_file)

    async def one(name: str) -> dict[str, Any]:
        parts = await _each_partition(spec, name, lambda q: q.getJobCounts(*COUNT_STATES))
        dead = await _with_dlq(spec, name, lambda d: d.count())
        sums = {s: sum(int(got.get(s, 0)) for got in parts) for s in COUNT_STATES}
        return {"queue": name, **sums, "dlq": dead}

    async def all_rows() -> list[dict[str, Any]]:
        return [await one(n) for n in _queue_names(spec, queue)]

    _emit(asyncio.run(all_rows()), as_json, "Queue counts")


@ops.command()
def pause(queue: str, spec_file: SpecFile = None) -> None:
    """Pause a queue (every partition): workers finish active jobs and take no new ones."""
    spec = _spec(spec_file)
    asyncio.run(_each_partition(spec, _queue_names(spec, [queue])[0], lambda q: q.pause()))
    typer.echo(f"paused {queue}")


@ops.command()
def resume(queue: str, spec_file: SpecFile = None) -> None:
    """Resume a paused queue (every partition)."""
    spec = _spec(spec_file)
    asyncio.run(_each_partition(spec, _queue_names(spec, [queue])[0], lambda q: q.resume()))
    typer.echo(f"resumed {queue}")


@ops.command("retry-failed")
def retry_failed(
    queue: str,
    count: Annotated[int, typer.Option(help="Jobs per batch.")] = 1000,
    spec_file: SpecFile = None,
) -> None:
    """Move every failed job of a queue back to waiting."""
    spec = _spec(spec_file)
    asyncio.run(
        _each_partition(
            spec, _queue_names(spec, [queue])[0], lambda q: q.retryJobs({"count": count})
        )
    )
    typer.echo(f"retried failed jobs of {queue}")


@ops.command()
def clean(
    queue: str,
    state: Annotated[str, typer.Option(help="completed, failed, delayed, wait, ...")] = "completed",
    grace_seconds: Annotated[int, typer.Option(help="Keep jobs younger than this.")] = 3600,
    limit: Annotated[int, typer.Option(help="At most this many jobs.")] = 1000,
    spec_file: SpecFile = None,
    as_json: JsonOut = False,
) -> None:
    """Delete finished jobs older than the grace period."""
    spec = _spec(spec_file)
    name = _queue_names(spec, [queue])[0]
    removed = asyncio.run(
        _each_partition(spec, name, lambda q: q.clean(grace_seconds * 1000, limit, state))
    )
    total = sum(len(r or []) for r in removed)
    _emit([{"queue": name, "state": state, "removed": total}], as_json, "Cleaned")


@ops.command()
def enqueue(
    queue: str,
    name: str,
    data: Annotated[str, typer.Option(help="Payload as JSON.")] = "{}",
    priority: Annotated[int | None, typer.Option(help="1 critical ... 5 background.")] = None,
    delay_ms: Annotated[int, typer.Option(help="Start after this many ms.")] = 0,
    job_id: Annotated[
        str | None,
        typer.Option(help="Custom id (idempotent add); default a new random id, printed."),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            help="Partitioned queue: the partition is picked by this key (jobs of one key "
            "stay in order); default round-robin. Ignored by a queue with one partition."
        ),
    ] = None,
    spec_file: SpecFile = None,
    as_json: JsonOut = False,
) -> None:
    """Add a job, validated against its payload model first, with the queue's spec options."""
    spec = _spec(spec_file)
    target = spec.queue(_queue_names(spec, [queue])[0])
    try:
        payload = json.loads(data)
        validate_job(target, load_registry(target), name, payload)
    except (ValueError, InvalidJob) as exc:
        raise typer.BadParameter(str(exc), param_hint="--data / NAME") from None
    # Always an explicit id: an add that is not acknowledged by the replicas can then be
    # repeated with the printed id without making a duplicate (with the same --key, on a
    # partitioned queue: the key, not the id, picks the partition, and BullMQ removes
    # duplicate ids within one partition only).
    job_id = job_id or uuid.uuid4().hex

    async def add() -> Enqueued:
        producer = Producer(spec, bullmq_connection(RedisSettings()))
        try:
            return await producer.enqueue(
                target.name,
                name,
                payload,
                key=key,
                job_id=job_id,
                priority=priority,
                delay_ms=delay_ms,
            )
        finally:
            await producer.close()

    try:
        job = asyncio.run(add())
    except RedisNearlyFull as exc:
        typer.echo(f"enqueue refused: {exc}; free memory or raise redis.maxmemory", err=True)
        raise typer.Exit(3) from None
    except OutOfMemoryError as exc:
        typer.echo(
            f"enqueue refused: Redis is full (maxmemory reached; noeviction refuses new "
            f"writes). Active jobs keep draining; free memory or raise redis.maxmemory. "
            f"Redis said: {exc}",
            err=True,
        )
        raise typer.Exit(3) from None
    except NotReplicated as exc:
        typer.echo(
            f"enqueue of job id {job_id} not acknowledged by replicas "
            f"(redis.sentinel.waitReplicas): {exc}. The job may be lost on a failover; re-run "
            f"with --job-id {job_id}{f' --key {key}' if key is not None else ''} (BullMQ "
            "keeps one job per id, so that is safe).",
            err=True,
        )
        raise typer.Exit(4) from None
    row = {"queue": target.name, "name": name, "id": job.id}
    if target.partitions > 1:
        row["partition"] = job.partition
    _emit([row], as_json, "Enqueued")


# ---------------------------------------------------------------- dlq


@dlq_app.command("list")
def dlq_list(
    queue: str,
    limit: Annotated[int, typer.Option(help="At most this many entries.")] = 100,
    spec_file: SpecFile = None,
    as_json: JsonOut = False,
) -> None:
    """Entries of a queue's DLQ, oldest first."""
    spec = _spec(spec_file)
    letters = asyncio.run(_with_dlq(spec, queue, lambda d: d.list(0, limit - 1)))
    _emit([letter.summary() for letter in letters], as_json, f"{queue}-dlq")


@dlq_app.command("show")
def dlq_show(queue: str, entry: str, spec_file: SpecFile = None, as_json: JsonOut = False) -> None:
    """One DLQ entry with its payload and stack."""
    spec = _spec(spec_file)
    letter = asyncio.run(_with_dlq(spec, queue, lambda d: d.get(entry)))
    if letter is None:
        typer.echo(f"no entry {entry!r} in {queue}-dlq", err=True)
        raise typer.Exit(1)
    row = {**letter.summary(), "data": letter.data, "stacktrace": letter.stacktrace}
    if as_json:
        typer.echo(json.dumps(row, default=str))
    else:
        _console().print_json(json.dumps(row, default=str))


@dlq_app.command("retry")
def dlq_retry(
    queue: str,
    entry: Annotated[str | None, typer.Argument(help="Entry id; omit with --all.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every entry.")] = False,
    spec_file: SpecFile = None,
    as_json: JsonOut = False,
) -> None:
    """Send entries back to their original queue as fresh jobs."""
    if (entry is None) == (not all_):
        raise typer.BadParameter("give an ENTRY or --all")
    spec = _spec(spec_file)

    async def go(d: DeadLetterQueue) -> list[dict[str, str]]:
        ids = [entry] if entry else [letter.id for letter in await d.list(0, -1)]
        return [{"entry": i, "newJobId": await d.retry(i)} for i in ids]

    _emit(asyncio.run(_with_dlq(spec, queue, go)), as_json, "Retried")


@dlq_app.command("purge")
def dlq_purge(
    queue: str,
    entry: Annotated[str | None, typer.Argument(help="Entry id; omit with --all.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every entry.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    spec_file: SpecFile = None,
) -> None:
    """Delete DLQ entries for good."""
    if (entry is None) == (not all_):
        raise typer.BadParameter("give an ENTRY or --all")
    if not yes:
        typer.confirm(f"Delete {'every entry' if all_ else entry} of {queue}-dlq?", abort=True)
    spec = _spec(spec_file)
    removed = asyncio.run(_with_dlq(spec, queue, lambda d: d.purge(entry)))
    typer.echo(f"purged {removed} entr{'y' if removed == 1 else 'ies'} of {queue}-dlq")


def main() -> None:
    app(prog_name="python -m workers")
