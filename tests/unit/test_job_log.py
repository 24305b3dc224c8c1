"""Per-job log lines only where they are worth reading; a summary line for the rest."""

from __future__ import annotations

import asyncio
import logging

import pytest

from workers.job_log import CompletionLog


def _log(level: int) -> logging.Logger:
    log = logging.getLogger(f"workers.test-job-log-{level}")
    log.setLevel(level)
    return log


def test_it_should_sum_fast_completions_into_one_line(caplog: pytest.LogCaptureFixture) -> None:
    completions = CompletionLog(_log(logging.INFO), "q", 10.0, 5.0)
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            completions.completed("send-email", 0.01, lambda: {"jobId": "x"})
        completions.completed("ping", 0.01, lambda: {"jobId": "y"})
        assert not caplog.records  # nothing per job
        completions.flush()
    (record,) = caplog.records
    assert record.getMessage() == "jobs completed"
    assert vars(record)["completed"] == 4
    assert vars(record)["byJobName"] == {"send-email": 3, "ping": 1}
    caplog.clear()
    completions.flush()  # nothing new: no line
    assert not caplog.records


def test_it_should_log_a_slow_job_with_its_id(caplog: pytest.LogCaptureFixture) -> None:
    completions = CompletionLog(_log(logging.INFO), "q", 10.0, 5.0)
    with caplog.at_level(logging.INFO):
        completions.completed("report", 7.5, lambda: {"jobId": "slow-1"})
    (record,) = caplog.records
    assert record.getMessage() == "job completed slowly"
    assert vars(record)["jobId"] == "slow-1"


def test_it_should_log_every_job_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    completions = CompletionLog(_log(logging.DEBUG), "q", 10.0, 5.0)
    with caplog.at_level(logging.DEBUG):
        completions.completed("ping", 0.01, lambda: {"jobId": "j1"})
        completions.completed("ping", 0.01, lambda: {"jobId": "j2"})
    assert [vars(r)["jobId"] for r in caplog.records] == ["j1", "j2"]


def test_it_should_write_the_last_summary_when_stopped(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        completions = CompletionLog(_log(logging.INFO), "q", 3600.0, 5.0)
        completions.start()
        completions.completed("ping", 0.01, dict)
        await completions.stop()

    with caplog.at_level(logging.INFO):
        asyncio.run(scenario())
    assert [r.getMessage() for r in caplog.records] == ["jobs completed"]
