"""`scripts/image`: build the project's images and say how to push and pin them."""

from __future__ import annotations

from typing import Annotated

import typer

from image_build.base import ensure_base
from image_build.build import Built, build, recipe
from image_build.recipes import PLATFORM, RECIPES, project_version
from image_build.tools import ensure_tools, progress

app = typer.Typer(
    help="Build the project's images with buildah: "
    + ", ".join(RECIPES)
    + " (platform by default).",
    no_args_is_help=True,
    add_completion=False,
)

MB = 1_000_000


def push_instructions(built: Built, spec_field: str) -> str:
    """How to publish `built` and pin its digest at `spec_field` in the stack files and values."""
    name, version = built.ref.rsplit(":", 1)
    target = f"<registry>/<path>/{name.rsplit('/', 1)[-1]}"
    spec = f"bullmq-platform:spec.{spec_field}"
    # values.yaml nesting of the field, e.g. dashboard.image -> dashboard: {image: {...}}
    *outer, leaf = spec_field.split(".")
    value = f'{leaf}: {{repository: {target}, tag: "{version}", digest: <image.digest>}}'
    for key in reversed(outer):
        value = f"{key}: {{{value}}}"
    return "\n".join(
        [
            "Push it (--digestfile records the manifest digest the registry stores):",
            f"  podman push {built.ref} docker://{target}:{version} --digestfile image.digest",
            "Pin it by digest, so every pod runs exactly this build:",
            f"  pulumi config set --stack prod --path '{spec}.repository' {target}",
            f"  pulumi config set --stack prod --path '{spec}.digest' \"$(cat image.digest)\"",
            f"  values.yaml:  {value}",
            f"(built locally as {name}; the chart deploys repository@digest once "
            f"{spec_field}.digest is set)",
        ]
    )


def _summary(built: Built) -> str:
    added = f", {built.added / MB:.1f} MB above its base" if built.added is not None else ""
    return (
        f"built {built.ref} in {built.seconds:.0f} s: id {built.image_id[:19]}, "
        f"{built.size / MB:.1f} MB{added}"
    )


@app.command("build")
def build_command(
    image: Annotated[str, typer.Argument(help=f"Which image: {', '.join(RECIPES)}.")] = "platform",
    base: Annotated[
        str,
        typer.Option(
            help="Base image: 'official' (the Containerfile's pinned python or node slim), "
            "'local' (a debootstrapped bookworm, for machines without a registry) or a reference."
        ),
    ] = "official",
    repository: Annotated[
        str | None, typer.Option(help="Repository to tag with (default: the recipe's).")
    ] = None,
    tag: Annotated[str | None, typer.Option(help="Tag (default: the project version).")] = None,
    platform_image: Annotated[
        str | None,
        typer.Option(help="For derived images: the platform image to build FROM."),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Rebuild every step (new base packages).")
    ] = False,
) -> None:
    """Build IMAGE, tag it with the project version, print how to push and pin it."""
    try:
        target = recipe(image)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="IMAGE") from None
    args = {}
    if target.needs:
        args["PLATFORM_IMAGE"] = platform_image or f"{PLATFORM.repository}:{project_version()}"
    try:
        built = build(
            target, base=base, repository=repository, tag=tag, build_args=args, no_cache=no_cache
        )
    except (RuntimeError, ValueError) as exc:
        progress(str(exc))
        raise typer.Exit(1) from None
    progress(_summary(built))
    if target.spec_field:
        typer.echo(push_instructions(built, target.spec_field))


@app.command("base")
def base_command(
    image: Annotated[
        str, typer.Argument(help="The image whose local base to make: platform or dashboard.")
    ] = "platform",
) -> None:
    """Make IMAGE's local bookworm base (python3.11 or nodejs; cached outside the repository)."""
    try:
        local = recipe(image).local_base
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="IMAGE") from None
    if local is None:
        raise typer.BadParameter(f"{image} is built FROM another image", param_hint="IMAGE")
    ensure_tools()
    progress(f"local base ready: {ensure_base(local)}")
