"""The scheduler serves KEDA's metrics-api scaler over HTTPS with a bearer token."""

from __future__ import annotations

import asyncio
import secrets
import ssl
import uuid
from pathlib import Path

import httpx
import pytest
from bullmq import Queue
from scheduler_harness import make_spec, start_scheduler, write_spec

from local_stack.redis_server import RedisServer, free_port

pytestmark = pytest.mark.redis


async def _get(url: str, ca: Path, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    context = ssl.create_default_context(cafile=str(ca))
    async with httpx.AsyncClient(verify=context, timeout=5) as client:
        for _ in range(100):  # the listener comes up after the first reconcile
            try:
                return await client.get(url, headers=headers)
            except httpx.ConnectError:
                await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def test_it_should_answer_desired_replicas_only_with_the_token(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    asyncio.run(_scenario(redis_server, tmp_path))


async def _scenario(redis_server: RedisServer, tmp_path: Path) -> None:
    assert redis_server.tls is not None
    queue = f"s-{uuid.uuid4().hex[:10]}"
    spec = make_spec(queue, [])
    token = secrets.token_urlsafe(24)
    (tmp_path / "token").write_text(token + "\n")
    cert_dir = redis_server.tls.server_cert.parent  # tls.crt / tls.key for localhost
    port = free_port()
    proc = await start_scheduler(
        redis_server,
        write_spec(tmp_path / "spec.json", spec),
        {
            "BULLMQ_PLATFORM_SCALING_HOST": "127.0.0.1",
            "BULLMQ_PLATFORM_SCALING_PORT": str(port),
            "BULLMQ_PLATFORM_SCALING_TOKEN_FILE": str(tmp_path / "token"),
            "BULLMQ_PLATFORM_SCALING_CERT_DIR": str(cert_dir),
        },
    )
    url = f"https://localhost:{port}/scaling/{queue}"
    ca = redis_server.tls.ca_cert
    try:
        # A queue that never saw a job reads as no work (the scheduler created its meta).
        empty = await _get(url, ca, token)
        assert empty.status_code == 200, empty.text
        assert empty.json()["desiredReplicas"] == 0

        producer = Queue(queue, {"connection": redis_server.connection_kwargs("worker")})
        try:
            await producer.addBulk([{"name": "tick", "data": {}} for _ in range(25)])
        finally:
            await producer.close()
        busy = await _get(url, ca, token)
        assert busy.json()["desiredReplicas"] == 5  # ceil(25 waiting / concurrency 5)

        assert (await _get(url, ca, None)).status_code == 401
        assert (await _get(url, ca, "wrong")).status_code == 401
        unknown = await _get(f"https://localhost:{port}/scaling/nope", ca, token)
        assert unknown.status_code == 404
    finally:
        await proc.kill()
