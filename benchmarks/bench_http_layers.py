"""Where a REST query's server CPU goes: the stack measured layer by layer.

    flock /work/bench.lock python benchmarks/bench_http_layers.py [--seconds 3] [--variants a,b,...]

Each variant is a server process pinned to CPU 1 (``taskset``), loaded by ``wrk`` pinned to CPU 0
(8 connections, one thread, POSTing the SDK's query JSON: benchmarks/wrk/query.lua), so the load
generator never competes with the server. A variant adds one layer to the previous one, from a
raw asyncio protocol that answers a canned body up to the toolkit's own server; the figure
read is the server's CPU seconds per request (/proc/<pid>/stat), which does not depend on how
fast the client is. The in-process rows time the handler's steps (parse, validate, query,
shape, encode) with ``time.process_time`` on the same data.

Needs wrk (the Debian package: ``apt-get install -y wrk``). Writes benchmarks/results/http_layers.json
and http_layers.md.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _clients import (INDEX, NAMESPACE, ROOT, cpu_seconds, free_port, load, make_queries,  # noqa: E402
                      wait_healthy, write_query_bodies)

RESULTS = ROOT / "benchmarks" / "results"
LUA = ROOT / "benchmarks" / "wrk" / "query.lua"
CANNED = (b'{"results":[],"matches":[' + b",".join(
    b'{"id":"r%d","score":0.31234567,"values":[]}' % i for i in range(10)) +
    b'],"namespace":"data","usage":{"readUnits":1}}')

# name -> (what it adds, how it is served)
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "raw": ("asyncio protocol, canned answer (no HTTP parser, no ASGI)", ["--layer", "raw"]),
    "asgi-h11": ("uvicorn + h11 + a bare ASGI app answering the canned body", ["--layer", "asgi", "--http", "h11"]),
    "asgi-httptools": ("the same with httptools (C parser)", ["--layer", "asgi", "--http", "httptools"]),
    "starlette": ("httptools + Starlette routing and its middleware stack", ["--layer", "starlette"]),
    "starlette+thread": ("... + one run_in_threadpool hop per request", ["--layer", "starlette-thread"]),
    "toolkit-h11": ("the toolkit server, h11 (the default before this change)", ["toolkit", "--http", "h11"]),
    "toolkit-httptools": ("the toolkit server, httptools", ["toolkit", "--http", "httptools"]),
    "toolkit-asyncio": ("the toolkit server, httptools on the asyncio loop", ["toolkit", "--http", "httptools",
                                                                               "--loop", "asyncio"]),
    "toolkit-no-lane": ("the toolkit server without the protocol's lane (every query through an ASGI task)",
                        ["--layer", "toolkit-no-lane"]),
    "toolkit": ("the toolkit server as `toolkit serve --no-grpc` starts it", ["toolkit"]),
    "toolkit-index-port": ("the toolkit server with its defaults (gRPC on), queried on the index's own port "
                           "(the host describe_index gives the SDK)", ["toolkit", "--grpc"]),
    "old": ("the server of the --old checkout (`toolkit serve`, its defaults)", ["old"]),
}


# -- the layer servers (this script re-invoked with --layer) ----------------------------------------

def serve_layer(layer: str, port: int, http: str) -> None:
    if layer == "raw":
        from bench_http_ab import ceiling_main

        ceiling_main(port)
        return
    import uvicorn

    if layer == "toolkit-no-lane":  # `toolkit serve --no-grpc` with uvicorn given no lane
        from toolkit.server import create_app
        from toolkit.server.limits import ServerLimits, uvicorn_options

        uvicorn.run(create_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False,
                    server_header=False, **uvicorn_options(ServerLimits(), http))
        return
    if layer == "asgi":
        async def app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return
            more = True
            while more:
                more = (await receive()).get("more_body", False)
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": CANNED})
    else:
        from starlette.applications import Starlette
        from starlette.concurrency import run_in_threadpool
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        hop = layer == "starlette-thread"

        async def query(request: Request) -> Response:
            await request.body()
            body = await run_in_threadpool(lambda: CANNED) if hop else CANNED
            return Response(body, media_type="application/json")

        async def health(request: Request) -> Response:
            return Response(b"{}", media_type="application/json")

        app = Starlette(routes=[Route(f"/index/{{index}}/query", query, methods=["POST"]),
                                Route("/health", health)])
    uvicorn.run(app, host="127.0.0.1", port=port, http=http, log_level="warning", access_log=False,
                server_header=False)


# -- measuring ----------------------------------------------------------------------------------------



def run_wrk(url: str, bodies: Path, seconds: float, connections: int, cpu: str | None) -> dict[str, Any]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", str(LUA), url, "--", str(bodies)]
    if cpu is not None:
        cmd = ["taskset", "-c", cpu, *cmd]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=seconds + 60)
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["requests_per_s"] = round(row["requests"] / (row["duration_us"] / 1e6), 1)
    return row


def start(variant: str, port: int, args: argparse.Namespace) -> subprocess.Popen:
    server_cpu = args.server_cpu
    how = VARIANTS[variant][1]
    cwd = ROOT
    if how[0] == "old":
        cwd = args.old
        cmd = [str(args.old / ".venv" / "bin" / "python"), "-m", "toolkit", "serve", "--port", str(port),
               "--log-level", "warning"]
    elif how[0] == "toolkit":
        grpc = [] if "--grpc" in how else ["--no-grpc"]
        cmd = [sys.executable, "-m", "toolkit", "serve", "--port", str(port), "--log-level", "warning",
               *grpc, *how[1:]]
    else:
        cmd = [sys.executable, __file__, "--serve-port", str(port), *how]
    if server_cpu is not None:
        cmd = ["taskset", "-c", server_cpu, *cmd]
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return wait_healthy(proc, port, variant)


def measure(variant: str, args: argparse.Namespace, bodies: Path) -> dict[str, Any]:
    port = free_port()
    proc = start(variant, port, args)
    try:
        url = f"http://127.0.0.1:{port}/index/{INDEX}/query"
        if variant == "old" or variant.startswith("toolkit"):  # a toolkit server: load the records
            host = load(f"http://127.0.0.1:{port}", args.records, args.dim)
            if "--grpc" in VARIANTS[variant][1]:
                url = f"{host}/query"
        run_wrk(url, bodies, 1, args.connections, args.client_cpu)  # warm up
        before = cpu_seconds(proc.pid)
        row = run_wrk(url, bodies, args.seconds, args.connections, args.client_cpu)
        row["server_cpu_ms_per_request"] = round(1000 * (cpu_seconds(proc.pid) - before) / max(1, row["requests"]), 4)
        if row["non_2xx"] or row["socket_errors"]:  # an error answer is not throughput
            raise RuntimeError(f"{variant}: {row['non_2xx']} non-2xx answers, {row['socket_errors']} socket errors")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {"variant": variant, "what": VARIANTS[variant][0], **row}


def in_process_steps(args: argparse.Namespace, repeat: int = 3000) -> list[dict[str, Any]]:
    """CPU per call of each step of a query request's handler, outside any server."""
    import orjson

    from _clients import filled_index
    from toolkit.server import wire

    client, index = filled_index(args.records, args.dim)
    body = orjson.dumps({"topK": 10, "includeValues": False, "includeMetadata": False, "namespace": NAMESPACE,
                         "vector": make_queries(1, args.dim, seed=7)[0]})
    data = wire.loads(body)
    kwargs = wire.pick(data, wire.QUERY_FIELDS, wire.IGNORED_FIELDS["query"])
    resp = index.query(**kwargs)
    shaped = wire.query_response(resp)
    steps = {
        "JSON parse of the body (wire.loads)": lambda: wire.loads(body),
        "field check and mapping (wire.pick)": lambda: wire.pick(data, wire.QUERY_FIELDS, wire.IGNORED_FIELDS["query"]),
        "client.Index(name) lookup": lambda: client.Index(name=INDEX),
        "Index.query (validation, exact scan of 10k x 128, metering)": lambda: index.query(**kwargs),
        "Index.lsns (the LSN headers)": lambda: index.lsns(NAMESPACE),
        "response shaping (wire.query_response)": lambda: wire.query_response(resp),
        "JSON encode (wire.dumps)": lambda: wire.dumps(shaped),
    }
    rows = []
    for what, fn in steps.items():
        for _ in range(50):
            fn()
        began = time.process_time()
        for _ in range(repeat):
            fn()
        rows.append({"step": what, "cpu_ms": round(1000 * (time.process_time() - began) / repeat, 4)})
    client.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--server-cpu", default="1", help="taskset CPU list for the server ('' for none)")
    parser.add_argument("--client-cpu", default="0", help="taskset CPU list for wrk ('' for none)")
    parser.add_argument("--old", type=Path, default=Path("/work/wt/rest-old"),
                        help="the checkout whose server the 'old' variant runs (with its own .venv)")
    parser.add_argument("--no-steps", action="store_true", help="skip the in-process step timings")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--serve-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--layer", help=argparse.SUPPRESS)
    parser.add_argument("--http", default="httptools", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_port:
        serve_layer(args.layer, args.serve_port, args.http)
        return
    args.server_cpu = args.server_cpu or None
    args.client_cpu = args.client_cpu or None
    load_before = [round(x, 2) for x in os.getloadavg()]
    args.out.mkdir(parents=True, exist_ok=True)
    bodies = write_query_bodies(args.out / ".query_bodies.txt", args.dim, 64)
    rows = []
    try:
        for variant in args.variants.split(","):
            row = measure(variant, args, bodies)
            rows.append(row)
            print(f"{variant:18s} {row['requests_per_s']:>8.1f} req/s  server {row['server_cpu_ms_per_request']:.3f}"
                  f" ms CPU/req", file=sys.stderr)
    finally:
        bodies.unlink(missing_ok=True)
    steps = [] if args.no_steps else in_process_steps(args)
    meta = {"command": "python " + " ".join(sys.argv), "seconds": args.seconds, "connections": args.connections,
            "records": args.records, "dim": args.dim, "server_cpu": args.server_cpu, "client_cpu": args.client_cpu,
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    result = {"meta": meta, "variants": rows, "in_process": steps}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "http_layers.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "http_layers.md").write_text(render_md(result))
    print(f"wrote {args.out / 'http_layers.md'}", file=sys.stderr)


def render_md(result: dict[str, Any]) -> str:
    m = result["meta"]
    lines = [
        "# Where a REST query's server CPU goes (benchmarks/bench_http_layers.py)",
        "",
        f"`{m['command']}`: each server pinned to CPU {m['server_cpu']}, wrk (1 thread, {m['connections']} "
        f"connections, POSTing the SDK's query JSON) pinned to CPU {m['client_cpu']}, {m['seconds']} s per "
        f"variant; query top_k=10 on {m['records']} x {m['dim']}d cosine; {m['cpus']} CPUs, Python {m['python']}. "
        f"Generated {m['generated']}; load average {m['load_average_before'][0]} before, "
        f"{m['load_average_after'][0]} after.",
        "",
        "| variant | what it is | req/s | server CPU ms/req | p50 ms | p99 ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in result["variants"]:
        lines.append(f"| {r['variant']} | {r['what']} | {r['requests_per_s']:.0f} | "
                     f"{r['server_cpu_ms_per_request']:.3f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |")
    lines += ["", "The handler's steps in process (CPU ms per call):", "", "| step | CPU ms |", "|---|---:|"]
    for s in result["in_process"]:
        lines.append(f"| {s['step']} | {s['cpu_ms']:.4f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
