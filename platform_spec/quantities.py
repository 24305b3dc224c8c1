"""Parsing of Kubernetes quantities and Redis memory sizes, for cross-field checks.

Only what the spec needs to compare values (maxmemory against the pod's
memory limit): bytes from `512Mi`, `1G`, `256mb`, `1gb`.
"""

from __future__ import annotations

import re

K8S_MEMORY_PATTERN = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|K|M|G|T|k)?$"
K8S_CPU_PATTERN = r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$"
REDIS_MEMORY_PATTERN = r"^[0-9]+(b|kb|mb|gb)$"

_K8S_UNITS = {
    "": 1,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
# Redis: "1k" is 1000 bytes, "1kb" is 1024 (redis.conf header). We accept only the *b forms.
_REDIS_UNITS = {"b": 1, "kb": 2**10, "mb": 2**20, "gb": 2**30}


def k8s_memory_bytes(quantity: str) -> int:
    """Bytes in a Kubernetes memory quantity such as `512Mi` or `1G`."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)", quantity)
    if not match or match.group(2) not in _K8S_UNITS:
        raise ValueError(f"not a Kubernetes memory quantity: {quantity!r}")
    return int(float(match.group(1)) * _K8S_UNITS[match.group(2)])


def redis_memory_bytes(size: str) -> int:
    """Bytes in a Redis memory size such as `256mb`."""
    match = re.fullmatch(r"([0-9]+)(b|kb|mb|gb)", size)
    if not match:
        raise ValueError(f"not a Redis memory size: {size!r}")
    return int(match.group(1)) * _REDIS_UNITS[match.group(2)]
