"""Delete experiments (issue #16): what deletes do to an index, measured, as data.

Shared by ``benchmarks/bench_deletes.py`` (full scale) and notebook 08 (small scale). Each
function builds its own client, measures, and returns a DataFrame; nothing prints.

* ``recall_under_deletes``: query p50 and recall@k of one engine with a share of the records
  deleted, before the merge that drops them (the ANN structure still holds the dead points;
  the live mask hides them) and after ``compact()``; with folder bytes when persistent.
* ``delete_throughput``: records deleted per second by filter, by ``where_document`` and by
  list-then-delete in batches of 1000 ids, on one namespace of ``n`` records.
* ``billing_vs_work``: write units billed per delete request against the records and bytes
  it really removed.
* ``visibility_lag``: seconds from a delete's acknowledgement until reads reflect its LSN
  and the record is gone, in strong and eventual mode.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

import toolkit

from .metrics import recall_at_k

BUCKETS = 100  # record i has metadata bucket = i % 100, so "bucket < p" selects p% of the records


def make_data(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Return ``n`` clustered float32 vectors (Gaussian blobs), so that ANN recall is not trivial."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(max(1, n // 500), dim)).astype(np.float32)
    return (centers[rng.integers(0, len(centers), n)] + 0.35 * rng.normal(size=(n, dim))).astype(np.float32)


def _records(data: np.ndarray, start: int, stop: int) -> list[dict[str, Any]]:
    return [{"id": f"r{i:07d}", "values": data[i],
             "metadata": {"bucket": i % BUCKETS, "document": f"record {i} {'draft' if i % 10 == 0 else 'final'}"}}
            for i in range(start, stop)]


def load(index: toolkit.Index, data: np.ndarray, namespace: str | None = None) -> float:
    """Upsert ``data`` in requests of 1000 records; return the seconds it took."""
    started = time.perf_counter()
    for start in range(0, len(data), 1000):
        index.upsert(_records(data, start, min(len(data), start + 1000)), namespace=namespace, show_progress=False)
    return time.perf_counter() - started


def folder_bytes(path: Path | None) -> int | None:
    return None if path is None else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _measure(index: toolkit.Index, data: np.ndarray, live: np.ndarray, queries: np.ndarray, k: int
             ) -> tuple[float, float]:
    """Return (p50 ms, mean recall@k) of one query per row of ``queries`` against the live rows."""
    alive = np.flatnonzero(live)
    points, queries64 = data[alive].astype(np.float64), queries.astype(np.float64)
    d2 = (queries64 ** 2).sum(1)[:, None] - 2 * queries64 @ points.T + (points ** 2).sum(1)[None, :]
    kk = min(k, alive.size)
    truth = np.sort(np.partition(d2, kk - 1, axis=1)[:, :kk], axis=1) if kk else np.full((len(queries), 0), np.inf)
    latencies, found = [], []
    for q in queries:
        started = time.perf_counter()
        matches = index.query(vector=q, top_k=k).matches
        latencies.append(time.perf_counter() - started)
        rows = np.array([int(m.id[1:]) for m in matches], dtype=np.int64)
        dist = ((data[rows].astype(np.float64) - q) ** 2).sum(1) if rows.size else np.empty(0)
        found.append(np.where(live[rows], dist, np.inf) if rows.size else dist)
    return 1e3 * float(np.median(latencies)), float(recall_at_k(truth, found, k).mean())


def _build(engine: str, data: np.ndarray, path: Path | None) -> tuple[toolkit.Client, toolkit.Index, float]:
    """Create an index of ``data`` in one slab built by ``engine``; return client, index and build seconds."""
    client = toolkit.Client(path=None if path is None else str(path))
    client.create_index(name="deletes", dimension=data.shape[1], metric="euclidean",
                        engine={"tiers": [{"builder": engine}], "memtable_max_records": len(data) + 1,
                                "background_merges": False})
    index = client.Index("deletes")
    load(index, data)
    started = time.perf_counter()
    index.compact(show_progress=False)  # one slab, built by the engine
    return client, index, time.perf_counter() - started


def recall_under_deletes(engine: str, n: int, dim: int, fractions: Sequence[float] = (0.0, 0.1, 0.5, 0.9),
                         n_queries: int = 100, k: int = 10, folder: Path | None = None, seed: int = 0
                         ) -> pd.DataFrame:
    """Measure one engine with each share of records deleted, before and after the merge that drops them.

    With a ``folder`` the engine builds its slab once: each share starts from a copy of that
    persistent folder (reopened, so the engine loads its saved files), which keeps the full
    run at 100k vectors × six engines affordable. Without one, each share builds in memory.
    """
    points = make_data(n + n_queries, dim, seed)  # queries come from the same clusters as the data
    data, queries = points[:n], points[n:]
    base = None if folder is None else Path(folder) / f"{engine}-base"
    build_s = 0.0
    if base is not None:
        client, _, build_s = _build(engine, data, base)
        client.close()
    rows = []
    for fraction in fractions:
        path = None if folder is None else Path(folder) / f"{engine}-{int(100 * fraction)}"
        if base is not None and path is not None:
            shutil.copytree(base, path)
            client = toolkit.Client(path=str(path))
            index = client.Index("deletes")
        else:
            client, index, build_s = _build(engine, data, path)
        try:
            loaded_bytes = folder_bytes(path)
            cut = int(round(100 * fraction))
            started = time.perf_counter()
            deleted = index.delete_records(filter={"bucket": {"$lt": cut}}).deleted if cut else 0
            delete_s = time.perf_counter() - started
            live = (np.arange(n) % BUCKETS) >= cut
            for phase in ("before_merge", "after_merge"):
                if phase == "after_merge":
                    started = time.perf_counter()
                    index.compact(show_progress=False)
                    merge_s = time.perf_counter() - started
                slabs = index.describe_slabs()
                p50, recall = _measure(index, data, live, queries, k)
                rows.append({"engine": engine, "deleted_pct": 100 * fraction, "phase": phase, "deleted": deleted,
                             "stored_rows": int(slabs.rows.sum()), "live_rows": int(slabs.live_rows.sum()),
                             "p50_ms": p50, f"recall@{k}": recall, "build_s": build_s, "delete_s": delete_s,
                             "merge_s": merge_s if phase == "after_merge" else 0.0,
                             "folder_bytes_loaded": loaded_bytes, "folder_bytes": folder_bytes(path)})
        finally:
            client.close()
        if path is not None:
            shutil.rmtree(path, ignore_errors=True)  # keep the disk use of a full run to one copy per engine
    if base is not None:
        shutil.rmtree(base, ignore_errors=True)
    return pd.DataFrame(rows)


def delete_throughput(n: int, dim: int = 8, shares: Sequence[float] = (0.01, 0.1, 0.3), seed: int = 0
                      ) -> pd.DataFrame:
    """Time deletes of ``shares`` of ``n`` records by filter, by where_document and by list-then-delete."""
    data = make_data(n, dim, seed)
    client = toolkit.Client()
    client.create_index(name="throughput", dimension=dim, metric="euclidean",
                        engine={"tiers": ["exact"], "background_merges": False})
    index = client.Index("throughput")
    load_s = load(index, data)
    rows = [{"method": "upsert (load)", "records": n, "seconds": load_s}]
    low = 0
    for share in shares:  # disjoint bucket ranges, so every delete removes fresh records
        high = low + max(1, int(round(BUCKETS * share)))
        before = index.describe_index_stats().total_vector_count
        started = time.perf_counter()
        deleted = index.delete(filter={"bucket": {"$gte": low, "$lt": high}})
        seconds = time.perf_counter() - started
        rows.append({"method": f"delete(filter) {share:.0%}", "seconds": seconds, "write_units": deleted.usage.write_units,
                     "records": before - index.describe_index_stats().total_vector_count})
        low = high
    started = time.perf_counter()
    response = index.delete_records(filter={"bucket": {"$gte": low}}, where_document={"$contains": "draft"})
    rows.append({"method": "delete_records(filter ∧ where_document)", "records": response.deleted,
                 "seconds": time.perf_counter() - started, "write_units": response.usage.write_units})
    prefix_ids = [f"r{i:07d}" for i in range(n) if i % BUCKETS >= low and i % 10 == 1][: max(1000, n // 100)]
    started = time.perf_counter()
    units = 0
    for start in range(0, len(prefix_ids), 1000):  # the reference's recommended path: ids in pages of 1000
        units += index.delete(ids=prefix_ids[start : start + 1000]).usage.write_units or 0
    rows.append({"method": "delete(ids) in batches of 1000", "records": len(prefix_ids),
                 "seconds": time.perf_counter() - started, "write_units": units})
    client.close()
    frame = pd.DataFrame(rows)
    frame["records_per_s"] = frame.records / frame.seconds
    return frame


def billing_vs_work(n: int = 10_000, dim: int = 64, seed: int = 0) -> pd.DataFrame:
    """Return, per delete request kind, the write units billed against records and bytes really removed."""
    data = make_data(n, dim, seed)
    client = toolkit.Client()
    client.create_index(name="billing", dimension=dim, metric="euclidean", engine={"background_merges": False})
    index = client.Index("billing")
    load(index, data)
    per_record = index.namespace_bytes() / n
    requests: list[tuple[str, Callable[[], Any]]] = [
        ("delete 1 id", lambda: index.delete(ids=["r0000001"])),
        ("delete 1000 ids", lambda: index.delete(ids=[f"r{i:07d}" for i in range(2, 1002)])),
        ("delete 1000 unknown ids", lambda: index.delete(ids=[f"x{i}" for i in range(1000)])),
        ("delete by filter (10%)", lambda: index.delete(filter={"bucket": {"$gte": 90}})),
        ("delete_records limit=100", lambda: index.delete_records(filter={"bucket": {"$lt": 50}}, limit=100)),
        ("delete_all", lambda: index.delete(delete_all=True)),
    ]
    rows = []
    for name, request in requests:
        before = index.describe_index_stats().total_vector_count
        bytes_before = index.namespace_bytes()
        started = time.perf_counter()
        response = request()
        seconds = time.perf_counter() - started
        removed = before - index.describe_index_stats().total_vector_count
        rows.append({"request": name, "records_removed": removed, "bytes_removed": bytes_before - index.namespace_bytes(),
                     "write_units": response.usage.write_units, "seconds": seconds})
    client.close()
    frame = pd.DataFrame(rows)
    frame["units_per_1k_records"] = 1000 * frame.write_units / frame.records_removed.where(frame.records_removed > 0)
    frame.attrs["bytes_per_record"] = per_record
    return frame


def visibility_lag(consistency: str, apply_delay: float = 0.0, repeats: int = 20, dim: int = 8, seed: int = 0
                   ) -> pd.DataFrame:
    """Return per delete: seconds until reads reflect its LSN and until a query no longer returns the record."""
    data = make_data(repeats + 50, dim, seed)
    with tempfile.TemporaryDirectory() as folder:
        client = toolkit.Client(path=folder, consistency=consistency, apply_delay=apply_delay)
        try:
            client.create_index(name="lag", dimension=dim, metric="euclidean")
            index = client.Index("lag")
            loaded = index.upsert(_records(data, 0, len(data)), show_progress=False).lsn
            assert loaded is not None  # a non-empty upsert always takes an LSN
            index.wait_for_lsn(loaded, timeout=60)
            rows = []
            for i in range(repeats):
                record_id = f"r{i:07d}"
                acked = time.perf_counter()
                lsn = index.delete(ids=[record_id]).lsn
                assert lsn is not None  # the namespace exists, so the delete took an LSN
                ack_s = time.perf_counter() - acked
                lsn_s = gone_s = None
                while gone_s is None and time.perf_counter() - acked < 10 + 10 * apply_delay:
                    result = index.query(vector=data[i], top_k=1)
                    now = time.perf_counter() - acked
                    if lsn_s is None and result.max_indexed_lsn >= lsn:
                        lsn_s = now
                    if result.matches[0].id != record_id:
                        gone_s = now
                rows.append({"consistency": consistency, "apply_delay_s": apply_delay, "lsn": lsn,
                             "ack_s": ack_s, "lsn_visible_s": lsn_s, "record_gone_s": gone_s})
        finally:
            client.close()
    return pd.DataFrame(rows)
