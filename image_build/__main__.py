"""python -m image_build (what scripts/image runs)."""

from image_build.cli import app

app(prog_name="scripts/image")
