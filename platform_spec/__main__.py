"""`python -m platform_spec`: generate chart files, validate stacks, print values."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml

from platform_spec import generate
from platform_spec.model import SpecError, validate_spec
from platform_spec.stack import STACKS, load_stack
from platform_spec.values import chart_values, generated_secret_args

app = typer.Typer(
    help="The deployment spec: generate the chart's schema/values/README, validate stacks.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("generate")
def generate_cmd(
    check: Annotated[
        bool, typer.Option("--check", help="Fail (exit 1) if any generated file drifted.")
    ] = False,
) -> None:
    """Write values.schema.json, values.yaml, the chart README table and ci/ examples."""
    if check:
        diffs = generate.check()
        for diff in diffs:
            typer.echo(diff, err=True)
        if diffs:
            typer.echo(
                f"{len(diffs)} generated file(s) out of date: run `python -m platform_spec "
                "generate`",
                err=True,
            )
            raise typer.Exit(1)
        typer.echo("generated files are up to date")
        return
    changed = generate.write()
    for path in changed:
        typer.echo(f"wrote {path}")
    if not changed:
        typer.echo("nothing to do: generated files are up to date")


@app.command("validate")
def validate_cmd(
    target: Annotated[
        str, typer.Argument(help=f"A stack name ({', '.join(STACKS)}) or a spec/values file.")
    ],
) -> None:
    """Validate a stack file or a values file; each problem is printed with its field path."""
    try:
        if target in STACKS:
            load_stack(target)
        else:
            validate_spec(yaml.safe_load(Path(target).read_text()) or {})
    except SpecError as exc:
        for path, message in exc.problems:
            typer.echo(f"{target}: {path}: {message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{target}: valid")


@app.command("values")
def values_cmd(
    stack: Annotated[str, typer.Argument(help=f"Stack name ({', '.join(STACKS)}).")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of YAML.")] = False,
) -> None:
    """Print the full chart values of a stack (Secret names as Pulumi would create them)."""
    config = load_stack(stack)
    values = chart_values(config.spec, **generated_secret_args(config.infra.release_name))
    if as_json:
        typer.echo(json.dumps(values, indent=2))
    else:
        yaml.safe_dump(values, sys.stdout, sort_keys=False)


if __name__ == "__main__":
    app()
