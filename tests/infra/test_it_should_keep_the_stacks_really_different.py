"""dev, staging and prod differ where it matters, and only prod gets the durable settings."""

from __future__ import annotations

from platform_spec.quantities import k8s_memory_bytes
from platform_spec.stack import load_stack


def test_it_should_size_and_harden_prod_above_dev() -> None:
    dev, staging, prod = (load_stack(s) for s in ("dev", "staging", "prod"))
    size = {
        s: k8s_memory_bytes(c.spec.redis.persistence.size)
        for s, c in (("dev", dev), ("staging", staging), ("prod", prod))
    }
    assert size["dev"] < size["staging"] < size["prod"]
    assert dev.spec.redis.persistence.storage_class is None
    assert prod.spec.redis.persistence.storage_class
    assert prod.spec.redis.persistence.appendfsync == "always"
    assert not dev.spec.monitoring.service_monitor and prod.spec.monitoring.service_monitor
    assert prod.spec.scheduler.replicas > dev.spec.scheduler.replicas
    assert all(q.autoscaling.min_replicas >= 1 for q in prod.spec.queues)
    assert any(q.autoscaling.min_replicas == 0 for q in dev.spec.queues)
    assert dev.infra.install_keda and not prod.infra.install_keda
    assert (
        prod.infra.certificates.server_validity_hours < dev.infra.certificates.server_validity_hours
    )
