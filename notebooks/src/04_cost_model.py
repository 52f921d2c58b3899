CELLS = [
("md", """
# 04 · The cost model

**Question:** what does each operation cost in read units (RU) and write units (WU), how does
the bill grow with request size and namespace size — and how closely does the billed cost track
the work the database really does?

The toolkit meters every request twice: the *billed* units from the reference service's
formulas (`toolkit.cost`) and the *true work* (distance computations, bytes scanned, seconds).
"""),
("code", """
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import toolkit
from toolkit import cost

%matplotlib inline

rng = np.random.default_rng(4)
DIM = 32


def make_records(n, prefix="r", start=0):
    values = rng.normal(size=(n, DIM)).astype(np.float32)
    return [{"id": f"{prefix}{start + i:06d}", "values": values[i], "metadata": {"group": int(i % 7)}}
            for i in range(n)]


client = toolkit.Client()
client.create_index(name="costs", dimension=DIM, metric="cosine")
index = client.Index("costs")
"""),
("md", """
## Write units by operation

One request of each kind. The formula: 1 WU per KB (1,000 bytes) of records written, at least
5 per request; an overwrite or update also pays for the record it replaces; a delete pays for
the records it removes. A record's size is `id + 4 × dimension + 9 × sparse non-zeros + metadata`.
"""),
("code", """
writes = []


def log_write(label, records_in_request, response):
    writes.append({"operation": label, "records": records_in_request, "write_units": response.usage.write_units,
                   "lsn": response.lsn})


for n in (1, 10, 100, 1000):
    log_write(f"upsert {n} new", n, index.upsert(vectors=make_records(n, prefix=f"n{n}-"), namespace="writes"))
log_write("upsert 100 overwrites", 100, index.upsert(vectors=make_records(100, prefix="n1000-"), namespace="writes"))
log_write("update metadata of 1", 1, index.update(id="n1000-000000", set_metadata={"group": 99}, namespace="writes"))
log_write("update by filter", None, index.update(filter={"group": 3}, set_metadata={"flag": True}, namespace="writes"))
log_write("delete 1 by id", 1, index.delete(ids=["n10-000000"], namespace="writes"))
log_write("delete 100 by id", 100, index.delete(ids=[f"n1000-{i:06d}" for i in range(100, 200)], namespace="writes"))
log_write("delete_all", None, index.delete(delete_all=True, namespace="writes"))
one = make_records(1)[0]
record_size = cost.record_bytes(len(one["id"]), DIM, 0, len('{"group":0}'))
print(f"one record here is about {record_size} bytes, so 1 WU buys about {1000 // record_size} records")
write_table = pd.DataFrame(writes)
write_table
"""),
("md", """
## Read units of fetch and list

A fetch costs 1 RU per 10 records found (at least 1); one `list` page costs 1 RU.
"""),
("code", """
index.upsert(vectors=make_records(500, prefix="f"), namespace="reads", batch_size=500, show_progress=False)
reads = []
for n in (1, 10, 11, 50, 100):
    resp = index.fetch(ids=[f"f{i:06d}" for i in range(n)], namespace="reads")
    reads.append({"operation": f"fetch {n}", "found": len(resp.vectors), "read_units": resp.usage.read_units})
resp = index.fetch(ids=[f"missing-{i}" for i in range(20)], namespace="reads")
reads.append({"operation": "fetch 20 unknown ids", "found": 0, "read_units": resp.usage.read_units})
page = index.list_paginated(namespace="reads", limit=100)
reads.append({"operation": "list one page", "found": len(page.vectors), "read_units": page.usage.read_units})
read_table = pd.DataFrame(reads)
read_table
"""),
("md", """
## Query read units by namespace size: billed vs true work

A query costs `max(0.25, namespace size in GB)` RU, so every namespace under 0.25 GB pays the same
floor. Here: five namespaces of growing size, 30 queries each, with the exact engine.
"""),
("code", """
SIZES = [250, 500, 1_000, 2_000, 4_000]
for n in SIZES:
    index.upsert(vectors=make_records(n, prefix="q"), namespace=f"size-{n}", batch_size=1000, show_progress=False)
query_vectors = rng.normal(size=(30, DIM)).astype(np.float32)
for n in SIZES:
    for q in query_vectors:
        index.query(vector=q, top_k=10, namespace=f"size-{n}")
ledger = index.usage(raw=True)
per_query = (ledger[ledger.operation == "query"].groupby("namespace")
             .agg(queries=("operation", "size"), read_units=("read_units", "mean"),
                  reported=("read_units_reported", "mean"), distances=("distance_computations", "mean"),
                  bytes_scanned=("bytes_scanned", "mean"), ms=("seconds", lambda s: 1e3 * s.median())))
per_query["records"] = [int(name.split("-")[1]) for name in per_query.index]
per_query["namespace_bytes"] = [index.namespace_bytes(name) for name in per_query.index]
per_query = per_query.sort_values("records")
per_query
"""),
("code", """
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
ax = axes[0]
ax.plot(per_query.records, per_query.distances, "o-", label="distance computations / query (true work)")
ax.set(xlabel="records in namespace", ylabel="distance computations / query", title="measured per query: true work vs bill")
ax2 = ax.twinx()
ax2.plot(per_query.records, per_query.read_units, "s--", color="C1", label="billed RU / query")
ax2.set(ylabel="read units / query", ylim=(0, 0.5))
ax.legend(loc="upper left")
ax2.legend(loc="lower right")
ax.grid(alpha=0.3)

sizes = np.logspace(4, 11, 200)  # 10 KB .. 100 GB of namespace
axes[1].plot(sizes / 1e9, [cost.query_read_units(b) for b in sizes], label="formula: max(0.25, GB)")
axes[1].scatter(per_query.namespace_bytes / 1e9, per_query.read_units, color="C1", zorder=3, label="measured")
axes[1].axvline(0.25, color="grey", ls=":", lw=0.8)
axes[1].set(xscale="log", yscale="log", xlabel="namespace size (GB, log)", ylabel="RU per query (log)",
            title="the query bill by namespace size")
axes[1].legend()
axes[1].grid(alpha=0.3)
plt.tight_layout()
plt.show()
"""),
("md", """
## The whole bill

`index.usage()` sums everything by operation and namespace.
"""),
("code", """
summary = index.usage()
summary
"""),
("md", "## What the numbers show"),
("code", """
w = write_table.set_index("operation")
print(f"Upserts: 1 new record cost {w.loc['upsert 1 new', 'write_units']} WU (the per-request floor is {cost.MIN_WRITE_UNITS}), 10 cost "
      f"{w.loc['upsert 10 new', 'write_units']}, 100 cost {w.loc['upsert 100 new', 'write_units']}, 1000 cost "
      f"{w.loc['upsert 1000 new', 'write_units']} — "
      f"{w.loc['upsert 1 new', 'write_units'] / w.loc['upsert 1000 new', 'write_units'] * 1000:.0f}x more per record "
      f"for a single-record request than in a batch of 1000.")
over, new = w.loc["upsert 100 overwrites", "write_units"], w.loc["upsert 100 new", "write_units"]
print(f"Overwriting 100 existing records cost {over} WU vs {new} for 100 new ones ({over / new:.1f}x: "
      f"{'the replaced versions are billed too' if over > new else 'no surcharge for replacing'}).")
print(f"Deleting 1 record cost {w.loc['delete 1 by id', 'write_units']} WU, 100 records "
      f"{w.loc['delete 100 by id', 'write_units']} WU, emptying the namespace {w.loc['delete_all', 'write_units']} WU.")
r = read_table.set_index("operation")
print(f"Fetch: {r.loc['fetch 1', 'read_units']} RU for 1 record, {r.loc['fetch 10', 'read_units']} for 10, "
      f"{r.loc['fetch 11', 'read_units']} for 11, {r.loc['fetch 100', 'read_units']} for 100; "
      f"a fetch finding nothing still cost {r.loc['fetch 20 unknown ids', 'read_units']}.")
small, large = per_query.iloc[0], per_query.iloc[-1]
print(f"Queries: from {int(small.records)} to {int(large.records)} records the true work per query grew "
      f"{large.distances / small.distances:.1f}x (latency {large.ms / small.ms:.1f}x) while the billed RU went "
      f"from {small.read_units:g} to {large.read_units:g} ({large.read_units / small.read_units:.1f}x).")
floor_bytes = cost.MIN_QUERY_READ_UNITS * cost.GB
print(f"The largest namespace holds {large.namespace_bytes / 1e6:.2f} MB, {floor_bytes / large.namespace_bytes:,.0f}x "
      f"below the {floor_bytes / 1e9:g} GB at which the query bill starts to grow; under it every query pays "
      f"the same floor whatever the work.")
print(f"Reported (rounded-up) RU per query: {sorted(set(per_query.reported))} — responses round each request up, "
      f"the ledger keeps the exact fraction.")
"""),
]
