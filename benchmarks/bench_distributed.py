"""An index on a 2-worker Dask LocalCluster against the local client (issue #15).

    python benchmarks/bench_distributed.py                      # 1M x 128, the figures issue #15 asks for
    python benchmarks/bench_distributed.py --records 50000      # a quick check on a shared machine

Both clients get the same ``--records`` x ``--dim`` float32 vectors (exact engine, slabs of
``--slab`` records, ingested in slab-sized upserts each followed by a flush). Measured:

1. memory: the resident size of this process after each client is filled (for the cluster
   client: the coordinator, which keeps the write path and every slab's rows) and of each
   worker process (what it holds), plus the slab bytes the shard placed on each worker;
2. single-query latency (top_k=10, ``--queries`` queries): median and p99, local vs cluster —
   the difference is the per-query overhead of one Dask task per worker plus the merge;
3. batched throughput: ``query_batch`` of ``--batch`` queries (one task per worker per batch);
4. what a 10-worker cluster would hold: from the measured slab bytes per record on the
   workers and each worker's measured resident size, the records 10 workers of
   ``--worker-gib`` GiB each would hold.

Writes benchmarks/results/distributed.md (and .json), with the machine's load average.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

import toolkit

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MIB = 2**20


def rss() -> int:
    """Return this process's resident size in bytes."""
    return int(psutil.Process().memory_info().rss)


def fill(client: toolkit.Client, vectors: np.ndarray, slab: int) -> None:
    client.create_index("bench", dimension=vectors.shape[1], metric="cosine", engine="exact")
    index = client.Index("bench")
    for a in range(0, len(vectors), slab):
        part = vectors[a:a + slab]
        index.upsert([(f"r{a + i}", row) for i, row in enumerate(part.tolist())], batch_size=1000)
        index.flush(wait=True)


def latencies(index: Any, queries: np.ndarray) -> list[float]:
    out = []
    for q in queries.tolist():
        started = time.perf_counter()
        index.query(vector=q, top_k=10)
        out.append(time.perf_counter() - started)
    return out


def throughput(index: Any, queries: np.ndarray) -> float:
    started = time.perf_counter()
    index.query_batch(queries, top_k=10)
    return len(queries) / (time.perf_counter() - started)


def measure(client: toolkit.Client, queries: np.ndarray, batch: np.ndarray) -> dict[str, float]:
    index = client.Index("bench")
    latencies(index, queries[:5])  # warm: placement, first task per worker
    times = latencies(index, queries)
    return {"median_ms": 1e3 * statistics.median(times), "p99_ms": 1e3 * float(np.quantile(times, 0.99)),
            "batch_qps": throughput(index, batch)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--slab", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-gib", type=float, default=16.0)
    args = parser.parse_args()
    from distributed import Client as DaskClient, LocalCluster

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(args.records, args.dim)).astype(np.float32)
    queries = rng.normal(size=(args.queries, args.dim)).astype(np.float32)
    batch = rng.normal(size=(args.batch, args.dim)).astype(np.float32)
    base = rss()

    local = toolkit.Client()
    fill(local, vectors, args.slab)
    local_rss = rss() - base
    local_figures = measure(local, queries, batch)
    local.close()
    del local
    gc.collect()

    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None)
    dask = DaskClient(cluster)
    workers_before = dask.run(rss)
    before = rss()
    remote = toolkit.Client(cluster=dask)
    fill(remote, vectors, args.slab)
    coordinator_rss = rss() - before
    remote_figures = measure(remote, queries, batch)
    workers_after = dask.run(rss)
    held = remote.Index("bench")._shard.worker_bytes()  # type: ignore[attr-defined]
    remote.close()
    dask.close()
    cluster.close()

    worker_rows = [{"worker": w, "rss_mib": workers_after[w] / MIB, "added_mib": (workers_after[w] - workers_before[w]) / MIB,
                    "slab_mib": held.get(w, 0) / MIB} for w in sorted(workers_after)]
    placed = sum(held.values())
    bytes_per_record = placed / args.records
    idle = statistics.median(workers_before.values())
    per_worker_records = (args.worker_gib * 2**30 - idle) / max(bytes_per_record, 1.0)
    result = {
        "records": args.records, "dim": args.dim, "slab": args.slab, "workers": args.workers,
        "load_average": os.getloadavg(), "cpus": os.cpu_count(), "python": platform.python_version(),
        "local": {"rss_added_mib": local_rss / MIB, **local_figures},
        "cluster": {"coordinator_rss_added_mib": coordinator_rss / MIB, **remote_figures},
        "workers_measured": worker_rows, "slab_bytes_per_record": bytes_per_record,
        "ten_workers_records": 10 * per_worker_records, "worker_gib": args.worker_gib,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "distributed.json").write_text(json.dumps(result, indent=2, default=str))
    lines = [
        f"# Distributed index: {args.records:,} x {args.dim} on a {args.workers}-worker LocalCluster vs the local client",
        "",
        f"Command: `python benchmarks/bench_distributed.py --records {args.records} --dim {args.dim} "
        f"--slab {args.slab} --queries {args.queries} --batch {args.batch}`  ",
        f"Load average at the end: {', '.join(f'{x:.1f}' for x in result['load_average'])} on {os.cpu_count()} CPUs "
        "(shared machine: figures are noisy).",
        "",
        "| client | memory added (MiB) | single query median (ms) | p99 (ms) | batch of "
        f"{args.batch} (queries/s) |",
        "|---|---|---|---|---|",
        f"| local | {local_rss / MIB:.0f} (this process) | {local_figures['median_ms']:.2f} | "
        f"{local_figures['p99_ms']:.2f} | {local_figures['batch_qps']:.0f} |",
        f"| cluster | {coordinator_rss / MIB:.0f} (coordinator) | {remote_figures['median_ms']:.2f} | "
        f"{remote_figures['p99_ms']:.2f} | {remote_figures['batch_qps']:.0f} |",
        "",
        f"Single-query overhead of the cluster: {remote_figures['median_ms'] - local_figures['median_ms']:+.2f} ms "
        "(median).",
        "",
        "| worker | resident (MiB) | added by the index (MiB) | slabs placed (MiB) |",
        "|---|---|---|---|",
        *(f"| {r['worker']} | {r['rss_mib']:.0f} | {r['added_mib']:.0f} | {r['slab_mib']:.0f} |" for r in worker_rows),
        "",
        f"Slab bytes per record on the workers: {bytes_per_record:.0f}. A 10-worker cluster of "
        f"{args.worker_gib:g} GiB workers (minus the measured idle worker size, {idle / MIB:.0f} MiB) would hold "
        f"about {result['ten_workers_records'] / 1e6:,.0f} M records of this shape in its slabs. The coordinator "
        "keeps every slab's rows too (see docs/architecture.md, 'On a Dask cluster'), so it bounds the index "
        "size today.",
        "",
    ]
    (RESULTS / "distributed.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
