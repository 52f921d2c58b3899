"""HTTP throughput of the REST server vs calling the toolkit in process.

    python benchmarks/bench_http.py [--records 10000] [--dim 128] [--seconds 3] [--quick]

The server is ``python -m toolkit serve`` in its own process on a loopback port; every client
runs in another process (this script re-invoked with ``--client``), with httpx (raw JSON,
keep-alive) or the official ``pinecone`` SDK. The in-process rows call ``toolkit.Index``
directly with the same Python-list inputs. Results: benchmarks/results/http.json and http.md.
"""

from __future__ import annotations

import os

# One BLAS thread per process (set before numpy loads; the server subprocess inherits it): on a
# small shared machine OpenBLAS's own threads turn a 1 ms exact scan into 20 ms of contention,
# which would measure the machine, not the HTTP layer. Override by exporting the variables.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import platform
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _clients import (  # noqa: E402
    INDEX,
    NAMESPACE,
    ROOT,
    best,
    filled_index,
    free_port,
    load,
    make_queries,
    make_vectors,
    run_client,
    run_timed,
    start_server,
)

RESULTS = ROOT / "benchmarks" / "results"
READING = "<!-- reading: hand-written; bench_http.py keeps everything below this line -->"


# -- workloads (shared by the in-process runner and the HTTP client process) ------------------------

def workload(kind: str, args: argparse.Namespace) -> tuple[Callable[[Any], Callable[[int, int], int]], str]:
    """Return a factory (target -> op) for one workload and its description."""
    queries = make_queries(256, args.dim, seed=7)
    batches: list[list[dict[str, Any]]] = []
    if kind == "upsert":
        pool = make_vectors(args.batch * 64, args.dim, seed=11, prefix="u")
        batches = [pool[i : i + args.batch] for i in range(0, len(pool), args.batch)]

    def factory(target: Any) -> Callable[[int, int], int]:
        if kind == "query":
            def op(t: int, i: int) -> int:
                target.query(queries[(t * 7919 + i) % len(queries)], args.top_k)
                return 1
        elif kind == "query_filter":
            def op(t: int, i: int) -> int:
                target.query(queries[(t * 7919 + i) % len(queries)], args.top_k, {"shard": {"$eq": i % 10}})
                return 1
        elif kind == "upsert":
            def op(t: int, i: int) -> int:
                batch = batches[(t * 31 + i) % len(batches)]  # overwrites: the namespace stays the same size
                target.upsert(batch)
                return len(batch)
        else:
            raise ValueError(kind)
        return op

    what = {"query": f"query top_k={args.top_k}, {args.records} x {args.dim}d cosine",
            "query_filter": f"query top_k={args.top_k} + filter (1/10 selective)",
            "upsert": f"upsert {args.batch} records x {args.dim}d per request"}[kind]
    return factory, what


# -- targets ----------------------------------------------------------------------------------------

class InProcess:
    def __init__(self, index: Any) -> None:
        self.index = index

    def query(self, vector, top_k, flt=None):
        return self.index.query(vector=vector, top_k=top_k, namespace=NAMESPACE, filter=flt)

    def upsert(self, batch):
        return self.index.upsert(vectors=batch, namespace="writes", show_progress=False)


def _encoder() -> Callable[[Any], bytes]:
    try:
        import orjson

        return orjson.dumps
    except ImportError:
        return lambda data: json.dumps(data).encode()


class RawHttp:
    """httpx with keep-alive, sending the SDK's camelCase bodies (encoded with orjson, as the SDK does)."""

    def __init__(self, host: str, threads: int) -> None:
        import httpx

        self.encode = _encoder()
        self.host = host
        limits = httpx.Limits(max_connections=threads, max_keepalive_connections=threads)
        self.http = httpx.Client(limits=limits, headers={"Api-Key": "bench"}, timeout=60)

    def query(self, vector, top_k, flt=None):
        body = {"topK": top_k, "includeValues": False, "includeMetadata": False, "namespace": NAMESPACE,
                "vector": vector}
        if flt is not None:
            body["filter"] = flt
        resp = self.http.post(f"{self.host}/query", content=self.encode(body),
                              headers={"content-type": "application/json"})
        resp.raise_for_status()
        return resp.content

    def upsert(self, batch):
        body = self.encode({"vectors": batch, "namespace": "writes"})
        resp = self.http.post(f"{self.host}/vectors/upsert", content=body,
                              headers={"content-type": "application/json"})
        resp.raise_for_status()
        return resp.content


