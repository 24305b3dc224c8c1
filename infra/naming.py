"""Names the chart gives its objects, computed in Python (one function per question).

The program needs them before the chart is rendered: the server certificate's
SANs, the exported Redis host, the Secrets' names. They follow the chart's
`templates/_names.tpl` and `templates/_redis.tpl` exactly (a test renders the chart and compares):

- fullname: `fullnameOverride`, else the release name if it contains the chart
  name, else `<release>-<chart>`; cut to 50 characters, one trailing `-` dropped;
- Redis: client Service and StatefulSet `<fullname>-redis`, headless Service
  `<fullname>-redis-headless`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import yaml

from platform_spec.chart import CHART_DIR
from platform_spec.model import PlatformSpec

FULLNAME_MAX = 50


@cache
def chart_name() -> str:
    """The chart's `name` from Chart.yaml (what `.Chart.Name` is in templates)."""
    return str(yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())["name"])


def fullname(release: str, override: str | None = None) -> str:
    """The chart's `bullmq-platform.fullname` helper, in Python."""
    if override:
        base = override
    elif chart_name() in release:
        base = release
    else:
        base = f"{release}-{chart_name()}"
    return base[:FULLNAME_MAX].removesuffix("-")


@dataclass(frozen=True)
class RedisNames:
    """Where the in-cluster Redis lives, as the chart names it.

    The same server certificate also serves the scheduler's scaling endpoint
    (KEDA's metrics-api trigger reads `https://<scheduler_service>.<ns>.svc.<domain>`),
    so the scheduler Service is named here too.
    """

    namespace: str
    service: str
    headless_service: str
    statefulset: str
    scheduler_service: str
    cluster_domain: str
    # redis.mode sentinel: the Service in front of the Sentinels, and the pod count.
    sentinel_service: str = ""
    nodes: int = 1

    @property
    def client_host(self) -> str:
        """The host the chart's clients use (`<svc>.<ns>.svc.<domain>`)."""
        return service_host(self.service, self.namespace, self.cluster_domain)

    @property
    def common_name(self) -> str:
        """The server certificate's CN, `<svc>.<ns>.svc` (a CN holds at most 64
        characters; clients check the SANs): the chart's Certificate uses the same."""
        return _forms(self.service, self.namespace, self.cluster_domain)[2]

    def pod_host(self, ordinal: int) -> str:
        """A StatefulSet pod's stable name under the headless Service (no namespace)."""
        return f"{self.statefulset}-{ordinal}.{self.headless_service}"

    def pod_address(self, ordinal: int) -> str:
        """The name clients and the pod's own Redis and Sentinel use for a pod
        (`<pod>.<headless>.<ns>.svc.<domain>`, the chart's `redisPodHost`)."""
        return service_host(self.pod_host(ordinal), self.namespace, self.cluster_domain)

    @property
    def sentinel_host(self) -> str:
        """The Service in front of the Sentinels (Sentinel mode)."""
        return service_host(self.sentinel_service, self.namespace, self.cluster_domain)

    def sentinel_addresses(self, port: int) -> list[str]:
        """`host:port` of every pod's Sentinel, as the chart's clients list them."""
        return [f"{self.pod_address(i)}:{port}" for i in range(self.nodes)]


def redis_names(spec: PlatformSpec, release: str) -> RedisNames:
    """The Redis Service, headless Service and StatefulSet names of a release."""
    base = fullname(release, spec.fullname_override)
    redis = f"{base}-redis"
    sentinel = spec.redis.mode == "sentinel"
    return RedisNames(
        namespace=spec.namespace,
        service=redis,
        headless_service=f"{redis}-headless",
        statefulset=redis,
        scheduler_service=f"{base}-scheduler",
        cluster_domain=spec.cluster_domain,
        sentinel_service=f"{redis}-sentinel" if sentinel else "",
        nodes=spec.redis.sentinel.replicas + 1 if sentinel else 1,
    )


def _forms(name: str, namespace: str, domain: str) -> list[str]:
    """`name`, `name.ns`, `name.ns.svc`, `name.ns.svc.<domain>` (the chart's `dnsForms`)."""
    return [
        name,
        f"{name}.{namespace}",
        f"{name}.{namespace}.svc",
        f"{name}.{namespace}.svc.{domain}",
    ]


def service_host(name: str, namespace: str, domain: str) -> str:
    """The name clients use for a Service, its last form (the chart's `serviceHost`)."""
    return _forms(name, namespace, domain)[-1]


def server_dns_names(names: RedisNames, replicas: int | None = None) -> list[str]:
    """Every DNS name a client may use to reach Redis: the certificate's SANs.

    The chart's `bullmq-platform.redisServerDnsNames` (templates/_redis.tpl)
    builds the same list for a cert-manager Certificate; a chart test compares.

    Both Services in every form, each pod under the headless Service in every
    form, a wildcard under the headless Service (pods added later), the
    scheduler Service (its scaling endpoint) in every form, and `localhost`
    for probes and `redis-cli` run inside the pod. In Sentinel mode every pod
    (each runs Redis and a Sentinel, announced by that name) and the Sentinel
    Service too.
    """
    ns, domain = names.namespace, names.cluster_domain
    sans = _forms(names.service, ns, domain) + _forms(names.headless_service, ns, domain)
    sans += _forms(names.scheduler_service, ns, domain)
    if names.sentinel_service:
        sans += _forms(names.sentinel_service, ns, domain)
    for ordinal in range(names.nodes if replicas is None else replicas):
        pod = f"{names.statefulset}-{ordinal}"
        sans += _forms(f"{pod}.{names.headless_service}", ns, domain)
    sans += [
        f"*.{names.headless_service}.{ns}.svc",
        f"*.{names.headless_service}.{ns}.svc.{domain}",
    ]
    sans.append("localhost")
    return sans
