"""No object a handler can reach prints the Redis password in its repr or str.

The walk starts at a real JobContext, handed to a handler by a running worker,
and follows dataclass fields, pydantic models, mappings, sequences and the
attributes of the project's own objects. Library objects (redis-py's client,
bullmq's Queue) are checked for their repr/str but not opened up: their
internals are theirs.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from conftest import make_spec, producer, redis_settings, running_worker, wait_finished
from pydantic import BaseModel
from worker_test_handlers import seen_contexts

from local_stack.redis_server import RedisServer

pytestmark = pytest.mark.redis

PROJECT = ("workers", "platform_spec", "scheduler", "local_stack")
MAX_DEPTH = 6


def _children(obj: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            yield f"[{key!r}]", value
    elif isinstance(obj, list | tuple | set | frozenset):
        for i, value in enumerate(obj):
            yield f"[{i}]", value
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            yield f".{name}", getattr(obj, name)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield f".{f.name}", getattr(obj, f.name)
    elif type(obj).__module__.split(".")[0] in PROJECT and hasattr(obj, "__dict__"):
        yield from ((f".{k}", v) for k, v in vars(obj).items())
    bound_self = getattr(obj, "__self__", None)
    if bound_self is not None and not isinstance(bound_self, type):
        yield ".__self__", bound_self


def leaks(root: Any, secret: str) -> list[str]:
    """Paths from `root` to every object whose repr or str shows `secret`."""
    found: list[str] = []
    seen: set[int] = set()
    todo: list[tuple[str, Any, int]] = [("ctx", root, 0)]
    while todo:
        path, obj, depth = todo.pop()
        if id(obj) in seen or obj is None or isinstance(obj, int | float | bool | bytes):
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            continue  # a bare string is the value itself: what matters is who prints it
        if secret in repr(obj) or secret in str(obj):
            found.append(f"{path} ({type(obj).__name__})")
        if depth < MAX_DEPTH:
            todo.extend((path + step, child, depth + 1) for step, child in _children(obj))
    return found


def test_the_walk_finds_a_password_printed_anywhere_on_the_way() -> None:
    @dataclasses.dataclass
    class Holder:
        options: dict[str, Any]

    assert sorted(leaks(Holder({"connection": {"password": "s3cret"}}), "s3cret")) == [
        "ctx (Holder)",
        "ctx.options (dict)",
        "ctx.options['connection'] (dict)",
    ]


def test_it_should_never_print_the_password_a_handler_can_reach(
    redis_server: RedisServer, queue_name: str
) -> None:
    password = redis_settings(redis_server).password
    assert password is not None
    secret = password.get_secret_value()

    async def scenario() -> None:
        seen_contexts.clear()
        spec = make_spec(queue_name)
        async with running_worker(redis_server, spec), producer(redis_server, queue_name) as q:
            job = await q.add("keep-context", {"text": "hi"})
            assert await wait_finished(q, job.id) == "completed"
        (ctx,) = seen_contexts
        try:
            assert leaks(ctx, secret) == []
        finally:
            seen_contexts.clear()  # the context holds the stopped runtime: let it go

    asyncio.run(scenario())
