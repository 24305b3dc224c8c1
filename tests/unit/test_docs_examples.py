"""docs/workers.md shows the handler job API with examples that run: every Python
block of its "job in a handler's hands" section is a verbatim run of lines of the
code that tests/workers/test_it_should_give_handlers_the_job.py runs on both engines."""

from __future__ import annotations

import re
from pathlib import Path

from workers.job import Job

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "workers.md"
SECTION = "## The job in a handler's hands"
SOURCES = [
    ROOT / "tests" / "workers" / "job_api_handlers.py",
    ROOT / "tests" / "workers" / "test_it_should_give_handlers_the_job.py",
]


def _section_blocks() -> list[list[str]]:
    text = DOC.read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end != -1 else None]
    return [b.splitlines() for b in re.findall(r"```python\n(.*?)```", section, re.S)]


def _contains(lines: list[str], block: list[str]) -> bool:
    return any(lines[i : i + len(block)] == block for i in range(len(lines) - len(block) + 1))


def test_it_should_quote_only_code_the_tests_run() -> None:
    blocks = _section_blocks()
    assert len(blocks) >= 8, "an example per feature"
    sources = [path.read_text().splitlines() for path in SOURCES]
    stale = [block for block in blocks if not any(_contains(lines, block) for lines in sources)]
    assert not stale, f"examples not found verbatim in {[p.name for p in SOURCES]}: {stale}"


def test_it_should_name_every_public_job_method_in_the_node_table() -> None:
    methods = [n for n in vars(Job) if not n.startswith("_") and n not in ("abort",)]
    text = DOC.read_text()
    table = text[text.index("### Node `Job` methods and their Python names") :]
    missing = [n for n in methods if f"job.{n}" not in table]
    assert not missing, missing
