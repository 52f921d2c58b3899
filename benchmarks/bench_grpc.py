"""gRPC vs REST through the official SDK, on loopback: query latency and throughput, upsert throughput.

    python benchmarks/bench_grpc.py [--records 10000] [--dim 128] [--seconds 3] [--repeats 2] [--quick]

The server is ``python -m toolkit serve`` in its own process; each client runs in another process
(this script re-invoked with ``--client``) with the official ``pinecone`` SDK, unmodified:

- ``grpc``: ``PineconeGRPC(...).Index(host=<index host>)``: HTTP/2 + protobuf through the index
  port's protocol switch to the in-process gRPC server;
- ``rest (index host)``: ``Pinecone(...).Index(host=<index host>)``: HTTP/1.1 JSON through the
  same index port (spliced to the REST app);
- ``rest (main port)``: ``Pinecone(...).Index(host=<main>/index/<name>)``: HTTP/1.1 JSON straight
  to the REST app, no splice (what ``--no-grpc`` serves).

Cells: query top_k=10 on N x d cosine records (1 client thread: latency; 8: throughput) and
upserts of 1000 x d records per request (1 and 2 threads; records/s). Results:
benchmarks/results/grpc.json and grpc.md, with the load average (a shared machine is noisy).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import platform
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _clients import (  # noqa: E402
    INDEX,
    NAMESPACE,
    ROOT,
    best,
    free_port,
    load,
    make_queries,
    make_vectors,
    run_client,
    run_timed,
    start_server,
)

RESULTS = ROOT / "benchmarks" / "results"
TRANSPORTS = ("grpc", "rest-index-host", "rest-main-port")
LABEL = {"grpc": "grpc", "rest-index-host": "rest (index host)", "rest-main-port": "rest (main port)"}


def sdk_index(transport: str, url: str, host: str) -> Any:
    if transport == "grpc":
        from pinecone.grpc import PineconeGRPC

        return PineconeGRPC(api_key="bench", host=url, grpc_scheme="http").Index(host=host)
    from pinecone import Pinecone

    pc = Pinecone(api_key="bench", host=url)
    return pc.Index(host=host if transport == "rest-index-host" else f"{url}/index/{INDEX}")


def client_main(args: argparse.Namespace) -> None:
    index = sdk_index(args.transport, args.url, args.host)
    if args.op == "query":
        queries = make_queries(256, args.dim, seed=7)

        def op(t: int, i: int) -> int:
            index.query(vector=queries[(t * 7919 + i) % len(queries)], top_k=args.top_k, namespace=NAMESPACE)
            return 1
    else:
        pool = make_vectors(args.batch * 8, args.dim, seed=11, prefix="u")
        batches = [[(v["id"], v["values"], v["metadata"]) for v in pool[i: i + args.batch]]
                   for i in range(0, len(pool), args.batch)]

        def op(t: int, i: int) -> int:
            batch = batches[(t * 3 + i) % len(batches)]  # overwrites: the namespace keeps its size
            index.upsert(vectors=batch, namespace="writes")
            return len(batch)
    for i in range(5 if args.op == "upsert" else 20):
        op(i % args.threads, i)
    print(json.dumps(run_timed(args.threads, args.seconds, op)))


def client_cell(url: str, host: str, transport: str, op: str, threads: int, args: argparse.Namespace) -> dict:
    return run_client(__file__, ["--url", url, "--host", host, "--transport", transport, "--op", op,
                                 "--threads", str(threads), "--seconds", str(args.seconds), "--dim", str(args.dim),
                                 "--batch", str(args.batch), "--top-k", str(args.top_k)],
                      env={**os.environ, "PINECONE_GRPC_SCHEME": "http"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="1 s per cell, 2000 records, 1 repeat")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--host", help=argparse.SUPPRESS)
    parser.add_argument("--transport", help=argparse.SUPPRESS)
    parser.add_argument("--op", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main(args)
        return
    if args.quick:
        args.seconds, args.records, args.repeats = 1.0, 2_000, 1
    cells: list[tuple[str, int]] = [("query", 1), ("query", 8), ("upsert", 1), ("upsert", 2)]
    load_before = [round(x, 2) for x in os.getloadavg()]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(port, ["--index-port-start", "0"])
    rows: list[dict[str, Any]] = []
    try:
        host = load(url, args.records, args.dim)
        print(f"server {url}, index host {host}", file=sys.stderr)
        for op, threads in cells:
            for transport in TRANSPORTS:
                runs = [client_cell(url, host, transport, op, threads, args) for _ in range(args.repeats)]
                row = {"op": op, "transport": LABEL[transport], **best(runs, "records_per_s")}
                rows.append(row)
                print(f"  {op:6s} t={threads} {LABEL[transport]:18s} {row['requests_per_s']:>8.1f} req/s "
                      f"{row['records_per_s']:>9.0f} rec/s p50 {row['p50_ms']} ms", file=sys.stderr)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    meta = {
        "records": args.records, "dim": args.dim, "top_k": args.top_k, "upsert_batch": args.batch,
        "seconds_per_cell": args.seconds, "repeats_best_of": args.repeats, "python": platform.python_version(),
        "cpus": os.cpu_count(), "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "server": "python -m toolkit serve (1 process, in memory, exact engine), 127.0.0.1",
        "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "grpc.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    (args.out / "grpc.md").write_text(render_md(meta, rows))
    print(f"wrote {args.out / 'grpc.md'}", file=sys.stderr)


def render_md(meta: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    lines = [
        "# gRPC vs REST through the official SDK (benchmarks/bench_grpc.py)",
        "",
        f"{meta['records']} records x {meta['dim']}d cosine, query top_k={meta['top_k']}; upserts of "
        f"{meta['upsert_batch']} x {meta['dim']}d per request; best of {meta['repeats_best_of']} runs of "
        f"{meta['seconds_per_cell']} s per cell; {meta['cpus']} CPUs, Python {meta['python']}, BLAS threads "
        f"{meta['blas_threads']}; server: {meta['server']}; each client is a separate process running the "
        f"pinecone SDK. Generated {meta['generated']}; load average {meta['load_average_before'][0]} before, "
        f"{meta['load_average_after'][0]} after (a shared machine: indicative only).",
        "",
        "| op | client threads | transport | req/s | records/s | p50 ms | p99 ms | mean ms | errors |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['op']} | {r['threads']} | {r['transport']} | {r['requests_per_s']:.1f} | "
                     f"{r['records_per_s']:.0f} | {r['p50_ms']} | {r['p99_ms']} | {r['mean_ms']} | {r['errors']} |")
    by = {(r["op"], r["threads"], r["transport"]): r for r in rows}
    lines += ["", "gRPC relative to REST on the same index host:", ""]
    for op, threads in sorted({(r["op"], r["threads"]) for r in rows}):
        g, rest = by.get((op, threads, "grpc")), by.get((op, threads, "rest (index host)"))
        if g and rest and rest["records_per_s"] and rest["mean_ms"]:
            lines.append(f"- {op}, {threads} thread(s): throughput x{g['records_per_s'] / rest['records_per_s']:.2f}, "
                         f"mean latency x{g['mean_ms'] / rest['mean_ms']:.2f}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
