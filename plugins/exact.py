"""Exact engine: brute-force numpy/BLAS scoring — the reference every other engine is checked against."""

from __future__ import annotations

from typing import Any

import numpy as np

from toolkit.plugin import ExactKernel, Query, SearchResult, SlabBuilder, SlabData, SlabIndex, hookimpl


class ExactIndex(SlabIndex):
    """The slab's rows inside the one ``ExactKernel``; every search scores the allowed rows."""

    def __init__(self, data: SlabData, metric: str) -> None:
        # A sparse index (no dense part) drops zero-score matches (D:6461).
        self.kernel = ExactKernel(metric, data.dense, data.sparse, drop_zero=data.dense is None)
        self.metric = metric

    @property
    def nbytes(self) -> int:
        return self.kernel.nbytes

    def search_one(self, query: Query, k: int, allowed: np.ndarray | None, params: Any) -> SearchResult:
        return self.kernel.search(query, k, allowed)

    def search_many(self, queries: np.ndarray, k: int, allowed: np.ndarray | None, params: Any) -> list[SearchResult]:
        """One matrix-matrix product per chunk of queries, the allowed rows gathered (or masked) once."""
        return self.kernel.search_batch(queries, k, allowed)


class ExactBuilder(SlabBuilder):
    """Brute force over every allowed row: recall 1.0, cost linear in the slab size."""

    name = "exact"
    metrics = frozenset({"cosine", "euclidean", "dotproduct"})
    vector_types = frozenset({"dense", "sparse", "hybrid"})
    exact = True
    native_filtering = True
    index_type = ExactIndex
    work_counting = (
        "Counted by the exact kernel: one distance per row it scores — the allowed rows when fewer than "
        "half are allowed (they are gathered), otherwise every row of the slab (the rest are masked after "
        "scoring); bytes = those rows × dimension × 4, plus 8 bytes (value + index) per stored sparse value "
        "of those rows on sparse or hybrid indexes.")

    def __init__(self) -> None:
        pass

    def build(self, data: SlabData, metric: str) -> SlabIndex:
        return ExactIndex(data, metric)


@hookimpl
def register_slab_builders() -> list[type[SlabBuilder]]:
    return [ExactBuilder]
