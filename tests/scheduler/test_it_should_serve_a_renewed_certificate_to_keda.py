"""The scaling endpoint follows a certificate renewal and asks KEDA for its client certificate.

A renewed serving certificate (here with a new CA) is swapped into the mounted
folder as the kubelet does; without a restart the scheduler serves it: a client
trusting only the new CA connects, one trusting only the old CA is refused.
The expiry of the served certificate and of Redis's is exported for the alert.
With a client CA, a request without a client certificate fails the handshake.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import ssl
import time
import uuid
from pathlib import Path

import httpx
import pytest
from scheduler_harness import make_spec, start_scheduler, write_spec

from local_stack.certs import TlsFiles, generate_tls
from local_stack.redis_server import RedisServer, free_port
from scheduler.certificates import not_after

pytestmark = pytest.mark.redis
EXPIRY = re.compile(
    r'bullmq_tls_certificate_expiry_timestamp_seconds\{certificate="([^"]+)"\} (\S+)'
)


def _client(ca: Path, client: TlsFiles | None) -> httpx.AsyncClient:
    context = ssl.create_default_context(cafile=str(ca))
    if client is not None:
        context.load_cert_chain(str(client.client_cert), str(client.client_key))
    return httpx.AsyncClient(verify=context, timeout=5)


async def _status(url: str, ca: Path, token: str, client: TlsFiles | None) -> int | str:
    async with _client(ca, client) as http:
        try:
            return (await http.get(url, headers={"Authorization": f"Bearer {token}"})).status_code
        except httpx.TransportError as exc:  # a refused handshake (TLS 1.3: after it)
            return type(exc).__name__


async def _until(check, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.2)
    return bool(await check())


def test_it_should_serve_the_renewed_certificate_and_require_keda_client_cert(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    asyncio.run(_scenario(redis_server, tmp_path))


async def _scenario(redis_server: RedisServer, tmp_path: Path) -> None:
    tls = redis_server.tls
    assert tls is not None
    queue = f"s-{uuid.uuid4().hex[:10]}"
    token = secrets.token_urlsafe(24)
    (tmp_path / "token").write_text(token)
    serving = tmp_path / "serving"
    serving.mkdir()
    shutil.copy(tls.server_cert, serving / "tls.crt")
    shutil.copy(tls.server_key, serving / "tls.key")
    port = free_port()
    proc = await start_scheduler(
        redis_server,
        write_spec(tmp_path / "spec.json", make_spec(queue, [])),
        {
            "BULLMQ_PLATFORM_SCALING_HOST": "127.0.0.1",
            "BULLMQ_PLATFORM_SCALING_PORT": str(port),
            "BULLMQ_PLATFORM_SCALING_TOKEN_FILE": str(tmp_path / "token"),
            "BULLMQ_PLATFORM_SCALING_CERT_DIR": str(serving),
            # KEDA's client certificate is signed by the platform CA (here the test CA).
            "BULLMQ_PLATFORM_SCALING_CLIENT_CA_FILE": str(tls.ca_cert),
        },
    )
    url = f"https://localhost:{port}/scaling/{queue}"
    keda = tls  # its client.crt/client.key: clientAuth, signed by the CA above
    try:
        assert await _until(lambda: _ok(url, tls.ca_cert, token, keda), 30)
        assert await _status(url, tls.ca_cert, token, None) != 200  # no client certificate

        renewed = generate_tls(tmp_path / "renewed", common_name="renewed-ca")
        for new, live in ((renewed.server_key, "tls.key"), (renewed.server_cert, "tls.crt")):
            shutil.copy(new, serving / f".{live}.new")
            os.replace(serving / f".{live}.new", serving / live)
        assert await _until(lambda: _ok(url, renewed.ca_cert, token, keda), 30), proc.lines[-5:]
        assert await _status(url, tls.ca_cert, token, keda) != 200  # old CA: refused

        expected = not_after(renewed.server_cert.read_bytes())
        async with httpx.AsyncClient(timeout=5) as http:
            metrics = (await http.get(f"http://127.0.0.1:{proc.http_port}/metrics")).text
        seen = {name: float(value) for name, value in EXPIRY.findall(metrics)}
        assert seen["scaling-endpoint"] == pytest.approx(expected)
        assert seen["redis"] == pytest.approx(not_after(tls.server_cert.read_bytes()))
    finally:
        await proc.kill()


async def _ok(url: str, ca: Path, token: str, client: TlsFiles | None) -> bool:
    return await _status(url, ca, token, client) == 200
