"""Sweep configuration: plain data (TOML or a dict) validated into frozen dataclasses.

A sweep is datasets × engines × build params × query params × filters × workloads::

    name = "mine"
    k = 10
    filters = ["none", "tag@*"]            # filter-set names or glob patterns; "none" = unfiltered
    repeats = 3                             # timed builds and query passes per point (median, min-max)

    [[datasets]]
    name = "clustered"                      # any registered dataset; other keys are its parameters
    n = 10000

    [[engines]]
    name = "annoy"                          # a registered slab builder
    build = { n_trees = [10, 50] }          # a table of lists is a grid; an array of tables is a list
    query = { search_k = [100, 1000] }

    [[workloads]]
    kind = "runbook"                        # "query" (the default) or "runbook"
    runbook = "streaming"                   # a generated runbook, or explicit steps = [{op = ...}]
    memtable_max_records = 1000             # runbook-only: flush size, merge_fanout, background_merges,
    consistency = "eventual"                #   consistency + apply_delay (freshness), configs = "first"|"last"|"all"
    apply_delay = 0.05

Every error names the offending key, e.g. ``engines[1].build.n_trees: must be ...``.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import tomli_w

from ..errors import InvalidArgumentError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SWEEPS_DIR = Path(__file__).resolve().parent / "sweeps"
_SWEEP_KEYS = {"name", "description", "k", "filters", "datasets", "engines", "workloads", "warmup", "batch_size",
               "cache_dir", "seed", "repeats"}
_ENGINE_KEYS = {"name", "build", "query", "datasets", "label"}
_WORKLOAD_KEYS = {"name", "kind", "datasets", "runbook", "steps", "batches", "delete_fraction",
                  "memtable_max_records", "merge_fanout", "n_queries", "configs", "background_merges",
                  "consistency", "apply_delay"}
_STEP_KEYS = {"op", "start", "end"}
STEP_OPS = ("insert", "delete", "search", "flush", "compact")
RUNBOOKS = ("streaming",)


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


def _fail(message: str, path: str) -> InvalidArgumentError:
    return InvalidArgumentError(message, path=path)


def _check_keys(raw: Any, known: set[str], path: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise _fail(f"must be a table, got {type(raw).__name__}", path)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise _fail(f"unknown key {unknown[0]!r}; known: {sorted(known)}", f"{path}.{unknown[0]}" if path else unknown[0])
    return raw


def _int(raw: Any, low: int, path: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < low:
        raise _fail(f"must be an integer >= {low}, got {raw!r}", path)
    return raw


def _names(raw: Any, path: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, (list, tuple)) or not all(isinstance(x, str) and x for x in raw):
        raise _fail("must be a list of names", path)
    return tuple(raw)


def expand_grid(raw: Any, path: str) -> tuple[Mapping[str, Any], ...]:
    """Expand a parameter grid: a table of lists is a cartesian product, an array of tables a union."""
    if raw is None:
        return (_frozen({}),)
    tables = raw if isinstance(raw, (list, tuple)) else [raw]
    if not tables:
        raise _fail("must hold at least one parameter table", path)
    out: list[Mapping[str, Any]] = []
    for i, table in enumerate(tables):
        where = f"{path}[{i}]" if isinstance(raw, (list, tuple)) else path
        if not isinstance(table, Mapping):
            raise _fail(f"must be a table of parameters, got {type(table).__name__}", where)
        keys = list(table)
        choices = []
        for key in keys:
            value = table[key]
            if not isinstance(key, str) or not key.isidentifier():
                raise _fail("parameter names must be identifiers", f"{where}.{key}")
            values = list(value) if isinstance(value, (list, tuple)) else [value]
            if not values:
                raise _fail("an empty list of values leaves nothing to run", f"{where}.{key}")
            choices.append(values)
        out.extend(_frozen(dict(zip(keys, combo))) for combo in itertools.product(*choices))
    return tuple(out)


@dataclass(frozen=True)
class DatasetConfig:
    """A registered dataset and the parameters of its source."""

    name: str
    params: Mapping[str, Any] = field(default_factory=lambda: _frozen({}))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **dict(self.params)}


@dataclass(frozen=True)
class EngineSweep:
    """A slab builder with its grids of build and query parameters."""

    name: str
    build: tuple[Mapping[str, Any], ...] = (_frozen({}),)
    query: tuple[Mapping[str, Any], ...] = (_frozen({}),)
    datasets: tuple[str, ...] | None = None  # restrict to these dataset names; None = every compatible one

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "build": [dict(b) for b in self.build],
                               "query": [dict(q) for q in self.query]}
        if self.datasets is not None:
            out["datasets"] = list(self.datasets)
        return out


@dataclass(frozen=True)
class Step:
    """One runbook step: insert or delete train rows [start, end), search, flush or compact."""

    op: str
    start: int | float | None = None  # an int is a row number, a float a fraction of the dataset
    end: int | float | None = None

    def rows(self, n: int) -> range:
        """Return the train rows the step covers in a dataset of ``n`` rows."""
        def at(x: int | float | None, default: int) -> int:
            if x is None:
                return default
            return min(n, int(round(x * n)) if isinstance(x, float) else x)
        return range(at(self.start, 0), at(self.end, n))

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("op", self.op), ("start", self.start), ("end", self.end)) if v is not None}


@dataclass(frozen=True)
class WorkloadConfig:
    """What an index goes through: only queries, or a runbook of writes and searches."""

    name: str = "queries"
    kind: str = "query"
    datasets: tuple[str, ...] | None = None
    steps: tuple[Step, ...] = ()
    memtable_max_records: int | None = None  # runbooks: None = a tenth of the dataset
    merge_fanout: int = 4
    n_queries: int | None = None  # queries per search step (None = all)
    configs: str = "first"  # runbooks: the "first" or "last" query-param set of each build, or "all"
    background_merges: bool | None = None  # runbooks: build slabs off the write path (None: the engine default)
    consistency: str = "strong"  # runbooks: "eventual" applies writes apply_delay seconds after their ack
    apply_delay: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.datasets is not None:
            out["datasets"] = list(self.datasets)
        if self.kind == "runbook":
            out.update(steps=[s.to_dict() for s in self.steps], merge_fanout=self.merge_fanout, configs=self.configs,
                       consistency=self.consistency, apply_delay=self.apply_delay)
            if self.memtable_max_records is not None:
                out["memtable_max_records"] = self.memtable_max_records
            if self.background_merges is not None:
                out["background_merges"] = self.background_merges
        if self.n_queries is not None:
            out["n_queries"] = self.n_queries
        return out


def streaming_runbook(batches: int = 8, delete_fraction: float = 0.25) -> tuple[Step, ...]:
    """Return a runbook that inserts the data in batches, deleting part of the batch before last.

    After each batch it searches; then it deletes the oldest ``delete_fraction`` of the
    previous batch and searches again; at the end it compacts and searches once more.
    """
    steps: list[Step] = []
    for b in range(batches):
        steps += [Step("insert", b / batches, (b + 1) / batches), Step("search")]
        if b >= 1 and delete_fraction > 0:
            start = (b - 1) / batches
            steps += [Step("delete", start, start + delete_fraction / batches), Step("search")]
    steps += [Step("compact"), Step("search")]
    return tuple(steps)


def _parse_steps(raw: Any, path: str) -> tuple[Step, ...]:
    if not isinstance(raw, (list, tuple)) or not raw:
        raise _fail("must be a non-empty array of steps", path)
    steps = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        item = _check_keys(item, _STEP_KEYS, where)
        op = item.get("op")
        if op == "upsert":
            op = "insert"
        if op not in STEP_OPS:
            raise _fail(f"must be one of {list(STEP_OPS)}, got {op!r}", f"{where}.op")
        bounds = {}
        for key in ("start", "end"):
            value = item.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or value < 0 or (isinstance(value, float) and value > 1)):
                raise _fail("must be a row number (int) or a fraction in [0, 1] (float)", f"{where}.{key}")
            bounds[key] = value
        if op in ("insert", "delete") and bounds["end"] is None:
            raise _fail(f"an {op} step needs an end", f"{where}.end")
        if op not in ("insert", "delete") and (bounds["start"] is not None or bounds["end"] is not None):
            raise _fail(f"a {op} step takes no start or end", where)
        steps.append(Step(op, bounds["start"], bounds["end"]))
    return tuple(steps)


def _parse_workload(raw: Any, path: str) -> WorkloadConfig:
    raw = _check_keys(raw, _WORKLOAD_KEYS, path)
    kind = raw.get("kind", "query")
    if kind not in ("query", "runbook"):
        raise _fail(f"must be 'query' or 'runbook', got {kind!r}", f"{path}.kind")
    name = raw.get("name", "queries" if kind == "query" else raw.get("runbook", "runbook"))
    if not isinstance(name, str) or not name:
        raise _fail("must be a non-empty string", f"{path}.name")
    datasets = _names(raw["datasets"], f"{path}.datasets") if "datasets" in raw else None
    n_queries = _int(raw["n_queries"], 1, f"{path}.n_queries") if "n_queries" in raw else None
    runbook_only = ("runbook", "steps", "batches", "delete_fraction", "memtable_max_records", "merge_fanout",
                    "configs", "background_merges", "consistency", "apply_delay")
    if kind == "query":
        extra = [k for k in runbook_only if k in raw]
        if extra:
            raise _fail("only runbook workloads take this key", f"{path}.{extra[0]}")
        return WorkloadConfig(name, kind, datasets, n_queries=n_queries)
    if ("runbook" in raw) == ("steps" in raw):
        raise _fail("a runbook workload needs either runbook = \"streaming\" or steps = [...]", path)
    if "steps" in raw:
        for key in ("batches", "delete_fraction"):
            if key in raw:
                raise _fail("only generated runbooks take this key", f"{path}.{key}")
        steps = _parse_steps(raw["steps"], f"{path}.steps")
    else:
        if raw["runbook"] not in RUNBOOKS:
            raise _fail(f"must be one of {list(RUNBOOKS)}, got {raw['runbook']!r}", f"{path}.runbook")
        batches = _int(raw.get("batches", 8), 1, f"{path}.batches")
        fraction = raw.get("delete_fraction", 0.25)
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction <= 1:
            raise _fail(f"must be a number in [0, 1], got {fraction!r}", f"{path}.delete_fraction")
        steps = streaming_runbook(batches, float(fraction))
    memtable = raw.get("memtable_max_records")
    if memtable is not None:
        _int(memtable, 1, f"{path}.memtable_max_records")
    fanout = _int(raw.get("merge_fanout", 4), 2, f"{path}.merge_fanout")
    configs = raw.get("configs", "first")
    if configs not in ("first", "last", "all"):
        raise _fail(f"must be 'first', 'last' or 'all', got {configs!r}", f"{path}.configs")
    background = raw.get("background_merges")
    if background is not None and not isinstance(background, bool):
        raise _fail("must be true or false", f"{path}.background_merges")
    consistency = raw.get("consistency", "strong")
    if consistency not in ("strong", "eventual"):
        raise _fail(f"must be 'strong' or 'eventual', got {consistency!r}", f"{path}.consistency")
    delay = raw.get("apply_delay", 0.0)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
        raise _fail(f"must be a number of seconds >= 0, got {delay!r}", f"{path}.apply_delay")
    return WorkloadConfig(name, kind, datasets, steps, memtable, fanout, n_queries, configs, background,
                          consistency, float(delay))


@dataclass(frozen=True)
class SweepConfig:
    """A whole sweep; ``SweepConfig.load`` reads TOML, a named sweep, or a mapping."""

    datasets: tuple[DatasetConfig, ...]
    engines: tuple[EngineSweep, ...]
    name: str = "sweep"
    description: str = ""
    k: int = 10
    filters: tuple[str, ...] = ("none",)
    workloads: tuple[WorkloadConfig, ...] = (WorkloadConfig(),)
    warmup: int = 10  # untimed queries before each timed batch (JIT, caches)
    batch_size: int = 500  # records per upsert request (lowered for wide vectors to stay under 2 MB)
    cache_dir: str | None = None  # ground-truth cache; None = $VECTOR_TOOLKIT_CACHE or ~/.cache/vector-toolkit
    seed: int = 0
    repeats: int = 3  # timed builds and timed passes over the queries per point (median and min-max reported)

    @classmethod
    def load(cls, spec: Any) -> SweepConfig:
        """Return a config from a SweepConfig, a mapping, a TOML path or a bundled sweep name."""
        if isinstance(spec, SweepConfig):
            return spec
        if isinstance(spec, Mapping):
            return cls.from_dict(spec)
        if isinstance(spec, (str, Path)):
            path = Path(spec)
            if not path.is_file() and isinstance(spec, str) and (SWEEPS_DIR / f"{spec}.toml").is_file():
                path = SWEEPS_DIR / f"{spec}.toml"
            if not path.is_file():
                bundled = sorted(p.stem for p in SWEEPS_DIR.glob("*.toml"))
                raise InvalidArgumentError(f"no sweep file {str(spec)!r} (bundled sweeps: {bundled})", path="config")
            with path.open("rb") as handle:
                try:
                    data = tomllib.load(handle)
                except tomllib.TOMLDecodeError as exc:
                    raise InvalidArgumentError(f"{path}: {exc}", path="config") from None
            return cls.from_dict(data)
        raise InvalidArgumentError(f"a sweep is a mapping or a TOML path, got {type(spec).__name__}", path="config")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepConfig:
        """Validate a mapping; an error names the bad key."""
        data = _check_keys(data, _SWEEP_KEYS, "")
        raw_datasets = data.get("datasets")
        if not isinstance(raw_datasets, (list, tuple)) or not raw_datasets:
            raise _fail("must be a non-empty array of dataset tables", "datasets")
        datasets = []
        for i, item in enumerate(raw_datasets):
            if isinstance(item, str):
                item = {"name": item}
            if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
                raise _fail("each dataset needs a name", f"datasets[{i}].name")
            datasets.append(DatasetConfig(item["name"], _frozen({k: v for k, v in item.items() if k != "name"})))
        raw_engines = data.get("engines")
        if not isinstance(raw_engines, (list, tuple)) or not raw_engines:
            raise _fail("must be a non-empty array of engine tables", "engines")
        engines = []
        for i, item in enumerate(raw_engines):
            if isinstance(item, str):
                item = {"name": item}
            item = _check_keys(item, _ENGINE_KEYS, f"engines[{i}]")
            if not isinstance(item.get("name"), str) or not item["name"]:
                raise _fail("each engine needs a builder name", f"engines[{i}].name")
            engines.append(EngineSweep(
                item["name"],
                expand_grid(item.get("build"), f"engines[{i}].build"),
                expand_grid(item.get("query"), f"engines[{i}].query"),
                _names(item["datasets"], f"engines[{i}].datasets") if "datasets" in item else None,
            ))
        raw_workloads = data.get("workloads", [{"kind": "query"}])
        if not isinstance(raw_workloads, (list, tuple)) or not raw_workloads:
            raise _fail("must be a non-empty array of workload tables", "workloads")
        workloads = tuple(_parse_workload(w, f"workloads[{i}]") for i, w in enumerate(raw_workloads))
        names = [w.name for w in workloads]
        if len(set(names)) < len(names):
            raise _fail(f"workload names must be unique, got {names}", "workloads")
        cache = data.get("cache_dir")
        if cache is not None and not isinstance(cache, str):
            raise _fail("must be a path string", "cache_dir")
        for key in ("name", "description"):
            if key in data and not isinstance(data[key], str):
                raise _fail("must be a string", key)
        return cls(
            datasets=tuple(datasets),
            engines=tuple(engines),
            name=data.get("name", "sweep"),
            description=data.get("description", ""),
            k=_int(data.get("k", 10), 1, "k"),
            filters=_names(data.get("filters", ["none"]), "filters"),
            workloads=workloads,
            warmup=_int(data.get("warmup", 10), 0, "warmup"),
            batch_size=_int(data.get("batch_size", 500), 1, "batch_size"),
            cache_dir=cache,
            seed=_int(data.get("seed", 0), 0, "seed"),
            repeats=_int(data.get("repeats", 3), 1, "repeats"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the config as plain data (what ``from_dict`` accepts; grids come back expanded)."""
        out: dict[str, Any] = {
            "name": self.name, "description": self.description, "k": self.k, "filters": list(self.filters),
            "warmup": self.warmup, "batch_size": self.batch_size, "seed": self.seed, "repeats": self.repeats,
            "datasets": [d.to_dict() for d in self.datasets],
            "engines": [e.to_dict() for e in self.engines],
            "workloads": [w.to_dict() for w in self.workloads],
        }
        if self.cache_dir is not None:
            out["cache_dir"] = self.cache_dir
        return out

    def with_(self, **changes: Any) -> SweepConfig:
        """Return a copy with some fields changed."""
        from dataclasses import replace

        return replace(self, **changes)


def to_toml(data: Mapping[str, Any]) -> str:
    """Render a config mapping as TOML (with tomli_w, a dependency)."""
    return tomli_w.dumps(_plain(data))


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def matches(name: str, patterns: Sequence[str]) -> bool:
    """Return True when ``name`` matches any of the glob ``patterns``."""
    from fnmatch import fnmatchcase

    return any(fnmatchcase(name, p) for p in patterns)
