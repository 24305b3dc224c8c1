"""The bytes per job the spec validates retention with are what Redis really spends.

platform_spec/sizing.py holds figures measured with `python -m local_stack sizing`
(issue 25, 3b). This runs the command at two payload sizes and checks that each
figure covers the measurement (within 10 %) without overstating it by more than half: a
figure too low would let the spec accept retention that cannot fit in
maxmemory; one far too high would refuse stacks that fit.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from platform_spec.sizing import job_bytes
from platform_spec.stack import REPO_ROOT

pytestmark = [pytest.mark.redis, pytest.mark.slow]
SIZING = [sys.executable, "-m", "local_stack", "sizing"]


def test_it_should_size_jobs_as_measured() -> None:
    done = subprocess.run(
        [*SIZING, "--jobs", "1000", "--json", "--payload", "256", "--payload", "4096"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    rows = json.loads(done.stdout)
    print(rows)
    assert [row["payloadBytes"] for row in rows] == [256, 4096]
    for row in rows:
        for state in ("waiting", "completed", "failed", "dlq"):
            measured, figure = row[state], job_bytes(state, row["payloadBytes"])
            assert measured > 0, (state, row)
            # 10 % below: the main dict doubles at powers of two, so one count pays a
            # rehash another does not.
            assert 0.9 * measured <= figure <= 1.5 * measured, (state, row, figure)
