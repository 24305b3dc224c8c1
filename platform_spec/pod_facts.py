"""Facts the chart's pods and the Python runtime must agree on, spelled once.

Ports, mount paths and the grace margin are used by the runtime
(platform_spec/settings.py) and by the chart's templates.
The chart reads them from `templates/_facts.tpl`, which
`python -m platform_spec generate` writes from this module (`--check` fails
on drift), so a template never spells one of them itself.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from platform_spec.keys import hash_tagged_prefix

# /healthz, /readyz and /metrics of every worker and scheduler process.
HTTP_PORT = 8080
# The scheduler's HTTPS scaling endpoint that KEDA's metrics-api scaler polls.
SCALING_PORT = 8443
# Where the chart mounts the Secrets (password, ca.crt, scaling token and cert).
SECRETS_DIR = PurePosixPath("/var/run/secrets/bullmq-platform")
SCALING_TOKEN_FILE = SECRETS_DIR / "scaling-token"
SCALING_CERT_DIR = SECRETS_DIR / "scaling-tls"
# Where the chart mounts the spec (the rendered values) the runtime reads.
SPEC_DIR = PurePosixPath("/etc/bullmq-platform")
SPEC_FILE = SPEC_DIR / "spec.json"
# The default of the spec's `clusterDomain` (`<svc>.<ns>.svc.<domain>` names); the
# chart reads the value, not this default.
CLUSTER_DOMAIN = "cluster.local"
# Extra seconds a worker pod gets after its longest job may time out: the
# default terminationGracePeriodSeconds is jobTimeoutSeconds plus this.
GRACE_MARGIN_SECONDS = 30
# The memory warning (alert BullmqRedisMemoryHigh, health finding memory_high) fires
# this many points of maxmemory below redis.producerMemoryLimitPercent, where
# producers start being refused (docs/memory.md).
MEMORY_WARNING_MARGIN_PERCENT = 10


def chart_facts() -> dict[str, Any]:
    """The facts as the chart's `bullmq-platform.facts` helper returns them (camelCase)."""
    return {
        "httpPort": HTTP_PORT,
        "scalingPort": SCALING_PORT,
        "secretsDir": str(SECRETS_DIR),
        "scalingTokenFile": str(SCALING_TOKEN_FILE),
        "scalingCertDir": str(SCALING_CERT_DIR),
        "specDir": str(SPEC_DIR),
        "specFile": str(SPEC_FILE),
        "graceMarginSeconds": GRACE_MARGIN_SECONDS,
        # printf format of a queue's key prefix in Redis Cluster mode (keyPrefix, tag).
        "clusterPrefixFormat": hash_tagged_prefix("%s", "%s"),
        "memoryWarningMarginPercent": MEMORY_WARNING_MARGIN_PERCENT,
    }
