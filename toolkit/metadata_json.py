"""JSON metadata: a block's per-row metadata kept as compact JSON text in one Arrow array.

A slab opened from disk does not parse its records' metadata: ``JsonMetadata`` wraps the
memory-mapped Arrow column (one ``large_string`` per row, null for "no metadata") and parses
a row only when someone reads it (fetch, update, include_metadata). It behaves like the
object array of dicts a memtable holds for the few operations ``Rows`` needs: ``len``,
``[int]`` (a dict or None), ``[int array | bool mask]`` (a new ``JsonMetadata``), ``tolist``.
Filters never read it (they read ``MetadataColumns``).
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np
import pyarrow as pa

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


def metadata_texts(metadata: np.ndarray | JsonMetadata) -> pa.Array:
    """Return a block's metadata as JSON texts (``large_string``; parsed blocks are encoded)."""
    if isinstance(metadata, JsonMetadata):
        return metadata.texts
    return JsonMetadata.from_objects(metadata).texts


def concat_metadata(parts: Sequence[np.ndarray | JsonMetadata]) -> np.ndarray | JsonMetadata:
    """Concatenate blocks' metadata; any JSON-backed part keeps the result JSON-backed."""
    if all(isinstance(p, np.ndarray) for p in parts):
        return np.concatenate(parts)  # type: ignore[arg-type]
    return JsonMetadata(pa.concat_arrays([metadata_texts(p) for p in parts]))
