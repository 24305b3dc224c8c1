"""Spec -> chart values: the only mapping between the two.

The chart's values are the spec itself in its camelCase spelling, so one model
and one schema serve Pulumi, GitOps and the runtime. What Pulumi creates and the
chart must only reference (the generated password and certificate Secrets) is
filled in here by name; no secret value ever passes through chart values.
"""

from __future__ import annotations

from typing import Any

from platform_spec.model import PlatformSpec


def generated_secret_names(release: str) -> dict[str, str]:
    """Names of the Secrets the Pulumi program generates for a release."""
    return {
        "auth": f"{release}-redis-auth",
        "tls": f"{release}-redis-tls",
        "dashboard": f"{release}-dashboard-auth",
    }


def generated_secret_args(release: str) -> dict[str, str]:
    """`chart_values` / `override_values` keyword arguments naming those Secrets."""
    names = generated_secret_names(release)
    return {
        "auth_secret": names["auth"],
        "tls_secret": names["tls"],
        "dashboard_secret": names["dashboard"],
    }


def chart_values(
    spec: PlatformSpec,
    *,
    auth_secret: str | None = None,
    tls_secret: str | None = None,
    dashboard_secret: str | None = None,
) -> dict[str, Any]:
    """The chart values for `spec`, with generated Secret names filled in.

    `auth_secret`/`tls_secret`/`dashboard_secret` are the names of Secrets created
    outside the chart (by Pulumi) for sources `generated`; an explicit
    `existingSecret` wins.
    """
    values = spec.model_dump(by_alias=True, mode="json")
    auth = values["redis"]["auth"]
    if auth["source"] == "generated" and not auth["existingSecret"] and auth_secret:
        auth["existingSecret"] = auth_secret
    tls = values["redis"]["tls"]
    if tls["source"] == "generated" and not tls["existingSecret"] and tls_secret:
        tls["existingSecret"] = tls_secret
    board = values["dashboard"]["auth"]
    basic = values["dashboard"]["enabled"] and board["mode"] == "basic"
    if (
        basic
        and board["source"] == "generated"
        and not board["existingSecret"]
        and dashboard_secret
    ):
        board["existingSecret"] = dashboard_secret
    return values


def override_values(spec: PlatformSpec, **refs: str | None) -> dict[str, Any]:
    """Only what differs from the chart's defaults: a short, readable values file."""
    defaults = PlatformSpec().model_dump(by_alias=True, mode="json")
    diff = _diff(chart_values(spec, **refs), defaults)
    return {} if diff is _SAME else dict(diff)


def _diff(values: Any, defaults: Any) -> Any:
    if isinstance(values, dict) and isinstance(defaults, dict):
        out = {}
        for key, value in values.items():
            if key not in defaults:
                out[key] = value
                continue
            sub = _diff(value, defaults[key])
            if sub is not _SAME:
                out[key] = sub
        return out if out else _SAME
    return _SAME if values == defaults else values


class _Same:
    """Marker: equal to the default (distinct from None, a real value)."""


_SAME: Any = _Same()
