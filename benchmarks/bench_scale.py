"""Scale benchmark (issue #14): durable ingest, recall@10 and latency, reopen, resident memory.

Usage (from the repository root)::

    python benchmarks/bench_scale.py --n 100000                 # a quick proof at 100k × 128
    python benchmarks/bench_scale.py --n 1000000 --engine benchmarks/engines/scale_1m.toml      # the 1M proof
    flock /work/bench.lock python benchmarks/bench_scale.py --n 10000000 \
        --engine benchmarks/engines/scale_10m.toml              # the 10M target (~30 min on 2 cores)

The engine (``--engine``: a builder name or a TOML file, see benchmarks/engines/) is a
parameter so the tier that reaches the targets (e.g. the faiss IVF / hnswlib plugins) can be
chosen once it exists. Steps, each timed:

1. durable ingest of ``n`` clustered float32 vectors (``--batch`` records per upsert, ids
   ``r<i>``) into a persistent ``Client(path=...)`` by ``--writers`` client threads (each
   upsert returns once its log record is fsync'd; concurrent upserts share one fsync, the
   log's group commit), then ``index.flush()`` and ``wait_for_merges()`` (the background
   builds): records/s for the upserts alone and overall, and each build's time;
2. ``--queries`` single queries: recall@10 against an exact numpy scan (chunked), p50/p95
   latency, for the engine's default query parameters and every ``--sweep`` entry;
3. reopen in a fresh process (``Client(path)`` + first query), read-only open too;
4. resident memory (VmRSS, VmHWM) of the ingesting process.

Vectors are generated in chunks from a seed, so the data never needs to fit twice in memory.
Targets (10M × 128): ingest ≥ 30k records/s, recall@10 ≥ 0.95 at p50 ≤ 10 ms, reopen ≤ 2 s.
Writes benchmarks/results/scale.json and scale.md with the load average. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "vector-toolkit" / "numba"))

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import toolkit  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
K = 10
CENTRES = 256


def chunks(n: int, dim: int, chunk: int, seed: int = 0) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (start, vectors) of a clustered data set, generated chunk by chunk from ``seed``."""
    centres = np.random.default_rng(seed).normal(size=(CENTRES, dim)).astype(np.float32) * 2
    for start in range(0, n, chunk):
        rng = np.random.default_rng([seed, start])
        size = min(chunk, n - start)
        yield start, (centres[rng.integers(CENTRES, size=size)] + rng.normal(size=(size, dim))).astype(np.float32)


def rss() -> dict[str, float]:
    """Return VmRSS and VmHWM of this process in MiB."""
    out: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            name, value = line.split(":", 1)
            out[name] = int(value.split()[0]) / 1024
    return out


def exact_truth(queries: np.ndarray, args: argparse.Namespace) -> np.ndarray:
    """Return the exact top-10 row numbers of each query (cosine), scanning the data in chunks."""
    qn = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    best_s = np.full((len(queries), K), -np.inf, np.float32)
    best_i = np.zeros((len(queries), K), np.int64)
    for start, block in chunks(args.n, args.dim, args.chunk):
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        s = qn @ block.T
        top = np.argpartition(-s, K - 1, axis=1)[:, :K]  # the chunk's own top 10, then merge with the best so far
        s_all = np.concatenate([best_s, np.take_along_axis(s, top, 1)], axis=1)
        i_all = np.concatenate([best_i, top + start], axis=1)
        keep = np.argpartition(-s_all, K - 1, axis=1)[:, :K]
        best_s = np.take_along_axis(s_all, keep, 1)
        best_i = np.take_along_axis(i_all, keep, 1)
    return best_i


REOPEN = """
import json, sys, time
t0 = time.perf_counter()
import toolkit
t1 = time.perf_counter()
client = toolkit.Client(path=sys.argv[1], read_only=sys.argv[2] == "ro")
index = client.Index("scale")
t2 = time.perf_counter()
index.query(vector=json.loads(sys.argv[3]), top_k=10)
t3 = time.perf_counter()
rss = [int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmRSS:")][0]
print(json.dumps({"import_s": t1 - t0, "open_s": t2 - t1, "first_query_ms": (t3 - t2) * 1e3, "rss_mib": rss}))
"""


