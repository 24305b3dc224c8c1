"""Slot routing for the fast engine's pipelined connection on a Redis Cluster.

Every key of a queue shares one hash slot (`bull:{tag}` prefixes,
platform_spec/keys.py), so one connection per queue to the primary that owns
that slot carries all of the queue's commands: no per-command routing on the
hot path. What a cluster adds is kept here, apart from the engine's loop:

- the owner is asked of the cluster (CLUSTER SLOTS, on the seed or any node seen
  since) at every connect, so a reconnect after a shard primary died finds the
  promoted replica;
- MOVED (the slot has a new owner: a reshard finished, a failover): connect to
  the named node and send the command again; commands already in flight on the
  old connection get their MOVED and follow too;
- ASK (the slot is being migrated and this key already left): ASKING and the
  command on a side connection to the target, scripts as EVAL (the target may
  not have them loaded);
- TRYAGAIN (a multi-key call while the slot's keys are split between source and
  target): a short wait, then again.

Redirects are followed for at most REDIRECT_SECONDS per command; after that the
error goes to the caller, which treats it as any other Redis error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from typing import Any

from redis.crc import key_slot

from workers._fast_redis import PipelinedRedis, RedisConnectionLost, ReplyError, unpack_command
from workers.cluster_client import split_cluster

log = logging.getLogger(__name__)

# How long one command may keep following MOVED / ASK / TRYAGAIN.
REDIRECT_SECONDS = 10.0
# Pause before a command that got TRYAGAIN is sent again (redis-py waits 50 ms too).
TRYAGAIN_SECONDS = 0.05
# Pause between two failed owner look-ups (every slot of the engine asks to reconnect).
RESOLVE_BACKOFF_SECONDS = 0.25
# How long a connection left after MOVED may take to hand back its in-flight replies.
RETIRE_SECONDS = 10.0

Address = tuple[str, int]


def _address(text: str, fallback_host: str) -> Address:
    """`host:port` of a MOVED / ASK reply (an empty host means the node that answered)."""
    host, _, port = text.rpartition(":")
    return (host or fallback_host), int(port)


def slot_owner(reply: Any, slot: int, asked: Address) -> Address | None:
    """The primary serving `slot` in a CLUSTER SLOTS reply, or None if no node does."""
    for entry in reply or []:
        start, end, primary = int(entry[0]), int(entry[1]), entry[2]
        if start <= slot <= end:
            host = primary[0].decode() if isinstance(primary[0], bytes) else str(primary[0])
            if host in ("", "?"):  # the node did not announce an endpoint: the one we asked
                host = asked[0]
            return host, int(primary[1])
    return None


def cluster_nodes(reply: Any, asked: Address) -> list[Address]:
    """Every node (primaries and replicas) a CLUSTER SLOTS reply names."""
    seen: list[Address] = []
    for entry in reply or []:
        for node in entry[2:]:
            host = node[0].decode() if isinstance(node[0], bytes) else str(node[0])
            address = (host if host not in ("", "?") else asked[0], int(node[1]))
            if address not in seen:
                seen.append(address)
    return seen


class SlotPipelinedRedis(PipelinedRedis):
    """A PipelinedRedis bound to the primary that owns one hash slot of a cluster.

    Same interface as PipelinedRedis (the engine cannot tell them apart); `slot_key`
    is any key of the queue (all share the slot).
    """

    def __init__(
        self,
        connection: dict[str, Any],
        slot_key: str | bytes,
        *,
        flush_mode: str = "adaptive",
        flush_chunk: int = 0,
    ) -> None:
        plain, _ = split_cluster(connection)
        super().__init__(plain, flush_mode=flush_mode, flush_chunk=flush_chunk)
        key = slot_key.encode() if isinstance(slot_key, str) else slot_key
        self.slot = key_slot(key)
        seed = (str(plain.get("host", "localhost")), int(plain.get("port", 6379)))
        self._nodes: list[Address] = [seed]
        self.address: Address | None = None
        self._moved_to: Address | None = None
        self._client_name: str | None = None
        self._follow_lock = asyncio.Lock()
        self._side: dict[Address, PipelinedRedis] = {}
        self._retiring: set[asyncio.Task[None]] = set()
        self._resolve_after = 0.0
        self.redirects = {"MOVED": 0, "ASK": 0, "TRYAGAIN": 0}

    # ------------------------------------------------------------ finding the owner

    def _node_kwargs(self, address: Address) -> dict[str, Any]:
        kwargs = {**self._kwargs, "host": address[0], "port": address[1]}
        if self._password:
            kwargs["password"] = self._password
        return kwargs

    async def _address(self) -> Address:
        """The node to connect to: where MOVED pointed, else the slot's owner as the
        cluster reports it now."""
        if self._moved_to is not None:
            address, self._moved_to = self._moved_to, None
        else:
            address = await self.resolve()
        self.address = address
        return address

    async def resolve(self) -> Address:
        """Ask the known nodes in turn (CLUSTER SLOTS) which primary serves the slot."""
        wait = self._resolve_after - time.monotonic()
        if wait > 0:
            raise RedisConnectionLost(f"slot {self.slot}: owner look-up failed, retrying soon")
        problems: list[str] = []
        for asked in list(self._nodes):
            probe = PipelinedRedis(self._node_kwargs(asked), flush_mode="immediate")
            try:
                await probe.connect()
                reply = await probe.execute("CLUSTER", "SLOTS")
            except (OSError, ReplyError, TimeoutError) as err:
                problems.append(f"{asked[0]}:{asked[1]}: {err or type(err).__name__}")
                continue
            finally:
                with contextlib.suppress(Exception):
                    await probe.close()
            owner = slot_owner(reply, self.slot, asked)
            # The node that answered first next time; the seed stays for a full restart.
            known = [asked, *cluster_nodes(reply, asked), *self._nodes]
            self._nodes = list(dict.fromkeys(known))
            if owner is None:
                problems.append(f"{asked[0]}:{asked[1]}: slot {self.slot} has no owner")
                continue
            return owner
        self._resolve_after = time.monotonic() + RESOLVE_BACKOFF_SECONDS
        raise RedisConnectionLost(f"no owner of slot {self.slot} found: {'; '.join(problems)}")

    async def connect(self, client_name: str | None = None) -> None:
        self._client_name = client_name
        await super().connect(client_name)

    # ------------------------------------------------------------ redirects

    async def _follow(self, address: Address, stale: Any) -> None:
        """Reconnect to `address` (MOVED), once for all the commands that were told so."""
        async with self._follow_lock:
            if self._protocol is not stale and self.connected:
                return  # another command already followed
            old = self._protocol
            self._moved_to = address
            log.info("slot %s moved to %s:%s: following", self.slot, *address)
            await super().connect(self._client_name)
            if old is not None and old is not self._protocol:
                task = asyncio.ensure_future(self._retire(old))
                self._retiring.add(task)
                task.add_done_callback(self._retiring.discard)

    @staticmethod
    async def _retire(protocol: Any) -> None:
        """Close a connection left after MOVED once its in-flight replies are in."""
        deadline = time.monotonic() + RETIRE_SECONDS
        while protocol._waiters and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if protocol.transport is not None:
            protocol.transport.close()

    async def _ask(self, address: Address, args: tuple[Any, ...]) -> Any:
        """ASKING + the command on a connection to the migration's target."""
        side = self._side.get(address)
        if side is None or not side.connected:
            side = self._side[address] = PipelinedRedis(
                self._node_kwargs(address), flush_mode="tick"
            )
            await side.connect()
        asking = side.execute("ASKING")  # queued in the same tick: adjacent on the wire
        reply = side.execute(*args)
        await asking
        return await reply

    async def _call(
        self,
        args: tuple[Any, ...],
        script: str | None = None,
        sent: tuple[Any, asyncio.Future[Any]] | None = None,
    ) -> Any:
        """Send `args` to the slot's owner, following MOVED / ASK / TRYAGAIN.

        `sent`: (connection, reply) of a first attempt already on the wire."""
        deadline = 0.0
        ask_to: Address | None = None
        reloaded = False
        while True:
            protocol = self._protocol
            try:
                if sent is not None:
                    (protocol, first), sent = sent, None
                    return await first
                if ask_to is not None:
                    command = args
                    if script is not None:  # EVAL: the target may not have the script
                        command = ("EVAL", self._scripts[script][1], *args[2:])
                    return await self._ask(ask_to, command)
                return await PipelinedRedis.execute(self, *args)
            except ReplyError as err:
                text = str(err)
                kind, _, rest = text.partition(" ")
                if kind == "NOSCRIPT" and script is not None and not reloaded:
                    reloaded = True
                    sha = await PipelinedRedis.execute(
                        self, "SCRIPT", "LOAD", self._scripts[script][1]
                    )
                    self._scripts[script] = (sha, self._scripts[script][1])
                    args = (args[0], sha, *args[2:])
                    continue
                if kind not in self.redirects:
                    raise
                now = time.monotonic()
                deadline = deadline or now + REDIRECT_SECONDS
                if now >= deadline:
                    raise
                self.redirects[kind] += 1
                fallback = self.address[0] if self.address else "localhost"
                ask_to = None
                if kind == "MOVED":
                    await self._follow(_address(rest.split(" ")[-1], fallback), protocol)
                elif kind == "ASK":
                    ask_to = _address(rest.split(" ")[-1], fallback)
                else:
                    await asyncio.sleep(TRYAGAIN_SECONDS)

    # ------------------------------------------------------------ PipelinedRedis interface

    def execute(self, *args: Any) -> asyncio.Future[Any]:
        # On the wire now, as PipelinedRedis does: after a connect AUTH must go first.
        sent = (self._protocol, PipelinedRedis.execute(self, *args))
        return asyncio.ensure_future(self._call(args, sent=sent))

    def evalsha_packed(self, name: str, packed: bytes) -> Awaitable[Any]:
        # On the wire now; the coroutine the caller awaits follows MOVED / ASK / NOSCRIPT
        # with the command's arguments unpacked again (no task of its own per call).
        call = tuple(unpack_command(packed))
        sent = (self._protocol, PipelinedRedis.send_packed(self, packed))
        return self._call(call, script=name, sent=sent)

    async def evalsha(self, name: str, keys: list[Any], args: list[Any]) -> Any:
        call = ("EVALSHA", self._scripts[name][0], len(keys), *keys, *args)
        sent = (self._protocol, PipelinedRedis.execute(self, *call))
        return await self._call(call, script=name, sent=sent)

    async def close(self) -> None:
        for task in list(self._retiring):
            task.cancel()
        sides, self._side = list(self._side.values()), {}
        for side in sides:
            with contextlib.suppress(Exception):
                await side.close()
        await super().close()


def pipelined_for_queue(
    connection: dict[str, Any], slot_key: str | bytes, *, flush_mode: str, flush_chunk: int = 0
) -> PipelinedRedis:
    """The fast engine's connection for one queue: slot-routed on a cluster, else plain."""
    if split_cluster(connection)[1]:
        return SlotPipelinedRedis(
            connection, slot_key, flush_mode=flush_mode, flush_chunk=flush_chunk
        )
    return PipelinedRedis(connection, flush_mode=flush_mode, flush_chunk=flush_chunk)
