"""Sparse vectors: validation and the CSR row store used for scoring (dataplane_spec §7.1 step 5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from .errors import InvalidArgumentError

MAX_SPARSE_INDEX = 2**32 - 1
_ZERO_OFFSET = np.zeros(1, np.int64)  # shared by every empty SparseRows (read-only broadcasts of it)
_ZERO_OFFSET.flags.writeable = False
_NO_INDICES = np.empty(0, np.uint32)
_NO_VALUES = np.empty(0, np.float32)


@dataclass(frozen=True)
class Sparse:
    """A validated sparse vector: sorted unique uint32 ``indices`` with float32 ``values``."""

    indices: np.ndarray
    values: np.ndarray

    @property
    def nnz(self) -> int:
        return int(self.indices.size)

    def to_dict(self) -> dict[str, list]:
        return {"indices": self.indices.tolist(), "values": self.values.tolist()}


def check_sparse(raw: Any, max_nnz: int, path: str) -> Sparse:
    """Validate a ``{"indices", "values"}`` mapping (or SparseValues object) and sort it by index."""
    if hasattr(raw, "indices") and hasattr(raw, "values") and not isinstance(raw, dict):
        indices, values = raw.indices, raw.values
    elif isinstance(raw, dict):
        unknown = set(raw) - {"indices", "values"}
        if unknown:
            raise InvalidArgumentError(f"unknown sparse vector keys {sorted(unknown)}", path=path)
        if "indices" not in raw or "values" not in raw:
            raise InvalidArgumentError("a sparse vector needs both 'indices' and 'values'", path=path)
        indices, values = raw["indices"], raw["values"]
    else:
        raise InvalidArgumentError(
            f"a sparse vector must be an object with 'indices' and 'values', got {type(raw).__name__}", path=path
        )
    try:
        idx = np.asarray(indices)
        with np.errstate(over="ignore"):  # stored as float32: beyond its range is inf, refused below
            val = np.asarray(values, dtype=np.float64).astype(np.float32)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidArgumentError(f"sparse values must be numbers: {exc}", path=f"{path}.values") from None
    if idx.ndim != 1 or val.ndim != 1:
        raise InvalidArgumentError("sparse indices and values must be flat lists", path=path)
    if idx.size != val.size:
        raise InvalidArgumentError(
            f"sparse indices and values must have the same length, got {idx.size} and {val.size}", path=path
        )
    if not 1 <= idx.size <= max_nnz:
        raise InvalidArgumentError(
            f"a sparse vector must have 1 to {max_nnz} non-zero values, got {idx.size}", path=path
        )
    if idx.dtype.kind not in "iu":
        raise InvalidArgumentError(
            f"sparse indices must be integers, got {idx.dtype}", path=f"{path}.indices"
        )
    if idx.min() < 0 or idx.max() > MAX_SPARSE_INDEX:
        raise InvalidArgumentError("sparse indices must be in 0..4294967295 (uint32)", path=f"{path}.indices")
    if not np.isfinite(val).all():
        raise InvalidArgumentError("sparse values must be finite float32 numbers", path=f"{path}.values")
    order = np.argsort(idx, kind="stable")
    idx = idx[order].astype(np.uint32)
    if idx.size > 1 and (idx[1:] == idx[:-1]).any():
        raise InvalidArgumentError("sparse indices must be unique", path=f"{path}.indices")
    return Sparse(idx, val[order])


@dataclass(frozen=True)
class SparseRows:
    """Sparse vectors of many rows in CSR form (a row with no sparse vector is empty)."""

    indptr: np.ndarray  # int64, len n + 1
    indices: np.ndarray  # uint32
    values: np.ndarray  # float32

    @classmethod
    def from_rows(cls, rows: Sequence[Sparse | None]) -> SparseRows:
        lengths = np.fromiter((0 if r is None else r.nnz for r in rows), dtype=np.int64, count=len(rows))
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        present = [r for r in rows if r is not None]
        if present:
            indices = np.concatenate([r.indices for r in present])
            values = np.concatenate([r.values for r in present])
        else:
            indices, values = np.empty(0, np.uint32), np.empty(0, np.float32)
        return cls(indptr, indices, values)

    @classmethod
    def empty(cls, n: int = 0) -> SparseRows:
        """Return ``n`` rows without sparse vectors: the n + 1 zero offsets are one shared, read-only zero."""
        return cls(np.broadcast_to(_ZERO_OFFSET, (n + 1,)), _NO_INDICES, _NO_VALUES)

    def __len__(self) -> int:
        return self.indptr.size - 1

    def nnz_per_row(self) -> np.ndarray:
        return np.diff(self.indptr)

    def row(self, i: int) -> Sparse | None:
        lo, hi = self.indptr[i], self.indptr[i + 1]
        if lo == hi:
            return None
        return Sparse(self.indices[lo:hi], self.values[lo:hi])

    def take(self, rows: np.ndarray) -> SparseRows:
        """Return the given rows, in order, without a Python loop over rows."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        rows = rows.astype(np.int64, copy=False)
        if not self.indices.size:  # no row has a sparse vector: nothing to gather
            if rows.size and (rows.max() >= len(self) or rows.min() < -len(self)):
                raise IndexError(f"rows out of range for a block of {len(self)}")
            return SparseRows.empty(int(rows.size))
        starts, ends = self.indptr[rows], self.indptr[rows + 1]
        lengths = ends - starts
        indptr = np.zeros(rows.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        # Positions of every kept element: each row's start repeated, plus 0..len-1.
        offsets = np.arange(indptr[-1], dtype=np.int64) - np.repeat(indptr[:-1], lengths)
        gather = np.repeat(starts, lengths) + offsets
        return SparseRows(indptr, self.indices[gather], self.values[gather])

    @staticmethod
    def concat(parts: Sequence[SparseRows]) -> SparseRows:
        if not parts or not any(p.indices.size for p in parts):
            return SparseRows.empty(sum(len(p) for p in parts))
        shifts = np.cumsum([0] + [p.indptr[-1] for p in parts[:-1]])
        indptr = np.concatenate([parts[0].indptr[:1]] + [p.indptr[1:] + s for p, s in zip(parts, shifts)])
        return SparseRows(
            indptr.astype(np.int64),
            np.concatenate([p.indices for p in parts]),
            np.concatenate([p.values for p in parts]),
        )

    def matrix(self) -> tuple[sp.csr_matrix, np.ndarray]:
        """Return a CSR matrix over a compact column space, and the sorted vocabulary of indices.

        Remapping the uint32 index space to the indices actually used keeps the matrix small;
        a query maps its indices with ``np.searchsorted`` on the vocabulary.
        """
        vocabulary, columns = np.unique(self.indices, return_inverse=True)
        matrix = sp.csr_matrix(
            (self.values, columns.astype(np.int64).ravel(), np.ascontiguousarray(self.indptr)),
            shape=(len(self), vocabulary.size)
        )
        return matrix, vocabulary


def sparse_dot(matrix: sp.csr_matrix, vocabulary: np.ndarray, query: Sparse) -> np.ndarray:
    """Return the dot product of every row with a sparse query (float32)."""
    positions = np.searchsorted(vocabulary, query.indices)
    positions = np.minimum(positions, max(vocabulary.size - 1, 0))
    hit = vocabulary.size > 0
    dense_query = np.zeros(vocabulary.size, dtype=np.float32)
    if hit:
        found = vocabulary[positions] == query.indices
        dense_query[positions[found]] = query.values[found]
    return np.asarray(matrix @ dense_query, dtype=np.float32).ravel()
