"""Workers, DLQ, flows, ops CLI, scheduler, scaling signal and health check on a real
Redis Cluster: each queue's keys in its own slot, queues spread over the shards."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from bullmq import Queue as BullQueue
from cluster_handlers import runs_key
from cluster_support import queue_names, settings_for, spec_for
from typer.testing import CliRunner

from autoscaling.signal import scaling_response
from local_stack.redis_cluster import RedisClusterStack, key_slot
from platform_spec.model import PlatformSpec
from platform_spec.settings import RuntimeSettings
from scheduler.register import Registrar
from workers.cli import app
from workers.connection import bullmq_connection, bullmq_connection_arg, connect
from workers.flows import FlowJob, FlowProducer
from workers.maintenance import run_maintenance
from workers.runtime import WorkerRuntime
from workers.settings import WorkerSettings

pytestmark = [pytest.mark.redis, pytest.mark.slow]

FAST = WorkerSettings(
    lock_duration_ms=2000, stalled_interval_ms=1000, drain_delay_seconds=0.5, drain_margin_seconds=1
)


async def _wait(check, attempts: int = 400, pause: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    for _ in range(attempts):
        if await check():
            return True
        await asyncio.sleep(pause)
    return False


def _producer(stack: RedisClusterStack, spec: PlatformSpec, name: str) -> BullQueue:
    kwargs = bullmq_connection(settings_for(stack))
    return BullQueue(
        name, {"connection": bullmq_connection_arg(kwargs), "prefix": spec.queue_prefix(name)}
    )


def test_it_should_spread_queues_over_the_shards(redis_cluster: RedisClusterStack) -> None:
    names = queue_names(12)
    spec = spec_for(names)
    owners = {redis_cluster.queue_primary(n).port for n in names}
    slots = {n: key_slot(spec.queue_keys(n).wait) for n in names}
    # Every key of a queue (and of its DLQ) shares the queue's slot.
    for n in names:
        keys = spec.queue_keys(n)
        assert {
            key_slot(k) for k in (keys.meta, keys.active, keys.job("7"), keys.job_lock("7"))
        } == {slots[n]}
        assert key_slot(spec.queue_keys(f"{n}-dlq").wait) == slots[n]
    print(f"[cluster] 12 queues on {len(owners)} of {redis_cluster.shards} primaries")
    assert len(owners) >= 2


@pytest.mark.parametrize("engine", [None, "stock"], ids=["default-fast", "stock"])
def test_it_should_complete_and_dead_letter_on_every_shard(
    redis_cluster: RedisClusterStack, engine: str | None
) -> None:
    names = queue_names(3)
    spec = spec_for(names)

    async def scenario() -> None:
        runtimes = [
            WorkerRuntime(
                spec,
                n,
                settings_for(redis_cluster),
                RuntimeSettings(http_host="127.0.0.1", http_port=0),
                FAST,
                engine,
            )
            for n in names
        ]
        assert {r.engine_kind for r in runtimes} == {engine or "fast"}
        for r in runtimes:
            await r.start()
        client = connect(bullmq_connection(settings_for(redis_cluster)), decode_responses=True)
        producers = [_producer(redis_cluster, spec, n) for n in names]
        try:
            for p in producers:
                await p.addBulk(
                    [
                        {"name": "work", "data": {"n": i}, "opts": {"jobId": f"w{i}"}}
                        for i in range(20)
                    ]
                )
                await p.add("boom", {"n": 1}, {"jobId": "b1"})

            async def all_done() -> bool:
                for n in names:
                    runs = await client.hgetall(runs_key(spec.queue_prefix(n), n))
                    if len(runs) < 20:
                        return False
                return True

            assert await _wait(all_done)
            for n in names:
                runs = await client.hgetall(runs_key(spec.queue_prefix(n), n))
                assert set(runs.values()) == {"1"}, "every job exactly once"
                dlq = _producer(redis_cluster, spec, f"{n}-dlq")
                try:
                    assert await _wait(lambda dlq=dlq: _dlq_count(dlq))
                finally:
                    await dlq.close()
        finally:
            for p in producers:
                await p.close()
            for r in runtimes:
                await r.stop()
            await client.aclose()

    asyncio.run(scenario())


async def _dlq_count(dlq: BullQueue) -> bool:
    counts = await dlq.getJobCounts("waiting", "prioritized")
    return sum(counts.values()) == 1


def test_it_should_add_a_flow_within_a_tag_group_and_refuse_one_across(
    redis_cluster: RedisClusterStack,
) -> None:
    parent, child, other = queue_names(3)
    spec = spec_for(
        [parent, child, other],
        tagGroups=[{"tag": f"g-{parent}", "queues": [parent, child]}],
        flows=[{"name": "pc", "queues": [parent, child]}],
    )

    async def scenario() -> None:
        flows = FlowProducer(spec, bullmq_connection(settings_for(redis_cluster)))
        try:
            added = await flows.add(
                FlowJob(parent, "work", {"n": 0}, children=[FlowJob(child, "work", {"n": 1})])
            )
            assert added.queue == parent and added.children[0].queue == child
            with pytest.raises(ValueError, match=r"flow\.children\[0\]\.queue: .*one hash slot"):
                await flows.add(
                    FlowJob(parent, "work", {"n": 0}, children=[FlowJob(other, "work", {"n": 1})])
                )
        finally:
            await flows.close()

    asyncio.run(scenario())


def test_it_should_register_schedules_and_read_scaling_per_shard(
    redis_cluster: RedisClusterStack,
) -> None:
    names = queue_names(3)
    data = spec_for(names).model_dump(by_alias=True)
    data["schedules"] = [
        {"name": f"tick-{n}", "cron": "*/5 * * * *", "queue": n, "jobName": "work"} for n in names
    ]
    data["fullnameOverride"] = f"t-{names[0][:20]}"
    spec = PlatformSpec.model_validate(data)

    async def scenario() -> None:
        registrar = Registrar(spec, settings_for(redis_cluster, "scheduler").redis_kwargs())
        client = connect(settings_for(redis_cluster).redis_kwargs(), decode_responses=True)
        try:
            report = await registrar.reconcile()
            assert sorted(report.created) == sorted(f"tick-{n}" for n in names)
            assert not report.errors
            again = await registrar.reconcile()
            assert sorted(again.unchanged) == sorted(f"tick-{n}" for n in names)
            for n in names:
                p = _producer(redis_cluster, spec, n)
                try:
                    await p.addBulk([{"name": "work", "data": {"n": i}} for i in range(5)])
                finally:
                    await p.close()
                status, body = await scaling_response(client, spec, n)
                assert status == 200, body
                print(f"[cluster] scaling {n}: {json.dumps(body)[:160]}")
        finally:
            await registrar.close()
            await client.aclose()

    asyncio.run(scenario())


def test_it_should_run_the_health_check_and_rollups_on_a_cluster(
    redis_cluster: RedisClusterStack,
) -> None:
    names = queue_names(2)
    spec = spec_for(names)

    async def scenario() -> None:
        client = connect(settings_for(redis_cluster).redis_kwargs(), decode_responses=True)
        try:
            report = await run_maintenance("health-check", {}, redis=client, spec=spec)
            assert report["redis"]["maxmemoryPolicy"] == "noeviction", report
            assert report["redis"]["nodes"] == redis_cluster.shards  # every primary's INFO
            assert set(report["queues"]) == set(names)
            assert not [
                f for f in report["findings"] if f["check"] in ("eviction_policy", "aof_disabled")
            ]
            rollup = await run_maintenance("metrics-aggregate", {}, redis=client, spec=spec)
            assert rollup["job"] == "metrics-aggregate"
            await run_maintenance("retention-enforce", {}, redis=client, spec=spec)
            await run_maintenance("daily-cleanup", {}, redis=client, spec=spec)
        finally:
            await client.aclose()

    asyncio.run(scenario())


def test_it_should_operate_queues_from_the_cli_on_a_cluster(
    redis_cluster: RedisClusterStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = queue_names(2)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(spec_for(names).model_dump_json(by_alias=True))
    for key, value in redis_cluster.env("worker").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("BULLMQ_PLATFORM_REDIS_SECRETS_DIR", str(tmp_path / "none"))
    runner = CliRunner()
    sf = ["--spec-file", str(spec_file)]
    for n in names:
        result = runner.invoke(
            app, ["ops", "enqueue", n, "work", "--data", '{"n": 1}', *sf, "--json"]
        )
        assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["ops", "pause", names[0], *sf]).exit_code == 0
    result = runner.invoke(app, ["ops", "counts", *sf, "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["queue"]: row for row in json.loads(result.output)}
    assert rows[names[0]]["paused"] + rows[names[0]]["prioritized"] == 1
    assert rows[names[1]]["waiting"] + rows[names[1]]["prioritized"] == 1
    assert runner.invoke(app, ["ops", "resume", names[0], *sf]).exit_code == 0
