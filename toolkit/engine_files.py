"""The files an engine saves beside its library's own index file: row map and description.

Annoy, HNSW and FAISS each write their library's file, then ``rows.npy`` (slab row of each
library item) and a small JSON description (metric, dimension, build parameters). Loading
reads both back and says whether they still fit the slab; when they do not, the engine
rebuilds instead of trusting a stale or foreign file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .engine import SlabData
from .errors import InvalidArgumentError

ROWS_FILE = "rows.npy"


def positive_int(name: str, value: Any, low: int = 1, path: str | None = None) -> int:
    """Return ``value`` as an int if it is an integer >= ``low`` (bool is not); else InvalidArgumentError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InvalidArgumentError(f"{name} must be an integer >= {low}, got {value!r}", path=path or name)
    return int(value)


def write_sidecar(directory: Path, rows: np.ndarray, meta_file: str, meta: Mapping[str, Any]) -> None:
    """Write the row map and the JSON description beside the library's file in ``directory``."""
    np.save(directory / ROWS_FILE, rows)
    (directory / meta_file).write_text(json.dumps(dict(meta)))


def read_sidecar(directory: Path, meta_file: str, data: SlabData, metric: str,
                 library_file: str | None = None) -> tuple[dict[str, Any], np.ndarray] | None:
    """Return (description, row map) saved in ``directory`` if they fit ``data`` and ``metric``.

    None when a file is missing or unreadable, the metric or dimension differ, the row map is
    longer than the slab, or ``library_file`` (when given) is absent: the caller rebuilds.
    """
    try:
        meta = json.loads((directory / meta_file).read_text())
        rows = np.load(directory / ROWS_FILE)
    except (OSError, ValueError):
        return None
    assert data.dense is not None
    if meta.get("metric") != metric or meta.get("dimension") != data.dense.shape[1] or rows.size > len(data):
        return None
    if library_file is not None and not (directory / library_file).is_file():
        return None
    return meta, rows
