"""A small real dataset that needs no network: scikit-learn's bundled handwritten digits."""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError
from .base import Dataset, DatasetSource, FilterSet


class Digits(DatasetSource):
    """1,797 8×8 digit images (64 dims, euclidean); queries are held-out images."""

    name = "digits"
    description = "scikit-learn's bundled 8x8 handwritten digits (1,797 × 64, real data, offline)"
    vector_type = "dense"
    size = 1_797
    dimension = 64
    default_metric = "euclidean"

    def __init__(self, n_queries: int = 200, metric: str = "euclidean", seed: int = 0) -> None:
        if isinstance(n_queries, bool) or not isinstance(n_queries, int) or not 1 <= n_queries < 1797:
            raise InvalidArgumentError(f"must be an integer in 1..1796, got {n_queries!r}", path="n_queries")
        self.n_queries, self.metric, self.seed = n_queries, metric, seed

    def load(self) -> Dataset:
        from sklearn.datasets import load_digits  # imported here: scikit-learn is slow to import

        bunch = load_digits()
        data, labels = bunch.data.astype(np.float32), bunch.target
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(len(data))
        test, train = order[: self.n_queries], np.sort(order[self.n_queries :])
        metadata = [{"digit": str(d), "ink": float(v)} for d, v in zip(labels[train].tolist(),
                                                                      data[train].sum(axis=1).tolist())]
        # One filter set: each query asks for one random digit class (~10% of the rows).
        wanted = rng.integers(0, 10, self.n_queries)
        masks = labels[train][None, :] == wanted[:, None]
        filters = tuple({"digit": str(d)} for d in wanted.tolist())
        digit = FilterSet("digit@0.1", "tag", filters, masks, 0.1)
        return Dataset(repr(self), self.metric, data[train], data[test], ids=np.array([f"img-{i}" for i in train],
                       dtype=object), metadata=metadata, filter_sets=(digit,), description=self.description)
