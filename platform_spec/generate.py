"""Files generated from the spec: the chart's schema, values.yaml, README and examples.

Nothing here is edited by hand. `python -m platform_spec generate` writes the
files; `--check` fails on any drift (a test runs it), so the chart can never
disagree with the model.
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from platform_spec.acl_commands import ROLES as ACL_ROLES
from platform_spec.acl_commands import chart_acl_commands, role_commands
from platform_spec.chart import CHART_DIR, REPO_ROOT
from platform_spec.keys import chart_keys
from platform_spec.model import PlatformSpec
from platform_spec.pod_facts import chart_facts
from platform_spec.stack import STACKS, load_stack
from platform_spec.values import generated_secret_args, override_values

GENERATED_NOTE = "Generated from platform_spec/model.py by `python -m platform_spec generate`."
README_START = "<!-- values-table:start -->"
README_END = "<!-- values-table:end -->"


# ---------------------------------------------------------------- schema


def values_schema() -> dict[str, Any]:
    """JSON Schema of the chart values: the spec's, with every $ref inlined."""
    raw = PlatformSpec.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target = defs[node["$ref"].rsplit("/", 1)[-1]]
                merged = {**inline(target), **{k: v for k, v in node.items() if k != "$ref"}}
                return merged
            return {k: inline(v) for k, v in node.items() if k != "title"}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    schema = inline(raw)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$comment": GENERATED_NOTE,
        "title": "bullmq-platform values",
        **schema,
    }


# ---------------------------------------------------------------- model walk


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """(sub-model class, is_list) behind an annotation such as `list[Queue] | None`."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                return _model_of(arg)
    if origin is list:
        inner, _ = _model_of(typing.get_args(annotation)[0])
        return inner, True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


def _fields(model: type[BaseModel]) -> Iterator[tuple[str, FieldInfo]]:
    for name, info in model.model_fields.items():
        yield info.alias or name, info


def _describe(info: FieldInfo) -> str:
    return " ".join((info.description or "").split())


def doc_rows(model: type[BaseModel] = PlatformSpec, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(values path, description) for every documented value, in model order."""
    for alias, info in _fields(model):
        path = f"{prefix}{alias}"
        sub, is_list = _model_of(info.annotation)
        if sub is not None and is_list:
            yield path, _describe(info)
            yield from doc_rows(sub, f"{path}[].")
        elif sub is not None:
            yield from doc_rows(sub, f"{path}.")
        else:
            yield path, _describe(info)


# ---------------------------------------------------------------- values.yaml


