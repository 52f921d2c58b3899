CELLS = [
("md", """
# 05 · Freshness and compaction

**Question:** when does a write become visible to reads, and what happens to query latency
while a write-heavy workload fills the memtable, flushes it into slabs and merges slabs — before
and after compaction?

Every accepted write request gets the next *LSN* (log sequence number) of its namespace; every
read reports `max_indexed_lsn`, the highest LSN it reflects. A read with
`max_indexed_lsn >= L` sees every write with LSN ≤ L of that namespace.
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

rng = np.random.default_rng(5)
DIM = 32


def make_records(ids):
    values = rng.normal(size=(len(ids), DIM)).astype(np.float32)
    return [{"id": i, "values": v, "metadata": {"batch": 0}} for i, v in zip(ids, values)]
"""),
("md", """
## LSNs: one clock per namespace

Writes in `a` and `b` count independently. In the default (strong) mode a write is applied
before the call returns, so the next read already reflects it.
"""),
("code", """
client = toolkit.Client()
client.create_index(name="fresh", dimension=DIM, metric="cosine")
index = client.Index("fresh")
events = []
for step, ns in enumerate(["a", "a", "b", "a", "b"]):
    resp = index.upsert(vectors=make_records([f"{ns}-{step}"]), namespace=ns)
    read = index.query(vector=rng.normal(size=DIM), top_k=1, namespace=ns)
    events.append({"namespace": ns, "write_lsn": resp.lsn, "read_max_indexed_lsn": read.max_indexed_lsn,
                   "read_reflects_write": read.max_indexed_lsn >= resp.lsn})
strong = pd.DataFrame(events)
strong
"""),
("md", """
## Eventual consistency and `wait_for_lsn`

In eventual mode (`toolkit.Client(consistency="eventual", apply_delay=...)`) a write is
acknowledged with its LSN at once and applied `apply_delay` seconds later; reads report how far
indexing has got (`max_indexed_lsn`), and `index.wait_for_lsn(lsn, timeout=...)` blocks until a
write is visible. Below: a burst of 20 writes, one every 20 ms, while a reader polls.
"""),
("code", """
APPLY_DELAY = 0.2  # seconds between acknowledging a write and applying it
eclient = toolkit.Client(consistency="eventual", apply_delay=APPLY_DELAY)
eclient.create_index(name="eventual", dimension=DIM, metric="cosine")
eindex = eclient.Index("eventual")
probe = rng.normal(size=DIM).astype(np.float32)

acked, polls, t0 = [], [], time.perf_counter()
for i in range(20):
    resp = eindex.upsert(vectors=[{"id": f"w{i:02d}", "values": probe + 0.01 * i}], namespace="ns")
    acked.append({"t": time.perf_counter() - t0, "lsn": resp.lsn})
    polls.append({"t": time.perf_counter() - t0,
                  "max_indexed_lsn": eindex.query(vector=probe, top_k=1, namespace="ns").max_indexed_lsn})
    time.sleep(0.02)
while polls[-1]["max_indexed_lsn"] < acked[-1]["lsn"] and polls[-1]["t"] < 10 * APPLY_DELAY + 1:
    time.sleep(0.01)
    polls.append({"t": time.perf_counter() - t0,
                  "max_indexed_lsn": eindex.query(vector=probe, top_k=1, namespace="ns").max_indexed_lsn})
acked, polls = pd.DataFrame(acked), pd.DataFrame(polls)
# how long after its ack did each write become visible to a read?
visible_at = [polls.t[polls.max_indexed_lsn >= lsn].min() for lsn in acked.lsn]
lags = np.array(visible_at) - acked.t.to_numpy()

last = eindex.upsert(vectors=[{"id": "last", "values": probe}], namespace="ns")
before_wait = eindex.fetch(ids=["last"], namespace="ns")
started = time.perf_counter()
eindex.wait_for_lsn(last.lsn, namespace="ns", timeout=10 * APPLY_DELAY)
waited = time.perf_counter() - started
after_wait = eindex.fetch(ids=["last"], namespace="ns")
print(f"write LSN {last.lsn}: a fetch right after the ack reflected LSN {before_wait.max_indexed_lsn} "
      f"and found {len(before_wait.vectors)} record(s); wait_for_lsn returned after {waited:.3f} s; "
      f"then the fetch reflected LSN {after_wait.max_indexed_lsn} and found {len(after_wait.vectors)}.")

fig, ax = plt.subplots(figsize=(9, 3.5))
ax.step(acked.t, acked.lsn, where="post", label="last acknowledged LSN (writer)")
ax.step(polls.t, polls.max_indexed_lsn, where="post", label="max_indexed_lsn seen by reads")
ax.set(xlabel="seconds since the first write", ylabel="LSN", title=f"eventual mode, apply_delay={APPLY_DELAY}s")
ax.grid(alpha=0.3)
ax.legend()
plt.show()
"""),
("md", """
## A write-heavy runbook: memtable → flushes → merges

A small memtable (500 records) and a merge fanout of 4 make the storage engine visible at this
scale: every 500 writes flush a slab, and every 4 slabs of one level merge into one of the next
level. With `background_merges` the slab builds and merges run on a worker thread while
queries keep being answered from the memtable and the old slabs. Each of 40 steps inserts 200
new records, overwrites 60 and deletes 20, then times 20 queries.
"""),
("code", """
ENGINE = {"memtable_max_records": 500, "merge_fanout": 4, "background_merges": True, "tiers": [{"builder": "exact"}]}
client.create_index(name="runbook", dimension=DIM, metric="cosine", engine=ENGINE)
book = client.Index("runbook")
queries = rng.normal(size=(20, DIM)).astype(np.float32)
live_ids, next_id, timeline = [], 0, []


def snapshot(step, phase):
    slabs = book.describe_slabs()
    memtable = slabs.attrs["memtables"][0] if slabs.attrs["memtables"] else {"memtable_rows": 0}
    latencies = []
    for q in queries:
        started = time.perf_counter()
        resp = book.query(vector=q, top_k=10)
        latencies.append(time.perf_counter() - started)
    rows, live = int(slabs.rows.sum()) + memtable["memtable_rows"], book.describe_index_stats().total_vector_count
    return {"step": step, "phase": phase, "slabs": len(slabs), "levels": slabs.level.nunique(),
            "memtable_rows": memtable["memtable_rows"], "stored_rows": rows, "live_records": live,
            "dead_share": 1 - live / rows if rows else 0.0, "p50_ms": 1e3 * np.median(latencies),
            "max_indexed_lsn": resp.max_indexed_lsn}


for step in range(40):
    new = [f"r{next_id + i:06d}" for i in range(200)]
    next_id += 200
    book.upsert(vectors=make_records(new), batch_size=100, show_progress=False)
    live_ids.extend(new)
    overwrite = list(rng.choice(live_ids, size=60, replace=False))
    book.upsert(vectors=make_records(overwrite), show_progress=False)
    doomed = set(rng.choice(live_ids, size=20, replace=False).tolist())
    book.delete(ids=sorted(doomed))
    live_ids = [i for i in live_ids if i not in doomed]
    timeline.append(snapshot(step, "writing"))

before = timeline[-1]
started = time.perf_counter()
merges_done = book.wait_for_merges(timeout=60)  # let queued background builds and merges finish
settle_s = time.perf_counter() - started
book.upsert(vectors=make_records([f"tail{i:03d}" for i in range(123)]), show_progress=False)  # a part-full memtable
memtable_before_flush = book.describe_slabs().attrs["memtables"][0]["memtable_rows"]
slabs_before_flush = len(book.describe_slabs())
book.flush()  # on demand: freeze the memtable into a slab now instead of at 500 records
slabs_after_flush = len(book.describe_slabs())
memtable_after_flush = book.describe_slabs().attrs["memtables"][0]["memtable_rows"]
started = time.perf_counter()
book.compact()  # flush the memtable, then merge every slab into one, dropping dead rows
compact_s = time.perf_counter() - started
after = snapshot(40, "compacted")
timeline.append(after)
timeline = pd.DataFrame(timeline)
timeline.tail(6)
"""),
("code", """
fig, axes = plt.subplots(3, 1, figsize=(10, 8), sharex=True)
writing = timeline[timeline.phase == "writing"]
axes[0].plot(writing.step, writing.p50_ms, "o-", ms=3, label="while writing")
axes[0].plot(after["step"], after["p50_ms"], "r*", ms=14, label="after compact()")
axes[0].set(ylabel="median query latency (ms)")
axes[1].step(timeline.step, timeline.slabs, where="mid", label="slabs")
axes[1].plot(timeline.step, timeline.memtable_rows / 100, ":", label="memtable rows / 100")
axes[1].set(ylabel="count")
axes[2].plot(timeline.step, 100 * timeline.dead_share, "s-", ms=3, color="C3")
axes[2].set(ylabel="dead rows stored (%)", xlabel="runbook step (200 inserts, 60 overwrites, 20 deletes each)")
for ax in axes:
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left") if ax.get_legend_handles_labels()[0] else None
fig.suptitle("query latency, slabs and dead rows over a write-heavy runbook")
plt.tight_layout()
plt.show()
"""),
("md", """
Every flush build, merge and compaction is logged by `describe_merges()`:
"""),
("code", """
merge_log = book.describe_merges()
merge_log.groupby("kind").agg(count=("kind", "size"), rows_in=("rows_in", "sum"), dropped_dead=("dropped_dead", "sum"),
                              build_seconds=("build_seconds", "sum"), max_queued_seconds=("queued_seconds", "max"))
"""),
("md", """
After compaction the slab table holds one slab of only live rows:
"""),
("code", """
book.describe_slabs()[["builder", "level", "rows", "live_rows", "min_lsn", "max_lsn", "build_seconds"]]
"""),
("md", "## What the numbers show"),
("code", """
print(f"Strong mode: every one of {len(strong)} reads reflected the write just before it: "
      f"{bool(strong.read_reflects_write.all())}; LSNs per namespace: "
      f"{strong.groupby('namespace').write_lsn.apply(list).to_dict()}.")
print(f"Eventual mode (apply_delay={APPLY_DELAY}s): writes became visible {np.nanmin(lags):.3f}-{np.nanmax(lags):.3f} s "
      f"after their ack (median {np.nanmedian(lags):.3f} s); a read right after an ack reflected LSN "
      f"{before_wait.max_indexed_lsn} < {last.lsn}: {before_wait.max_indexed_lsn < last.lsn}; wait_for_lsn blocked "
      f"{waited:.3f} s, after which the write was visible: {len(after_wait.vectors) == 1}.")
w = timeline[timeline.phase == "writing"]
peak = w.loc[w.slabs.idxmax()]
print(f"While writing, the slab count ranged {w.slabs.min()}-{w.slabs.max()} (merge_fanout {ENGINE['merge_fanout']}), "
      f"dead rows reached {100 * w.dead_share.max():.1f}% of stored rows, and median query latency ranged "
      f"{w.p50_ms.min():.2f}-{w.p50_ms.max():.2f} ms (at the most slabs, step {int(peak.step)}: {peak.p50_ms:.2f} ms).")
print(f"flush() moved the memtable's {memtable_before_flush} rows into slabs ({slabs_before_flush} -> "
      f"{slabs_after_flush} slabs, memtable now {memtable_after_flush} rows).")
print(f"compact() took {compact_s:.3f} s and left {after['slabs']} slab with {100 * after['dead_share']:.1f}% dead rows; "
      f"median latency went from {before['p50_ms']:.2f} ms (last writing step, {before['slabs']} slabs) to "
      f"{after['p50_ms']:.2f} ms ({before['p50_ms'] / after['p50_ms']:.2f}x).")
kinds = merge_log.kind.value_counts().to_dict()
print(f"The runbook triggered {kinds} (describe_merges); merges dropped {int(merge_log.dropped_dead.sum())} dead rows; "
      f"waiting for the background queue took {settle_s:.3f} s (all done: {merges_done}).")
corr = np.corrcoef(w.slabs, w.p50_ms)[0, 1]
print(f"Correlation between slab count and latency while writing: {corr:+.2f}.")
"""),
]
