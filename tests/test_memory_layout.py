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
    keys, order = slab.rows.id_lookup()
    assert isinstance(keys, np.memmap), "the sorted ids were not mapped from the slab directory"
    assert slab.rows.ids._rank is not None, "the row ranks were not read from the slab directory"
    assert slab.rows.ids.rank.tolist() == np.argsort(order).tolist()
    assert keys.tolist() == sorted(i.encode() for i in ids)
    assert [slab.rows.ids[r] for r in order[:50].tolist()] == sorted(ids)[:50]
    assert slab.rows.locate([ids[17], "absent"]).tolist() == [ids.index(ids[17])]
    client.close()


# -- the compact row layout: ids as IdColumn, absent metadata, shared empty sparse offsets ------------

from toolkit.errors import InvalidArgumentError  # noqa: E402
from toolkit.ids import IdColumn  # noqa: E402
from toolkit.metadata_json import AbsentMetadata, JsonMetadata  # noqa: E402
from toolkit.sparse import SparseRows  # noqa: E402

# Every ASCII character but NUL may appear in an id, and ids may be 1-512 characters long.
_ALPHABET = [chr(c) for c in range(1, 128)]


def _random_ids(rng: np.random.Generator, n: int, max_len: int = 40) -> list[str]:
    out = set()
    while len(out) < n:
        length = int(rng.integers(1, max_len + 1))
        out.add("".join(rng.choice(_ALPHABET, size=length).tolist()))
    return list(out)


def test_id_column_matches_a_list_of_str_model():
    rng = np.random.default_rng(3)
    ids = _random_ids(rng, 300) + ["x" * 512, "\x01", "\x7f" * 3, " leading space", "trailing space "]
    rng.shuffle(ids)
    column = IdColumn.from_strings(ids)
    assert len(column) == column.size == len(ids)
    assert column.tolist() == ids and list(column) == ids
    assert [column[i] for i in range(len(ids))] == ids and column[-1] == ids[-1]
    assert column.keys.tolist() == sorted(i.encode() for i in ids)
    assert column[np.array([4, 2, 2])].tolist() == [ids[4], ids[2], ids[2]]
    mask = rng.random(len(ids)) < 0.3
    assert column[mask].tolist() == [i for i, m in zip(ids, mask) if m]
    assert column[5:9].tolist() == ids[5:9]
    assert column.strings(np.array([7, 0])) == [ids[7], ids[0]]
    for i in rng.integers(0, len(ids), 20).tolist():
        assert column.locate([ids[i]]).tolist() == [i]
    assert column.locate(["absent", ids[3] + "\x01"]).size == 0
    picked = rng.permutation(len(ids))[:100]
    taken = column.take(picked)
    assert taken.tolist() == [ids[i] for i in picked.tolist()]
    assert taken.keys.tolist() == sorted(ids[i].encode() for i in picked.tolist())
    parts = [IdColumn.from_strings(ids[:10]), IdColumn.empty(), taken, IdColumn.from_strings(["z" * 70])]
    joined = IdColumn.concat(parts)
    assert joined.tolist() == ids[:10] + [ids[i] for i in picked.tolist()] + ["z" * 70]
    assert joined.locate(["z" * 70]).tolist() == [len(joined) - 1]
    assert column.arrow().to_pylist() == ids
    assert IdColumn.empty().tolist() == [] and IdColumn.empty().arrow().to_pylist() == []


def test_id_column_keeps_every_version_of_a_repeated_id():
    column = IdColumn.from_strings(["b", "a", "b", "c", "b"])
    assert sorted(column.locate(["b"]).tolist()) == [0, 2, 4]
    assert column.take(np.array([4, 1])).tolist() == ["b", "a"]


def test_absent_metadata_behaves_like_an_array_of_none():
    absent = AbsentMetadata(5)
    assert len(absent) == 5 and absent[0] is None and absent[-5] is None and absent.tolist() == [None] * 5
    assert len(absent[np.array([0, 4, 4])]) == 3 and len(absent[np.array([True, False, True, False, False])]) == 2
    assert len(absent[1:4]) == 3
    with pytest.raises(IndexError):
        absent[5]
    with pytest.raises(IndexError):
        absent[np.array([7])]


def test_empty_sparse_rows_share_one_offset():
    empty = SparseRows.empty(1000)
    assert len(empty) == 1000 and empty.indptr.strides == (0,) and not empty.indptr.flags.writeable
    assert len(empty.take(np.arange(0, 1000, 3))) == 334 and empty.take(np.arange(5)).indptr.strides == (0,)
    joined = SparseRows.concat([empty, SparseRows.empty(5)])
    assert len(joined) == 1005 and joined.indptr.strides == (0,)
    with pytest.raises(IndexError):
        empty.take(np.array([1000]))


