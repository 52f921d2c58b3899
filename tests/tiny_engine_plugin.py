"""A third-party engine for the plugin tests: registered with ``toolkit.Client(plugins=[this module])``.

It is deliberately plain: brute force over a slab, no native filtering (so the router filters
for it), one build parameter and one query parameter, and a record of every build and search.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from toolkit.plugin import ExactKernel, Query, SearchResult, SlabBuilder, SlabData, SlabIndex, hookimpl, scores_to_keys

BUILDS: list[dict[str, Any]] = []
SEARCHES: list[dict[str, Any]] = []


@dataclass(frozen=True)
class TinyQuery:
    probes: int = 1


class TinyIndex(SlabIndex):
    query_params = TinyQuery

    def __init__(self, data: SlabData, metric: str, leaf_size: int) -> None:
        self.data, self.metric, self.leaf_size = data, metric, leaf_size

    def search_one(self, query: Query, k: int, allowed: np.ndarray | None, params: Any) -> SearchResult:
        SEARCHES.append({"k": k, "allowed": allowed is not None, "probes": params.probes})
        scores = ExactKernel(self.metric, self.data.dense, self.data.sparse).scores(query)
        order = np.argsort(scores_to_keys(scores, self.metric), kind="stable")[:k]
        return SearchResult(order.astype(np.int64), scores[order], len(scores), 0)


class TinyBuilder(SlabBuilder):
    """Brute force, returned without boundary ties, filtered by the router."""

    name = "tiny"
    metrics = frozenset({"cosine", "euclidean", "dotproduct"})
    vector_types = frozenset({"dense"})
    exact = False
    native_filtering = False
    index_type = TinyIndex  # its query_params (probes) are the builder's query parameters

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
