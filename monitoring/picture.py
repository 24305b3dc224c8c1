"""docs/grafana-dashboard.png: the panels drawn with matplotlib from real Prometheus data.

`panel_series` reads every panel's queries over a time range through the HTTP
API (the live-scrape test calls it at its end); `draw` plots them in the
dashboard's order, one small chart per panel.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from monitoring.dashboard import PANELS, substitute
from monitoring.prometheus import Prometheus

PNG = Path(__file__).resolve().parent.parent / "docs" / "grafana-dashboard.png"


def _legend(template: str, labels: dict[str, str]) -> str:
    out = template
    for key, value in labels.items():
        out = out.replace("{{" + key + "}}", value)
    return out


def panel_series(
    prometheus: Prometheus, namespace: str, queue: str, start: float, end: float
) -> list[dict[str, Any]]:
    """[{title, unit, lines: [{legend, t: [...], v: [...]}]}] for every panel."""
    step = max(1.0, (end - start) / 300)
    out = []
    for panel in PANELS:
        lines = []
        for query in panel.queries:
            expr = substitute(query.expr, namespace, queue)
            for series in prometheus.query_range(expr, start, end, step):
                points = [(float(t), float(v)) for t, v in series["values"]]
                lines.append(
                    {
                        "legend": _legend(query.legend, series["metric"]),
                        "t": [t - start for t, _ in points],
                        "v": [v for _, v in points],
                    }
                )
        title = panel.title + (f" ({queue})" if panel.per_queue else "")
        out.append({"title": title, "unit": panel.unit, "lines": lines})
    return out


def draw(panels: list[dict[str, Any]], out: Path = PNG) -> Path:
    """Plot the panels on a 3-column grid into `out`."""
    rows = math.ceil(len(panels) / 3)
    fig, axes = plt.subplots(rows, 3, figsize=(15, 3.2 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        for line in panel["lines"]:
            values = [v if math.isfinite(v) else float("nan") for v in line["v"]]
            ax.plot(line["t"], values, label=line["legend"], linewidth=1.4)
        ax.set_title(panel["title"], fontsize=10)
        ax.set_xlabel("seconds into the live-scrape test", fontsize=8)
        ax.set_ylabel(panel["unit"], fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if panel["lines"]:
            ax.legend(fontsize=7, loc="upper left")
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle("BullMQ platform dashboard, drawn from the live-scrape test's Prometheus")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out
