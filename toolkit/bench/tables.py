"""Summary tables of a results frame: the headline comparison and Markdown rendering."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

RECALL_TARGET = 0.9
HEADLINE_COLUMNS = {
    "dataset": "dataset",
    "engine": "engine",
    "label": "configuration",
    "recall_mean": "recall@k",
    "recall_p10": "recall p10",
    "qps": "QPS",
    "latency_p50_ms": "p50 ms",
    "latency_p99_ms": "p99 ms",
    "build_seconds": "build s",
    "index_bytes": "index MB",
    "read_units_per_query": "RU/query",
    "distance_computations_per_query": "distances/query",
}


def plain(results: pd.DataFrame) -> pd.DataFrame:
    """Return the frame without ``attrs``: pandas deep-copies attrs (the timeline) on every operation."""
    return pd.DataFrame(results)


def query_rows(results: pd.DataFrame, filter_name: str | None = "none") -> pd.DataFrame:
    """Return the error-free rows of query-only workloads (unfiltered ones by default)."""
    config = results.attrs.get("config") or {}
    results = plain(results)
    runbooks = _runbook_workloads(results, config)
    rows = results[(results["error"] == "") & results["recall_mean"].notna()]
    rows = rows[~rows["workload"].isin(runbooks)]
    if filter_name is not None:
        rows = rows[rows["filter"] == filter_name]
    return rows


def _runbook_workloads(results: pd.DataFrame, config: dict[str, Any]) -> set[str]:
    named = {w["name"] for w in config.get("workloads", []) if w.get("kind") == "runbook"}
    flushes = results["flushes"].to_numpy() if "flushes" in results else []
    return named | {w for w, f in zip(results["workload"], flushes) if f == f}  # f == f: not NaN


def headline(results: pd.DataFrame, recall_target: float = RECALL_TARGET) -> pd.DataFrame:
    """Return, per dataset and engine, the fastest unfiltered configuration reaching ``recall_target``.

    An engine that never reaches the target is shown with its best-recall configuration.
    """
    rows = query_rows(results)
    picked = []
    for (_, _), group in rows.groupby(["dataset", "engine"], sort=False):
        good = group[group["recall_mean"] >= recall_target]
        picked.append(good.loc[good["qps"].idxmax()] if len(good) else group.loc[group["recall_mean"].idxmax()])
    if not picked:
        return pd.DataFrame(columns=list(HEADLINE_COLUMNS.values()))
    table = pd.DataFrame(picked)[list(HEADLINE_COLUMNS)].copy()
    table["index_bytes"] = table["index_bytes"] / 1e6
    table = table.rename(columns=HEADLINE_COLUMNS)
    return table.sort_values(["dataset", "QPS"], ascending=[True, False]).reset_index(drop=True)


def headline_labels(results: pd.DataFrame, recall_target: float = RECALL_TARGET) -> dict[tuple[str, str], str]:
    """Return the headline configuration label of each (dataset, engine)."""
    table = headline(results, recall_target)
    return {(d, e): c for d, e, c in zip(table["dataset"], table["engine"], table["configuration"])}


def _format(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return ""
        magnitude = abs(float(value))
        if magnitude == 0:
            return "0"
        if magnitude >= 1000:
            return f"{value:,.0f}"
        if magnitude >= 1:
            return f"{value:.3g}" if magnitude < 100 else f"{value:.0f}"
        return f"{value:.3f}" if magnitude >= 0.001 else f"{value:.2e}"
    return str(value)


def markdown_table(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """Render a frame as a GitHub Markdown table (numbers to about 3 significant digits)."""
    columns = list(columns or frame.columns)
    escape = lambda text: str(text).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(escape(c) for c in columns) + " |",
             "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(frame[c]) else "---" for c in columns) + "|"]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(escape(_format(row[c])) for c in columns) + " |")
    return "\n".join(lines)
