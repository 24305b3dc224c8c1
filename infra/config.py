"""Pulumi config -> a validated StackConfig, or an error naming each bad field.

A stack file holds two structured keys, `bullmq-platform:spec` and
`bullmq-platform:infra`. Both are validated by the same model the chart's schema
is generated from, plus the few rules only the Pulumi program knows (render
mode cannot hold generated secrets). Every problem is reported with its full
config path, e.g. `bullmq-platform:spec.queues[2].autoscaling.minReplicas`, so
`pulumi preview` fails before any resource is planned.
"""

from __future__ import annotations

from typing import Any, Protocol

import pulumi

from platform_spec.model import SpecError
from platform_spec.stack import PROJECT, StackConfig, parse_stack

CONFIG_KEYS = ("spec", "infra")


class ConfigSource(Protocol):
    """What the loader needs of `pulumi.Config`: JSON objects by key."""

    def get_object(self, key: str) -> Any: ...


class ConfigError(pulumi.RunError):
    """An invalid stack config. `RunError` makes Pulumi print the message without a traceback."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        lines = "\n".join(f"  {path}: {message}" for path, message in problems)
        super().__init__(f"invalid stack config ({len(problems)} problem(s)):\n{lines}")


def config_path(path: str) -> str:
    """`spec.queues[2]` -> `bullmq-platform:spec.queues[2]` (how `pulumi config` names it)."""
    return f"{PROJECT}:{path}"


def load_stack_config(source: ConfigSource | None = None) -> StackConfig:
    """Read `spec` and `infra` from Pulumi config and validate them; ConfigError on any problem."""
    source = source if source is not None else pulumi.Config(PROJECT)
    raw: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for key in CONFIG_KEYS:
        try:
            value = source.get_object(key)
        except Exception as exc:  # pulumi raises ConfigTypeError / JSONDecodeError
            problems.append((config_path(key), f"is not a JSON/YAML object ({type(exc).__name__})"))
            continue
        if value is not None:
            raw[key] = value
    if "spec" not in raw and not problems:
        problems.append(
            (
                config_path("spec"),
                "is required: the deployment spec of this stack (see Pulumi.dev.yaml)",
            )
        )
    if problems:
        raise ConfigError(problems)
    try:
        stack = parse_stack(raw)
    except SpecError as exc:
        raise ConfigError([(config_path(path), msg) for path, msg in exc.problems]) from None
    problems = [(config_path(path), msg) for path, msg in program_problems(stack)]
    if problems:
        raise ConfigError(problems)
    return stack


def program_problems(stack: StackConfig) -> list[tuple[str, str]]:
    """(field path, message) for what the spec allows but this program cannot deploy."""
    spec, infra = stack.spec, stack.infra
    redis = spec.redis
    problems: list[tuple[str, str]] = []
    generated = {
        "spec.redis.auth.source": redis.auth.enabled and redis.auth.source == "generated",
        "spec.redis.tls.source": redis.tls.enabled and redis.tls.source == "generated",
    }
    for path, is_generated in generated.items():
        if not is_generated:
            continue
        if infra.render_yaml_to_directory:
            problems.append(
                (
                    path,
                    "`generated` is refused in render mode (infra.renderYamlToDirectory): "
                    "rendered YAML would hold the secret in plain text. Use `existingSecret` "
                    "and create the Secret with External Secrets, Sealed Secrets or your vault",
                )
            )
        elif redis.mode == "external":
            problems.append(
                (
                    path,
                    "`generated` cannot apply to an external Redis (mode external): Pulumi "
                    "neither sets its passwords nor signs its certificate. Use `existingSecret`",
                )
            )
    dashboard_auth = spec.dashboard.auth
    if (
        infra.render_yaml_to_directory
        and spec.dashboard.enabled
        and dashboard_auth.mode == "basic"
        and dashboard_auth.source == "generated"
    ):
        problems.append(
            (
                "spec.dashboard.auth.source",
                "`generated` is refused in render mode (infra.renderYamlToDirectory): rendered "
                "YAML would hold the dashboard password in plain text. Use `existingSecret`",
            )
        )
    if infra.install_keda and spec.keda.enabled and infra.keda_namespace != spec.keda.namespace:
        problems.append(
            (
                "infra.kedaNamespace",
                f"{infra.keda_namespace!r} differs from spec.keda.namespace "
                f"{spec.keda.namespace!r}: the chart's NetworkPolicy would keep the KEDA "
                "it installs away from Redis",
            )
        )
    certs = infra.certificates
    if certs.early_renewal_hours >= certs.server_validity_hours:
        problems.append(
            (
                "infra.certificates.earlyRenewalHours",
                f"{certs.early_renewal_hours} must be below serverValidityHours "
                f"({certs.server_validity_hours}), or every `pulumi up` re-issues the certificate",
            )
        )
    if certs.server_validity_hours > certs.ca_validity_hours:
        problems.append(
            (
                "infra.certificates.serverValidityHours",
                f"{certs.server_validity_hours} exceeds caValidityHours "
                f"({certs.ca_validity_hours}): the server certificate would outlive its CA",
            )
        )
    return problems
