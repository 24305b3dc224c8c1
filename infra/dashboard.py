"""DashboardCredentials: the dashboard's basic-auth password, in its own Secret.

Generated like the Redis passwords (infra/credentials.py) and kept apart from
them: people who may open the dashboard get this Secret, not Redis's. The chart
mounts it by name (`dashboard.auth.existingSecret`, key `passwordKey`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from infra.credentials import PASSWORD_LENGTH, random_password
from infra.labels import owned_secret
from infra.naming import fullname, service_host
from platform_spec.model import PlatformSpec


@dataclass(frozen=True)
class DashboardCredentialsArgs:
    """Inputs of DashboardCredentials."""

    namespace: pulumi.Input[str]
    secret_name: str
    release: str
    password_key: str
    length: int = PASSWORD_LENGTH


class DashboardCredentials(pulumi.ComponentResource):
    """A random basic-auth password and the Secret that holds it."""

    TYPE = "bullmq-platform:dashboard:Credentials"

    secret_name: pulumi.Output[str]
    password: pulumi.Output[str]

    def __init__(
        self, name: str, args: DashboardCredentialsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.password = random_password(f"{name}-password", args.length, child)
        self.secret_name = owned_secret(
            name,
            args,
            component="dashboard",
            string_data={args.password_key: self.password},
            opts=child,
        )
        self.register_outputs({"secretName": self.secret_name})


def dashboard_url(spec: PlatformSpec, release: str) -> str | None:
    """Where people open the dashboard: the Ingress, else the in-cluster Service."""
    dashboard = spec.dashboard
    if not dashboard.enabled:
        return None
    path = dashboard.base_path
    ingress = dashboard.ingress
    if ingress.enabled:
        scheme = "https" if ingress.tls_secret else "http"
        return f"{scheme}://{ingress.host}{path}"
    service = f"{fullname(release, spec.fullname_override)}-dashboard"
    host = service_host(service, spec.namespace, spec.cluster_domain)
    return f"http://{host}:{dashboard.port}{path}"
