"""One HTTP port per process: /healthz, /readyz, /metrics.

- /healthz (liveness): the event loop answers, the fetch loop is running and
  made progress within `liveness_stale_seconds`, unless every slot is busy
  (then it has nothing to fetch). A live process whose loop died after a Redis
  restart (taskforcesh/bullmq#2964, #2466) fails it and is restarted.
- /readyz: an authenticated PING over TLS answered within 2 s; 503 while
  draining. The round trip feeds bullmq_redis_roundtrip_seconds.
- /metrics: Prometheus text format.

A tiny asyncio server: three GET routes need no web framework.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from workers.connection import round_trip_seconds

if TYPE_CHECKING:
    from workers.runtime import WorkerRuntime

READY_TIMEOUT_SECONDS = 2.0
CONTENT_TYPE_METRICS = "text/plain; version=0.0.4; charset=utf-8"


class HealthServer:
    def __init__(self, runtime: WorkerRuntime) -> None:
        self.runtime = runtime
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        self.server = await asyncio.start_server(self._serve, host, port)
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)

    def liveness(self) -> tuple[bool, str]:
        engine = self.runtime.engine
        if engine is None:
            return True, "starting"
        if not engine.alive:
            return self.runtime.draining, "fetch loop stopped"
        idle_for = time.monotonic() - engine.last_progress
        self.runtime.metrics.loop_progress.labels(self.runtime.queue.name).set(
            time.time() - idle_for
        )
        if engine.active >= self.runtime.queue.concurrency:
            return True, "all slots busy"
        if idle_for > self.runtime.settings.liveness_stale_seconds:
            return False, f"fetch loop made no progress for {idle_for:.0f}s"
        return True, "ok"

    async def readiness(self) -> tuple[bool, str]:
        if self.runtime.draining:
            return False, "draining"
        try:
            rtt = await asyncio.wait_for(
                round_trip_seconds(self.runtime.redis), READY_TIMEOUT_SECONDS
            )
        except Exception as exc:
            return False, f"redis unreachable: {type(exc).__name__}"
        self.runtime.metrics.redis_rtt.labels(self.runtime.queue.name).observe(rtt)
        return True, "ok"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) >= 2 else "/"
            status, ctype, body = await self._route(path)
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _route(self, path: str) -> tuple[str, str, bytes]:
        text = "text/plain; charset=utf-8"
        if path == "/healthz":
            ok, why = self.liveness()
        elif path == "/readyz":
            ok, why = await self.readiness()
        elif path == "/metrics":
            self.liveness()  # refresh the progress gauge
            return "200 OK", CONTENT_TYPE_METRICS, self.runtime.metrics.render()
        else:
            return "404 Not Found", text, b"not found\n"
        return ("200 OK" if ok else "503 Service Unavailable"), text, f"{why}\n".encode()
