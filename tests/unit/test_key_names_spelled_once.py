"""platform_spec/keys.py says it is the only place BullMQ key names are spelled:
this test greps the runtime's source and the chart's templates for key-shaped
strings anywhere else.

In Python, a key-shaped string is the default prefix (`bull:`), a string ending
in `:<suffix>` (`f"{prefix}:{queue}:wait"`), a suffix glued on with `+`
(`base + "wait"`), or a `metrics:`/`:lock` part. In a template, it is a quoted
suffix (`list "wait" "active"`), a suffix after a `:` (`"%s:delayed"`), in a
regex alternation (`(wait|prioritized)`), leading a formula (`"wait + active"`)
or standing alone as a YAML value (`name: delayed`); the chart gets the suffixes
from the generated `bullmq-platform.keys` helper (templates/_facts.tpl) instead.
Tests are left out: they check the wire layout on their own on purpose.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from platform_spec.keys import DEFAULT_PREFIX, LOCK_SUFFIX, QUEUE_KEY_TYPES

ROOT = Path(__file__).resolve().parents[2]
KEYS_MODULE = ROOT / "platform_spec" / "keys.py"
TEMPLATES = ROOT / "helm" / "bullmq-platform" / "templates"
GENERATED_HELPER = "_facts.tpl"  # written from keys.py by `python -m platform_spec generate`
SKIP_DIRS = {"tests", ".venv", ".venv-runtime", "node_modules", ".git", ".state"}

_SUFFIXES = "|".join(re.escape(s) for s in sorted(QUEUE_KEY_TYPES, key=len, reverse=True))
KEY_SHAPED = re.compile(
    rf"""["']{re.escape(DEFAULT_PREFIX)}:"""  # the default prefix spelled out
    rf"""|:(?:{_SUFFIXES}|{LOCK_SUFFIX})["']"""  # ...:wait"
    rf"""|\+\s*[bf]?["'](?:{_SUFFIXES})["']"""  # base + "wait"
    r"""|:?metrics:(?:["'{]|completed|failed)"""  # "metrics:" + kind, ...:metrics:{kind}
)
TEMPLATE_KEY_SHAPED = re.compile(
    rf"""["'](?:{_SUFFIXES})["']"""  # list "wait" "prioritized"
    rf"""|:(?:{_SUFFIXES})(?=["\\|)])"""  # "%s:delayed", key=\"%s:failed\"
    rf"""|[(|](?:{_SUFFIXES})[|)]"""  # (wait|prioritized)
    rf"""|["'](?:{_SUFFIXES})\s+\+"""  # "wait + prioritized + active"
    rf"""|^\s*-?\s*\w+:\s*["']?(?:{_SUFFIXES})["']?\s*$"""  # name: delayed
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


def template_key_spellings(templates: Path) -> list[str]:
    """`path:line: text` of every key-shaped piece of the chart's templates."""
    found = []
    for path in sorted(p for p in templates.rglob("*") if p.is_file()):
        if path.name == GENERATED_HELPER:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if TEMPLATE_KEY_SHAPED.search(line):
                found.append(f"{path.relative_to(templates)}:{number}: {line.strip()}")
    return found


def test_no_bullmq_key_name_is_spelled_outside_keys_py() -> None:
    found = key_spellings(ROOT) + template_key_spellings(TEMPLATES)
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


@pytest.mark.parametrize(
    "line",
    [
        # What the chart spelled before its keys came from _facts.tpl.
        '{{- range $suffix := list "wait" "prioritized" "active" "delayed" "failed" -}}',
        '{{- $keys = append $keys (printf "db0=%s:%s-dlq:wait" $.Values.keyPrefix $q.name) -}}',
        '{{- $states := printf "%s:.+:(wait|prioritized|active|delayed|failed)" .Values.p }}',
        'expr: {{ printf "sum(redis_key_size{key=\\"%s:failed\\"}) > %v" $k $a.failed | quote }}',
        '{{- $formula := "wait + prioritized + active" }}',
        "      name: delayed",
        'listName: {{ printf "%s:delayed" $keys | quote }}',
    ],
)
def test_the_grep_sees_each_way_a_template_spells_a_key(tmp_path: Path, line: str) -> None:
    (tmp_path / "workers").mkdir()
    (tmp_path / "workers" / "scaledobject.yaml").write_text(f"{line}\n")
    (tmp_path / GENERATED_HELPER).write_text(f"{line}\n")  # skipped: generated
    assert template_key_spellings(tmp_path) == [f"workers/scaledobject.yaml:1: {line.strip()}"]
