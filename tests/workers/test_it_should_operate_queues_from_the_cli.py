"""The ops CLI against the real Redis: enqueue (validated), counts, pause/resume,
DLQ list/show/retry/purge, retry-failed; `--json` for scripts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from conftest import make_spec, producer, running_worker, wait_finished
from typer.testing import CliRunner

from local_stack.redis_server import RedisServer
from workers.cli import app
from workers.dlq import entry_id

pytestmark = pytest.mark.redis


@pytest.fixture
def cli_env(redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in redis_server.env("worker").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("BULLMQ_PLATFORM_REDIS_SECRETS_DIR", str(tmp_path / "none"))
    return tmp_path


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    if result.exit_code == 2:  # usage errors come in a rich box: flatten it
        return 2, " ".join(result.output.replace("│", " ").split())
    return result.exit_code, result.output


def test_it_should_enqueue_count_pause_and_resume(cli_env: Path, queue_name: str) -> None:
    spec_file = cli_env / "spec.json"
    spec_file.write_text(make_spec(queue_name).model_dump_json(by_alias=True))
    sf = ["--spec-file", str(spec_file)]
    code, out = _invoke(
        "ops", "enqueue", queue_name, "echo", "--data", '{"text": "x"}', *sf, "--json"
    )
    assert code == 0, out
    assert json.loads(out)[0]["name"] == "echo"
    code, out = _invoke("ops", "enqueue", queue_name, "echo", "--data", '{"text": 1}', *sf)
    assert code == 2 and "text: Input should be a valid string" in out
    code, out = _invoke("ops", "enqueue", queue_name, "nope", *sf)
    assert code == 2 and "unknown job name 'nope'" in out
    code, out = _invoke("ops", "counts", *sf, "--json")
    assert code == 0, out
    (row,) = json.loads(out)
    # the default priority (3) puts the job in `prioritized`, not `waiting`
    assert row["queue"] == queue_name and row["prioritized"] + row["waiting"] == 1
    assert _invoke("ops", "pause", queue_name, *sf)[0] == 0
    (row,) = json.loads(_invoke("ops", "counts", *sf, "--json")[1])
    assert row["paused"] + row["prioritized"] == 1
    assert _invoke("ops", "resume", queue_name, *sf)[0] == 0
    code, out = _invoke("ops", "counts", *sf)
    assert code == 0 and queue_name in out  # the table for people


def test_it_should_list_show_retry_and_purge_dead_letters(
    redis_server: RedisServer, cli_env: Path, queue_name: str
) -> None:
    spec = make_spec(queue_name)
    spec_file = cli_env / "spec.json"
    spec_file.write_text(spec.model_dump_json(by_alias=True))
    sf = ["--spec-file", str(spec_file)]

    async def dead_letter() -> list[str]:
        async with running_worker(redis_server, spec), producer(redis_server, queue_name) as q:
            ids = [(await q.add("fail", {"text": str(i)})).id for i in range(2)]
            for job_id in ids:
                assert await wait_finished(q, job_id) == "failed"
            return ids

    ids = asyncio.run(dead_letter())
    code, out = _invoke("ops", "dlq", "list", queue_name, *sf, "--json")
    assert code == 0, out
    listed = json.loads(out)
    assert [e["jobId"] for e in listed] == ids
    entry = entry_id(queue_name, ids[0])
    code, out = _invoke("ops", "dlq", "show", queue_name, entry, *sf, "--json")
    shown = json.loads(out)
    assert shown["data"] == {"text": "0"} and shown["error"] == "always fails: 0"
    code, out = _invoke("ops", "dlq", "retry", queue_name, entry, *sf, "--json")
    assert code == 0, out
    new_id = json.loads(out)[0]["newJobId"]

    async def state() -> str:
        async with producer(redis_server, queue_name) as q:
            return str(await q.getJobState(new_id))

    assert asyncio.run(state()) in ("waiting", "prioritized")
    assert len(json.loads(_invoke("ops", "dlq", "list", queue_name, *sf, "--json")[1])) == 1
    code, out = _invoke("ops", "dlq", "purge", queue_name, "--all", "--yes", *sf)
    assert code == 0 and "purged 1 entry" in out
    assert json.loads(_invoke("ops", "dlq", "list", queue_name, *sf, "--json")[1]) == []
    code, _ = _invoke("ops", "dlq", "show", queue_name, entry, *sf)
    assert code == 1
