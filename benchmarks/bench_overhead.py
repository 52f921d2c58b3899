"""Per-call overhead of ``index.query`` around the engine (issue #14): raw library call vs the toolkit.

Usage (from the repository root)::

    python benchmarks/bench_overhead.py                       # 100k × 128, top_k=10 (minutes)
    python benchmarks/bench_overhead.py --n 20000 --queries 200   # a quick look
    python benchmarks/bench_overhead.py --profile             # also a cProfile breakdown per engine

For Annoy and PyNNDescent it builds one index of ``n`` clustered vectors (cosine), compacts it
into one slab, and times, per query (median over ``--queries`` queries, paired and interleaved):

* ``raw``: the library call the slab makes, on the very same library object and parameters
  (Annoy ``get_nns_by_vector(q, 10, search_k, include_distances=True)``; PyNNDescent
  ``query(q[None], k=10, epsilon)`` on the unit query, as the engine asks it);
* ``index.query(vector=q, top_k=10)``: the whole toolkit call (validation, filter, snapshot,
  routing, engine, re-scoring, response objects, metering);
* batched: ``raw`` looped / one PyNNDescent call over ``--batch`` queries vs ``index.query_batch``.

Results go to benchmarks/results/overhead.json and overhead.md with the machine's load
average. Targets: single ≤ 1.2× raw, batched ≤ 1.1× raw. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "vector-toolkit" / "numba"))

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import toolkit  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
K = 10


def clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(64, dim)) * 2
    return (centres[rng.integers(64, size=n)] + rng.normal(size=(n, dim))).astype(np.float32)


def paired(a: Callable[[int], Any], b: Callable[[int], Any], n: int, rounds: int = 3) -> tuple[float, float]:
    """Return the median seconds of ``a(i)`` and ``b(i)``, interleaved so load drifts hit both alike."""
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(rounds):
        for i in range(n):
            s = time.perf_counter()
            a(i)
            m = time.perf_counter()
            b(i)
            e = time.perf_counter()
            ta.append(m - s)
            tb.append(e - m)
    return statistics.median(ta), statistics.median(tb)


def profile(call: Callable[[int], Any], n: int, top: int = 25) -> str:
    """Return the cumulative cProfile table of ``n`` calls."""
    prof = cProfile.Profile()
    prof.enable()
    for i in range(n):
        call(i)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def build(engine: dict[str, Any], data: np.ndarray) -> Any:
    client = toolkit.Client()
    name = f"ovh-{engine['tiers'][0]['builder']}"
    client.create_index(name=name, dimension=data.shape[1], metric="cosine", engine=engine)
    index = client.Index(name)
    ids = [f"r{i}" for i in range(len(data))]
    for s in range(0, len(data), 1000):
        index.upsert(vectors=list(zip(ids[s:s + 1000], data[s:s + 1000])))
    index.compact()
    index.wait_for_merges()
    view = index._shard.view("__default__")  # the benchmark reaches the slab's library object on purpose
    slabs = [seg for seg in view.segments() if seg[2] is not None]
    assert len(slabs) == 1, f"expected one compacted slab, got {len(slabs)}"
    return index, slabs[0][2].index


def run_engine(label: str, engine: dict[str, Any], raw_single: Callable[[Any, np.ndarray], Any],
               raw_batch: Callable[[Any, np.ndarray], Any], data: np.ndarray, queries: np.ndarray,
               args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    index, slab_index = build(engine, data)
    build_s = time.perf_counter() - t0
    nq = len(queries)
    qlist = [q for q in queries]
    for i in range(min(nq, 50)):  # warm both paths
        raw_single(slab_index, qlist[i])
        index.query(vector=qlist[i], top_k=K)
    raw_t, idx_t = paired(lambda i: raw_single(slab_index, qlist[i % nq]),
                          lambda i: index.query(vector=qlist[i % nq], top_k=K), nq)
    b = args.batch
    batches = [queries[s:s + b] for s in range(0, nq - b + 1, b)] or [queries]
    raw_bt, idx_bt = paired(lambda i: raw_batch(slab_index, batches[i % len(batches)]),
                            lambda i: index.query_batch(batches[i % len(batches)], top_k=K), len(batches))
    bsize = len(batches[0])
    row = {"engine": label, "build_s": round(build_s, 1),
           "raw_us": round(raw_t * 1e6, 1), "query_us": round(idx_t * 1e6, 1),
           "ratio": round(idx_t / raw_t, 3),
           "batch": bsize, "raw_batch_us_per_q": round(raw_bt / bsize * 1e6, 1),
           "query_batch_us_per_q": round(idx_bt / bsize * 1e6, 1), "ratio_batch": round(idx_bt / raw_bt, 3)}
    if args.profile:
        row["profile"] = profile(lambda i: index.query(vector=qlist[i % nq], top_k=K), 2000)
    print(json.dumps({k: v for k, v in row.items() if k != "profile"}), flush=True)
    return row


def annoy_engine() -> tuple[dict[str, Any], Callable[[Any, np.ndarray], Any], Callable[[Any, np.ndarray], Any]]:
    engine = {"memtable_max_records": 5000, "tiers": [{"builder": "annoy", "build": {"n_trees": 50}}]}

    def single(ix: Any, q: np.ndarray) -> Any:
        search_k = ix.n_trees * 100  # the engine's default budget: n_trees × max(k, min_candidates)
        return ix._annoy.get_nns_by_vector(q.tolist(), K, search_k, True)

    def batch(ix: Any, qs: np.ndarray) -> Any:
        search_k = ix.n_trees * 100
        return [ix._annoy.get_nns_by_vector(q, K, search_k, True) for q in qs.tolist()]

    return engine, single, batch


def nndescent_engine() -> tuple[dict[str, Any], Callable[[Any, np.ndarray], Any], Callable[[Any, np.ndarray], Any]]:
    engine = {"memtable_max_records": 5000, "tiers": [{"builder": "nndescent", "build": {"n_neighbors": 30}}]}

    def single(ix: Any, q: np.ndarray) -> Any:
        unit = (q / np.sqrt(np.dot(q, q))).astype(np.float32)[None, :]
        return ix._nnd.query(unit, k=K, epsilon=0.1)

    def batch(ix: Any, qs: np.ndarray) -> Any:
        unit = (qs / np.linalg.norm(qs, axis=1, keepdims=True)).astype(np.float32)
        return ix._nnd.query(unit, k=K, epsilon=0.1)

    return engine, single, batch


def write(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"n": args.n, "dim": args.dim, "queries": args.queries, "top_k": K, "load_average": os.getloadavg(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    (RESULTS / "overhead.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = ["# index.query overhead vs the raw library call (issue #14)", "",
             f"{args.n} × {args.dim} clustered, cosine, top_k={K}, {args.queries} queries × 3 rounds, "
             f"median per query; load average {', '.join(f'{x:.2f}' for x in meta['load_average'])} on "
             f"{meta['cpu_count']} CPUs at {meta['utc']} UTC (shared machine: noisy).", "",
             "Command: `python benchmarks/bench_overhead.py" + (f" --n {args.n}" if args.n != 100_000 else "")
             + (f" --queries {args.queries}" if args.queries != 1000 else "") + "`", "",
             "| engine | raw µs | index.query µs | ratio (target ≤ 1.2) | batch | raw µs/q | query_batch µs/q "
             "| ratio (target ≤ 1.1) | build s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['engine']} | {r['raw_us']} | {r['query_us']} | {r['ratio']} | {r['batch']} | "
                     f"{r['raw_batch_us_per_q']} | {r['query_batch_us_per_q']} | {r['ratio_batch']} | {r['build_s']} |")
    lines += ["", "raw: the slab's own library object at the engine's parameters (Annoy search_k = "
              "n_trees × 100, PyNNDescent epsilon 0.1 on the unit query). index.query adds validation, "
              "the snapshot, routing, exact re-scoring of the k candidates, response objects and metering."]
    for r in rows:
        if "profile" in r:
            lines += ["", f"## profile: {r['engine']} (2000 index.query calls, by own time)", "", "```",
                      r["profile"].strip(), "```"]
    (RESULTS / "overhead.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--engines", default="annoy,nndescent")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    data = clustered(args.n, args.dim)
    queries = clustered(args.queries, args.dim, seed=1)
    makers = {"annoy": annoy_engine, "nndescent": nndescent_engine}
    rows = []
    for name in args.engines.split(","):
        if name == "nndescent":
            from plugins.nndescent import NNDescentBuilder
            NNDescentBuilder.warm_up()
        engine, single, batch = makers[name]()
        rows.append(run_engine(name, engine, single, batch, data, queries, args))
    write(rows, args)


if __name__ == "__main__":
    main()
