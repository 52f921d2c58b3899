"""Engine contract: the SlabBuilder base class every ANN engine plugin subclasses.

A builder turns the immutable rows of a slab into a searchable index. Capabilities are
class attributes the router reads once (never probed with hasattr); build parameters are
the keyword arguments of ``__init__`` and query parameters those of ``SlabIndex.search``,
so a sweep is plain data and ``repr()`` is the legend of every plot.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .errors import UnimplementedError
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


class SlabIndex(ABC):
    """A built, immutable index over one slab's rows."""

    @abstractmethod
    def search(self, query: Query, k: int, allowed: np.ndarray | None = None, **query_params: Any) -> SearchResult:
        """Return up to k best rows (best first) with exact scores in the index metric.

        ``allowed`` is a boolean row mask; only builders with ``native_filtering`` receive it,
        the router filters the others' candidates itself.
        """

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

    @abstractmethod
    def build(self, data: SlabData, metric: str) -> SlabIndex:
        """Build an index over ``data`` for ``metric``."""

    def load(self, directory: Path, data: SlabData, metric: str) -> SlabIndex:
        """Load an index saved by ``SlabIndex.save``; by default rebuild it."""
        return self.build(data, metric)

    def get_params(self) -> dict[str, Any]:
        """Return the build parameters (the keyword arguments of ``__init__``)."""
        signature = inspect.signature(type(self).__init__)
        kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return {
            name: getattr(self, name)
            for name, param in signature.parameters.items()
            if name != "self" and param.kind in kinds
        }

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{self.name}({params})"
