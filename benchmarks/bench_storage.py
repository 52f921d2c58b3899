"""Storage benchmarks (issue #4): durable upsert throughput and reopen time of a persistent client.

Run from the repository root::

    python benchmarks/bench_storage.py                    # 1M × 128-d records
    python benchmarks/bench_storage.py --records 100000   # a quick look

It writes ``benchmarks/results/storage.json`` and ``benchmarks/results/storage.md``. This is a
script, not a test: the numbers depend on the machine (and its disk), nothing asserts on them.

(a) Durable upserts: batches of 1000 × 128-d float32 records (with two metadata fields), one
    request log append + one fsync per batch before the call returns; flushes and merges run
    as usual (default engine: exact slabs, 10k-row memtable, fanout 4). Reported per phase:
    the first ``--throughput-batches`` batches, the same batches on an in-memory client (the
    durability overhead), and the whole ingest up to ``--records``.
(b) Reopen: ``Client(path)`` on the folder written in (a) — check SLAB.json CRCs, file sizes and
    headers (CRC of small files), memory-map the slab arrays and Arrow records, load each engine
    index, replay the log tail — then one query to check it answers what the writer answered.
    Measured in this process (toolkit already imported) and in fresh processes (``--fresh``
    runs: the import, the open, the first query and a second one, each timed), read-write and
    read-only. The page cache is warm (the files were just written); a cold-cache reopen also
    pays the disk read of the pages the first queries touch.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import toolkit  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
BATCH = 1000


def make_batch(data: np.ndarray, b: int) -> list[dict[str, Any]]:
    start = b * BATCH
    return [{"id": f"rec-{start + i}", "values": data[start + i],
             "metadata": {"category": f"c{(start + i) % 16}", "year": 1990 + (start + i) % 30}}
            for i in range(min(BATCH, len(data) - start))]


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def timed_upserts(index: toolkit.Index, data: np.ndarray, first: int, last: int) -> dict[str, Any]:
    latencies = []
    records = 0
    started = time.perf_counter()
    for b in range(first, last):
        batch = make_batch(data, b)
        t = time.perf_counter()
        index.upsert(batch, show_progress=False)
        latencies.append(time.perf_counter() - t)
        records += len(batch)
    seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "batches": last - first,
        "records": records,
        "seconds": round(seconds, 3),
        "records_per_second": round(records / seconds),
        "batch_ms_p50": round(1000 * statistics.median(latencies), 2),
        "batch_ms_p99": round(1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 2),
        "batch_ms_max": round(1000 * latencies[-1], 2),
    }


FRESH = """
import json, sys, time
import numpy as np
t0 = time.perf_counter()
import toolkit
t1 = time.perf_counter()
client = toolkit.Client(path=sys.argv[1], read_only=sys.argv[2] == "ro")
t2 = time.perf_counter()
index = client.Index("bench")
query = np.asarray(json.loads(sys.argv[3]), np.float32)
t3 = time.perf_counter()
ids = index.query(vector=query, top_k=10).ids()
t4 = time.perf_counter()
index.query(vector=query, top_k=10)
t5 = time.perf_counter()
client.close()
print(json.dumps({"import_s": t1 - t0, "open_s": t2 - t1, "first_query_ms": (t4 - t3) * 1e3,
                  "second_query_ms": (t5 - t4) * 1e3, "ids": ids}))
