"""Unknown payload fields (issue 17): a Node producer that adds a field (a `traceId`)
must not send its job to the DLQ by default; `unknownFields: forbid` in the spec
still refuses, and the reason names the field either way."""

from __future__ import annotations

import logging

import pytest
from pydantic import BaseModel, ConfigDict

from platform_spec.model import PlatformSpec
from workers.errors import InvalidJob
from workers.payloads import validate_job
from workers.registry import JobContext, Payload, Registry, load_registry

registry = Registry()


class Email(Payload):
    to: str
    reply_to: str | None = None


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


@registry.job("send", Email)
async def send(payload: Email, ctx: JobContext) -> None: ...


@registry.job("open", Open)
async def open_job(payload: Open, ctx: JobContext) -> None: ...


def _queue(policy: str | None) -> object:
    jobs = [{"name": "send", "unknownFields": policy}] if policy else []
    spec = PlatformSpec.model_validate(
        {
            "environment": "dev",
            "queues": [{"name": "mail", "handler": f"{__name__}:registry", "jobs": jobs}],
            "schedules": [],
            "maintenanceQueue": "mail",
        }
    )
    return spec.queues[0]


@pytest.mark.parametrize("policy", [None, "ignore"])
def test_it_should_ignore_and_log_unknown_fields_by_default(
    policy: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    queue = _queue(policy)
    reg = load_registry(queue)  # type: ignore[arg-type]
    data = {"to": "a@b.c", "replyTo": "d@e.f", "traceId": "t-1", f"span{policy}": 2}
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            _, payload = validate_job(queue, reg, "send", data)  # type: ignore[arg-type]
    assert payload == Email(to="a@b.c", reply_to="d@e.f")
    logged = [r for r in caplog.records if r.getMessage() == "unknown payload fields ignored"]
    assert len(logged) == 1  # once per process for this job name and field set
    assert logged[0].__dict__["fields"] == ["traceId", f"span{policy}"]
    assert data["traceId"] == "t-1", "the caller's data is left as it was"


def test_it_should_refuse_unknown_fields_where_the_spec_forbids_them() -> None:
    queue = _queue("forbid")
    reg = load_registry(queue)  # type: ignore[arg-type]
    with pytest.raises(InvalidJob, match=r"traceId, span: unknown field .*forbid.*'send'"):
        validate_job(queue, reg, "send", {"to": "a@b.c", "traceId": "t", "span": 1})  # type: ignore[arg-type]
    # a declared field still validates by its own rules, naming it
    with pytest.raises(InvalidJob, match="to: Input should be a valid string"):
        validate_job(queue, reg, "send", {"to": 5})  # type: ignore[arg-type]


def test_it_should_pass_everything_to_models_that_allow_extras() -> None:
    queue = _queue("forbid")
    reg = load_registry(queue)  # type: ignore[arg-type]
    _, payload = validate_job(queue, reg, "open", {"anything": 1})  # type: ignore[arg-type]
    assert payload.model_dump() == {"anything": 1}
