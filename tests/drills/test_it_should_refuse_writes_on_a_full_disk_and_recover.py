"""Drill (issue 25, item 4): a full disk does not crash-loop Redis.

With `appendfsync always` (the prod stack) Redis 7.0 exits at the first AOF
write that finds the disk full ("Can't recover from AOF write error when the
AOF fsync policy is 'always'. Exiting..."); no redis.conf setting changes that
(`aof-use-rdb-preamble`, `no-appendfsync-on-rewrite` and `aof-load-truncated`
do not touch that path). With `everysec` Redis stays up, refuses writes with
MISCONF and sets aof_last_write_status:err. So the chart's reloader beside
Redis switches to `everysec` while the data volume is nearly full
(redis.persistence.diskReservePercent) and back to `always` when space returns.

Here the data folder is a 24 MB tmpfs mounted for the drill (root only), half
of it taken by a ballast file; a producer streams jobs with known ids until
Redis refuses one. Then: Redis is still up; its AOF write status is `err`; the
real redis_exporter reports it and promtool fires BullmqRedisAofWriteErrors on
that value with the chart's rule; the ballast is deleted and Redis accepts
writes again without a restart; the guard returns to `always`; after a clean
restart every acknowledged job is there. Before the guard Redis exited at the
full disk (the drill's `alive` check failed).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
import yaml
from bullmq import Queue as BullQueue
from conftest import DRILL_QUEUE
from drill_support import Figures, admin, wait_until

from local_stack.redis_server import RedisServer, local_spec
from monitoring.binaries import binary
from monitoring.exporter import RedisExporter
from monitoring.rules import alerting_rules, rule_groups, with_rules_on, write_rules_file
from platform_spec.keys import QueueKeys
from platform_spec.model import PlatformSpec
from platform_spec.values import chart_values

pytestmark = [
    pytest.mark.redis,
    pytest.mark.drill,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs: needs root"),
]
DISK_MB = 24
BALLAST_MB = 12
RESERVE_PERCENT = 20
PAD = 2048
BATCH = 20
ALERT = "BullmqRedisAofWriteErrors"


@contextlib.contextmanager
def tmpfs(path: Path, size_mb: int) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)], check=True
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


async def _feed(server: RedisServer, queue: str) -> tuple[list[str], str]:
    """Add jobs with known ids in small bulks (about 0.8 MB/s) until Redis refuses one."""
    producer = BullQueue(
        queue, {"connection": server.connection_kwargs("worker"), "prefix": "bull"}
    )
    acked: list[str] = []
    try:
        for start in range(0, 100_000, BATCH):  # bounded: the disk fills long before
            ids = [f"d{n}" for n in range(start, start + BATCH)]
            batch = [{"name": "run", "data": {"pad": "p" * PAD}, "opts": {"jobId": i}} for i in ids]
            try:
                await producer.addBulk(batch)
            except redis.exceptions.RedisError as exc:
                return acked, str(exc)
            acked += ids
            await asyncio.sleep(0.05)
        raise AssertionError("the disk never filled")
    finally:
        await producer.close()


def _scraped_status(exporter: RedisExporter) -> float:
    text = httpx.get(exporter.url, timeout=10).text
    (value,) = re.findall(r"^redis_aof_last_write_status(?:\{[^}]*\})? (\S+)$", text, re.M)
    return float(value)


def _promtool_fires(spec: PlatformSpec, value: float, tmp: Path) -> bool:
    """Does the chart's BullmqRedisAofWriteErrors fire on `value` held for its `for:`?"""
    values = with_rules_on(
        chart_values(spec, auth_secret="a", tls_secret="t", dashboard_secret="d")
    )
    groups = rule_groups(values)
    (rule,) = [r for r in alerting_rules(groups) if r["alert"] == ALERT]
    (selector,) = re.findall(r"redis_aof_last_write_status\{[^}]*\}", rule["expr"])
    write_rules_file(tmp / "rules.yaml", groups)
    case = {
        "interval": "1m",
        "input_series": [{"series": selector, "values": f"{value:g}x10"}],
        "alert_rule_test": [
            {
                "eval_time": "5m",
                "alertname": ALERT,
                "exp_alerts": [
                    {"exp_labels": rule["labels"], "exp_annotations": rule["annotations"]}
                ],
            }
        ],
    }
    (tmp / "tests.yaml").write_text(yaml.safe_dump({"rule_files": ["rules.yaml"], "tests": [case]}))
    done = subprocess.run(
        [binary("promtool"), "test", "rules", "tests.yaml"], cwd=tmp, capture_output=True, text=True
    )
    print(done.stdout[-400:], done.stderr[-400:])
    return done.returncode == 0


