"""Monitoring tests reuse the chart tests' rendering helpers (tests/chart/chart_rendering.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "chart"))
