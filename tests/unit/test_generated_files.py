"""values.schema.json, values.yaml, the chart README and ci/ examples follow the spec."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from platform_spec import generate
from platform_spec.chart import CHART_DIR
from platform_spec.model import PlatformSpec


def test_it_should_have_no_drift_between_spec_and_generated_files() -> None:
    diffs = generate.check()
    assert not diffs, "run `python -m platform_spec generate`:\n" + "\n".join(diffs)


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> Iterator[type[BaseModel]]:
    if model in seen:
        return
    seen.add(model)
    yield model
    for info in model.model_fields.values():
        sub, _ = generate._model_of(info.annotation)
        if sub is not None:
            yield from _models(sub, seen)


def test_it_should_describe_every_field_of_the_spec() -> None:
    missing = [
        f"{model.__name__}.{name}"
        for model in _models(PlatformSpec, set())
        for name, info in model.model_fields.items()
        if not (info.description or "").strip()
    ]
    assert not missing, f"fields without a description: {missing}"


def _objects(node: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield path, node
        for key, value in node.items():
            if key != "default":
                yield from _objects(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _objects(value, f"{path}[{i}]")


def test_it_should_forbid_unknown_keys_everywhere_but_payloads() -> None:
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    open_objects = [
        path
        for path, node in _objects(schema)
        # Typed maps (additionalProperties: a schema) are fine; open objects are typos waiting.
        if node.get("additionalProperties") in (None, True) and not path.endswith(".payload")
    ]
    assert not open_objects, open_objects


def test_it_should_define_every_values_path_the_templates_use() -> None:
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    used: set[str] = set()
    for template in (CHART_DIR / "templates").rglob("*"):
        if template.is_file():
            used |= set(re.findall(r"\.Values((?:\.[A-Za-z0-9_]+)+)", template.read_text()))
    assert used, "templates use no values?"
    undefined = []
    for path in sorted(used):
        node = schema
        for part in path.strip(".").split("."):
            props = node.get("properties", {})
            if part not in props:
                undefined.append(path)
                break
            node = props[part]
            node = next((alt for alt in node.get("anyOf", []) if alt.get("type") == "object"), node)
    assert not undefined, f"templates use values the schema does not define: {undefined}"


def test_it_should_document_every_leaf_in_values_yaml() -> None:
    text = (CHART_DIR / "values.yaml").read_text()
    documented = set(re.findall(r"## @param (\S+)", text))
    expected = {path for path, _ in generate.doc_rows()}
    assert documented == expected


def test_it_should_generate_examples_from_the_stack_files(repo_root: Path) -> None:
    for stack in ("dev", "staging", "prod"):
        text = (CHART_DIR / "ci" / f"{stack}-values.yaml").read_text()
        assert f"Generated from Pulumi.{stack}.yaml" in text
