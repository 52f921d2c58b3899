"""Engine configuration: which builder makes each slab, by size tier, plus flush and merge policy.

An engine is chosen by config, never by code: a builder name (``"annoy"``), a mapping, or
a TOML file with the same keys::

    memtable_max_records = 5000
    merge_fanout = 4
    [[tiers]]
    builder = "exact"
    max_records = 20000
    [[tiers]]
    builder = "annoy"
    build = { n_trees = 50 }
    query = { search_k = 4000 }

Merges (and the index builds of flushed slabs) run on a background thread per index unless
``background_merges = false``, which runs them inline for deterministic experiments.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from .engine import SlabBuilder
from .errors import InvalidArgumentError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_MEMTABLE_MAX_RECORDS = 10_000
DEFAULT_MERGE_FANOUT = 4
_ENGINE_KEYS = {"memtable_max_records", "merge_fanout", "tiers", "background_merges"}
_TIER_KEYS = {"builder", "max_records", "build", "query"}


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class TierConfig:
    """One size tier: slabs of up to ``max_records`` rows are built by ``builder``."""

    builder: str
    max_records: int | None = None
    build: Mapping[str, Any] = field(default_factory=lambda: _frozen({}))
    query: Mapping[str, Any] = field(default_factory=lambda: _frozen({}))

    def to_dict(self) -> dict[str, Any]:
        return {"builder": self.builder, "max_records": self.max_records, "build": dict(self.build),
                "query": dict(self.query)}


@dataclass(frozen=True)
class EngineConfig:
    """How an index turns its memtable into slabs and merges them."""

    tiers: tuple[TierConfig, ...] = (TierConfig("exact"),)
    memtable_max_records: int = DEFAULT_MEMTABLE_MAX_RECORDS
    merge_fanout: int = DEFAULT_MERGE_FANOUT
    background_merges: bool = True

    @classmethod
    def parse(cls, spec: Any) -> EngineConfig:
        """Build a config from None, a builder name, a TOML path, a mapping or a config."""
        if spec is None:
            return cls()
        if isinstance(spec, EngineConfig):
            return spec
        if isinstance(spec, Path) or (isinstance(spec, str) and spec.endswith(".toml")):
            path = Path(spec)
            if not path.is_file():
                raise InvalidArgumentError(f"engine config file {str(path)!r} does not exist", path="engine")
            with path.open("rb") as handle:
                try:
                    return cls.from_dict(tomllib.load(handle))
                except tomllib.TOMLDecodeError as exc:
                    raise InvalidArgumentError(f"{path}: {exc}", path="engine") from None
        if isinstance(spec, str):
            return cls(tiers=(TierConfig(spec),))
        if isinstance(spec, Mapping):
            return cls.from_dict(spec)
        raise InvalidArgumentError(
            f"engine must be a builder name, a TOML path or a mapping, got {type(spec).__name__}", path="engine"
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EngineConfig:
        """Validate a mapping; an error names the bad key."""
        unknown = set(data) - _ENGINE_KEYS
        if unknown:
            raise InvalidArgumentError(f"unknown key(s) {sorted(unknown)}; known: {sorted(_ENGINE_KEYS)}", path="engine")
        memtable = data.get("memtable_max_records", DEFAULT_MEMTABLE_MAX_RECORDS)
        fanout = data.get("merge_fanout", DEFAULT_MERGE_FANOUT)
        _check_int(memtable, 1, "engine.memtable_max_records")
        _check_int(fanout, 2, "engine.merge_fanout")
        background = data.get("background_merges", True)
        if not isinstance(background, bool):
            raise InvalidArgumentError("must be true or false", path="engine.background_merges")
        raw_tiers = data.get("tiers", [{"builder": "exact"}])
        if isinstance(raw_tiers, (str, Mapping)) or not raw_tiers:
            raise InvalidArgumentError("must be a non-empty list of tiers", path="engine.tiers")
        tiers = tuple(_parse_tier(t, f"engine.tiers[{i}]") for i, t in enumerate(raw_tiers))
        for i, tier in enumerate(tiers[:-1]):
            if tier.max_records is None:
                raise InvalidArgumentError("every tier but the last needs max_records", path=f"engine.tiers[{i}]")
        sizes = [t.max_records for t in tiers if t.max_records is not None]
        if sizes != sorted(sizes):
            raise InvalidArgumentError("tiers must be listed by increasing max_records", path="engine.tiers")
        return cls(tiers, memtable, fanout, background)

    def tier_for(self, rows: int) -> int:
        """Return the position of the first tier whose size limit holds ``rows``."""
        for i, tier in enumerate(self.tiers):
            if tier.max_records is None or rows <= tier.max_records:
                return i
        return len(self.tiers) - 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "memtable_max_records": self.memtable_max_records,
            "merge_fanout": self.merge_fanout,
            "background_merges": self.background_merges,
            "tiers": [t.to_dict() for t in self.tiers],
        }


def check_engine(
    engine: EngineConfig, builders: Mapping[str, type[SlabBuilder]], metric: str, vector_type: str
) -> None:
    """Refuse an engine that cannot serve an index of ``metric`` and ``vector_type``.

    Every tier must name a registered builder that supports the metric and the vector type,
    its ``build`` table must be accepted by the builder's ``__init__`` and its ``query`` table
    may only name parameters of the builder's ``query_defaults``, with values its
    ``query_params`` dataclass accepts.
    """
    for i, tier in enumerate(engine.tiers):
        path = f"engine.tiers[{i}]"
        builder = builders.get(tier.builder)
        if builder is None:
            raise InvalidArgumentError(f"unknown slab builder {tier.builder!r}; registered: {sorted(builders)}",
                                       path=f"{path}.builder")
        if metric not in builder.metrics:
            raise InvalidArgumentError(
                f"builder {tier.builder!r} does not support metric {metric!r} (it supports "
                f"{sorted(builder.metrics)})", path=f"{path}.builder")
        if vector_type not in builder.vector_types:
            raise InvalidArgumentError(
                f"builder {tier.builder!r} does not support {vector_type} indexes (it supports "
                f"{sorted(builder.vector_types)})", path=f"{path}.builder")
        try:
            builder(**dict(tier.build))
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"bad build parameters for {tier.builder!r}: {exc.message}",
                                       path=f"{path}.build") from None
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"bad build parameters for {tier.builder!r}: {exc}",
                                       path=f"{path}.build") from None
        unknown = set(tier.query) - set(builder.query_defaults)
        if unknown:
            raise InvalidArgumentError(
                f"builder {tier.builder!r} takes no query parameter(s) {sorted(unknown)}; it takes "
                f"{sorted(builder.query_defaults) or 'none'}", path=f"{path}.query")
        try:  # the values too, once, by the engine's query_params dataclass
            builder.check_query_params(tier.query)
        except (InvalidArgumentError, TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"bad query parameters for {tier.builder!r}: {exc}",
                                       path=f"{path}.query") from None


def _check_int(value: Any, low: int, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidArgumentError(f"must be an integer >= {low}, got {value!r}", path=path)


def _parse_tier(raw: Any, path: str) -> TierConfig:
    if isinstance(raw, str):
        return TierConfig(raw)
    if not isinstance(raw, Mapping):
        raise InvalidArgumentError("a tier must be a builder name or a mapping", path=path)
    unknown = set(raw) - _TIER_KEYS
    if unknown:
        raise InvalidArgumentError(f"unknown key(s) {sorted(unknown)}; known: {sorted(_TIER_KEYS)}", path=path)
    builder = raw.get("builder")
    if not isinstance(builder, str) or not builder:
        raise InvalidArgumentError("needs a builder name", path=f"{path}.builder")
    max_records = raw.get("max_records")
    if max_records is not None:
        _check_int(max_records, 1, f"{path}.max_records")
    for key in ("build", "query"):
        if not isinstance(raw.get(key, {}), Mapping):
            raise InvalidArgumentError("must be a mapping of parameters", path=f"{path}.{key}")
    return TierConfig(builder, max_records, _frozen(raw.get("build", {})), _frozen(raw.get("query", {})))
