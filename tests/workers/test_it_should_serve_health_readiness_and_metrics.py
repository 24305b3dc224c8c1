"""One HTTP port: /healthz (loop alive and fetching), /readyz (TLS + auth PING),
/metrics (bullmq_* series by queue and job name, never a job id)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from conftest import make_spec, producer, running_worker, wait_finished, wait_for

from local_stack.redis_server import RedisServer
from workers.settings import WorkerSettings

pytestmark = pytest.mark.redis


def test_it_should_answer_probes_and_export_metrics(
    redis_server: RedisServer, queue_name: str
) -> None:
    spec = make_spec(queue_name)

    async def scenario() -> None:
        async with (
            running_worker(redis_server, spec) as rt,
            producer(redis_server, queue_name) as q,
        ):
            assert rt.health is not None
            base = f"http://127.0.0.1:{rt.health.port}"
            job = await q.add("echo", {"text": "m"})
            assert await wait_finished(q, job.id) == "completed"
            async with httpx.AsyncClient(timeout=5) as http:
                live = await http.get(f"{base}/healthz")
                ready = await http.get(f"{base}/readyz")
                metrics = await http.get(f"{base}/metrics")
                missing = await http.get(f"{base}/nope")
            assert (live.status_code, live.text.strip()) == (200, "ok")
            assert (ready.status_code, ready.text.strip()) == (200, "ok")
            assert missing.status_code == 404
            text = metrics.text
            assert (
                f'bullmq_jobs_completed_total{{job_name="echo",queue="{queue_name}"}} 1.0' in text
            )
            assert (
                f'bullmq_job_duration_seconds_count{{job_name="echo",queue="{queue_name}"}} 1.0'
                in text
            )
            assert f'bullmq_redis_roundtrip_seconds_count{{queue="{queue_name}"}} 1.0' in text
            assert "bullmq_worker_fetch_progress_timestamp_seconds" in text
            labels = {
                part.split("=")[0] for part in text.replace("{", ",").split(",") if "=" in part
            }
            assert labels <= {"queue", "job_name", "reason", "le"}, labels

    asyncio.run(scenario())


def test_it_should_fail_liveness_when_the_fetch_loop_stalls(
    redis_server: RedisServer, queue_name: str
) -> None:
    """A loop that made no progress for longer than the threshold (with free
    slots) fails /healthz, so Kubernetes restarts the pod (bullmq#2964)."""
    spec = make_spec(queue_name)
    stale = WorkerSettings(liveness_stale_seconds=0.2, drain_delay_seconds=5)

    async def scenario() -> None:
        async with running_worker(redis_server, spec, stale) as rt:
            health = rt.health
            assert health is not None
            # An idle fetch blocks 5 s, so its progress grows older than 0.2 s within
            # it. Poll instead of sleeping a fixed 0.5 s: on a loaded machine the first
            # fetch may return late and the check come too early.
            seen: list[tuple[bool, str]] = []

            async def stale_loop() -> bool:
                seen.append(health.liveness())
                return not seen[-1][0]

            assert await wait_for(stale_loop, attempts=80), seen[-3:]
            assert "no progress" in seen[-1][1]

    asyncio.run(scenario())
