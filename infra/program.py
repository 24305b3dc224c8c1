"""The whole program: a validated StackConfig in, the stack's exports out.

Order of what is created (each step waits on the one before through its inputs
or `depends_on`): the namespace, then the Redis password and TLS Secrets, then
KEDA (optional, and its CRDs), then the platform chart. In render mode
(`infra.renderYamlToDirectory`) every Kubernetes object goes to a
`kubernetes.Provider` that writes YAML files instead of calling a cluster, and
no Secret is created at all (config.py refuses generated secrets there).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.certificates import RedisTls, RedisTlsArgs
from infra.credentials import RedisCredentials, RedisCredentialsArgs
from infra.dashboard import DashboardCredentials, DashboardCredentialsArgs, dashboard_url
from infra.keda import KedaOperator, KedaOperatorArgs
from infra.labels import labels, object_name
from infra.naming import redis_names, server_dns_names
from infra.platform import QueuePlatform, QueuePlatformArgs, redis_endpoint
from platform_spec.stack import REPO_ROOT, StackConfig
from platform_spec.values import generated_secret_names

# The ACL user whose password goes into the exported connection URL.
URL_USER = "worker"


def render_directory(configured: str) -> str:
    """The render directory as an absolute path (a relative one is from the repo root)."""
    path = Path(configured)
    return str(path if path.is_absolute() else (REPO_ROOT / path).resolve())


def _provider_opts(stack: StackConfig) -> tuple[pulumi.ResourceOptions, str | None]:
    """Options routing Kubernetes objects to the render provider (render mode) or the default."""
    directory = stack.infra.render_yaml_to_directory
    if not directory:
        return pulumi.ResourceOptions(), None
    provider = k8s.Provider(
        f"{stack.infra.release_name}-render",
        render_yaml_to_directory=render_directory(directory),
    )
    # On a component, `provider` passes down to its Kubernetes children (and charts).
    return pulumi.ResourceOptions(provider=provider), render_directory(directory)


def deploy(stack: StackConfig) -> dict[str, Any]:
    """Create every resource of the stack; returns the outputs to export."""
    spec, infra = stack.spec, stack.infra
    release = infra.release_name
    k8s_opts, rendered_to = _provider_opts(stack)

    namespace: pulumi.Input[str] = spec.namespace
    if infra.create_namespace:
        ns = k8s.core.v1.Namespace(
            f"{release}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=spec.namespace, labels=labels(release, "namespace")
            ),
            # Retained: destroy (or a namespace change) leaves it, its PVC and disk in the
            # cluster unless the stack says otherwise (README "Destroying a stack").
            opts=pulumi.ResourceOptions.merge(
                k8s_opts,
                pulumi.ResourceOptions(retain_on_delete=not stack.deletes_data_on_destroy()),
            ),
        )
        namespace = ns.metadata.apply(object_name)

    names = generated_secret_names(release)
    redis = spec.redis
    waits: list[pulumi.Resource] = []
    credentials = None
    if redis.auth.enabled and redis.auth.source == "generated":
        credentials = RedisCredentials(
            f"{release}-redis-auth",
            RedisCredentialsArgs(
                namespace=namespace,
                secret_name=names["auth"],
                release=release,
                password_keys=redis.auth.password_keys,
                rotation=infra.password_rotation,
                previous_suffix=redis.auth.previous_password_suffix,
            ),
            opts=k8s_opts,
        )
        waits.append(credentials)
    certificates = None
    if redis.tls.enabled and redis.tls.source == "generated":
        where = redis_names(spec, release)
        certificates = RedisTls(
            f"{release}-redis-tls",
            RedisTlsArgs(
                namespace=namespace,
                secret_name=names["tls"],
                release=release,
                keda_client_keys=(spec.keda.client_cert_key, spec.keda.client_key_key),
                common_name=where.common_name,
                dns_names=server_dns_names(where),
                certificates=infra.certificates,
            ),
            opts=k8s_opts,
        )
        waits.append(certificates)

    dashboard = None
    if generates_dashboard_password(stack):
        dashboard = DashboardCredentials(
            f"{release}-dashboard-auth",
            DashboardCredentialsArgs(
                namespace=namespace,
                secret_name=names["dashboard"],
                release=release,
                password_key=spec.dashboard.auth.password_key,
            ),
            opts=k8s_opts,
        )
        waits.append(dashboard)

    keda = None
    if infra.install_keda:
        shared = infra.keda_namespace == spec.namespace  # then it is the namespace above
        keda = KedaOperator(
            f"{release}-keda",
            KedaOperatorArgs(
                version=infra.keda_chart_version,
                namespace=namespace if shared else infra.keda_namespace,
                create_namespace=not shared,
            ),
            opts=k8s_opts,
        )
        waits.append(keda)

    platform = QueuePlatform(
        release,
        QueuePlatformArgs(
            spec=spec,
            release=release,
            namespace=namespace,
            auth_secret=names["auth"] if credentials else None,
            tls_secret=names["tls"] if certificates else None,
            dashboard_secret=names["dashboard"] if dashboard else None,
        ),
        opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=waits)),
    )
    out = exports(stack, platform, credentials, certificates, keda, rendered_to)
    out.update(dashboard_exports(stack, dashboard))
    return out


def generates_dashboard_password(stack: StackConfig) -> bool:
    """Whether Pulumi creates the dashboard's basic-auth Secret."""
    auth = stack.spec.dashboard.auth
    return stack.spec.dashboard.enabled and auth.mode == "basic" and auth.source == "generated"


