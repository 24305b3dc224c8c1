"""A pipelining Redis client for the fast engine: many commands in flight on one connection.

Why not redis-py: its asyncio client sends one command at a time on a locked
connection, so fifty concurrent jobs wait in line for one round trip each.
Here every caller appends its packed command to a buffer and gets a future;
replies come back in order (RESP guarantees it) and resolve the futures
first-in, first-out. hiredis parses the replies.

Writes are batched per event-loop tick: when a command is sent while others
are in flight, it waits in the buffer until the end of the current tick, so
the fifty finish+fetch calls that one tick produces leave in one TLS record
and one `send` syscall. Mode "adaptive" writes at once when the connection
is idle; measured, it is no faster at concurrency 1 and slower at 10 and 50
(see docs/throughput.md), so the engine batches every tick.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any, cast

import hiredis
from redis.asyncio.sentinel import Sentinel

from workers.connection import sentinel_manager, split_sentinel

# A reply error from Redis (e.g. NOSCRIPT, WRONGTYPE, an ACL refusal).
ReplyError = hiredis.ReplyError

# How writes are flushed: "adaptive" (at once when idle, else at the end of the
# tick), "tick" (always at the end of the tick) or "immediate" (one write per
# command). The bench measures the three (`python -m bench --levers`); the fast
# engine uses "adaptive" at concurrency 1 and "tick" above (EngineOptions.flush_mode
# "auto"), this client's default stays "adaptive" for one-off callers.
FLUSH_MODES = ("adaptive", "tick", "immediate")


class RedisConnectionLost(ConnectionError):
    """The connection closed while commands were in flight."""


class CommandTemplate:
    """One command's RESP with most arguments fixed: packed once, the rest filled in by a
    single `%` per call.

    Why: hiredis.pack_command encodes every argument on every call, 2.3 us for the ~25
    arguments of a job's moveToFinished, of which 19 are the same for every job of the
    queue; filling 6 slots costs 0.8 us (docs/throughput.md, "Seventh round"). `args`:
    the command's arguments in order, None where `pack` fills one in.
    """

    __slots__ = ("_format", "slots")

    def __init__(self, args: Sequence[bytes | None]) -> None:
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            if arg is None:
                parts.append(b"$%d\r\n%b\r\n")
            else:  # a `%` in a fixed argument (a key, say) is no format directive
                parts.append((b"$%d\r\n%b\r\n" % (len(arg), arg)).replace(b"%", b"%%"))
        self._format = b"".join(parts)
        self.slots = sum(arg is None for arg in args)

    def pack(self, values: Sequence[bytes]) -> bytes:
        """The command with `values` in its slots, in order (bytes only)."""
        if len(values) != self.slots:
            raise ValueError(f"{self.slots} values expected, got {len(values)}")
        filled: list[int | bytes] = []
        for value in values:
            filled.append(len(value))
            filled.append(value)
        return self._format % tuple(filled)


def unpack_command(packed: bytes) -> list[bytes]:
    """A packed command's arguments again (a RESP request parses as an array reply)."""
    reader = hiredis.Reader()
    reader.feed(packed)
    args = reader.gets()
    if not isinstance(args, list) or reader.gets() is not False:
        raise ValueError("not one packed command")
    return args


