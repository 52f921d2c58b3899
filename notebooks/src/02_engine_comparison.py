CELLS = [
("md", """
# 02 · Engine comparison

**Question:** on the same data, how do the engines (exact, Annoy, PyNNDescent, and the sparse
CSR engine for sparse data) trade recall against query latency and true work as their
parameters change — and do the billed read units notice?

Each engine is chosen by configuration only: the records, the calls and the code are
identical; only the `engine=` mapping (or a TOML file) differs. Engines that are not
installed are skipped, so the notebook runs with whatever plugins are registered.
"""),
("code", """
import time
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import toolkit

%matplotlib inline
"""),
("md", """
## Data: 20,000 clustered vectors, 100 queries, exact ground truth

Gaussian clusters in 64 dimensions (seeded), cosine metric. (Small, but big enough that an
exact scan costs more than the per-request overhead, so latency differences show.) The ground truth is the exact
cosine similarity of every query to every record, computed with numpy outside the toolkit;
a returned record counts as a hit when its true similarity reaches the k-th best (minus 1e-3).
"""),
("code", """
rng = np.random.default_rng(42)
N, DIM, N_QUERIES, K = 20_000, 64, 100, 10
centers = rng.normal(size=(40, DIM))
data = (centers[rng.integers(0, 40, N)] + 0.45 * rng.normal(size=(N, DIM))).astype(np.float32)
queries = (centers[rng.integers(0, 40, N_QUERIES)] + 0.45 * rng.normal(size=(N_QUERIES, DIM))).astype(np.float32)
ids = np.array([f"v{i:05d}" for i in range(N)])
records = [{"id": ids[i], "values": data[i]} for i in range(N)]

unit = data / np.linalg.norm(data, axis=1, keepdims=True)
sims = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ unit.T
kth_sim = -np.sort(-sims, axis=1)[:, K - 1]  # the k-th best true similarity of each query
row_of = {record_id: i for i, record_id in enumerate(ids)}


def recall(q, got_ids):
    # the share of the k answers whose true similarity reaches the k-th best (within 1e-3): ties count
    hits = sum(sims[q, row_of[i]] >= kth_sim[q] - 1e-3 for i in got_ids)
    return min(hits, K) / K
"""),
("md", """
## The engines and their parameters

Build parameters (fixed when a slab is built) go in the tier's `build` mapping; query
parameters can be set per tier (`query`) or per request (`search_params=`), which lets one
built index be swept over its query-time knobs.
"""),
("code", """
client = toolkit.Client()
builders = client.builders()
GRID = {  # engine -> [(build params, [query params, ...]), ...]
    "exact": [({}, [{}])],
    "annoy": [({"n_trees": t}, [{"search_k": s} for s in (40, 160, 640, 2560)]) for t in (4, 16)],
    "nndescent": [({"n_neighbors": n}, [{"epsilon": e} for e in (0.0, 0.1, 0.25)]) for n in (10, 30)],
}
engines = [e for e in GRID if e in builders and "dense" in builders[e].vector_types]
print("registered builders:", sorted(builders))
print("dense engines compared here:", engines)
"""),
("md", """
Some engines pay a one-off cost per process (PyNNDescent's numba compilation: tens of seconds).
`warm_up()` pays it now, so that it is not counted as build time below — although the first
real build may still compile a few more kernels.
"""),
("code", """
warm_up_s = {}
for engine in engines:
    started = time.perf_counter()
    builders[engine].warm_up()
    warm_up_s[engine] = time.perf_counter() - started
{engine: round(seconds, 2) for engine, seconds in warm_up_s.items()}
"""),
("code", """
def build_index(name, engine_config):
    client.create_index(name=name, dimension=DIM, metric="cosine", engine=engine_config)
    index = client.Index(name)
    index.upsert(vectors=records, batch_size=1000, show_progress=False)
    index.compact()  # one slab holding every record, built by the configured engine
    return index


def measure(index, search_params):
    latencies, recalls, read_units = [], [], []
    for q, vector in enumerate(queries):
        started = time.perf_counter()
        resp = index.query(vector=vector, top_k=K, search_params=search_params)
        latencies.append(time.perf_counter() - started)
        recalls.append(recall(q, resp.ids()))
        read_units.append(resp.usage.read_units)
    work = index.usage(raw=True).tail(len(queries))  # the ledger: billed units and true work per request
    return {
        "recall": np.mean(recalls),
        "p50_ms": 1e3 * np.median(latencies),
        "p95_ms": 1e3 * np.percentile(latencies, 95),
        "read_units": work.read_units.mean(),  # exact (fractional) units; responses round up
        "read_units_reported": np.mean(read_units),
        "distances_per_query": work.distance_computations.mean(),
    }


rows = []
for engine in engines:
    for n, (build, query_grid) in enumerate(GRID[engine]):
        started = time.perf_counter()
        index = build_index(f"{engine}-{n}", {"memtable_max_records": N, "tiers": [{"builder": engine, "build": build}]})
        build_s = time.perf_counter() - started
        index.query(vector=queries[0], top_k=K)  # warm up (first-call compilation, caches)
        for params in query_grid:
            rows.append({"engine": engine, "build": build, "query": params, "build_s": build_s,
                         **measure(index, params)})
results = pd.DataFrame(rows)
results.round(4)
"""),
("md", """
## Recall vs latency, with the Pareto frontier

A configuration is on the frontier when no other configuration is both faster and at least
as accurate. The right panel plots recall against the distance computations each engine
reports to the usage ledger; how each engine counts them is printed below (an engine that
says nothing shows `None`).
"""),
("code", """
def pareto(frame, cost="p50_ms", gain="recall"):
    ordered = frame.sort_values([cost, gain], ascending=[True, False])
    best, keep = -np.inf, []
    for i, row in ordered.iterrows():
        if row[gain] > best:
            keep.append(i)
            best = row[gain]
    return frame.loc[keep]


frontier = pareto(results)
print({engine: getattr(builders[engine], "work_counting", None) for engine in engines})
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
markers = {"exact": "s", "annoy": "o", "nndescent": "^"}
for engine, group in results.groupby("engine"):
    axes[0].scatter(group.p50_ms, group.recall, marker=markers.get(engine, "x"), s=60, label=engine)
    axes[1].scatter(group.distances_per_query, group.recall, marker=markers.get(engine, "x"), s=60, label=engine)
axes[0].plot(frontier.p50_ms, frontier.recall, "k--", lw=1, drawstyle="steps-post", label="Pareto frontier")
axes[0].set(xscale="log", xlabel="median query latency (ms, log)", ylabel=f"recall@{K}",
            title="recall vs latency")
axes[1].set(xscale="log", xlabel="distance computations per query (log)", ylabel=f"recall@{K}",
            title="recall vs true work")
for ax in axes:
    ax.grid(alpha=0.3)
    ax.legend()
plt.tight_layout()
plt.show()
frontier[["engine", "build", "query", "recall", "p50_ms", "distances_per_query"]].round(4)
"""),
("md", """
## Read units do not see the engine

A query is billed by the size of the namespace it searches, not by the work the engine does.
"""),
("code", """
results.groupby("engine").agg(read_units=("read_units", "mean"), reported=("read_units_reported", "mean"),
                              min_work=("distances_per_query", "min"),
                              max_work=("distances_per_query", "max"))
"""),
("md", """
## Swapping engines by configuration, on the same data

One index, one copy of the data: `index.rebuild(engine=...)` rebuilds the existing records
with another engine, given as a builder name, a mapping or a TOML file (the form a sweep would
keep next to its results). The query code never changes.
"""),
("code", """
import tempfile
from pathlib import Path

ann = next((e for e in ("annoy", "nndescent") if e in engines), "exact")
ann_build, ann_queries = GRID[ann][-1]
toml_lines = [f"memtable_max_records = {N}", "merge_fanout = 4", "[[tiers]]", f'builder = "{ann}"']
if ann_build:
    toml_lines.append("build = { " + ", ".join(f"{k} = {v}" for k, v in ann_build.items()) + " }")
if ann_queries[-1]:
    toml_lines.append("query = { " + ", ".join(f"{k} = {v}" for k, v in ann_queries[-1].items()) + " }")
toml_path = Path(tempfile.mkdtemp()) / "engine_swap.toml"  # a scratch file, not left in the repository
toml_path.write_text("\\n".join(toml_lines) + "\\n")
print(toml_path.read_text())

index = build_index("swap", {"memtable_max_records": N, "tiers": [{"builder": "exact"}]})
swap = {}


def answer(label):
    swap[label] = [index.query(vector=q, top_k=K).ids() for q in queries]
    print(f"{label:>24}: slabs built by {sorted(set(index.describe_slabs().builder))}, "
          f"recall@{K} {np.mean([recall(q, got) for q, got in enumerate(swap[label])]):.3f}")


answer("exact (mapping)")
index.rebuild(engine=str(toml_path))
answer(f"{ann} (TOML file)")
other = next((e for e in engines if e not in ("exact", ann)), None)
if other is not None:
    index.rebuild(engine=other)
    answer(f"{other} (by name)")
labels = list(swap)
overlap = {label: np.mean([len(set(a) & set(b)) / K for a, b in zip(swap[labels[0]], swap[label])])
           for label in labels[1:]}
print(f"top-{K} overlap with the exact answers after each rebuild:", {k: round(float(v), 3) for k, v in overlap.items()})
"""),
("md", """
## Sparse data: exact vs the sparse CSR engine

A sparse index (`vector_type="sparse"`, dotproduct) on random term-weight vectors. The CSR
engine is skipped if it is not installed.
"""),
("code", """
VOCAB, NNZ = 5_000, 24
sparse_records, sparse_dense = [], np.zeros((2_000, VOCAB), dtype=np.float32)
for i in range(2_000):
    terms = np.unique(rng.zipf(1.3, size=NNZ) % VOCAB)
    weights = rng.random(terms.size).astype(np.float32) + 0.1
    sparse_dense[i, terms] = weights
    sparse_records.append({"id": f"d{i:05d}", "sparse_values": {"indices": terms.tolist(), "values": weights.tolist()}})
sparse_queries = []
for _ in range(50):
    terms = np.unique(rng.zipf(1.3, size=4) % VOCAB)
    sparse_queries.append({"indices": terms.tolist(), "values": [1.0] * terms.size})

sparse_engines = [e for e in ("exact", "sparse_csr") if e in builders and "sparse" in builders[e].vector_types]
sparse_rows = []
for engine in sparse_engines:
    name = f"sparse-{engine.replace('_', '-')}"
    client.create_index(name=name, vector_type="sparse", metric="dotproduct",
                        engine={"memtable_max_records": 2_000, "tiers": [{"builder": engine}]})
    index = client.Index(name)
    index.upsert(vectors=sparse_records, batch_size=500, show_progress=False)
    index.compact()
    latencies, recalls = [], []
    for sq in sparse_queries:
        scores = sparse_dense[:, sq["indices"]].sum(axis=1)  # the true dot products
        want = min(K, int(np.count_nonzero(scores)))  # a sparse index returns only non-zero scores
        started = time.perf_counter()
        got = index.query(sparse_vector=sq, top_k=K).ids()
        latencies.append(time.perf_counter() - started)
        if want:
            kth = np.sort(scores)[::-1][want - 1]
            recalls.append(min(want, sum(scores[int(g[1:])] >= kth - 1e-3 for g in got)) / want)
    work = index.usage(raw=True).tail(len(sparse_queries))
    sparse_rows.append({"engine": engine, "recall": np.mean(recalls), "p50_ms": 1e3 * np.median(latencies),
                        "distances_per_query": work.distance_computations.mean()})
sparse_results = pd.DataFrame(sparse_rows)
sparse_results.round(4)
"""),
("md", """
## The same sweep through the benchmark harness

`toolkit.bench` runs a sweep given as data (a mapping or a TOML file) on its own datasets and
returns one row per configuration; `bench.plot_pareto` draws each engine's recall/throughput
frontier (bars: the min–max of the repeated timings). Here: the same engines and parameter grid
on its synthetic clustered dataset. The harness warms each engine up (JIT compile) and builds
each index once untimed before timing `repeats` rebuilds and query passes; the headline's
verdict calls an engine faster only when the QPS ranges do not overlap.
"""),
("code", """
from toolkit import bench

sweep = {
    "name": "notebook-02", "k": K, "filters": ["none"],
    "datasets": [{"name": "clustered", "n": N, "dim": DIM, "n_queries": N_QUERIES, "selectivities": [0.5]}],
    "engines": [
        {"name": engine,
         **({"build": {p: sorted({b[p] for b, _ in GRID[engine]}) for p in GRID[engine][0][0]}} if GRID[engine][0][0] else {}),
         **({"query": {p: sorted({qp[p] for _, qs in GRID[engine] for qp in qs}) for p in GRID[engine][0][1][0]}}
            if GRID[engine][0][1][0] else {})}
        for engine in engines
    ],
    "workloads": [{"name": "queries"}],
    "repeats": 2,  # each build timed twice, each query set run twice: medians with their min-max
}
harness = bench.run(sweep, serial=True, progress=False)
RECALL_TARGET = 0.9
display(bench.plot_pareto(harness))  # bench figures are built without pyplot: display() shows them
bench.headline(harness, recall_target=RECALL_TARGET)
"""),
("md", "## What the numbers show"),
("code", """
exact_row = results[results.engine == "exact"].iloc[0]
print(f"Exact search: recall {exact_row.recall:.3f} at {exact_row.p50_ms:.2f} ms median, "
      f"{exact_row.distances_per_query:.0f} distance computations per query.")
for engine in [e for e in engines if e != "exact"]:
    group = results[results.engine == engine]
    best = group.loc[group.recall.idxmax()]
    fast = group.loc[group.p50_ms.idxmin()]
    print(f"{engine}: recall ranges {group.recall.min():.3f}-{group.recall.max():.3f}; its most accurate setting "
          f"(build {best.build}, query {best['query']}) reaches {best.recall:.3f} at {best.p50_ms:.2f} ms "
          f"({best.p50_ms / exact_row.p50_ms:.2f}x exact's latency, "
          f"{best.distances_per_query / exact_row.distances_per_query:.3f}x its reported work); "
          f"its fastest reaches {fast.recall:.3f} at {fast.p50_ms:.2f} ms.")
if len(engines) == 1:
    print("Only the exact engine is registered, so there is no trade-off to show yet.")
builds = results.drop_duplicates(["engine", "build_s"]).groupby("engine").build_s.agg(["min", "max"])
print("Index build time (upsert + compact) per engine, seconds: "
      + "; ".join(f"{e} {row['min']:.1f}-{row['max']:.1f}" for e, row in builds.iterrows())
      + " | one-off warm-up: " + ", ".join(f"{e} {sec:.1f}" for e, sec in warm_up_s.items()) + ".")
on_frontier = frontier.engine.value_counts().to_dict()
print(f"Configurations on the recall/latency Pareto frontier, by engine: {on_frontier}.")
print(f"Billed read units per query were {sorted(set(results.read_units.round(4)))} for every engine and setting: "
      f"the bill follows namespace size, while the reported work varied "
      f"{results.distances_per_query.max() / results.distances_per_query.min():.1f}x.")
for label, value in overlap.items():
    print(f"Rebuilding the same records as {label} changed no query code; top-{K} overlap with exact: {value:.3f}.")
head = bench.headline(harness, recall_target=RECALL_TARGET)
print(f"The harness ran {len(harness)} configurations on its own clustered data; fastest configuration per engine "
      f"reaching recall {RECALL_TARGET} (or its most accurate one): "
      + "; ".join(f"{r['configuration']} -> recall {r['recall@k']:.3f}, {r['QPS']:.0f} QPS (min-max "
                  f"{r['QPS min–max']}: {r['verdict']})" for _, r in head.iterrows())
      + ".")
if len(sparse_results) > 1:
    s = sparse_results.set_index("engine")
    print(f"Sparse data: sparse_csr recall {s.loc['sparse_csr', 'recall']:.3f} at {s.loc['sparse_csr', 'p50_ms']:.2f} ms "
          f"vs exact {s.loc['exact', 'recall']:.3f} at {s.loc['exact', 'p50_ms']:.2f} ms.")
else:
    print(f"Sparse data: only {list(sparse_results.engine)} registered for sparse indexes.")
"""),
]
