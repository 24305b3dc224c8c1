"""The default catalog: seed 000's queues and maintenance schedules."""

from __future__ import annotations

from platform_spec.sections.common import (
    PRIORITY_LEVELS,
)
from platform_spec.sections.queues import (
    Autoscaling,
    JobType,
    Queue,
    RateLimit,
)
from platform_spec.sections.schedules import (
    Schedule,
)


def default_queues() -> list[Queue]:
    """Seed 000's catalog: five queues with its job types and operational settings."""
    handlers = "workers.handlers"
    return [
        Queue(
            name="agent-execution",
            handler=f"{handlers}.agent_execution",
            jobs=[JobType(name=n) for n in ("execute-agent", "spawn-subagent", "resume-agent")],
            concurrency=5,
            default_priority=PRIORITY_LEVELS["high"],
            rate_limit=RateLimit(max=10, duration_ms=1000),
            job_timeout_seconds=600,
        ),
        Queue(
            name="workflow-orchestration",
            handler=f"{handlers}.workflow_orchestration",
            jobs=[
                JobType(name=n)
                for n in (
                    "start-workflow",
                    "execute-step",
                    "complete-workflow",
                    "rollback-workflow",
                )
            ],
            concurrency=10,
        ),
        Queue(
            name="background-tasks",
            handler=f"{handlers}.background_tasks",
            jobs=[
                JobType(name=n)
                for n in ("generate-report", "cleanup-old-data", "sync-external", "index-content")
            ],
            concurrency=5,
            default_priority=PRIORITY_LEVELS["low"],
            job_timeout_seconds=900,
        ),
        Queue(
            name="scheduled-jobs",
            handler=f"{handlers}.maintenance",
            jobs=[
                JobType(name=n)
                for n in ("daily-cleanup", "health-check", "metrics-aggregate", "retention-enforce")
            ],
            concurrency=2,
            default_priority=PRIORITY_LEVELS["background"],
            autoscaling=Autoscaling(min_replicas=1, max_replicas=2),
        ),
        Queue(
            name="notifications",
            handler=f"{handlers}.notifications",
            jobs=[JobType(name=n) for n in ("send-email", "send-webhook", "send-slack")],
            concurrency=10,
            attempts=5,
            job_timeout_seconds=60,
        ),
    ]


def default_schedules() -> list[Schedule]:
    """Seed 000's maintenance schedules, all in UTC, all on the maintenance queue."""
    crons = {
        "daily-cleanup": "0 2 * * *",
        "health-check": "*/5 * * * *",
        "metrics-aggregate": "0 * * * *",
        "retention-enforce": "0 3 * * *",
    }
    return [
        Schedule(name=name, cron=cron, queue="scheduled-jobs", job_name=name)
        for name, cron in crons.items()
    ]
