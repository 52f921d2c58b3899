"""Which rows an index key selects from a block of n rows (the compact columns' shared indexing).

``IdColumn``, ``LsnRuns`` and ``AbsentMetadata`` stand in for numpy arrays of a block's rows and
accept the same selections as those arrays: a slice, a boolean mask of the block's length, or an
array of row positions (negative ones count from the end).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def selected_rows(key: Any, n: int) -> np.ndarray:
    """Return the non-negative row positions ``key`` selects from ``n`` rows (an int array of
    positions keeps its shape); IndexError for a mask of another length or a position out of range."""
    if isinstance(key, slice):
        return np.arange(n)[key]
    rows = np.asarray(key)
    if rows.dtype == bool:
        if rows.shape != (n,):
            raise IndexError(f"boolean index of {rows.shape} for {n} rows")
        return np.flatnonzero(rows)
    rows = rows.astype(np.int64, copy=False)
    if rows.size and (rows.max() >= n or rows.min() < -n):
        raise IndexError(f"rows out of range for a block of {n}")
    return np.where(rows < 0, rows + n, rows)
