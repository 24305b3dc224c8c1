"""Evaluate a rendered ScaledObject against a real Redis, the way KEDA does.

KEDA's `redis` scaler runs one Lua script per trigger (TYPE, then LLEN / ZCARD /
SCARD / HLEN), `advanced.scalingModifiers.formula` combines the trigger values
(expr-lang; only the subset the chart renders is supported here), the composite
metric activates the target above `activationTarget`, and the HPA asks for
ceil(metric / target) replicas (metricType AverageValue), clamped to the bounds.
"""

from __future__ import annotations

import math
import re
from typing import Any

import redis

# The script KEDA's redis scaler sends with EVAL (getListLengthScript).
LIST_LENGTH_SCRIPT = """
local listName = KEYS[1]
local listType = redis.call('type', listName).ok
local cmd = {zset = 'zcard', set = 'scard', list = 'llen', hash = 'hlen', none = 'llen'}
return redis.call(cmd[listType], listName)
"""
_TERNARY = re.compile(r"\(\s*(\w+)\s*>\s*(\d+)\s*\?\s*(\d+)\s*:\s*(\d+)\s*\)")
_ALLOWED = re.compile(r"^[\w\s+().<>=]*$")


def trigger_values(scaled_object: dict[str, Any], client: redis.Redis) -> dict[str, int]:
    """Each trigger's length, read with KEDA's own script."""
    values = {}
    for trigger in scaled_object["spec"]["triggers"]:
        assert trigger["type"] == "redis", trigger
        key = trigger["metadata"]["listName"]
        values[trigger["name"]] = int(client.eval(LIST_LENGTH_SCRIPT, 1, key))
    return values


def evaluate_formula(formula: str, values: dict[str, int]) -> float:
    """The formula's value: sums of trigger names and `(x > N ? A : B)` terms."""
    python = _TERNARY.sub(r"(\3 if \1 > \2 else \4)", formula)
    if not _ALLOWED.match(python):
        raise ValueError(f"formula outside the supported subset: {formula!r}")
    return float(eval(python, {"__builtins__": {}}, dict(values)))


def desired_replicas(scaled_object: dict[str, Any], client: redis.Redis) -> int:
    """The replicas KEDA + the HPA would settle on for the Redis state right now."""
    spec = scaled_object["spec"]
    modifiers = spec["advanced"]["scalingModifiers"]
    metric = evaluate_formula(modifiers["formula"], trigger_values(scaled_object, client))
    low, high = spec.get("minReplicaCount", 0), spec["maxReplicaCount"]
    if metric <= float(modifiers.get("activationTarget", "0")) and low == 0:
        return 0
    wanted = math.ceil(metric / float(modifiers["target"]))
    return max(max(low, 1), min(high, wanted))
