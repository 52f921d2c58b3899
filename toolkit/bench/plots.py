"""Plots of a results frame (matplotlib; each function returns a Figure and never shows it).

* ``plot_pareto`` — recall vs QPS, the Pareto frontier per engine (logit x, log y);
* ``plot_selectivity`` — recall and latency vs filter selectivity;
* ``plot_read_units`` — billed read units (and true bytes scanned) vs namespace size;
* ``plot_runbook`` — query latency through a runbook, flushes and merges marked.

Figures are built without pyplot (no global state, no GUI backend): ``fig.savefig`` renders
with Agg, and notebooks display the returned Figure inline.
"""

from __future__ import annotations

from typing import Any, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

from ..cost import GB, MIN_QUERY_READ_UNITS
from .metrics import BY_NAME, pareto_frontier
from .sweep import timeline_frame
from .tables import dataset_labels, headline_labels, query_rows

RECALL_CLIP = (0.001, 0.9999)  # logit axes cannot show 0 or 1; exact engines sit on the right edge
_COLORS: tuple[Any, ...] = tuple(matplotlib.colormaps["tab10"](i) for i in range(10))


def _engine_colors(engines: Sequence[str]) -> dict[str, Any]:
    return {e: _COLORS[i % len(_COLORS)] for i, e in enumerate(sorted(set(engines)))}


