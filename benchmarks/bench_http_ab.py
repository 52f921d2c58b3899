"""REST query throughput of this checkout's server against another checkout's, interleaved A/B.

    python benchmarks/bench_http_ab.py --old /path/to/old/checkout [--old-python PY] [--rounds 5]
        [--client wrk|httpx] [--threads 8] [--seconds 3] [--records 10000] [--old-server-args ""]
        [--new-server-args "--no-grpc"]

Both servers (``python -m toolkit serve``, in memory, one uvicorn process each, BLAS at one
thread) run at once on loopback ports and hold the same 10k x 128 cosine records; the client
is identical for both: ``--client wrk`` (default; C, one thread, N keep-alive connections POSTing
the SDK's camelCase query JSON from benchmarks/wrk/query.lua: cheap enough not to be the
bottleneck) or ``--client httpx`` (this checkout's ``bench_http.py`` client: httpx keep-alive, N
threads in one Python process, which itself tops out near the servers' rate). wrk is the Debian
package of that name (``apt-get install -y wrk``). Cells alternate old, new, old, new... so that both see the same machine
load; the ratio is taken pair by pair and its median reported. A third target, a canned-answer
server (``--ceiling``: raw asyncio, no parsing beyond Content-Length, no toolkit), measures
what this client and the loopback reach with zero server work: the bound that no server
change can pass. Each cell also records the client's and the server's CPU seconds per request
(getrusage in the client, /proc/<pid>/stat for the server).

Writes benchmarks/results/http_ab_<label>.json (label: --label, default the client) and renders
http_ab.md from every such JSON.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import asyncio
import json
import platform
import resource
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _clients import (ROOT, cpu_seconds, free_port, load, run_client, start_server, wait_healthy,  # noqa: E402
                      write_query_bodies)

RESULTS = ROOT / "benchmarks" / "results"
LUA = ROOT / "benchmarks" / "wrk" / "query.lua"
CLIENTS = {"wrk": "wrk (C, 1 thread, keep-alive connections)",
           "httpx": "httpx keep-alive, one thread per connection, one Python process"}
CANNED = (b'{"results":[],"matches":[' + b",".join(
    b'{"id":"r%d","score":0.31234567,"values":[]}' % i for i in range(10)) +
    b'],"namespace":"data","usage":{"readUnits":1}}')



def ceiling_main(port: int) -> None:
    """Serve a canned query answer to every request (HTTP/1.1 keep-alive; only Content-Length is read)."""
    head = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(CANNED))
    health = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"

    class Canned(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport, self.buffer = transport, b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while True:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                length = 0
                for line in self.buffer[:end].split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if len(self.buffer) < end + 4 + length:
                    return
                first = self.buffer[: self.buffer.find(b"\r\n")]
                self.buffer = self.buffer[end + 4 + length:]
                self.transport.write(health if b"/health" in first else head + CANNED)

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(Canned, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def start_ceiling(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, __file__, "--ceiling-server", str(port)], cwd=ROOT)
    return wait_healthy(proc, port, "the canned-answer server")



def run_wrk(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """One wrk run against ``url``'s query route: requests/s, latency and wrk's own CPU seconds."""
    from _clients import INDEX

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(["wrk", "-t1", f"-c{args.threads}", f"-d{args.seconds:g}s", "-s", str(LUA),
                          f"{url}/index/{INDEX}/query", "--", str(args.bodies)],
                         check=True, capture_output=True, text=True, timeout=args.seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    row = json.loads(out.stdout.strip().splitlines()[-1])
    seconds = row["duration_us"] / 1e6
    return {"threads": args.threads, "requests": row["requests"], "errors": row["non_2xx"] + row["socket_errors"],
            "seconds": round(seconds, 3), "requests_per_s": round(row["requests"] / seconds, 1),
            "p50_ms": round(row["p50_ms"], 3), "p99_ms": round(row["p99_ms"], 3), "mean_ms": round(row["mean_ms"], 3),
            "client_cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 3)}


def cell(url: str, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    before = cpu_seconds(pid)
    if args.client == "wrk":
        row = run_wrk(url, args)
    else:
        row = run_client(ROOT / "benchmarks" / "bench_http.py",
                         ["--url", url, "--client-kind", "httpx", "--op", "query", "--threads", str(args.threads),
                          "--seconds", str(args.seconds), "--dim", str(args.dim), "--records", str(args.records),
                          "--top-k", "10"])
    row["server_cpu_s"] = round(cpu_seconds(pid) - before, 3)
    requests = max(1, row["requests"])
    row["server_cpu_ms_per_request"] = round(1000 * row["server_cpu_s"] / requests, 4)
    row["client_cpu_ms_per_request"] = round(1000 * row.get("client_cpu_s", 0.0) / requests, 4)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=Path, help="the other checkout (its server is A)")
    parser.add_argument("--old-python", default=None, help="its interpreter (default: <old>/.venv/bin/python)")
    parser.add_argument("--old-server-args", default="")
    parser.add_argument("--new-server-args", default="--no-grpc")
    parser.add_argument("--client", choices=sorted(CLIENTS), default="wrk")
    parser.add_argument("--label", default=None,
                        help="names this run's JSON (http_ab_<label>.json) and section; default: the client")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--no-ceiling", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--ceiling-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ceiling_server:
        ceiling_main(args.ceiling_server)
        return
    if args.old is None:
        parser.error("--old is required")
    old_python = args.old_python or str(args.old / ".venv" / "bin" / "python")
    args.out.mkdir(parents=True, exist_ok=True)
    args.bodies = write_query_bodies(args.out / f".ab_bodies_{os.getpid()}.txt", args.dim, 256)
    load_before = [round(x, 2) for x in os.getloadavg()]
    ports = {"old": free_port(), "new": free_port()}
    procs: dict[str, subprocess.Popen] = {}
    try:
        procs["new"] = start_server(ports["new"], args.new_server_args.split())
        procs["old"] = start_server(ports["old"], args.old_server_args.split(), cwd=args.old, python=old_python)
        if not args.no_ceiling:
            ports["ceiling"] = free_port()
            procs["ceiling"] = start_ceiling(ports["ceiling"])
        for side in ("old", "new"):
            load(f"http://127.0.0.1:{ports[side]}", args.records, args.dim)
        order = ["old", "new"] + ([] if args.no_ceiling else ["ceiling"])
        rows: dict[str, list[dict[str, Any]]] = {side: [] for side in order}
        for r in range(args.rounds):
            for side in (order if r % 2 == 0 else order[::-1]):
                row = cell(f"http://127.0.0.1:{ports[side]}", procs[side].pid, args)
                rows[side].append(row)
                print(f"round {r + 1} {side:7s} {row['requests_per_s']:>8.1f} req/s  server "
                      f"{row['server_cpu_ms_per_request']:.3f} ms CPU/req  client "
                      f"{row['client_cpu_ms_per_request']:.3f} ms CPU/req", file=sys.stderr)
    finally:
        args.bodies.unlink(missing_ok=True)
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    ratios = [n["requests_per_s"] / o["requests_per_s"] for o, n in zip(rows["old"], rows["new"])]
    summary = {side: {k: statistics.median(r[k] for r in side_rows) for k in
                      ("requests_per_s", "p50_ms", "p99_ms", "server_cpu_ms_per_request", "client_cpu_ms_per_request")}
               for side, side_rows in rows.items()}
    meta = {
        "old": str(args.old), "old_commit": _commit(args.old), "new_commit": _commit(ROOT),
        "old_server": f"{old_python} -m toolkit serve {args.old_server_args}".strip(),
        "new_server": f"python -m toolkit serve {args.new_server_args}".strip(),
        "client": args.client, "client_what": CLIENTS[args.client], "label": args.label or args.client,
        "threads": args.threads, "seconds_per_cell": args.seconds, "rounds": args.rounds,
        "records": args.records, "dim": args.dim, "cpus": os.cpu_count(), "python": platform.python_version(),
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "command": "python " + " ".join(sys.argv),
        "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    result = {"meta": meta, "rows": rows, "ratios_new_over_old": [round(x, 3) for x in ratios],
              "median_ratio_new_over_old": round(statistics.median(ratios), 3), "medians": summary}
    (args.out / f"http_ab_{meta['label']}.json").write_text(json.dumps(result, indent=2) + "\n")
    results = [json.loads(path.read_text()) for path in sorted(args.out.glob("http_ab_*.json"))]
    md = args.out / "http_ab.md"
    md.write_text(HEADER + "\n".join(render_md(r) for r in results))
    print(f"median ratio new/old {result['median_ratio_new_over_old']}; wrote {md}", file=sys.stderr)


def _commit(path: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


HEADER = """# REST query throughput, A/B against an older server (benchmarks/bench_http_ab.py)

