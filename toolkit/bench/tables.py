"""Summary tables of a results frame: the headline comparison and Markdown rendering.

Timings are medians over the sweep's repeats, shown with their min–max range; a headline
ranking only calls one engine faster than another when their ranges do not overlap
(otherwise it says "tie within spread").
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .metrics import separated

RECALL_TARGET = 0.9
HEADLINE_COLUMNS = {
    "dataset_label": "dataset",
    "engine": "engine",
    "label": "configuration",
    "recall_mean": "recall@k",
    "recall_p10": "recall p10",
    "qps": "QPS",
    "qps_range": "QPS min–max",
    "latency_p50_ms": "p50 ms",
    "latency_p50_ms_range": "p50 ms min–max",
    "latency_p99_ms": "p99 ms",
    "build_seconds": "build s",
    "build_seconds_range": "build s min–max",
    "compile_seconds": "compile s",
    "index_bytes": "index MB",
    "read_units_per_query": "RU/query",
    "distance_computations_per_query": "distances/query",
    "verdict": "verdict",
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


def dataset_labels(results: pd.DataFrame) -> dict[str, str]:
    """Return a display label per dataset naming its size and dimension, e.g. ``clustered (10,000 × 32)``.

    The label starts with the dataset's registered name; when two datasets would get the
    same label, their full parameters are kept instead.
    """
    frame = plain(results)
    out: dict[str, str] = {}
    if "dataset" not in frame or frame.empty:
        return out
    first = frame.drop_duplicates("dataset")
    missing = pd.Series(np.nan, index=first.index)
    for name, n, dim, kind in zip(first["dataset"], first.get("n", missing), first.get("dimension", missing),
                                  first.get("vector_type", missing)):
        size = f"{int(n):,}" if n == n and n is not None else "?"
        width = f"{int(dim):,}" if dim == dim and dim is not None else "?"
        shape = f"{size} × {width}" + (" sparse" if kind == "sparse" else "")
        out[str(name)] = f"{str(name).split('(')[0]} ({shape})"
    counts = pd.Series(list(out.values())).value_counts()
    return {name: (label if counts[label] == 1 else f"{name} {label[label.index('('):]}")
            for name, label in out.items()}


def spread_range(low: Any, high: Any) -> str:
    """Return ``low–high`` formatted like the table numbers (empty when not measured)."""
    if not (isinstance(low, (int, float, np.number)) and isinstance(high, (int, float, np.number))) \
            or low != low or high != high:
        return ""
    return f"{_format(float(low))}–{_format(float(high))}"


def _pick(rows: pd.DataFrame, recall_target: float) -> pd.DataFrame:
    """Return per dataset and engine the chosen row, with ``ties``: configurations tied with it on QPS."""
    picked = []
    for (_, _), group in rows.groupby(["dataset", "engine"], sort=False):
        good = group[group["recall_mean"] >= recall_target]
        if len(good):
            best = good.loc[good["qps"].idxmax()]
            ties = sum(not separated(*_qps_range(best), *_qps_range(other))
                       for i, other in good.iterrows() if i != best.name)
        else:
            best, ties = group.loc[group["recall_mean"].idxmax()], 0
        picked.append(best.copy())
        picked[-1]["ties"] = ties
        picked[-1]["reaches_target"] = bool(len(good))
    return pd.DataFrame(picked)


def _qps_range(row: Mapping[str, Any]) -> tuple[float, float]:
    low, high = row.get("qps_min", np.nan), row.get("qps_max", np.nan)
    if low != low or high != high:  # an older frame without spread: the median is the whole range
        return float(row["qps"]), float(row["qps"])
    return float(low), float(high)


def _beyond(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """Say whether a difference was judged against measured spreads or, for older results, medians alone."""
    measured = all(r.get("qps_min", np.nan) == r.get("qps_min", np.nan) for r in (a, b))  # not NaN
    return "beyond spread" if measured else "no spread measured"


def verdicts(table: pd.DataFrame) -> list[str]:
    """Return, for rows sorted by QPS within each dataset, how each compares with the engine above it."""
    out: list[str] = []
    previous: Mapping[str, Any] | None = None
    rows = list(table.to_dict("records"))
    for i, row in enumerate(rows):
        nxt = rows[i + 1] if i + 1 < len(rows) and rows[i + 1]["dataset"] == row["dataset"] else None
        if previous is not None and previous["dataset"] != row["dataset"]:
            previous = None
        if not row.get("reaches_target", True):
            text = f"below recall {RECALL_TARGET:g}: most accurate configuration shown"
        elif previous is None:
            if nxt is None or not nxt.get("reaches_target", True):
                text = "only engine" if nxt is None else f"only engine reaching recall {RECALL_TARGET:g}"
            elif separated(*_qps_range(row), *_qps_range(nxt)):
                text = f"fastest ({_beyond(row, nxt)})"
            else:
                text = f"tie within spread with {nxt['engine']} for fastest"
        elif separated(*_qps_range(previous), *_qps_range(row)):
            text = f"slower than {previous['engine']} ({_beyond(previous, row)})"
        else:
            text = f"tie within spread with {previous['engine']}"
        if row.get("ties"):
            text += f"; {row['ties']} other configuration(s) of this engine tie within spread"
        out.append(text)
        previous = row
    return out


def headline(results: pd.DataFrame, recall_target: float = RECALL_TARGET) -> pd.DataFrame:
    """Return, per dataset and engine, the fastest unfiltered configuration reaching ``recall_target``.

    "Fastest" is the highest median QPS over the repeats; the ``verdict`` column says whether
    its QPS range is separate from the next engine's or a tie within spread. An engine that
    never reaches the target is shown with its best-recall configuration (ranked after the
    engines that do).
    """
    rows = query_rows(results)
    if rows.empty:
        return pd.DataFrame(columns=list(HEADLINE_COLUMNS.values()))
    table = _pick(rows, recall_target)
    table["dataset_label"] = table["dataset"].map(dataset_labels(results))
    for name in ("qps", "latency_p50_ms", "build_seconds"):
        low, high = table.get(f"{name}_min", pd.Series(np.nan, index=table.index)), \
            table.get(f"{name}_max", pd.Series(np.nan, index=table.index))
        table[f"{name}_range"] = [spread_range(a, b) for a, b in zip(low, high)]
    for column in HEADLINE_COLUMNS:
        if column not in table:
            table[column] = np.nan
    order = list(dict.fromkeys(rows["dataset"]))
    table = table.assign(_order=table["dataset"].map({d: i for i, d in enumerate(order)}))
    table = table.sort_values(["_order", "reaches_target", "qps"], ascending=[True, False, False])
    table["verdict"] = verdicts(table)
    table["index_bytes"] = table["index_bytes"] / 1e6
    return table[list(HEADLINE_COLUMNS)].rename(columns=HEADLINE_COLUMNS).reset_index(drop=True)


def headline_labels(results: pd.DataFrame, recall_target: float = RECALL_TARGET) -> dict[tuple[str, str], str]:
    """Return the headline configuration label of each (dataset, engine); datasets by their full name."""
    rows = query_rows(results)
    if rows.empty:
        return {}
    table = _pick(rows, recall_target)
    return {(d, e): c for d, e, c in zip(table["dataset"], table["engine"], table["label"])}


def winners(results: pd.DataFrame, recall_target: float = RECALL_TARGET) -> list[str]:
    """Return one sentence per dataset naming the fastest engine at the recall target, or the tie."""
    table = headline(results, recall_target)
    out = []
    for dataset, group in table.groupby("dataset", sort=False):
        good = group[~group["verdict"].str.startswith("below recall")]
        if good.empty:
            out.append(f"{dataset}: no engine reaches recall {recall_target:g}.")
            continue
        first = good.iloc[0]
        spread_text = f" (QPS {_format(first['QPS'])}, range {first['QPS min–max']})" if first["QPS min–max"] else ""
        if first["verdict"].startswith("tie within spread"):
            # the chain of ties continues only while each engine overlaps the one above it
            chain = [first["engine"]]
            for _, r in good.iloc[1:].iterrows():
                if not r["verdict"].startswith("tie within spread"):
                    break
                chain.append(r["engine"])
            out.append(f"{dataset}: tie within spread between {', '.join(chain)} at recall ≥ {recall_target:g} "
                       f"(highest median: {first['configuration']}{spread_text}).")
        elif len(good) == 1:
            out.append(f"{dataset}: {first['configuration']} is the only engine at recall ≥ {recall_target:g}"
                       f"{spread_text}.")
        else:
            margin = (f"beyond the spread of {_repeats(results)} repeats" if "beyond spread" in first["verdict"]
                      else "on medians alone (no spread measured)")
            out.append(f"{dataset}: {first['configuration']} is fastest at recall ≥ {recall_target:g}{spread_text}, "
                       f"ahead of {good.iloc[1]['engine']} {margin}.")
    return out


def _repeats(results: pd.DataFrame) -> str:
    frame = plain(results)
    values = frame["repeats"].dropna().unique() if "repeats" in frame else []
    return "/".join(str(int(v)) for v in sorted(values)) or "?"


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
