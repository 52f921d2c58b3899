"""True-work benchmark: what each engine really does per query, and what counting it costs.

Usage::

    python benchmarks/bench_work.py                          # 100k × 128 clustered, cosine (minutes)
    python benchmarks/bench_work.py --n 10000 --dim 32 --queries 100      # a quick look

For every engine (exact, annoy at several ``search_k``, nndescent at several ``epsilon``) it
builds one slab index directly through the plugin surface and reports, per query: recall@10
against the exact kernel, ``distance_computations`` and ``bytes_scanned`` (the engine's
``work_counting`` method says how each is obtained), and the median latency of single queries
with ``count_work`` on and off (Annoy and PyNNDescent), so the cost of measuring is visible.
A sparse section runs ``sparse_csr`` and ``exact`` on a sparse slab. Results go to
benchmarks/results/work.json and work.md with the machine's load average. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from plugins.annoy_engine import AnnoyBuilder
from plugins.exact import ExactBuilder
from plugins.nndescent import NNDescentBuilder
from plugins.sparse_csr import SparseCsrBuilder
from toolkit.plugin import Query, SlabData, SlabIndex, Sparse, SparseRows, work_counting

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
K = 10


def clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(64, dim)) * 2
    return (centres[rng.integers(64, size=n)] + rng.normal(size=(n, dim))).astype(np.float32)


def measure(index: SlabIndex, queries: list[Query], truth: list[set[int]], params: dict[str, Any]) -> dict[str, Any]:
    """Return recall@10, mean work per query and the median single-query latency."""
    results, times = [], []
    for q in queries:
        start = time.perf_counter()
        results.append(index.search(q, K, None, **params))
        times.append(time.perf_counter() - start)
    recall = float(np.mean([len(truth[i] & set(r.rows[:K].tolist())) / K for i, r in enumerate(results)]))
    return {"recall": recall,
            "distances": float(np.mean([r.distance_computations for r in results])),
            "bytes": float(np.mean([r.bytes_scanned for r in results])),
            "ms": statistics.median(times) * 1e3}


def dense_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    data = clustered(args.n, args.dim)
    queries_np = clustered(args.queries, args.dim, seed=1)
    queries = [Query(q, None) for q in queries_np]
    slab = SlabData(data, None)
    exact = ExactBuilder().build(slab, args.metric)
    truth = [set(exact.search(q, K).rows[:K].tolist()) for q in queries]
    rows = [{"engine": "exact", "params": "", **measure(exact, queries, truth, {})}]
    annoy = AnnoyBuilder(n_trees=args.n_trees).build(slab, args.metric)
    for search_k in (None, 1000, 5000, 20000):
        label = f"search_k={search_k}" if search_k else "search_k=default"
        base = {} if search_k is None else {"search_k": search_k}
        counted = measure(annoy, queries, truth, base)
        plain = measure(annoy, queries, truth, {**base, "count_work": False})
        rows.append({"engine": f"annoy(n_trees={args.n_trees})", "params": label, **counted,
                     "ms_uncounted": plain["ms"], "distances_uncounted": plain["distances"]})
    NNDescentBuilder.warm_up()
    nnd = NNDescentBuilder().build(slab, args.metric)
    for epsilon in (0.0, 0.1, 0.2):
        counted = measure(nnd, queries, truth, {"epsilon": epsilon})
        plain = measure(nnd, queries, truth, {"epsilon": epsilon, "count_work": False})
        rows.append({"engine": "nndescent", "params": f"epsilon={epsilon}", **counted,
                     "ms_uncounted": plain["ms"], "distances_uncounted": plain["distances"]})
    return rows


def sparse_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    rng = np.random.default_rng(2)
    vocabulary, nnz = 30_000, 40
    rows = [Sparse(np.sort(rng.choice(vocabulary, nnz, replace=False)).astype(np.uint32),
                   rng.random(nnz).astype(np.float32)) for _ in range(args.n)]
    slab = SlabData(None, SparseRows.from_rows(rows))
    queries = [Query(None, Sparse(np.sort(rng.choice(vocabulary, 20, replace=False)).astype(np.uint32),
                                  rng.random(20).astype(np.float32))) for _ in range(args.queries)]
    exact = ExactBuilder().build(slab, "dotproduct")
    truth = [set(exact.search(q, K).rows[:K].tolist()) for q in queries]
    return [{"engine": name, "params": "sparse", **measure(index, queries, truth, {})}
            for name, index in (("exact", exact), ("sparse_csr", SparseCsrBuilder().build(slab, "dotproduct")))]


def write(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    RESULTS.mkdir(exist_ok=True)
    meta = {"n": args.n, "dim": args.dim, "metric": args.metric, "queries": args.queries,
            "load_average": os.getloadavg(), "machine": platform.platform(), "cpus": os.cpu_count()}
    (RESULTS / "work.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    lines = [f"# True work per query ({args.n:,} × {args.dim} clustered, {args.metric}; sparse: {args.n:,} rows × 40 nnz)",
             "", f"Load average during the run: {', '.join(f'{x:.1f}' for x in meta['load_average'])} "
             f"on {meta['cpus']} CPUs (figures are noisy on a busy machine).", "",
             "| engine | params | recall@10 | distances/query | bytes/query | median ms | median ms, count_work=False |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        uncounted = f"{r['ms_uncounted']:.3f}" if "ms_uncounted" in r else "—"
        lines.append(f"| {r['engine']} | {r['params']} | {r['recall']:.3f} | {r['distances']:,.0f} | "
                     f"{r['bytes']:,.0f} | {r['ms']:.3f} | {uncounted} |")
    lines += ["", "How each figure is obtained (`SlabBuilder.work_counting`):", ""]
    lines += [f"- **{name}**: {text}" for name, text in work_counting(
        {b.name: b for b in (ExactBuilder, AnnoyBuilder, NNDescentBuilder, SparseCsrBuilder)}).items()]
    (RESULTS / "work.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--metric", default="cosine", choices=["cosine", "euclidean", "dotproduct"])
    parser.add_argument("--n-trees", type=int, default=50)
    args = parser.parse_args()
    rows = dense_rows(args) + sparse_rows(args)
    write(rows, args)
    print((RESULTS / "work.md").read_text())


if __name__ == "__main__":
    main()
