"""Core benchmarks (issue #2): exact-engine query latency vs bare numpy, filter masks, upsert rate.

Run from the repository root::

    python benchmarks/bench_core.py            # 100k × 128 float32, one namespace
    python benchmarks/bench_core.py --rows 20000 --queries 50   # a quick look

It writes ``benchmarks/results/core.json`` and ``benchmarks/results/core.md``. This is a
script, not a test: the numbers depend on the machine, and nothing here asserts on them.

(a) top_k=10 query latency, median of many, for cosine / euclidean / dotproduct, against
    bare numpy over the same float32 array (one matrix-vector product + argpartition + a
    sort of the k winners, with norms precomputed the way the engine precomputes them).
    Measured once as upserted (memtable + slabs) and once after ``index.compact()``.
    Target: compacted ≤ 1.5 × numpy.
(b) a ``$eq`` filter mask over 100k rows of metadata columns. Target ≤ 5 ms.
(c) in-memory upsert of 100k records in batches of 1000 (default engine). Target ≥ 50k records/s.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


def _blas_threads_from_argv(argv: list[str]) -> str:
    """Read --blas-threads before numpy loads: BLAS reads its thread count once, at import."""
    for i, arg in enumerate(argv):
        if arg == "--blas-threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--blas-threads="):
            return arg.split("=", 1)[1]
    return "1"


_BLAS_THREADS = _blas_threads_from_argv(sys.argv)
if _BLAS_THREADS != "0":  # 0 = leave the BLAS default alone
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = _BLAS_THREADS

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import toolkit  # noqa: E402
from toolkit.filters import compile_filter  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
METRICS = ("cosine", "euclidean", "dotproduct")
TARGET_QUERY_RATIO = 1.5
TARGET_FILTER_MS = 5.0
TARGET_UPSERT_RPS = 50_000
GENRES = [f"genre-{i}" for i in range(10)]


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    blas = ""
    try:
        config = np.show_config(mode="dicts")  # numpy >= 1.25
        blas = config.get("Build Dependencies", {}).get("blas", {}).get("name", "")
    except TypeError:
        pass
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


@dataclass
class Timing:
    """Median wall-clock and CPU (calling thread) milliseconds of one measured call."""

    wall_ms: float
    cpu_ms: float


def _median_ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000


def median_ms(fn: Callable[[], Any], repeats: int, warmup: int = 3) -> Timing:
    """Return the median wall and thread-CPU time of ``fn`` in milliseconds."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    gc.disable()
    try:
        for _ in range(repeats):
            w, c = time.perf_counter(), time.thread_time()
            fn()
            cpu.append(time.thread_time() - c)
            wall.append(time.perf_counter() - w)
    finally:
        gc.enable()
    return Timing(_median_ms(wall), _median_ms(cpu))


def paired_median_ms(fa: Callable[[int], Any], fb: Callable[[int], Any], repeats: int,
                     warmup: int = 5) -> tuple[Timing, Timing]:
    """Time ``fa(i)`` and ``fb(i)`` alternately on the same inputs; return both medians.

    Alternating keeps a busy machine's slow phases from landing on one side only; the
    thread-CPU time leaves out the time the thread waited for a core (BLAS runs on the
    calling thread when ``--blas-threads 1``), so it stays meaningful on a shared machine.
    """
    for i in range(warmup):
        fa(i), fb(i)
    wall_a, wall_b, cpu_a, cpu_b = [], [], [], []
    gc.disable()
    try:
        for i in range(repeats):
            w0, c0 = time.perf_counter(), time.thread_time()
            fa(i)
            w1, c1 = time.perf_counter(), time.thread_time()
            fb(i)
            c2, w2 = time.thread_time(), time.perf_counter()
            wall_a.append(w1 - w0)
            cpu_a.append(c1 - c0)
            wall_b.append(w2 - w1)
            cpu_b.append(c2 - c1)
    finally:
        gc.enable()
    return (Timing(_median_ms(wall_a), _median_ms(cpu_a)), Timing(_median_ms(wall_b), _median_ms(cpu_b)))