def _scalar(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    return text.removesuffix("\n...").strip()


def _emit(model: type[BaseModel], data: dict[str, Any], prefix: str, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for alias, info in _fields(model):
        path, value = f"{prefix}{alias}", data[alias]
        sub, is_list = _model_of(info.annotation)
        if sub is not None and not is_list and isinstance(value, dict):
            if indent == 0:
                lines += ["", f"## @section {alias}: {_describe(info)}"]
            else:
                lines.append(f"{pad}## {path}: {_describe(info)}")
            lines.append(f"{pad}{alias}:")
            lines += _emit(sub, value, f"{path}.", indent + 2)
            continue
        if indent == 0:
            lines.append("")
        lines.append(f"{pad}## @param {path} {_describe(info)}")
        if sub is not None and is_list:
            lines += [f"{pad}## @param {p} {d}" for p, d in doc_rows(sub, f"{path}[].")]
            if value:
                block = yaml.safe_dump({alias: value}, sort_keys=False, width=100)
                lines += [pad + line for line in block.rstrip("\n").splitlines()]
                continue
        lines.append(f"{pad}{alias}: {_scalar(value)}")
    return lines


def values_yaml() -> str:
    """The chart's values.yaml: every default, each with its `## @param` line."""
    defaults = PlatformSpec().model_dump(by_alias=True, mode="json")
    head = [
        f"# {GENERATED_NOTE}",
        "# Defaults of the bullmq-platform chart. Every key is validated by values.schema.json.",
        "# Secrets never go here: name existing Secrets (redis.auth.existingSecret,",
        "# redis.tls.existingSecret); the Pulumi program creates and names them for you.",
    ]
    return "\n".join(head + _emit(PlatformSpec, defaults, "", 0)) + "\n"


# ---------------------------------------------------------------- README table


def values_table() -> str:
    defaults = PlatformSpec().model_dump(by_alias=True, mode="json")
    rows = ["| Key | Description | Default |", "| --- | --- | --- |"]
    for path, description in doc_rows():
        default = _lookup(defaults, path)
        shown = "(list)" if isinstance(default, list) and default else _scalar(default)
        desc = description.replace("|", "\\|")
        rows.append(f"| `{path}` | {desc} | `{shown.replace('|', '/')}` |")
    return "\n".join(rows)


def _lookup(data: Any, path: str) -> Any:
    for part in path.split("."):
        if "[]" in part or not isinstance(data, dict):
            return ""
        data = data.get(part, "")
    return data


def chart_readme(current: str) -> str:
    """The chart README with its values table replaced by the generated one."""
    start, end = current.index(README_START), current.index(README_END)
    return current[: start + len(README_START)] + "\n" + values_table() + "\n" + current[end:]


# ---------------------------------------------------------------- ACL allow-lists

ACL_START = "<!-- acl-commands:start -->"
ACL_END = "<!-- acl-commands:end -->"


def security_doc(current: str) -> str:
    """docs/security.md with its worker and scheduler command lists replaced by the derived ones."""
    start, end = current.index(ACL_START), current.index(ACL_END)
    lists = "\n".join(
        f"- `{role}` ({len(role_commands(role))}): "
        + " ".join(f"`{c.replace('|', ' ')}`" for c in role_commands(role))
        for role in ACL_ROLES
    )
    return current[: start + len(ACL_START)] + "\n" + lists + "\n" + current[end:]


# ---------------------------------------------------------------- example values


def example_values(stack: str) -> str:
    """ci/<stack>-values.yaml: the stack file's spec as chart values (one definition)."""
    config = load_stack(stack)
    values = override_values(config.spec, **generated_secret_args(config.infra.release_name))
    head = (
        f"# Generated from Pulumi.{stack}.yaml by `python -m platform_spec generate`; "
        "do not edit.\n"
        "# GitOps: create the named Secrets first (see README, 'GitOps').\n"
    )
    return head + yaml.safe_dump(values, sort_keys=False, width=100)


# ---------------------------------------------------------------- pod facts


def facts_helper() -> str:
    """templates/_facts.tpl: the runtime's ports, paths and margins, BullMQ's key suffixes
    and the worker and scheduler ACL allow-lists."""
    return (
        "{{/* Generated from platform_spec/pod_facts.py by "
        "`python -m platform_spec generate`. */}}\n"
        "{{/* Ports, mount paths and grace margin the runtime also uses:\n"
        '   (include "bullmq-platform.facts" . | fromJson).httpPort */}}\n'
        '{{- define "bullmq-platform.facts" -}}\n'
        f"{json.dumps(chart_facts(), sort_keys=True)}\n"
        "{{- end -}}\n"
        "{{/* Generated from platform_spec/keys.py: the BullMQ key suffixes templates build\n"
        '   keys from: (include "bullmq-platform.keys" . | fromJson).backlog */}}\n'
        '{{- define "bullmq-platform.keys" -}}\n'
        f"{json.dumps(chart_keys(), sort_keys=True)}\n"
        "{{- end -}}\n"
        "{{/* Generated from platform_spec/acl_commands.py: the only commands the worker and\n"
        "   scheduler ACL users may run (templates/redis/_config.tpl): .worker, .scheduler */}}\n"
        '{{- define "bullmq-platform.aclCommands" -}}\n'
        f"{json.dumps(chart_acl_commands(), sort_keys=True)}\n"
        "{{- end -}}\n"
    )


# ---------------------------------------------------------------- driver


def generated_files() -> dict[Path, str]:
    """Every generated file and its expected content."""
    readme = CHART_DIR / "README.md"
    files = {
        CHART_DIR / "values.schema.json": json.dumps(values_schema(), indent=2) + "\n",
        CHART_DIR / "values.yaml": values_yaml(),
        readme: chart_readme(readme.read_text()),
        CHART_DIR / "templates" / "_facts.tpl": facts_helper(),
    }
    security = REPO_ROOT / "docs" / "security.md"
    files[security] = security_doc(security.read_text())
    for stack in STACKS:
        files[CHART_DIR / "ci" / f"{stack}-values.yaml"] = example_values(stack)
    return files


def check() -> list[str]:
    """Unified diffs of every generated file that drifted (empty when in step)."""
    diffs = []
    for path, want in generated_files().items():
        have = path.read_text() if path.exists() else ""
        if have != want:
            diff = difflib.unified_diff(
                have.splitlines(keepends=True),
                want.splitlines(keepends=True),
                fromfile=f"{path} (checked in)",
                tofile=f"{path} (generated)",
                n=1,
            )
            diffs.append("".join(diff))
    return diffs


def write() -> list[Path]:
    """Write every generated file; returns the ones that changed."""
    changed = []
    for path, want in generated_files().items():
        if not path.exists() or path.read_text() != want:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(want)
            changed.append(path)
    return changed
