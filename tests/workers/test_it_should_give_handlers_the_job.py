"""The handler's job API (issue 17, workers/job.py), on both engines, observed from
Node BullMQ 6: progress and logs, the job's own fields, job control (update_data,
discard, delay and rate limit without spending an attempt, the abort signal the
timeout sets), flows from Node's FlowProducer across two queues (children values,
failParentOnFailure, ignoreDependencyOnFailure) and a Python parent adding its
children from inside its handler."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import job_api_handlers
import pytest
from conftest import (
    make_spec,
    producer,
    redis_settings,
    running_worker,
    wait_finished,
)
from node_interop import node, node_add, node_add_many, node_events

from local_stack.redis_server import RedisServer
from platform_spec.keys import QueueKeys
from platform_spec.model import PlatformSpec
from workers.connection import bullmq_connection
from workers.flows import AddedJob, FlowJob, FlowProducer

pytestmark = [pytest.mark.redis, pytest.mark.slow]
HANDLERS = "job_api_handlers"


def _spec(queue: str, **overrides: Any) -> PlatformSpec:
    return make_spec(queue, handler=HANDLERS, **overrides)


def _two_queue_spec(first: str, second: str) -> PlatformSpec:
    one = _spec(first).queues[0].model_dump(by_alias=True)
    return PlatformSpec.model_validate(
        {
            "environment": "dev",
            "queues": [one, {**one, "name": second}],
            "schedules": [],
            "maintenanceQueue": first,
        }
    )


async def _finish(server: RedisServer, queue: str, ids: list[str]) -> list[str]:
    async with producer(server, queue) as q:
        return [await wait_finished(q, job_id) for job_id in ids]


def test_it_should_report_progress_and_logs_that_node_reads(
    redis_server: RedisServer, node_bullmq: Path, queue_name: str
) -> None:
    data = {"n": 5, "traceId": "from-node"}
    with node_events(node_bullmq, redis_server, queue_name, 3) as events:
        job_id = node_add(
            node_bullmq, redis_server, queue_name, "report", data, {"attempts": 2, "priority": 3}
        )

        async def scenario() -> list[str]:
            async with running_worker(redis_server, _spec(queue_name)):
                return await _finish(redis_server, queue_name, [job_id])

        assert asyncio.run(scenario()) == ["completed"]
    assert [e["data"] for e in events if e["event"] == "progress"] == [50, {"done": 5}]
    seen = node(node_bullmq, redis_server, "read", queue_name, job_id)
    assert seen["progress"] == {"done": 5}
    value = seen["returnvalue"]
    assert value["raw"] == data  # the raw data, unknown field included
    assert value["payloadN"] == 5
    assert (value["attempts"], value["priority"], value["attemptsMade"]) == (2, 3, 0)
    assert value["timestamp"] > 0 and value["processedOn"] >= value["timestamp"]
    assert value["parent"] is None and value["lines"] == 2
    logs = node(node_bullmq, redis_server, "logs", queue_name, job_id)
    assert logs == {"logs": ["halfway", "done"], "count": 2}


def test_it_should_steer_its_own_job(
    redis_server: RedisServer, node_bullmq: Path, queue_name: str
) -> None:
    spec = _spec(queue_name, rateLimit={"max": 100, "durationMs": 1000}, jobTimeoutSeconds=1)

    attempts = {"rewrite": 2, "discard": 3, "later": 1, "limited": 1, "hang": 1}
    jobs = [(name, {}, {"attempts": n}) for name, n in attempts.items()]
    added = node_add_many(node_bullmq, redis_server, queue_name, jobs)
    ids = dict(zip(attempts, added, strict=True))

    async def scenario() -> list[str]:
        async with running_worker(redis_server, spec):
            return await _finish(redis_server, queue_name, list(ids.values()))

    states = dict(zip(ids, asyncio.run(scenario()), strict=True))
    assert states == {
        "rewrite": "completed",
        "discard": "failed",
        "later": "completed",
        "limited": "completed",
        "hang": "failed",
    }

    found = node(node_bullmq, redis_server, "read", queue_name, *ids.values())
    seen = dict(zip(ids, found, strict=True))

    def read(name: str) -> Any:
        return seen[name]

    # update_data: the retry sees the data the first attempt stored
    assert read("rewrite")["returnvalue"] == {"data": {"step": 1}, "attemptsMade": 1}
    # discard: one attempt of three, then failed for good
    discarded = read("discard")
    assert discarded["attemptsMade"] == 1
    assert discarded["failedReason"] == "discarded: no retries"
    # move_to_delayed and rate_limit: run again, no attempt spent
    assert read("later")["returnvalue"] == {"attemptsMade": 0}
    assert read("limited")["returnvalue"] == {"attemptsMade": 0}
    delays = node(node_bullmq, redis_server, "delays", queue_name, ids["later"])
    assert len(delays) == 1 and 0 < delays[0] <= 300
    # the job timeout cancels the attempt and sets the abort signal
    assert "timed out" in read("hang")["failedReason"]
    assert ids["hang"] in job_api_handlers.ABORTS


def test_it_should_work_a_node_flow_across_two_queues(
    redis_server: RedisServer, node_bullmq: Path, queue_name: str
) -> None:
    other = f"{queue_name}-b"
    spec = _two_queue_spec(queue_name, other)

    def child(queue: str, n: int, **opts: Any) -> dict[str, Any]:
        return {"name": "child", "queueName": queue, "data": {"n": n}, "opts": opts}

    flow = {
        "name": "gather",
        "queueName": queue_name,
        "data": {},
        "children": [
            child(queue_name, 1),
            child(other, 2),
            child(other, -1, ignoreDependencyOnFailure=True),
        ],
    }
    doomed = {
        "name": "gather",
        "queueName": queue_name,
        "data": {},
        "children": [child(other, -2, failParentOnFailure=True)],
    }
    tree, doomed_tree = node(node_bullmq, redis_server, "flow", json.dumps([flow, doomed]))

    py_flow = FlowJob(
        queue_name,
        "gather",
        {},
        children=[FlowJob(queue_name, "child", {"n": 3}), FlowJob(other, "child", {"n": 4})],
    )

    async def scenario() -> tuple[list[str], AddedJob]:
        flows = FlowProducer(spec, bullmq_connection(redis_settings(redis_server)))
        try:
            with pytest.raises(ValueError, match=r"flow.children\[0\].queue: no queue 'nope'"):
                await flows.add(FlowJob(queue_name, "gather", {}, [FlowJob("nope", "child", {})]))
            added = await flows.add(py_flow)
        finally:
            await flows.close()
        async with (
            running_worker(redis_server, spec),
            running_worker(redis_server, spec, queue_name=other),
        ):
            ids = [tree["id"], doomed_tree["id"], added.id]
            return await _finish(redis_server, queue_name, ids), added

    states, added = asyncio.run(scenario())
    assert states == ["completed", "failed", "completed"]
    py_parent = node(node_bullmq, redis_server, "read", queue_name, added.id)
    assert py_parent["returnvalue"]["values"] == {
        QueueKeys("bull", c.queue).job(c.id): {"double": 2 * n}
        for c, n in zip(added.children, (3, 4), strict=True)
    }
    parent, failed_parent = node(
        node_bullmq, redis_server, "read", queue_name, tree["id"], doomed_tree["id"]
    )
    keys = [QueueKeys("bull", c["queue"]).job(c["id"]) for c in tree["children"]]
    value = parent["returnvalue"]
    assert value["values"] == {keys[0]: {"double": 2}, keys[1]: {"double": 4}}
    assert value["deps"]["processed"] == value["values"]
    assert value["deps"]["unprocessed"] == []
    assert list(value["deps"]["ignored"]) == [keys[2]]
    assert "child refuses -1" in value["deps"]["ignored"][keys[2]]
    child_seen = node(node_bullmq, redis_server, "read", other, tree["children"][1]["id"])
    assert child_seen["parentKey"] == QueueKeys("bull", queue_name).job(tree["id"])
    assert failed_parent["state"] == "failed"
    assert doomed_tree["children"][0]["id"] in failed_parent["failedReason"]


def test_it_should_let_a_parent_add_children_and_wait_for_them(
    redis_server: RedisServer, node_bullmq: Path, queue_name: str
) -> None:
    job_id = node_add(node_bullmq, redis_server, queue_name, "spawn", {"n": 3}, {"attempts": 1})

    async def scenario() -> list[str]:
        async with running_worker(redis_server, _spec(queue_name)):
            return await _finish(redis_server, queue_name, [job_id])

    assert asyncio.run(scenario()) == ["completed"]
    seen = node(node_bullmq, redis_server, "read", queue_name, job_id)
    assert seen["returnvalue"] == {"total": 2 + 4 + 6, "attemptsMade": 0}
    child_ids = [f"{job_id}-c{n}" for n in (1, 2, 3)]
    for child in node(node_bullmq, redis_server, "read", queue_name, *child_ids):
        assert child["state"] == "completed"
        assert child["parentKey"] == QueueKeys("bull", queue_name).job(job_id)
