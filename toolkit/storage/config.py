"""Index configs as plain JSON data, for index.json files and backups."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from ..engine_config import EngineConfig
from ..index_config import IndexConfig

log = logging.getLogger(__name__)


def plain(value: Any) -> Any:
    """Return ``value`` with mappings as dicts and tuples as lists (JSON-ready)."""
    if isinstance(value, EngineConfig):
        return plain(value.to_dict())
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def config_to_dict(config: IndexConfig) -> dict[str, Any]:
    """Return an ``IndexConfig`` as JSON-ready data (every dataclass field)."""
    return {f.name: plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def config_from_dict(data: Mapping[str, Any]) -> IndexConfig:
    """Rebuild an ``IndexConfig`` saved by ``config_to_dict``; unknown fields are dropped."""
    known = {f.name for f in dataclasses.fields(IndexConfig)}
    kwargs = {k: v for k, v in data.items() if k in known}
    dropped = set(data) - known
    if dropped:
        log.warning("ignoring index config fields this version does not know: %s", sorted(dropped))
    kwargs["engine"] = EngineConfig.from_dict(data["engine"])
    return IndexConfig(**kwargs)
