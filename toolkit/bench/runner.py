"""One benchmark task: build one engine configuration on one dataset, then run its workloads.

A task is the unit of distributed work (one per dataset × engine × build params), so each
index is loaded once and every query-parameter set and filter set is measured on it. Timing
protocol of a query workload: the engine's warm_up() (JIT compile) and one untimed build
come first; then ``repeats`` timed rebuilds of the same records, and ``repeats`` timed passes
over the queries per parameter set and filter (after ``warmup`` untimed queries). Rows carry
the median of each timing with its ``_min``/``_max``. Runbooks run once (their timeline is the
measurement). Tasks return plain rows (dicts); nothing here prints or writes files.
"""

from __future__ import annotations

import logging
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..datasets import Dataset, FilterSet, GroundTruth, row_distances
from ..datasets.groundtruth import distance_matrix, top_k
from .config import WorkloadConfig
from .metrics import query_summary, recall_at_k, repeated_summary, spread

log = logging.getLogger(__name__)
MAX_REQUEST_BYTES = 2_000_000  # the reference service's upsert request limit
MAX_IDS_PER_DELETE = 1000
_DISTANCES_IN_MEMORY = 30_000_000  # runbook ground truth: keep query × train distances below this


def params_label(params: Mapping[str, Any]) -> str:
    """Return ``a=1, b=2`` for a parameter mapping (empty for none)."""
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


@dataclass(frozen=True)
class Task:
    """One dataset × engine × build params, with everything to measure on the built index."""

    dataset: str  # the dataset's label (repr of its source)
    engine: str
    build: Mapping[str, Any]
    queries: tuple[Mapping[str, Any], ...]
    filters: tuple[str, ...]  # filter-set names; "none" = unfiltered
    workloads: tuple[WorkloadConfig, ...]
    k: int = 10
    warmup: int = 10
    batch_size: int = 500
    progress: bool = False
    repeats: int = 3  # timed builds and timed passes over the queries (median and min-max are reported)

    @property
    def build_label(self) -> str:
        return f"{self.engine}({params_label(self.build)})"


@dataclass
class TaskResult:
    rows: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)


