"""Metadata: validation of flat record metadata and its billed size (dataplane_spec §6.1)."""

from __future__ import annotations

import json
import math
from typing import Any, Mapping

from .errors import InvalidArgumentError


def metadata_size(metadata: Mapping[str, Any] | None) -> int:
    """Return the size of metadata as compact UTF-8 JSON bytes (0 when there is none)."""
    if not metadata:
        return 0
    return len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def _check_value(key: str, value: Any, path: str) -> Any:
    kind = type(value)
    if kind is str or kind is bool:
        return value
    if kind is int:
        return float(value)  # the service stores every number as float64
    if kind is float:
        if not math.isfinite(value):
            raise InvalidArgumentError(f"metadata numbers must be finite, got {value!r}", path=path)
        return value
    if kind is list or kind is tuple:
        if not all(type(item) is str for item in value):
            raise InvalidArgumentError(
                "metadata lists may hold only strings (a list of numbers is not allowed)", path=path
            )
        return list(value)
    if value is None:
        raise InvalidArgumentError("metadata values cannot be null; remove the key instead", path=path)
    if isinstance(value, Mapping):
        raise InvalidArgumentError("nested metadata objects are not allowed; metadata must be flat", path=path)
    if isinstance(value, (int, float)) and not isinstance(value, bool):  # numpy scalars
        return _check_value(key, float(value), path)
    raise InvalidArgumentError(
        f"metadata values must be a string, number, boolean or list of strings, got {kind.__name__}", path=path
    )


def check_metadata(metadata: Any, max_bytes: int, path: str = "metadata") -> tuple[dict[str, Any] | None, int]:
    """Validate metadata; return it normalised (ints as floats) with its size in bytes.

    Empty metadata is stored as None, like the service, which omits it on fetch.
    """
    if metadata is None:
        return None, 0
    if not isinstance(metadata, Mapping):
        raise InvalidArgumentError(f"metadata must be an object, got {type(metadata).__name__}", path=path)
    if not metadata:
        return None, 0
    clean: dict[str, Any] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key:
            raise InvalidArgumentError(f"metadata keys must be non-empty strings, got {key!r}", path=path)
        if key.startswith("$"):
            raise InvalidArgumentError(f"metadata keys must not start with '$': {key!r}", path=f"{path}.{key}")
        clean[key] = _check_value(key, value, f"{path}.{key}")
    size = metadata_size(clean)
    if size > max_bytes:
        raise InvalidArgumentError(
            f"metadata size is {size} bytes, which exceeds the limit of {max_bytes} bytes per vector", path=path
        )
    return clean, size
