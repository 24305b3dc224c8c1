"""What KEDA and the HorizontalPodAutoscaler do with a metric value.

KEDA owns 0 <-> 1: at each `pollingInterval` it asks the scaler whether the
workload is active (metric > activation target); an inactive workload goes to
zero `cooldownPeriod` seconds after it was last active (only with
minReplicaCount 0). From 1 to N the HPA decides, every sync period (15 s),
from the external metric KEDA serves:

    desired = ceil(metric / target)              (metricType AverageValue)

unless the usage ratio metric / (target * current) is within the tolerance
(0.1) of 1, in which case it keeps the current replicas. Then `behavior`:
stabilization windows (scale up to the lowest, down to the highest
recommendation of the window) and rate policies, and the clamp to
[max(minReplicaCount, 1), maxReplicaCount].

Sources: kubernetes.io "Horizontal Pod Autoscaling" (algorithm details,
tolerance, behavior), keda.sh "Scaling Deployments" (activation, cooldown).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HPA_TOLERANCE = 0.1
HPA_SYNC_SECONDS = 15


def hpa_recommendation(
    metric: float, target: float, current: int, *, tolerance: float = HPA_TOLERANCE
) -> int:
    """The HPA's raw recommendation for an AverageValue external metric (no clamp)."""
    if current <= 0:
        raise ValueError("the HPA does not act on a workload at zero replicas (KEDA does)")
    ratio = metric / (target * current)
    if abs(ratio - 1.0) <= tolerance:
        return current
    return math.ceil(metric / target)


def keda_hpa_replicas(
    metric: float,
    *,
    target: float,
    current: int,
    min_replicas: int,
    max_replicas: int,
    activation: float = 0.0,
    tolerance: float = HPA_TOLERANCE,
) -> int:
    """Replicas KEDA + HPA settle on for one metric value, from `current` replicas.

    Behavior windows and rate policies are left out (see `Behavior`): this is
    where the workload ends up once they have let it move.
    """
    active = metric > activation
    if current == 0:
        # KEDA activates a workload at zero to max(minReplicaCount, 1); the HPA
        # then takes it from there on its next sync.
        if not active:
            return 0
        current = max(min_replicas, 1)
    elif not active and min_replicas == 0:
        return 0  # after cooldownPeriod
    floor = max(min_replicas, 1)
    wanted = hpa_recommendation(metric, target, current, tolerance=tolerance)
    return max(floor, min(max_replicas, wanted))


@dataclass(frozen=True)
class Behavior:
    """HPA `behavior`: stabilization windows and one rate policy per direction.

    Scale-up allows max(current * (1 + up_percent/100), current + up_pods) per
    `up_period_seconds` (selectPolicy Max, as the HPA's default); scale-down
    allows removing `down_percent` % per `down_period_seconds`.
    """

    up_stabilization_seconds: int = 0
    up_percent: int = 100
    up_pods: int = 4
    up_period_seconds: int = 15
    down_stabilization_seconds: int = 300
    down_percent: int = 100
    down_period_seconds: int = 15

    def up_limit(self, replicas_at_period_start: int) -> int:
        """Most replicas allowed at the end of a scale-up period."""
        base = replicas_at_period_start
        return max(math.ceil(base * (1 + self.up_percent / 100)), base + self.up_pods)

    def down_limit(self, replicas_at_period_start: int) -> int:
        """Fewest replicas allowed at the end of a scale-down period."""
        base = replicas_at_period_start
        return max(0, math.floor(base * (1 - self.down_percent / 100)))
