"""Vectors: the record value types users pass in and get back (SDK names and fields)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .display import DisplayMixin


@dataclass(eq=False)
class SparseValues(DisplayMixin):
    """A sparse vector: parallel lists of uint32 ``indices`` and float ``values``."""

    indices: list[int]
    values: list[float]

    def to_dict(self) -> dict[str, Any]:
        return {"indices": list(self.indices), "values": list(self.values)}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, dict):
            other = SparseValues(other.get("indices", []), other.get("values", []))
        if not isinstance(other, SparseValues):
            return NotImplemented
        return list(self.indices) == list(other.indices) and np.allclose(self.values, other.values)


@dataclass(eq=False)
class Vector(DisplayMixin):
    """One record: an id, dense ``values`` and/or ``sparse_values``, and flat ``metadata``."""

    id: str
    values: list[float] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    sparse_values: SparseValues | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "values": list(self.values)}
        if self.sparse_values is not None:
            out["sparse_values"] = self.sparse_values.to_dict()
        if self.metadata is not None:
            out["metadata"] = dict(self.metadata)
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vector):
            return NotImplemented
        return (
            self.id == other.id
            and np.allclose(self.values, other.values)
            and self.metadata == other.metadata
            and self.sparse_values == other.sparse_values
        )