class Sdk:
    """The official pinecone SDK (10.x), unmodified."""

    def __init__(self, url: str) -> None:
        from pinecone import Pinecone

        self.index = Pinecone(api_key="bench", host=url).Index(name=INDEX)

    def query(self, vector, top_k, flt=None):
        return self.index.query(vector=vector, top_k=top_k, namespace=NAMESPACE, filter=flt)

    def upsert(self, batch):
        return self.index.upsert(vectors=batch, namespace="writes", show_progress=False)


# -- client process ---------------------------------------------------------------------------------

def client_main(args: argparse.Namespace) -> None:
    factory, _ = workload(args.op, args)
    host = f"{args.url}/index/{INDEX}"
    target = Sdk(args.url) if args.client_kind == "sdk" else RawHttp(host, args.threads)
    op = factory(target)
    for i in range(20):  # warm up connections and code paths
        op(i % args.threads, i)
    cpu = time.process_time()
    row = run_timed(args.threads, args.seconds, op)
    row["client_cpu_s"] = round(time.process_time() - cpu, 3)  # this client process, all threads
    print(json.dumps(row))


def client_cell(url: str, kind: str, op: str, threads: int, args: argparse.Namespace) -> dict[str, Any]:
    return run_client(__file__, ["--url", url, "--client-kind", kind, "--op", op, "--threads", str(threads),
                                 "--seconds", str(args.seconds), "--dim", str(args.dim), "--records", str(args.records),
                                 "--batch", str(args.batch), "--top-k", str(args.top_k)])


# -- orchestration ----------------------------------------------------------------------------------

