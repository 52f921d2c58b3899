"""Benchmark metrics as typed data, and the pure functions that compute them.

Each ``Metric`` names a results column, its unit and which direction is better, so plots
and tables can find Pareto frontiers and format values without special cases. Recall
follows ann-benchmarks: a returned neighbour is a hit when its true distance is within the
k-th true distance + 1e-3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

EPSILON = 1e-3


@dataclass(frozen=True)
class Metric:
    """One measured quantity: the column ``name``, its ``unit`` and whether higher or lower is better."""

    name: str
    unit: str
    direction: Literal["higher", "lower"]
    description: str

    def better(self, a: float, b: float) -> bool:
        """Return True when value ``a`` is strictly better than ``b``."""
        return a > b if self.direction == "higher" else a < b


METRICS: tuple[Metric, ...] = (
    Metric("recall_mean", "", "higher", "mean recall@k over the queries (ann-benchmarks definition)"),
    Metric("recall_p10", "", "higher", "10th percentile of per-query recall@k"),
    Metric("latency_p50_ms", "ms", "lower", "median client-side latency of one query"),
    Metric("latency_p95_ms", "ms", "lower", "95th percentile query latency"),
    Metric("latency_p99_ms", "ms", "lower", "99th percentile query latency"),
    Metric("qps", "1/s", "higher", "queries per second, one client thread, one query at a time "
           "(median over the repeated passes)"),
    Metric("build_seconds", "s", "lower", "time to build the index structures over the loaded records "
           "(median of the timed rebuilds, after an untimed warm-up build)"),
    Metric("first_build_seconds", "s", "lower", "the untimed warm-up build (may include JIT compilation)"),
    Metric("compile_seconds", "s", "lower", "one-time per-process cost of the engine (JIT compile or cache load), "
           "measured once per sweep by its warm_up()"),
    Metric("ingest_seconds", "s", "lower", "time to upsert every record"),
    Metric("index_bytes", "B", "lower", "memory of the engine's index structures (without the vectors)"),
    Metric("namespace_bytes", "B", "lower", "billed size of the namespace's live records"),
    Metric("read_units_per_query", "RU", "lower", "billed read units per query (exact, before rounding)"),
    Metric("write_units_per_upsert", "WU", "lower", "billed write units per upsert request"),
    Metric("write_units_per_delete", "WU", "lower", "billed write units per delete request"),
    Metric("distance_computations_per_query", "", "lower", "distances really computed per query (true work)"),
    Metric("bytes_scanned_per_query", "B", "lower", "vector bytes really read per query (true work)"),
    Metric("stale_share", "", "lower", "runbooks: share of queries answered before every acknowledged write was visible"),
)
BY_NAME = {m.name: m for m in METRICS}
# Timings measured repeatedly: each has ``<name>_min`` and ``<name>_max`` columns beside its median.
SPREAD_METRICS = ("qps", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "build_seconds")


def knn_threshold(true_distances: np.ndarray, k: int, epsilon: float = EPSILON) -> float:
    """Return the largest distance that still counts as a hit: the k-th true distance + epsilon."""
    finite = true_distances[np.isfinite(true_distances)][:k]
    return float(finite[-1] + epsilon) if finite.size else -np.inf


def recall_at_k(true_distances: np.ndarray, run_distances: Sequence[np.ndarray] | np.ndarray, k: int,
                epsilon: float = EPSILON) -> np.ndarray:
    """Return each query's recall@k.

    ``true_distances`` is (queries, ≥k), nearest first, +inf where fewer rows qualify;
    ``run_distances[i]`` holds the true distances of the ids query i returned (+inf for an id
    that should not have been returned, e.g. one the filter excludes). A query with fewer
    than k qualifying rows is scored against what exists; with none at all, its recall is 1.
    """
    out = np.empty(len(true_distances), dtype=np.float64)
    for i, truth in enumerate(true_distances):
        expected = int(np.isfinite(truth[:k]).sum())
        if expected == 0:
            out[i] = 1.0
            continue
        found = np.asarray(run_distances[i], dtype=np.float64)[:k]
        out[i] = np.count_nonzero(found <= knn_threshold(truth, k, epsilon)) / expected
    return out


def percentile(values: Sequence[float] | np.ndarray, q: float) -> float:
    """Return the q-th percentile (linear interpolation); NaN for no values."""
    values = np.asarray(values, dtype=np.float64)
    return float(np.percentile(values, q)) if values.size else float("nan")


def query_summary(recalls: np.ndarray, latencies_s: np.ndarray) -> dict[str, float]:
    """Return recall mean/p10, latency p50/p95/p99 (ms) and QPS of one batch of queries."""
    total = float(np.sum(latencies_s))
    return {
        "recall_mean": float(np.mean(recalls)) if len(recalls) else float("nan"),
        "recall_p10": percentile(recalls, 10),
        "latency_p50_ms": 1e3 * percentile(latencies_s, 50),
        "latency_p95_ms": 1e3 * percentile(latencies_s, 95),
        "latency_p99_ms": 1e3 * percentile(latencies_s, 99),
        "qps": len(latencies_s) / total if total > 0 else float("nan"),
    }


def spread(values: Sequence[float], name: str) -> dict[str, float]:
    """Return ``name`` (the median of repeated measurements) with ``name_min`` and ``name_max``."""
    array = np.asarray(values, dtype=np.float64)
    if not array.size:
        return {name: float("nan"), f"{name}_min": float("nan"), f"{name}_max": float("nan")}
    return {name: float(np.median(array)), f"{name}_min": float(array.min()), f"{name}_max": float(array.max())}


def repeated_summary(recalls: np.ndarray, passes: Sequence[np.ndarray]) -> dict[str, float]:
    """Summarise repeated passes over the same queries: each timing is the median over the passes.

    Recall comes from one pass (the answers do not change between passes); QPS and the
    latency percentiles are computed per pass, and their median, min and max are returned.
    """
    summaries = [query_summary(recalls, latencies) for latencies in passes]
    out = dict(summaries[0])
    for name in ("qps", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms"):
        out |= spread([s[name] for s in summaries], name)
    return out


def separated(a_min: float, a_max: float, b_min: float, b_max: float) -> bool:
    """Return True when the ranges [a_min, a_max] and [b_min, b_max] do not overlap.

    Two measurements whose repeat ranges overlap are a tie within spread: neither can be
    called faster. NaN bounds (no spread measured) count as separated only for exact values.
    """
    if any(v != v for v in (a_min, a_max, b_min, b_max)):
        return False
    return a_max < b_min or b_max < a_min


def pareto_frontier(x: np.ndarray, y: np.ndarray, x_metric: Metric, y_metric: Metric) -> np.ndarray:
    """Return the positions of the points no other point beats on both metrics, sorted by x."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = []
    for i in range(len(x)):
        if not (np.isfinite(x[i]) and np.isfinite(y[i])):
            continue
        dominated = any(
            j != i and np.isfinite(x[j]) and np.isfinite(y[j])
            and not x_metric.better(x[i], x[j]) and not y_metric.better(y[i], y[j])
            and (x_metric.better(x[j], x[i]) or y_metric.better(y[j], y[i]))
            for j in range(len(x))
        )
        if not dominated:
            keep.append(i)
    return np.array(sorted(keep, key=lambda i: x[i]), dtype=np.int64)
