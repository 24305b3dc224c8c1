"""The instruction-count tool still counts the real worker process: a short window, a
plausible figure. Nothing timed: callgrind counts instructions, not seconds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.redis
def test_it_should_count_the_instructions_of_each_job_of_the_real_worker() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.instructions", "--seconds", "2", "--python", "current"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("this tree:"))
    per_job = int(line.split()[2].replace(",", ""))
    # A job through the runtime, the engine, TLS and hiredis: about 200,000 instructions
    # on Python 3.11 (docs/throughput.md); an order of magnitude off is a broken count.
    assert 20_000 < per_job < 2_000_000, line
