"""An index on a 2-worker Dask LocalCluster against the local client (issue #15).

    flock /work/bench.lock python benchmarks/bench_distributed.py           # 1M x 128 (the issue's figures)
    python benchmarks/bench_distributed.py --records 50000                   # a quick check

Each client runs in a fresh process (``--mode local`` / ``--mode cluster``, started by the
parent) on the same ``--records`` x ``--dim`` float32 vectors (exact engine, the default
memtable of 10,000 records, so 100 flushes and their merges at 1M), upserted in batches with
a flush every ``--slab`` records; then the shard settles (merges done). Measured:

1. memory: resident size (RSS) of the client's process before and after the fill (the
   cluster client's is the coordinator: write path, memtable, ids/metadata/masks of every
   slab, no vectors), and of each worker process (vectors and indexes of its slabs);
2. single-query latency (top_k=10, ``--queries`` queries): median and p99;
3. batched throughput: ``query_batch`` of ``--batch`` queries (one task per worker);
4. network, from Dask's own accounting (nothing else on the machine counts): (a) every byte
   Dask's TCP comms write — each ``distributed.comm.tcp.TCP.write`` returns the bytes of the
   message's frames; the benchmark sums them in the coordinator (which hosts the scheduler of
   the LocalCluster) and in each worker — per single query and per batch, minus the same
   count over an idle window (heartbeats) and the cost of reading the counters; (b) the
   payload: the pickled size of every task's arguments (slab futures excluded) and result;
5. what a 10-worker cluster would hold: from the measured worker bytes per record and the
   measured idle worker size, the records 10 workers of ``--worker-gib`` GiB would hold.

Writes benchmarks/results/distributed.md (and .json), with the machine's load average.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
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


def count_comm_writes() -> None:
    """Make this process's Dask TCP comms add the bytes of every message they write to a counter.

    ``TCP.write`` returns the bytes of the frames it queued (header included); the counter is
    kept on Dask's tcp module so that every process (coordinator + scheduler, each worker) has
    its own. Idempotent.
    """
    from distributed.comm import tcp

    if getattr(tcp.TCP.write, "counted", False):
        return
    original = tcp.TCP.write
    tcp.bytes_written = 0  # type: ignore[attr-defined]

    async def write(self: Any, msg: Any, serializers: Any = None, on_error: str = "message") -> int:
        nbytes = await original(self, msg, serializers=serializers, on_error=on_error)
        tcp.bytes_written += int(nbytes)  # type: ignore[attr-defined]
        return int(nbytes)

    write.counted = True  # type: ignore[attr-defined]
    tcp.TCP.write = write  # type: ignore[method-assign]


def comm_bytes_here() -> int:
    """Return the bytes this process's Dask TCP comms wrote since ``count_comm_writes``."""
    from distributed.comm import tcp

    return int(getattr(tcp, "bytes_written", 0))


def comm_bytes(dask: Any) -> int:
    """Return the bytes written by the Dask comms of the coordinator (and scheduler) and of every worker."""
    return comm_bytes_here() + sum(dask.run(comm_bytes_here).values())


class Payload:
    """Sums the pickled size of the arguments (slab futures excluded) and results of a shard's tasks."""

    def __init__(self, shard: Any) -> None:
        import cloudpickle
        from distributed import Future

        self.sent = self.received = self.tasks = 0
        submit, results = shard._submit, shard._results

        def counting_submit(function: Any, *args: Any, key: str, worker: str) -> Any:
            plain = [[x for x in a if not isinstance(x, Future)] if isinstance(a, list) else a
                     for a in args if not isinstance(a, Future)]
            self.sent += len(cloudpickle.dumps(plain))
            self.tasks += 1
            return submit(function, *args, key=key, worker=worker)

        def counting_results(*args: Any, **kwargs: Any) -> list[Any]:
            out = results(*args, **kwargs)
            self.received += sum(len(cloudpickle.dumps(r)) for r in out)
            return out

        shard._submit, shard._results = counting_submit, counting_results

    def snapshot(self) -> tuple[int, int, int]:
        return self.sent, self.received, self.tasks


