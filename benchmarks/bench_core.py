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
from pathlib import Path
from typing import Any, Callable

import numpy as np

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
    }


def median_ms(fn: Callable[[], Any], repeats: int, warmup: int = 3) -> float:
    """Return the median wall time of ``fn`` in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    gc.disable()
    try:
        for _ in range(repeats):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
    finally:
        gc.enable()
    return statistics.median(times) * 1000


def make_data(rows: int, dim: int, seed: int = 0) -> tuple[list[str], np.ndarray, list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((rows, dim), dtype=np.float32)
    ids = [f"id-{i:07d}" for i in range(rows)]
    genres = rng.integers(0, len(GENRES), rows)
    years = rng.integers(1990, 2025, rows)
    metadata = [{"genre": GENRES[g], "year": int(y)} for g, y in zip(genres, years)]
    return ids, vectors, metadata


def upsert_all(index: toolkit.Index, ids: list[str], vectors: np.ndarray, metadata: list[dict[str, Any]],
               batch: int = 1000) -> float:
    """Upsert everything in batches (one request each); return the seconds taken."""
    started = time.perf_counter()
    for start in range(0, len(ids), batch):
        stop = start + batch
        index.upsert(vectors=list(zip(ids[start:stop], vectors[start:stop], metadata[start:stop])))
    return time.perf_counter() - started


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
        upsert_all(index, ids, vectors, metadata)
        baseline = NumpyBaseline(vectors, metric)
        cycle = iter(range(10**9))

        def next_query() -> np.ndarray:
            return queries[next(cycle) % len(queries)]

        # Correctness first: the toolkit's top-k ids equal numpy's for a few queries.
        for q in queries[:5]:
            got = [int(m.id[3:]) for m in index.query(vector=q, top_k=k).matches]
            want = baseline.top_k(q, k).tolist()
            if got != want:
                print(f"  warning: {metric} top-{k} differs from numpy (ties or float error): {got} vs {want}")
        slabs_before = len(index.describe_slabs())
        memtable_rows = index.describe_slabs().attrs["memtables"][0]["memtable_rows"]
        numpy_ms = median_ms(lambda: baseline.top_k(next_query(), k), repeats)
        raw_ms = median_ms(lambda: index.query(vector=next_query(), top_k=k), repeats)
        index.compact()
        compact_ms = median_ms(lambda: index.query(vector=next_query(), top_k=k), repeats)
        numpy_ms_2 = median_ms(lambda: baseline.top_k(next_query(), k), repeats)
        numpy_ms = min(numpy_ms, numpy_ms_2)  # the kinder baseline
        out[metric] = {
            "numpy_ms": round(numpy_ms, 4),
            "toolkit_compacted_ms": round(compact_ms, 4),
            "toolkit_uncompacted_ms": round(raw_ms, 4),
            "ratio_compacted": round(compact_ms / numpy_ms, 3),
            "ratio_uncompacted": round(raw_ms / numpy_ms, 3),
            "uncompacted_layout": f"{slabs_before} slabs + {memtable_rows} memtable rows",
            "target_ratio": TARGET_QUERY_RATIO,
            "met": compact_ms / numpy_ms <= TARGET_QUERY_RATIO,
        }
        print(f"  {metric:10s} numpy {numpy_ms:7.3f} ms  compacted {compact_ms:7.3f} ms "
              f"({compact_ms / numpy_ms:4.2f}x)  un-compacted {raw_ms:7.3f} ms ({raw_ms / numpy_ms:4.2f}x, "
              f"{out[metric]['uncompacted_layout']})")
        del client, index, baseline
        gc.collect()
    return out


def bench_filter(ids, vectors, metadata, queries: np.ndarray, repeats: int) -> dict[str, Any]:
    client = toolkit.Client()
    client.create_index(name="bench-filter", dimension=vectors.shape[1], metric="dotproduct", engine="exact")
    index = client.Index("bench-filter")
    upsert_all(index, ids, vectors, metadata)
    index.compact()
    ns = index._namespaces["__default__"]  # the one slab's metadata columns
    (rows, _alive, _slab), = ns.segments()
    compiled = compile_filter({"genre": {"$eq": "genre-3"}})
    mask = compiled.mask(rows.columns, negation_requires_field=True)
    expected = sum(1 for m in metadata if m["genre"] == "genre-3")
    if int(mask.sum()) != expected:
        print(f"  warning: the mask selects {int(mask.sum())} rows, expected {expected}")
    mask_ms = median_ms(lambda: compiled.mask(rows.columns, negation_requires_field=True), repeats)
    compile_ms = median_ms(lambda: compile_filter({"genre": {"$eq": "genre-3"}}), repeats)
    cycle = iter(range(10**9))
    query_ms = median_ms(
        lambda: index.query(vector=queries[next(cycle) % len(queries)], top_k=10, filter={"genre": "genre-3"}),
        repeats,
    )
    range_compiled = compile_filter({"year": {"$gte": 2010}})
    range_ms = median_ms(lambda: range_compiled.mask(rows.columns, negation_requires_field=True), repeats)
    print(f"  $eq mask {mask_ms:.3f} ms over {len(rows)} rows ({expected} match); compile {compile_ms:.3f} ms; "
          f"$gte mask {range_ms:.3f} ms; filtered query {query_ms:.3f} ms")
    return {
        "rows": len(rows),
        "matching_rows": expected,
        "eq_mask_ms": round(mask_ms, 4),
        "gte_mask_ms": round(range_ms, 4),
        "compile_ms": round(compile_ms, 4),
        "filtered_query_ms": round(query_ms, 4),
        "target_ms": TARGET_FILTER_MS,
        "met": mask_ms <= TARGET_FILTER_MS,
    }


def bench_upsert(ids, vectors, metadata, rounds: int) -> dict[str, Any]:
    rates = []
    for _ in range(rounds):
        client = toolkit.Client()
        client.create_index(name="bench-upsert", dimension=vectors.shape[1], metric="cosine", engine="exact")
        index = client.Index("bench-upsert")
        gc.collect()
        seconds = upsert_all(index, ids, vectors, metadata)
        rates.append(len(ids) / seconds)
        assert index.describe_index_stats().total_vector_count == len(ids)
        del client, index
    best, median = max(rates), statistics.median(rates)
    print(f"  upsert {len(ids)} records in batches of 1000: median {median:,.0f} records/s (best {best:,.0f})")
    return {
        "records": len(ids),
        "batch": 1000,
        "rounds": rounds,
        "records_per_second_median": round(median),
        "records_per_second_best": round(best),
        "target_records_per_second": TARGET_UPSERT_RPS,
        "met": median >= TARGET_UPSERT_RPS,
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
        f"{p['rows']:,} × {p['dimension']} float32 records in one namespace, exact engine, top_k={p['top_k']}, "
        f"median of {p['repeats']} runs. Produced by `python benchmarks/bench_core.py`.",
        "",
        "## (a) Query latency vs bare numpy (target: compacted ≤ 1.5 × numpy)",
        "",
        "| metric | numpy ms | toolkit compacted ms | ratio | toolkit un-compacted ms | ratio | un-compacted layout | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for metric, row in result["query"].items():
        lines.append(
            f"| {metric} | {row['numpy_ms']:.3f} | {row['toolkit_compacted_ms']:.3f} | {row['ratio_compacted']:.2f}× | "
            f"{row['toolkit_uncompacted_ms']:.3f} | {row['ratio_uncompacted']:.2f}× | {row['uncompacted_layout']} | "
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
        f"**{f['eq_mask_ms']:.3f} ms** ({'met' if f['met'] else 'NOT met'}). "
        f"Compile {f['compile_ms']:.3f} ms; a `$gte` range mask {f['gte_mask_ms']:.3f} ms; "
        f"a filtered top-10 query end to end {f['filtered_query_ms']:.3f} ms.",
        "",
        "## (c) In-memory upsert (target ≥ 50,000 records/s)",
        "",
        f"{u['records']:,} records with metadata, batches of {u['batch']}, default engine (flushes and merges "
        f"included): median **{u['records_per_second_median']:,} records/s** over {u['rounds']} rounds "
        f"(best {u['records_per_second_best']:,}) ({'met' if u['met'] else 'NOT met'}).",
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
    args = parser.parse_args(argv)

    ids, vectors, metadata = make_data(args.rows, args.dimension)
    queries = np.random.default_rng(1).standard_normal((64, args.dimension), dtype=np.float32)
    result: dict[str, Any] = {
        "machine": machine_info(),
        "params": {"rows": args.rows, "dimension": args.dimension, "top_k": 10, "repeats": args.queries},
    }
    print(f"core benchmarks: {args.rows:,} × {args.dimension} float32")
    print("(c) upsert throughput")
    result["upsert"] = bench_upsert(ids, vectors, metadata, args.upsert_rounds)
    print("(a) query latency vs numpy")
    result["query"] = bench_queries(ids, vectors, metadata, queries, args.queries)
    print("(b) filter mask")
    result["filter"] = bench_filter(ids, vectors, metadata, queries, args.queries)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "core.json").write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(result, args.out / "core.md")
    print(f"wrote {args.out / 'core.json'} and {args.out / 'core.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
