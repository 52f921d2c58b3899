"""Delete benchmarks (issue #16): what deletes cost an index, and when their space comes back.

Run from the repository root::

    flock /work/bench.lock python benchmarks/bench_deletes.py      # full scale: every installed engine,
                                                                   # 100k vectors, 1M for throughput
    python benchmarks/bench_deletes.py --records 50000 --throughput-records 500000   # reduced

Run time on 2 cores: the reduced run above took 249 s at load average ~8 (six engines; PyNNDescent
138 s of it, including its numba compile); the full run (100k, 1M) is expected to take about
8-10 minutes at that load and less on a quiet machine (builds grow as n log n; 1M records load in
~30 s), inside the ~15-minute budget.

``--engines installed`` (the default) runs every registered builder that serves dense euclidean
vectors: exact, annoy, nndescent, and hnsw / ivf_flat / ivf_pq with the ``[engines]`` extra.
Each engine builds its slab once; every deleted share starts from a copy of that folder.

It writes ``benchmarks/results/deletes.json`` and ``benchmarks/results/deletes.md``. This is a
script, not a test: nothing asserts on the numbers, which depend on the machine and its load
(recorded in the results). The measurements live in ``toolkit.bench.deletes``:

(a) per engine, ``--records`` clustered vectors (``--dim``), one slab built by the engine, then
    0/10/50/90% deleted by one filtered ``delete_records``: query p50 and recall@10 before the
    merge that drops the dead rows (the ANN still holds them, the live mask hides them) and
    after ``compact()``; the persistent folder's bytes loaded / after the delete / after the merge;
(b) delete throughput on ``--throughput-records`` records (8-d): by filter at 1/10/30%, by
    filter ∧ where_document, and list-then-delete in batches of 1000 ids;
(c) write units billed per delete request kind against the records and bytes removed;
(d) seconds from a delete's call until reads reflect its LSN / the record is gone, strong and
    eventual (``--apply-delay``) mode.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from toolkit.bench import deletes as experiments  # noqa: E402
from toolkit.bench.tables import markdown_table  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--engines", default="installed",
                        help="comma-separated builder names, or 'installed' (every dense euclidean builder)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--throughput-records", type=int, default=1_000_000)
    parser.add_argument("--billing-records", type=int, default=10_000)
    parser.add_argument("--lag-repeats", type=int, default=20)
    parser.add_argument("--apply-delay", type=float, default=0.1)
    parser.add_argument("--out", default=str(RESULTS / "deletes"))
    args = parser.parse_args()
    machine = {"python": platform.python_version(), "cpus": os.cpu_count(),
               "load_before": [round(x, 2) for x in os.getloadavg()],
               "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    engines = installed_engines() if args.engines == "installed" else args.engines.split(",")
    args.engines = ",".join(engines)
    started = time.perf_counter()
    sections: dict[str, float] = {}
    frames = []
    with tempfile.TemporaryDirectory() as folder:
        for engine in engines:
            began = time.perf_counter()
            frames.append(experiments.recall_under_deletes(engine, args.records, args.dim, n_queries=args.queries,
                                                           folder=Path(folder)))
            sections[f"recall {engine}"] = time.perf_counter() - began
    recall = pd.concat(frames, ignore_index=True)
    began = time.perf_counter()
    throughput = experiments.delete_throughput(args.throughput_records)
    sections["throughput"] = time.perf_counter() - began
    began = time.perf_counter()
    billing = experiments.billing_vs_work(args.billing_records, args.dim)
    sections["billing"] = time.perf_counter() - began
    began = time.perf_counter()
    lag = pd.concat([experiments.visibility_lag("strong", 0.0, args.lag_repeats),
                     experiments.visibility_lag("eventual", args.apply_delay, args.lag_repeats)], ignore_index=True)
    sections["visibility"] = time.perf_counter() - began
    machine["load_after"] = [round(x, 2) for x in os.getloadavg()]
    machine["seconds"] = round(time.perf_counter() - started, 1)
    machine["section_seconds"] = {k: round(v, 1) for k, v in sections.items()}
    report = {"args": vars(args), "machine": machine, "recall": recall.to_dict("records"),
              "throughput": throughput.to_dict("records"), "billing": billing.to_dict("records"),
              "bytes_per_record": billing.attrs["bytes_per_record"], "lag": lag.to_dict("records")}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1, default=str))
    out.with_suffix(".md").write_text(markdown(args, machine, recall, throughput, billing, lag))


def installed_engines() -> list[str]:
    """Return every registered builder that serves dense euclidean vectors, in registration order."""
    import toolkit

    client = toolkit.Client()
    try:
        return [name for name, builder in client.builders().items()
                if "dense" in builder.vector_types and "euclidean" in builder.metrics]
    finally:
        client.close()


def markdown(args, machine, recall, throughput, billing, lag) -> str:
    lag_summary = lag.groupby(["consistency", "apply_delay_s"], as_index=False).agg(
        deletes=("lsn", "size"), call_ms_p50=("ack_s", lambda s: 1e3 * s.median()),
        lsn_visible_ms_p50=("lsn_visible_s", lambda s: 1e3 * s.median()),
        lsn_visible_ms_max=("lsn_visible_s", lambda s: 1e3 * s.max()),
        record_gone_ms_p50=("record_gone_s", lambda s: 1e3 * s.median()))
    space = recall[recall.phase == "after_merge"][["engine", "deleted_pct", "folder_bytes_loaded", "folder_bytes"]]
    before = recall[recall.phase == "before_merge"][["engine", "deleted_pct", "folder_bytes"]]
    space = space.merge(before, on=["engine", "deleted_pct"], suffixes=("_after_merge", "_after_delete"))
    space["reclaimed_pct"] = 100 * (1 - space.folder_bytes_after_merge / space.folder_bytes_after_delete)
    load = machine["load_before"][0]
    return "\n".join([
        "# Deletes: recall, latency, throughput, billing, visibility, space",
        "",
        f"Generated by `python benchmarks/bench_deletes.py {' '.join(f'--{k.replace(chr(95), chr(45))} {v}' for k, v in vars(args).items() if k != 'out')}` "
        f"on {machine['started']} ({machine['cpus']} CPUs, Python {machine['python']}); load average "
        f"{machine['load_before']} before, {machine['load_after']} after; {machine['seconds']} s in all "
        f"({', '.join(f'{k} {v:.0f} s' for k, v in machine['section_seconds'].items())})."
        + (" **The machine was shared and loaded: timings are noisy; re-run on a quiet machine.**" if load > 1.5 else ""),
        "",
        f"## (a) Query p50 and recall@10 with records deleted ({args.records:,} × {args.dim}-d, euclidean)",
        "",
        "`before_merge`: the engine's slab still holds the deleted points (hidden by the live mask); "
        "`after_merge`: after `compact()` rewrote the slab without them.",
        "",
        markdown_table(recall[["engine", "deleted_pct", "phase", "stored_rows", "live_rows", "p50_ms", "recall@10",
                               "delete_s", "merge_s"]]),
        "",
        "## (b) Delete throughput",
        "",
        markdown_table(throughput),
        "",
        "## (c) Write units billed vs true work",
        "",
        f"One record here is {billing.attrs['bytes_per_record']:.0f} billed bytes ({args.dim}-d + metadata).",
        "",
        markdown_table(billing),
        "",
        "## (d) Time until a delete is visible",
        "",
        markdown_table(lag_summary),
        "",
        "## (e) Space reclaimed by the merge (persistent folder bytes)",
        "",
        markdown_table(space),
        "",
    ])


if __name__ == "__main__":
    main()