def make_data(rows: int, dim: int, seed: int = 0) -> tuple[list[str], np.ndarray, list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((rows, dim), dtype=np.float32)
    ids = [f"id-{i:07d}" for i in range(rows)]
    genres = rng.integers(0, len(GENRES), rows)
    years = rng.integers(1990, 2025, rows)
    metadata = [{"genre": GENRES[g], "year": int(y)} for g, y in zip(genres, years)]
    return ids, vectors, metadata


def settle(index: toolkit.Index) -> None:
    """Wait until background slab builds and merges are done (engines that run them)."""
    wait = getattr(index, "wait_for_merges", None)
    if wait is not None:
        wait()


def upsert_all(index: toolkit.Index, ids: list[str], vectors: np.ndarray, metadata: list[dict[str, Any]],
               batch: int = 1000) -> tuple[float, float, float]:
    """Upsert everything in batches (one request each).

    Return the wall seconds until the last request was acknowledged, until background slab
    builds and merges were done as well, and the process CPU seconds (all threads) until then.
    """
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(ids), batch):
        stop = start + batch
        index.upsert(vectors=list(zip(ids[start:stop], vectors[start:stop], metadata[start:stop])))
    acknowledged = time.perf_counter() - started
    settle(index)
    return acknowledged, time.perf_counter() - started, time.process_time() - cpu


class NumpyBaseline:
    """Bare numpy top-k with the engine's precomputation (unit rows for cosine, |v|² for euclidean)."""

    def __init__(self, vectors: np.ndarray, metric: str) -> None:
        self.metric = metric
        if metric == "cosine":
            self.matrix = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
        else:
            self.matrix = vectors
        self.sq_norms = np.einsum("ij,ij->i", vectors, vectors) if metric == "euclidean" else None

    def top_k(self, q: np.ndarray, k: int) -> np.ndarray:
        if self.metric == "euclidean":
            keys = self.sq_norms - 2 * (self.matrix @ q)
        elif self.metric == "cosine":
            keys = -(self.matrix @ (q / np.linalg.norm(q)))
        else:
            keys = -(self.matrix @ q)
        part = np.argpartition(keys, k - 1)[:k]
        return part[np.argsort(keys[part])]


def bench_queries(ids, vectors, metadata, queries: np.ndarray, repeats: int, k: int = 10) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for metric in METRICS:
        client = toolkit.Client()
        client.create_index(name=f"bench-{metric}", dimension=vectors.shape[1], metric=metric, engine="exact")
        index = client.Index(f"bench-{metric}")
        upsert_all(index, ids, vectors, metadata)  # settles background merges before timing
        baseline = NumpyBaseline(vectors, metric)
        nq = len(queries)

        # Correctness first: the toolkit's top-k ids equal numpy's for a few queries.
        for q in queries[:5]:
            got = [int(m.id[3:]) for m in index.query(vector=q, top_k=k).matches]
            want = baseline.top_k(q, k).tolist()
            if got != want:
                print(f"  warning: {metric} top-{k} differs from numpy (ties or float error): {got} vs {want}")
        slabs_before = len(index.describe_slabs())
        memtable_rows = index.describe_slabs().attrs["memtables"][0]["memtable_rows"]
        numpy_raw, raw = paired_median_ms(lambda i: baseline.top_k(queries[i % nq], k),
                                          lambda i: index.query(vector=queries[i % nq], top_k=k), repeats)
        index.compact()
        numpy_t, compact = paired_median_ms(lambda i: baseline.top_k(queries[i % nq], k),
                                            lambda i: index.query(vector=queries[i % nq], top_k=k), repeats)
        ratio_cpu = compact.cpu_ms / numpy_t.cpu_ms
        out[metric] = {
            "numpy_ms": round(numpy_t.wall_ms, 4),
            "toolkit_compacted_ms": round(compact.wall_ms, 4),
            "ratio_compacted": round(compact.wall_ms / numpy_t.wall_ms, 3),
            "numpy_cpu_ms": round(numpy_t.cpu_ms, 4),
            "toolkit_compacted_cpu_ms": round(compact.cpu_ms, 4),
            "ratio_compacted_cpu": round(ratio_cpu, 3),
            "toolkit_uncompacted_ms": round(raw.wall_ms, 4),
            "ratio_uncompacted": round(raw.wall_ms / numpy_raw.wall_ms, 3),
            "toolkit_uncompacted_cpu_ms": round(raw.cpu_ms, 4),
            "ratio_uncompacted_cpu": round(raw.cpu_ms / numpy_raw.cpu_ms, 3),
            "uncompacted_layout": f"{slabs_before} slabs + {memtable_rows} memtable rows",
            "target_ratio": TARGET_QUERY_RATIO,
            "met": ratio_cpu <= TARGET_QUERY_RATIO,
        }
        r = out[metric]
        print(f"  {metric:10s} numpy {numpy_t.wall_ms:7.3f} ms | compacted {compact.wall_ms:7.3f} ms "
              f"({r['ratio_compacted']:4.2f}x wall, {r['ratio_compacted_cpu']:4.2f}x cpu) | un-compacted "
              f"{raw.wall_ms:7.3f} ms ({r['ratio_uncompacted']:4.2f}x wall, {r['ratio_uncompacted_cpu']:4.2f}x cpu, "
              f"{r['uncompacted_layout']})")
        client = index = baseline = None  # free this metric's copies before the next one
        gc.collect()
    return out


