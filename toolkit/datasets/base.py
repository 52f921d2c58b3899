"""Datasets: the vectors, metadata, queries and filter sets a benchmark runs on.

A ``DatasetSource`` is a named recipe (its parameters are the keyword arguments of
``__init__``, exactly like a ``SlabBuilder``); ``load()`` returns a ``Dataset``. Plugins
add sources with ``@hookimpl def register_datasets()``.

Distances follow ann-benchmarks: smaller is closer. ``euclidean`` is the true (not squared)
distance, ``cosine`` is 1 - cosine similarity and ``dotproduct`` is minus the dot product.
"""

from __future__ import annotations

import hashlib
import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Iterator, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from ..errors import InvalidArgumentError
from ..params import init_params
from ..scoring import METRICS



@dataclass(frozen=True, eq=False)
class FilterSet:
    """One metadata filter per query, all of about the same selectivity.

    ``masks[i]`` marks the train rows query i's filter allows; ``target`` is the selectivity
    bucket the set was generated for (None when it comes from a file).
    """

    name: str
    kind: str
    filters: tuple[Mapping[str, Any], ...]
    masks: np.ndarray  # (n_queries, n_train) bool
    target: float | None = None

    @property
    def selectivity(self) -> float:
        """Return the mean share of train rows the filters allow."""
        return float(self.masks.mean()) if self.masks.size else 0.0

    def __repr__(self) -> str:
        return f"FilterSet({self.name!r}, selectivity={self.selectivity:.4g}, queries={len(self.filters)})"


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train vectors (the records), query vectors, optional metadata and filter sets.

    ``train`` and ``queries`` are float32 arrays (dense) or CSR matrices (sparse). For sparse
    data, column j stands for sparse index ``sparse_vocabulary[j]`` (or j when it is None).
    ``neighbors`` are the true unfiltered neighbours shipped with a file, if any.
    A *hybrid* dataset is dense (``dotproduct``) with ``sparse_train`` / ``sparse_queries``
    (CSR, columns are the sparse indices): every record and query carries both parts and
    the true score is the sum of the two dot products, as the reference scores hybrid queries.
    """

    name: str
    metric: str
    train: Any
    queries: Any
    ids: np.ndarray | None = None
    metadata: Sequence[Mapping[str, Any] | None] | None = None
    filter_sets: tuple[FilterSet, ...] = ()
    sparse_vocabulary: np.ndarray | None = None
    neighbors: np.ndarray | None = None
    description: str = ""
    info: Mapping[str, Any] = field(default_factory=dict)
    sparse_train: sp.csr_matrix | None = None
    sparse_queries: sp.csr_matrix | None = None

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise InvalidArgumentError(f"metric must be one of {METRICS}, got {self.metric!r}", path="metric")
        if sp.issparse(self.train) != sp.issparse(self.queries):
            raise InvalidArgumentError("train and queries must both be dense or both sparse", path="queries")
        if self.train.shape[1] != self.queries.shape[1]:
            raise InvalidArgumentError(
                f"train has {self.train.shape[1]} columns but queries have {self.queries.shape[1]}", path="queries"
            )
        if self.vector_type == "sparse" and self.metric != "dotproduct":
            raise InvalidArgumentError("sparse datasets use the dotproduct metric", path="metric")
        if self.ids is not None and len(self.ids) != self.n:
            raise InvalidArgumentError(f"{len(self.ids)} ids for {self.n} train rows", path="ids")
        if self.metadata is not None and len(self.metadata) != self.n:
            raise InvalidArgumentError(f"{len(self.metadata)} metadata for {self.n} train rows", path="metadata")
        if (self.sparse_train is None) != (self.sparse_queries is None):
            raise InvalidArgumentError("a hybrid dataset needs both sparse_train and sparse_queries",
                                       path="sparse_queries")
        if self.sparse_train is not None and self.sparse_queries is not None:
            if self.vector_type != "dense" or self.metric != "dotproduct":
                raise InvalidArgumentError("hybrid (dense + sparse) datasets are dense with the dotproduct metric",
                                           path="metric")
            if self.sparse_train.shape[0] != self.n or self.sparse_queries.shape[0] != self.n_queries:
                raise InvalidArgumentError("sparse_train/sparse_queries must have one row per train row/query",
                                           path="sparse_train")
        for fs in self.filter_sets:
            if fs.masks.shape != (self.n_queries, self.n) or len(fs.filters) != self.n_queries:
                raise InvalidArgumentError(f"filter set {fs.name!r} does not match the queries", path="filter_sets")

    # -- shape -----------------------------------------------------------------------------
    @property
    def vector_type(self) -> str:
        return "sparse" if sp.issparse(self.train) else "dense"

    @property
    def hybrid(self) -> bool:
        """Return True when records and queries carry a sparse part beside the dense one."""
        return self.sparse_train is not None

    @property
    def n(self) -> int:
        return int(self.train.shape[0])

    @property
    def n_queries(self) -> int:
        return int(self.queries.shape[0])

    @property
    def dimension(self) -> int | None:
        """Return the dense dimension (None for a sparse dataset)."""
        return None if self.vector_type == "sparse" else int(self.train.shape[1])

    def filter_set(self, name: str) -> FilterSet:
        """Return a filter set by name."""
        for fs in self.filter_sets:
            if fs.name == name:
                return fs
        raise InvalidArgumentError(f"dataset {self.name} has no filter set {name!r}; it has "
                                   f"{[f.name for f in self.filter_sets]}", path="filters")

    # -- records ---------------------------------------------------------------------------
    @cached_property
    def record_ids(self) -> np.ndarray:
        """Return the string id of every train row."""
        if self.ids is not None:
            return np.asarray(self.ids, dtype=object)
        return np.array([str(i) for i in range(self.n)], dtype=object)

    @cached_property
    def row_of(self) -> dict[str, int]:
        """Return the train row of every id."""
        return {record_id: row for row, record_id in enumerate(self.record_ids.tolist())}

    def _sparse_row(self, matrix: sp.csr_matrix, row: int) -> dict[str, Any]:
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        columns = matrix.indices[start:end]
        indices = columns if self.sparse_vocabulary is None else self.sparse_vocabulary[columns]
        return {"indices": np.asarray(indices, dtype=np.int64), "values": matrix.data[start:end]}

    def records(self, rows: Sequence[int] | np.ndarray) -> list[dict[str, Any]]:
        """Return upsert records (id, values or sparse_values, metadata) for train rows."""
        ids = self.record_ids
        out = []
        for row in np.asarray(rows, dtype=np.int64).tolist():
            record: dict[str, Any] = {"id": ids[row]}
            if self.vector_type == "dense":
                record["values"] = self.train[row]
                if self.sparse_train is not None:
                    record["sparse_values"] = self._sparse_row(self.sparse_train, row)
            else:
                record["sparse_values"] = self._sparse_row(self.train, row)
            if self.metadata is not None and self.metadata[row]:
                record["metadata"] = self.metadata[row]
            out.append(record)
        return out

    def query_arguments(self, i: int) -> dict[str, Any]:
        """Return the ``Index.query`` keyword arguments that carry query vector i."""
        if self.vector_type == "dense":
            if self.sparse_queries is not None:
                return {"vector": self.queries[i], "sparse_vector": self._sparse_row(self.sparse_queries, i)}
            return {"vector": self.queries[i]}
        return {"sparse_vector": self._sparse_row(self.queries, i)}

    def record_bytes(self) -> int:
        """Return a rough upper bound of one record's request size in bytes (for batching)."""
        if self.vector_type == "dense":
            per_vector = 12 * self.train.shape[1]  # JSON-ish: digits, separators
            if self.sparse_train is not None:
                per_vector += 24 * max(1, int(np.diff(self.sparse_train.indptr).max(initial=1)))
        else:
            per_vector = 24 * max(1, int(np.diff(self.train.indptr).max(initial=1)))
        return per_vector + 400

    # -- identity --------------------------------------------------------------------------
    @cached_property
    def fingerprint(self) -> str:
        """Return a content hash of metric, vectors and filters (the ground-truth cache key)."""
        digest = hashlib.sha1(f"{self.metric}|{self.vector_type}|{self.train.shape}".encode())
        for matrix in (self.train, self.queries, self.sparse_train, self.sparse_queries):
            if matrix is None:
                continue
            for part in _arrays(matrix):
                digest.update(np.ascontiguousarray(part).tobytes())
        for fs in self.filter_sets:
            digest.update(fs.name.encode())
            digest.update(np.packbits(fs.masks).tobytes())
        return digest.hexdigest()[:20]

    def __repr__(self) -> str:
        kind = "hybrid" if self.hybrid else self.vector_type
        return (f"Dataset({self.name}, {kind}, metric={self.metric!r}, n={self.n}, "
                f"queries={self.n_queries}, filter_sets={len(self.filter_sets)})")


