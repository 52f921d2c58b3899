"""Memory per record (issue #14): where the bytes of an in-memory index go.

Run from the repository root::

    python benchmarks/bench_memory.py                      # 1M × 8-d records, no metadata
    python benchmarks/bench_memory.py --records 100000     # a quick look
    python benchmarks/bench_memory.py --metadata           # with two metadata fields per record

It writes ``benchmarks/results/memory.json`` and ``benchmarks/results/memory.md``. This is a
script, not a test. An in-memory client ingests ``--records`` records (ids ``rec-<n>``) in
batches of 1000, waits for its merges, and then counts, structure by structure, the bytes the
namespace holds (numpy ``nbytes``, ``sys.getsizeof`` of Python objects, deduplicated by
identity), next to the growth of the process's resident set (VmRSS, after ``gc.collect`` and
``malloc_trim``).
"Raw" is the vectors (n × d × 4) plus the id bytes (one byte per ASCII character); the target
is ≤ 1.5 × raw plus the engine's own index.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import toolkit  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
BATCH = 1000


def rss_bytes() -> int:
    """Return this process's resident set size after gc and malloc_trim (Linux /proc; 0 elsewhere).

    ``malloc_trim`` hands the allocator's free pages back, so the figure is memory in use, not
    what earlier merges' temporaries left in glibc's arenas.
    """
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Counter:
    """Sum bytes per category, each object counted once (by identity)."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.bytes: dict[str, int] = {}

    def add(self, category: str, nbytes: int) -> None:
        self.bytes[category] = self.bytes.get(category, 0) + int(nbytes)

    def array(self, category: str, array: Any) -> None:
        if array is None or id(array) in self.seen:
            return
        self.seen.add(id(array))
        base = array
        while isinstance(base, np.ndarray) and base.base is not None and isinstance(base.base, np.ndarray):
            base = base.base  # a view: count the buffer it shares once
        if isinstance(array, np.ndarray) and base is not array:
            if id(base) in self.seen:
                return
            self.seen.add(id(base))
            array = base
        nbytes = int(getattr(array, "nbytes", 0))
        if isinstance(array, np.ndarray) and 0 in array.strides and array.size > 1:
            nbytes = array.itemsize  # a broadcast of one value (an empty sparse CSR's offsets)
        if isinstance(array, np.ndarray) and array.dtype == object:
            nbytes += sum(sys.getsizeof(x) for x in array.tolist() if x is not None and id(x) not in self.seen)
        self.add(category, nbytes)

    def dict_(self, category: str, mapping: dict[Any, Any], *, values: bool) -> None:
        if id(mapping) in self.seen:
            return
        self.seen.add(id(mapping))
        nbytes = sys.getsizeof(mapping)
        if values:  # ints above 256 are objects of their own
            nbytes += sum(sys.getsizeof(v) for v in mapping.values() if not -5 <= v <= 256)
        self.add(category, nbytes)


def count_rows(counter: Counter, rows: Any) -> None:
    counter.array("vectors (dense float32)", rows.dense)
    if isinstance(rows.ids, np.ndarray):  # the older layout: an object array of str plus a lazy lookup
        counter.array("ids (object array of str)", rows.ids)
        lookup = getattr(rows, "_lookup", {})
        for key in ("keys", "order"):
            counter.array("id lookup (sorted ids + order)", lookup.get(key))
    else:  # IdColumn: sorted S keys + order + rank, which is the lookup too
        for name in ("keys", "order", "_rank"):
            counter.array("ids (sorted bytes + order + rank)", getattr(rows.ids, name))
    metadata = rows.metadata
    if isinstance(metadata, np.ndarray):
        counter.array("metadata (object array)", metadata)
    elif type(metadata).__name__ == "AbsentMetadata":
        counter.add("metadata (none: AbsentMetadata)", 0)
    else:
        counter.add("metadata (JSON texts)", metadata.nbytes)
    counter.array("per-row LSN", rows.lsns)
    counter.array("per-row billed size", rows.sizes)
    for name in ("indptr", "indices", "values"):
        counter.array("sparse CSR", getattr(rows.sparse, name))
    state = rows.columns.state()
    for field in state["fields"].values():
        for attr in ("kind", "str_codes", "num", "list_indptr", "list_codes"):
            counter.array("metadata columns", field[attr])


