"""Memory-mapped slabs (#14): reopening maps slab files, answers the same, and damage is caught where designed.

Design under test (toolkit/storage/slabfile.py): opening checks SLAB.json's CRC, every file's
size and header, and the CRC of files up to TOOLKIT_VERIFY_AT_OPEN_BYTES; larger files are
mapped and their CRC is checked by ``toolkit.storage.verify`` / ``python -m toolkit verify``.
"""

from __future__ import annotations

import numpy as np
import pytest
from storage_helpers import flip_byte, namespace_dir, records, state

import toolkit
import toolkit.storage
from toolkit.cli import main as cli_main
from toolkit.metadata_json import JsonMetadata, concat_metadata
from toolkit.storage import verify

DIM = 64  # 300 rows × 64 × 4 bytes = 76,800 bytes: above the mapping threshold


def _build(db, metric="cosine"):
    client = toolkit.Client(path=str(db))
    client.create_index("i", dimension=DIM, metric=metric)
    ix = client.Index("i")
    ix.upsert(records("a", 300, dimension=DIM))
    ix.upsert([{"id": "plain", "values": [0.5] * DIM}])  # a record without metadata
    ix.flush()
    query = np.random.default_rng(3).normal(size=DIM).astype(np.float32)
    answers = ix.query(vector=query, top_k=10, include_metadata=True, include_values=True)
    filtered = ix.query(vector=query, top_k=5, filter={"even": True, "tags": {"$in": ["t1"]}}).ids()
    expected = state(ix)
    client.close()
    return query, answers, filtered, expected


def _slab(db):
    return next((namespace_dir(db, "i", "__default__") / "slabs").iterdir())


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dotproduct"])
def test_mapped_reopen_answers_exactly_as_before(tmp_path, metric):
    db = tmp_path / "db"
    query, answers, filtered, expected = _build(db, metric)
    for read_only in (False, True):
        client = toolkit.Client(path=str(db), read_only=read_only)
        ix = client.Index("i")
        slab = ix._namespaces["__default__"].slabs[0]
        assert isinstance(slab.rows.dense, np.memmap), "the slab's vectors are not memory-mapped"
        assert isinstance(slab.rows.metadata, JsonMetadata)
        again = ix.query(vector=query, top_k=10, include_metadata=True, include_values=True)
        assert again.ids() == answers.ids()
        assert [m.score for m in again.matches] == [m.score for m in answers.matches]
        assert [m.metadata for m in again.matches] == [m.metadata for m in answers.matches]
        assert ix.query(vector=query, top_k=5, filter={"even": True, "tags": {"$in": ["t1"]}}).ids() == filtered
        assert state(ix) == expected
        client.close()


def test_writes_after_a_mapped_reopen_merge_and_persist(tmp_path):
    db = tmp_path / "db"
    _, _, _, expected = _build(db)
    client = toolkit.Client(path=str(db))
    ix = client.Index("i")
    ix.update(id="a-1", set_metadata={"even": "changed"})  # reads the mapped JSON metadata
    ix.delete(ids=["a-2", "plain"])
    ix.upsert(records("b", 20, dimension=DIM, seed=4))
    ix.flush()
    ix.compact()  # a merge of a mapped slab (JSON metadata) with a new one (dict metadata)
    expected = state(ix)
    assert expected["__default__"]["a-1"][2]["even"] == "changed"
    assert "plain" not in expected["__default__"] and "b-3" in expected["__default__"]
    client.close()
    client = toolkit.Client(path=str(db))
    assert state(client.Index("i")) == expected
    client.close()
    assert verify(db).ok


def test_small_files_are_checked_at_open_large_ones_by_verify(tmp_path, monkeypatch):
    db = tmp_path / "db"
    _, _, _, expected = _build(db)
    victim = _slab(db) / "arrays" / "dense.npy"
    flip_byte(victim, -7)
    with pytest.raises(toolkit.DataLossError, match="dense.npy"):  # 76,800 bytes ≤ 4 MiB: CRC-checked at open
        toolkit.Client(path=str(db))
    monkeypatch.setenv("TOOLKIT_VERIFY_AT_OPEN_BYTES", "1024")  # now dense.npy is only size/header-checked
    client = toolkit.Client(path=str(db), read_only=True)  # opens: by design the damage is not read yet
    client.close()
    report = verify(db)
    assert not report.ok and any(str(victim) in d for d in report.damaged)
    with pytest.raises(toolkit.DataLossError, match="dense.npy"):
        report.raise_if_damaged()
    assert cli_main(["verify", str(db)]) == 1
    flip_byte(victim, -7)  # undo
    assert verify(db).ok and cli_main(["verify", str(db)]) == 0
    assert toolkit.storage.verify(db).ok  # still the function once the command's module is imported


@pytest.mark.parametrize("victim", ["arrays/dense.npy", "records.arrow"])
def test_a_truncated_large_file_is_caught_at_open(tmp_path, monkeypatch, victim):
    db = tmp_path / "db"
    _build(db)
    monkeypatch.setenv("TOOLKIT_VERIFY_AT_OPEN_BYTES", "0")  # nothing CRC-checked at open: sizes still are
    path = _slab(db) / victim
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(toolkit.DataLossError, match=victim.split("/")[-1]):
        toolkit.Client(path=str(db))


def test_a_damaged_header_of_a_large_file_is_caught_at_open(tmp_path, monkeypatch):
    db = tmp_path / "db"
    _build(db)
    monkeypatch.setenv("TOOLKIT_VERIFY_AT_OPEN_BYTES", "0")
    path = _slab(db) / "arrays" / "dense.npy"
    flip_byte(path, 2)  # inside the .npy magic
    with pytest.raises(toolkit.DataLossError, match="dense.npy"):
        toolkit.Client(path=str(db))


def test_json_metadata_behaves_like_the_object_array():
    values = [{"a": 1, "b": [1, 2]}, None, {"c": "x"}, {}, {"d": 1.5}]
    objects = np.empty(len(values), dtype=object)
    objects[:] = values
    lazy = JsonMetadata.from_objects(objects)
    assert len(lazy) == 5 and lazy.tolist() == values
    assert [lazy[i] for i in range(5)] == values and lazy[np.int64(2)] == {"c": "x"}
    assert lazy[np.array([4, 0, 1])].tolist() == [values[4], values[0], None]
    assert lazy[np.array([True, False, True, False, False])].tolist() == [values[0], values[2]]
    assert lazy[1:3].tolist() == values[1:3]
    mixed = concat_metadata([lazy, objects[:2]])
    assert isinstance(mixed, JsonMetadata) and mixed.tolist() == values + values[:2]
    plain = concat_metadata([objects, objects])
    assert isinstance(plain, np.ndarray) and plain.tolist() == values + values
