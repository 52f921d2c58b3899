"""Client-process scaffolding shared by the server benchmarks (bench_http.py, bench_grpc.py).

Each benchmark starts ``python -m toolkit serve`` in its own process, fills one index over REST,
then re-invokes itself with ``--client`` once per cell: that process runs ``run_timed`` on N
threads and prints one JSON line, which ``run_client`` reads back. Workloads are seeded, so
every client and every run sends the same vectors.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

ROOT = Path(__file__).resolve().parents[1]
INDEX = "bench"
NAMESPACE = "data"


def make_vectors(n: int, dim: int, seed: int, prefix: str) -> list[dict[str, Any]]:
    """Return ``n`` seeded records ``{id, values, metadata: {shard: i % 10}}`` as Python lists."""
    import numpy as np

    rng = np.random.default_rng(seed)
    values = rng.standard_normal((n, dim)).astype("float32")
    return [{"id": f"{prefix}{i}", "values": values[i].tolist(), "metadata": {"shard": i % 10}}
            for i in range(n)]


def make_queries(count: int, dim: int, seed: int) -> list[list[float]]:
    """Return ``count`` seeded query vectors as Python lists."""
    import numpy as np

    return np.random.default_rng(seed).standard_normal((count, dim)).astype("float32").tolist()


def run_timed(threads: int, seconds: float, op: Callable[[int, int], int]) -> dict[str, Any]:
    """Call ``op(thread, i)`` in a loop on ``threads`` threads for ``seconds``; op returns records done."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    records = [0] * threads
    errors = [0] * threads
    start_gate = threading.Barrier(threads + 1)
    stop_at = [0.0]

    def worker(t: int) -> None:
        start_gate.wait()
        i = 0
        while True:
            began = time.perf_counter()
            if began >= stop_at[0]:
                return
            try:
                records[t] += op(t, i)
            except Exception:  # counted, not fatal: the numbers must say so
                errors[t] += 1
            latencies[t].append(time.perf_counter() - began)
            i += 1

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(worker, t) for t in range(threads)]
        began = time.perf_counter()
        stop_at[0] = began + seconds
        start_gate.wait()
        for f in futures:
            f.result()
        elapsed = time.perf_counter() - began
    lat = sorted(x for per in latencies for x in per)
    requests = len(lat)
    return {
        "threads": threads,
        "requests": requests,
        "errors": sum(errors),
        "seconds": round(elapsed, 3),
        "requests_per_s": round(requests / elapsed, 1),
        "records_per_s": round(sum(records) / elapsed, 1),
        "p50_ms": round(1000 * lat[len(lat) // 2], 3) if lat else None,
        "p99_ms": round(1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))], 3) if lat else None,
        "mean_ms": round(1000 * statistics.fmean(lat), 3) if lat else None,
    }


def run_client(script: str | Path, arguments: Sequence[str], env: Mapping[str, str] | None = None,
               timeout: float = 600) -> dict[str, Any]:
    """Run ``script --client ARGUMENTS`` in a new process; return the JSON of its last output line."""
    cmd = [sys.executable, str(script), "--client", *arguments]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT, timeout=timeout,
                         env=None if env is None else dict(env))
    return json.loads(out.stdout.strip().splitlines()[-1])


def best(runs: list[dict[str, Any]], key: str = "requests_per_s") -> dict[str, Any]:
    """The run with the highest ``key``, plus every run's ``key`` (the spread shows the noise)."""
    top = max(runs, key=lambda r: r[key])
    return {**top, "all_" + key: [r[key] for r in runs]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int, extra: Sequence[str] = (), cwd: Path = ROOT, python: str = sys.executable
                 ) -> subprocess.Popen:
    """Start ``python -m toolkit serve`` (in memory) on ``port`` with ``extra`` options from checkout
    ``cwd`` with interpreter ``python``; wait for /health."""
    proc = subprocess.Popen([python, "-m", "toolkit", "serve", "--port", str(port), "--log-level", "warning", *extra],
                            cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return wait_healthy(proc, port, f"the server of {cwd}")


def wait_healthy(proc: subprocess.Popen, port: int, what: str, timeout: float = 60) -> subprocess.Popen:
    """Return ``proc`` once GET /health on ``port`` answers 200; kill it and raise after ``timeout`` s."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{what} did not start")


def load(url: str, records: int, dim: int, api_key: str = "bench") -> str:
    """Create index ``bench`` (cosine) over REST and fill namespace ``data``; return the index host."""
    import httpx

    with httpx.Client(headers={"Api-Key": api_key}, timeout=120) as http:
        resp = http.post(f"{url}/indexes", json={"name": INDEX, "dimension": dim, "metric": "cosine",
                                                 "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}})
        resp.raise_for_status()
        vectors = make_vectors(records, dim, seed=1, prefix="r")
        for i in range(0, len(vectors), 500):
            http.post(f"{url}/index/{INDEX}/vectors/upsert",
                      json={"vectors": vectors[i: i + 500], "namespace": NAMESPACE}).raise_for_status()
        return str(resp.json()["host"])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_query_bodies(path: Path, dim: int, count: int) -> Path:
    """Write ``count`` query bodies (the SDK's camelCase JSON, one per line, seed 7) for wrk to post in turn."""
    with path.open("wb") as out:
        for q in make_queries(count, dim, seed=7):
            out.write(json.dumps({"topK": 10, "includeValues": False, "includeMetadata": False,
                                  "namespace": NAMESPACE, "vector": q}, separators=(",", ":")).encode() + b"\n")
    return path


def filled_index(records: int, dim: int) -> tuple[Any, Any]:
    """(client, index): an in-memory index ``INDEX`` (cosine) whose namespace ``NAMESPACE`` holds
    ``records`` vectors (seed 1)."""
    import toolkit

    client = toolkit.Client()
    client.create_index(name=INDEX, dimension=dim, metric="cosine")
    index = client.Index(INDEX)
    vectors = make_vectors(records, dim, seed=1, prefix="r")
    for i in range(0, len(vectors), 500):
        index.upsert(vectors=vectors[i : i + 500], namespace=NAMESPACE, show_progress=False)
    return client, index

