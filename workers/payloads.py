"""Validation of a job before its handler runs. Every refusal is an InvalidJob.

Checked in this order: the data decoded as JSON (a Node or Python producer
always sends JSON; a hand-written key may not), the size limit of the queue,
the job name, `tenantId` where the queue requires it, then the payload model.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from platform_spec.model import Queue
from workers.errors import InvalidJob
from workers.logs import get_logger
from workers.registry import JobHandler, Registry

log = get_logger("payloads")
# (job name, unknown field names) already logged: an `ignore` policy logs each once.
_logged_unknown: set[tuple[str, tuple[str, ...]]] = set()


@cache
def declared_fields(model: type[BaseModel]) -> frozenset[str] | None:
    """Top-level names a model accepts (field names and aliases); None if it takes any."""
    if model.model_config.get("extra") == "allow":
        return None
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(name)
        for alias in (info.alias, info.validation_alias):
            if isinstance(alias, str):
                names.add(alias)
    return frozenset(names)


def drop_unknown_fields(handler: JobHandler, name: str, data: dict[str, Any]) -> dict[str, Any]:
    """Apply the job's unknownFields policy: `forbid` refuses naming the fields,
    `ignore` drops them (logged once per job name and field set)."""
    known = declared_fields(handler.payload_model)
    if known is None or known.issuperset(data):
        return data
    unknown = [key for key in data if key not in known]
    if not unknown:
        return data
    fields = ", ".join(unknown)
    if handler.unknown_fields == "forbid":
        raise InvalidJob(f"{fields}: unknown field (unknownFields is forbid for job {name!r})")
    seen = (name, tuple(unknown))
    if seen not in _logged_unknown and len(_logged_unknown) < 1000:
        _logged_unknown.add(seen)
        log.warning("unknown payload fields ignored", extra={"jobName": name, "fields": unknown})
    return {key: value for key, value in data.items() if key in known}


class MalformedData:
    """Stands in for job data that is not valid JSON (set by the engine)."""

    def __init__(self, raw: str, error: str) -> None:
        self.raw = raw
        self.error = error

    def __repr__(self) -> str:  # never the raw text: it may hold secrets
        return f"MalformedData({len(self.raw)} bytes)"


def payload_size(data: Any) -> int:
    """Bytes of the job's data as JSON, as BullMQ stores it."""
    if isinstance(data, MalformedData):
        return len(data.raw.encode())
    try:
        return len(orjson.dumps(data))
    except TypeError:
        return 0


def _errors(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(payload)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def tenant_of(data: Any) -> str | None:
    if isinstance(data, dict):
        tenant = data.get("tenantId")
        return tenant if isinstance(tenant, str) and tenant else None
    return None


def validate_job(
    queue: Queue, registry: Registry, name: str, data: Any, size: int | None = None
) -> tuple[JobHandler, BaseModel]:
    """The handler and the parsed payload, or InvalidJob naming what is wrong."""
    if isinstance(data, MalformedData):
        raise InvalidJob(f"data is not valid JSON ({data.error})")
    size = payload_size(data) if size is None else size
    if size > queue.max_payload_bytes:
        raise InvalidJob(f"payload is {size} bytes, over maxPayloadBytes {queue.max_payload_bytes}")
    handler = registry.get(name)
    if handler is None:
        raise InvalidJob(f"unknown job name {name!r} (known: {', '.join(registry.names)})")
    if not isinstance(data, dict):
        raise InvalidJob(f"payload must be a JSON object, got {type(data).__name__}")
    if queue.tenancy.required and name != "ping" and tenant_of(data) is None:
        raise InvalidJob(f"tenantId is required on queue {queue.name}")
    data = drop_unknown_fields(handler, name, data)
    try:
        # The model's compiled validator, as model_validate calls it (without its wrapper).
        payload = handler.payload_model.__pydantic_validator__.validate_python(data)
    except ValidationError as exc:
        raise InvalidJob(_errors(exc)) from None
    return handler, payload
