"""Handlers per job name, each with its pydantic payload model.

A queue's handler module (the spec's `queues[].handler`, e.g.
`workers.handlers.notifications`) defines `registry = Registry()` and
decorates one function per job name:

    @registry.job("send-email", SendEmail)
    async def send_email(payload: SendEmail, ctx: JobContext) -> dict: ...

`blocking=True` runs a plain (sync) function in a thread, so the event loop
keeps renewing locks while it works. Every queue also answers the built-in
`ping` job, which returns its payload.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from platform_spec.model import PlatformSpec, Queue
from workers.job import Job

PING = "ping"


class Payload(BaseModel):
    """Base of every payload model: camelCase on the wire, unknown fields refused.

    `tenantId` is accepted everywhere; the queue's tenancy decides whether it
    is required.
    """

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    tenant_id: str | None = Field(None, min_length=1, max_length=128)


class PingPayload(BaseModel):
    """Anything goes: `ping` returns what it was given."""

    model_config = ConfigDict(extra="allow")


# Built for every job: slotted, and not frozen (a frozen dataclass sets each field through
# object.__setattr__: 1.45 against 0.57 us to build one, of a no-op job's ~21 us of Python;
# docs/throughput.md, sixth round).
@dataclass(slots=True)
class JobContext:
    """What a handler may know about its job besides the payload."""

    job_id: str
    name: str
    queue: Queue
    spec: PlatformSpec
    attempt: int  # 1 for the first try
    tenant_id: str | None
    redis: Any  # a decoded redis.asyncio client (ACL user `worker`)
    # enqueue(queue, name, data, job_id=None) -> job id, with the target queue's spec options
    enqueue: Callable[..., Awaitable[str]] | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    # The job itself: progress, log, data, options, flows, job control (workers/job.py).
    job: Job = field(kw_only=True)


HandlerFunc = Callable[[Any, JobContext], Awaitable[Any]] | Callable[[Any, JobContext], Any]


UnknownFields = Literal["ignore", "forbid"]


@dataclass(frozen=True)
class JobHandler:
    name: str
    payload_model: type[BaseModel]
    func: HandlerFunc
    blocking: bool = False
    # The spec's `jobs[].unknownFields` (ignore when the job is not listed).
    unknown_fields: UnknownFields = "ignore"


class Registry:
    """Job name -> handler. One per handler module."""

    def __init__(self) -> None:
        self._handlers: dict[str, JobHandler] = {}

    def job(
        self, name: str, payload: type[BaseModel], *, blocking: bool = False
    ) -> Callable[[HandlerFunc], HandlerFunc]:
        """Register the decorated function for job `name` with payload model `payload`."""

        def decorate(func: HandlerFunc) -> HandlerFunc:
            self.add(JobHandler(name, payload, func, blocking))
            return func

        return decorate

    def add_handler(
        self, name: str, payload: type[BaseModel], func: HandlerFunc, *, blocking: bool = False
    ) -> None:
        self.add(JobHandler(name, payload, func, blocking))

    def add(self, handler: JobHandler) -> None:
        if not handler.blocking and not inspect.iscoroutinefunction(handler.func):
            raise TypeError(
                f"handler of {handler.name!r} must be `async def`, or registered blocking=True "
                "to run in a thread"
            )
        if handler.name in self._handlers:
            raise ValueError(f"job {handler.name!r} registered twice")
        self._handlers[handler.name] = handler

    def get(self, name: str) -> JobHandler | None:
        return self._handlers.get(name)

    @property
    def names(self) -> list[str]:
        return sorted(self._handlers)


async def _ping(payload: PingPayload, ctx: JobContext) -> dict[str, Any]:
    return payload.model_dump()


def _import(path: str) -> Any:
    module, _, attr = path.partition(":")
    obj = importlib.import_module(module)
    return getattr(obj, attr) if attr else obj


def load_registry(queue: Queue) -> Registry:
    """The handlers of `queue`: its handler module's registry, checked against the spec.

    Fails at start-up (not at the first job) when a job name of the spec has no
    handler, or a `payloadModel` override cannot be imported.
    """
    target = _import(queue.handler)
    source = target if isinstance(target, Registry) else getattr(target, "registry", None)
    if not isinstance(source, Registry):
        raise TypeError(f"{queue.handler} defines no `registry = Registry()`")
    registry = Registry()
    for name in source.names:
        handler = source.get(name)
        assert handler is not None
        registry.add(handler)
    if registry.get(PING) is None:
        registry.add(JobHandler(PING, PingPayload, _ping))
    missing = [job.name for job in queue.jobs if registry.get(job.name) is None]
    if missing:
        raise LookupError(
            f"{queue.handler} has no handler for jobs {missing} of queue {queue.name}"
        )
    for job in queue.jobs:
        base = registry.get(job.name)
        assert base is not None
        model = base.payload_model
        if job.payload_model:
            model = _import(job.payload_model)
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise TypeError(f"payloadModel {job.payload_model} is not a pydantic model")
        registry._handlers[job.name] = replace(
            base, payload_model=model, unknown_fields=job.unknown_fields
        )
    return registry
