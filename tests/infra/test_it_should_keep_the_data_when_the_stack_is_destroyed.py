"""`pulumi destroy` keeps the namespace (so Redis's PVC and disk) unless the stack says so.

The options are read as Pulumi's engine gets them: a stack transformation sees
every resource's ResourceOptions before it is registered.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pulumi_harness import PROJECT, Recorder, set_config, stack_raw

from infra.config import load_stack_config
from infra.program import deploy

NAMESPACE = "kubernetes:core/v1:Namespace"


def _options(raw: dict[str, Any], stack: str) -> dict[tuple[str, str], pulumi.ResourceOptions]:
    """ResourceOptions of every resource the program registers, by (type, name)."""
    seen: dict[tuple[str, str], pulumi.ResourceOptions] = {}
    pulumi.runtime.set_mocks(Recorder(), project=PROJECT, stack=stack, preview=False)
    set_config(raw)
    config = load_stack_config()

    def record(args: pulumi.ResourceTransformationArgs) -> None:
        seen[(args.type_, args.name)] = args.opts

    @pulumi.runtime.test
    def run() -> Any:
        pulumi.runtime.register_stack_transformation(record)
        return pulumi.Output.all(*deploy(config).values())

    run()
    return seen


def _namespace_options(raw: dict[str, Any], stack: str) -> pulumi.ResourceOptions:
    # The platform's namespace (dev also creates KEDA's, which holds no data).
    return _options(raw, stack)[(NAMESPACE, "bullmq-platform-namespace")]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_it_should_retain_the_namespace_outside_dev_by_default(stack: str) -> None:
    assert _namespace_options(stack_raw(stack), stack).retain_on_delete is True


def test_it_should_let_dev_throw_its_data_away_by_default() -> None:
    assert not _namespace_options(stack_raw("dev"), "dev").retain_on_delete


@pytest.mark.parametrize(("stack", "delete"), [("prod", True), ("dev", False)])
def test_it_should_follow_an_explicit_delete_data_on_destroy(stack: str, delete: bool) -> None:
    raw = stack_raw(stack)
    raw.setdefault("infra", {})["deleteDataOnDestroy"] = delete
    assert bool(_namespace_options(raw, stack).retain_on_delete) is (not delete)
