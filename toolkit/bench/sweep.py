"""Run a sweep: load datasets, compute ground truth once, fan tasks out (Dask or serially), collect rows.

``run(config)`` returns one row per (dataset, engine, build params, query params, filter,
workload); the runbook timelines ride along in ``frame.attrs["timeline"]`` (a list of dicts)
and the engines or datasets that could not run in ``frame.attrs["skipped"]``.
"""

from __future__ import annotations

import inspect
import logging
import os
import platform
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..datasets import Dataset, GroundTruth, cache_dir, ground_truth, make_source
from ..engine import SlabBuilder
from ..errors import InvalidArgumentError
from .config import SweepConfig, matches
from .metrics import METRICS, SPREAD_METRICS
from .runner import Task, TaskResult, run_task, warm_up

log = logging.getLogger(__name__)
RESULT_COLUMNS = [
    "run_id", "dataset", "vector_type", "metric", "n", "dimension", "engine", "build", "label", "build_params",
    "query_params", "filter", "selectivity", "workload", "k", "queries", "repeats", *[m.name for m in METRICS],
    *[f"{name}_{end}" for name in SPREAD_METRICS for end in ("min", "max")],
    "slabs", "flushes", "merges", "error",
]
# Versions the numbers depend on (distribution names); "not installed" is recorded too.
ENVIRONMENT_PACKAGES = ("numpy", "scipy", "pandas", "annoy", "pynndescent", "numba", "llvmlite", "scikit-learn",
                        "matplotlib", "dask", "distributed", "pyarrow")


def numba_cache() -> None:
    """Point numba's on-disk cache (PyNNDescent's JIT) at the toolkit cache, unless already set."""
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir() / "numba"))


def _check_build_params(builder: type[SlabBuilder], params: Mapping[str, Any], path: str) -> None:
    signature = inspect.signature(builder)
    if any(p.kind == inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()):
        return
    accepted = set(signature.parameters)
    for key in params:
        if key not in accepted:
            raise InvalidArgumentError(f"builder {builder.name!r} has no build parameter {key!r}; it takes "
                                       f"{sorted(accepted)}", path=f"{path}.{key}")


def _check_query_params(builder: type[SlabBuilder], params: Mapping[str, Any], path: str) -> None:
    accepted = set(getattr(builder, "query_defaults", None) or {})
    for key in params:
        if key not in accepted:
            raise InvalidArgumentError(f"builder {builder.name!r} has no query parameter {key!r}; it takes "
                                       f"{sorted(accepted) or 'none'}", path=f"{path}.{key}")


def plan(config: SweepConfig, datasets: Sequence[Dataset], builders: Mapping[str, type[SlabBuilder]],
         progress: bool = False) -> tuple[list[Task], list[dict[str, str]]]:
    """Return the tasks of a sweep and what was skipped (with the reason)."""
    tasks: list[Task] = []
    skipped: list[dict[str, str]] = []
    for e, engine in enumerate(config.engines):
        builder = builders.get(engine.name)
        if builder is None:
            reason = f"engine {engine.name!r} is not installed (registered: {sorted(builders)})"
            log.warning("skipping engine %r: not installed (registered: %s)", engine.name, sorted(builders))
            skipped.append({"engine": engine.name, "dataset": "*", "reason": reason})
            continue
        for b, build in enumerate(engine.build):
            _check_build_params(builder, build, f"engines[{e}].build" + (f"[{b}]" if len(engine.build) > 1 else ""))
        for q, query in enumerate(engine.query):
            _check_query_params(builder, query, f"engines[{e}].query" + (f"[{q}]" if len(engine.query) > 1 else ""))
        for entry, dataset in zip(config.datasets, datasets):
            if engine.datasets is not None and not (matches(entry.name, engine.datasets)
                                                    or matches(dataset.name, engine.datasets)):
                continue
            reason = ""
            if dataset.vector_type not in builder.vector_types:
                reason = f"{engine.name} does not index {dataset.vector_type} vectors"
            elif dataset.metric not in builder.metrics:
                reason = f"{engine.name} does not support the {dataset.metric} metric"
            if reason:
                log.info("skipping %s on %s: %s", engine.name, dataset.name, reason)
                skipped.append({"engine": engine.name, "dataset": dataset.name, "reason": reason})
                continue
            workloads = tuple(w for w in config.workloads
                              if w.datasets is None or matches(entry.name, w.datasets) or matches(dataset.name, w.datasets))
            if not workloads:
                continue
            filters = _filters(config, dataset)
            queries = tuple(dict(q) for q in engine.query)  # plain dicts: tasks are pickled to remote workers
            for build in engine.build:
                tasks.append(Task(dataset.name, engine.name, dict(build), queries, filters, workloads, config.k,
                                  config.warmup, config.batch_size, progress, config.repeats))
    return tasks, skipped


def _filters(config: SweepConfig, dataset: Dataset) -> tuple[str, ...]:
    names = ["none"] if "none" in config.filters else []
    names += [fs.name for fs in dataset.filter_sets if matches(fs.name, [p for p in config.filters if p != "none"])]
    return tuple(names)