def network(dask: Any, index: Any, queries: np.ndarray, batch: np.ndarray) -> dict[str, Any]:
    """Return the bytes Dask wrote per single query and per batch, and the tasks' payload."""
    dask.run(count_comm_writes)
    count_comm_writes()
    payload = Payload(index._shard)
    a = comm_bytes(dask)
    reading = comm_bytes(dask) - a  # what reading the counters costs (a dask.run per reading)
    a, t0 = comm_bytes(dask), time.perf_counter()
    time.sleep(3.0)
    idle_rate = (comm_bytes(dask) - a - reading) / (time.perf_counter() - t0)  # heartbeats
    out: dict[str, Any] = {"idle_bytes_per_s": idle_rate, "counter_read_bytes": reading}
    for name, run_once, n in (("single", lambda: latencies(index, queries), len(queries)),
                              ("batch", lambda: index.query_batch(batch, top_k=10), len(batch))):
        before, p0 = comm_bytes(dask), payload.snapshot()
        t0 = time.perf_counter()
        run_once()
        seconds = time.perf_counter() - t0
        total = comm_bytes(dask) - before - reading - idle_rate * seconds
        p1 = payload.snapshot()
        runs = len(queries) if name == "single" else 1
        out[name] = {"queries": n, "runs": runs, "seconds": seconds, "dask_bytes_per_run": total / runs,
                     "payload_sent_per_run": (p1[0] - p0[0]) / runs,
                     "payload_received_per_run": (p1[1] - p0[1]) / runs, "tasks_per_run": (p1[2] - p0[2]) / runs}
    return out


def data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(args.records, args.dim)).astype(np.float32)
    return vectors, rng.normal(size=(args.queries, args.dim)).astype(np.float32), \
        rng.normal(size=(args.batch, args.dim)).astype(np.float32)


def fill(client: toolkit.Client, vectors: np.ndarray, slab: int) -> float:
    started = time.perf_counter()
    client.create_index("bench", dimension=vectors.shape[1], metric="cosine", engine="exact")
    index = client.Index("bench")
    ids = [f"r{i}" for i in range(len(vectors))]
    for a in range(0, len(vectors), slab):
        index.upsert(list(zip(ids[a:a + slab], vectors[a:a + slab])), batch_size=1000, show_progress=False)
        index.flush(wait=True)
    index.wait_for_merges()
    index.flush(wait=True)  # places any slab a merge left
    return time.perf_counter() - started


