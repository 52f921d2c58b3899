"""Readers work on immutable snapshots: they never wait for the write lock, and no file is written under it."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import toolkit
from toolkit.storage.disk import NamespaceStore


def records(start: int, stop: int, dim: int = 4) -> list[tuple[str, list[float]]]:
    rng = np.random.default_rng(start)
    return [(f"r{i}", rng.normal(size=dim).tolist()) for i in range(start, stop)]


def in_thread(call, timeout: float = 10.0):
    """Run ``call`` on another thread; return its result, or fail if it does not finish in time."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "the read waited for the write lock"
    return out[0]


def test_reads_do_not_wait_for_a_writer_holding_the_write_lock():
    client = toolkit.Client()
    client.create_index("s", dimension=4, metric="euclidean", engine={"memtable_max_records": 50})
    ix = client.Index("s")
    ix.upsert(records(0, 120))
    held, release = threading.Event(), threading.Event()

    def writer_in_the_middle() -> None:
        with ix._shard._write:  # a writer (or a merge commit) between its LSN and its publish
            held.set()
            release.wait(30)

    blocker = threading.Thread(target=writer_in_the_middle, daemon=True)
    blocker.start()
    assert held.wait(10)
    try:
        answer = in_thread(lambda: ix.query(vector=[0.0, 0.0, 0.0, 0.0], top_k=3))
        assert len(answer.matches) == 3
        assert set(in_thread(lambda: ix.fetch(ids=["r1", "r119"])).vectors) == {"r1", "r119"}
        assert in_thread(lambda: ix.describe_index_stats()).total_vector_count == 120
        assert len(in_thread(lambda: ix.list_paginated(limit=5)).vectors) == 5
        batch = in_thread(lambda: ix.query_batch([[0.0] * 4, [1.0] * 4], top_k=2))
        assert [len(r.matches) for r in batch] == [2, 2]
        assert in_thread(lambda: ix.lsns()) == (1, 1)
    finally:
        release.set()
        blocker.join(10)


def test_a_query_sees_the_snapshot_it_started_on():
    client = toolkit.Client()
    client.create_index("s", dimension=4, metric="euclidean")
    ix = client.Index("s")
    ix.upsert(records(0, 10))
    before = ix._shard.view("__default__")
    ix.delete(ids=["r0", "r1"])
    ix.upsert([("r2", [9.0, 9.0, 9.0, 9.0])])
    # the old view is unchanged: its masks and rows were replaced, not edited
    assert before.live_count() == 10 and set(before.find(["r0", "r1"])) == {"r0", "r1"}
    rows, row = before.find(["r2"])["r2"]
    assert rows.dense[row].tolist() != [9.0] * 4
    after = ix._shard.view("__default__")
    assert after.live_count() == 8 and not after.find(["r0"])


def test_checkpoints_are_written_outside_the_write_lock(tmp_path, monkeypatch):
    client = toolkit.Client(path=str(tmp_path / "db"))
    client.create_index("s", dimension=4, metric="euclidean",
                        engine={"memtable_max_records": 20, "merge_fanout": 2})
    ix = client.Index("s")
    original = NamespaceStore.checkpoint
    calls: list[bool] = []

    def checking(self, state):
        calls.append(not ix._shard._write._is_owned())  # this thread does not hold the write lock
        return original(self, state)

    monkeypatch.setattr(NamespaceStore, "checkpoint", checking)
    for start in range(0, 200, 10):
        ix.upsert(records(start, start + 10))
    ix.wait_for_merges()
    ix.flush()
    assert calls and all(calls), "a checkpoint ran while the write lock was held"
    client.close()
    reopened = toolkit.Client(path=str(tmp_path / "db"))
    assert reopened.Index("s").describe_index_stats().total_vector_count == 200
    reopened.close()


@pytest.mark.parametrize("builder", ["exact", "annoy", "nndescent"])
def test_concurrent_queries_answer_as_serial_ones(builder, request):
    if builder not in toolkit.Client().builders():
        pytest.skip(f"{builder} is not installed")
    if builder == "nndescent":
        request.getfixturevalue("nndescent_warm")
    client = toolkit.Client()
    client.create_index("c", dimension=8, metric="euclidean",
                        engine={"tiers": [builder], "memtable_max_records": 300, "merge_fanout": 2})
    ix = client.Index("c")
    ix.upsert(records(0, 1000, dim=8), batch_size=100, show_progress=False)
    ix.wait_for_merges()
    queries = np.random.default_rng(9).normal(size=(40, 8)).tolist()
    serial = [ix.query(vector=q, top_k=5).ids() for q in queries]
    results: dict[int, list[str]] = {}

    def worker(offset: int) -> None:
        for i in range(offset, len(queries), 4):
            results[i] = ix.query(vector=queries[i], top_k=5).ids()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    ix.upsert(records(1000, 1100, dim=8))  # a write (and a flush) while they run; old ids unchanged
    for thread in threads:
        thread.join()
    for i, ids in results.items():
        assert all(x in serial[i] or int(x[1:]) >= 1000 for x in ids)
