"""The dashboard section: off and read-only by default, bad values named by field."""

from __future__ import annotations

from typing import Any

import pytest

from platform_spec.model import PlatformSpec, SpecError, validate_spec


def test_it_should_be_off_read_only_and_behind_basic_auth_by_default() -> None:
    board = PlatformSpec().dashboard
    assert (board.enabled, board.actions_enabled, board.auth.mode) == (False, False, "basic")
    assert board.base_path == "/" and board.ingress.enabled is False


@pytest.mark.parametrize(
    ("dashboard", "field", "message"),
    [
        ({"ingress": {"enabled": True}}, "dashboard.ingress", "host is required"),
        ({"auth": {"source": "existingSecret"}}, "dashboard.auth", "existingSecret is required"),
        ({"basePath": "ops/queues"}, "dashboard.basePath", "should match pattern"),
        ({"basePath": "/ops/queues/"}, "dashboard.basePath", "should match pattern"),
        ({"auth": {"mode": "oauth"}}, "dashboard.auth.mode", "'basic' or 'proxyHeader'"),
        ({"auth": {"username": "a:b"}}, "dashboard.auth.username", "should match pattern"),
        ({"allowedNamespaces": ["Not_A_Label"]}, "dashboard.allowedNamespaces[0]", "pattern"),
        ({"actionEnabled": True}, "dashboard.actionEnabled", "Extra inputs"),
        ({"port": 80}, "dashboard.port", "greater than or equal to 1024"),
    ],
)
def test_it_should_name_the_bad_field(dashboard: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        validate_spec({"dashboard": dashboard})
    assert any(path == field and message in text for path, text in caught.value.problems), (
        caught.value.problems
    )
