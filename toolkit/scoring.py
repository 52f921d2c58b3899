"""Scoring: scores per metric, their order, and vectorised exact top-k (search_spec §2.1).

Internally every search ranks by a *key* where smaller is better: the squared euclidean
distance as is, and the negated score for cosine and dotproduct. This keeps one code path
for merging results of every metric.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .sparse import Sparse, SparseRows, sparse_dot

METRICS = ("cosine", "euclidean", "dotproduct")


def ascending(metric: str) -> bool:
    """Return True when a lower score is better (only euclidean)."""
    return metric == "euclidean"


def keys_to_scores(keys: np.ndarray, metric: str) -> np.ndarray:
    return keys if ascending(metric) else -keys


def scores_to_keys(scores: np.ndarray, metric: str) -> np.ndarray:
    return scores if ascending(metric) else -scores


@dataclass(frozen=True)
class Query:
    """A validated query: a dense part, a sparse part, or both (hybrid)."""

    dense: np.ndarray | None = None
    sparse: Sparse | None = None


@dataclass(frozen=True)
class SearchResult:
    """Candidate rows of one segment, best first, with their exact scores and the work done."""

    rows: np.ndarray  # int64 row numbers inside the segment
    scores: np.ndarray  # float32 scores in the index metric
    distance_computations: int = 0
    bytes_scanned: int = 0

    @classmethod
    def empty(cls) -> SearchResult:
        return cls(np.empty(0, np.int64), np.empty(0, np.float32))


def top_candidates(keys: np.ndarray, k: int) -> np.ndarray:
    """Return positions of the k smallest keys, sorted, plus any rows tied with the k-th.

    Keeping boundary ties lets the caller break them by id deterministically.
    """
    n = keys.size
    if k >= n:
        order = np.argsort(keys, kind="stable")
        return order[np.isfinite(keys[order])]
    part = np.argpartition(keys, k - 1)[:k]
    kth = keys[part].max()
    if not np.isfinite(kth):
        part = part[np.isfinite(keys[part])]
    elif np.count_nonzero(keys <= kth) > k:
        part = np.flatnonzero(keys <= kth)
    return part[np.argsort(keys[part], kind="stable")]


def exact_scores(
    query: Query,
    metric: str,
    dense: np.ndarray | None,
    sparse: SparseRows | None,
    *,
    dense_norms: np.ndarray | None = None,
) -> np.ndarray:
    """Return exact float32 scores of every row (dense part + sparse part)."""
    n = dense.shape[0] if dense is not None else len(sparse) if sparse is not None else 0
    scores = np.zeros(n, dtype=np.float32)
    if query.dense is not None and dense is not None:
        q = query.dense
        if metric == "euclidean":
            diff = dense - q
            scores = np.einsum("ij,ij->i", diff, diff)
        else:
            scores = dense @ q
            if metric == "cosine":
                norms = dense_norms if dense_norms is not None else np.linalg.norm(dense, axis=1)
                scores = scores / (norms * np.float32(np.linalg.norm(q)))
    if query.sparse is not None and sparse is not None and len(sparse):
        matrix, vocabulary = sparse.matrix()
        scores = scores + sparse_dot(matrix, vocabulary, query.sparse)
    return scores.astype(np.float32, copy=False)


def exact_search(
    query: Query,
    metric: str,
    k: int,
    dense: np.ndarray | None,
    sparse: SparseRows | None,
    allowed: np.ndarray | None = None,
    *,
    drop_zero: bool = False,
) -> SearchResult:
    """Score the allowed rows exactly and return the best k (plus boundary ties)."""
    n = dense.shape[0] if dense is not None else len(sparse) if sparse is not None else 0
    rows = np.arange(n) if allowed is None else np.flatnonzero(allowed)
    if rows.size == 0:
        return SearchResult.empty()
    sub_dense = None if dense is None else (dense if allowed is None else dense[rows])
    sub_sparse = None if sparse is None else (sparse if allowed is None else sparse.take(rows))
    scores = exact_scores(query, metric, sub_dense, sub_sparse)
    keys = scores_to_keys(scores, metric)
    if drop_zero:  # a sparse index discards zero-score matches (D:6461)
        keys = np.where(scores == 0, np.inf, keys)
    best = top_candidates(keys, k)
    width = 0 if dense is None else dense.shape[1] * 4
    return SearchResult(rows[best], scores[best], int(rows.size), int(rows.size) * width)
