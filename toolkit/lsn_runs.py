"""Per-row LSNs of an in-memory block, run-length encoded (issue #14).

Every row of one write request carries the request's LSN, and those rows stay contiguous
through the memtable, flushes and merges (``take`` keeps row order; ``concat`` appends), so a
block of n rows holds a few runs (one per request that wrote it) instead of n integers.
``LsnRuns`` reads like the int64 array it replaces for what ``Rows`` needs: ``len``, ``size``,
``[int]`` (an int), ``[rows | mask | slice]`` (a new ``LsnRuns``), ``min``/``max`` and
``np.asarray`` (the expanded int64 array, e.g. to write a slab file, whose format is unchanged).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .row_select import selected_rows

_NO_ROWS = np.empty(0, np.int64)


class LsnRuns:
    """LSNs of n rows as runs: run j covers rows ``starts[j]`` up to the next start, all ``values[j]``."""

    __slots__ = ("starts", "values", "n")

    def __init__(self, starts: np.ndarray, values: np.ndarray, n: int) -> None:
        self.starts = starts  # int64, ascending, starts[0] == 0 when n > 0
        self.values = values  # int64, one LSN per run
        self.n = int(n)

    @classmethod
    def constant(cls, n: int, lsn: int) -> LsnRuns:
        """Return ``n`` rows of one LSN (one request's rows)."""
        if n <= 0:
            return cls(_NO_ROWS, _NO_ROWS, 0)
        return cls(np.zeros(1, np.int64), np.array([lsn], np.int64), n)

    @classmethod
    def from_array(cls, lsns: np.ndarray) -> LsnRuns:
        """Encode per-row LSNs (e.g. a slab's mapped int64 column); vectorised."""
        values = np.asarray(lsns, np.int64)
        n = int(values.size)
        if not n:
            return cls(_NO_ROWS, _NO_ROWS, 0)
        starts = np.concatenate(([0], np.flatnonzero(values[1:] != values[:-1]) + 1)).astype(np.int64)
        return cls(starts, values[starts], n)

    def __len__(self) -> int:
        return self.n

    @property
    def size(self) -> int:
        return self.n

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype(np.int64)

    @property
    def nbytes(self) -> int:
        return int(self.starts.nbytes + self.values.nbytes)

    def expand(self) -> np.ndarray:
        """Return the per-row int64 array."""
        if not self.n:
            return _NO_ROWS.copy()
        return np.repeat(self.values, np.diff(np.append(self.starts, self.n)))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.expand()
        return out if dtype is None else out.astype(dtype, copy=False)

    def __getitem__(self, key: Any) -> Any:
        """One row's LSN (int), or the LSNs of the rows selected (a new ``LsnRuns``, in that order)."""
        if isinstance(key, (int, np.integer)):
            row = int(key) + (self.n if int(key) < 0 else 0)
            if not 0 <= row < self.n:
                raise IndexError(f"row {int(key)} of a block of {self.n}")
            return int(self.values[np.searchsorted(self.starts, row, side="right") - 1])
        rows = selected_rows(key, self.n)
        if not rows.size:
            return LsnRuns(_NO_ROWS, _NO_ROWS, 0)
        return LsnRuns.from_array(self.values[np.searchsorted(self.starts, rows, side="right") - 1])

    def min(self) -> int:
        return int(self.values.min())

    def max(self) -> int:
        return int(self.values.max())

    def tolist(self) -> list[int]:
        return self.expand().tolist()

    @staticmethod
    def concat(parts: Sequence[LsnRuns | np.ndarray]) -> LsnRuns:
        """Return the LSNs of ``parts`` one after the other (arrays, e.g. of a mapped slab, are encoded)."""
        runs = [p if isinstance(p, LsnRuns) else LsnRuns.from_array(p) for p in parts]
        runs = [r for r in runs if r.n]
        if not runs:
            return LsnRuns(_NO_ROWS, _NO_ROWS, 0)
        if len(runs) == 1:
            return runs[0]
        shifts = np.cumsum([0] + [r.n for r in runs[:-1]]).tolist()
        starts = np.concatenate([r.starts + s for r, s in zip(runs, shifts)])
        values = np.concatenate([r.values for r in runs])
        keep = np.concatenate(([True], values[1:] != values[:-1]))  # join runs that continue across parts
        return LsnRuns(starts[keep], values[keep], sum(r.n for r in runs))

    def __repr__(self) -> str:
        return f"LsnRuns({self.n} rows in {self.values.size} runs)"
