"""IndexConfig: what an index was created with (fixed for its lifetime but for its engine)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .engine_config import EngineConfig
from .records import IndexShape


@dataclass(frozen=True)
class IndexConfig:
    """What an index was created with; everything but tags and deletion protection is fixed."""

    name: str
    dimension: int | None
    metric: str
    vector_type: str
    engine: EngineConfig
    spec: Mapping[str, Any]

    @property
    def shape(self) -> IndexShape:
        return IndexShape(self.vector_type, self.dimension, self.metric)
