"""Log sequence numbers: arch_cost_spec §1.5-1.6 (T-LSN-1, 2, 4, 5, 6), read-your-writes mode.

T-LSN-3 and T-LSN-7 need eventual mode; they live in test_storage_freshness.py.
"""

from __future__ import annotations

import pytest

from toolkit.errors import InvalidArgumentError

try:
    from .core_helpers import new_index
except ImportError:
    from core_helpers import new_index


def index_8d(**kwargs):
    return new_index("lsn", dimension=8, metric="cosine", **kwargs)


def test_t_lsn_1_per_namespace_counters_start_at_1():
    index = index_8d()
    lsns_a = [index.upsert(vectors=[(f"a{i}", [0.1] * 8)], namespace="a").lsn for i in range(3)]
    lsn_b = index.upsert(vectors=[("b0", [0.1] * 8)], namespace="b").lsn
    assert lsns_a == [1, 2, 3]
    assert lsn_b == 1


@pytest.mark.parametrize("read", ["query", "fetch", "list"])
def test_t_lsn_2_read_after_write_reflects_it(read):
    index = index_8d()
    k = index.upsert(vectors=[("x", [0.1] * 8, {"genre": "drama"})]).lsn
    if read == "query":
        resp = index.query(vector=[0.1] * 8, top_k=1)
        present = [m.id for m in resp.matches] == ["x"]
    elif read == "fetch":
        resp = index.fetch(ids=["x"])
        present = "x" in resp.vectors
    else:
        resp = index.list_paginated()
        present = [v.id for v in resp.vectors] == ["x"]
    assert resp.max_indexed_lsn >= k
    assert present


def test_t_lsn_4_a_later_delete_hides_the_record_although_lsn_ge_k_holds():
    index = index_8d()
    k = index.upsert(vectors=[("x", [0.1] * 8)]).lsn
    k1 = index.delete(ids=["x"]).lsn
    assert k1 == k + 1
    resp = index.query(vector=[0.1] * 8, top_k=5)
    assert resp.max_indexed_lsn >= k + 1
    assert resp.matches == []
    assert index.fetch(ids=["x"]).vectors == {}


def test_t_lsn_5_replay_of_the_docs_example():
    # D:2586-2667: the upsert answers LSN 4 ("4 write operations since creation"), a later query
    # answers 5; 5 >= 4, so the upsert is reflected in the query.
    index = index_8d()
    for i in range(3):
        index.upsert(vectors=[(f"warmup{i}", [-0.5] * 8)], namespace="example-namespace")
    write = index.upsert(vectors=[("vec1", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])], namespace="example-namespace")
    assert write.lsn == 4
    index.update(id="warmup0", set_metadata={"seen": True}, namespace="example-namespace")  # the 5th write
    resp = index.query(vector=[0.3] * 8, top_k=1, include_values=True, namespace="example-namespace",
                       filter={"seen": {"$exists": False}})
    assert resp.max_indexed_lsn == 5
    assert resp.max_indexed_lsn >= write.lsn
    assert [m.id for m in resp.matches] == ["vec1"]
    assert resp.matches[0].score == pytest.approx(0.891132772, abs=1e-6)  # D:2648: cosine 3.6/√(8·2.04)


@pytest.mark.parametrize("newest_in", ["memtable", "slab"])
def test_t_lsn_6_only_the_newest_version_is_returned(newest_in):
    index = index_8d(engine={"memtable_max_records": 100})
    index.upsert(vectors=[("x", [0.1] * 8, {"v": "old"}), ("y", [0.9] + [0.1] * 7)])
    index.flush()  # the old x is in a slab
    new_lsn = index.upsert(vectors=[("x", [0.1] * 7 + [0.9], {"v": "new"})]).lsn
    if newest_in == "slab":
        index.flush()  # both versions in slabs of their own
        slabs = index.describe_slabs()
        assert list(slabs["rows"]) == [2, 1] and list(slabs["live_rows"]) == [1, 1]  # old x is dead, not gone
    resp = index.query(vector=[0.1] * 7 + [0.9], top_k=10, include_metadata=True)
    assert resp.max_indexed_lsn >= new_lsn
    assert [m.id for m in resp.matches].count("x") == 1
    assert next(m for m in resp.matches if m.id == "x").metadata == {"v": "new"}
    assert resp.matches[0].id == "x" and resp.matches[0].score == pytest.approx(1.0, abs=1e-6)
    assert index.fetch(ids=["x"]).vectors["x"].metadata == {"v": "new"}
    assert index.describe_index_stats().total_vector_count == 2