def _grid(count: int, width: float = 5.5, height: float = 4.2, columns: int = 2) -> tuple[Figure, list[Any]]:
    columns = max(1, min(columns, count))
    rows = max(1, -(-count // columns))
    fig = Figure(figsize=(width * columns, height * rows))
    axes = fig.subplots(rows, columns, squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count]


def _empty(message: str) -> Figure:
    fig = Figure(figsize=(6, 2))
    ax = fig.subplots()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    return fig


def plot_pareto(results: pd.DataFrame, x: str = "recall_mean", y: str = "qps") -> Figure:
    """Plot recall vs QPS per dataset: every configuration faintly, each engine's frontier boldly.

    Vertical bars span the min–max of the repeated QPS measurements. Recall 1.0 sits on the
    right edge of the logit axis; a recall below 0.001 is drawn on the left edge with a "<"
    marker and counted in a note, never moved silently.
    """
    rows = query_rows(results)
    if rows.empty:
        return _empty("no unfiltered query results to plot")
    datasets = list(dict.fromkeys(rows["dataset"]))
    labels = dataset_labels(results)
    colors = _engine_colors(rows["engine"])
    fig, axes = _grid(len(datasets), width=6.5)
    for ax, dataset in zip(axes, datasets):
        part = rows[rows["dataset"] == dataset]
        clipped_low = 0
        for engine, group in part.groupby("engine", sort=True):
            raw = group[x].to_numpy(float)
            xs = np.clip(raw, *RECALL_CLIP) if x.startswith("recall") else raw
            ys = group[y].to_numpy(float)
            low_side = raw < RECALL_CLIP[0] if x.startswith("recall") else np.zeros(len(raw), bool)
            clipped_low += int(low_side.sum())
            ax.scatter(xs[~low_side], ys[~low_side], color=colors[engine], alpha=0.35, s=18)
            if low_side.any():
                ax.scatter(xs[low_side], ys[low_side], color=colors[engine], alpha=0.8, s=30, marker="<")
            if f"{y}_min" in group and f"{y}_max" in group and group[f"{y}_min"].notna().any():
                ax.vlines(xs, group[f"{y}_min"].to_numpy(float), group[f"{y}_max"].to_numpy(float),
                          color=colors[engine], alpha=0.5, linewidth=1)
            front = pareto_frontier(xs, ys, BY_NAME[x], BY_NAME[y])
            ax.plot(xs[front], ys[front], "-o", color=colors[engine], label=engine, markersize=4, linewidth=1.8)
        if x.startswith("recall"):
            _recall_logit_axis(ax, float(np.clip(np.nanmin(part[x].to_numpy(float)), *RECALL_CLIP)))
            if clipped_low:
                ax.annotate(f"{clipped_low} configuration(s) with recall < {RECALL_CLIP[0]:g} drawn at the left edge (<)",
                            xy=(0.01, 0.01), xycoords="axes fraction", fontsize=7, color="dimgray")
        ax.set_yscale("log")
        _at_least_a_decade(ax)
        ax.set_xlabel(f"{x.replace('_mean', '')}@{int(part['k'].iloc[0])} (logit scale; 1.0 drawn at the right edge)")
        ax.set_ylabel(f"{y} ({BY_NAME[y].unit}, log scale; bars: min–max of repeats)")
        ax.set_title(_short(labels.get(dataset, dataset)), fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        _legend_outside(ax)
    fig.suptitle("Recall vs throughput — Pareto frontier per engine (up and right is better)")
    fig.tight_layout()
    return fig


def _recall_logit_axis(ax: Any, lowest: float) -> None:
    """Set a logit recall axis whose left edge lies clearly below the lowest point and is labelled."""
    low = min(0.5, lowest * 0.85)
    ax.set_xscale("logit")
    ax.set_xlim(low, RECALL_CLIP[1] * 1.00004)
    logit = lambda p: float(np.log(p / (1 - p)))  # noqa: E731
    room = 0.07 * (logit(RECALL_CLIP[1]) - logit(low))  # labels closer than this to the edge's would collide
    ticks = [low] + [t for t in (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, RECALL_CLIP[1])
                     if logit(t) - logit(low) > room]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FixedFormatter([f"{low:.2g}"] + [f"{t:g}" if t < RECALL_CLIP[1] else "1"
                                                                  for t in ticks[1:]]))
    ax.xaxis.set_minor_locator(NullLocator())


def _at_least_a_decade(ax: Any) -> None:
    """Widen a log y-axis to span at least a factor of 10, so small differences do not look like cliffs."""
    low, high = ax.get_ylim()
    if low > 0 and high > 0 and high / low < 10:
        middle = np.sqrt(low * high)
        ax.set_ylim(middle / np.sqrt(10), middle * np.sqrt(10))


def _legend_outside(ax: Any, **kwargs: Any) -> None:
    """Put the axes' legend to its right, outside the plotting area, so it never hides a point."""
    ax.legend(fontsize=kwargs.pop("fontsize", 8), loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
              **kwargs)


def plot_selectivity(results: pd.DataFrame) -> Figure:
    """Plot recall and median latency against filter selectivity, for each engine's headline configuration."""
    rows = query_rows(results, filter_name=None)
    labels = headline_labels(results)
    rows = rows[[labels.get((d, e)) == c for d, e, c in zip(rows["dataset"], rows["engine"], rows["label"])]]
    datasets = [d for d in dict.fromkeys(rows["dataset"]) if (rows.loc[rows["dataset"] == d, "filter"] != "none").any()]
    if not datasets:
        return _empty("no filtered query results to plot")
    colors = _engine_colors(rows["engine"])
    kinds_seen = list(dict.fromkeys(k for k in rows["filter"].str.split("@").str[0] if k != "none"))
    markers = {"none": "*"} | {k: "os^Dvph"[i % 7] for i, k in enumerate(kinds_seen)}
    names = dataset_labels(results)
    fig, axes = _grid(2 * len(datasets), width=6.5, columns=2)
    for d, dataset in enumerate(datasets):
        ax_recall, ax_latency = axes[2 * d], axes[2 * d + 1]
        part = rows[rows["dataset"] == dataset]
        for engine, group in part.groupby("engine", sort=True):
            kinds = group["filter"].str.split("@").str[0]
            buckets = group.assign(bucket=group["filter"].str.split("@").str[-1].where(kinds != "none", "1"))
            mean = buckets.groupby("bucket").agg(sel=("selectivity", "mean"), recall=("recall_mean", "mean"),
                                                 latency=("latency_p50_ms", "mean")).sort_values("sel")
            for ax, column, line in ((ax_recall, "recall_mean", "recall"), (ax_latency, "latency_p50_ms", "latency")):
                ax.plot(mean["sel"], mean[line], "-", color=colors[engine], label=engine, linewidth=1.5)
                for kind, sub in group.groupby(kinds):
                    ax.scatter(sub["selectivity"], sub[column], color=colors[engine], marker=markers[kind],
                               s=22, alpha=0.8)
        for ax, ylabel in ((ax_recall, "recall@k (mean)"), (ax_latency, "latency p50 (ms)")):
            ax.set_xscale("log")
            ax.set_xlabel("filter selectivity (share of records allowed, log scale)")
            ax.set_ylabel(ylabel)
            ax.set_title(_short(names.get(dataset, dataset)), fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
        ax_recall.set_ylim(0, 1.04)  # the whole recall range: a small drop must not look like a cliff
        ax_latency.set_yscale("log")
        _at_least_a_decade(ax_latency)
        handles = [Line2D([], [], color="grey", marker=m, linestyle="", label=k) for k, m in markers.items()
                   if k in set(part["filter"].str.split("@").str[0])]
        _legend_outside(ax_recall)
        _legend_outside(ax_latency, handles=handles, title="filter kind", title_fontsize=8)
    fig.suptitle("Filtered search: recall and latency vs selectivity (headline configuration of each engine)")
    fig.tight_layout()
    return fig


def plot_read_units(results: pd.DataFrame) -> Figure:
    """Plot billed read units per query against namespace size, beside the bytes really scanned."""
    rows = query_rows(results, filter_name="none")
    timeline = timeline_frame(results)
    searches = timeline[timeline["kind"] == "search"]
    if rows.empty and searches.empty:
        return _empty("no query results to plot")
    colors = _engine_colors(list(rows["engine"]) + list(searches["engine"]))
    fig = Figure(figsize=(15, 4.5))
    ax_ru, ax_bytes = fig.subplots(1, 2)
    sizes = np.logspace(4, 11.5, 200)
    ax_ru.plot(sizes, np.maximum(MIN_QUERY_READ_UNITS, sizes / GB), color="black", linewidth=1,
               label="formula: max(0.25, namespace GB)")
    for engine in colors:
        r = rows[rows["engine"] == engine]
        s = searches[searches["engine"] == engine]
        ax_ru.scatter(r["namespace_bytes"], r["read_units_per_query"], color=colors[engine], marker="o", s=30,
                      label=f"{engine}: query runs")
        ax_ru.scatter(s["namespace_bytes"], s["read_units"], color=colors[engine], marker=".", s=12, alpha=0.6)
        ax_bytes.scatter(r["namespace_bytes"], r["bytes_scanned_per_query"], color=colors[engine], marker="o", s=30,
                         label=f"{engine}: query runs")
        ax_bytes.scatter(s["namespace_bytes"], s["bytes_scanned"], color=colors[engine], marker=".", s=12, alpha=0.6,
                         label=f"{engine}: runbook steps" if len(s) else None)
    for ax in (ax_ru, ax_bytes):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("namespace size (billed bytes, log scale)")
        ax.grid(True, which="both", alpha=0.3)
        _legend_outside(ax, fontsize=7)
    ax_ru.set_ylabel("read units per query (billed)")
    ax_ru.set_title("Billed: read units vs namespace size", fontsize=10)
    ax_bytes.set_ylabel("vector bytes scanned per query (true work)")
    ax_bytes.set_title("True work: bytes scanned vs namespace size", fontsize=10)
    fig.tight_layout()
    return fig


def plot_runbook(results: pd.DataFrame, run_ids: Sequence[str] | None = None, max_runs: int = 6) -> Figure:
    """Plot each runbook's query latencies over time, with flushes and merges as vertical lines."""
    timeline = timeline_frame(results)
    if timeline.empty:
        return _empty("no runbook was run")
    ids = list(run_ids) if run_ids is not None else list(dict.fromkeys(timeline["run_id"]))[:max_runs]
    labels = dataset_labels(results)
    fig, axes = _grid(len(ids), width=12, height=3.2, columns=1)
    for ax, run_id in zip(axes, ids):
        events = timeline[timeline["run_id"] == run_id]
        queries = events[events["kind"] == "query"]
        stale = queries["lsn_lag"].fillna(0) > 0
        ax.scatter(queries.loc[~stale, "t"], queries.loc[~stale, "latency_ms"], s=4, color="tab:blue", alpha=0.5,
                   label="query latency")
        if stale.any():
            ax.scatter(queries.loc[stale, "t"], queries.loc[stale, "latency_ms"], s=6, color="tab:purple",
                       marker="x", label="query not seeing every write yet")
        for kind, color in (("slab build", "tab:green"), ("merge", "tab:red"), ("compact merge", "tab:red")):
            spans = events[events["kind"] == kind]
            for i, (end, seconds) in enumerate(zip(spans["t"], spans["seconds"].fillna(0))):
                ax.axvspan(end - seconds, end, color=color, alpha=0.12, linewidth=0,
                           label=f"{kind} ({len(spans)}, background)" if i == 0 else None)
                if kind != "slab build":
                    ax.axvline(end, color=color, linewidth=1, alpha=0.7)
        times = events.loc[events["kind"] == "flush", "t"]
        for i, t in enumerate(times):
            ax.axvline(t, color="tab:green", linestyle="--", linewidth=1, alpha=0.7,
                       label=f"memtable flush ({len(times)})" if i == 0 else None)
        for kind, color in (("delete", "tab:purple"), ("compact", "black")):
            times = events.loc[events["kind"] == kind, "t"]
            for i, t in enumerate(times):
                ax.axvline(t, linewidth=0.8, color=color, linestyle=":", label=kind if i == 0 else None)
        searches = events[events["kind"] == "search"]
        twin = ax.twinx()
        twin.plot(searches["t"], searches["recall"], "o-", color="tab:orange", markersize=3, linewidth=1,
                  label="recall (per search step)")
        twin.set_ylim(0, 1.05)
        twin.set_ylabel("recall@k")
        ax.set_yscale("log")
        ax.set_ylabel("latency (ms, log)")
        ax.set_xlabel("time since the runbook started (s)")
        label, dataset = events["label"].iloc[0], events["dataset"].iloc[0]
        ax.set_title(f"{label} on {_short(labels.get(dataset, dataset))} — {events['workload'].iloc[0]}", fontsize=10)
        lines, names = ax.get_legend_handles_labels()
        more, more_names = twin.get_legend_handles_labels()
        ax.legend(lines + more, names + more_names, fontsize=7, loc="upper left", bbox_to_anchor=(1.06, 1.0))
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
