"""The bull-board dashboard section of the spec (`dashboard.*` in chart values).

The dashboard (dashboard/, a small Node service) shows every queue of the spec
and its dead-letter queue. It is off by default, read-only by default, and sits
behind HTTP basic auth (password from a Secret) or an auth proxy's header. Its
Redis ACL user `dashboard` is read-only unless actions are on; the chart renders
its rules (templates/dashboard/_acl.tpl). See docs/dashboard.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from platform_spec.base import SpecModel
from platform_spec.image_policy import DASHBOARD_PLACEHOLDER_REPOSITORY
from platform_spec.sections.common import DnsLabel, Image, Resources


class DashboardImage(Image):
    """The dashboard image, built from dashboard/Containerfile."""

    repository: str = Field(
        DASHBOARD_PLACEHOLDER_REPOSITORY,
        min_length=1,
        description="Image repository of the dashboard image built from dashboard/ "
        "(dashboard/Containerfile); the default is a placeholder that only environment dev "
        "may keep.",
    )


# An absolute URL path without a trailing slash (except `/` itself).
BASE_PATH_PATTERN = r"^/([A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*)?$"


class DashboardAuth(SpecModel):
    """Who may open the dashboard: every page and API route is behind this."""

    mode: Literal["basic", "proxyHeader"] = Field(
        "basic",
        description="`basic`: HTTP basic auth, password from a Secret. `proxyHeader`: trust "
        "the user an auth proxy (oauth2-proxy) sets in proxyHeader; safe only because the "
        "NetworkPolicy admits nothing but allowedNamespaces (put only the proxy there).",
    )
    username: Annotated[str, StringConstraints(pattern=r"^[^:\s]+$", max_length=64)] = Field(
        "oncall", description="Basic-auth user name (not secret)."
    )
    source: Literal["generated", "existingSecret"] = Field(
        "generated",
        description="`generated`: Pulumi creates a random password in a Secret; "
        "`existingSecret`: you provide the Secret (GitOps).",
    )
    existing_secret: str | None = Field(
        None,
        description="Name of the Secret holding the basic-auth password under passwordKey. "
        "Required for `existingSecret`; Pulumi fills it for `generated`.",
    )
    password_key: str = Field("password", min_length=1, description="Key of the password.")
    proxy_header: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]+$")] = Field(
        "X-Forwarded-User",
        description="mode proxyHeader: header carrying the authenticated user (oauth2-proxy "
        "sends X-Forwarded-User upstream). A request without it gets 401.",
    )

    @model_validator(mode="after")
    def _source_needs(self) -> DashboardAuth:
        if self.source == "existingSecret" and not self.existing_secret:
            raise ValueError("existingSecret is required when source is existingSecret")
        return self


class DashboardIngress(SpecModel):
    """An optional Ingress in front of the dashboard Service."""

    enabled: bool = Field(False, description="Render an Ingress for the dashboard.")
    class_name: str | None = Field(None, description="IngressClass; null uses the default.")
    host: str | None = Field(
        None,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="Host name (required when enabled). The dashboard URL is "
        "https://<host><basePath> when tlsSecret is set.",
    )
    tls_secret: str | None = Field(
        None, description="Secret with the Ingress's TLS certificate; null serves plain HTTP."
    )
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Annotations, e.g. for oauth2-proxy auth-url."
    )

    @model_validator(mode="after")
    def _host_needed(self) -> DashboardIngress:
        if self.enabled and not self.host:
            raise ValueError("host is required when enabled")
        return self


class Dashboard(SpecModel):
    """bull-board: every queue and its DLQ, for the people on call."""

    enabled: bool = Field(False, description="Deploy the dashboard.")
    image: DashboardImage = Field(default_factory=DashboardImage, description="Dashboard image.")
    replicas: int = Field(1, ge=1, le=5, description="Dashboard pods (stateless).")
    actions_enabled: bool = Field(
        False,
        description="Off: read-only board, and its Redis user may run read commands only. On: "
        "retry, promote and clean/remove (one job or a whole status), and the Redis user gets "
        "exactly the write commands those need. Pause, empty, obliterate and edits stay "
        "refused either way.",
    )
    base_path: Annotated[str, StringConstraints(pattern=BASE_PATH_PATTERN)] = Field(
        "/",
        description="URL path the board is served under (e.g. /ops/queues behind a shared "
        "Ingress host). Probes use /healthz and /readyz outside it.",
    )
    port: int = Field(3000, ge=1024, le=65535, description="Container port of the dashboard.")
    auth: DashboardAuth = Field(default_factory=DashboardAuth, description="Authentication.")
    ingress: DashboardIngress = Field(default_factory=DashboardIngress, description="Ingress.")
    allowed_namespaces: list[DnsLabel] = Field(
        default_factory=lambda: ["ingress-nginx"],
        description="Namespaces whose pods may reach the dashboard (NetworkPolicy): your "
        "ingress controller and, with auth mode proxyHeader, the auth proxy only.",
    )
    resources: Resources = Field(
        default_factory=lambda: Resources(
            cpu_request="50m", memory_request="96Mi", memory_limit="256Mi"
        ),
        description="Dashboard container resources.",
    )
