"""Payload options of the maintenance jobs, read under either spelling."""

from __future__ import annotations

from typing import Any


def flag(payload: dict[str, Any], camel: str, snake: str, default: Any = None) -> Any:
    """A payload option under its camelCase (wire) or snake_case name."""
    return payload.get(camel, payload.get(snake, default))
