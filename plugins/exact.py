"""Exact engine: brute-force numpy/BLAS scoring — the reference every other engine is checked against."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.plugin import ExactKernel, Query, SearchResult, SlabBuilder, SlabData, SlabIndex, hookimpl


_NORMS = "norms.npy"
_META = "exact.json"


class ExactIndex(SlabIndex):
    """The slab's rows inside the one ``ExactKernel``; every search scores the allowed rows."""

    can_save = True  # the rows' norms, so reopening maps them instead of reading every vector

    def __init__(self, data: SlabData, metric: str, norms: np.ndarray | None = None) -> None:
        # A sparse index (no dense part) drops zero-score matches (D:6461).
        self.kernel = ExactKernel(metric, data.dense, data.sparse, drop_zero=data.dense is None, norms=norms)
        self.metric = metric

    def save(self, directory: Path) -> None:
        """Write ``norms.npy`` (|v| for cosine, |v|² for euclidean; none for dotproduct) and ``exact.json``."""
        directory = Path(directory)
        norms = self.kernel.norms if self.kernel.norms is not None else self.kernel.sq_norms
        if norms is not None:
            with open(directory / _NORMS, "wb") as handle:
                np.save(handle, np.ascontiguousarray(norms), allow_pickle=False)
        meta = {"metric": self.metric, "rows": self.kernel.rows, "norms": norms is not None}
        (directory / _META).write_text(json.dumps(meta))

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

    def load(self, directory: Path, data: SlabData, metric: str) -> SlabIndex:
        """Map the saved norms (no pass over the vectors); rebuild if they do not fit ``data``."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / _META).read_text())
            norms = None
            if meta["norms"]:
                norms = np.load(directory / _NORMS, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, KeyError, TypeError):
            return self.build(data, metric)
        rows = len(data)
        if meta.get("metric") != metric or meta.get("rows") != rows or data.dense is None \
                or (norms is not None and norms.shape != (rows,)):
            return self.build(data, metric)
        return ExactIndex(data, metric, norms)


@hookimpl
def register_slab_builders() -> list[type[SlabBuilder]]:
    return [ExactBuilder]
