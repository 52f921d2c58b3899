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
import scipy.sparse as sp

from toolkit.plugin import (
    SPARSE_ENTRY_BYTES,
    ExactKernel,
    Query,
    SearchResult,
    SlabBuilder,
    SlabData,
    SlabIndex,
    Sparse,
    hookimpl,
    top_candidates,
)


class SparseCsrIndex(SlabIndex):
    """Column postings of the slab's sparse vectors, plus its dense vectors (in the exact kernel) if any."""

    def __init__(self, data: SlabData) -> None:
        self.dense = None if data.dense is None else ExactKernel("dotproduct", data.dense)
        self.rows = len(data)
        self.columns: sp.csc_matrix | None = None
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

    def postings(self, query: Sparse) -> tuple[sp.csc_matrix, np.ndarray] | None:
        """Return the posting lists (columns) of the query's dimensions that occur in the slab,
        and the query's values of those dimensions (None when no dimension occurs)."""
        if self.columns is None or not self.vocabulary.size:
            return None
        positions = np.minimum(np.searchsorted(self.vocabulary, query.indices), self.vocabulary.size - 1)
        hit = self.vocabulary[positions] == query.indices
        if not hit.any():
            return None
        return self.columns[:, positions[hit]], query.values[hit]

    def search_one(self, query: Query, k: int, allowed: np.ndarray | None, params: Any) -> SearchResult:
        scores = np.zeros(self.rows, dtype=np.float32)
        work = nbytes = 0
        if query.dense is not None and self.dense is not None:
            scores = self.dense.rescore(query.dense, None)
            work, nbytes = self.dense.scan_work(None)
        if query.sparse is not None:
            found = self.postings(query.sparse)
            if found is not None:
                postings, values = found
                scores = scores + np.asarray(postings @ values, dtype=np.float32).ravel()
                touched = int(postings.nnz)  # one multiply-add per stored value of the query's columns
                work += touched
                nbytes += touched * SPARSE_ENTRY_BYTES
        keys = -scores
        if self.sparse_only:
            keys[scores == 0] = np.inf
        if allowed is not None:
            keys[~allowed] = np.inf
        best = top_candidates(keys, k)
        return SearchResult(best.astype(np.int64), scores[best], work, nbytes)


class SparseCsrBuilder(SlabBuilder):
    """Exact sparse (and hybrid) dot products over per-dimension postings."""

    name = "sparse_csr"
    metrics = frozenset({"dotproduct"})
    vector_types = frozenset({"sparse", "dense", "hybrid"})
    exact = True
    native_filtering = True
    index_type = SparseCsrIndex
    work_counting = (
        "Counted from the postings: distances = stored values touched in the query's dimensions (the sum of "
        "their posting-list lengths; one multiply-add each) + every row for the dense half of a hybrid query; "
        "bytes = 8 per posting touched (float32 value + int32 row) + dense rows × dimension × 4.")

    def __init__(self) -> None:
        pass

    def build(self, data: SlabData, metric: str) -> SlabIndex:
        return SparseCsrIndex(data)


@hookimpl
def register_slab_builders() -> list[type[SlabBuilder]]:
    return [SparseCsrBuilder]
