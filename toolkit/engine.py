"""Engine contract: the SlabBuilder base class every ANN engine plugin subclasses.

A builder turns the immutable rows of a slab into a searchable index. Capabilities are
class attributes the router reads once (never probed with hasattr or by exception); build
parameters are the keyword arguments of ``__init__`` and query parameters the fields of the
index's ``query_params`` dataclass, so a sweep is plain data and ``repr()`` is the legend of
every plot. Plugins import all of this from ``toolkit.plugin``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Mapping

import numpy as np

from .errors import InvalidArgumentError, UnimplementedError
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


@dataclass(frozen=True)
class NoQueryParams:
    """The query parameters of an engine that takes none."""


class SlabIndex(ABC):
    """A built, immutable index over one slab's rows.

    Declared capabilities (class attributes, read without building or probing):

    - ``query_params``: a frozen dataclass whose fields are the engine's query parameters
      with their defaults; its ``__post_init__`` checks the values. It is the one
      declaration: ``SlabBuilder.query_defaults``, the check of a tier's ``query`` table and
      of a query's ``search_params`` all derive from it.
    - ``can_save``: True when ``save`` writes the index's own files (else a persistent
      client rebuilds the slab's index on load and never calls ``save``).

    Engines implement ``search_one`` (and may override ``search_many``); callers use
    ``search``/``search_batch`` with the parameters as keywords, checked once here.
    """

    query_params: ClassVar[type[Any]] = NoQueryParams
    can_save: ClassVar[bool] = False

    @classmethod
    def parse_params(cls, given: Mapping[str, Any]) -> Any:
        """Return ``query_params`` built from ``given``; an unknown name is an InvalidArgumentError."""
        names = query_param_names(cls.query_params)
        unknown = sorted(set(given) - names)
        if unknown:
            raise InvalidArgumentError(
                f"{cls.__name__} takes no query parameter(s) {unknown}; it takes {sorted(names) or 'none'}",
                path="search_params")
        return cls.query_params(**given)

    def search(self, query: Query, k: int, allowed: np.ndarray | None = None, **query_params: Any) -> SearchResult:
        """Return up to k best rows (best first) with exact scores in the index metric.

        ``allowed`` is a boolean row mask; only builders with ``native_filtering`` receive it,
        the router filters the others' candidates itself. ``query_params`` are the fields of
        ``query_params`` (the dataclass); an unknown name is refused.
        """
        return self.search_one(query, k, allowed, self.parse_params(query_params))

    def search_batch(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None, **query_params: Any
    ) -> list[SearchResult]:
        """Return ``search`` of every row of ``queries`` ((n, dimension) float32 dense queries).

        One ``allowed`` mask serves the whole batch. Row i of the answer is what ``search``
        returns for query i.
        """
        return self.search_many(queries, k, allowed, self.parse_params(query_params))

    @abstractmethod
    def search_one(self, query: Query, k: int, allowed: np.ndarray | None, params: Any) -> SearchResult:
        """Answer one query; ``params`` is an instance of ``query_params``.

        The result's ``distance_computations`` and ``bytes_scanned`` are the work the engine
        really did for this query (see ``SearchResult`` and ``SlabBuilder.work_counting``).
        """

    def search_many(self, queries: np.ndarray, k: int, allowed: np.ndarray | None, params: Any) -> list[SearchResult]:
        """Answer a batch of dense queries; this default loops over ``search_one``.

        Engines override it to amortise per-call work (one matrix product, one library call).
        """
        return [self.search_one(Query(q, None), k, allowed, params) for q in queries]

    @property
    def nbytes(self) -> int:
        """Return the memory the index structure itself uses, in bytes (0 if unknown)."""
        return 0

    def save(self, directory: Path) -> None:
        """Write the index's own files into ``directory``; only called when ``can_save`` is True."""
        raise UnimplementedError(f"{type(self).__name__} cannot be saved (can_save is False); "
                                 "the slab is rebuilt on load")


def query_param_names(params_type: type[Any]) -> frozenset[str]:
    """Return the field names of a ``query_params`` dataclass."""
    return frozenset(f.name for f in fields(params_type))


def query_param_defaults(params_type: type[Any]) -> Mapping[str, Any]:
    """Return ``{name: default}`` of a ``query_params`` dataclass (every field needs a default)."""
    out: dict[str, Any] = {}
    for f in fields(params_type):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
        else:
            raise TypeError(f"query parameter {f.name!r} of {params_type.__qualname__} has no default")
    return MappingProxyType(out)


class SlabBuilder(ABC):
    """Builds a SlabIndex for a slab; subclass it and register it with ``register_slab_builders``."""

    name: ClassVar[str]
    metrics: ClassVar[frozenset[str]] = frozenset({"cosine", "euclidean", "dotproduct"})
    # "dense", "sparse" and "hybrid" (dense + sparse parts scored together on dotproduct).
    vector_types: ClassVar[frozenset[str]] = frozenset({"dense"})
    exact: ClassVar[bool] = False
    native_filtering: ClassVar[bool] = False
    # The SlabIndex class ``build`` returns: its ``query_params`` and ``can_save`` are the
    # builder's, readable before anything is built.
    index_type: ClassVar[type[SlabIndex] | None] = None
    # Derived from ``index_type.query_params`` (never declared by hand): the query parameters
    # with their defaults; a tier's ``query`` table and a query's ``search_params`` are
    # checked against these names.
    query_defaults: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    # How this engine counts ``distance_computations`` and ``bytes_scanned`` (the true work
    # of a query), in one or two sentences a report can print.
    work_counting: ClassVar[str] = "not documented by this engine"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "query_defaults" in cls.__dict__:
            raise TypeError(f"{cls.__qualname__}: declare query parameters once, as the frozen dataclass "
                            "``query_params`` of its SlabIndex (named by ``index_type``), not query_defaults")
        params = NoQueryParams if cls.index_type is None else cls.index_type.query_params
        cls.query_defaults = query_param_defaults(params)

    @classmethod
    def can_save(cls) -> bool:
        """Return True when this builder's indexes write their own files (``SlabIndex.can_save``)."""
        return cls.index_type is not None and cls.index_type.can_save

    @classmethod
    def check_query_params(cls, given: Mapping[str, Any]) -> Any:
        """Return the ``query_params`` built from ``given`` (names and values checked once)."""
        return (cls.index_type or SlabIndex).parse_params(given)

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
