"""Record ids of an immutable block, held compactly (issue #14).

A block's ids are not kept as Python ``str`` objects (≈ 60 bytes each plus an 8-byte pointer).
``IdColumn`` holds them once, as fixed-width bytes sorted bytewise (``keys``, numpy ``S``), with
``order`` (the row of each sorted key) and its inverse ``rank`` (the sorted position of each
row, derived from ``order`` when first needed). That is ``width + 8`` bytes per row (``width``:
the block's longest id) and it is the lookup too: ``locate`` is a binary search in ``keys``.

Ids are ASCII without NUL (identifiers.py), so the ``S`` bytes (padded with NULs) compare
exactly as the ids do and decode back to the same strings. Strings are made only at the
response edge — the k rows of a query, a page of a list, the records fetched — never for a
whole block, except where a caller asks for every id (``tolist``).

Reading behaves like the object array of str it replaces: ``ids[row]`` is a ``str``,
``ids[rows]`` / ``ids[mask]`` an object array of ``str``, ``len(ids)``, ``ids.size``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .errors import DataLossError
from .row_select import selected_rows

_EMPTY_KEYS = np.empty(0, "S1")


def _index_dtype(n: int) -> type[np.signedinteger[Any]]:
    return np.int32 if n < 2**31 else np.int64


class IdColumn:
    """The ids of one block: sorted ``S`` keys, the row of each (``order``), and each row's rank."""

    __slots__ = ("keys", "order", "_rank")

    def __init__(self, keys: np.ndarray, order: np.ndarray, rank: np.ndarray | None = None) -> None:
        self.keys = keys  # S(width), sorted bytewise
        self.order = order  # int32/int64: row of keys[i]
        self._rank = rank  # int32/int64: position in keys of each row (inverse of order), lazily

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def from_strings(cls, ids: Sequence[str] | np.ndarray) -> IdColumn:
        """Encode validated ids (ASCII, no NUL) in row order."""
        if not len(ids):
            return cls.empty()
        return cls.from_row_keys(np.asarray(ids, dtype="S"))

    @classmethod
    def from_row_keys(cls, row_keys: np.ndarray) -> IdColumn:
        """Build from the ids as an ``S`` array in row order (sorted once, here)."""
        n = int(row_keys.size)
        if not n:
            return cls.empty()
        order = np.argsort(row_keys, kind="stable").astype(_index_dtype(n), copy=False)
        return cls(row_keys[order], order)

    @classmethod
    def empty(cls) -> IdColumn:
        return cls(_EMPTY_KEYS, np.empty(0, np.int32), np.empty(0, np.int32))

    # -- size ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.order.size)

    @property
    def size(self) -> int:
        return int(self.order.size)

    @property
    def nbytes(self) -> int:
        """Bytes held: keys, order and (once derived) rank."""
        rank = self._rank
        return int(self.keys.nbytes + self.order.nbytes + (0 if rank is None else rank.nbytes))

    @property
    def rank(self) -> np.ndarray:
        """Return each row's position in ``keys`` (the inverse permutation of ``order``; derived once)."""
        rank = self._rank
        if rank is None:
            n = self.size
            rank = np.empty(n, self.order.dtype)
            try:
                rank[self.order] = np.arange(n, dtype=self.order.dtype)
            except IndexError:
                raise DataLossError("damaged sorted ids: the row order points outside the block") from None
            self._rank = rank  # a race computes the same array twice; either copy is right
        return rank

    # -- reading -------------------------------------------------------------------------------
    def row_keys(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Return the ids of ``rows`` (None: every row, in row order) as ``S`` bytes."""
        return self.keys[self.rank if rows is None else self.rank[rows]]

    def strings(self, rows: np.ndarray | Sequence[int]) -> list[str]:
        """Return the ids of ``rows`` as ``str``, in the order given (the response edge: k rows)."""
        return [key.decode("ascii") for key in self.keys[self.rank[rows]].tolist()]

    def tolist(self) -> list[str]:
        """Return every id in row order (a whole block as ``str``: only where every id is needed)."""
        if not self.size:
            return []
        strings: list[str] = self.keys[self.rank].astype("U").tolist()
        return strings

    def __iter__(self) -> Any:
        return iter(self.tolist())

    def __getitem__(self, key: Any) -> Any:
        """``ids[row]``: a ``str``; ``ids[rows]``, ``ids[mask]``, ``ids[a:b]``: an object array of ``str``."""
        if isinstance(key, (int, np.integer)):
            return self.keys[self.rank[key]].decode("ascii")
        rows = selected_rows(key, self.size)
        out = np.empty(rows.shape, dtype=object)
        if rows.size:
            out.ravel()[:] = self.strings(rows.ravel())
        return out

    def locate(self, ids: Sequence[str] | np.ndarray) -> np.ndarray:
        """Return the rows holding any of ``ids`` (every version), found by binary search.

        ``ids``: strings, or an ``S`` array of them (encode once when locating in many blocks).
        """
        if not self.size or not len(ids):
            return np.empty(0, np.int64)
        wanted = ids if isinstance(ids, np.ndarray) and ids.dtype.kind == "S" else np.asarray(ids, dtype="S")
        lo = np.searchsorted(self.keys, wanted, side="left")
        hi = np.searchsorted(self.keys, wanted, side="right")
        counts = hi - lo
        if not counts.any():
            return np.empty(0, np.int64)
        starts = np.repeat(lo, counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return self.order[starts + offsets].astype(np.int64, copy=False)

    # -- new blocks ----------------------------------------------------------------------------
    def take(self, rows: np.ndarray) -> IdColumn:
        """Return the ids of ``rows``, in that order, without sorting any string.

        The sorted positions of the chosen rows are ranks already: an integer sort of them
        gives the new block's sorted keys and order.
        """
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        m = int(rows.size)
        if not m:
            return IdColumn.empty()
        positions = self.rank[rows]
        new_order = np.argsort(positions, kind="stable").astype(_index_dtype(m), copy=False)
        return IdColumn(self.keys[positions[new_order]], new_order)

    @staticmethod
    def concat(parts: Sequence[IdColumn]) -> IdColumn:
        """Return the ids of ``parts`` one after the other (a merge of their sorted runs)."""
        parts = [p for p in parts if p.size]
        if not parts:
            return IdColumn.empty()
        if len(parts) == 1:
            return parts[0]
        n = sum(p.size for p in parts)
        dtype = _index_dtype(n)
        keys = np.concatenate([p.keys for p in parts])  # the widest part's width
        shifts = np.cumsum([0] + [p.size for p in parts[:-1]])
        order = np.concatenate([p.order.astype(dtype) + dtype(s) for p, s in zip(parts, shifts.tolist())])
        merged = np.argsort(keys, kind="stable")  # timsort: linear-ish on concatenated sorted runs
        return IdColumn(keys[merged], order[merged])

    def arrow(self) -> Any:
        """Return the ids in row order as an Arrow ``string`` array, built from the bytes (no ``str``)."""
        import pyarrow as pa

        n = self.size
        if not n:
            return pa.array([], pa.string())
        row_keys = np.ascontiguousarray(self.row_keys())
        width = row_keys.dtype.itemsize
        lengths = np.char.str_len(row_keys).astype(np.int64)
        offsets = np.zeros(n + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        data = row_keys.view(np.uint8).reshape(n, width)[np.arange(width) < lengths[:, None]]
        if offsets[-1] >= 2**31:  # beyond 32-bit offsets: let pyarrow lay the strings out
            return pa.array(self.tolist(), pa.string())
        return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets.astype(np.int32)),
                                                      pa.py_buffer(data)])

    def __repr__(self) -> str:
        return f"IdColumn({self.size} ids, {self.keys.dtype.itemsize} bytes wide)"
