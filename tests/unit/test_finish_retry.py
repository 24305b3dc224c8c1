"""What a failed finish is retried on (workers/engine_fast.py `_finish_again`): the same
packed bytes sent again after a reconnect or NOREPLICAS while the lock lasts, after a
reload on NOSCRIPT, and nothing else. Redis is a scripted stand-in."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from workers._fast_redis import RedisConnectionLost, ReplyError
from workers.engine_fast import FastEngine


class _Scripted:
    """Answers each send with the next outcome; counts sends and reloads."""

    connected = True

    def __init__(self, outcomes: list[Any]) -> None:
        self.outcomes = outcomes
        self.sent: list[bytes] = []
        self.reloads = 0

    def evalsha_packed(self, name: str, packed: bytes) -> asyncio.Future[Any]:
        self.sent.append(packed)
        outcome = self.outcomes.pop(0)
        reply = asyncio.get_running_loop().create_future()
        if isinstance(outcome, BaseException):
            reply.set_exception(outcome)
        else:
            reply.set_result(outcome)
        return reply

    async def reload_script(self, name: str) -> None:
        self.reloads += 1


def _again(first: Exception, outcomes: list[Any], closing: bool = False) -> Any:
    engine = FastEngine("q", {"host": "127.0.0.1", "port": 1})
    redis = _Scripted(outcomes)
    engine._redis = redis  # type: ignore[assignment]
    engine._closing = closing

    async def main() -> Any:
        return await engine._finish_again(b"PACKED", first, time.monotonic())

    return asyncio.run(main()), redis


def test_it_should_reload_on_noscript_and_send_the_same_bytes() -> None:
    (reply, retried), redis = _again(ReplyError("NOSCRIPT no script"), [[b"next"]])
    assert (reply, retried, redis.reloads, redis.sent) == ([b"next"], False, 1, [b"PACKED"])


def test_it_should_raise_noscript_twice_in_a_row() -> None:
    with pytest.raises(ReplyError, match="NOSCRIPT"):
        _again(ReplyError("NOSCRIPT a"), [ReplyError("NOSCRIPT b")])


def test_it_should_reload_again_after_a_reconnect_between_two_noscripts() -> None:
    outcomes = [RedisConnectionLost("gone"), ReplyError("NOSCRIPT again"), 1]
    (reply, retried), redis = _again(ReplyError("NOSCRIPT a"), outcomes)
    assert (reply, retried, redis.reloads, len(redis.sent)) == (1, True, 2, 3)


def test_it_should_retry_noreplicas_and_mark_the_reply_retried() -> None:
    (reply, retried), redis = _again(ReplyError("NOREPLICAS not enough"), [0])
    assert (reply, retried, redis.reloads) == (0, True, 0)


def test_it_should_raise_other_errors_and_lost_connections_while_closing() -> None:
    with pytest.raises(ReplyError, match="ERR boom"):
        _again(ReplyError("ERR boom"), [])
    with pytest.raises(RedisConnectionLost):
        _again(RedisConnectionLost("gone"), [], closing=True)
