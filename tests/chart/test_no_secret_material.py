"""No password or key ever appears in the rendered output: only Secret names and keys."""

from __future__ import annotations

import re

import pytest
from chart_rendering import STACKS, containers, objects, render, stack_values

pytestmark = pytest.mark.helm
WORKLOADS = ("Deployment", "StatefulSet")


@pytest.mark.parametrize("stack", STACKS)
def test_it_should_render_no_secret_and_no_password_value(stack: str) -> None:
    docs = objects(stack_values(stack))
    assert not [d for d in docs if d["kind"] == "Secret"], "the chart never holds secrets"
    for doc in (d for d in docs if d["kind"] in WORKLOADS):
        for container in containers(doc):
            for env in container.get("env", []):
                if re.search(r"PASSWORD|REDISCLI_AUTH|TOKEN", env["name"]) and "value" in env:
                    assert env["value"].startswith("/"), f"{env['name']} holds a value, not a path"
            argv = " ".join(container.get("command", []) + container.get("args", []))
            assert not re.search(r"(^|\s)(-a|--pass|--requirepass|--password)(\s|=)", argv)
    text = render(stack_values(stack))
    assert "requirepass" not in text
    assert not re.search(r"(?m)^\s*(user\s+\S+\s+.*)?>\S", text), "an ACL `>password` rule"
    assert "BEGIN" not in text and "PRIVATE KEY" not in text