def run_task(task: Task, dataset: Dataset, truths: Mapping[str, GroundTruth], plugins: Sequence[object] = ()) -> TaskResult:
    """Run every workload of a task; a failure becomes a row with an ``error`` instead of an exception."""
    result = TaskResult()
    warm_up(task.engine, plugins)
    for workload in task.workloads:
        try:
            if workload.kind == "query":
                # The memtable never fills during the load; compact() then builds one slab with the engine.
                with _bench_index(task, dataset, plugins, dataset.n + 1, 2, None) as index:
                    _query_workload(task, dataset, truths, workload, index, result)
            else:
                configs = {"all": task.queries, "first": task.queries[:1], "last": task.queries[-1:]}[workload.configs]
                memtable = workload.memtable_max_records or max(50, dataset.n // 10)
                for query_params in configs:
                    with _bench_index(task, dataset, plugins, memtable, workload.merge_fanout, workload) as index:
                        _runbook_workload(task, dataset, workload, query_params, index, result)
        except Exception as exc:  # noqa: BLE001 - one broken engine must not sink the sweep
            log.error("%s on %s (%s) failed: %s", task.build_label, dataset.name, workload.name, exc)
            log.debug("%s", traceback.format_exc())
            result.rows.append(_base_row(task, dataset, workload.name, {}, "none") | {"error": f"{type(exc).__name__}: {exc}"})
    return result


# -- shared pieces -----------------------------------------------------------------------------
def warm_up(engine: str, plugins: Sequence[object] = ()) -> float:
    """Let a builder pay its one-off per-process costs (JIT compiles); return the seconds it took.

    The first call in a process measures the one-time compile (or the load from numba's
    on-disk cache); later calls cost next to nothing.
    """
    from .. import Client

    builder = Client(plugins=plugins).builders().get(engine)
    method = getattr(builder, "warm_up", None)
    if method is None:
        return 0.0
    started = time.perf_counter()
    method()
    seconds = time.perf_counter() - started
    log.debug("warmed up %s in %.1f s", engine, seconds)
    return seconds


def _base_row(task: Task, dataset: Dataset, workload: str, query_params: Mapping[str, Any], filter_name: str
              ) -> dict[str, Any]:
    label = task.build_label + (f" {params_label(query_params)}" if query_params else "")
    return {
        "run_id": f"{dataset.name} | {label} | {filter_name} | {workload}",
        "dataset": dataset.name,
        "vector_type": dataset.vector_type,
        "metric": dataset.metric,
        "n": dataset.n,
        "dimension": dataset.dimension if dataset.dimension is not None else dataset.train.shape[1],
        "engine": task.engine,
        "build": task.build_label,
        "build_params": dict(task.build),
        "query_params": dict(query_params),
        "label": label,
        "filter": filter_name,
        "workload": workload,
        "k": task.k,
        "error": "",
    }


@contextmanager
def _bench_index(task: Task, dataset: Dataset, plugins: Sequence[object], memtable: int, fanout: int,
                 workload: WorkloadConfig | None) -> Iterator[Any]:
    """Yield a fresh index holding nothing, in a client of its own (closed afterwards)."""
    from .. import Client

    client_options: dict[str, Any] = {}
    engine: dict[str, Any] = {"memtable_max_records": memtable, "merge_fanout": fanout,
                              "tiers": [{"builder": task.engine, "build": dict(task.build)}]}
    if workload is not None:
        if workload.background_merges is not None:
            engine["background_merges"] = workload.background_merges
        if workload.consistency != "strong":
            client_options = {"consistency": workload.consistency, "apply_delay": workload.apply_delay}
    client = Client(plugins=plugins, **client_options)
    kwargs: dict[str, Any] = {"metric": dataset.metric, "engine": engine, "vector_type": dataset.vector_type}
    if dataset.vector_type == "dense":
        kwargs["dimension"] = dataset.dimension
    try:
        client.create_index(name="bench", **kwargs)
        yield client.Index("bench")
    finally:
        close = getattr(client, "close", None)
        if close is not None:
            close()


def _batch_size(task: Task, dataset: Dataset) -> int:
    per_record = dataset.record_bytes()
    return max(1, min(task.batch_size, 1000, MAX_REQUEST_BYTES // per_record))


def _upsert(index: Any, dataset: Dataset, rows: range | np.ndarray, batch: int, progress: bool = False,
            desc: str = "upsert") -> tuple[list[int], float]:
    """Upsert train rows in requests of ``batch``; return the write units of each request and the time."""
    rows = np.asarray(rows)
    units: list[int] = []
    started = time.perf_counter()
    for start in tqdm(range(0, len(rows), batch), desc=desc, unit="req", leave=False, disable=not progress):
        response = index.upsert(vectors=dataset.records(rows[start : start + batch]), show_progress=False)
        units.append(int(response.usage.write_units or 0))
    return units, time.perf_counter() - started


def _usage_since(index: Any, first: int, operation: str) -> Any:
    frame = index.usage(raw=True).iloc[first:]
    return frame[frame["operation"] == operation]


def _ledger_size(index: Any) -> int:
    return len(index.usage(raw=True))


def _run_queries(index: Any, dataset: Dataset, k: int, query_rows: np.ndarray, search_params: Mapping[str, Any],
                 filter_set: FilterSet | None, warmup: int, progress: bool, desc: str
                 ) -> tuple[np.ndarray, list[np.ndarray], np.ndarray, np.ndarray]:
    """Time each query; return latencies (s), the returned train rows, start times and max_indexed_lsn."""
    params = dict(search_params) or None
    for i in query_rows[:warmup]:  # untimed: JIT compilation, caches
        index.query(top_k=k, filter=None if filter_set is None else filter_set.filters[i], search_params=params,
                    **dataset.query_arguments(int(i)))
    latencies = np.empty(len(query_rows))
    starts = np.empty(len(query_rows))
    lsns = np.empty(len(query_rows), dtype=np.int64)
    returned: list[np.ndarray] = []
    row_of = dataset.row_of
    for j, i in enumerate(tqdm(query_rows, desc=desc, unit="q", leave=False, disable=not progress)):
        args = dataset.query_arguments(int(i))
        flt = None if filter_set is None else filter_set.filters[i]
        t0 = time.perf_counter()
        response = index.query(top_k=k, filter=flt, search_params=params, **args)
        latencies[j] = time.perf_counter() - t0
        starts[j] = t0
        lsns[j] = int(getattr(response, "max_indexed_lsn", 0) or 0)
        returned.append(np.array([row_of[m.id] for m in response.matches], dtype=np.int64))
    return latencies, returned, starts, lsns


def _recalls(dataset: Dataset, k: int, query_rows: np.ndarray, returned: list[np.ndarray], truth: GroundTruth,
             allowed: np.ndarray | None) -> np.ndarray:
    """Score results against the truth; a returned row the query may not see counts as +inf."""
    run = []
    for j, i in enumerate(query_rows):
        rows = returned[j]
        dist = row_distances(dataset, int(i), rows)
        if allowed is not None:
            dist = np.where(allowed[j][rows], dist, np.inf)
        run.append(dist)
    return recall_at_k(truth.distances, run, k)


# -- the query-only workload -------------------------------------------------------------------
def _query_workload(task: Task, dataset: Dataset, truths: Mapping[str, GroundTruth], workload: WorkloadConfig,
                    index: Any, result: TaskResult) -> None:
    write_units, ingest = _upsert(index, dataset, range(dataset.n), _batch_size(task, dataset),
                                  progress=task.progress, desc=f"load {task.build_label}")
    # The first build is a warm-up (any kernel the engine's warm_up() did not compile is compiled
    # here); then the same records are rebuilt ``repeats`` times, each timed.
    first_build = _timed(lambda: index.compact(show_progress=task.progress))
    builds = [_timed(lambda: index.rebuild(show_progress=task.progress)) for _ in range(task.repeats)]
    slabs = index.describe_slabs()
    common = {
        "ingest_seconds": ingest,
        "repeats": task.repeats,
        **spread(builds, "build_seconds"),
        "first_build_seconds": first_build,
        "index_bytes": float(slabs["index_bytes"].sum()),
        "slabs": len(slabs),
        "namespace_bytes": float(index.namespace_bytes()),
        "write_units_per_upsert": float(np.mean(write_units)) if write_units else float("nan"),
    }
    n_queries = dataset.n_queries if workload.n_queries is None else min(workload.n_queries, dataset.n_queries)
    query_rows = np.arange(n_queries)
    for query_params in task.queries:
        for filter_name in task.filters:
            row = _base_row(task, dataset, workload.name, query_params, filter_name) | common
            filter_set = None if filter_name == "none" else dataset.filter_set(filter_name)
            row["selectivity"] = 1.0 if filter_set is None else filter_set.selectivity
            try:
                first = _ledger_size(index)
                passes = []
                for number in range(task.repeats):  # the warm-up queries run before the first pass only
                    passes.append(_run_queries(
                        index, dataset, task.k, query_rows, query_params, filter_set,
                        task.warmup if number == 0 else 0, task.progress,
                        desc=f"{row['label']} [{filter_name}] {number + 1}/{task.repeats}"))
            except Exception as exc:  # noqa: BLE001 - e.g. a query parameter the engine does not take
                log.error("%s: %s", row["run_id"], exc)
                result.rows.append(row | {"error": f"{type(exc).__name__}: {exc}"})
                continue
            truth = truths[filter_name]
            allowed = None if filter_set is None else filter_set.masks[query_rows]
            returned = passes[-1][1]
            recalls = _recalls(dataset, task.k, query_rows, returned, _subset(truth, query_rows), allowed)
            usage = _usage_since(index, first, "query").tail(len(query_rows))
            row |= repeated_summary(recalls, [latencies for latencies, _, _, _ in passes])
            row |= {
                "queries": len(query_rows),
                "read_units_per_query": float(usage["read_units"].mean()),
                "distance_computations_per_query": float(usage["distance_computations"].mean()),
                "bytes_scanned_per_query": float(usage["bytes_scanned"].mean()),
            }
            result.rows.append(row)


def _timed(action: Any) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _subset(truth: GroundTruth, rows: np.ndarray) -> GroundTruth:
    return GroundTruth(truth.neighbors[rows], truth.distances[rows])


# -- runbooks ----------------------------------------------------------------------------------
class _LiveTruth:
    """Exact top-k of the runbook's queries over whichever rows are live right now."""

    def __init__(self, dataset: Dataset, query_rows: np.ndarray, k: int) -> None:
        self.dataset, self.query_rows, self.k = dataset, query_rows, k
        small = len(query_rows) * dataset.n <= _DISTANCES_IN_MEMORY
        self.matrix = distance_matrix(dataset, query_rows) if small else None

    def __call__(self, live: np.ndarray) -> GroundTruth:
        if self.matrix is not None:
            return top_k(self.matrix, self.k, live[None, :])
        parts = [top_k(distance_matrix(self.dataset, self.query_rows[i : i + 16]), self.k, live[None, :])
                 for i in range(0, len(self.query_rows), 16)]
        return GroundTruth(np.concatenate([p.neighbors for p in parts]), np.concatenate([p.distances for p in parts]))


def _runbook_workload(task: Task, dataset: Dataset, workload: WorkloadConfig, query_params: Mapping[str, Any],
                      index: Any, result: TaskResult) -> None:
    row = _base_row(task, dataset, workload.name, query_params, "none")
    n_queries = dataset.n_queries if workload.n_queries is None else min(workload.n_queries, dataset.n_queries)
    query_rows = np.arange(n_queries)
    truth_of = _LiveTruth(dataset, query_rows, task.k)
    live = np.zeros(dataset.n, dtype=bool)
    batch = _batch_size(task, dataset)
    events: list[dict[str, Any]] = []
    all_latencies: list[np.ndarray] = []
    all_recalls: list[np.ndarray] = []
    all_stale: list[np.ndarray] = []
    upsert_units: list[int] = []
    delete_units: list[int] = []
    last_lsn = 0
    origin, origin_wall = time.perf_counter(), time.time()
    memtable_rows = [_memtable_rows(index)]
    base = {"run_id": row["run_id"], "dataset": dataset.name, "engine": task.engine, "label": row["label"],
            "workload": workload.name}

    def note_flush(step: int, added: int = 0) -> None:
        """Record a flush: the memtable holds fewer rows than the write left in it."""
        now_rows = _memtable_rows(index)
        if now_rows < memtable_rows[0] + added:
            events.append(base | {"kind": "flush", "step": step, "t": time.perf_counter() - origin})
        memtable_rows[0] = now_rows

    steps = tqdm(workload.steps, desc=f"runbook {row['label']}", unit="step", leave=False, disable=not task.progress)
    for number, step in enumerate(steps):
        t_start = time.perf_counter() - origin
        if step.op == "insert":
            rows = np.asarray(step.rows(dataset.n))
            for start in range(0, len(rows), batch):
                part = rows[start : start + batch]
                response = index.upsert(vectors=dataset.records(part), show_progress=False)
                upsert_units.append(int(response.usage.write_units or 0))
                last_lsn = max(last_lsn, int(getattr(response, "lsn", 0) or 0))
                live[part] = True
                note_flush(number, len(part))
        elif step.op == "delete":
            rows = np.asarray(step.rows(dataset.n))
            ids = dataset.record_ids[rows].tolist()
            for start in range(0, len(ids), MAX_IDS_PER_DELETE):
                response = index.delete(ids=ids[start : start + MAX_IDS_PER_DELETE])
                delete_units.append(int(response.usage.write_units or 0))
                last_lsn = max(last_lsn, int(getattr(response, "lsn", 0) or 0))
            live[rows] = False
        elif step.op in ("flush", "compact"):
            index.flush() if step.op == "flush" else index.compact(show_progress=False)
            note_flush(number)
        else:
            first = _ledger_size(index)
            latencies, returned, starts, lsns = _run_queries(index, dataset, task.k, query_rows, query_params, None,
                                                             0 if all_latencies else task.warmup, False, "")
            truth = truth_of(live)
            allowed = np.broadcast_to(live, (len(query_rows), dataset.n))
            recalls = _recalls(dataset, task.k, query_rows, returned, truth, allowed)
            usage = _usage_since(index, first, "query").tail(len(query_rows))
            lag = np.maximum(0, last_lsn - lsns)  # writes acknowledged but not yet visible to the query
            all_latencies.append(latencies)
            all_recalls.append(recalls)
            all_stale.append(lag > 0)
            for t, latency, recall, behind in zip(starts - origin, latencies, recalls, lag):
                events.append(base | {"kind": "query", "step": number, "t": float(t), "latency_ms": 1e3 * latency,
                                      "recall": float(recall), "lsn_lag": int(behind)})
            events.append(base | {
                "kind": "search", "step": number, "t": t_start, "live_rows": int(live.sum()),
                "namespace_bytes": float(index.namespace_bytes()), "recall": float(recalls.mean()),
                "latency_ms": 1e3 * float(np.median(latencies)), "lsn_lag": float(lag.mean()),
                "read_units": float(usage["read_units"].mean()),
                "bytes_scanned": float(usage["bytes_scanned"].mean()),
                "slabs": len(index.describe_slabs()),
            })
            continue
        events.append(base | {"kind": step.op, "step": number, "t": t_start,
                              "seconds": time.perf_counter() - origin - t_start, "live_rows": int(live.sum())})
    wait = getattr(index, "wait_for_merges", None)
    if wait is not None:
        wait()
    events.extend(_merge_events(index, base, origin_wall))
    latencies = np.concatenate(all_latencies) if all_latencies else np.empty(0)
    recalls = np.concatenate(all_recalls) if all_recalls else np.empty(0)
    searches = [e for e in events if e["kind"] == "search"]
    slabs = index.describe_slabs()
    row |= query_summary(recalls, latencies)
    row |= {
        "queries": len(latencies),
        "selectivity": 1.0,
        "ingest_seconds": float(sum(e["seconds"] for e in events if e["kind"] == "insert")),
        "build_seconds": float(sum(e.get("seconds", 0.0) for e in events if e["kind"] in MERGE_KINDS)),
        "namespace_bytes": float(index.namespace_bytes()),
        "index_bytes": float(slabs["index_bytes"].sum()),
        "slabs": len(slabs),
        "flushes": sum(e["kind"] == "flush" for e in events),
        "merges": sum(e["kind"] in ("merge", "compact merge") for e in events),
        "stale_share": float(np.concatenate(all_stale).mean()) if all_stale else float("nan"),
        "write_units_per_upsert": float(np.mean(upsert_units)) if upsert_units else float("nan"),
        "write_units_per_delete": float(np.mean(delete_units)) if delete_units else float("nan"),
        "read_units_per_query": float(np.mean([e["read_units"] for e in searches])) if searches else float("nan"),
        "bytes_scanned_per_query": float(np.mean([e["bytes_scanned"] for e in searches])) if searches else float("nan"),
    }
    result.rows.append(row)
    result.timeline.extend(events)


# describe_merges() job kinds -> timeline event kinds
_MERGE_KIND = {"build": "slab build", "merge": "merge", "compact": "compact merge", "rebuild": "rebuild"}
MERGE_KINDS = tuple(_MERGE_KIND.values())


def _memtable_rows(index: Any) -> int:
    memtables = index.describe_slabs().attrs.get("memtables", [])
    return sum(int(m.get("memtable_rows", 0)) for m in memtables)


def _merge_events(index: Any, base: dict[str, Any], origin_wall: float) -> list[dict[str, Any]]:
    """Return the index's slab builds and merges (``describe_merges``) as timeline events."""
    describe = getattr(index, "describe_merges", None)
    if describe is None:
        return []
    events = []
    for record in describe().to_dict("records"):
        if record.get("outcome", "done") != "done":
            continue
        end = float(record["finished_at"]) - origin_wall
        events.append(base | {"kind": _MERGE_KIND.get(record["kind"], str(record["kind"])), "t": end,
                              "seconds": float(record["build_seconds"]), "level": int(record["level"]),
                              "live_rows": int(record["rows_out"])})
    return events