def latencies(index: Any, queries: np.ndarray) -> list[float]:
    out = []
    for q in queries:
        started = time.perf_counter()
        index.query(vector=q, top_k=10)
        out.append(time.perf_counter() - started)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Fill one client in this process and measure it."""
    vectors, queries, batch = data(args)
    dask = cluster = None
    if args.mode == "cluster":
        from distributed import Client as DaskClient, LocalCluster

        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        dask = DaskClient(cluster, direct_to_workers=args.direct_to_workers)
    gc.collect()
    before = rss()
    workers_before = {} if dask is None else dask.run(rss)
    client = toolkit.Client(cluster=dask)
    fill_seconds = fill(client, vectors, args.slab)
    gc.collect()
    after = rss()
    index = client.Index("bench")
    latencies(index, queries[:5])  # warm: first task per worker
    times = latencies(index, queries)
    started = time.perf_counter()
    index.query_batch(batch, top_k=10)
    batch_seconds = time.perf_counter() - started
    out: dict[str, Any] = {
        "mode": args.mode, "fill_seconds": fill_seconds, "rss_before_mib": before / MIB, "rss_after_mib": after / MIB,
        "median_ms": 1e3 * statistics.median(times), "p99_ms": 1e3 * float(np.quantile(times, 0.99)),
        "batch_qps": len(batch) / batch_seconds, "slabs": len(index.describe_slabs()),
    }
    if dask is not None:
        workers_after = dask.run(rss)
        out["workers"] = [{"worker": w, "rss_before_mib": workers_before[w] / MIB,
                           "rss_after_mib": workers_after[w] / MIB} for w in sorted(workers_after)]
        out["placed_mib"] = {w: b / MIB for w, b in index._shard.worker_bytes().items()}  # type: ignore[attr-defined]
        slabs = index.describe_slabs()
        out["placement"] = {str(w): {"slabs": int(len(g)), "rows": int(g["rows"].sum()),
                                     "largest_slab_rows": int(g["rows"].max())} for w, g in slabs.groupby("worker")}
        out["network"] = network(dask, index, queries, batch)
    client.close()
    if dask is not None and cluster is not None:
        dask.close()
        cluster.close()
    return out


def report(args: argparse.Namespace, local: dict[str, Any], remote: dict[str, Any]) -> None:
    workers = remote["workers"]
    placed = sum(remote["placed_mib"].values()) * MIB
    added = [w["rss_after_mib"] - w["rss_before_mib"] for w in workers]
    worker_bytes_per_record = sum(added) * MIB / args.records
    idle = statistics.median(w["rss_before_mib"] for w in workers) * MIB
    coordinator_added = (remote["rss_after_mib"] - remote["rss_before_mib"]) * MIB
    per_worker = (args.worker_gib * 2**30 - idle) / max(worker_bytes_per_record, 1.0)
    ten = 10 * per_worker
    coordinator_per_record = coordinator_added / args.records
    result = {"args": vars(args), "local": local, "cluster": remote, "load_average": os.getloadavg(),
              "cpus": os.cpu_count(), "python": platform.python_version(),
              "worker_bytes_per_record": worker_bytes_per_record, "coordinator_bytes_per_record": coordinator_per_record,
              "ten_workers_records": ten}
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    (results / "distributed.json").write_text(json.dumps(result, indent=2, default=str))
    net = remote["network"]
    lines = [
        f"# Distributed index: {args.records:,} x {args.dim} on a {args.workers}-worker LocalCluster vs the local client",
        "",
        f"Command: `flock /work/bench.lock python benchmarks/bench_distributed.py --records {args.records} "
        f"--dim {args.dim} --slab {args.slab} --queries {args.queries} --batch {args.batch}`  ",
        f"Load average at the end: {', '.join(f'{x:.1f}' for x in result['load_average'])} on {os.cpu_count()} CPUs "
        "(a shared machine with other engineers' jobs running: latency and throughput are noisy; memory is not).  ",
        "Exact engine (the figures are about where memory goes and what the cluster adds per query, not ANN speed); "
        "each client ran in a fresh process; memory is resident size (RSS) measured with psutil.",
        "",
        "## Memory per process",
        "",
        "| process | RSS before fill (MiB) | RSS after fill (MiB) | added (MiB) | added per record (bytes) |",
        "|---|---|---|---|---|",
        f"| local client (everything) | {local['rss_before_mib']:.0f} | {local['rss_after_mib']:.0f} | "
        f"{local['rss_after_mib'] - local['rss_before_mib']:.0f} | "
        f"{(local['rss_after_mib'] - local['rss_before_mib']) * MIB / args.records:.0f} |",
        f"| cluster coordinator | {remote['rss_before_mib']:.0f} | {remote['rss_after_mib']:.0f} | "
        f"{coordinator_added / MIB:.0f} | {coordinator_per_record:.0f} |",
        *(f"| worker {w['worker']} | {w['rss_before_mib']:.0f} | {w['rss_after_mib']:.0f} | {a:.0f} | "
          f"{a * MIB / args.records:.0f} |" for w, a in zip(workers, added)),
        "",
        "Both RSS columns include the input vectors the benchmark generated before the fill "
        f"({args.records * args.dim * 4 / MIB:.0f} MiB, in the client's process only).",
        "",
        "## Placement (bytes per worker)",
        "",
        "| worker | slab bytes placed (MiB) | slabs | rows | largest slab (rows) |",
        "|---|---|---|---|---|",
        *(f"| {w} | {remote['placed_mib'].get(w, 0.0):.0f} | {p['slabs']} | {p['rows']:,} | "
          f"{p['largest_slab_rows']:,} |" for w, p in sorted(remote["placement"].items())),
        "",
        f"Most / least loaded worker: {max(remote['placed_mib'].values()) / max(min(remote['placed_mib'].values()), 1e-9):.3f}.",
        "",
        "## Latency and throughput",
        "",
        f"| client | fill (s) | single query median (ms) | p99 (ms) | batch of {args.batch} (queries/s) |",
        "|---|---|---|---|---|",
        f"| local | {local['fill_seconds']:.0f} | {local['median_ms']:.2f} | {local['p99_ms']:.2f} | "
        f"{local['batch_qps']:.0f} |",
        f"| cluster | {remote['fill_seconds']:.0f} | {remote['median_ms']:.2f} | {remote['p99_ms']:.2f} | "
        f"{remote['batch_qps']:.0f} |",
        "",
        f"Single-query overhead of the cluster: {remote['median_ms'] - local['median_ms']:+.2f} ms (median); "
        "the two workers search their halves in parallel, so on an idle machine the cluster can also be faster.",
        "",
        "## Network per query (Dask's own byte counts)",
        "",
        "Counted inside Dask, so only this benchmark's traffic is in it: every `distributed.comm.tcp.TCP.write` of "
        "the coordinator (which also hosts the LocalCluster's scheduler) and of each worker adds the bytes of the "
        "frames it wrote (header included) to a per-process counter; the figure is the sum over those processes "
        "during the queries, minus what the same counters record over an idle window of the same length "
        f"(heartbeats: {net['idle_bytes_per_s'] / 1024:.1f} KiB/s) and minus the cost of reading them "
        f"({net['counter_read_bytes'] / 1024:.1f} KiB per reading, a `dask.run` per process). Nannies "
        "(heartbeats only) are not counted. *Payload* is the pickled size of each task's arguments (slab "
        "futures excluded: only their keys travel) and of each result, measured at the coordinator.",
        "",
        "| | queries | tasks | Dask bytes written (all processes) | payload sent | payload received |",
        "|---|---|---|---|---|---|",
        f"| one query (top_k=10, {args.dim}-d; mean of {net['single']['runs']}) | 1 | "
        f"{net['single']['tasks_per_run']:.0f} | {net['single']['dask_bytes_per_run'] / 1024:.1f} KiB | "
        f"{net['single']['payload_sent_per_run'] / 1024:.1f} KiB | "
        f"{net['single']['payload_received_per_run'] / 1024:.1f} KiB |",
        f"| one batch (top_k=10) | {net['batch']['queries']} | {net['batch']['tasks_per_run']:.0f} | "
        f"{net['batch']['dask_bytes_per_run'] / 1024:,.0f} KiB "
        f"({net['batch']['dask_bytes_per_run'] / net['batch']['queries'] / 1024:.2f} KiB per query) | "
        f"{net['batch']['payload_sent_per_run'] / 1024:,.0f} KiB | "
        f"{net['batch']['payload_received_per_run'] / 1024:,.0f} KiB |",
        "",
        "## What a 10-worker cluster would hold",
        "",
        f"Measured per worker: {worker_bytes_per_record:.0f} bytes of RSS per record of this shape "
        f"({args.dim} float32 = {args.dim * 4} bytes of vector), idle worker {idle / MIB:.0f} MiB. Ten workers of "
        f"{args.worker_gib:g} GiB would hold about **{ten / 1e6:,.0f} M records** in their slabs "
        f"({per_worker / 1e6:,.0f} M each). The coordinator then needs {coordinator_per_record:.0f} bytes per "
        f"record (ids, metadata columns, live masks, the live-id map of the write path): "
        f"{ten * coordinator_per_record / 2**30:,.0f} GiB for that many records — it, not the workers, is the "
        "next bound.",
        "",
    ]
    (results / "distributed.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--slab", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-gib", type=float, default=16.0)
    parser.add_argument("--mode", choices=("both", "local", "cluster"), default="both")
    parser.add_argument("--out", default=None, help="(child) write this mode's figures as JSON here")
    parser.add_argument("--direct-to-workers", action="store_true",
                        help="the Dask client gathers results from the workers, not through the scheduler")
    parser.add_argument("--results", default=str(RESULTS), help="folder of distributed.md/.json (a quick check: elsewhere)")
    args = parser.parse_args()
    if args.mode != "both":
        figures = run(args)
        Path(args.out).write_text(json.dumps(figures, default=str))
        return
    results = {}
    for mode in ("local", "cluster"):
        out = RESULTS / f".distributed-{mode}.json"
        command = [sys.executable, __file__, *sys.argv[1:], "--mode", mode, "--out", str(out)]
        subprocess.run(command, check=True)
        results[mode] = json.loads(out.read_text())
        out.unlink()
    report(args, results["local"], results["cluster"])


if __name__ == "__main__":
    main()