def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("starlette", "uvicorn", "httpx", "pinecone", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", default="1,8")
    parser.add_argument("--repeats", type=int, default=2, help="runs per cell; the best is reported (noisy hosts)")
    parser.add_argument("--quick", action="store_true", help="1 s per cell, 2000 records")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--server-args", default="",
                        help="more `toolkit serve` options, e.g. \"--http httptools --loop uvloop\"")
    # client-process mode (internal)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--client-kind", default="httpx", help=argparse.SUPPRESS)
    parser.add_argument("--op", default="query", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        args.threads = int(args.threads)
        client_main(args)
        return
    if args.quick:
        args.seconds, args.records = 1.0, 2_000
    thread_counts = [int(t) for t in args.threads.split(",")]
    ops = ["query", "query_filter", "upsert"]

    load_before = [round(x, 2) for x in os.getloadavg()]
    rows: list[dict[str, Any]] = []
    print(f"in-process: loading {args.records} x {args.dim}d ...", file=sys.stderr)
    _, index = filled_index(args.records, args.dim)
    local = InProcess(index)
    for op in ops:
        factory, what = workload(op, args)
        fn = factory(local)
        for i in range(20):
            fn(0, i)
        for threads in thread_counts:
            runs = [run_timed(threads, args.seconds, fn) for _ in range(args.repeats)]
            row = {"op": op, "what": what, "mode": "in-process", **best(runs)}
            rows.append(row)
            print(f"  {op:13s} in-process   t={threads}: {row['requests_per_s']:>9.1f} req/s", file=sys.stderr)
    del index, local

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # REST-only hosts (--no-grpc): the SDK rows use /index/<name> on the main port, as before index
    # ports existed; bench_grpc.py measures the index ports
    proc = start_server(port, ["--no-grpc", *args.server_args.split()])
    try:
        print(f"server on {url}: loading ...", file=sys.stderr)
        load(url, args.records, args.dim)
        for op in ops:
            _, what = workload(op, args)
            for kind in ("httpx", "sdk"):
                for threads in thread_counts:
                    runs = [client_cell(url, kind, op, threads, args) for _ in range(args.repeats)]
                    row = {"op": op, "what": what, "mode": f"http ({kind})", **best(runs)}
                    rows.append(row)
                    print(f"  {op:13s} http ({kind:5s}) t={threads}: {row['requests_per_s']:>9.1f} req/s "
                          f"(p50 {row['p50_ms']} ms)", file=sys.stderr)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)

    overhead = []
    for op in ops:
        for threads in thread_counts:
            base = next(r for r in rows if r["op"] == op and r["mode"] == "in-process" and r["threads"] == threads)
            for kind in ("httpx", "sdk"):
                http = next(r for r in rows if r["op"] == op and r["mode"] == f"http ({kind})"
                            and r["threads"] == threads)
                overhead.append({
                    "op": op, "threads": threads, "client": kind,
                    "in_process_mean_ms": base["mean_ms"], "http_mean_ms": http["mean_ms"],
                    "added_ms_per_request": round(http["mean_ms"] - base["mean_ms"], 3),
                    "throughput_ratio": round(http["requests_per_s"] / base["requests_per_s"], 3),
                })
    meta = {
        "records": args.records, "dim": args.dim, "metric": "cosine", "top_k": args.top_k,
        "upsert_batch": args.batch, "seconds_per_cell": args.seconds, "repeats_best_of": args.repeats,
        "engine": "default (exact)",
        "python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
        "server": f"python -m toolkit serve --no-grpc {args.server_args} (uvicorn, 1 process, in memory), "
                  "127.0.0.1".replace("  ", " "),
        "client": "a separate process; httpx keep-alive pool or the pinecone SDK; threads = concurrent requests",
        "versions": versions(),
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "http.json").write_text(json.dumps({"meta": meta, "results": rows, "overhead": overhead},
                                                   indent=2) + "\n")
    md = args.out / "http.md"
    kept = md.read_text().partition(READING)[2] if md.exists() else ""  # the hand-written reading
    md.write_text(render_md(meta, rows, overhead) + (f"\n{READING}{kept}" if kept else ""))
    print(f"wrote {args.out / 'http.json'} and {args.out / 'http.md'}", file=sys.stderr)


def render_md(meta: dict[str, Any], rows: list[dict[str, Any]], overhead: list[dict[str, Any]]) -> str:
    lines = [
        "# REST server throughput (benchmarks/bench_http.py)",
        "",
        f"{meta['records']} records x {meta['dim']}d ({meta['metric']}), top_k={meta['top_k']}, upsert batches of "
        f"{meta['upsert_batch']}; best of {meta['repeats_best_of']} runs of {meta['seconds_per_cell']} s per cell; "
        f"BLAS threads {meta['blas_threads']}; {meta['cpus']} CPUs, Python "
        f"{meta['python']}; server: {meta['server']}; client: {meta['client']}. Generated {meta['generated']}; "
        f"load average {meta['load_average_before'][0]} before, {meta['load_average_after'][0]} after (the machine "
        "was shared, so treat the numbers as indicative).",
        "",
        "| op | mode | threads | req/s | records/s | p50 ms | p99 ms | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['op']} | {r['mode']} | {r['threads']} | {r['requests_per_s']:.1f} | "
                     f"{r['records_per_s']:.0f} | {r['p50_ms']} | {r['p99_ms']} | {r['errors']} |")
    lines += ["", "Overhead of HTTP vs the in-process call (mean latency per request):", "",
              "| op | threads | client | in-process ms | HTTP ms | added ms | HTTP/in-process throughput |",
              "|---|---:|---|---:|---:|---:|---:|"]
    for o in overhead:
        lines.append(f"| {o['op']} | {o['threads']} | {o['client']} | {o['in_process_mean_ms']} | "
                     f"{o['http_mean_ms']} | {o['added_ms_per_request']} | {o['throughput_ratio']:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
