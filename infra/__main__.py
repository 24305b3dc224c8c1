"""Pulumi entry point (`main: infra/`): read the stack config, deploy, export."""

from __future__ import annotations

import sys
from pathlib import Path

# Pulumi runs this file with infra/ as the working directory; the packages live
# one level up (installed editable by scripts/bootstrap; this covers a bare venv).
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import pulumi  # noqa: E402

from infra.config import load_stack_config  # noqa: E402
from infra.program import deploy  # noqa: E402

for key, value in deploy(load_stack_config()).items():
    pulumi.export(key, value)