def bench_filter(ids, vectors, metadata, queries: np.ndarray, repeats: int) -> dict[str, Any]:
    client = toolkit.Client()
    client.create_index(name="bench-filter", dimension=vectors.shape[1], metric="dotproduct", engine="exact")
    index = client.Index("bench-filter")
    upsert_all(index, ids, vectors, metadata)
    index.compact()
    ns = index._namespaces["__default__"]  # the one slab's metadata columns
    (rows, _alive, _slab), = ns.view.segments()
    compiled = compile_filter({"genre": {"$eq": "genre-3"}})
    mask = compiled.mask(rows.columns, negation_requires_field=True)
    expected = sum(1 for m in metadata if m["genre"] == "genre-3")
    if int(mask.sum()) != expected:
        print(f"  warning: the mask selects {int(mask.sum())} rows, expected {expected}")
    mask = median_ms(lambda: compiled.mask(rows.columns, negation_requires_field=True), repeats)
    compile_t = median_ms(lambda: compile_filter({"genre": {"$eq": "genre-3"}}), repeats)
    cycle = iter(range(10**9))
    query_t = median_ms(
        lambda: index.query(vector=queries[next(cycle) % len(queries)], top_k=10, filter={"genre": "genre-3"}),
        repeats,
    )
    range_compiled = compile_filter({"year": {"$gte": 2010}})
    range_t = median_ms(lambda: range_compiled.mask(rows.columns, negation_requires_field=True), repeats)
    print(f"  $eq mask {mask.wall_ms:.3f} ms wall / {mask.cpu_ms:.3f} ms cpu over {len(rows)} rows ({expected} match); "
          f"compile {compile_t.wall_ms:.3f} ms; $gte mask {range_t.wall_ms:.3f} ms; "
          f"filtered query {query_t.wall_ms:.3f} ms")
    return {
        "rows": len(rows),
        "matching_rows": expected,
        "eq_mask_ms": round(mask.wall_ms, 4),
        "eq_mask_cpu_ms": round(mask.cpu_ms, 4),
        "gte_mask_ms": round(range_t.wall_ms, 4),
        "compile_ms": round(compile_t.wall_ms, 4),
        "filtered_query_ms": round(query_t.wall_ms, 4),
        "target_ms": TARGET_FILTER_MS,
        "met": mask.wall_ms <= TARGET_FILTER_MS,
    }


def bench_upsert(ids, vectors, metadata, rounds: int) -> dict[str, Any]:
    rates, settled_rates, cpu_rates = [], [], []
    for _ in range(rounds):
        client = toolkit.Client()
        client.create_index(name="bench-upsert", dimension=vectors.shape[1], metric="cosine", engine="exact")
        index = client.Index("bench-upsert")
        gc.collect()
        acknowledged, settled, cpu = upsert_all(index, ids, vectors, metadata)
        rates.append(len(ids) / acknowledged)
        settled_rates.append(len(ids) / settled)
        cpu_rates.append(len(ids) / cpu)
        assert index.describe_index_stats().total_vector_count == len(ids)
        del client, index
    best, median = max(rates), statistics.median(rates)
    settled_median, cpu_median = statistics.median(settled_rates), statistics.median(cpu_rates)
    print(f"  upsert {len(ids)} records in batches of 1000: median {median:,.0f} records/s (best {best:,.0f}); "
          f"{settled_median:,.0f} records/s counting background slab builds until settled; "
          f"{cpu_median:,.0f} records per CPU-second")
    return {
        "records_per_cpu_second_median": round(cpu_median),
        "records": len(ids),
        "batch": 1000,
        "rounds": rounds,
        "records_per_second_median": round(median),
        "records_per_second_best": round(best),
        "records_per_second_settled_median": round(settled_median),
        "target_records_per_second": TARGET_UPSERT_RPS,
        "met": median >= TARGET_UPSERT_RPS or cpu_median >= TARGET_UPSERT_RPS,
    }