def load_datasets(config: SweepConfig, plugins: Iterable[object] = (), progress: bool = True) -> list[Dataset]:
    """Build or read every dataset of the sweep (in order)."""
    sources = [make_source(d.name, d.params, plugins=plugins, path=f"datasets[{i}]")
               for i, d in enumerate(config.datasets)]
    out = []
    for source in tqdm(sources, desc="datasets", unit="ds", disable=not progress):
        started = time.perf_counter()
        out.append(source.load())
        log.debug("loaded %r in %.1f s", out[-1], time.perf_counter() - started)
    return out


def ground_truths(config: SweepConfig, datasets: Sequence[Dataset], progress: bool = True
                  ) -> dict[str, dict[str, GroundTruth]]:
    """Compute (or read from the cache) the truth of every dataset × filter set the sweep uses."""
    wanted = [(ds, name) for ds in datasets for name in _filters(config, ds)]
    out: dict[str, dict[str, GroundTruth]] = {}
    for ds, name in tqdm(wanted, desc="ground truth", unit="set", disable=not progress):
        out.setdefault(ds.name, {})[name] = ground_truth(ds, config.k, name, cache_dir=config.cache_dir)
    return out


def _execute(tasks: list[Task], datasets: Mapping[str, Dataset], truths: Mapping[str, Mapping[str, GroundTruth]],
             plugins: Sequence[object], scheduler: str | None, serial: bool, workers: int | None,
             progress: bool) -> list[TaskResult]:
    bar = tqdm(total=len(tasks), desc="benchmark tasks", unit="task", disable=not progress)
    results: list[TaskResult] = []
    if serial:
        for task in tasks:
            bar.set_postfix_str(f"{task.build_label} on {task.dataset}"[:60])
            results.append(run_task(task, datasets[task.dataset], truths[task.dataset], plugins))
            bar.update()
        bar.close()
        return results
    from distributed import Client, LocalCluster, as_completed

    if not log.isEnabledFor(logging.DEBUG):  # distributed logs every connection at INFO
        logging.getLogger("distributed").setLevel(logging.WARNING)
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        threads = workers or _default_workers()
        cluster = LocalCluster(processes=False, n_workers=1, threads_per_worker=threads, dashboard_address=None)
        client = Client(cluster)
    try:
        log.debug("dask: %s", client)
        # Datasets and truths go to the cluster once; each task then refers to them.
        # (Each is scattered as a one-element list: a scattered dict would use its own keys as
        # cluster keys, and every dataset's truths share the key "none".)
        data_futures = {name: client.scatter([ds], hash=False)[0] for name, ds in datasets.items()}
        truth_futures = {name: client.scatter([dict(t)], hash=False)[0] for name, t in truths.items()}
        futures = {
            client.submit(run_task, task, data_futures[task.dataset], truth_futures[task.dataset], plugins,
                          pure=False, key=f"bench-{i}"): task
            for i, task in enumerate(tasks)
        }
        by_key = {f.key: task for f, task in futures.items()}
        done: dict[Any, TaskResult] = {}
        pending = as_completed(futures)
        while len(done) < len(futures):
            for future in pending.next_batch(block=False):
                done[future.key] = future.result()
                bar.update()
            running = [by_key[k] for k in _executing(client) if k in by_key]
            if running:  # long tasks (a JIT compile) still show that something is happening
                bar.set_postfix_str("running " + ", ".join(f"{t.build_label} on {t.dataset}" for t in running)[:70])
            bar.refresh()
            time.sleep(0.5)
        results = [done[f.key] for f in futures]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
        bar.close()
    return results


def _executing(client: Any) -> list[Any]:
    """Return the keys of the tasks the workers are executing right now (best effort)."""
    try:
        found = client.run(lambda dask_worker: [ts.key for ts in dask_worker.state.executing])
    except Exception:  # noqa: BLE001 - only a progress display
        return []
    return [key for keys in found.values() for key in keys]