def test_every_accepted_write_kind_takes_the_next_lsn():
    index = index_8d()
    lsns = [
        index.upsert(vectors=[("a", [0.1] * 8, {"g": "x"}), ("b", [0.2] * 8, {"g": "y"})]).lsn,
        index.update(id="a", set_metadata={"g": "z"}).lsn,
        index.update(id="missing", set_metadata={"g": "z"}).lsn,  # 200 OK, changes nothing
        index.update(filter={"g": "y"}, set_metadata={"h": "1"}).lsn,
        index.delete(ids=["missing"]).lsn,
        index.delete(filter={"g": "z"}).lsn,
        index.delete(delete_all=True).lsn,
        index.upsert(vectors=[("c", [0.3] * 8)], batch_size=1).lsn,
    ]
    assert lsns == list(range(1, 9))


def test_reads_report_the_lsn_of_a_no_op_write():
    index = index_8d()
    index.upsert(vectors=[("a", [0.1] * 8)])
    noop = index.update(id="missing", set_metadata={"g": "z"})
    assert index.query(vector=[0.1] * 8, top_k=1).max_indexed_lsn == noop.lsn == 2
    assert index.fetch(ids=["a"]).max_indexed_lsn == 2


def test_rejected_writes_take_no_lsn():
    index = index_8d()
    assert index.upsert(vectors=[("a", [0.1] * 8)]).lsn == 1
    with pytest.raises(InvalidArgumentError):
        index.upsert(vectors=[("b", [0.1] * 8), ("c", [0.1] * 3)])
    with pytest.raises(InvalidArgumentError):
        index.update(id="a", values=[0.0] * 8)
    with pytest.raises(InvalidArgumentError):
        index.delete(ids=[])
    assert index.query(vector=[0.1] * 8, top_k=1).max_indexed_lsn == 1
    assert index.upsert(vectors=[("b", [0.1] * 8)]).lsn == 2


def test_reads_do_not_advance_the_lsn():
    index = index_8d()
    index.upsert(vectors=[("a", [0.1] * 8)])
    for _ in range(3):
        index.query(vector=[0.1] * 8, top_k=1)
        index.fetch(ids=["a"])
        index.list_paginated()
        index.describe_index_stats()
    assert index.upsert(vectors=[("b", [0.1] * 8)]).lsn == 2


def test_batched_upsert_reports_the_last_requests_lsn():
    index = index_8d()
    resp = index.upsert(vectors=[(f"r{i}", [0.1] * 8) for i in range(25)], batch_size=10, show_progress=False)
    assert resp.upserted_count == 25
    assert resp.lsn == 3


def test_lsn_of_a_namespace_never_written_is_0_and_namespaces_are_independent():
    index = index_8d()
    index.upsert(vectors=[("a", [0.1] * 8)], namespace="ns1")
    index.upsert(vectors=[("a", [0.1] * 8)], namespace="ns1")
    assert index.query(vector=[0.1] * 8, top_k=1, namespace="ns2").max_indexed_lsn == 0
    assert index.query(vector=[0.1] * 8, top_k=1, namespace="ns1").max_indexed_lsn == 2
    assert index.upsert(vectors=[("a", [0.1] * 8)]).lsn == 1  # the default namespace has its own clock


def test_lsn_survives_flush_merge_and_compact():
    index = index_8d(engine={"memtable_max_records": 2, "merge_fanout": 2})
    for i in range(9):
        assert index.upsert(vectors=[(f"r{i}", [0.1 * (i + 1)] * 8)]).lsn == i + 1
    index.compact()
    assert index.query(vector=[0.1] * 8, top_k=1).max_indexed_lsn == 9
    assert index.upsert(vectors=[("r0", [0.5] * 8)]).lsn == 10


def test_write_responses_carry_lsn_in_to_dict():
    index = index_8d()
    assert index.upsert(vectors=[("a", [0.1] * 8)]).to_dict()["lsn"] == 1
    assert index.delete(ids=["a"]).to_dict()["lsn"] == 2
    assert index.query(vector=[0.1] * 8, top_k=1).to_dict()["max_indexed_lsn"] == 2


def test_lsns_reports_committed_and_indexed_per_namespace_and_index_wide():
    index = index_8d()
    assert index.lsns("a") == (0, 0)
    for i in range(3):
        index.upsert(vectors=[(f"a{i}", [0.1] * 8)], namespace="a")
    index.upsert(vectors=[("b0", [0.1] * 8)], namespace="b")
    assert index.lsns("a") == (3, 3)
    assert index.lsns("b") == (1, 1)
    assert index.lsns(all_namespaces=True) == (3, 3)
    assert index.lsns() == (0, 0)  # the default namespace was never written
