"""Concurrency of the data plane: parallel readers, and readers beside a writer's flushes and merges.

    python benchmarks/bench_concurrency.py                   # 100k x 128, the figures issue #10 asks for
    python benchmarks/bench_concurrency.py --records 20000 --queries 200   # a quick check

1. Parallel reads: exact queries (top_k=10) on one namespace of ``--records`` x ``--dim``
   vectors (one compacted exact slab), BLAS limited to one thread (threadpoolctl), run for
   ``--seconds`` from 1 thread and then from 2 threads; the speed-up is the ratio of their
   throughputs (target >= 1.6x: queries hold no lock, and numpy's BLAS releases the GIL).
2. Reads beside writes: a persistent client; namespace "read" holds ``--records`` vectors;
   query latency there is measured with no writes, then while another thread ingests
   ``--records`` records into namespace "write" of the same index (memtable of
   ``--memtable`` records: flushes, background builds, merges, checkpoints). The ratio of the
   two p99s is the cost a writer's I/O and builds impose on readers (target <= 2x).

Writes benchmarks/results/concurrency.md (and .json), with the machine's load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

import toolkit

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def vectors(n: int, dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def load(index: Any, namespace: str, data: np.ndarray, prefix: str, batch: int = 1000) -> None:
    """Upsert ``data`` in request-sized batches (ids ``prefix0..``)."""
    for start in range(0, len(data), batch):
        chunk = data[start : start + batch]
        index.upsert([(f"{prefix}{start + i}", row) for i, row in enumerate(chunk)], namespace=namespace)


def run_for(seconds: float, threads: int, work: Any) -> tuple[int, list[float]]:
    """Call ``work(i)`` on ``threads`` threads for ``seconds``; return (calls, latencies in s)."""
    stop = time.perf_counter() + seconds
    counts = [0] * threads
    latencies: list[list[float]] = [[] for _ in range(threads)]

    def loop(t: int) -> None:
        i = t
        while time.perf_counter() < stop:
            started = time.perf_counter()
            work(i)
            latencies[t].append(time.perf_counter() - started)
            counts[t] += 1
            i += threads

    pool = [threading.Thread(target=loop, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(counts), [x for part in latencies for x in part]


def parallel_reads(args: argparse.Namespace) -> dict[str, Any]:
    client = toolkit.Client()
    client.create_index("bench", dimension=args.dim, metric="euclidean",
                        engine={"tiers": ["exact"], "memtable_max_records": 10_000})
    index = client.Index("bench")
    load(index, "read", vectors(args.records, args.dim, 0), "r")
    index.compact(show_progress=False)
    queries = vectors(args.queries, args.dim, 1).tolist()

    def query(i: int) -> None:
        index.query(vector=queries[i % len(queries)], top_k=10, namespace="read")

    out: dict[str, Any] = {}
    for threads in (1, 2):
        run_for(min(1.0, args.seconds), threads, query)  # warm-up
        calls, _ = run_for(args.seconds, threads, query)
        out[f"qps_{threads}"] = calls / args.seconds
    out["speedup"] = out["qps_2"] / out["qps_1"]
    client.close()
    return out


def reads_beside_writes(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-concurrency-") as folder:
        client = toolkit.Client(path=str(Path(folder) / "db"))
        client.create_index("bench", dimension=args.dim, metric="euclidean",
                            engine={"tiers": ["exact"], "memtable_max_records": args.memtable, "merge_fanout": 4})
        index = client.Index("bench")
        load(index, "read", vectors(args.records, args.dim, 0), "r")
        index.compact(show_progress=False)
        queries = vectors(args.queries, args.dim, 1).tolist()

        def query(i: int) -> None:
            index.query(vector=queries[i % len(queries)], top_k=10, namespace="read")

        run_for(min(1.0, args.seconds), 1, query)  # warm-up
        _, quiet = run_for(args.seconds, 1, query)
        writes = vectors(args.records, args.dim, 2)
        done = threading.Event()
        write_seconds: list[float] = []

        def writer() -> None:
            started = time.perf_counter()
            load(index, "write", writes, "w")
            index.wait_for_merges()
            write_seconds.append(time.perf_counter() - started)
            done.set()

        thread = threading.Thread(target=writer)
        thread.start()
        busy: list[float] = []
        i = 0
        while not done.is_set():
            started = time.perf_counter()
            query(i)
            busy.append(time.perf_counter() - started)
            i += 1
        thread.join()
        merges = index.describe_merges()
        client.close()
    p99_quiet, p99_busy = percentile(quiet, 99), percentile(busy, 99)
    return {"p50_quiet_ms": 1e3 * statistics.median(quiet), "p99_quiet_ms": 1e3 * p99_quiet,
            "p50_busy_ms": 1e3 * statistics.median(busy), "p99_busy_ms": 1e3 * p99_busy,
            "p99_ratio": p99_busy / p99_quiet, "queries_busy": len(busy), "ingest_seconds": write_seconds[0],
            "jobs": int(len(merges)), "merges": int((merges["kind"] == "merge").sum()) if len(merges) else 0}


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def report(args: argparse.Namespace, reads: dict[str, Any], mixed: dict[str, Any]) -> str:
    load1, load5, _ = os.getloadavg()
    return "\n".join([
        "# Concurrency: parallel readers, and readers beside a writer",
        "",
        f"`python benchmarks/bench_concurrency.py --records {args.records} --dim {args.dim} "
        f"--queries {args.queries} --seconds {args.seconds} --memtable {args.memtable}` on "
        f"{platform.machine()} with {os.cpu_count()} CPUs, load average {load1:.2f} / {load5:.2f} "
        "(1 / 5 min) at the end; BLAS limited to 1 thread.",
        "",
        "## Exact queries from 1 and 2 threads (target: 2 threads >= 1.6x)",
        "",
        "| threads | queries/s |",
        "|---:|---:|",
        f"| 1 | {reads['qps_1']:.0f} |",
        f"| 2 | {reads['qps_2']:.0f} |",
        "",
        f"Speed-up: **{reads['speedup']:.2f}x**.",
        "",
        "## Query latency while another namespace ingests (target: p99 <= 2x)",
        "",
        "| | p50 (ms) | p99 (ms) |",
        "|---|---:|---:|",
        f"| no writes | {mixed['p50_quiet_ms']:.2f} | {mixed['p99_quiet_ms']:.2f} |",
        f"| while ingesting | {mixed['p50_busy_ms']:.2f} | {mixed['p99_busy_ms']:.2f} |",
        "",
        f"p99 ratio: **{mixed['p99_ratio']:.2f}x** over {mixed['queries_busy']} queries; the ingest of "
        f"{args.records} records took {mixed['ingest_seconds']:.1f} s with {mixed['jobs']} builds and merges "
        f"({mixed['merges']} merges), persistent client.",
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--memtable", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=RESULTS / "concurrency.md")
    args = parser.parse_args()
    with threadpool_limits(limits=1, user_api="blas"):
        reads = parallel_reads(args)
        mixed = reads_beside_writes(args)
    text = report(args, reads, mixed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps({"args": vars(args) | {"out": str(args.out)},
                                                         "parallel_reads": reads, "reads_beside_writes": mixed},
                                                        indent=2))
    print(text)


if __name__ == "__main__":
    main()
