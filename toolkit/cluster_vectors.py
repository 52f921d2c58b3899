"""Hollow slabs: what the coordinator of a cluster keeps of a slab whose vectors and index live on a worker.

A slab built (or loaded) on a Dask worker is mirrored on the coordinator by a *hollow* slab:
the same ids, metadata and columns, per-row LSNs and sizes, sparse values, builder, tier,
level and live mask — all the write path, fetch/list/stats and filters need — but its dense
vectors are a ``RemoteVectors`` (a zero-stride float32 array of the right shape that holds no
memory) and its index a ``RemoteIndex`` (the index's size, nothing else).

``RemoteVectors`` answers indexing (``dense[row]``, ``dense[rows]``) by asking the worker for
those rows, so a stored vector read anywhere (an update, a query by id, ``include_values``)
is the worker's; any other numpy use of it (concatenate, arithmetic, pickling) raises
``InternalError`` instead of computing with zeros. The shard fetches in bulk where it can.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .engine import SlabIndex
from .errors import InternalError
from .scoring import Query, SearchResult
from .segment import Rows, Slab

Take = Callable[[np.ndarray], np.ndarray]  # rows of a slab -> their dense vectors, (len(rows), d) float32

__all__ = ["RemoteIndex", "RemoteVectors", "hollow_rows", "is_hollow", "meta_rows", "with_vectors"]


class RemoteVectors(np.ndarray):
    """The dense vectors of a slab held on a worker: shape and dtype here, values fetched on indexing."""

    _take: Take | None
    _label: str
    slab_number: int  # the coordinator's number of the slab these vectors belong to

    def __new__(cls, n: int, dimension: int, take: Take, label: str, slab_number: int) -> RemoteVectors:
        base = np.broadcast_to(np.zeros((1, 1), np.float32), (n, dimension))
        obj = base.view(cls)
        obj._take, obj._label, obj.slab_number = take, label, slab_number
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        self._take = getattr(obj, "_take", None)
        self._label = getattr(obj, "_label", "a remote slab")
        self.slab_number = getattr(obj, "slab_number", -1)

    def __getitem__(self, key: Any) -> Any:
        first, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        positions = np.arange(self.shape[0])[first]
        if self._take is None:
            raise InternalError(f"the vectors of {self._label} are on a worker and this copy cannot fetch them")
        scalar = np.ndim(positions) == 0
        vectors = np.asarray(self._take(np.atleast_1d(positions).astype(np.int64)))
        out = vectors[0] if scalar else vectors
        return out[rest] if rest else out

    def _refuse(self, what: str) -> InternalError:
        return InternalError(f"{what} of the vectors of {self._label}, which are held on a worker: "
                             f"index rows to fetch them")

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        raise self._refuse(f"numpy.{getattr(func, '__name__', func)}")

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        raise self._refuse(f"numpy.{ufunc.__name__}")

    def __reduce__(self) -> Any:
        raise self._refuse("pickling")

    def __repr__(self) -> str:
        return f"RemoteVectors(shape={self.shape}, of {self._label})"

    __str__ = __repr__


class RemoteIndex(SlabIndex):
    """The coordinator's stand-in for an index held on a worker: its size; searching it is the worker's."""

    def __init__(self, nbytes: int, label: str) -> None:
        self._nbytes = int(nbytes)
        self._label = label

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def search_one(self, query: Query, k: int, allowed: np.ndarray | None, params: Any) -> SearchResult:
        raise InternalError(f"the index of {self._label} is held on a worker; the shard searches it there")


def is_hollow(slab: Slab) -> bool:
    """Return True when ``slab``'s vectors and index are held on a worker."""
    return isinstance(slab.index, RemoteIndex)


def meta_rows(rows: Rows) -> Rows:
    """Return ``rows`` without dense vectors (what the coordinator keeps and what ``take`` may copy)."""
    return Rows(rows.ids, None, rows.sparse, rows.metadata, rows.columns, rows.lsns, rows.sizes)


def hollow_rows(meta: Rows, dimension: int | None, take: Take, label: str, slab_number: int) -> Rows:
    """Return ``meta`` (rows without vectors) with ``RemoteVectors`` of ``dimension`` in place of the vectors."""
    dense = None if dimension is None else RemoteVectors(len(meta), dimension, take, label, slab_number)
    return Rows(meta.ids, dense, meta.sparse, meta.metadata, meta.columns, meta.lsns, meta.sizes)


def with_vectors(rows: Rows, positions: np.ndarray, vectors: np.ndarray | None) -> Rows:
    """Return rows ``positions`` of a hollow block with their fetched ``vectors`` (None: a sparse index)."""
    meta = meta_rows(rows).take(positions)
    return Rows(meta.ids, vectors, meta.sparse, meta.metadata, meta.columns, meta.lsns, meta.sizes)
