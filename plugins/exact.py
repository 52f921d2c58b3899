"""Exact engine: brute-force numpy/BLAS scoring — the reference every other engine is checked against."""

from __future__ import annotations

from typing import Any

import numpy as np

from toolkit import SlabBuilder, SlabData, SlabIndex, hookimpl
from toolkit.scoring import Query, SearchResult, batch_chunk, top_candidates, top_candidates_rows

# With fewer allowed rows than this share, gather them first instead of scoring every row.
_GATHER_BELOW = 0.5


class ExactIndex(SlabIndex):
    """Precomputed norms over the slab's vectors; every search scores every allowed row."""

    def __init__(self, data: SlabData, metric: str) -> None:
        self.metric = metric
        self.dense = data.dense
        self.sq_norms: np.ndarray | None = None
        self.sparse_matrix = None
        self.vocabulary: np.ndarray | None = None
        if data.dense is not None:
            if metric == "cosine":  # a unit-length copy makes cosine one matrix-vector product
                norms = np.linalg.norm(data.dense, axis=1, keepdims=True)
                self.dense = (data.dense / norms).astype(np.float32)
            elif metric == "euclidean":
                self.sq_norms = np.einsum("ij,ij->i", data.dense, data.dense)
        if data.sparse is not None:
            self.sparse_matrix, self.vocabulary = data.sparse.matrix()
        # A sparse index (no dense part) drops zero-score matches (D:6461).
        self.drop_zero = data.dense is None
        self.rows = len(data)
        self.width = 0 if data.dense is None else data.dense.shape[1]

    @property
    def nbytes(self) -> int:
        total = 0 if self.dense is None else self.dense.nbytes
        if self.sq_norms is not None:
            total += self.sq_norms.nbytes
        if self.sparse_matrix is not None:
            m = self.sparse_matrix
            total += m.data.nbytes + m.indices.nbytes + m.indptr.nbytes
        return total

    def _keys(self, query: Query, rows: np.ndarray | None) -> np.ndarray:
        """Return ranking keys, smaller is better: |v|² − 2 v·q for euclidean, −score otherwise.

        For cosine and dotproduct the query is negated instead of the scores, which saves a
        pass over the rows and is exact (IEEE rounding is symmetric, so M·(−q) = −(M·q) bit
        for bit); a winner's score is then just −key.
        """
        n = self.rows if rows is None else rows.size
        keys = None
        if query.dense is not None and self.dense is not None:
            matrix = self.dense if rows is None else self.dense[rows]
            q = query.dense
            if self.metric == "euclidean":
                sq = self.sq_norms if rows is None else self.sq_norms[rows]
                # |v|² - 2 v·q ranks like |v - q|²; exact distances are recomputed for the winners.
                return sq - 2 * (matrix @ q)
            if self.metric == "cosine":
                q = q / np.linalg.norm(q)
            keys = matrix @ -q
        if query.sparse is not None and self.sparse_matrix is not None:
            from toolkit.sparse import sparse_dot

            matrix = self.sparse_matrix if rows is None else self.sparse_matrix[rows]
            sparse_scores = sparse_dot(matrix, self.vocabulary, query.sparse)
            keys = -sparse_scores if keys is None else keys - sparse_scores  # −(dense + sparse), exactly
        if keys is None:
            keys = np.zeros(n, dtype=np.float32)
        if self.drop_zero:  # a zero score (key ±0) never matches on a sparse index
            keys = np.where(keys == 0, np.float32(np.inf), keys)
        return keys.astype(np.float32, copy=False)

    def _gathered(self, allowed: np.ndarray | None) -> np.ndarray | None:
        """Return the allowed rows when few enough are allowed to score only them, else None (mask)."""
        if allowed is None or np.count_nonzero(allowed) >= _GATHER_BELOW * self.rows:
            return None
        return np.flatnonzero(allowed)

    def _exact_euclidean(self, positions: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the winners re-ordered by their exact squared distances (the ranking used |v|² - 2v·q)."""
        diff = self.dense[positions] - q
        scores = np.einsum("ij,ij->i", diff, diff).astype(np.float32)
        order = np.argsort(scores, kind="stable")
        return positions[order], scores[order]

    def search(self, query: Query, k: int, allowed: np.ndarray | None = None, **query_params: Any) -> SearchResult:
        if query_params:
            raise TypeError(f"the exact engine takes no query parameters, got {sorted(query_params)}")
        rows = self._gathered(allowed)
        keys = self._keys(query, rows)
        if allowed is not None and rows is None:
            keys = np.where(allowed, keys, np.float32(np.inf))
        best = top_candidates(keys, k)
        positions = best if rows is None else rows[best]
        if self.metric == "euclidean" and query.dense is not None and self.dense is not None:
            positions, best_scores = self._exact_euclidean(positions, query.dense)
        else:
            best_scores = (-keys[best]).astype(np.float32)
        scanned = self.rows if rows is None else rows.size
        return SearchResult(positions.astype(np.int64), best_scores, scanned, scanned * self.width * 4)

    def search_batch(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
                     **query_params: Any) -> list[SearchResult]:
        """``search`` of every query: one matrix-matrix product per chunk of queries, the allowed
        rows gathered (or masked) once for the whole batch, a row-wise argpartition."""
        if query_params:
            raise TypeError(f"the exact engine takes no query parameters, got {sorted(query_params)}")
        if self.dense is None:
            return super().search_batch(queries, k, allowed)
        rows = self._gathered(allowed)
        matrix = self.dense if rows is None else self.dense[rows]
        sq = None
        if self.metric == "euclidean":
            sq = self.sq_norms if rows is None else self.sq_norms[rows]
        elif self.metric == "cosine":
            queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        blocked = None if allowed is None or rows is not None else ~allowed
        scanned = self.rows if rows is None else rows.size
        work, nbytes = scanned, scanned * self.width * 4
        out: list[SearchResult] = []
        step = batch_chunk(len(queries), matrix.shape[0])
        for start in range(0, len(queries), step):
            chunk = queries[start:start + step]
            if sq is not None:
                keys = sq - 2 * (chunk @ matrix.T)
            else:
                keys = -chunk @ matrix.T  # negating the queries is exact and cheaper than the rows
            keys = keys.astype(np.float32, copy=False)
            if blocked is not None:
                keys[:, blocked] = np.float32(np.inf)
            for q, best, key_row in zip(chunk, top_candidates_rows(keys, k), keys):
                positions = best if rows is None else rows[best]
                if sq is not None:
                    positions, best_scores = self._exact_euclidean(positions, q)
                else:
                    best_scores = -key_row[best]
                out.append(SearchResult(positions.astype(np.int64), best_scores, work, nbytes))
        return out


class ExactBuilder(SlabBuilder):
    """Brute force over every allowed row: recall 1.0, cost linear in the slab size."""

    name = "exact"
    metrics = frozenset({"cosine", "euclidean", "dotproduct"})
    vector_types = frozenset({"dense", "sparse", "hybrid"})
    exact = True
    native_filtering = True

    def __init__(self) -> None:
        pass

    def build(self, data: SlabData, metric: str) -> SlabIndex:
        return ExactIndex(data, metric)


@hookimpl
def register_slab_builders() -> list[type[SlabBuilder]]:
    return [ExactBuilder]
