"""Queue `workflow-orchestration`: multi-step workflows as chains of jobs.

`start-workflow` enqueues step 0; each `execute-step` runs its action and
enqueues the next step (or `complete-workflow`). Every job id is derived from
the workflow id and step index, so a step that is retried or replayed never
enqueues its successor twice. A step whose action reports `StepFailed`
enqueues `rollback-workflow`, which runs the compensations of the finished
steps in reverse order. Actions are pluggable: add to `ACTIONS` and
`COMPENSATIONS`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import Field

from workers.errors import UnrecoverableError
from workers.registry import JobContext, Payload, Registry

registry = Registry()
WorkflowId = Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")


class StepFailed(Exception):
    """An action's business failure: roll the workflow back instead of retrying."""


async def _noop(params: dict[str, Any]) -> Any:
    return None


async def _echo(params: dict[str, Any]) -> Any:
    return params


async def _sum(params: dict[str, Any]) -> Any:
    values = params.get("values", [])
    if not all(isinstance(v, int | float) for v in values):
        raise StepFailed("sum: values must be numbers")
    return sum(values)


async def _fail(params: dict[str, Any]) -> Any:
    raise StepFailed(str(params.get("reason", "requested failure")))


Action = Callable[[dict[str, Any]], Awaitable[Any]]
ACTIONS: dict[str, Action] = {"noop": _noop, "echo": _echo, "sum": _sum, "fail": _fail}
COMPENSATIONS: dict[str, Action] = {"noop": _noop, "echo": _echo, "sum": _noop}


class Step(Payload):
    action: str = Field(min_length=1, max_length=100)
    params: dict[str, Any] = Field(default_factory=dict)


class StartWorkflow(Payload):
    workflow_id: str = WorkflowId
    steps: list[Step] = Field(min_length=1, max_length=100)


class ExecuteStep(Payload):
    workflow_id: str = WorkflowId
    index: int = Field(ge=0)
    steps: list[Step] = Field(min_length=1, max_length=100)
    results: list[Any] = Field(default_factory=list)


class CompleteWorkflow(Payload):
    workflow_id: str = WorkflowId
    results: list[Any] = Field(default_factory=list)


class RollbackWorkflow(Payload):
    workflow_id: str = WorkflowId
    completed: list[Step] = Field(default_factory=list)
    reason: str = ""


async def _enqueue(ctx: JobContext, name: str, data: dict[str, Any], job_id: str) -> str:
    if ctx.enqueue is None:
        raise RuntimeError("no producer in the job context")
    if ctx.tenant_id:
        data["tenantId"] = ctx.tenant_id
    return await ctx.enqueue(ctx.queue.name, name, data, job_id)


@registry.job("start-workflow", StartWorkflow)
async def start_workflow(payload: StartWorkflow, ctx: JobContext) -> dict[str, Any]:
    unknown = sorted({s.action for s in payload.steps} - set(ACTIONS))
    if unknown:
        raise UnrecoverableError(f"unknown actions {unknown}")
    steps = [s.model_dump() for s in payload.steps]
    data = {"workflowId": payload.workflow_id, "index": 0, "steps": steps}
    await _enqueue(ctx, "execute-step", data, f"wf-{payload.workflow_id}-0")
    return {"workflowId": payload.workflow_id, "steps": len(steps)}


@registry.job("execute-step", ExecuteStep)
async def execute_step(payload: ExecuteStep, ctx: JobContext) -> dict[str, Any]:
    if payload.index >= len(payload.steps):
        raise UnrecoverableError(f"step {payload.index} out of range")
    step = payload.steps[payload.index]
    action = ACTIONS.get(step.action)
    if action is None:
        raise UnrecoverableError(f"unknown action {step.action!r}")
    wf = payload.workflow_id
    try:
        result = await action(step.params)
    except StepFailed as exc:
        done = [s.model_dump() for s in payload.steps[: payload.index]]
        data: dict[str, Any] = {"workflowId": wf, "completed": done, "reason": str(exc)}
        await _enqueue(ctx, "rollback-workflow", data, f"wf-{wf}-rollback")
        raise UnrecoverableError(f"step {payload.index} failed: {exc}") from exc
    results = [*payload.results, result]
    nxt = payload.index + 1
    if nxt < len(payload.steps):
        steps = [s.model_dump() for s in payload.steps]
        data = {"workflowId": wf, "index": nxt, "steps": steps, "results": results}
        await _enqueue(ctx, "execute-step", data, f"wf-{wf}-{nxt}")
    else:
        await _enqueue(
            ctx, "complete-workflow", {"workflowId": wf, "results": results}, f"wf-{wf}-done"
        )
    return {"workflowId": wf, "index": payload.index, "result": result}


@registry.job("complete-workflow", CompleteWorkflow)
async def complete_workflow(payload: CompleteWorkflow, ctx: JobContext) -> dict[str, Any]:
    return {"workflowId": payload.workflow_id, "status": "completed", "results": payload.results}


@registry.job("rollback-workflow", RollbackWorkflow)
async def rollback_workflow(payload: RollbackWorkflow, ctx: JobContext) -> dict[str, Any]:
    undone = []
    for step in reversed(payload.completed):
        compensate = COMPENSATIONS.get(step.action)
        if compensate is not None:
            await compensate(step.params)
            undone.append(step.action)
    return {"workflowId": payload.workflow_id, "status": "rolled-back", "undone": undone}