class _Protocol(asyncio.Protocol):
    def __init__(
        self, loop: asyncio.AbstractEventLoop, flush_mode: str, flush_chunk: int = 0
    ) -> None:
        self._loop = loop
        self._flush_chunk = flush_chunk
        self._reader = hiredis.Reader()
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._buffer: list[bytes] = []
        self._flush_scheduled = False
        self._flush_mode = flush_mode
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None
        self.closed: asyncio.Future[None] = loop.create_future()

    # ------------------------------------------------------------ asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, though not an asyncio.Transport subclass on uvloop (its
        # TCPTransport and TLS _SSLProtocolTransport are classes of their own).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        waiters = self._waiters
        reply = reader.gets()
        while reply is not False:
            future = waiters.popleft()
            if not future.done():
                if isinstance(reply, ReplyError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
            if (
                isinstance(reply, ReplyError)
                and str(reply).startswith("READONLY")
                and self.transport is not None
            ):
                # A demoted primary (failover): drop the connection so the owner
                # reconnects and asks the Sentinels for the new one.
                self.transport.close()
            reply = reader.gets()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc or RedisConnectionLost("connection closed")
        self.transport = None
        if not self.closed.done():
            self.closed.set_result(None)
        while self._waiters:
            future = self._waiters.popleft()
            if not future.done():
                future.set_exception(RedisConnectionLost(str(self.lost)))

    # ------------------------------------------------------------ sending

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        if self.transport is None:
            raise RedisConnectionLost(str(self.lost or "not connected"))
        future = self._loop.create_future()
        mode = self._flush_mode
        if mode == "immediate" or (mode == "adaptive" and not self._waiters and not self._buffer):
            self._waiters.append(future)
            self.transport.write(packed)
            return future
        self._waiters.append(future)
        buffer = self._buffer
        buffer.append(packed)
        if len(buffer) == self._flush_chunk:
            # A full chunk leaves now: Redis starts on it while this tick's other
            # callers are still being run (their commands follow in the next chunk).
            self.transport.write(b"".join(buffer))
            buffer.clear()
            return future
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._buffer and self.transport is not None:
            data = self._buffer[0] if len(self._buffer) == 1 else b"".join(self._buffer)
            self._buffer.clear()
            self.transport.write(data)


def ssl_context_from_kwargs(kwargs: dict[str, Any]) -> ssl.SSLContext | None:
    """An SSL context from redis-py style keyword arguments (`ssl`, `ssl_ca_certs`, ...)."""
    if not kwargs.get("ssl"):
        return None
    ca = kwargs.get("ssl_ca_certs")
    context = ssl.create_default_context(cafile=str(ca) if ca else None)
    if kwargs.get("ssl_cert_reqs") in ("none", ssl.CERT_NONE):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif kwargs.get("ssl_check_hostname") is False:
        context.check_hostname = False
    certfile, keyfile = kwargs.get("ssl_certfile"), kwargs.get("ssl_keyfile")
    if certfile and keyfile:
        context.load_cert_chain(str(certfile), str(keyfile))
    return context


class PipelinedRedis:
    """One Redis connection with any number of commands in flight.

    `connection` takes the same keyword arguments as redis-py (`host`, `port`,
    `username`, `password` or `credential_provider`, `db`, `ssl`, `ssl_ca_certs`, `ssl_certfile`,
    `ssl_keyfile`, `ssl_cert_reqs`, `ssl_check_hostname`), so the platform's
    `RedisSettings.redis_kwargs()` works as is.
    """

    def __init__(
        self, connection: dict[str, Any], *, flush_mode: str = "adaptive", flush_chunk: int = 0
    ) -> None:
        if flush_mode not in FLUSH_MODES:
            raise ValueError(f"flush_mode must be one of {FLUSH_MODES}, not {flush_mode!r}")
        if flush_chunk < 0:
            raise ValueError(f"flush_chunk must be >= 0, not {flush_chunk}")
        # The password apart: a printed or logged `_kwargs` must not carry it.
        data, self._sentinel_target = split_sentinel(connection)
        self._kwargs = {k: v for k, v in data.items() if k != "password"}
        self._sentinels: Sentinel | None = None
        self._password: str | None = connection.get("password")
        self._flush_mode = flush_mode
        self._flush_chunk = flush_chunk
        self._protocol: _Protocol | None = None
        self._scripts: dict[str, tuple[bytes, bytes]] = {}  # name -> (sha, body)

    async def _address(self) -> tuple[str, int]:
        """The primary's address: asked of the Sentinels at every connect, else fixed."""
        kwargs = self._kwargs
        if self._sentinel_target is None:
            return str(kwargs.get("host", "localhost")), int(kwargs.get("port", 6379))
        if self._sentinels is None:
            self._sentinels = sentinel_manager(self._sentinel_target)
        host, port = await self._sentinels.discover_master(self._sentinel_target.master_name)
        return str(host), int(port)

    async def connect(self, client_name: str | None = None) -> None:
        kwargs = self._kwargs
        loop = asyncio.get_running_loop()
        host, port = await self._address()
        context = ssl_context_from_kwargs(kwargs)
        timeout = kwargs.get("socket_connect_timeout") or 10.0
        _, protocol = await asyncio.wait_for(
            loop.create_connection(
                lambda: _Protocol(loop, self._flush_mode, self._flush_chunk),
                host,
                port,
                ssl=context,
                server_hostname=host if context is not None else None,
            ),
            timeout,
        )
        self._protocol = protocol
        provider = kwargs.get("credential_provider")
        if provider is not None:
            # Read at every connect: a reconnect after a rotation uses the new password.
            await self.execute("AUTH", *provider.get_credentials())
        elif self._password:
            username, password = kwargs.get("username"), self._password
            args = ("AUTH", username, password) if username else ("AUTH", password)
            await self.execute(*args)
        if kwargs.get("db"):
            await self.execute("SELECT", int(kwargs["db"]))
        if client_name:
            await self.execute("CLIENT", "SETNAME", client_name)
        for name, (_, body) in list(self._scripts.items()):
            sha = await self.execute("SCRIPT", "LOAD", body)
            self._scripts[name] = (sha, body)

    @property
    def connected(self) -> bool:
        return self._protocol is not None and self._protocol.transport is not None

    def send_packed(self, packed: bytes) -> asyncio.Future[Any]:
        """Queue an already packed command; the future resolves with its reply."""
        if self._protocol is None:
            raise RedisConnectionLost("not connected")
        return self._protocol.send(packed)

    def execute(self, *args: Any) -> asyncio.Future[Any]:
        return self.send_packed(hiredis.pack_command(args))

    # ------------------------------------------------------------ Lua scripts

    async def load_script(self, name: str, path: Path) -> bytes:
        """Load a script file into Redis (SCRIPT LOAD) and remember its sha."""
        body = path.read_bytes()
        sha = await self.execute("SCRIPT", "LOAD", body)
        self._scripts[name] = (sha, body)
        return bytes(sha)

    def sha(self, name: str) -> bytes:
        return self._scripts[name][0]

    def evalsha_packed(self, name: str, packed: bytes) -> Awaitable[Any]:
        """An EVALSHA of script `name` already packed (a CommandTemplate with `sha(name)`),
        on the wire now; awaiting the result gives the reply.

        No coroutine of its own (the per-job finish: workers/engine_fast.py), so a
        NOSCRIPT reply (Redis restarted, SCRIPT FLUSH) reaches the caller: it calls
        `reload_script(name)` and sends again (the sha stays the body's SHA1)."""
        return self.send_packed(packed)

    async def reload_script(self, name: str) -> None:
        """SCRIPT LOAD a script Redis lost (a NOSCRIPT reply)."""
        sha = await self.execute("SCRIPT", "LOAD", self._scripts[name][1])
        self._scripts[name] = (sha, self._scripts[name][1])

    async def evalsha(self, name: str, keys: list[Any], args: list[Any]) -> Any:
        """EVALSHA by script name; on NOSCRIPT (Redis restarted, SCRIPT FLUSH) reload once."""
        try:
            return await self.execute("EVALSHA", self._scripts[name][0], len(keys), *keys, *args)
        except ReplyError as err:
            if not str(err).startswith("NOSCRIPT"):
                raise
            await self.reload_script(name)
            return await self.execute("EVALSHA", self.sha(name), len(keys), *keys, *args)

    async def close(self) -> None:
        sentinels, self._sentinels = self._sentinels, None
        if sentinels is not None:
            await sentinels.aclose()
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            transport = protocol.transport
            transport.close()
            # TLS closes with a shutdown exchange: wait for it, briefly.
            try:
                await asyncio.wait_for(asyncio.shield(protocol.closed), 2)
            except (TimeoutError, asyncio.CancelledError):
                transport.abort()
