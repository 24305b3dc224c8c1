"""Acknowledged enqueues that survive a failover: `WAIT n timeout` after each add.

Redis replicates asynchronously: an add the primary acknowledged just before it
died may never reach the replica that Sentinel promotes. A producer that sends
`WAIT n` on the same connection right after the add learns whether n replicas
hold it; fewer means the add is reported failed (and may be retried with the
same job id, which BullMQ deduplicates). `redis.sentinel.waitReplicas` sets n.
"""

from __future__ import annotations

from typing import Any


class NotReplicated(RuntimeError):
    """Fewer replicas than asked for acknowledged a write in time."""


async def wait_replicas(client: Any, replicas: int, timeout_ms: int) -> int:
    """WAIT on `client`'s connection (it must be a single-connection client: WAIT
    counts the writes of the connection it runs on); NotReplicated when short."""
    if replicas <= 0:
        return 0
    acked = int(await client.execute_command("WAIT", replicas, timeout_ms))
    if acked < replicas:
        raise NotReplicated(
            f"{acked} of {replicas} replica(s) acknowledged the write within {timeout_ms} ms"
        )
    return acked
