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
    # Partition around position k: the first k are the k smallest and the key at position k is
    # the smallest of the rest, so a tie across the boundary shows without another full pass.
    order = np.argpartition(keys, k)
    part = order[:k]
    kth = keys[part].max()
    if not np.isfinite(kth):
        part = part[np.isfinite(keys[part])]
    elif keys[order[k]] <= kth:  # rows outside the k tie with the k-th: keep them all
        part = np.flatnonzero(keys <= kth)
    return part[np.argsort(keys[part], kind="stable")]


def exact_scores(
    query: Query,
    metric: str,
    dense: np.ndarray | None,
    sparse: SparseRows | None,
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
                norms = np.linalg.norm(dense, axis=1)
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


# A batch is scored in chunks of queries so the (queries × rows) key matrix stays near this
# many float32 values (64 MB); one chunk is one matrix-matrix product.
BATCH_KEYS_BUDGET = 1 << 24


def batch_chunk(n_queries: int, n_rows: int) -> int:
    """Return how many queries of a batch to score at once against ``n_rows`` rows."""
    return max(1, min(n_queries, BATCH_KEYS_BUDGET // max(1, n_rows)))


def top_candidates_rows(keys: np.ndarray, k: int) -> list[np.ndarray]:
    """Row-wise ``top_candidates`` of a (queries, rows) key matrix: one argpartition for all rows.

    Rows whose k-th key ties with a key outside the k (or that hold non-finite keys among
    the k) go through ``top_candidates`` itself, so the answer is the same row by row.
    """
    n, width = keys.shape
    if n == 0:
        return []
    if k >= width:
        return [top_candidates(row, k) for row in keys]
    order = np.argpartition(keys, k, axis=1)
    part = order[:, :k]
    part_keys = np.take_along_axis(keys, part, 1)
    kth = part_keys.max(axis=1)
    rest = np.take_along_axis(keys, order[:, k:k + 1], 1)[:, 0]
    simple = np.isfinite(kth) & (rest > kth)
    sorter = np.argsort(part_keys, axis=1, kind="stable")
    best = np.take_along_axis(part, sorter, 1)
    if simple.all():
        return list(best)
    return [best[i] if simple[i] else top_candidates(keys[i], k) for i in range(n)]


def dense_keys(queries: np.ndarray, metric: str, dense: np.ndarray, norms: np.ndarray | None = None) -> np.ndarray:
    """Return the (queries, rows) ranking keys of exact dense scores; cosine needs the rows' ``norms``."""
    if metric == "euclidean":
        sq = np.einsum("ij,ij->i", dense, dense)
        qsq = np.einsum("ij,ij->i", queries, queries)
        return (qsq[:, None] + sq[None, :] - 2 * (queries @ dense.T)).astype(np.float32, copy=False)
    keys = -queries @ dense.T
    if metric == "cosine":
        if norms is None:
            norms = np.linalg.norm(dense, axis=1)
        keys = keys / (np.linalg.norm(queries, axis=1)[:, None] * norms[None, :])
    return keys.astype(np.float32, copy=False)


def exact_search_batch(
    queries: np.ndarray,
    metric: str,
    k: int,
    dense: np.ndarray,
    allowed: np.ndarray | None = None,
) -> list[SearchResult]:
    """``exact_search`` of many dense queries: the allowed rows are gathered once for the batch,
    each chunk of queries is scored with one matrix-matrix product, and the winners' scores
    are recomputed as ``exact_search`` computes them (euclidean: exact squared distances)."""
    rows = np.arange(dense.shape[0]) if allowed is None else np.flatnonzero(allowed)
    n = queries.shape[0]
    if rows.size == 0:
        return [SearchResult.empty() for _ in range(n)]
    sub = dense if allowed is None else dense[rows]
    norms = np.linalg.norm(sub, axis=1) if metric == "cosine" else None
    work, scanned = int(rows.size), int(rows.size) * dense.shape[1] * 4
    out: list[SearchResult] = []
    step = batch_chunk(n, rows.size)
    if metric == "euclidean":
        sq = np.einsum("ij,ij->i", sub, sub)
        sq_max = float(sq.max())
    for start in range(0, n, step):
        chunk = queries[start:start + step]
        if metric != "euclidean":
            keys = dense_keys(chunk, metric, sub, norms)
            out.extend(SearchResult(rows[best], -key_row[best], work, scanned)
                       for best, key_row in zip(top_candidates_rows(keys, k), keys))
            continue
        # |v|² − 2 v·q ranks like |v − q|² up to float32 cancellation; every row within a safe
        # margin of the k-th is re-scored as exact_search scores it (|v − q|²) and ranked again.
        keys = sq[None, :] - 2 * (chunk @ sub.T)
        qsq = np.einsum("ij,ij->i", chunk, chunk)
        kth = np.partition(keys, min(k, rows.size) - 1, axis=1)[:, min(k, rows.size) - 1]
        margin = 1e-4 * (qsq + sq_max) + 1e-30
        near = keys <= (kth + margin)[:, None]
        for q, row_near in zip(chunk, near):
            cand = np.flatnonzero(row_near)
            diff = sub[cand] - q
            exact_keys = np.einsum("ij,ij->i", diff, diff).astype(np.float32, copy=False)
            best = top_candidates(exact_keys, k)
            out.append(SearchResult(rows[cand[best]], exact_keys[best], work, scanned))
    return out
