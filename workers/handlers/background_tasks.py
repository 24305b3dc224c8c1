"""Queue `background-tasks`: reports, data clean-up, external sync, indexing.

`generate-report` and `index-content` are CPU-bound and registered
`blocking=True`: they run in a thread, so the event loop keeps renewing locks.
`sync-external` fetches a URL with timeouts. `cleanup-old-data` cleans
finished jobs of a queue of the catalog (BullMQ `clean`).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from typing import Any, Literal

import httpx
from bullmq import Queue as BullQueue
from pydantic import AnyHttpUrl, Field

from workers.connection import bullmq_connection_arg
from workers.errors import UnrecoverableError
from workers.registry import JobContext, Payload, Registry

registry = Registry()
SYNC_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
MAX_SYNC_BYTES = 10 * 1024 * 1024
WORD = re.compile(r"[a-z0-9]{2,}")


class GenerateReport(Payload):
    title: str = Field(min_length=1, max_length=200)
    rows: list[dict[str, float | int | str]] = Field(max_length=100_000)
    group_by: str
    metric: str


class CleanupOldData(Payload):
    queue: str
    state: Literal["completed", "failed"] = "completed"
    older_than_seconds: int = Field(86400, ge=0)
    limit: int = Field(1000, ge=1, le=100_000)


class SyncExternal(Payload):
    url: AnyHttpUrl


class IndexContent(Payload):
    document_id: str = Field(min_length=1, max_length=200)
    text: str = Field(max_length=1_000_000)
    top: int = Field(20, ge=1, le=1000)


@registry.job("generate-report", GenerateReport, blocking=True)
def generate_report(payload: GenerateReport, ctx: JobContext) -> dict[str, Any]:
    groups: dict[str, list[float]] = defaultdict(list)
    for row in payload.rows:
        value = row.get(payload.metric)
        if isinstance(value, int | float):
            groups[str(row.get(payload.group_by))].append(float(value))
    table = {
        key: {"count": len(v), "sum": sum(v), "avg": sum(v) / len(v), "max": max(v)}
        for key, v in sorted(groups.items())
    }
    return {"title": payload.title, "groups": table, "rows": len(payload.rows)}


@registry.job("index-content", IndexContent, blocking=True)
def index_content(payload: IndexContent, ctx: JobContext) -> dict[str, Any]:
    terms = Counter(WORD.findall(payload.text.lower()))
    return {"documentId": payload.document_id, "terms": dict(terms.most_common(payload.top))}


@registry.job("sync-external", SyncExternal)
async def sync_external(payload: SyncExternal, ctx: JobContext) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    async with (
        httpx.AsyncClient(timeout=SYNC_TIMEOUT) as client,
        client.stream("GET", str(payload.url)) as response,
    ):
        if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
            raise UnrecoverableError(f"source answered HTTP {response.status_code}")
        response.raise_for_status()
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_SYNC_BYTES:
                raise UnrecoverableError(f"source is larger than {MAX_SYNC_BYTES} bytes")
            digest.update(chunk)
    return {"status": response.status_code, "bytes": size, "sha256": digest.hexdigest()}


@registry.job("cleanup-old-data", CleanupOldData)
async def cleanup_old_data(payload: CleanupOldData, ctx: JobContext) -> dict[str, Any]:
    known = {q.name for q in ctx.spec.queues} | {q.dlq_name for q in ctx.spec.queues}
    if payload.queue not in known:
        raise UnrecoverableError(f"queue {payload.queue!r} is not in the catalog")
    connection = ctx.extras.get("connection")
    if connection is None:
        raise RuntimeError("no connection in the job context")
    removed = 0
    # A partitioned queue's jobs live in its partitions (queues[].partitions).
    for keys in ctx.spec.partition_keys(payload.queue):
        opts = {"connection": bullmq_connection_arg(connection), "prefix": keys.prefix}
        queue = BullQueue(keys.queue, opts)
        try:
            gone = await queue.clean(
                payload.older_than_seconds * 1000, payload.limit, payload.state
            )
        finally:
            await queue.close()
        removed += len(gone or [])
    return {"queue": payload.queue, "state": payload.state, "removed": removed}