def environment() -> dict[str, Any]:
    """Return what the numbers depend on: machine, Python, library and BLAS versions, the git commit."""
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str] = {}
    for package in ENVIRONMENT_PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return {"python": platform.python_version(), "platform": platform.platform(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "load_average": _load_average(), "git_commit": git_commit(),
            "packages": versions, "blas": blas_info()}


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def blas_info() -> list[dict[str, Any]]:
    """Return the BLAS/OpenMP libraries numpy and scipy loaded (threadpoolctl), with versions and threads."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    import numpy  # noqa: F401 - load numpy's BLAS before asking
    import scipy.linalg  # noqa: F401

    keys = ("user_api", "internal_api", "version", "num_threads", "threading_layer", "architecture")
    return [{k: info[k] for k in keys if info.get(k) is not None} for info in threadpool_info()]


def git_commit() -> str | None:
    """Return the toolkit checkout's commit (with ``-dirty`` for uncommitted changes), or None outside git."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}-dirty" if dirty else head or None


def warm_up_engines(engines: Iterable[str], plugins: Sequence[object] = (), progress: bool = False
                    ) -> dict[str, float]:
    """Pay each engine's one-time per-process cost (JIT compile) before anything is timed; return the seconds."""
    out = {}
    for engine in tqdm(list(dict.fromkeys(engines)), desc="warm-up (JIT compile)", unit="engine",
                       disable=not progress):
        out[engine] = warm_up(engine, plugins)
    return out


def work_counting(builders: Mapping[str, type[SlabBuilder]], engines: Iterable[str]) -> dict[str, Any]:
    """Return how each engine counts its true work (its ``work_counting`` attribute; None if it says nothing)."""
    return {e: getattr(builders[e], "work_counting", None) for e in dict.fromkeys(engines) if e in builders}


def run(config: Any, *, scheduler: str | None = None, serial: bool = False, workers: int | None = None,
        progress: bool = True, plugins: Sequence[object] = (), out_dir: str | Path | None = None) -> pd.DataFrame:
    """Run a sweep (a SweepConfig, a mapping, a TOML path or a bundled sweep name); return its rows.

    Tasks go to Dask: an in-process LocalCluster by default, the cluster at ``scheduler``
    ("tcp://host:port") when given, or none at all with ``serial=True`` (for debugging).
    With ``out_dir`` the results and timeline are also written there as Parquet and CSV.
    """
    numba_cache()
    started = time.perf_counter()
    load_at_start = _load_average()
    config = SweepConfig.load(config)
    from .. import Client

    builders = Client(plugins=plugins).builders()
    datasets = load_datasets(config, plugins, progress)
    tasks, skipped = plan(config, datasets, builders, progress=progress and serial)
    by_name = {ds.name: ds for ds in datasets}
    truths = ground_truths(config, [by_name[n] for n in dict.fromkeys(t.dataset for t in tasks)], progress)
    # In this process (and the in-process LocalCluster's threads) the compile is paid once, here;
    # a remote cluster's workers pay theirs in each task's untimed warm-up.
    compile_seconds = warm_up_engines((t.engine for t in tasks), plugins, progress)
    results = _execute(tasks, by_name, truths, plugins, scheduler, serial, workers, progress) if tasks else []
    frame = results_frame([row for r in results for row in r.rows])
    frame["compile_seconds"] = frame["engine"].map(compile_seconds).astype(float).round(3)
    frame.attrs["compile_seconds"] = compile_seconds
    frame.attrs["work_counting"] = work_counting(builders, compile_seconds)
    frame.attrs["timeline"] = [event for r in results for event in r.timeline]
    frame.attrs["skipped"] = skipped
    frame.attrs["config"] = config.to_dict()
    frame.attrs["environment"] = environment() | {
        "load_average_start": load_at_start,
        "seconds": time.perf_counter() - started,
        "executor": "serial" if serial else (scheduler or f"LocalCluster(threads={workers or _default_workers()})"),
    }
    if out_dir is not None:
        save_results(frame, out_dir)
    return frame


def results_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Return rows as a DataFrame with every known column (missing values as NaN)."""
    frame = pd.DataFrame(rows)
    for column in RESULT_COLUMNS:
        if column not in frame.columns:
            frame[column] = "" if column == "error" else np.nan
    extra = [c for c in frame.columns if c not in RESULT_COLUMNS]
    frame = frame[RESULT_COLUMNS + extra]
    frame["error"] = frame["error"].fillna("")
    return frame


def _default_workers() -> int:
    """Half the cores: running tasks side by side on every core would distort their latencies."""
    return max(1, (os.cpu_count() or 1) // 2)


def timeline_frame(results: pd.DataFrame) -> pd.DataFrame:
    """Return the runbook timeline of a results frame (empty when no runbook ran)."""
    columns = ["run_id", "dataset", "engine", "label", "workload", "kind", "step", "t", "latency_ms", "recall",
               "lsn_lag", "live_rows", "namespace_bytes", "read_units", "bytes_scanned", "slabs", "level", "seconds"]
    frame = pd.DataFrame(results.attrs.get("timeline", []))
    for column in columns:
        if column not in frame.columns:
            frame[column] = np.nan
    return frame[columns]


def _flat(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy whose dict columns are JSON strings (Parquet and CSV want flat values)."""
    import json

    out = frame.copy()
    out.attrs = {}
    for column in ("build_params", "query_params"):
        if column in out.columns:
            out[column] = [json.dumps(v, sort_keys=True, default=str) if isinstance(v, dict) else v for v in out[column]]
    return out


def save_results(results: pd.DataFrame, out_dir: str | Path) -> dict[str, Path]:
    """Write results and timeline as Parquet and CSV into ``out_dir``; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in (("results", _flat(results)), ("timeline", timeline_frame(results))):
        paths[f"{name}.parquet"] = out / f"{name}.parquet"
        frame.to_parquet(paths[f"{name}.parquet"], index=False)
        paths[f"{name}.csv"] = out / f"{name}.csv"
        frame.to_csv(paths[f"{name}.csv"], index=False)
    return paths
