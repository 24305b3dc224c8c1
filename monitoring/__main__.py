"""`python -m monitoring`: the metrics table of docs/metrics.md and the dashboard picture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from monitoring import catalog, dashboard, picture

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)


@app.command("metrics-table")
def metrics_table(
    check: Annotated[bool, typer.Option(help="Fail if docs/metrics.md is out of date.")] = False,
) -> None:
    """Write the table of every metric into docs/metrics.md (from the real registries)."""
    text = catalog.DOC.read_text()
    new = catalog.render_doc(text)
    if check:
        if new != text:
            typer.echo(f"{catalog.DOC} is out of date: run python -m monitoring metrics-table")
            raise typer.Exit(1)
        return
    catalog.DOC.write_text(new)
    typer.echo(f"wrote {catalog.DOC} ({len(catalog.catalog())} metrics)")


@app.command("dashboard")
def write_dashboard() -> None:
    """Write the chart's Grafana dashboard JSON (helm/bullmq-platform/files/)."""
    path = dashboard.write()
    typer.echo(f"wrote {path} ({len(dashboard.PANELS)} panels)")


LIVE_TEST = "tests/monitoring/test_it_should_fire_and_resolve_alerts_live.py"


@app.command("dashboard-png")
def dashboard_png(
    out: Annotated[Path, typer.Option(help="Where to write the picture.")] = picture.PNG,
) -> None:
    """Run the live-scrape test (about a minute) and draw its dashboard data into a PNG."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "panels.json"
        typer.echo(f"running {LIVE_TEST} (real Redis, exporter, Prometheus, platform)...")
        env = {**os.environ, "BULLMQ_DASHBOARD_DATA": str(data)}
        argv = [sys.executable, "-m", "pytest", "-q", "-s", LIVE_TEST, "-k", "stageable"]
        result = subprocess.run(argv, env=env, cwd=catalog.DOC.parent.parent, check=False)
        if result.returncode != 0 or not data.exists():
            typer.echo("the live-scrape test failed: no picture drawn", err=True)
            raise typer.Exit(1)
        path = picture.draw(json.loads(data.read_text()), out)
    typer.echo(f"wrote {path}")


@app.callback()
def main() -> None:
    """Monitoring tools of the platform (see docs/metrics.md)."""


if __name__ == "__main__":
    app()
