"""Plots in the ann-benchmarks convention: one figure per dataset, recall on x, queries/s on a log y.

Every configuration is a faint point; each engine's Pareto frontier (no other configuration
of that engine is both faster and more accurate) is a bold line. ``points_table`` lists the
parameters of every point, numbered as in the plot, for the HTML report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .metrics import BY_NAME, pareto_frontier
from .tables import query_rows

_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
           "tab:olive", "tab:cyan")


def _colors(engines: list[str]) -> dict[str, str]:
    return {e: _COLORS[i % len(_COLORS)] for i, e in enumerate(sorted(set(engines)))}


def points_table(results: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Return the unfiltered configurations of one dataset, numbered, with parameters and a frontier flag."""
    rows = query_rows(results)
    rows = rows[rows["dataset"] == dataset].sort_values(["engine", "recall_mean"]).reset_index(drop=True)
    frontier = np.zeros(len(rows), dtype=bool)
    for _, group in rows.groupby("engine", sort=False):
        idx = group.index.to_numpy()
        front = pareto_frontier(group["recall_mean"].to_numpy(float), group["qps"].to_numpy(float),
                                BY_NAME["recall_mean"], BY_NAME["qps"])
        frontier[idx[front]] = True
    return pd.DataFrame({
        "point": np.arange(1, len(rows) + 1),
        "engine": rows["engine"],
        "build parameters": [", ".join(f"{k}={v!r}" for k, v in p.items()) if isinstance(p, dict) else str(p)
                             for p in rows["build_params"]],
        "query parameters": [", ".join(f"{k}={v!r}" for k, v in p.items()) if isinstance(p, dict) else str(p)
                             for p in rows["query_params"]],
        "recall@k": rows["recall_mean"].to_numpy(float),
        "QPS": rows["qps"].to_numpy(float),
        "build s": rows["build_seconds"].to_numpy(float),
        "index MB": rows["index_bytes"].to_numpy(float) / 1e6,
        "on frontier": np.where(frontier, "yes", ""),
    })


def plot_dataset(results: pd.DataFrame, dataset: str, title: str | None = None) -> Figure:
    """Return the recall/QPS figure of one dataset (points numbered as in ``points_table``)."""
    table = points_table(results, dataset)
    fig = Figure(figsize=(8, 5.5))
    ax = fig.subplots()
    if table.empty:
        ax.axis("off")
        ax.text(0.5, 0.5, f"no unfiltered query results for {dataset}", ha="center", va="center")
        return fig
    colors = _colors(list(table["engine"]))
    for engine, group in table.groupby("engine", sort=True):
        ax.scatter(group["recall@k"], group["QPS"], color=colors[engine], alpha=0.35, s=22)
        front = group[group["on frontier"] == "yes"].sort_values("recall@k")
        ax.plot(front["recall@k"], front["QPS"], "-o", color=colors[engine], label=engine, markersize=4, linewidth=1.8)
        for number, x, y in zip(group["point"], group["recall@k"], group["QPS"]):
            ax.annotate(str(number), (x, y), textcoords="offset points", xytext=(3, 3), fontsize=6,
                        color=colors[engine])
    low = float(table["recall@k"].min())
    ax.set_xlim(max(0.0, min(low - 0.02, 0.9)), 1.005)
    ax.set_yscale("log")
    ax.set_xlabel("recall@k (linear; points numbered as in the table below)")
    ax.set_ylabel("queries per second (log scale)")
    ax.set_title(title or dataset, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def datasets_of(results: pd.DataFrame) -> list[str]:
    """Return the datasets with unfiltered query results, in order of appearance."""
    return list(dict.fromkeys(query_rows(results)["dataset"]))
