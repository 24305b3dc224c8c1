"""Memory thresholds of issue 25, item 3: the warning, the producers' limit and full.

The health check's findings and the producers' guard read the same limit
(redis.producerMemoryLimitPercent); the warning comes MEMORY_WARNING_MARGIN_PERCENT
points before it, and both come before maxmemory.
"""

from __future__ import annotations

import pytest

from platform_spec.pod_facts import MEMORY_WARNING_MARGIN_PERCENT
from workers.maintenance.health import memory_findings
from workers.memory_guard import over_limit

LIMIT = 85
MAX = 1000


@pytest.mark.parametrize(
    ("used", "check"),
    [
        (0, None),
        ((LIMIT - MEMORY_WARNING_MARGIN_PERCENT) * 10 - 1, None),
        ((LIMIT - MEMORY_WARNING_MARGIN_PERCENT) * 10, "memory_high"),
        (LIMIT * 10 - 1, "memory_high"),
        (LIMIT * 10, "redis_nearly_full"),
        (MAX - 1, "redis_nearly_full"),
        (MAX, "redis_full"),
        (MAX * 3, "redis_full"),
    ],
)
def test_it_should_grade_memory_before_maxmemory(used: int, check: str | None) -> None:
    found = [f["check"] for f in memory_findings(used, MAX, LIMIT)]
    assert found == ([check] if check else [])
    assert over_limit(used, MAX, LIMIT) == (check in ("redis_nearly_full", "redis_full"))


def test_it_should_never_refuse_without_a_maxmemory() -> None:
    assert memory_findings(10**12, 0, LIMIT) == []
    assert not over_limit(10**12, 0, LIMIT)
