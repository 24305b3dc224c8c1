"""The queue's global rate limit: the spec's is applied, anybody else's left alone.

Python bullmq's Worker has no `limiter`, so a worker applies the spec's
`rateLimit` to the queue's meta hash at start (`max`/`duration`, the fields
Node's `setGlobalRateLimit` writes; platform_spec/keys.py). A limit an
operator set from Node or a dashboard used to be erased by every worker start
when the spec had none. Now the platform records what it set in
META_PLATFORM_RATE and removes a limit only if it is still exactly the one it
set itself (the spec's limit was dropped); see
tests/workers/test_it_should_leave_a_foreign_rate_limit_alone.py.
"""

from __future__ import annotations

from typing import Any

from platform_spec.keys import META_PLATFORM_RATE, META_RATE_DURATION, META_RATE_MAX
from platform_spec.sections.queues import RateLimit


def _spelled(max_: Any, duration: Any) -> str:
    return f"{max_}:{duration}"


async def apply_rate_limit(redis: Any, meta_key: str, limit: RateLimit | None) -> str:
    """Make the queue's limit the spec's, or leave a foreign one; what was done.

    `redis` is a decoded redis.asyncio client; the three fields change in one MULTI.
    """
    if limit is not None:
        pipe = redis.pipeline(transaction=True)
        pipe.hset(
            meta_key,
            mapping={
                META_RATE_MAX: limit.max,
                META_RATE_DURATION: limit.duration_ms,
                META_PLATFORM_RATE: _spelled(limit.max, limit.duration_ms),
            },
        )
        await pipe.execute()
        return "set"
    current_max, current_duration, ours = await redis.hmget(
        meta_key, META_RATE_MAX, META_RATE_DURATION, META_PLATFORM_RATE
    )
    if ours is None:
        return "left alone" if current_max is not None else "none"
    if ours != _spelled(current_max, current_duration):
        # Someone changed the platform's limit since: theirs now; forget ours.
        await redis.hdel(meta_key, META_PLATFORM_RATE)
        return "left alone"
    await redis.hdel(meta_key, META_RATE_MAX, META_RATE_DURATION, META_PLATFORM_RATE)
    return "removed"