def breakdown(index: toolkit.Index) -> tuple[dict[str, int], int, int]:
    """Return (bytes per category, engine-own index bytes, live records) of every namespace."""
    counter = Counter()
    engine = 0
    records = 0
    for ns in index._namespaces.values():
        records += ns.live_count()
        for slab in ns.slabs:
            count_rows(counter, slab.rows)
            counter.array("live masks", slab.alive)
            if slab.index is not None:
                own = int(slab.index.nbytes)
                kernel = getattr(slab.index, "kernel", None)
                if kernel is not None and kernel.matrix is slab.rows.dense and slab.rows.dense is not None:
                    own -= int(slab.rows.dense.nbytes)  # the exact kernel scores the slab's own rows
                engine += own
        for rows, alive in ns.memtable.chunks():
            count_rows(counter, rows)
            counter.array("live masks", alive)
        counter.dict_("memtable id → row map", ns.memtable.row_of, values=True)
        live = getattr(ns, "live", None)
        if isinstance(live, dict):
            counter.dict_("live map (id → billed bytes)", live, values=True)
    return counter.bytes, engine, records


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(11)
    warm = toolkit.Client()  # load the plugins (and their libraries) before the baseline
    warm.create_index("warm", dimension=args.dim, metric="cosine")
    warm.Index("warm").upsert(vectors=[{"id": "w", "values": [0.5] * args.dim}])
    warm.close()
    del warm
    gc.collect()
    before = rss_bytes()
    client = toolkit.Client()
    client.create_index("mem", dimension=args.dim, metric="cosine")
    index = client.Index("mem")
    started = time.perf_counter()
    id_bytes = 0
    for start in range(0, args.records, BATCH):
        n = min(BATCH, args.records - start)
        values = rng.normal(size=(n, args.dim)).astype(np.float32)
        batch = []
        for i in range(n):
            record: dict[str, Any] = {"id": f"rec-{start + i}", "values": values[i]}
            if args.metadata:
                record["metadata"] = {"category": f"c{(start + i) % 16}", "year": 1990 + (start + i) % 30}
            id_bytes += len(record["id"])
            batch.append(record)
        index.upsert(vectors=batch)
    index.wait_for_merges()
    ingest_seconds = time.perf_counter() - started
    del values, batch
    gc.collect()
    after = rss_bytes()
    categories, engine, records = breakdown(index)
    raw = args.records * args.dim * 4 + id_bytes
    counted = sum(categories.values())
    slabs = index.describe_slabs()
    client.close()
    return {
        "records": records, "dim": args.dim, "metadata": args.metadata, "ingest_seconds": round(ingest_seconds, 2),
        "raw_bytes": raw, "raw_vector_bytes": args.records * args.dim * 4, "raw_id_bytes": id_bytes,
        "categories": dict(sorted(categories.items(), key=lambda kv: -kv[1])), "counted_bytes": counted,
        "engine_index_bytes": engine, "rss_growth_bytes": after - before,
        "counted_over_raw": round(counted / raw, 3), "rss_minus_engine_over_raw": round((after - before - engine) / raw, 3),
        "slabs": len(slabs), "slab_rows": slabs["rows"].tolist(),
    }


def markdown(result: dict[str, Any]) -> str:
    r = result["results"]
    mb = 1e6
    lines = [
        "# Memory per record (issue #14)",
        "",
        f"{result['generated']} · {result['machine']} · Python {result['python']} · in-memory client, "
        f"{r['records']:,} × {r['dim']}-d float32, {'two metadata fields' if r['metadata'] else 'no metadata'}, "
        f"default engine (exact), {r['slabs']} slabs ({', '.join(f'{n:,}' for n in r['slab_rows'])} rows)",
        "",
        f"Raw: {r['raw_bytes'] / mb:,.1f} MB ({r['raw_vector_bytes'] / mb:,.1f} MB of vectors + "
        f"{r['raw_id_bytes'] / mb:,.1f} MB of id bytes). Target: ≤ 1.5 × raw + the engine's own index.",
        "",
        "| structure | MB | bytes / record | × raw |",
        "|---|---:|---:|---:|",
    ]
    n = max(r["records"], 1)
    for name, nbytes in r["categories"].items():
        lines.append(f"| {name} | {nbytes / mb:,.1f} | {nbytes / n:,.1f} | {nbytes / r['raw_bytes']:.2f} |")
    lines += [
        f"| **counted, all structures** | **{r['counted_bytes'] / mb:,.1f}** | {r['counted_bytes'] / n:,.1f} | "
        f"**{r['counted_over_raw']:.2f}** |",
        f"| engine's own index (beyond the rows) | {r['engine_index_bytes'] / mb:,.1f} | "
        f"{r['engine_index_bytes'] / n:,.1f} | {r['engine_index_bytes'] / r['raw_bytes']:.2f} |",
        f"| process RSS growth (after gc + malloc_trim) | {r['rss_growth_bytes'] / mb:,.1f} | {r['rss_growth_bytes'] / n:,.1f} | "
        f"{r['rss_growth_bytes'] / r['raw_bytes']:.2f} |",
        "",
        f"RSS growth minus the engine's own index: **{r['rss_minus_engine_over_raw']:.2f} × raw**. RSS also holds "
        "the allocator's free lists and the interpreter's caches; the counted column is what the namespace "
        "itself references. Ingest took " + f"{r['ingest_seconds']} s.",
        "",
        f"Load average at the start / end: {result['load_start']} / {result['load_end']}. "
        f"Command: `{result['command']}`.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=8)
    parser.add_argument("--metadata", action="store_true", help="two metadata fields per record")
    parser.add_argument("--out", default="memory", help="results file stem under benchmarks/results/")
    args = parser.parse_args()
    load_start = [round(x, 2) for x in os.getloadavg()]
    results = run(args)
    result = {
        "benchmark": "memory",
        "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} · {os.cpu_count()} CPUs · {platform.system()}",
        "python": platform.python_version(),
        "args": vars(args),
        "load_start": load_start,
        "load_end": [round(x, 2) for x in os.getloadavg()],
        "command": "python " + " ".join(sys.argv),
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{args.out}.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
