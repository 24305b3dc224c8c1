"""`pulumi preview` of a fresh stack must show the whole plan.

helm.v4.Chart renders nothing when any of its values is unknown ("Preview is
incomplete"), and on a fresh stack every generated password and certificate is
unknown until `pulumi up`. So no chart value may depend on one: only Secret
*names* travel, and certificate renewals reach Redis through its reloader
(files/redis-reloader.sh), not through a checksum annotation.
"""

from __future__ import annotations

import pytest
from pulumi_harness import deploy_stack, stack_raw, unknowns

from platform_spec.stack import STACKS


@pytest.mark.parametrize("stack", STACKS)
def test_it_should_hand_the_chart_only_known_values_at_preview(stack: str) -> None:
    deployment = deploy_stack(stack_raw(stack), stack, preview=True)
    # The harness really simulates a fresh preview: generated material is unknown there.
    passwords = deployment.resources.of_type("random:index/randomPassword:RandomPassword")
    assert passwords, "the stack generates passwords: the check below must mean something"
    secret = deployment.resources.one(
        "kubernetes:core/v1:Secret", "bullmq-platform-redis-auth-secret"
    )
    assert unknowns(secret.inputs["stringData"]), "passwords should be unknown at preview"
    assert unknowns(deployment.chart.inputs["values"]) == []
    assert unknowns({k: v for k, v in deployment.chart.inputs.items() if k != "values"}) == []