def _fsync(log: Path) -> str:
    lines = [line for line in log.read_text().splitlines() if "appendfsync" in line]
    return lines[-1] if lines else ""


def test_it_should_refuse_writes_on_a_full_disk_and_recover(tmp_path: Path) -> None:
    spec = local_spec(
        redis={
            "auth": {"adminEnabled": True},
            "persistence": {"appendfsync": "always", "diskReservePercent": RESERVE_PERCENT},
        },
        queues=[DRILL_QUEUE],
        schedules=[],
        maintenanceQueue=DRILL_QUEUE["name"],
    )
    state = tmp_path / "redis"
    with tmpfs(state / "data", DISK_MB) as data:
        ballast = data / "ballast"
        ballast.write_bytes(b"\0" * BALLAST_MB * 2**20)
        server = RedisServer(state, spec=spec)
        server.start()
        reloader = server.start_reloader(interval_seconds=1)
        exporter = RedisExporter(server, tmp_path / "exporter")
        client = admin(server)
        try:
            exporter.start()
            started = time.monotonic()
            acked, refusal = asyncio.run(_feed(server, DRILL_QUEUE["name"]))
            full_after = time.monotonic() - started
            alive = server.process is not None and server.process.poll() is None
            status_full = client.info("persistence")["aof_last_write_status"]
            scraped = _scraped_status(exporter)
            fires = _promtool_fires(spec, scraped, tmp_path / "promtool")
            guard_on = _fsync(state / "reloader.log")
            ballast.unlink()
            recovered = wait_until(
                lambda: client.info("persistence")["aof_last_write_status"] == "ok", timeout=60
            )
            accepted_after = bool(client.set("bull:drill:after-free", "x"))
            back_to_always = wait_until(
                lambda: "always again" in _fsync(state / "reloader.log"), timeout=60
            )
            exporter.stop()
            reloader.terminate()
            client.close()
            server.stop()
            server.start()
            client = admin(server)
            keys = QueueKeys("bull", DRILL_QUEUE["name"])
            pipe = client.pipeline(transaction=False)
            for job_id in acked:
                pipe.exists(keys.job(job_id))
            missing = sum(1 for found in pipe.execute() if not found)
        finally:
            exporter.stop()
            if reloader.poll() is None:
                reloader.terminate()
            client.close()
            server.stop(kill=True)
    figures = Figures(
        "full disk (appendfsync always)",
        sent=len(acked),
        completed=len(acked) - missing,
        duplicated=0,
        lost=missing,
        extra={
            "seconds_to_full": round(full_after, 1),
            "refusal": refusal[refusal.find("MISCONF") :][:60],
            "redis_alive_when_full": alive,
            "aof_last_write_status": status_full,
            "exporter_redis_aof_last_write_status": scraped,
            "alert_fires": fires,
            "guard": guard_on[:90],
            "recovered": recovered,
            "back_to_always": back_to_always,
        },
    )
    figures.check()
    assert alive, "Redis exited on the full disk"
    assert "MISCONF" in refusal, refusal
    assert status_full == "err" and scraped == 0.0 and fires
    assert "everysec" in guard_on
    assert recovered and accepted_after and back_to_always
    assert missing == 0
