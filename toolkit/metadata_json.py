"""JSON metadata: a block's per-row metadata kept as compact JSON text in one Arrow array.

A slab opened from disk does not parse its records' metadata: ``JsonMetadata`` wraps the
memory-mapped Arrow column (one ``large_string`` per row, null for "no metadata") and parses
a row only when someone reads it (fetch, update, include_metadata). It behaves like the
object array of dicts a memtable holds for the few operations ``Rows`` needs: ``len``,
``[int]`` (a dict or None), ``[int array | bool mask]`` (a new ``JsonMetadata``), ``tolist``.
Filters never read it (they read ``MetadataColumns``). ``AbsentMetadata`` is the same surface
for a block whose records have no metadata at all (nothing stored per row).
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np
import pyarrow as pa

from .row_select import selected_rows

_SEPARATORS = (",", ":")


class JsonMetadata:
    """Each row's metadata (a dict or None) as JSON text in an Arrow ``large_string`` array."""

    __slots__ = ("texts",)

    def __init__(self, texts: pa.Array) -> None:
        if texts.type != pa.large_string():
            texts = texts.cast(pa.large_string())
        self.texts = texts

    @classmethod
    def from_objects(cls, values: Sequence[Any] | np.ndarray) -> JsonMetadata:
        """Encode metadata dicts (None: no metadata) as compact JSON, one text per row."""
        items = values.tolist() if isinstance(values, np.ndarray) else list(values)
        texts = [None if m is None else json.dumps(m, separators=_SEPARATORS) for m in items]
        return cls(pa.array(texts, pa.large_string()))

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def size(self) -> int:
        return len(self.texts)

    @property
    def nbytes(self) -> int:
        return int(self.texts.nbytes)

    def __getitem__(self, key: Any) -> Any:
        """Return one row's metadata (int) or the rows selected by an index array or bool mask."""
        if isinstance(key, (int, np.integer)):
            text = self.texts[int(key)].as_py()
            return None if text is None else json.loads(text)
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step == 1:
                return JsonMetadata(self.texts.slice(start, max(stop - start, 0)))
            key = np.arange(start, stop, step)
        positions = np.asarray(key)
        if positions.dtype == bool:
            positions = np.flatnonzero(positions)
        return JsonMetadata(self.texts.take(pa.array(positions.astype(np.int64, copy=False))))

    def tolist(self) -> list[Any]:
        """Return every row's metadata, parsed (one JSON parse for the whole block)."""
        texts = self.texts.to_pylist()
        if not texts:
            return []
        parsed: list[Any] = json.loads("[" + ",".join("null" if t is None else t for t in texts) + "]")
        return parsed

    def json_texts(self) -> pa.Array:
        """Return the JSON texts as stored (null: no metadata), without parsing them."""
        return self.texts


class AbsentMetadata:
    """The metadata of a block none of whose records has any: every row is None, nothing is stored.

    Behaves like an object array of None for what ``Rows`` needs (``len``, ``[int]``,
    ``[int array | bool mask | slice]``, ``tolist``), at no cost per row (issue #14).
    """

    __slots__ = ("n",)

    def __init__(self, n: int) -> None:
        self.n = int(n)

    def __len__(self) -> int:
        return self.n

    @property
    def size(self) -> int:
        return self.n

    @property
    def nbytes(self) -> int:
        return 0

    def __getitem__(self, key: Any) -> Any:
        """Return None for one row (int), or the absent metadata of the rows selected."""
        if isinstance(key, (int, np.integer)):
            if not -self.n <= int(key) < self.n:
                raise IndexError(f"row {int(key)} of a block of {self.n}")
            return None
        return AbsentMetadata(int(selected_rows(key, self.n).size))

    def tolist(self) -> list[Any]:
        return [None] * self.n

    def objects(self) -> np.ndarray:
        """Return the object array of None this stands for."""
        return np.full(self.n, None, dtype=object)


def metadata_texts(metadata: np.ndarray | JsonMetadata | AbsentMetadata) -> pa.Array:
    """Return a block's metadata as JSON texts (``large_string``; parsed blocks are encoded)."""
    if isinstance(metadata, JsonMetadata):
        return metadata.texts
    if isinstance(metadata, AbsentMetadata):
        return pa.nulls(metadata.n, pa.large_string())
    return JsonMetadata.from_objects(metadata).texts


def concat_metadata(parts: Sequence[np.ndarray | JsonMetadata | AbsentMetadata]
                    ) -> np.ndarray | JsonMetadata | AbsentMetadata:
    """Concatenate blocks' metadata; any JSON-backed part keeps the result JSON-backed, and a
    result with no metadata at all stays ``AbsentMetadata``."""
    absent = [p for p in parts if isinstance(p, AbsentMetadata)]
    if len(absent) == len(parts):
        return AbsentMetadata(sum(p.n for p in absent))
    if any(isinstance(p, JsonMetadata) for p in parts):
        return JsonMetadata(pa.concat_arrays([metadata_texts(p) for p in parts]))
    return np.concatenate([p.objects() if isinstance(p, AbsentMetadata) else p for p in parts])
