"""A third-party engine for the plugin tests: registered with ``toolkit.Client(plugins=[this module])``.

It is deliberately plain: brute force over a slab, no native filtering (so the router filters
for it), one build parameter and one query parameter, and a record of every build and search.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from toolkit import SlabBuilder, SlabData, SlabIndex, hookimpl
from toolkit.scoring import Query, SearchResult, exact_scores, scores_to_keys

BUILDS: list[dict[str, Any]] = []
SEARCHES: list[dict[str, Any]] = []


class TinyIndex(SlabIndex):
    def __init__(self, data: SlabData, metric: str, leaf_size: int) -> None:
        self.data, self.metric, self.leaf_size = data, metric, leaf_size

    def search(self, query: Query, k: int, allowed: np.ndarray | None = None, *, probes: int = 1,
               **unknown: Any) -> SearchResult:
        if unknown:
            raise TypeError(f"tiny takes only 'probes', got {sorted(unknown)}")
        SEARCHES.append({"k": k, "allowed": allowed is not None, "probes": probes})
        scores = exact_scores(query, self.metric, self.data.dense, self.data.sparse)
        order = np.argsort(scores_to_keys(scores, self.metric), kind="stable")[:k]
        return SearchResult(order.astype(np.int64), scores[order], len(scores), 0)


class TinyBuilder(SlabBuilder):
    """Brute force, returned without boundary ties, filtered by the router."""

    name = "tiny"
    metrics = frozenset({"cosine", "euclidean", "dotproduct"})
    vector_types = frozenset({"dense"})
    exact = False
    native_filtering = False
    query_defaults = {"probes": 1}  # the keyword arguments TinyIndex.search takes

    def __init__(self, leaf_size: int = 4) -> None:
        if leaf_size < 1:
            raise TypeError("leaf_size must be >= 1")
        self.leaf_size = leaf_size

    def build(self, data: SlabData, metric: str) -> SlabIndex:
        BUILDS.append({"rows": len(data), "metric": metric, "leaf_size": self.leaf_size})
        return TinyIndex(data, metric, self.leaf_size)


@hookimpl
def register_slab_builders() -> list[type[SlabBuilder]]:
    return [TinyBuilder]
