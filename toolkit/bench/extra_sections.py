"""Report sections for studies at scale: what was run, per-dataset ann-benchmarks plots, cost at scale.

``report.report`` calls ``what_was_run`` for the line at the top of the page and
``extra_sections`` for the sections after its own plots; each section carries its HTML, its
Markdown and the PNG files it wrote into the report folder.
"""

from __future__ import annotations

import base64
import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import ann_plots
from .projection import cost_projection, projection_note
from .tables import markdown_table, plain


@dataclass(frozen=True)
class Section:
    """One report section: a heading, its HTML body and its Markdown body."""

    key: str
    heading: str
    html: str
    markdown: str
    files: tuple[Path, ...] = field(default_factory=tuple)


def _dataset_shapes(frame: pd.DataFrame) -> list[str]:
    shapes = []
    for dataset, group in frame.groupby("dataset", sort=False):
        row = group.iloc[0]
        kind = "sparse" if row.get("vector_type") == "sparse" else f"{int(row['dimension'])}-d"
        shapes.append(f"{dataset}: {int(row['n']):,} records × {kind}, {row['metric']}")
    return shapes


def what_was_run(results: pd.DataFrame) -> str:
    """Return one paragraph: datasets (size, dimension, metric), engines, configurations, filters, time."""
    frame = plain(results)
    env = results.attrs.get("environment") or {}
    engines = sorted(set(frame["engine"].dropna()))
    configurations = frame["label"].nunique() if "label" in frame else 0
    filters = sorted(set(frame["filter"].dropna()) - {"none"})
    seconds = env.get("seconds")
    took = f"The sweep took {seconds:.0f} s" if isinstance(seconds, (int, float)) else "Sweep time unknown"
    try:
        load = "load average at report time {:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg())
    except OSError:  # not available on this platform
        load = "load average unknown"
    skipped = results.attrs.get("skipped") or []
    missing = sorted({s["engine"] for s in skipped if s.get("dataset") == "*"})
    return (f"{len(frame)} runs of {configurations} configurations of {len(engines)} engines "
            f"({', '.join(engines)}) on {frame['dataset'].nunique()} datasets "
            f"({'; '.join(_dataset_shapes(frame))}); "
            f"{len(filters)} filter sets{' (' + ', '.join(filters) + ')' if filters else ''}. "
            f"{took} on {env.get('cpus', '?')} CPUs ({env.get('executor', 'executor unknown')}), {load}."
            + (f" Not installed, so not run: {', '.join(missing)}." if missing else ""))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "dataset"


def _html_table(frame: pd.DataFrame) -> str:
    from .report import _html_table as render  # the report's own table style

    return render(frame)


def _png(fig: object) -> bytes:
    from .report import figure_png

    return figure_png(fig)  # type: ignore[arg-type]


def extra_sections(results: pd.DataFrame, folder: str | Path) -> list[Section]:
    """Return the per-dataset ann-benchmarks plots and the cost-at-scale projection (PNG files written to folder)."""
    folder = Path(folder)
    (folder / "plots").mkdir(parents=True, exist_ok=True)
    sections = []
    for dataset in ann_plots.datasets_of(results):
        table = ann_plots.points_table(results, dataset)
        png = _png(ann_plots.plot_dataset(results, dataset))
        path = folder / "plots" / f"ann-{_slug(dataset)}.png"
        path.write_bytes(png)
        heading = f"Recall vs QPS (ann-benchmarks style): {dataset}"
        caption = ("Unfiltered queries; each engine's Pareto frontier in bold, every configuration numbered. "
                   "The table gives the build and query parameters of every point.")
        body = (f"<h2>{html.escape(heading)}</h2><p>{html.escape(caption)}</p>"
                f"<img alt='{html.escape(path.stem)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
                f"<details><summary>{len(table)} points and their parameters</summary>{_html_table(table)}</details>")
        md = f"## {heading}\n\n![{path.stem}](plots/{path.name})\n\n{markdown_table(table)}\n"
        sections.append(Section(f"ann-{_slug(dataset)}", heading, body, md, (path,)))
    projection = cost_projection(results)
    if not projection.empty:
        heading = "Cost at scale (projection)"
        note = projection_note()
        body = f"<h2>{html.escape(heading)}</h2><p><b>{html.escape(note)}</b></p>" + _html_table(projection)
        md = f"## {heading}\n\n**{note}**\n\n{markdown_table(projection)}\n"
        path = folder / "cost_projection.csv"
        projection.to_csv(path, index=False)
        sections.append(Section("projection", heading, body, md, (path,)))
    return sections
