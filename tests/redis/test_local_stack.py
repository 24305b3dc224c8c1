"""The local stack: Redis, the scheduler and one worker per queue, sample jobs, clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from local_stack import __main__ as local_main
from local_stack import samples
from local_stack.__main__ import app
from platform_spec.stack import REPO_ROOT, STACKS, load_stack
from workers.connection import connect_sync
from workers.payloads import validate_job
from workers.registry import load_registry

pytestmark = pytest.mark.redis


def test_it_should_start_everything_show_depths_and_stop(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["up", "--once", "--state-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "rediss://127.0.0.1:" in result.output
    spec = load_stack("dev").spec
    for queue in spec.queues:
        assert queue.name in result.output
        assert f"worker {queue.name}: exit 0" in result.output, "every worker drains and exits 0"
    assert "scheduler: exit 0" in result.output
    assert "dashboard: exit 0" in result.output  # the dev stack enables the dashboard
    assert "Dashboard (actions on): http://127.0.0.1:" in result.output
    board_password = (tmp_path / "dashboard" / "password").read_text()
    assert f"password in {tmp_path / 'dashboard' / 'password'}" in result.output
    assert board_password not in result.output
    assert "/metrics" in result.output and "/healthz" in result.output
    assert "stopped" in result.output
    assert (tmp_path / "redis" / "data" / "appendonlydir").is_dir()
    assert not (tmp_path / "platform.json").exists(), "the state file goes with the stack"
    password = (tmp_path / "redis" / "passwords" / "admin").read_text()
    assert password not in result.output
    logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    assert '"worker started"' in logs and password not in logs


def test_it_should_have_help_on_every_command() -> None:
    runner = CliRunner()
    for args in (["--help"], ["up", "--help"], ["enqueue", "--help"], ["kill-primary", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and "Usage" in result.output, args


@pytest.mark.parametrize("stack", STACKS)
def test_it_should_plan_valid_sample_jobs_for_every_queue_of_a_stack(stack: str) -> None:
    spec = load_stack(stack).spec
    planned = samples.plan(spec, 4)
    assert {p.queue for p in planned} == {q.name for q in spec.queues}
    for job in planned:
        queue = spec.queue(job.queue)
        validate_job(queue, load_registry(queue), job.name, job.data)
    assert any(p.name != "ping" for p in planned), "samples must exercise real handlers"


def test_it_should_refuse_to_enqueue_when_no_stack_runs(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["enqueue", "--state-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "scripts/local" in result.output


@pytest.mark.slow
def test_it_should_run_sample_jobs_and_drain_on_sigterm(tmp_path: Path) -> None:
    """`up` in a real process: sample jobs complete, SIGTERM stops everything with exit 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULLMQ_PLATFORM_")}
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen(
        [sys.executable, "-m", "local_stack", "up", "--state-dir", str(tmp_path / "s")],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        state = tmp_path / "s" / "platform.json"
        deadline = time.monotonic() + 90
        while not state.exists() and time.monotonic() < deadline and up.poll() is None:
            time.sleep(0.2)
        assert state.exists(), (tmp_path / "up.log").read_text()
        result = CliRunner().invoke(
            app, ["enqueue", "--state-dir", str(tmp_path / "s"), "--count", "3"]
        )
        assert result.exit_code == 0, result.output
        spec = load_stack("dev").spec
        doc = json.loads(state.read_text())
        password = (tmp_path / "s" / "redis" / "passwords" / "admin").read_text()
        client = redis.Redis(
            host="127.0.0.1",
            port=doc["redisPort"],
            username="admin",
            password=password,
            ssl=True,
            ssl_ca_certs=str(tmp_path / "s" / "redis" / "tls" / "ca.crt"),
            decode_responses=True,
        )

        def completed() -> dict[str, int]:
            return {q.name: int(client.zcard(f"bull:{q.name}:completed")) for q in spec.queues}

        deadline = time.monotonic() + 90
        while min(completed().values()) < 3 and time.monotonic() < deadline:
            time.sleep(0.25)
        done = completed()
        failed = {q.name: int(client.zcard(f"bull:{q.name}:failed")) for q in spec.queues}
        client.close()
        up.send_signal(signal.SIGTERM)
        code = up.wait(120)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait(10)
        log.close()
    output = (tmp_path / "up.log").read_text()
    assert min(done.values()) >= 3, (done, failed)
    assert not any(failed.values()), failed
    assert code == 0, output[-2000:]
    # every worker, the scheduler and the dashboard
    assert output.count(": exit 0") == len(spec.queues) + 2, output[-2000:]


def _processes_naming(text: str) -> list[int]:
    """Live (not zombie) processes whose command line or environment names `text`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            blob = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
        except OSError:
            continue
        if text.encode() in blob:
            found.append(int(proc.name))
    return found


def test_it_should_exit_0_and_leave_nothing_on_sigterm_during_start_up(tmp_path: Path) -> None:
    """SIGTERM while `up` is still starting (issue 25, item 7): exit 0, every child stopped."""
    state = tmp_path / "s"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULLMQ_PLATFORM_")}
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "local_stack", "up", "--state-dir", str(state)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "preparing" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        up.send_signal(signal.SIGTERM)  # Redis and the processes are still starting
        code = up.wait(120)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait(10)
    output = log_path.read_text()
    leftovers: list[int] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        leftovers = _processes_naming(str(state))
        if not leftovers:
            break
        time.sleep(0.1)
    print(f"SIGTERM during start-up: exit {code}, leftover processes {leftovers}")
    assert code == 0, output[-2000:]
    assert "Traceback" not in output, output[-2000:]
    assert not leftovers, leftovers


def test_it_should_kill_platform_processes_when_their_parent_is_killed(tmp_path: Path) -> None:
    """A process started by local_stack.processes dies when its parent is SIGKILLed."""
    marker = f"orphan-check-{tmp_path.name}"
    parent_code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from local_stack.processes import PlatformProcess\n"
        f"argv = [sys.executable, '-c', 'import time; time.sleep(120)', {marker!r}]\n"
        f"p = PlatformProcess('child', argv, {{}}, Path({str(tmp_path / 'child.log')!r}), 0)\n"
        "p.start()\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_code], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        assert child_pid in _processes_naming(marker)
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 10
        while child_pid in _processes_naming(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        orphaned = child_pid in _processes_naming(marker)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
        if parent.stdout is not None:
            parent.stdout.close()
        for pid in _processes_naming(marker):
            os.kill(pid, signal.SIGKILL)
    assert not orphaned, "the child outlived its killed parent"


@pytest.mark.slow
def test_it_should_run_on_sentinels_and_fail_over_when_the_primary_is_killed(
    tmp_path: Path,
) -> None:
    """`up --redis sentinel`: jobs run; `kill-primary` makes a replica primary; jobs sent
    after the kill complete on the same processes; the killed node is started again."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULLMQ_PLATFORM_")}
    state_dir = tmp_path / "s"
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local_stack",
            "up",
            "--redis",
            "sentinel",
            "--state-dir",
            str(state_dir),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    runner = CliRunner()
    try:
        state = state_dir / "platform.json"
        deadline = time.monotonic() + 120
        while not state.exists() and time.monotonic() < deadline and up.poll() is None:
            time.sleep(0.2)
        assert state.exists(), (tmp_path / "up.log").read_text()
        doc = json.loads(state.read_text())
        spec = load_stack("dev").spec
        admin = local_main._settings(doc, "admin")

        def completed() -> int:
            client = connect_sync(admin.redis_kwargs(), decode_responses=True, socket_timeout=5)
            try:
                return sum(int(client.zcard(f"bull:{q.name}:completed")) for q in spec.queues)
            except redis.RedisError:
                return -1
            finally:
                client.close()

        def wait_completed(count: int) -> int:
            deadline = time.monotonic() + 120
            while completed() < count and time.monotonic() < deadline:
                time.sleep(0.25)
            return completed()

        enqueue = ["enqueue", "--state-dir", str(state_dir), "--count", "2"]
        assert runner.invoke(app, enqueue).exit_code == 0
        first = wait_completed(2 * len(spec.queues))
        killed = runner.invoke(app, ["kill-primary", "--state-dir", str(state_dir)])
        assert killed.exit_code == 0, killed.output
        again = runner.invoke(app, enqueue)  # retried by the producer's client until promoted
        after = wait_completed(first + 2 * len(spec.queues))
        up.send_signal(signal.SIGTERM)
        code = up.wait(120)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait(10)
        log.close()
    output = (tmp_path / "up.log").read_text()
    print(f"[local] sentinel: completed before the kill {first}, after {after}")
    assert first >= 2 * len(spec.queues), output[-2000:]
    assert again.exit_code == 0, again.output
    assert after >= first + 2 * len(spec.queues), output[-3000:]
    assert "restarted; it rejoins" in " ".join(output.split()), output[-3000:]
    assert code == 0 and output.count(": exit 0") == len(spec.queues) + 2, output[-2000:]