Both servers run at once on this machine and get the same client, cell by cell, alternating;
the ratio is taken pair by pair. The reading of these numbers is in http.md.

"""


def render_md(result: dict[str, Any]) -> str:
    m = result["meta"]
    client = m.get("client", "httpx")
    lines = [
        f"## {m.get('label', client)} (client: {client})",
        "",
        f"`{m['command']}` — old = {m['old_commit']} (`{m['old_server']}`), new = {m['new_commit']} "
        f"(`{m['new_server']}`); query top_k=10 on {m['records']} x {m['dim']}d cosine, {m['threads']} concurrent "
        f"requests ({m.get('client_what', CLIENTS['httpx'])}), {m['seconds_per_cell']} s per cell, {m['rounds']} rounds "
        f"alternating old/new (and the canned-answer ceiling); BLAS threads {m['blas_threads']}; {m['cpus']} CPUs, "
        f"Python {m['python']}. Generated {m['generated']}; load average {m['load_average_before'][0]} before, "
        f"{m['load_average_after'][0]} after.",
        "",
        "| server | median req/s | all rounds req/s | p50 ms | p99 ms | server CPU ms/req | client CPU ms/req |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for side, rows in result["rows"].items():
        s = result["medians"][side]
        each = ", ".join(f"{r['requests_per_s']:.0f}" for r in rows)
        lines.append(f"| {side} | {s['requests_per_s']:.1f} | {each} "
                     f"| {s['p50_ms']} | {s['p99_ms']} | {s['server_cpu_ms_per_request']:.3f} | "
                     f"{s['client_cpu_ms_per_request']:.3f} |")
    lines += ["", f"New / old, pair by pair: {', '.join(f'{x:.2f}' for x in result['ratios_new_over_old'])}; "
              f"**median {result['median_ratio_new_over_old']:.2f}x**."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