def _arrays(matrix: Any) -> Iterator[np.ndarray]:
    if sp.issparse(matrix):
        yield from (matrix.indptr, matrix.indices, matrix.data)
    else:
        yield np.asarray(matrix)


class DatasetSource(ABC):
    """A named recipe for a Dataset; subclass it and return it from ``register_datasets``.

    Parameters are the keyword arguments of ``__init__`` (each stored as an attribute of the
    same name), so ``repr()`` names the dataset in tables and plot legends.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    vector_type: ClassVar[str] = "dense"  # "dense", "sparse" or "any" (decided by the file)
    # What ``python -m toolkit datasets`` lists: rows, dimension and metric with the default
    # parameters (None when a file or the parameters decide).
    size: ClassVar[int | None] = None
    dimension: ClassVar[int | None] = None
    default_metric: ClassVar[str | None] = None

    @abstractmethod
    def load(self) -> Dataset:
        """Build or read the dataset (deterministically, without network access)."""

    def get_params(self) -> dict[str, Any]:
        """Return the parameters (the keyword arguments of ``__init__``)."""
        return init_params(self)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Return the default value of every parameter (``inspect.Parameter.empty`` when required)."""
        signature = inspect.signature(cls.__init__)
        return {name: p.default for name, p in signature.parameters.items() if name != "self"
                and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)}

    def __repr__(self) -> str:
        defaults = self.defaults()
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k) != v)
        return f"{self.name}({params})"
