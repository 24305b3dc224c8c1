"""Worker-only settings. Redis and the spec come from platform_spec.settings.

Env vars start with `BULLMQ_PLATFORM_WORKER_`. The defaults are BullMQ's own;
tests shorten the lock and stall intervals to see recovery in seconds.
"""

from __future__ import annotations

from pydantic import Field

from platform_spec.env_settings import EnvSettings
from platform_spec.settings import ENV_PREFIX


class WorkerSettings(EnvSettings):
    """Lock, stall and liveness tuning of one worker process."""

    env_prefix = f"{ENV_PREFIX}WORKER_"

    # A job's lock lives this long unless renewed (renewed every half of it).
    # A job whose worker died is taken back after at most lock + stalled interval.
    lock_duration_ms: int = Field(30_000, ge=100)
    # How often this worker looks for jobs whose lock expired (stalled jobs).
    stalled_interval_ms: int = Field(30_000, ge=100)
    # Times a job may stall before it is failed instead of retried.
    max_stalled_count: int = Field(1, ge=0)
    # Seconds an idle fetch blocks on Redis before it loops (and proves it is alive).
    drain_delay_seconds: float = Field(5.0, gt=0)
    # /healthz fails when the fetch loop made no progress for this long while
    # it had free slots (taskforcesh/bullmq#2964, #2466: a dead loop in a live process).
    liveness_stale_seconds: float = Field(60.0, gt=0)
    # A handler that blocks the event loop longer than this is logged and counted
    # (bullmq_worker_event_loop_blocked_seconds, workers/loop_watch.py).
    loop_block_report_seconds: float = Field(1.0, gt=0)
    # Seconds kept back from the pod's grace period to hand unfinished jobs back.
    drain_margin_seconds: float = Field(5.0, ge=0)
    # Completed jobs are summed into one `jobs completed` log line per interval
    # (one line per job at log level DEBUG); failures always get their own line.
    job_log_interval_seconds: float = Field(10.0, gt=0)
    # A completed job that ran at least this long gets its own log line.
    slow_job_seconds: float = Field(10.0, ge=0)
    # Every worker looks this often for failed jobs without a DLQ entry (their worker
    # died before writing it) and adds them (workers/dlq_reconcile.py); also at start.
    dlq_reconcile_interval_seconds: float = Field(30.0, gt=0)
