"""Compact per-record layout (#14): no per-id live map; counts, bytes and lookups stay exact.

A namespace keeps no id → bytes dict: an id's live version is found by binary search in each
slab's sorted ids (saved in the slab directory, memory-mapped on reopen) plus the memtable's
row map. These tests drive random overwrites, deletes, flushes and merges and compare the
live count, the billed bytes and ``replaced`` with a dict model, in memory and on disk.
"""

from __future__ import annotations

import numpy as np
import pytest

import toolkit

ENGINE = {"memtable_max_records": 7, "merge_fanout": 3}


def _sizes_by_scan(ns) -> dict[str, int]:
    """Return id → billed bytes of every live row, read from the segments' masks (the truth)."""
    out: dict[str, int] = {}
    segments = [(s.rows, s.alive) for s in ns.slabs] + list(ns.memtable.chunks())
    for rows, alive in segments:
        for row in np.flatnonzero(alive).tolist():
            assert rows.ids[row] not in out, f"{rows.ids[row]} is live twice"
            out[rows.ids[row]] = int(rows.sizes[row])
    return out


def _check(ns, model: set[str]) -> None:
    scanned = _sizes_by_scan(ns)
    assert set(scanned) == model
    assert ns.live_count() == len(model)
    assert ns.total_bytes == sum(scanned.values())
    probe = sorted(model)[:5] + ["missing-id"] + sorted(model)[:2]
    assert ns.replaced(probe) == (len(set(probe) & model), sum(scanned[i] for i in set(probe) & model))


@pytest.mark.parametrize("persistent", [False, True])
def test_live_counts_and_bytes_match_a_model(tmp_path, persistent):
    path = str(tmp_path / "db") if persistent else None
    client = toolkit.Client(path=path)
    client.create_index("m", dimension=4, engine=ENGINE)
    ix = client.Index("m")
    rng = np.random.default_rng(5)
    model: set[str] = set()
    for step in range(60):
        action = rng.integers(0, 10)
        if action < 6:
            ids = [f"id-{k}" for k in rng.integers(0, 40, size=int(rng.integers(1, 6)))]
            ix.upsert([{"id": i, "values": rng.normal(size=4).tolist(),
                        "metadata": {"pad": "x" * int(rng.integers(0, 30))}} for i in ids])
            model |= set(ids)
        elif action < 9:
            ids = [f"id-{k}" for k in rng.integers(0, 45, size=int(rng.integers(1, 4)))]
            ix.delete(ids=ids)
            model -= set(ids)
        else:
            ix.compact()
        ns = ix._namespaces.get("__default__")
        if ns is None:  # nothing written yet
            assert not model
            continue
        _check(ns, model)
    stats_before = ix.describe_index_stats().total_vector_count
    assert stats_before == len(model)
    if persistent:
        client.close()
        client = toolkit.Client(path=path)
        ix = client.Index("m")
        ns = ix._namespaces["__default__"]
        _check(ns, model)
        doomed = sorted(model)[:3]
        ix.delete(ids=doomed)  # found through the mapped sorted ids
        _check(ns, model - set(doomed))
    client.close()


def test_slab_sorted_ids_round_trip_and_are_mapped(tmp_path):
    db = tmp_path / "db"
    client = toolkit.Client(path=str(db))
    client.create_index("m", dimension=16)
    ix = client.Index("m")
    ids = [f"record-{(i * 7919) % 5000:05d}-{'z' * (i % 5)}" for i in range(5000)]  # unsorted, ragged widths
    for start in range(0, len(ids), 1000):  # sorted keys: 5000 × 21 bytes, above the mapping threshold
        ix.upsert([{"id": i, "values": [float(k % 3) + 1.0] * 16} for k, i in enumerate(ids[start:start + 1000])])
    ix.flush()
    client.close()
    client = toolkit.Client(path=str(db), read_only=True)
    slab = client.Index("m")._namespaces["__default__"].slabs[0]
    keys, order = slab.rows._lookup["keys"], slab.rows._lookup["order"]
    assert isinstance(keys, np.memmap), "the sorted ids were not mapped from the slab directory"
    assert keys.tolist() == sorted(i.encode() for i in ids)
    assert [slab.rows.ids[r] for r in order[:50].tolist()] == sorted(ids)[:50]
    assert slab.rows.locate([ids[17], "absent"]).tolist() == [ids.index(ids[17])]
    client.close()