def ingest(index: Any, args: argparse.Namespace) -> float:
    """Upsert the whole data set with ``args.writers`` threads; return the seconds spent in upserts.

    Chunks are generated one at a time; the writers take its batches from a shared counter,
    so at most two chunks (the one being written and the next) are alive at once.
    """
    def write(block: np.ndarray, start: int, todo: list[int], lock: threading.Lock) -> None:
        while True:
            with lock:
                if not todo:
                    return
                s = todo.pop()
            part = block[s:s + args.batch]
            ids = [f"r{start + s + j}" for j in range(len(part))]
            index.upsert(vectors=list(zip(ids, part)), show_progress=False)

    upsert_s = 0.0
    for start, block in chunks(args.n, args.dim, args.chunk):
        todo = list(range(0, len(block), args.batch))[::-1]
        lock = threading.Lock()
        u0 = time.perf_counter()
        threads = [threading.Thread(target=write, args=(block, start, todo, lock)) for _ in range(args.writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        upsert_s += time.perf_counter() - u0
        resident = rss().get("VmRSS", 0)
        if resident > args.max_rss_mib:  # a shared machine: stop before it runs out of memory
            raise SystemExit(f"stopped at {start + len(block)} records: VmRSS {resident:.0f} MiB > --max-rss-mib")
        if (start + len(block)) % (10 * args.chunk) == 0 or start + len(block) == args.n:
            print(f"ingested {start + len(block)} / {args.n} ({(start + len(block)) / upsert_s:.0f} records/s, "
                  f"RSS {rss().get('VmRSS', 0):.0f} MiB)", file=sys.stderr, flush=True)
    return upsert_s


def measure(index: Any, queries: np.ndarray, truth: np.ndarray, params: dict[str, Any] | None) -> dict[str, Any]:
    """Return recall@10 and single-query p50/p95 (ms) of ``queries`` with ``params``."""
    for q in queries[:20]:  # warm-up (page cache, JIT)
        index.query(vector=q, top_k=K, search_params=params)
    latencies, hits = [], []
    for j, q in enumerate(queries):
        q0 = time.perf_counter()
        got = index.query(vector=q, top_k=K, search_params=params)
        latencies.append(time.perf_counter() - q0)
        found = {int(m.id[1:]) for m in got.matches}
        hits.append(len(found & set(truth[j].tolist())) / K)
    return {"search_params": params, "recall_at_10": round(float(np.mean(hits)), 4),
            "p50_ms": round(statistics.median(latencies) * 1e3, 3),
            "p95_ms": round(float(np.percentile(latencies, 95)) * 1e3, 3)}


def reopen(path: Path, mode: str, q: list[float]) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", REOPEN, str(path), mode, json.dumps(q)], capture_output=True,
                          text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--engine", default="benchmarks/engines/fast.toml", help="builder name or TOML file")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--path", default=None, help="database folder (default: a temporary one, removed after)")
    parser.add_argument("--search-params", default=None, help="JSON search_params for the headline queries")
    parser.add_argument("--sweep", default=None,
                        help='JSON list of search_params to measure too, e.g. \'[{"nprobe": 8}, {"nprobe": 32}]\'')
    parser.add_argument("--writers", type=int, default=2, help="client threads upserting concurrently")
    parser.add_argument("--max-rss-mib", type=float, default=12 * 1024, help="abort the ingest above this VmRSS")
    args = parser.parse_args()
    folder = Path(args.path) if args.path else Path(tempfile.mkdtemp(prefix="bench-scale-"))
    search_params = json.loads(args.search_params) if args.search_params else None
    sweep = json.loads(args.sweep) if args.sweep else []
    try:
        client = toolkit.Client(path=str(folder))
        client.create_index(name="scale", dimension=args.dim, metric="cosine", engine=args.engine)
        index = client.Index("scale")
        t0 = time.perf_counter()
        upsert_s = ingest(index, args)
        ingest_rss = rss()
        print(f"upserts done in {upsert_s:.0f} s; flushing and waiting for the builds", file=sys.stderr, flush=True)
        index.flush()
        index.wait_for_merges()
        total_s = time.perf_counter() - t0
        merges = index.describe_merges()
        builds = merges[merges["outcome"] == "done"].groupby("builder")["build_seconds"].agg(["count", "sum", "max"])
        build_times = {str(k): {"jobs": int(v["count"]), "total_s": round(float(v["sum"]), 1),
                                "max_s": round(float(v["max"]), 1)} for k, v in builds.iterrows()}
        queries = next(chunks(args.queries, args.dim, args.queries, seed=99))[1]
        t_truth = time.perf_counter()
        truth = exact_truth(queries, args)
        print(f"ground truth in {time.perf_counter() - t_truth:.0f} s", file=sys.stderr, flush=True)
        headline = measure(index, queries, truth, search_params)
        swept = [measure(index, queries, truth, params) for params in sweep]
        memory = rss()
        slabs = index.describe_slabs()
        layout = slabs.groupby("builder")["rows"].agg(["count", "sum"]).to_dict(orient="index") if len(slabs) else {}
        index_mib = round(float(slabs["index_bytes"].sum()) / 2**20, 1) if len(slabs) else 0.0
        client.close()
        del client, index, slabs, merges
        gc.collect()  # let the reopening process have the memory
        disk_bytes = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        q0 = queries[0].tolist()
        reopen_rw, reopen_ro = reopen(folder, "rw", q0), reopen(folder, "ro", q0)
    finally:
        if not args.path:
            shutil.rmtree(folder, ignore_errors=True)
    row = {"n": args.n, "dim": args.dim, "engine": args.engine, "search_params": search_params,
           "ingest_records_per_s": round(args.n / upsert_s), "ingest_with_builds_records_per_s": round(args.n / total_s),
           "ingest_s": round(upsert_s, 1), "ingest_and_builds_s": round(total_s, 1),
           **{k: v for k, v in headline.items() if k != "search_params"}, "sweep": swept,
           "writers": args.writers, "batch": args.batch, "build_times": build_times, "index_mib": index_mib,
           "rss_after_ingest_mib": ingest_rss, "reopen": reopen_rw, "reopen_read_only": reopen_ro,
           "rss_mib": memory, "disk_mib": round(disk_bytes / 2**20, 1), "slabs_by_builder": layout,
           "load_average": os.getloadavg(), "cpu_count": os.cpu_count(), "python": platform.python_version(),
           "utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    print(json.dumps(row, default=str))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(row, indent=1, default=str))
    lines = ["# Scale: durable ingest, recall, reopen, memory (issue #14)", "",
             f"{args.n} × {args.dim} clustered ({CENTRES} centres), cosine, engine `{args.engine}`, "
             f"search_params {search_params}; load average {', '.join(f'{x:.2f}' for x in row['load_average'])} "
             f"on {row['cpu_count']} CPUs at {row['utc']} UTC (shared machine: noisy).", "",
             f"Command: `python benchmarks/bench_scale.py {shlex.join(sys.argv[1:])}` ({args.writers} writer "
             f"threads, {args.batch} records per upsert, each acknowledged after its log fsync)", "",
             "| measure | value | target (10M × 128) |", "|---|---|---|",
             f"| durable ingest (upserts only) | {row['ingest_records_per_s']} records/s | ≥ 30k records/s |",
             f"| ingest + flush + background builds | {row['ingest_with_builds_records_per_s']} records/s "
             f"({row['ingest_and_builds_s']} s) | |",
             f"| recall@10 ({args.queries} queries) | {row['recall_at_10']} | ≥ 0.95 |",
             f"| single query p50 / p95 | {row['p50_ms']} / {row['p95_ms']} ms | p50 ≤ 10 ms |",
             f"| reopen (fresh process: open / first query) | {reopen_rw['open_s']:.2f} s / "
             f"{reopen_rw['first_query_ms']:.1f} ms (VmRSS then {reopen_rw['rss_mib']:.0f} MiB) | ≤ 2 s |",
             f"| read-only open / first query | {reopen_ro['open_s']:.2f} s / {reopen_ro['first_query_ms']:.1f} ms | |",
             f"| resident memory after queries (VmRSS / peak VmHWM) | {memory.get('VmRSS', 0):.0f} / "
             f"{memory.get('VmHWM', 0):.0f} MiB | reported |",
             f"| resident memory after ingest, before the last builds | {ingest_rss.get('VmRSS', 0):.0f} MiB | |",
             f"| ANN index bytes (all slabs) | {index_mib} MiB | |",
             f"| on disk | {row['disk_mib']} MiB | |",
             f"| slabs by builder | {layout} | |",
             f"| build time by builder (jobs, total, longest) | {build_times} | |"]
    if swept:
        lines += ["", "Query parameters swept (same queries, same ground truth):", "",
                  "| search_params | recall@10 | p50 ms | p95 ms |", "|---|---|---|---|"]
        default = "the engine file's"
        lines += [f"| {json.dumps(r['search_params']) if r['search_params'] else default} | {r['recall_at_10']} | {r['p50_ms']} | {r['p95_ms']} |"
                  for r in [headline, *swept]]
    (RESULTS / "scale.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
