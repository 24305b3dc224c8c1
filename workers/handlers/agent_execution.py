"""Queue `agent-execution`: agent runs, sub-agents and resumptions.

The agent itself is pluggable (`set_runner`): the default `LocalRunner` is a
deterministic rule-based agent (no outside service) that plans the input into
steps and reports them, which is enough for smoke tests and for wiring a real
model runner in later. A sub-agent is a new `execute-agent` job whose id is
derived from its parent's, so a retried parent never spawns it twice.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import Field

from workers.registry import JobContext, Payload, Registry

registry = Registry()
AgentId = Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")


class ExecuteAgent(Payload):
    agent_id: str = AgentId
    input: str = Field(min_length=1, max_length=100_000)
    max_steps: int = Field(10, ge=1, le=100)
    parent_job_id: str | None = None


class SpawnSubagent(Payload):
    parent_job_id: str = Field(min_length=1, max_length=200)
    agent_id: str = AgentId
    input: str = Field(min_length=1, max_length=100_000)


class ResumeAgent(Payload):
    agent_id: str = AgentId
    checkpoint: dict[str, Any]
    input: str = Field("", max_length=100_000)


class AgentRunner(Protocol):
    async def run(self, agent_id: str, text: str, max_steps: int) -> dict[str, Any]: ...

    async def resume(
        self, agent_id: str, checkpoint: dict[str, Any], text: str
    ) -> dict[str, Any]: ...


class LocalRunner:
    """Splits the input into sentences, one step each, up to max_steps."""

    async def run(self, agent_id: str, text: str, max_steps: int) -> dict[str, Any]:
        sentences = [s.strip() for s in text.replace("\n", ". ").split(".") if s.strip()]
        steps = sentences[:max_steps]
        return {
            "agentId": agent_id,
            "steps": steps,
            "done": len(sentences) <= max_steps,
            "checkpoint": {"next": len(steps), "remaining": sentences[max_steps:]},
        }

    async def resume(self, agent_id: str, checkpoint: dict[str, Any], text: str) -> dict[str, Any]:
        remaining = [str(s) for s in checkpoint.get("remaining", [])]
        rest = ". ".join([*remaining, text]) if text else ". ".join(remaining)
        if not rest:
            return {"agentId": agent_id, "steps": [], "done": True, "checkpoint": {}}
        return await self.run(agent_id, rest, 100)


_runner: AgentRunner = LocalRunner()


def set_runner(runner: AgentRunner) -> None:
    global _runner
    _runner = runner


@registry.job("execute-agent", ExecuteAgent)
async def execute_agent(payload: ExecuteAgent, ctx: JobContext) -> dict[str, Any]:
    return await _runner.run(payload.agent_id, payload.input, payload.max_steps)


@registry.job("spawn-subagent", SpawnSubagent)
async def spawn_subagent(payload: SpawnSubagent, ctx: JobContext) -> dict[str, Any]:
    if ctx.enqueue is None:
        raise RuntimeError("no producer in the job context")
    data: dict[str, Any] = {
        "agentId": payload.agent_id,
        "input": payload.input,
        "parentJobId": payload.parent_job_id,
    }
    if ctx.tenant_id:
        data["tenantId"] = ctx.tenant_id
    child = f"sub-{payload.parent_job_id}-{payload.agent_id}"
    job_id = await ctx.enqueue(ctx.queue.name, "execute-agent", data, child)
    return {"childJobId": job_id}


@registry.job("resume-agent", ResumeAgent)
async def resume_agent(payload: ResumeAgent, ctx: JobContext) -> dict[str, Any]:
    return await _runner.resume(payload.agent_id, payload.checkpoint, payload.input)
