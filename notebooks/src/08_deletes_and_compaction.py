CELLS = [
("md", """
# 08 · Deletes and compaction

**Question:** what does a delete do inside a serverless-style vector index — when is it
visible, what is billed for it, what happens to recall and latency while deleted points still
sit inside an ANN structure, and how much space comes back when a merge drops them?

Three seed documents describe deletes from three systems: the reference service (by ids,
`delete_all`, by metadata filter, by ID prefix through list-then-delete), Chroma (`ids` ∧
`where` ∧ `where_document`, a `limit`, a `deleted` count) and "Vectorizer" (`delete_vector`,
`batch_delete`, `delete_by_filter`). The toolkit has one delete core, `Index.delete_records`,
and thin adapters for the other two contracts in `toolkit.compat`. The measurements come from
`toolkit.bench.deletes` (the same code as `benchmarks/bench_deletes.py`, here at small scale).
"""),
("code", """
import tempfile
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import toolkit
from toolkit.bench import deletes as experiments
from toolkit.compat import ChromaClient, VectorizerClient

%matplotlib inline
N, DIM = 4000, 32
"""),
("md", """
## One core, three contracts

The reference `delete` takes exactly one of `ids`, `delete_all=True` or `filter` and answers
`{}`; `delete_records` intersects the selectors it is given, caps them with `limit` (the first
ids in bytewise order go) and reports what went. A Chroma collection and a Vectorizer client
are thin translations onto it — here all three delete from the same index.
"""),
("code", """
client = toolkit.Client()
client.create_index(name="contracts", dimension=4, metric="cosine")
index = client.Index("contracts")
rng = np.random.default_rng(0)
docs = ["storm warning", "calm sea", "storm passed", "draft notes", "final report", "storm draft"]
index.upsert([{"id": f"doc{i}", "values": rng.random(4) + 0.01,
               "metadata": {"category": "old" if i % 2 else "new", "document": text}}
              for i, text in enumerate(docs)], namespace="shared")

reference = index.delete(ids=["doc0"], namespace="shared")
chroma = ChromaClient(index).get_or_create_collection("shared")
chroma_result = chroma.delete(where={"category": "old"}, where_document={"$contains": "storm"}, limit=1)
vectorizer = VectorizerClient(index)
vectorizer_result = await vectorizer.delete_by_filter("shared", filter={"category": "new"})  # notebooks await at top level
left = [i for page in index.list(namespace="shared") for i in page]
pd.DataFrame([
    {"contract": "reference index.delete(ids=['doc0'])", "answer": reference.to_dict()},
    {"contract": "Chroma delete(where ∧ where_document, limit=1)", "answer": chroma_result},
    {"contract": "Vectorizer delete_by_filter(category=new)", "answer": vectorizer_result},
    {"contract": "left in the namespace", "answer": left},
])
"""),
("md", """
`where_document` is also a filter clause, `"$document"`, usable in any query (and over REST,
since it travels inside `filter`). It is evaluated on the distinct strings of the document
field, so its cost grows with the vocabulary, not with a Python loop over rows:
"""),
("code", """
found = index.query(vector=[1, 1, 1, 1], top_k=10, namespace="shared", include_metadata=True,
                    filter={"$document": {"$not_contains": "draft"}})
[(m.id, m.metadata["document"]) for m in found.matches]
"""),
("md", """
## Recall and latency with deleted points still inside the ANN

For each engine, one slab of N clustered vectors is built; then 0/10/50/90% of the records are
deleted by one filtered `delete_records`. `before_merge` queries run while the slab still holds
the dead points — the live mask hides them, so the engine must over-fetch or the router falls
back to an exact scan of the live rows — and `after_merge` after `compact()` rebuilt the slab
from the live rows only. A persistent folder records the bytes on disk at each step.
"""),
("code", """
with tempfile.TemporaryDirectory() as folder:  # persistent clients, so that bytes on disk can be counted
    recall = pd.concat([experiments.recall_under_deletes(engine, N, DIM, n_queries=40, folder=Path(folder))
                        for engine in ("exact", "annoy")], ignore_index=True)
recall[["engine", "deleted_pct", "phase", "stored_rows", "live_rows", "p50_ms", "recall@10", "folder_bytes"]]
"""),
("code", """
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
for (engine, phase), group in recall.groupby(["engine", "phase"]):
    style = "-o" if phase == "before_merge" else "--s"
    axes[0].plot(group.deleted_pct, group.p50_ms, style, label=f"{engine} {phase}")
    axes[1].plot(group.deleted_pct, group["recall@10"], style, label=f"{engine} {phase}")
axes[0].set(xlabel="records deleted (%)", ylabel="query p50 (ms)")
axes[1].set(xlabel="records deleted (%)", ylabel="recall@10")
for ax in axes:
    ax.grid(alpha=0.3)
axes[1].legend(fontsize=8)
plt.tight_layout()
plt.show()
"""),
("md", """
## What is billed for a delete, against the work done

The reference bills a delete `max(5, ceil(deleted KB))` write units, and `delete_all` a flat 5:
"""),
("code", """
billing = experiments.billing_vs_work(2000, DIM)
billing
"""),
("md", """
## When is a delete visible?

Every delete gets the namespace's next LSN. In strong mode it is applied before the call
returns; in eventual mode it is applied `apply_delay` seconds later, and reads report how far
they reflect with `max_indexed_lsn`.
"""),
("code", """
APPLY_DELAY = 0.05
lag = pd.concat([experiments.visibility_lag("strong", 0.0, repeats=8),
                 experiments.visibility_lag("eventual", APPLY_DELAY, repeats=8)], ignore_index=True)
lag.groupby("consistency")[["ack_s", "lsn_visible_s", "record_gone_s"]].median().mul(1e3).round(2)
"""),
("md", """
## Throughput of delete by filter, by document and by ids
"""),
("code", """
THROUGHPUT_N = 50_000
throughput = experiments.delete_throughput(THROUGHPUT_N)
throughput
"""),
("md", "## What the numbers show"),
("code", """
def row(engine, pct, phase):
    return recall[(recall.engine == engine) & (recall.deleted_pct == pct) & (recall.phase == phase)].iloc[0]

print(f"Contracts: the reference delete answered {reference.to_dict()} (no count), Chroma's {chroma_result}, "
      f"Vectorizer's {vectorizer_result}; {len(left)} of {len(docs)} records are left: {left}.")
for engine in ("exact", "annoy"):
    b, a = row(engine, 90, "before_merge"), row(engine, 90, "after_merge")
    z = row(engine, 0, "before_merge")
    print(f"{engine}: with 90% deleted, the slab still stored {b.stored_rows} rows for {b.live_rows} live ones; "
          f"p50 {b.p50_ms:.3f} ms and recall@10 {b['recall@10']:.3f} before the merge, "
          f"{a.p50_ms:.3f} ms and {a['recall@10']:.3f} after it (0% deleted: {z.p50_ms:.3f} ms, {z['recall@10']:.3f}).")
from toolkit.view import prefer_prefilter

routes = {pct: "exact scan of the live rows" if prefer_prefilter(int(N * (1 - pct / 100)), N) else "ANN with over-fetch"
          for pct in (10, 50, 90)}
print(f"Before a merge, the router chose per share deleted (annoy slab of {N} rows): {routes}; after the merge "
      f"every query goes to a smaller ANN over live rows only, which is why p50 can rise after a merge "
      f"when the pre-merge plan was an exact scan of few live rows.")
half = recall[(recall.deleted_pct == 50)]
reclaimed = 1 - half[half.phase == "after_merge"].folder_bytes.to_numpy() / half[half.phase == "before_merge"].folder_bytes.to_numpy()
print(f"Space: deleting only appends to the log (the folder grew by "
      f"{int((half[half.phase == 'before_merge'].folder_bytes - half[half.phase == 'before_merge'].folder_bytes_loaded).mean())} bytes "
      f"for 50%), and the merge gave back {100 * reclaimed.min():.1f}-{100 * reclaimed.max():.1f}% of the folder.")
flat = billing[billing.request == "delete_all"].iloc[0]
per_id = billing[billing.request == "delete 1000 ids"].iloc[0]
print(f"Billing: deleting 1000 ids cost {per_id.write_units} WU ({per_id.bytes_removed} bytes removed), "
      f"delete_all removed {flat.records_removed} records for {flat.write_units} WU, and 1000 unknown ids still cost "
      f"{billing[billing.request == 'delete 1000 unknown ids'].write_units.iloc[0]} WU.")
med = lag.groupby("consistency").lsn_visible_s.median()
print(f"Visibility: a delete was visible {1e3 * med['strong']:.2f} ms after the call started in strong mode "
      f"and {1e3 * med['eventual']:.1f} ms in eventual mode (apply_delay {1e3 * APPLY_DELAY:.0f} ms).")
fastest = throughput.iloc[1:].sort_values("records_per_s").iloc[-1]
print(f"Throughput on {THROUGHPUT_N:,} records: the fastest delete path here was '{fastest.method}' "
      f"at {fastest.records_per_s:,.0f} records/s.")
"""),
]
