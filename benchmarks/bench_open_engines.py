"""Open cost per engine (issue #14): what reopening a slab costs when its engine's index is saved.

Run from the repository root::

    python benchmarks/bench_open_engines.py                         # 50k × 128, every installed engine
    python benchmarks/bench_open_engines.py --records 100000 --engines annoy,nndescent

It writes ``benchmarks/results/open_engines.json`` and ``.md``. For each engine one index is
filled with ``--records`` random 128-d records (one tier: that engine), merged into one slab and
closed; then a fresh process opens it (read-only) and runs one and then a second query. The slab
rows are memory-mapped for every engine; what differs is the engine's saved index: Annoy maps its
forest, the exact engine maps its norms, PyNNDescent unpickles its graph and trees (read whole),
HNSW and FAISS (ivf_flat, ivf_pq) read their index files into memory.
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
OPEN = """
import json, sys, time
import numpy as np
import toolkit
t0 = time.perf_counter()
client = toolkit.Client(path=sys.argv[1], read_only=True)
t1 = time.perf_counter()
index = client.Index("e")
query = np.asarray(json.loads(sys.argv[2]), np.float32)
t2 = time.perf_counter()
ids = index.query(vector=query, top_k=10).ids()
t3 = time.perf_counter()
index.query(vector=query, top_k=10)
t4 = time.perf_counter()
slabs = index.describe_slabs()
client.close()
print(json.dumps({"open_s": t1 - t0, "first_query_ms": (t3 - t2) * 1e3, "second_query_ms": (t4 - t3) * 1e3,
                  "index_bytes": int(slabs["index_bytes"].sum()), "ids": ids}))
"""


def engine_files_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in db.rglob("engine/*") if p.is_file())


def measure(engine: str, data: np.ndarray, workdir: Path) -> dict[str, Any]:
    db = workdir / f"{engine}.db"
    client = toolkit.Client(path=str(db))
    client.create_index("e", dimension=data.shape[1], metric="cosine",
                        engine={"tiers": [{"builder": engine}], "memtable_max_records": 100_000})
    index = client.Index("e")
    started = time.perf_counter()
    for start in range(0, len(data), BATCH):
        index.upsert(vectors=[(f"r{start + i}", row) for i, row in enumerate(data[start:start + BATCH])])
    index.compact(show_progress=False)
    build = time.perf_counter() - started
    query = data[7]
    expected = index.query(vector=query, top_k=10).ids()
    client.close()
    done = subprocess.run([sys.executable, "-c", OPEN, str(db), json.dumps(query.tolist())],
                          capture_output=True, text=True, check=True)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    same = got.pop("ids") == expected
    return {"engine": engine, "ingest_and_build_s": round(build, 1), "engine_file_bytes": engine_files_bytes(db),
            "same_answers": same, **{k: round(v, 3) if isinstance(v, float) else v for k, v in got.items()}}


def markdown(result: dict[str, Any]) -> str:
    a = result["args"]
    lines = [
        "# Open cost per engine (issue #14)",
        "",
        f"{result['generated']} · {result['machine']} · Python {result['python']} · {a['records']:,} × {a['dim']}-d, "
        "one slab per engine, read-only open in a fresh process (toolkit already imported; warm page cache)",
        "",
        "| engine | saved index | engine files MB | open s | first query ms | second query ms | same answers |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    how = {"exact": "norms, mapped", "annoy": "forest, mapped by Annoy", "nndescent": "pickle, read whole",
           "hnsw": "hnswlib file, read whole", "ivf_flat": "FAISS file, read whole",
           "ivf_pq": "FAISS file, read whole"}
    for r in result["results"]:
        lines.append(f"| {r['engine']} | {how.get(r['engine'], '?')} | {r['engine_file_bytes'] / 1e6:,.1f} | "
                     f"{r['open_s']} | {r['first_query_ms']} | {r['second_query_ms']} | "
                     f"{'yes' if r['same_answers'] else 'NO'} |")
    lines += ["", f"Load average at the start / end: {result['load_start']} / {result['load_end']}. "
              f"Command: `{result['command']}`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--engines", default="exact,annoy,nndescent,hnsw,ivf_flat")
    parser.add_argument("--out", default="open_engines", help="results file stem under benchmarks/results/")
    args = parser.parse_args()
    load_start = [round(x, 2) for x in os.getloadavg()]
    data = np.random.default_rng(3).normal(size=(args.records, args.dim)).astype(np.float32)
    workdir = Path(tempfile.mkdtemp(prefix="bench-open-"))
    results = []
    try:
        for engine in args.engines.split(","):
            try:
                results.append(measure(engine, data, workdir))
            except toolkit.errors.ToolkitError as exc:  # an engine whose library is not installed
                print(f"skipping {engine}: {exc}", file=sys.stderr)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = {
        "benchmark": "open_engines",
        "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} · {os.cpu_count()} CPUs · {platform.system()}",
        "python": platform.python_version(), "args": vars(args), "load_start": load_start,
        "load_end": [round(x, 2) for x in os.getloadavg()], "command": "python " + " ".join(sys.argv),
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{args.out}.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