def dashboard_exports(stack: StackConfig, dashboard: DashboardCredentials | None) -> dict[str, Any]:
    """The dashboard's URL and the name of the Secret with its password (not the password)."""
    spec = stack.spec
    if not spec.dashboard.enabled:
        return {}
    auth = spec.dashboard.auth
    secret: Any = dashboard.secret_name if dashboard else auth.existing_secret
    return {
        "dashboardUrl": dashboard_url(spec, stack.infra.release_name),
        "dashboardSecretName": secret if auth.mode == "basic" else None,
    }


def connection_url(stack: StackConfig, credentials: RedisCredentials | None) -> pulumi.Output[str]:
    """`rediss://worker:<password>@host:port/0`, always a secret Output."""
    spec = stack.spec
    host, port = redis_endpoint(spec, stack.infra.release_name)
    scheme = "rediss" if spec.redis.tls.enabled else "redis"
    user = spec.redis.external.username if spec.redis.mode == "external" else URL_USER
    if credentials is not None:
        url = credentials.passwords[URL_USER].apply(
            lambda password: f"{scheme}://{user}:{password}@{host}:{port}/0"
        )
    else:  # the password lives in a Secret Pulumi does not own
        who = f"{user}@" if user and spec.redis.auth.enabled else ""
        url = pulumi.Output.from_input(f"{scheme}://{who}{host}:{port}/0")
    return pulumi.Output.secret(url)


def exports(
    stack: StackConfig,
    platform: QueuePlatform,
    credentials: RedisCredentials | None,
    certificates: RedisTls | None,
    keda: KedaOperator | None,
    rendered_to: str | None,
) -> dict[str, Any]:
    """What `pulumi stack output` shows. Only the URL carries a secret, and it is marked so.
    In Sentinel mode there is no redisHost/redisUrl: the Sentinel outputs are the way in."""
    spec = stack.spec
    redis = spec.redis
    auth_secret = credentials.secret_name if credentials else redis.auth.existing_secret
    if certificates:
        tls_secret: Any = certificates.secret_name
    elif redis.tls.enabled and redis.tls.source == "certManager":
        tls_secret = f"{redis_names(spec, stack.infra.release_name).service}-tls"
    else:
        tls_secret = redis.tls.existing_secret if redis.tls.enabled else None
    out: dict[str, Any] = {
        "namespace": spec.namespace,
        "releaseName": stack.infra.release_name,
        "redisHost": platform.redis_host,
        "redisPort": platform.redis_port,
        "redisTls": redis.tls.enabled,
        "authSecretName": auth_secret if redis.auth.enabled else None,
        "tlsSecretName": tls_secret,
        "queues": platform.queue_names,
        "deadLetterQueues": [q.dlq_name for q in spec.queues if q.dead_letter.enabled],
        "keyPrefix": spec.key_prefix,
        "redisUrl": connection_url(stack, credentials),
    }
    if certificates:
        out["caCertPem"] = certificates.ca_cert_pem  # public: clients need it to verify
    if redis.mode == "sentinel":
        # Pod 0 is a replica after any failover: no fixed host or URL is the way in.
        # Clients ask the Sentinels (Service, addresses, master name) for the primary.
        del out["redisHost"], out["redisUrl"]
        names = redis_names(spec, stack.infra.release_name)
        out["redisSentinelService"] = names.sentinel_host
        out["redisSentinelPort"] = redis.sentinel.port
        out["redisSentinelAddresses"] = names.sentinel_addresses(redis.sentinel.port)
        out["redisSentinelMaster"] = redis.sentinel.master_name
    elif redis.mode == "external" and redis.external.sentinel.enabled:
        out["redisSentinelAddresses"] = list(redis.external.sentinel.addresses)
        out["redisSentinelMaster"] = redis.external.sentinel.master_name
    if keda:
        out["kedaNamespace"] = keda.namespace
        out["kedaChartVersion"] = stack.infra.keda_chart_version
    if rendered_to:
        out["renderedTo"] = rendered_to
    return out
