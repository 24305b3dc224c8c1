"""platform_spec/keys.py says it is the only place BullMQ key names are spelled:
this test greps the runtime's source for key-shaped strings anywhere else.

A key-shaped string is the default prefix (`bull:`), a string ending in
`:<suffix>` (`f"{prefix}:{queue}:wait"`), a suffix glued on with `+`
(`base + "wait"`), or a `metrics:`/`:lock` part. Tests are left out: they
check the wire layout on their own on purpose.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from platform_spec.keys import DEFAULT_PREFIX, LOCK_SUFFIX, QUEUE_KEY_TYPES

ROOT = Path(__file__).resolve().parents[2]
KEYS_MODULE = ROOT / "platform_spec" / "keys.py"
SKIP_DIRS = {"tests", ".venv", "node_modules", ".git", ".state"}

_SUFFIXES = "|".join(re.escape(s) for s in sorted(QUEUE_KEY_TYPES, key=len, reverse=True))
KEY_SHAPED = re.compile(
    rf"""["']{re.escape(DEFAULT_PREFIX)}:"""  # the default prefix spelled out
    rf"""|:(?:{_SUFFIXES}|{LOCK_SUFFIX})["']"""  # ...:wait"
    rf"""|\+\s*[bf]?["'](?:{_SUFFIXES})["']"""  # base + "wait"
    r"""|:?metrics:(?:["'{]|completed|failed)"""  # "metrics:" + kind, ...:metrics:{kind}
)


def _sources(root: Path) -> list[Path]:
    return sorted(
        path
        for path in root.rglob("*.py")
        if not SKIP_DIRS & set(path.relative_to(root).parts) and path != KEYS_MODULE
    )


def key_spellings(root: Path) -> list[str]:
    """`path:line: text` of every key-shaped string in the tree's runtime source."""
    found = []
    for path in _sources(root):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if KEY_SHAPED.search(line):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    return found


def test_no_bullmq_key_name_is_spelled_outside_keys_py() -> None:
    found = key_spellings(ROOT)
    assert not found, "BullMQ key names spelled outside platform_spec/keys.py:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        'base = f"bull:{queue}:"',
        'pipe.llen(base + "wait")',
        'key = f"{prefix}:{queue}:stalled-check"',
        'lock = job_key + ":lock"',
        'metrics = (base + "metrics:" + kind).encode()',
    ],
)
def test_the_grep_sees_each_way_of_spelling_a_key(tmp_path: Path, line: str) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(f"{line}\n")
    assert key_spellings(tmp_path) == [f"pkg/mod.py:1: {line}"]
