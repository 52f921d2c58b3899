"""Sparse engine: an inverted index (scipy.sparse, column-major) for exact sparse dot products.

A query touches only the postings of its own dimensions: the slab's sparse vectors are kept
as a CSC matrix over the slab's vocabulary (the indices that occur), so scoring costs the
number of stored values in the query's columns, not the number of rows × vocabulary. On a
dense dotproduct index it also scores the dense half exactly, so hybrid (dense + sparse)
queries are exact too. On a sparse index, rows that score 0 are not matches (D:6461).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from toolkit import SlabBuilder, SlabData, SlabIndex, hookimpl
from toolkit.scoring import Query, SearchResult, top_candidates


class SparseCsrIndex(SlabIndex):
    """Column postings of the slab's sparse vectors, plus its dense vectors if any."""

    def __init__(self, data: SlabData) -> None:
        self.dense = data.dense
        self.rows = len(data)
        self.columns = None
        self.vocabulary = np.empty(0, np.uint32)
        if data.sparse is not None:
            matrix, self.vocabulary = data.sparse.matrix()
            self.columns = matrix.tocsc()
            self.columns.sort_indices()
        self.sparse_only = data.dense is None

    @property
    def nbytes(self) -> int:
        total = self.vocabulary.nbytes
        if self.columns is not None:
            total += self.columns.data.nbytes + self.columns.indices.nbytes + self.columns.indptr.nbytes
        return int(total)

    def search(self, query: Query, k: int, allowed: np.ndarray | None = None, **query_params: Any) -> SearchResult:
        if query_params:
            raise TypeError(f"the sparse_csr engine takes no query parameters, got {sorted(query_params)}")
        scores = np.zeros(self.rows, dtype=np.float32)
        work = 0
        if query.dense is not None and self.dense is not None:
            scores = (self.dense @ query.dense).astype(np.float32)
            work += self.rows
        if query.sparse is not None and self.columns is not None and self.vocabulary.size:
            positions = np.minimum(np.searchsorted(self.vocabulary, query.sparse.indices), self.vocabulary.size - 1)
            hit = self.vocabulary[positions] == query.sparse.indices
            if hit.any():
                postings = self.columns[:, positions[hit]]  # only the query's columns
                scores = scores + np.asarray(postings @ query.sparse.values[hit], dtype=np.float32).ravel()
                work += int(postings.nnz)
        keys = -scores
        if self.sparse_only:
            keys[scores == 0] = np.inf
        if allowed is not None:
            keys[~allowed] = np.inf
        best = top_candidates(keys, k)
        width = 0 if self.dense is None else self.dense.shape[1] * 4
        return SearchResult(best.astype(np.int64), scores[best], work, self.rows * width)


class SparseCsrBuilder(SlabBuilder):
    """Exact sparse (and hybrid) dot products over per-dimension postings."""

    name = "sparse_csr"
    metrics = frozenset({"dotproduct"})
    vector_types = frozenset({"sparse", "dense", "hybrid"})
    exact = True
    native_filtering = True

    def __init__(self) -> None:
        pass

    def build(self, data: SlabData, metric: str) -> SlabIndex:
        return SparseCsrIndex(data)


@hookimpl
def register_slab_builders() -> list[type[SlabBuilder]]:
    return [SparseCsrBuilder]
