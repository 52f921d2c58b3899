"""Engine contract: the SlabBuilder base class every ANN engine plugin subclasses.

A builder turns the immutable rows of a slab into a searchable index. Capabilities are
class attributes the router reads once (never probed with hasattr); build parameters are
the keyword arguments of ``__init__`` and query parameters those of ``SlabIndex.search``,
so a sweep is plain data and ``repr()`` is the legend of every plot.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Mapping

import numpy as np

from .errors import UnimplementedError
from .params import init_params
from .scoring import Query, SearchResult
from .sparse import SparseRows


@dataclass(frozen=True)
class SlabData:
    """The vectors a builder indexes: row i of ``dense`` and of ``sparse`` is slab row i."""

    dense: np.ndarray | None  # (n, dimension) float32, or None on a sparse index
    sparse: SparseRows | None  # CSR rows, or None when no row has a sparse vector

    def __len__(self) -> int:
        if self.dense is not None:
            return int(self.dense.shape[0])
        return len(self.sparse) if self.sparse is not None else 0


def rescore(q: np.ndarray, metric: str, vectors: np.ndarray, norms: np.ndarray | None = None) -> np.ndarray:
    """Return exact float32 scores of candidate ``vectors`` (rows) for a dense query ``q``.

    Approximate engines call this on their candidates so every slab reports the same exact
    scores; ``norms`` (the rows' L2 norms) saves recomputing them for cosine.
    """
    if metric == "euclidean":
        diff = vectors - q
        return np.einsum("ij,ij->i", diff, diff).astype(np.float32, copy=False)
    scores = vectors @ q
    if metric == "cosine":
        if norms is None:
            norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
        scores = scores / (norms * np.sqrt(np.dot(q, q)))
    return scores.astype(np.float32, copy=False)


def rescore_batch(queries: np.ndarray, metric: str, vectors: np.ndarray, norms: np.ndarray | None = None) -> np.ndarray:
    """``rescore`` of many queries at once: ``vectors`` is (n, c, dimension), the c candidates of
    each of the n ``queries``; return (n, c) float32 scores (``norms``: (n, c) row norms for cosine)."""
    if metric == "euclidean":
        diff = vectors - queries[:, None, :]
        return np.einsum("ncd,ncd->nc", diff, diff).astype(np.float32, copy=False)
    scores = np.einsum("ncd,nd->nc", vectors, queries)
    if metric == "cosine":
        if norms is None:
            norms = np.sqrt(np.einsum("ncd,ncd->nc", vectors, vectors))
        scores = scores / (norms * np.sqrt(np.einsum("nd,nd->n", queries, queries))[:, None])
    return scores.astype(np.float32, copy=False)


class SlabIndex(ABC):
    """A built, immutable index over one slab's rows."""

    @abstractmethod
    def search(self, query: Query, k: int, allowed: np.ndarray | None = None, **query_params: Any) -> SearchResult:
        """Return up to k best rows (best first) with exact scores in the index metric.

        ``allowed`` is a boolean row mask; only builders with ``native_filtering`` receive it,
        the router filters the others' candidates itself.
        """

    def search_batch(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None, **query_params: Any
    ) -> list[SearchResult]:
        """Return ``search`` of every row of ``queries`` ((n, dimension) float32 dense queries).

        One ``allowed`` mask serves the whole batch. This default loops over ``search``;
        engines override it to amortise per-call work (one matrix product, one library call).
        Row i of the answer must be what ``search`` returns for query i.
        """
        return [self.search(Query(q, None), k, allowed, **query_params) for q in queries]

    @property
    def nbytes(self) -> int:
        """Return the memory the index structure itself uses, in bytes (0 if unknown)."""
        return 0

    def save(self, directory: Path) -> None:
        """Write the index's own files into ``directory`` (persistent clients call this)."""
        raise UnimplementedError(f"{type(self).__name__} cannot be saved; the slab is rebuilt on load")


class SlabBuilder(ABC):
    """Builds a SlabIndex for a slab; subclass it and register it with ``register_slab_builders``."""

    name: ClassVar[str]
    metrics: ClassVar[frozenset[str]] = frozenset({"cosine", "euclidean", "dotproduct"})
    # "dense", "sparse" and "hybrid" (dense + sparse parts scored together on dotproduct).
    vector_types: ClassVar[frozenset[str]] = frozenset({"dense"})
    exact: ClassVar[bool] = False
    native_filtering: ClassVar[bool] = False
    # The keyword arguments ``SlabIndex.search`` accepts, with their defaults: a tier's
    # ``query`` table and a query's ``search_params`` are checked against these names.
    query_defaults: ClassVar[Mapping[str, Any]] = MappingProxyType({})

    @abstractmethod
    def build(self, data: SlabData, metric: str) -> SlabIndex:
        """Build an index over ``data`` for ``metric``."""

    @classmethod
    def warm_up(cls) -> None:
        """Pay one-off per-process costs (JIT compilation) now instead of in the first build."""

    def load(self, directory: Path, data: SlabData, metric: str) -> SlabIndex:
        """Load an index saved by ``SlabIndex.save``; by default rebuild it."""
        return self.build(data, metric)

    def get_params(self) -> dict[str, Any]:
        """Return the build parameters (the keyword arguments of ``__init__``)."""
        return init_params(self)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{self.name}({params})"
