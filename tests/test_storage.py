"""Persistent clients: reopening restores exactly the acknowledged state; damage is reported, never hidden."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

import toolkit
from toolkit.journal import MemoryJournal
from storage_helpers import flip_byte, log_segments, lsns, namespace_dir, records, state

SMALL = {"memtable_max_records": 40, "merge_fanout": 2}


def make(db: Path, **kwargs) -> toolkit.Client:
    return toolkit.Client(path=str(db), **kwargs)


def populate(client: toolkit.Client) -> None:
    """A workload touching every write path, with flushes and merges along the way."""
    client.create_index("dense", dimension=8, metric="cosine", engine=SMALL, tags={"team": "a"})
    ix = client.Index("dense")
    for b in range(6):
        ix.upsert(records(f"b{b}", 25, seed=b), namespace="one")
    ix.upsert(records("x", 30, seed=9), namespace="two")
    ix.delete(ids=["b0-1", "b3-4", "nope"], namespace="one")
    ix.update(id="b1-1", set_metadata={"changed": "yes"}, namespace="one")
    ix.update(id="b1-2", values=[1.0] * 8, namespace="one")
    ix.update(id="unknown", set_metadata={"a": "b"}, namespace="one")  # consumes an LSN, changes nothing
    ix.update(filter={"prefix": {"$eq": "b2"}}, set_metadata={"bulk": True}, namespace="one")
    ix.delete(filter={"prefix": {"$eq": "b4"}, "even": {"$eq": True}}, namespace="one")
    ix.upsert(records("b5", 5, seed=50), namespace="one")  # overwrite records living in a slab
    ix.upsert(records("gone", 10), namespace="three")
    ix.delete_namespace("three")
    ix.upsert(records("y", 10), namespace="empty")
    ix.delete(delete_all=True, namespace="empty")
    client.create_index("sparse", vector_type="sparse", metric="dotproduct", engine=SMALL)
    sp = client.Index("sparse")
    sp.upsert([{"id": f"s{i}", "sparse_values": {"indices": [i, 4_000_000_000], "values": [1.0, 0.5 + i]},
                "metadata": {"n": i}} for i in range(50)])
    client.create_index("gone", dimension=4)
    client.delete_index("gone")
    client.configure_index("dense", deletion_protection="enabled", tags={"team": "", "env": "test"})


def test_reopen_restores_every_write_path(tmp_path):
    db = tmp_path / "db"
    client = make(db)
    populate(client)
    before = {name: (state(client.Index(name)), lsns(client.Index(name))) for name in ("dense", "sparse")}
    queries = client.Index("dense").query(vector=[0.3] * 8, top_k=20, namespace="one", include_metadata=True)
    described = client.describe_index("dense").to_dict()
    client.close()

    reopened = make(db)
    assert reopened.list_indexes().names() == ["dense", "sparse"]
    assert reopened.describe_index("dense").to_dict() == described
    for name, (records_before, lsns_before) in before.items():
        ix = reopened.Index(name)
        assert state(ix) == records_before
        assert lsns(ix) == lsns_before
    again = reopened.Index("dense").query(vector=[0.3] * 8, top_k=20, namespace="one", include_metadata=True)
    assert [(m.id, m.metadata) for m in again.matches] == [(m.id, m.metadata) for m in queries.matches]
    assert np.allclose([m.score for m in again.matches], [m.score for m in queries.matches])
    assert "three" not in state(reopened.Index("dense"))
    # the LSN clock continues where it stopped
    response = reopened.Index("dense").upsert(records("after", 1), namespace="one")
    assert response.lsn == before["dense"][1]["one"] + 1
    reopened.close()


@pytest.mark.skipif(os.environ.get("TOOLKIT_TEST_STORAGE") == "persistent",
                    reason="TOOLKIT_TEST_STORAGE=persistent makes every path-less client persistent")
def test_in_memory_client_uses_the_memory_journal():
    client = toolkit.Client()
    client.create_index("m", dimension=4)
    assert isinstance(client.Index("m")._shard._journal, MemoryJournal)
    assert client.path is None


def test_flush_checkpoints_and_truncates_the_log(tmp_path):
    db = tmp_path / "db"
    client = make(db)
    client.create_index("i", dimension=8, engine={"memtable_max_records": 1000})
    ix = client.Index("i")
    for b in range(5):
        ix.upsert(records(f"b{b}", 10, seed=b))
    segments = log_segments(db, "i", "__default__")
    assert segments and sum(p.stat().st_size for p in segments) > 0
    ix.flush()
    assert log_segments(db, "i", "__default__") == []  # everything is in the slab now
    ix.upsert(records("late", 3))
    expected = state(ix)
    client.close()
    reopened = make(db)
    assert state(reopened.Index("i")) == expected
    reopened.close()


def test_masks_persist_deletes_of_flushed_records(tmp_path):
    db = tmp_path / "db"
    client = make(db)
    client.create_index("i", dimension=8)
    ix = client.Index("i")
    ix.upsert(records("a", 50))
    ix.flush()
    ix.delete(ids=[f"a-{i}" for i in range(0, 50, 3)])
    ix.upsert(records("b", 5))
    ix.flush()  # checkpoint: the mask of the first slab is written, the log emptied
    assert log_segments(db, "i", "__default__") == []
    assert list(namespace_dir(db, "i", "__default__").glob("masks-*.npz"))
    expected = state(ix)
    client.close()
    reopened = make(db)
    assert state(reopened.Index("i")) == expected
    assert reopened.Index("i").describe_index_stats().total_vector_count == 50 - 17 + 5
    reopened.close()


def test_engine_config_and_index_settings_persist(tmp_path):
    db = tmp_path / "db"
    client = make(db)
    engine = {"memtable_max_records": 123, "merge_fanout": 3,
              "tiers": [{"builder": "exact", "max_records": 500}, {"builder": "exact"}]}
    client.create_index("e", dimension=3, metric="euclidean", engine=engine, deletion_protection="enabled",
                        tags={"k": "v"})
    model = client.describe_index("e")
    client.close()
    reopened = make(db)
    assert reopened.describe_index("e") == model
    assert reopened.Index("e").config.engine.memtable_max_records == 123
    with pytest.raises(toolkit.ForbiddenError):
        reopened.delete_index("e")
    reopened.close()


def test_namespace_recreated_after_delete_keeps_only_new_records(tmp_path):
    db = tmp_path / "db"
    client = make(db)
    client.create_index("i", dimension=8)
    ix = client.Index("i")
    ix.upsert(records("old", 10), namespace="n")
    ix.delete_namespace("n")
    r = ix.upsert(records("new", 3), namespace="n")
    assert r.lsn == 1
    client.close()
    reopened = make(db)
    assert sorted(state(reopened.Index("i"))["n"]) == ["new-0", "new-1", "new-2"]
    reopened.close()


def test_torn_tail_is_dropped_with_a_warning(tmp_path):
    db = tmp_path / "db"
    client = make(db)
    client.create_index("i", dimension=8)
    ix = client.Index("i")
    for b in range(3):
        ix.upsert(records(f"b{b}", 5, seed=b))
    client.close()
    segment = log_segments(db, "i", "__default__")[-1]
    os.truncate(segment, segment.stat().st_size - 7)  # a crash in the middle of the last append
    with pytest.warns(RuntimeWarning, match="torn write"):
        reopened = make(db)
    ix = reopened.Index("i")
    assert sorted(state(ix)["__default__"]) == sorted(f"b{b}-{i}" for b in range(2) for i in range(5))
    assert ix.upsert(records("c", 1)).lsn == 3  # LSN 3 was never acknowledged: it is reused
    reopened.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the tail was cut off: no second warning
        again = make(db)
    assert "c-0" in state(again.Index("i"))["__default__"]
    again.close()


def test_garbled_tail_is_dropped_with_a_warning(tmp_path):
    db = tmp_path / "db"
    client = make(db)
    client.create_index("i", dimension=8)
    ix = client.Index("i")
    ix.upsert(records("a", 5))
    ix.upsert(records("b", 5))
    client.close()
    segment = log_segments(db, "i", "__default__")[-1]
    flip_byte(segment, -3)
    with pytest.warns(RuntimeWarning, match="torn write"):
        reopened = make(db)
    assert sorted(state(reopened.Index("i"))["__default__"]) == [f"a-{i}" for i in range(5)]
    reopened.close()


def test_damage_before_the_tail_is_data_loss(tmp_path):
    db = tmp_path / "db"
    client = make(db)
    client.create_index("i", dimension=8)
    ix = client.Index("i")
    for b in range(3):
        ix.upsert(records(f"b{b}", 5, seed=b))
    client.close()
    segment = log_segments(db, "i", "__default__")[-1]
    flip_byte(segment, 40)  # inside the first record; two good records follow
    with pytest.raises(toolkit.DataLossError, match=str(segment)):
        make(db)


def test_missing_log_segment_is_data_loss(tmp_path):
    db = tmp_path / "db"
    client = make(db)
    client.create_index("i", dimension=8)
    ix = client.Index("i")
    ix.upsert(records("a", 5))
    client.close()
    client = make(db)  # a new process appends to a new segment
    client.Index("i").upsert(records("b", 5))
    client.close()
    first, second = log_segments(db, "i", "__default__")
    first.unlink()
    with pytest.raises(toolkit.DataLossError, match="jumps from LSN 0 to 2"):
        make(db)


@pytest.mark.parametrize("victim", ["arrays/dense.npy", "arrays/lsns.npy", "records.arrow", "columns.json",
                                    "engine/norms.npy", "SLAB.json"])
def test_damaged_slab_file_names_the_file(tmp_path, victim):
    db = tmp_path / "db"
    client = make(db)
    client.create_index("i", dimension=8)
    client.Index("i").upsert(records("a", 20))
    client.Index("i").flush()
    client.close()
    slab = next((namespace_dir(db, "i", "__default__") / "slabs").iterdir())
    flip_byte(slab / victim, -5 if victim != "SLAB.json" else 40)
    with pytest.raises(toolkit.DataLossError) as error:
        make(db)
    assert str(slab / victim) in str(error.value)
    assert error.value.code == "DATA_LOSS"


@pytest.mark.parametrize("victim", ["MANIFEST", "index.json"])
def test_damaged_manifest_names_the_file(tmp_path, victim):
    db = tmp_path / "db"
    client = make(db)
    client.create_index("i", dimension=8)
    client.Index("i").upsert(records("a", 20))
    client.close()
    path = namespace_dir(db, "i", "__default__") / "MANIFEST" if victim == "MANIFEST" else db / "indexes/i/index.json"
    flip_byte(path, -2)
    with pytest.raises(toolkit.DataLossError, match=str(path)):
        make(db)


def test_damaged_mask_file_names_the_file(tmp_path):
    db = tmp_path / "db"
    client = make(db)
    client.create_index("i", dimension=8)
    ix = client.Index("i")
    ix.upsert(records("a", 20))
    ix.flush()
    ix.delete(ids=["a-1"])
    ix.flush()  # nothing to flush, but compact writes the masks
    ix.upsert(records("b", 2))
    ix.flush()
    client.close()
    (masks,) = namespace_dir(db, "i", "__default__").glob("masks-*.npz")
    flip_byte(masks, -3)
    with pytest.raises(toolkit.DataLossError, match=str(masks)):
        make(db)


def test_second_writer_is_refused_and_readers_are_allowed(tmp_path):
    db = tmp_path / "db"
    writer = make(db)
    writer.create_index("i", dimension=8)
    writer.Index("i").upsert(records("a", 5))
    with pytest.raises(toolkit.FailedPreconditionError, match="already open for writing"):
        make(db)
    reader = make(db, read_only=True)
    assert sorted(state(reader.Index("i"))["__default__"]) == [f"a-{i}" for i in range(5)]
    writer.Index("i").upsert(records("b", 1))  # the reader keeps its snapshot
    assert "b-0" not in state(reader.Index("i"))["__default__"]
    for attempt in (
        lambda: reader.Index("i").upsert(records("r", 1)),
        lambda: reader.Index("i").delete(ids=["a-0"]),
        lambda: reader.Index("i").upsert(records("r", 1), namespace="new"),
        lambda: reader.create_index("j", dimension=3),
        lambda: reader.configure_index("i", tags={"a": "b"}),
        lambda: reader.delete_index("i"),
        lambda: reader.Index("i").delete_namespace("__default__"),
        lambda: reader.create_backup("i", "b"),
    ):
        with pytest.raises(toolkit.UnavailableError, match="read-only"):
            attempt()
    assert reader.Index("i").describe_index_stats().total_vector_count == 5
    assert reader.Index("i")._namespaces["__default__"].last_lsn == 1  # a refused write took no LSN
    reader.close()
    writer.close()
    make(db).close()  # the lock is released on close


def test_second_writer_process_is_refused(tmp_path):
    db = tmp_path / "db"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time, toolkit
            c = toolkit.Client(path={str(db)!r})
            print("ready", flush=True)
            sys.stdin.readline()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(toolkit.FailedPreconditionError, match=f"process {holder.pid}"):
            make(db)
        make(db, read_only=True).close()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    make(db).close()


def test_open_errors(tmp_path):
    with pytest.raises(toolkit.NotFoundError):
        make(tmp_path / "missing", read_only=True)
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "notes.txt").write_text("hi")
    with pytest.raises(toolkit.InvalidArgumentError, match="not a toolkit database"):
        make(tmp_path / "stuff")
    (tmp_path / "file").write_text("x")
    with pytest.raises(toolkit.InvalidArgumentError, match="is a file"):
        make(tmp_path / "file")
    with pytest.raises(toolkit.InvalidArgumentError):
        toolkit.Client(read_only=True)


def test_closed_client_refuses_writes(tmp_path):
    client = make(tmp_path / "db")
    client.create_index("i", dimension=8)
    ix = client.Index("i")
    client.close()
    client.close()  # idempotent
    with pytest.raises(toolkit.UnavailableError, match="closed"):
        ix.upsert(records("a", 1))


@pytest.mark.parametrize("background", [False, True], ids=["inline-merges", "background-merges"])
def test_concurrent_writes_queries_and_flushes(tmp_path, background):
    db = tmp_path / "db"
    client = make(db)
    client.create_index("i", dimension=8, engine={"memtable_max_records": 60, "merge_fanout": 2,
                                                  "background_merges": background})
    ix = client.Index("i")
    errors: list[BaseException] = []
    acked: list[list[str]] = [[] for _ in range(4)]

    def writer(w: int) -> None:
        try:
            for b in range(15):
                batch = records(f"w{w}-{b}", 7, seed=w * 100 + b)
                ix.upsert(batch, namespace=f"ns{w % 2}")
                acked[w].extend(r["id"] for r in batch)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(40):
                ix.query(vector=[0.1] * 8, top_k=5, namespace="ns0")
                ix.flush()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)] + [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    ix.wait_for_merges()
    expected = state(ix)
    client.close()
    reopened = make(db)
    got = state(reopened.Index("i"))
    assert got == expected
    for w in range(4):
        assert set(acked[w]) <= set(got[f"ns{w % 2}"])
    reopened.close()


def test_persistent_and_memory_answers_agree(tmp_path):
    memory = toolkit.Client()
    disk = make(tmp_path / "db")
    for client in (memory, disk):
        populate(client)
    for name in ("dense", "sparse"):
        assert state(memory.Index(name)) == state(disk.Index(name))
    disk.close()


def test_rebuild_with_another_engine_persists_the_config_and_the_engine_files(tmp_path):
    if "annoy" not in toolkit.Client().builders():
        pytest.skip("the annoy engine is not installed")
    db = tmp_path / "db"
    client = make(db)
    client.create_index("i", dimension=8, metric="cosine", engine="exact")
    ix = client.Index("i")
    ix.upsert(records("a", 300))
    ix.rebuild(engine={"tiers": [{"builder": "annoy", "build": {"n_trees": 5, "n_jobs": 1}}]})
    query = records("a", 300)[17]["values"]
    expected = ix.query(vector=query, top_k=5).ids()
    described = client.describe_index("i")
    client.close()
    (slab,) = (namespace_dir(db, "i", "__default__") / "slabs").iterdir()
    assert (slab / "engine").is_dir() and any((slab / "engine").iterdir())  # SlabIndex.save's files
    reopened = make(db)
    assert reopened.describe_index("i") == described
    assert reopened.describe_index("i").engine["tiers"][0]["builder"] == "annoy"
    assert reopened.Index("i").describe_slabs()["builder"].tolist() == ["annoy"]
    assert reopened.Index("i").query(vector=query, top_k=5).ids() == expected
    reopened.close()