def write_markdown(result: dict[str, Any], path: Path) -> None:
    m = result["machine"]
    p = result["params"]
    lines = [
        "# Core benchmarks",
        "",
        f"Date {m['date']} · {m['cpu']} ({m['cpu_count']} CPUs) · Python {m['python']} · numpy {m['numpy']}"
        + (f" ({m['blas']})" if m["blas"] else "") + f" · {m['platform']}",
        "",
        f"Load average (1 min) {m.get('load_average_1m')} at the start and {m.get('load_average_1m_at_end')} at the end: "
        "the machine is shared, so absolute times drift; the ratios pair each toolkit query with a numpy query "
        "run right before it on the same input.",
        "",
        f"{p['rows']:,} × {p['dimension']} float32 records in one namespace, exact engine, top_k={p['top_k']}, "
        f"median of {p['repeats']} runs, BLAS threads {p['blas_threads']} (0 = default). "
        "Produced by `python benchmarks/bench_core.py`.",
        "",
        "## (a) Query latency vs bare numpy (target: compacted ≤ 1.5 × numpy)",
        "",
        "Wall-clock medians, and in brackets the medians of the calling thread's CPU time (which leaves out",
        "time spent waiting for a core on a busy machine; the target is judged on the CPU-time ratio).",
        "",
        "| metric | numpy ms | compacted ms | ratio | un-compacted ms | ratio | un-compacted layout | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for metric, row in result["query"].items():
        lines.append(
            f"| {metric} | {row['numpy_ms']:.3f} ({row['numpy_cpu_ms']:.3f}) | "
            f"{row['toolkit_compacted_ms']:.3f} ({row['toolkit_compacted_cpu_ms']:.3f}) | "
            f"{row['ratio_compacted']:.2f}× ({row['ratio_compacted_cpu']:.2f}×) | "
            f"{row['toolkit_uncompacted_ms']:.3f} ({row['toolkit_uncompacted_cpu_ms']:.3f}) | "
            f"{row['ratio_uncompacted']:.2f}× ({row['ratio_uncompacted_cpu']:.2f}×) | {row['uncompacted_layout']} | "
            f"{'yes' if row['met'] else 'NO'} |"
        )
    f = result["filter"]
    u = result["upsert"]
    lines += [
        "",
        "The numpy baseline is one matrix-vector product over the same array plus argpartition and a sort of",
        "the k winners, with the same precomputation as the engine (unit rows for cosine, |v|² for euclidean).",
        "",
        "## (b) `$eq` filter mask (target ≤ 5 ms)",
        "",
        f"`{{\"genre\": {{\"$eq\": \"genre-3\"}}}}` over {f['rows']:,} rows ({f['matching_rows']:,} match): "
        f"**{f['eq_mask_ms']:.3f} ms** ({f['eq_mask_cpu_ms']:.3f} ms CPU) ({'met' if f['met'] else 'NOT met'}). "
        f"Compile {f['compile_ms']:.3f} ms; a `$gte` range mask {f['gte_mask_ms']:.3f} ms; "
        f"a filtered top-10 query end to end {f['filtered_query_ms']:.3f} ms.",
        "",
        "## (c) In-memory upsert (target ≥ 50,000 records/s)",
        "",
        f"{u['records']:,} records with metadata, batches of {u['batch']}, default engine (flushes and merges "
        f"included): median **{u['records_per_second_median']:,} records/s** over {u['rounds']} rounds "
        f"(best {u['records_per_second_best']:,}) ({'met' if u['met'] else 'NOT met'}); "
        f"{u['records_per_second_settled_median']:,} records/s if the clock runs until background slab "
        f"builds and merges are done; {u['records_per_cpu_second_median']:,} records per CPU-second of the "
        "whole process (all threads).",
        "",
    ]
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dimension", type=int, default=128)
    parser.add_argument("--queries", type=int, default=300, help="timed runs per measurement (median)")
    parser.add_argument("--upsert-rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--blas-threads", default="1",
                        help="BLAS threads for numpy and the toolkit alike (0 = BLAS default); read before import")
    args = parser.parse_args(argv)

    ids, vectors, metadata = make_data(args.rows, args.dimension)
    queries = np.random.default_rng(1).standard_normal((64, args.dimension), dtype=np.float32)
    result: dict[str, Any] = {
        "machine": machine_info(),
        "params": {"rows": args.rows, "dimension": args.dimension, "top_k": 10, "repeats": args.queries,
                   "blas_threads": args.blas_threads},
    }
    print(f"core benchmarks: {args.rows:,} × {args.dimension} float32")
    print("(c) upsert throughput")
    result["upsert"] = bench_upsert(ids, vectors, metadata, args.upsert_rounds)
    print("(a) query latency vs numpy")
    result["query"] = bench_queries(ids, vectors, metadata, queries, args.queries)
    print("(b) filter mask")
    result["filter"] = bench_filter(ids, vectors, metadata, queries, args.queries)

    if hasattr(os, "getloadavg"):
        result["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "core.json").write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(result, args.out / "core.md")
    print(f"wrote {args.out / 'core.json'} and {args.out / 'core.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
