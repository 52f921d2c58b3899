"""Synthetic clustered dense data with metadata of controlled filter selectivity.

Every row gets three metadata fields, each built so a filter of a chosen selectivity is
easy to write and its true mask is known without running the toolkit's filter engine:

* ``category`` — one of 100 strings, uniform: ``{"category": {"$in": S}}`` allows |S|/100;
* ``price`` — a number uniform in [0, 1000): ``{"price": {"$gte": a, "$lt": a + 1000 s}}``
  allows s;
* ``labels`` — a list of 2 distinct strings out of 200: ``{"labels": {"$in": S}}`` allows
  1 - C(200-|S|, 2) / C(200, 2).

Each query gets its own random filter of each kind and target selectivity, so a filter set
is a bucket of queries with (about) the same selectivity; the masks are exact.
"""

from __future__ import annotations

from math import comb
from typing import Any, Sequence

import numpy as np

from ..errors import InvalidArgumentError
from .base import Dataset, DatasetSource, FilterSet

CATEGORIES = 100
PRICE_RANGE = 1000.0
LABELS = 200
LABELS_PER_ROW = 2
FILTER_KINDS = ("tag", "range", "list")


def _label_count(target: float) -> int:
    """Return how many labels an ``$in`` needs so that about ``target`` of the rows match."""
    best, best_error = 1, float("inf")
    for size in range(1, LABELS + 1):
        share = 1 - comb(LABELS - size, LABELS_PER_ROW) / comb(LABELS, LABELS_PER_ROW)
        error = abs(np.log(share / target))
        if error < best_error:
            best, best_error = size, error
    return best


class Clustered(DatasetSource):
    """Gaussian clusters in ``dim`` dimensions, with category/price/labels metadata and filter sets."""

    name = "clustered"
    description = "Gaussian clusters with tag, numeric-range and list metadata; query sets bucketed by selectivity"
    vector_type = "dense"
    size = 10_000
    dimension = 32
    default_metric = "cosine"

    def __init__(
        self,
        n: int = 10_000,
        dim: int = 32,
        n_queries: int = 200,
        clusters: int = 32,
        spread: float = 0.35,
        metric: str = "cosine",
        selectivities: Sequence[float] = (0.5, 0.1, 0.01),
        filter_kinds: Sequence[str] = FILTER_KINDS,
        seed: int = 0,
    ) -> None:
        for key, value, low in (("n", n, 1), ("dim", dim, 1), ("n_queries", n_queries, 1), ("clusters", clusters, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidArgumentError(f"must be an integer >= {low}, got {value!r}", path=key)
        if not all(0 < s <= 1 for s in selectivities):
            raise InvalidArgumentError("selectivities must lie in (0, 1]", path="selectivities")
        unknown = set(filter_kinds) - set(FILTER_KINDS)
        if unknown:
            raise InvalidArgumentError(f"unknown filter kinds {sorted(unknown)}; known: {FILTER_KINDS}",
                                       path="filter_kinds")
        self.n, self.dim, self.n_queries, self.clusters = n, dim, n_queries, clusters
        self.spread, self.metric, self.seed = float(spread), metric, seed
        self.selectivities = tuple(float(s) for s in selectivities)
        self.filter_kinds = tuple(filter_kinds)

    def load(self) -> Dataset:
        rng = np.random.default_rng(self.seed)
        centers = rng.standard_normal((self.clusters, self.dim))
        weights = rng.dirichlet(np.full(self.clusters, 2.0))  # uneven cluster sizes

        def sample(count: int) -> np.ndarray:
            which = rng.choice(self.clusters, size=count, p=weights)
            points = centers[which] + self.spread * rng.standard_normal((count, self.dim))
            return points.astype(np.float32)

        train, queries = sample(self.n), sample(self.n_queries)
        category = rng.integers(0, CATEGORIES, self.n)
        price = np.round(rng.uniform(0, PRICE_RANGE, self.n), 2)
        labels = np.stack([rng.choice(LABELS, LABELS_PER_ROW, replace=False) for _ in range(self.n)])
        metadata = [
            {"category": f"c{c}", "price": float(p), "labels": [f"l{a}", f"l{b}"]}
            for c, p, (a, b) in zip(category.tolist(), price.tolist(), labels.tolist())
        ]
        columns = {"category": category, "price": price, "labels": labels}
        filter_sets = tuple(
            self._filter_set(kind, target, columns, rng)
            for target in self.selectivities for kind in self.filter_kinds
        )
        return Dataset(repr(self), self.metric, train, queries, metadata=metadata, filter_sets=filter_sets,
                       description=self.description, info={"clusters": self.clusters})

    def _filter_set(self, kind: str, target: float, columns: dict[str, np.ndarray], rng: Any) -> FilterSet:
        filters: list[dict[str, Any]] = []
        masks = np.zeros((self.n_queries, self.n), dtype=bool)
        label_count = _label_count(target) if kind == "list" else 0  # the same for every query
        for i in range(self.n_queries):
            if kind == "tag":
                size = max(1, round(target * CATEGORIES))
                chosen = rng.choice(CATEGORIES, size, replace=False)
                masks[i] = np.isin(columns["category"], chosen)
                filters.append({"category": {"$in": [f"c{c}" for c in sorted(chosen.tolist())]}}
                               if size > 1 else {"category": f"c{int(chosen[0])}"})
            elif kind == "range":
                width = target * PRICE_RANGE
                low = float(np.round(rng.uniform(0, PRICE_RANGE - width), 2))
                high = float(np.round(low + width, 2))
                masks[i] = (columns["price"] >= low) & (columns["price"] < high)
                filters.append({"price": {"$gte": low, "$lt": high}})
            else:
                chosen = rng.choice(LABELS, label_count, replace=False)
                masks[i] = np.isin(columns["labels"], chosen).any(axis=1)
                filters.append({"labels": {"$in": [f"l{c}" for c in sorted(chosen.tolist())]}})
        return FilterSet(f"{kind}@{target:g}", kind, tuple(filters), masks, target)
