"""A minimal HTTP/1.1 server for probes, metrics and the scaling endpoint.

Workers and the scheduler answer a handful of GET requests (`/healthz`,
`/readyz`, `/metrics`, `/scaling/<queue>`). A web framework would be most of
their memory; this serves one request per connection on asyncio streams, with
bounded reads and timeouts, optionally over TLS.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

# Bounds on what a client may send: probes and scrapers send a few headers.
READ_TIMEOUT_SECONDS = 5.0
MAX_HEADER_LINES = 64


@dataclass(frozen=True)
class Request:
    """What a handler sees of a request."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"

    @classmethod
    def json(cls, status: int, document: Any) -> Response:
        return cls(status, json.dumps(document).encode(), "application/json")

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        return cls(status, text.encode())


Handler = Callable[[Request], Awaitable[Response]]


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    line = await asyncio.wait_for(reader.readline(), READ_TIMEOUT_SECONDS)
    parts = line.decode("latin-1").split()
    if len(parts) < 2:
        return None
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADER_LINES):
        raw = await asyncio.wait_for(reader.readline(), READ_TIMEOUT_SECONDS)
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return Request(method=parts[0].upper(), path=parts[1].split("?", 1)[0], headers=headers)


def _connection_handler(handler: Handler) -> Callable[..., Awaitable[None]]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await _read_request(reader)
            if request is None:
                response = Response.text(400, "bad request\n")
            elif request.method != "GET":
                response = Response.text(405, "only GET\n")
            else:
                response = await handler(request)
            reason = HTTPStatus(response.status).phrase
            head = (
                f"HTTP/1.1 {response.status} {reason}\r\n"
                f"Content-Type: {response.content_type}\r\n"
                f"Content-Length: {len(response.body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + response.body)
            await writer.drain()
        except (TimeoutError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    return serve


async def start_http_server(
    handler: Handler, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None
) -> asyncio.Server:
    """Listen on host:port and answer each GET with `handler`; port 0 picks a free one."""
    return await asyncio.start_server(_connection_handler(handler), host, port, ssl=ssl_context)


def bound_port(server: asyncio.Server) -> int:
    """The port a server listens on (after asking for port 0)."""
    return int(server.sockets[0].getsockname()[1])
