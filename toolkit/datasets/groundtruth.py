"""Exact ground truth: the true k nearest train rows of every query, cached on disk.

Computed with plain numpy (never with an engine under test) in the distance convention of
``toolkit.datasets.base``. A filter set restricts each query to the rows its filter allows;
a sparse dataset also excludes rows of zero dot product, which a sparse index never returns.
Results are cached as ``.npz`` under ``cache_dir()/groundtruth``, keyed by the dataset's
content hash, the filter set and k.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .base import Dataset, FilterSet
from .files import cache_dir as default_cache_dir

log = logging.getLogger(__name__)
_CHUNK_CELLS = 20_000_000  # query × train distances computed at once (160 MB of float64)


@dataclass(frozen=True)
class GroundTruth:
    """True neighbours per query: train rows (-1 padded) and distances (inf padded), nearest first."""

    neighbors: np.ndarray  # (n_queries, k) int64
    distances: np.ndarray  # (n_queries, k) float64

    @property
    def k(self) -> int:
        return int(self.neighbors.shape[1])

    @property
    def counts(self) -> np.ndarray:
        """Return how many true neighbours each query has (fewer than k when few rows qualify)."""
        return np.isfinite(self.distances).sum(axis=1)


def distance_matrix(dataset: Dataset, queries: np.ndarray | slice | None = None,
                    rows: np.ndarray | None = None) -> np.ndarray:
    """Return float64 distances from queries (all, or a subset) to train rows (all, or ``rows``).

    On a sparse dataset a zero dot product is +inf: such rows are never results.
    """
    q = dataset.queries if queries is None else dataset.queries[queries]
    x = dataset.train if rows is None else dataset.train[rows]
    if dataset.vector_type == "sparse":
        dots = np.asarray((q @ x.T).todense(), dtype=np.float64)
        return np.where(dots == 0, np.inf, -dots)
    q64, x64 = np.asarray(q, dtype=np.float64), np.asarray(x, dtype=np.float64)
    if q64.ndim == 1:
        q64 = q64[None, :]
    dots = q64 @ x64.T
    if dataset.sparse_train is not None and dataset.sparse_queries is not None:  # hybrid: dense + sparse
        sq_rows = np.arange(dataset.n_queries)[queries] if queries is not None else slice(None)
        sx = dataset.sparse_train if rows is None else dataset.sparse_train[rows]
        dots = dots + np.asarray((dataset.sparse_queries[sq_rows] @ sx.T).todense(), dtype=np.float64)
    if dataset.metric == "dotproduct":
        return -dots
    if dataset.metric == "cosine":
        qn = np.linalg.norm(q64, axis=1)[:, None]
        xn = np.linalg.norm(x64, axis=1)[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = np.where((qn > 0) & (xn > 0), dots / (qn * xn), 0.0)
        return 1.0 - cos
    sq = (q64 * q64).sum(axis=1)[:, None] + (x64 * x64).sum(axis=1)[None, :] - 2 * dots
    return np.sqrt(np.maximum(sq, 0.0))


def row_distances(dataset: Dataset, query: int, rows: np.ndarray) -> np.ndarray:
    """Return the distances from query ``query`` to the given train rows (for scoring results)."""
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        return np.empty(0, np.float64)
    return distance_matrix(dataset, np.array([query]), rows)[0]


def top_k(dist: np.ndarray, k: int, allowed: np.ndarray | None = None) -> GroundTruth:
    """Return the k smallest finite distances of each row of ``dist``, ties broken by column."""
    if allowed is not None:
        dist = np.where(allowed, dist, np.inf)
    n_q, n = dist.shape
    neighbors = np.full((n_q, k), -1, dtype=np.int64)
    distances = np.full((n_q, k), np.inf)
    take = min(k, n)
    if take == 0:
        return GroundTruth(neighbors, distances)
    part = np.argpartition(dist, take - 1, axis=1)[:, :take] if take < n else np.tile(np.arange(n), (n_q, 1))
    for i in range(n_q):
        cand = part[i]
        # the k-th distance may be tied with rows outside the partition: take every tie, then sort
        kth = dist[i, cand].max()
        cand = np.union1d(cand, np.flatnonzero(dist[i] == kth)) if np.isfinite(kth) else cand
        order = np.lexsort((cand, dist[i, cand]))[:take]
        chosen = cand[order]
        finite = np.isfinite(dist[i, chosen])
        neighbors[i, : finite.sum()] = chosen[finite]
        distances[i, : finite.sum()] = dist[i, chosen][finite]
    return GroundTruth(neighbors, distances)


def compute_ground_truth(dataset: Dataset, k: int, filter_set: FilterSet | None = None) -> GroundTruth:
    """Compute the exact top k of every query by brute force (no cache)."""
    if filter_set is None and dataset.neighbors is not None and k <= dataset.neighbors.shape[1]:
        return _from_file(dataset, k)
    step = max(1, _CHUNK_CELLS // max(dataset.n, 1))
    parts = []
    for start in range(0, dataset.n_queries, step):
        chunk = slice(start, min(start + step, dataset.n_queries))
        allowed = None if filter_set is None else filter_set.masks[chunk]
        parts.append(top_k(distance_matrix(dataset, chunk), k, allowed))
    return GroundTruth(np.concatenate([p.neighbors for p in parts]), np.concatenate([p.distances for p in parts]))


def _from_file(dataset: Dataset, k: int) -> GroundTruth:
    assert dataset.neighbors is not None
    neighbors = dataset.neighbors[:, :k].astype(np.int64)
    distances = np.stack([row_distances(dataset, i, neighbors[i]) for i in range(dataset.n_queries)])
    order = np.lexsort((neighbors, distances), axis=1)
    return GroundTruth(np.take_along_axis(neighbors, order, 1), np.take_along_axis(distances, order, 1))


def ground_truth(dataset: Dataset, k: int, filter_set: FilterSet | str | None = None, *, cache: bool = True,
                 cache_dir: str | Path | None = None) -> GroundTruth:
    """Return the exact top k of every query (optionally under a filter set), cached on disk."""
    if isinstance(filter_set, str):
        filter_set = None if filter_set == "none" else dataset.filter_set(filter_set)
    if not cache:
        return compute_ground_truth(dataset, k, filter_set)
    name = "none" if filter_set is None else filter_set.name
    tag = hashlib.sha1(name.encode()).hexdigest()[:8]
    path = default_cache_dir(cache_dir) / "groundtruth" / f"{dataset.fingerprint}-{tag}-k{k}.npz"
    if path.is_file():
        try:
            with np.load(path) as stored:
                return GroundTruth(stored["neighbors"], stored["distances"])
        except (OSError, ValueError, KeyError) as exc:  # a torn or foreign file: recompute it
            log.warning("ignoring unreadable ground-truth cache %s: %s", path, exc)
    truth = compute_ground_truth(dataset, k, filter_set)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}-{threading.get_ident()}.partial.npz")
    np.savez(partial, neighbors=truth.neighbors, distances=truth.distances)
    partial.replace(path)  # atomic: parallel workers never read half a file
    return truth