"""


def fresh_open(db: Path, query: np.ndarray, read_only: bool) -> dict[str, Any]:
    """Open the database in a new Python process; return its timings and first answer."""
    done = subprocess.run([sys.executable, "-c", FRESH, str(db), "ro" if read_only else "rw",
                           json.dumps(query.tolist())], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(7)
    data = rng.normal(size=(args.records, args.dim)).astype(np.float32)
    batches = (args.records + BATCH - 1) // BATCH
    first_phase = min(args.throughput_batches, batches)
    workdir = Path(tempfile.mkdtemp(prefix="bench-storage-", dir=args.workdir))
    db = workdir / "vectors.db"
    out: dict[str, Any] = {}
    try:
        memory = toolkit.Client()
        memory.create_index("bench", dimension=args.dim, metric="cosine")
        out["memory_upsert"] = timed_upserts(memory.Index("bench"), data, 0, first_phase)
        del memory

        client = toolkit.Client(path=str(db))
        client.create_index("bench", dimension=args.dim, metric="cosine")
        index = client.Index("bench")
        out["durable_upsert"] = timed_upserts(index, data, 0, first_phase)
        started = time.perf_counter()
        rest = timed_upserts(index, data, first_phase, batches) if batches > first_phase else None
        index.wait_for_merges()
        total_seconds = out["durable_upsert"]["seconds"] + (rest["seconds"] if rest else 0.0) + (
            time.perf_counter() - started - (rest["seconds"] if rest else 0.0))
        out["durable_ingest_total"] = {
            "records": args.records, "seconds": round(total_seconds, 2),
            "records_per_second": round(args.records / total_seconds),
            "rest_batch_ms_p50": None if rest is None else rest["batch_ms_p50"],
            "rest_batch_ms_p99": None if rest is None else rest["batch_ms_p99"],
            "rest_batch_ms_max": None if rest is None else rest["batch_ms_max"],
        }
        query = data[12345 % args.records]
        expected = index.query(vector=query, top_k=10).ids()
        slabs = index.describe_slabs()
        out["layout"] = {
            "slabs": len(slabs), "slab_rows": slabs["rows"].tolist(),
            "memtable_rows": int(slabs.attrs["memtables"][0]["memtable_rows"]) if slabs.attrs.get("memtables") else 0,
            "folder_bytes": folder_bytes(db),
            "log_bytes": sum(p.stat().st_size for p in db.rglob("*.log")),
            "raw_vector_bytes": int(data.nbytes),
        }
        client.close()

        reopen = []
        for _ in range(args.reopens):
            t = time.perf_counter()
            reopened = toolkit.Client(path=str(db))
            seconds = time.perf_counter() - t
            got = reopened.Index("bench").query(vector=query, top_k=10).ids()
            count = reopened.Index("bench").describe_index_stats().total_vector_count
            reopened.close()
            reopen.append(seconds)
            assert got == expected and count == args.records, (got, expected, count)
        t = time.perf_counter()
        reader = toolkit.Client(path=str(db), read_only=True)
        read_only_seconds = time.perf_counter() - t
        reader.close()
        out["reopen"] = {"records": args.records, "seconds_min": round(min(reopen), 3),
                         "seconds_median": round(statistics.median(reopen), 3), "runs": len(reopen),
                         "read_only_seconds": round(read_only_seconds, 3), "answers_match": True}
        fresh = []
        for read_only in [False, True] * args.fresh:
            got = fresh_open(db, query, read_only)
            assert got.pop("ids") == expected, "a fresh process answered differently"
            fresh.append({"read_only": read_only, **{k: round(v, 3) for k, v in got.items()}})
        out["fresh"] = fresh
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return out


def markdown(result: dict[str, Any]) -> str:
    r = result["results"]
    m, d, t, o, lay = r["memory_upsert"], r["durable_upsert"], r["durable_ingest_total"], r["reopen"], r["layout"]
    lines = [
        "# Storage benchmarks (issue #4)",
        "",
        f"{result['generated']} · {result['machine']} · Python {result['python']} · "
        f"{result['args']['records']:,} × {result['args']['dim']}-d float32, batches of {BATCH}",
        "",
        "## Durable upsert throughput (one log append + fsync per batch)",
        "",
        "| phase | records | records/s | batch p50 ms | batch p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
        f"| in-memory client, first {m['batches']} batches | {m['records']:,} | {m['records_per_second']:,} | "
        f"{m['batch_ms_p50']} | {m['batch_ms_p99']} | {m['batch_ms_max']} |",
        f"| persistent client, same batches | {d['records']:,} | {d['records_per_second']:,} | {d['batch_ms_p50']} | "
        f"{d['batch_ms_p99']} | {d['batch_ms_max']} |",
        f"| persistent client, whole ingest (incl. flushes, merges) | {t['records']:,} | "
        f"{t['records_per_second']:,} | {t['rest_batch_ms_p50']} | {t['rest_batch_ms_p99']} | "
        f"{t['rest_batch_ms_max']} |",
        "",
        f"Folder after ingest: {lay['folder_bytes'] / 1e6:,.0f} MB for {lay['raw_vector_bytes'] / 1e6:,.0f} MB of raw "
        f"vectors; {lay['slabs']} slabs ({', '.join(f'{n:,}' for n in lay['slab_rows'])} rows), "
        f"{lay['memtable_rows']:,} rows in the memtable, {lay['log_bytes'] / 1e6:.1f} MB of log tail.",
        "",
        "## Reopen",
        "",
        "| records | reopen s (min) | reopen s (median) | read-only open s | same answers |",
        "|---:|---:|---:|---:|---|",
        f"| {o['records']:,} | {o['seconds_min']} | {o['seconds_median']} | {o['read_only_seconds']} | "
        f"{'yes' if o['answers_match'] else 'NO'} |",
        "",
        "Reopen (slab format toolkit.slab/2) checks SLAB.json's CRC and every file's size and header,",
        "CRC-checks the files up to 4 MiB, memory-maps the slab arrays, the Arrow records and the exact",
        "engine's saved norms, and replays the log tail; metadata is parsed per record when read. The",
        "full CRC of large files is `python -m toolkit verify PATH`. Warm page cache.",
    ]
    if r.get("fresh"):
        lines += [
            "",
            "### In a fresh process (import, open, first and second query)",
            "",
            "| mode | import s | open s | first query ms | second query ms |",
            "|---|---:|---:|---:|---:|",
        ]
        for f in r["fresh"]:
            lines.append(f"| {'read-only' if f['read_only'] else 'read-write'} | {f['import_s']} | {f['open_s']} | "
                         f"{f['first_query_ms']} | {f['second_query_ms']} |")
    lines += ["", f"Load average at the start / end: {result.get('load_start')} / {result.get('load_end')}. "
              f"Command: `{result.get('command')}`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--throughput-batches", type=int, default=100)
    parser.add_argument("--reopens", type=int, default=3)
    parser.add_argument("--fresh", type=int, default=2, help="fresh-process opens of each mode (read-write, read-only)")
    parser.add_argument("--workdir", default=None, help="where the database folder goes (default: the temp dir)")
    args = parser.parse_args()
    started = time.perf_counter()
    load_start = [round(x, 2) for x in os.getloadavg()]
    results = run(args)
    result = {
        "load_start": load_start,
        "load_end": [round(x, 2) for x in os.getloadavg()],
        "command": "python " + " ".join(sys.argv),
        "benchmark": "storage",
        "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} · {os.cpu_count()} CPUs · {platform.system()}",
        "python": platform.python_version(),
        "args": vars(args),
        "results": results,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "storage.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "storage.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