def _layout(ns) -> list[tuple]:
    blocks = [s.rows for s in ns.slabs] + [rows for rows, _ in ns.memtable.chunks()]
    return [(type(r.ids).__name__, type(r.metadata).__name__, r.sparse.indptr.strides, type(r.lsns).__name__,
             r.sizes.dtype.name) for r in blocks]


def test_dense_records_without_metadata_hold_no_per_row_strings_pointers_or_offsets():
    client = toolkit.Client()
    client.create_index("m", dimension=4, engine=ENGINE)
    ix = client.Index("m")
    ix.upsert([{"id": f"r{i}", "values": [1.0, 2.0, 3.0, float(i)]} for i in range(30)])
    ix.wait_for_merges()
    ns = ix._namespaces["__default__"]
    layout = _layout(ns)
    assert layout and all(entry == ("IdColumn", "AbsentMetadata", (0,), "LsnRuns", "int32") for entry in layout)
    ix.upsert([{"id": "r0", "values": [1.0] * 4, "metadata": {"k": "v"}}])  # one record with metadata
    ix.flush()
    assert ix.fetch(ids=["r0"]).vectors["r0"].metadata == {"k": "v"}
    assert ix.fetch(ids=["r1"]).vectors["r1"].metadata is None
    client.close()


@pytest.mark.parametrize("persistent", [False, True])
def test_ids_round_trip_through_every_read_and_reopen(tmp_path, persistent):
    """Ragged ids of every ASCII character but NUL, with and without metadata, survive upsert,
    flushes and merges, fetch, list (prefixes, pages), query, delete and reopen, against a model."""
    path = str(tmp_path / "db") if persistent else None
    rng = np.random.default_rng(11)
    ids = _random_ids(rng, 160) + ["p" + "y" * 511, "pa", "pab", "pa\x7f", "pb"]
    vectors = {i: rng.normal(size=4).tolist() for i in ids}
    metadata = {i: ({"n": k} if k % 3 == 0 else None) for k, i in enumerate(ids)}
    client = toolkit.Client(path=path)
    client.create_index("m", dimension=4, metric="euclidean", engine=ENGINE)
    ix = client.Index("m")
    for start in range(0, len(ids), 11):
        ix.upsert([{"id": i, "values": vectors[i], **({"metadata": metadata[i]} if metadata[i] else {})}
                   for i in ids[start:start + 11]])
    doomed = ids[::7]
    ix.delete(ids=doomed)
    model = {i for i in ids if i not in set(doomed)}
    ix.wait_for_merges()

    def check(ix) -> None:
        assert [i for page in ix.list() for i in page] == sorted(model, key=str.encode)
        pages, token = [], None
        while True:  # pages of 7 under a prefix
            page = ix.list_paginated(prefix="p", limit=7, pagination_token=token)
            pages.extend(v.id for v in page.vectors)
            if page.pagination is None:
                break
            token = page.pagination.next
        assert pages == sorted((i for i in model if i.startswith("p")), key=str.encode)
        assert ix.list_paginated(prefix="\u00e9").vectors == []
        wanted = sorted(model)[:20] + ["absent"] + doomed[:3]
        got = ix.fetch(ids=wanted).vectors
        assert set(got) == set(wanted) & model
        for i, record in got.items():
            assert record.id == i and np.allclose(record.values, vectors[i], atol=1e-6)
            assert record.metadata == metadata[i]
        for i in sorted(model)[:15]:  # each record is its own nearest neighbour (euclidean distance 0)
            best = ix.query(vector=vectors[i], top_k=1).matches[0]
            assert best.id == i and best.score == pytest.approx(0.0, abs=1e-5)
        batch = ix.query_batch(vectors=[vectors[i] for i in sorted(model)[:5]], top_k=1)
        assert [r.ids()[0] for r in batch] == sorted(model)[:5]
        assert ix.describe_index_stats().total_vector_count == len(model)

    check(ix)
    if persistent:
        client.close()
        client = toolkit.Client(path=path)
        ix = client.Index("m")
        check(ix)
        gone = sorted(model)[:4]
        ix.delete(ids=gone)  # found through the mapped sorted ids
        model -= set(gone)
        check(ix)
        client.close()
        client = toolkit.Client(path=path, read_only=True)
        check(client.Index("m"))
    client.close()


def test_filtered_fetch_pages_are_bytewise_and_skip_dead_rows():
    client = toolkit.Client()
    client.create_index("m", dimension=2, engine=ENGINE)
    ix = client.Index("m")
    ids = [f"k{n:03d}" for n in range(60)]
    ix.upsert([{"id": i, "values": [1.0, float(n)], "metadata": {"even": n % 2 == 0}} for n, i in enumerate(ids)])
    ix.delete(ids=ids[:20:2])  # dead rows inside the first window of every slab
    ix.upsert([{"id": "k004", "values": [1.0, 4.0], "metadata": {"even": True}}])  # back, newer version
    want = sorted(["k004"] + [i for n, i in enumerate(ids) if n % 2 == 0 and n >= 20])
    got, token = [], None
    while True:
        page = ix.fetch_by_metadata(filter={"even": True}, limit=4, pagination_token=token)
        got.extend(sorted(page.vectors))
        if page.pagination is None:
            break
        token = page.pagination.next
    assert got == want
    client.close()


