"""Metadata: validation of flat record metadata and its billed size (dataplane_spec §6.1)."""

from __future__ import annotations

import json
import math
import sys
import numbers
from typing import Any, Mapping

import numpy as np

from .errors import InvalidArgumentError


try:  # the C encoder json.dumps uses, built once: compact separators, UTF-8 kept as is
    from json.encoder import c_make_encoder as _c_make_encoder  # type: ignore[attr-defined]  # C accelerator, untyped
    from json.encoder import encode_basestring as _encode_basestring
except ImportError:  # pragma: no cover - CPython always has the accelerator
    _c_make_encoder = None

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
_encode: Any = _ENCODER.encode
if _c_make_encoder is not None:
    _chunks = _c_make_encoder(None, _ENCODER.default, _encode_basestring, None, ":", ",", False, False, True)

    def _encode(metadata: Mapping[str, Any]) -> str:  # noqa: F811 - the fast path
        return "".join(_chunks(metadata, 0))


def metadata_size(metadata: Mapping[str, Any] | None) -> int:
    """Return the size of metadata as compact UTF-8 JSON bytes (0 when there is none).

    The same bytes as ``json.dumps(metadata, separators=(",", ":"), ensure_ascii=False)``.
    """
    if not metadata:
        return 0
    text = _encode(metadata)
    return len(text) if text.isascii() else len(text.encode("utf-8"))


_MAX_FLOAT_INT = int(sys.float_info.max)


def _check_value(value: Any, path: str) -> Any:
    kind = type(value)
    if kind is str or kind is bool:
        return value
    if kind is int:
        if abs(value) > _MAX_FLOAT_INT:
            raise InvalidArgumentError(f"metadata number with {len(str(abs(value)))} digits is too large for a 64-bit float", path=path)
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
    if isinstance(value, str):  # str subclasses, e.g. numpy.str_
        return str(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Real):  # numpy and other numeric scalars
        return _check_value(float(value), path)
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind == "U":
        return [str(item) for item in value]
    raise InvalidArgumentError(
        f"metadata values must be a string, number, boolean or list of strings, got {kind.__name__}", path=path
    )


def check_metadata(metadata: Any, max_bytes: int, path: str = "metadata") -> tuple[dict[str, Any] | None, int]:
    """Validate metadata; return it normalised (ints as floats) with its size in bytes.

    Empty metadata is stored as None, like the service, which omits it on fetch.
    """
    if metadata is None:
        return None, 0
    if type(metadata) is not dict and not isinstance(metadata, Mapping):
        raise InvalidArgumentError(f"metadata must be an object, got {type(metadata).__name__}", path=path)
    if not metadata:
        return None, 0
    clean: dict[str, Any] = {}
    for key, value in metadata.items():
        if type(key) is not str or not key:
            if not isinstance(key, str) or not key:
                raise InvalidArgumentError(f"metadata keys must be non-empty strings, got {key!r}", path=path)
            key = str(key)  # a str subclass
        if key[0] == "$":
            raise InvalidArgumentError(f"metadata keys must not start with '$': {key!r}", path=f"{path}.{key}")
        kind = type(value)
        if kind is str or kind is bool:  # the common cases, without building an error path
            clean[key] = value
        elif kind is float and math.isfinite(value):
            clean[key] = value
        else:
            clean[key] = _check_value(value, f"{path}.{key}")
    size = metadata_size(clean)
    if size > max_bytes:
        raise InvalidArgumentError(
            f"metadata size is {size} bytes, which exceeds the limit of {max_bytes} bytes per vector", path=path
        )
    return clean, size
