"""Data plane: the SDK-shaped record operations, namespaces and stats (dataplane_spec §7)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import toolkit
from toolkit.errors import InvalidArgumentError, NotFoundError

try:
    from .core_helpers import new_index
except ImportError:
    from core_helpers import new_index


@pytest.fixture
def index():
    return new_index("dp", dimension=3, metric="dotproduct")


# --- upsert: every record form -----------------------------------------------------------------


def test_upsert_accepts_dicts_tuples_vectors_and_numpy(index):
    arr = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float64)
    resp = index.upsert(vectors=[
        {"id": "dict", "values": [1.0, 0.0, 0.0], "metadata": {"k": "v"}},
        ("tuple2", [0.0, 1.0, 0.0]),
        ("tuple3", [0.0, 0.0, 1.0], {"k": "w"}),
        toolkit.Vector(id="vector", values=[1.0, 1.0, 0.0], metadata={"k": "x"},
                       sparse_values=toolkit.SparseValues(indices=[7], values=[0.5])),
        ("np-row", arr[0]),
        {"id": "np-dict", "values": arr[1].astype(np.float32)},
        ("np-float16", np.array([1, 1, 1], dtype=np.float16)),
        {"id": "rest-spelling", "values": [1, 2, 3], "sparseValues": {"indices": [1], "values": [2.0]}},
    ])
    assert resp.upserted_count == 8
    got = index.fetch(ids=["dict", "tuple2", "tuple3", "vector", "np-row", "np-dict", "rest-spelling"]).vectors
    assert got["dict"].to_dict() == {"id": "dict", "values": [1.0, 0.0, 0.0], "metadata": {"k": "v"}}
    assert got["tuple2"].metadata is None
    assert got["tuple3"].metadata == {"k": "w"}
    assert got["vector"].sparse_values == toolkit.SparseValues([7], [0.5])
    assert got["np-row"].values == [1.0, 2.0, 3.0] and got["np-dict"].values == [4.0, 5.0, 6.0]
    assert got["rest-spelling"].sparse_values.to_dict() == {"indices": [1], "values": [2.0]}


def test_upsert_from_a_generator_and_with_batch_size(index):
    resp = index.upsert(vectors=((f"g{i}", [1.0, float(i), 0.0]) for i in range(7)), batch_size=3,
                        show_progress=False)
    assert resp.upserted_count == 7 and resp.usage.write_units == 15  # 3 requests × the 5 WU minimum
    assert index.describe_index_stats().total_vector_count == 7


def test_upsert_from_dataframe(index):
    df = pd.DataFrame({"id": ["a", "b"], "values": [[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]],
                       "metadata": [{"g": "x"}, {"g": "y"}]})
    assert index.upsert_from_dataframe(df, show_progress=False).upserted_count == 2
    assert index.fetch(ids=["b"]).vectors["b"].metadata == {"g": "y"}
    sparse_df = pd.DataFrame({"id": ["c", "d"], "values": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
                              "sparse_values": [{"indices": [1], "values": [0.5]}, float("nan")],
                              "metadata": [float("nan"), {"g": "z"}]})  # missing cells as pandas fills them
    assert index.upsert_from_dataframe(sparse_df, show_progress=False).upserted_count == 2
    got = index.fetch(ids=["c", "d"]).vectors
    assert got["c"].metadata is None and got["c"].sparse_values.indices == [1]
    assert got["d"].sparse_values is None and got["d"].metadata == {"g": "z"}


def test_upsert_overwrites_the_whole_record(index):
    index.upsert(vectors=[{"id": "a", "values": [1, 2, 3], "metadata": {"x": "1", "y": "2"},
                           "sparse_values": {"indices": [1], "values": [1.0]}}])
    index.upsert(vectors=[{"id": "a", "values": [3, 2, 1], "metadata": {"z": "3"}}])
    got = index.fetch(ids=["a"]).vectors["a"]
    assert got.values == [3, 2, 1] and got.metadata == {"z": "3"} and got.sparse_values is None
    index.upsert(vectors=[("a", [1, 1, 1])])
    assert index.fetch(ids=["a"]).vectors["a"].metadata is None


def test_repeated_id_in_one_request_the_last_wins(index):
    resp = index.upsert(vectors=[("a", [1, 0, 0]), ("b", [0, 1, 0]), ("a", [0, 0, 1], {"n": 2})])
    assert resp.upserted_count == 3
    got = index.fetch(ids=["a"]).vectors["a"]
    assert got.values == [0, 0, 1] and got.metadata == {"n": 2.0}
    assert index.describe_index_stats().total_vector_count == 2


def test_values_are_stored_as_float32(index):
    index.upsert(vectors=[("a", [0.1, 0.2, 1 / 3])])
    assert index.fetch(ids=["a"]).vectors["a"].values == np.array([0.1, 0.2, 1 / 3], np.float32).tolist()


def test_empty_metadata_is_stored_as_none(index):
    index.upsert(vectors=[("a", [1, 2, 3], {})])
    assert index.fetch(ids=["a"]).vectors["a"].metadata is None
    assert "metadata" not in index.fetch(ids=["a"]).to_dict()["vectors"]["a"]


# --- fetch ------------------------------------------------------------------------------------


def test_fetch_leaves_out_missing_ids_and_collapses_duplicates(index):
    index.upsert(vectors=[("a", [1, 2, 3]), ("b", [3, 2, 1])])
    resp = index.fetch(ids=["b", "nope", "a", "b"])
    assert set(resp.vectors) == {"a", "b"}
    assert resp.namespace == "__default__" and resp.usage.read_units == 1
    assert index.fetch(ids=["a"], namespace="elsewhere").vectors == {}


def test_fetch_on_sparse_index_returns_empty_dense_values():
    sparse = new_index("sp", vector_type="sparse")
    sparse.upsert(vectors=[{"id": "s", "sparse_values": {"indices": [3, 1], "values": [0.3, 0.1]},
                            "metadata": {"k": "v"}}])
    got = sparse.fetch(ids=["s"]).vectors["s"]
    assert got.values == [] and got.sparse_values.to_dict() == {"indices": [1, 3], "values": [
        pytest.approx(0.1), pytest.approx(0.3)]}


# --- update ------------------------------------------------------------------------------------


def test_update_set_metadata_merges(index):
    index.upsert(vectors=[("a", [1, 2, 3], {"type": "doc", "genre": "drama"})])
    index.update(id="a", set_metadata={"genre": "comedy"})
    assert index.fetch(ids=["a"]).vectors["a"].metadata == {"type": "doc", "genre": "comedy"}
    index.update(id="a", set_metadata={"year": 2020})
    assert index.fetch(ids=["a"]).vectors["a"].metadata == {"type": "doc", "genre": "comedy", "year": 2020.0}


def test_update_values_and_sparse_values_replace(index):
    index.upsert(vectors=[{"id": "a", "values": [1, 2, 3], "metadata": {"k": "v"},
                           "sparse_values": {"indices": [1, 2], "values": [1.0, 1.0]}}])
    index.update(id="a", values=[3, 2, 1])
    got = index.fetch(ids=["a"]).vectors["a"]
    assert got.values == [3, 2, 1] and got.metadata == {"k": "v"} and got.sparse_values.indices == [1, 2]
    index.update(id="a", sparse_values={"indices": [9], "values": [2.0]})
    got = index.fetch(ids=["a"]).vectors["a"]
    assert got.sparse_values.to_dict() == {"indices": [9], "values": [2.0]} and got.values == [3, 2, 1]
    assert index.query(vector=[0, 0, 1], sparse_vector={"indices": [9], "values": [1.0]}, top_k=1).matches[0].score \
        == pytest.approx(3.0)


def test_update_of_unknown_id_changes_nothing_and_does_not_create(index):
    index.upsert(vectors=[("a", [1, 2, 3])])
    resp = index.update(id="ghost", values=[1, 1, 1], set_metadata={"k": "v"})
    assert resp.lsn == 2
    assert index.fetch(ids=["ghost"]).vectors == {}
    assert index.describe_index_stats().total_vector_count == 1
    assert index.update(id="ghost", set_metadata={"k": "v"}, namespace="never").lsn is None
    assert "never" not in [n.name for n in index.list_namespaces()]


def test_update_by_filter_and_dry_run(index):
    index.upsert(vectors=[(f"r{i}", [1, i, 0], {"g": "x" if i < 3 else "y"}) for i in range(5)])
    dry = index.update(filter={"g": "x"}, set_metadata={"h": "new"}, dry_run=True)
    assert dry.matched_records == 3 and dry.lsn is None
    assert index.fetch(ids=["r0"]).vectors["r0"].metadata == {"g": "x"}
    resp = index.update(filter={"g": "x"}, set_metadata={"h": "new"})
    assert resp.matched_records == 3 and resp.to_dict()["matched_records"] == 3
    assert sorted(m.id for m in index.query(vector=[1, 1, 1], top_k=5, filter={"h": "new"}).matches) == [
        "r0", "r1", "r2"]
    assert index.fetch(ids=["r1"]).vectors["r1"].values == [1, 1, 0]


# --- delete --------------------------------------------------------------------------------------


def test_delete_by_ids_ignores_unknown_ids(index):
    index.upsert(vectors=[("a", [1, 2, 3]), ("b", [1, 2, 3]), ("c", [1, 2, 3])])
    resp = index.delete(ids=["a", "zzz", "a"])
    assert resp.to_dict() == {"lsn": 2, "usage": {"write_units": 5}}
    assert sorted(index.fetch(ids=["a", "b", "c"]).vectors) == ["b", "c"]


def test_delete_all_keeps_the_namespace_and_its_lsn_clock(index):
    index.upsert(vectors=[("a", [1, 2, 3])], namespace="ns")
    assert index.delete(delete_all=True, namespace="ns").lsn == 2
    assert index.describe_namespace("ns").record_count == 0
    assert "ns" not in index.describe_index_stats().namespaces
    assert index.upsert(vectors=[("a", [1, 2, 3])], namespace="ns").lsn == 3


def test_delete_by_filter(index):
    index.upsert(vectors=[(f"r{i}", [1, 2, 3], {"document_id": f"d{i % 2}", "chunk": i}) for i in range(6)])
    index.delete(filter={"document_id": {"$eq": "d1"}, "chunk": {"$in": [1, 3]}})  # Q4's implicit AND
    assert sorted(i for page in index.list() for i in page) == ["r0", "r2", "r4", "r5"]


def test_delete_in_a_namespace_that_never_existed_is_a_no_op(index):
    resp = index.delete(ids=["a"], namespace="never")
    assert resp.lsn is None and resp.usage.write_units == 5
    assert list(index.list_namespaces()) == []


# --- namespaces and stats -------------------------------------------------------------------------


def test_default_namespace_aliases(index):
    index.upsert(vectors=[("a", [1, 2, 3])], namespace="")
    index.upsert(vectors=[("b", [1, 2, 3])])
    index.upsert(vectors=[("c", [1, 2, 3])], namespace="__default__")
    for ns in (None, "", "__default__"):
        assert sorted(index.fetch(ids=["a", "b", "c"], namespace=ns).vectors) == ["a", "b", "c"]
        assert index.query(vector=[1, 2, 3], top_k=5, namespace=ns).namespace == "__default__"
    assert [n.name for n in index.list_namespaces()] == ["__default__"]
    assert index.describe_namespace("").name == "__default__"
    assert index.describe_namespace("__default__").record_count == 3


def test_namespaces_are_isolated_and_created_by_upsert(index):
    index.upsert(vectors=[("a", [1, 0, 0])], namespace="n1")
    index.upsert(vectors=[("a", [0, 1, 0]), ("b", [0, 0, 1])], namespace="n2")
    assert index.fetch(ids=["a"], namespace="n1").vectors["a"].values == [1, 0, 0]
    assert index.fetch(ids=["a"], namespace="n2").vectors["a"].values == [0, 1, 0]
    assert index.query(vector=[1, 1, 1], top_k=10, namespace="n1").ids() == ["a"]
    assert index.query(vector=[1, 1, 1], top_k=10, namespace="n3").matches == []
    assert "n3" not in [n.name for n in index.list_namespaces()]  # reads create nothing


def test_describe_index_stats(index):
    index.upsert(vectors=[("a", [1, 2, 3]), ("b", [1, 2, 3])], namespace="ns1")
    index.upsert(vectors=[("a", [1, 2, 3])], namespace="ns2")
    index.upsert(vectors=[("a", [1, 2, 3])], namespace="empty")
    index.delete(ids=["a"], namespace="empty")
    stats = index.describe_index_stats()
    assert stats.to_dict() == {"namespaces": {"ns1": {"vector_count": 2}, "ns2": {"vector_count": 1}},
                               "index_fullness": 0.0, "total_vector_count": 3, "metric": "dotproduct",
                               "vector_type": "dense", "dimension": 3}
    assert stats["namespaces"]["ns1"]["vector_count"] == 2  # SDK item access
    sparse = new_index("sp", vector_type="sparse")
    assert "dimension" not in sparse.describe_index_stats().to_dict()


def test_list_and_describe_namespaces(index):
    for name in ("b", "a", "c"):
        index.upsert(vectors=[(f"{name}{i}", [1, 2, 3]) for i in range(ord(name) - 96)], namespace=name)
    assert [(n.name, n.record_count) for n in index.list_namespaces()] == [("a", 1), ("b", 2), ("c", 3)]
    page = index.list_namespaces_paginated(limit=2)
    assert [n.name for n in page.namespaces] == ["a", "b"] and page.pagination is not None
    rest = index.list_namespaces_paginated(limit=2, pagination_token=page.pagination.next)
    assert [n.name for n in rest.namespaces] == ["c"] and rest.pagination is None
    assert page.total_count == rest.total_count == 3
    assert [n.name for n in index.list_namespaces(limit=1)] == ["a", "b", "c"]
    index.upsert(vectors=[("x", [1, 2, 3])], namespace="bb")
    first = index.list_namespaces_paginated(prefix="b", limit=1)
    assert [n.name for n in first.namespaces] == ["b"] and first.total_count == 2
    second = index.list_namespaces_paginated(prefix="b", limit=1, pagination_token=first.pagination.next)
    assert [n.name for n in second.namespaces] == ["bb"] and second.pagination is None
    with pytest.raises(InvalidArgumentError, match="prefix"):  # a token belongs to its prefix
        index.list_namespaces_paginated(prefix="c", pagination_token=first.pagination.next)
    assert index.describe_namespace("b").to_dict() == {"name": "b", "record_count": 2}
    with pytest.raises(NotFoundError):
        index.describe_namespace("zzz")


def test_delete_namespace(index):
    index.upsert(vectors=[("a", [1, 2, 3])], namespace="gone")
    index.upsert(vectors=[("a", [1, 2, 3])], namespace="kept")
    resp = index.delete_namespace("gone")
    assert resp.usage.write_units == 5
    assert [n.name for n in index.list_namespaces()] == ["kept"]
    assert index.fetch(ids=["a"], namespace="gone").vectors == {}
    with pytest.raises(NotFoundError):
        index.delete_namespace("gone")


def test_query_namespaces_merges_by_metric():
    index = new_index("qn", dimension=2, metric="euclidean")
    index.upsert(vectors=[("a1", [0.0, 1.0]), ("a2", [0.0, 5.0])], namespace="a")
    index.upsert(vectors=[("b1", [0.0, 2.0])], namespace="b")
    resp = index.query_namespaces(vector=[0.0, 0.0], namespaces=["a", "b"], metric="euclidean", top_k=2)
    assert resp.ids() == ["a1", "b1"] and [m.score for m in resp.matches] == [1.0, 4.0]


# --- response shapes ---------------------------------------------------------------------------------


def test_query_response_shape(index):
    index.upsert(vectors=[{"id": "a", "values": [1, 2, 3], "metadata": {"k": "v"},
                           "sparse_values": {"indices": [1], "values": [0.5]}}])
    plain = index.query(vector=[1, 0, 0], top_k=1)
    m = plain.matches[0]
    assert (m.id, m.score, m.values, m.metadata, m.sparse_values) == ("a", 1.0, [], None, None)
    assert plain.to_dict() == {"matches": [{"id": "a", "score": 1.0, "values": []}], "namespace": "__default__",
                               "usage": {"read_units": 1}, "max_indexed_lsn": 1}
    full = index.query(vector=[1, 0, 0], top_k=1, include_values=True, include_metadata=True).to_dict()
    assert full["matches"][0] == {"id": "a", "score": 1.0, "values": [1.0, 2.0, 3.0],
                                  "sparse_values": {"indices": [1], "values": [0.5]}, "metadata": {"k": "v"}}
    assert plain["matches"][0]["id"] == "a" and "usage" in plain


def test_write_response_shapes(index):
    up = index.upsert(vectors=[("a", [1, 2, 3])])
    assert up.to_dict() == {"upserted_count": 1, "lsn": 1, "usage": {"write_units": 5}}
    assert up.upserted_count == 1 and up.usage.write_units == 5 and up.usage.read_units is None
    assert index.update(id="a", set_metadata={"k": "v"}).to_dict() == {"lsn": 2, "usage": {"write_units": 5}}


def test_list_response_shape(index):
    index.upsert(vectors=[("a", [1, 2, 3]), ("b", [1, 2, 3])])
    page = index.list_paginated(limit=1)
    data = page.to_dict()
    assert data["vectors"] == [{"id": "a"}] and data["namespace"] == "__default__"
    assert data["usage"] == {"read_units": 1} and set(data["pagination"]) == {"next"}
    assert data["max_indexed_lsn"] == page.max_indexed_lsn == 1


@pytest.mark.parametrize("make", [
    lambda ix: ix.query(vector=[1, 2, 3], top_k=2, include_values=True, include_metadata=True),
    lambda ix: ix.fetch(ids=["a", "b"]),
    lambda ix: ix.list_paginated(),
    lambda ix: ix.upsert(vectors=[("c", [1, 2, 3])]),
    lambda ix: ix.describe_index_stats(),
    lambda ix: ix.list_namespaces_paginated(),
    lambda ix: ix.describe_namespace(""),
], ids=["query", "fetch", "list", "upsert", "stats", "namespaces", "namespace"])
def test_every_response_renders_html_for_jupyter(index, make):
    index.upsert(vectors=[("a", [1, 2, 3], {"genre": "drama"}), ("b", [0.5] * 3)])
    resp = make(index)
    html = resp._repr_html_()
    assert html.startswith("<div>") and type(resp).__name__ in html
    assert isinstance(resp.to_dict(), dict)


def test_html_elides_long_vectors():
    index = new_index("wide", dimension=1536)
    index.upsert(vectors=[("a", np.ones(1536))])
    html = index.query(vector=np.ones(1536), top_k=1, include_values=True)._repr_html_()
    assert "1536 items" in html and len(html) < 2000