@pytest.mark.parametrize("bad", ["caf\u00e9", "nul\x00inside", ""])
def test_ids_must_be_ascii_without_nul(bad):
    client = toolkit.Client()
    client.create_index("m", dimension=2)
    with pytest.raises(InvalidArgumentError):
        client.Index("m").upsert([{"id": bad, "values": [1.0, 2.0]}])
    client.close()


def test_json_metadata_and_absent_metadata_concatenate(tmp_path):
    """Blocks read from disk (JSON texts) merge with in-memory blocks with and without metadata."""
    db = str(tmp_path / "db")
    client = toolkit.Client(path=db)
    client.create_index("m", dimension=2, engine={"memtable_max_records": 5, "merge_fanout": 2})
    ix = client.Index("m")
    ix.upsert([{"id": f"a{n}", "values": [1.0, float(n)], "metadata": {"n": n}} for n in range(5)])
    client.close()
    client = toolkit.Client(path=db)
    ix = client.Index("m")
    assert isinstance(ix._namespaces["__default__"].slabs[0].rows.metadata, JsonMetadata)
    ix.upsert([{"id": f"b{n}", "values": [1.0, float(n)]} for n in range(5)])  # a block without metadata
    ix.compact()
    ix.wait_for_merges()
    fetched = ix.fetch(ids=["a3", "b3"]).vectors
    assert fetched["a3"].metadata == {"n": 3} and fetched["b3"].metadata is None
    client.close()


def test_lsn_runs_match_a_per_row_array():
    from toolkit.lsn_runs import LsnRuns

    rng = np.random.default_rng(8)
    per_row = np.repeat(rng.integers(1, 50, 30), rng.integers(1, 20, 30)).astype(np.int64)
    runs = LsnRuns.from_array(per_row)
    assert len(runs) == per_row.size and runs.nbytes < per_row.nbytes
    assert np.asarray(runs).tolist() == per_row.tolist() and runs.tolist() == per_row.tolist()
    assert np.asarray(runs, np.int64).dtype == np.int64
    assert [runs[i] for i in range(len(runs))] == per_row.tolist() and runs[-1] == int(per_row[-1])
    rows = rng.permutation(per_row.size)[:40]
    assert runs[rows].tolist() == per_row[rows].tolist()
    mask = rng.random(per_row.size) < 0.5
    assert runs[mask].tolist() == per_row[mask].tolist() and runs[3:17].tolist() == per_row[3:17].tolist()
    assert (runs.min(), runs.max()) == (int(per_row.min()), int(per_row.max()))
    joined = LsnRuns.concat([runs, LsnRuns.constant(4, 99), per_row[:5], LsnRuns.constant(0, 7)])
    assert joined.tolist() == per_row.tolist() + [99] * 4 + per_row[:5].tolist()
    with pytest.raises(IndexError):
        runs[per_row.size]
    with pytest.raises(IndexError):
        runs[np.array([per_row.size])]


def test_slab_lsns_round_trip_through_disk(tmp_path):
    db = str(tmp_path / "db")
    client = toolkit.Client(path=db)
    client.create_index("m", dimension=2, engine={"memtable_max_records": 4, "merge_fanout": 2})
    ix = client.Index("m")
    written = {}
    for n in range(10):
        lsn = ix.upsert([{"id": f"r{n}-{k}", "values": [1.0, float(k)]} for k in range(3)]).lsn
        assert lsn is not None
        written.update({f"r{n}-{k}": lsn for k in range(3)})
    ix.wait_for_merges()

    def slab_lsns(ix) -> dict[str, int]:
        ns = ix._namespaces["__default__"]
        out = {}
        for rows, alive in [(s.rows, s.alive) for s in ns.slabs] + list(ns.memtable.chunks()):
            lsns = np.asarray(rows.lsns)
            for row in np.flatnonzero(alive).tolist():
                out[rows.ids[row]] = int(lsns[row])
        return out

    before = slab_lsns(ix)
    assert {i: before[i] for i in written} == written
    client.close()
    client = toolkit.Client(path=db)
    ix = client.Index("m")
    assert slab_lsns(ix) == before
    ix.compact()  # merges mapped int64 LSNs into runs
    ix.wait_for_merges()
    assert slab_lsns(ix) == before
    described = ix.describe_slabs()
    assert int(described["min_lsn"].min()) == min(before.values())
    client.close()
