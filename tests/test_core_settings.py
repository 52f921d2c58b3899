"""Settings: each documented contradiction's alternative is one keyword away (toolkit/settings.py)."""

from __future__ import annotations

import pytest

import toolkit
from toolkit.errors import InvalidArgumentError, NotFoundError

try:
    from .core_helpers import fixtures, new_index
except ImportError:
    from core_helpers import fixtures, new_index

AD = fixtures()["ad_filter_dataset_DERIVED"]
POLICY_CASES = [c for c in AD["filter_cases"] if "alt_match" in c]


def ad_index(**settings):
    index = new_index("ad", dimension=8, metric="dotproduct", settings=settings or None)
    index.upsert(vectors=AD["records"])
    return index


@pytest.mark.parametrize("case", POLICY_CASES, ids=[str(c["filter"]) for c in POLICY_CASES])
def test_negation_requires_field_true_is_the_default(case):
    resp = ad_index().query(vector=[0.3] * 8, top_k=4, filter=case["filter"])
    assert sorted(m.id for m in resp.matches) == case["match"]


@pytest.mark.parametrize("case", POLICY_CASES, ids=[str(c["filter"]) for c in POLICY_CASES])
def test_negation_requires_field_false_matches_records_lacking_the_field(case):
    index = ad_index(negation_requires_field=False)
    resp = index.query(vector=[0.3] * 8, top_k=4, filter=case["filter"])
    assert sorted(m.id for m in resp.matches) == case["alt_match"]
    index.delete(filter=case["filter"])  # delete by filter follows the same policy
    assert sorted(i for page in index.list() for i in page) == sorted({"A", "B", "C", "D"} - set(case["alt_match"]))


@pytest.mark.parametrize("key", ["__default__", ""])
def test_default_namespace_stats_key(key):
    index = new_index("stats", dimension=2, settings=None if key == "__default__" else
                      {"default_namespace_stats_key": key})
    index.upsert(vectors=[("a", [1.0, 0.0])])
    index.upsert(vectors=[("b", [1.0, 0.0])], namespace="other")
    stats = index.describe_index_stats()
    assert set(stats.namespaces) == {key, "other"}
    assert stats.namespaces[key].vector_count == 1
    assert stats.to_dict()["namespaces"][key] == {"vector_count": 1}
    assert [n.name for n in index.list_namespaces()] == ["__default__", "other"]  # names stay canonical


def test_delete_by_filter_false_rejects_and_changes_nothing():
    index = ad_index(delete_by_filter=False)
    with pytest.raises(InvalidArgumentError, match="Serverless indexes do not support delete by metadata") as info:
        index.delete(filter={"genre": "comedy"})
    assert info.value.status == 400
    assert index.describe_index_stats().total_vector_count == 4
    assert index.delete(ids=["A"]).lsn == 2  # the rejected delete took no LSN


def test_delete_by_filter_true_is_the_default():
    index = ad_index()
    index.delete(filter={"genre": "comedy"})
    assert sorted(i for page in index.list() for i in page) == ["B", "D"]


def sparse_record(nnz: int) -> dict:
    return {"id": f"n{nnz}", "sparse_values": {"indices": list(range(nnz)), "values": [1.0] * nnz}}


def test_sparse_max_nnz_default_2048():
    index = new_index("sp", vector_type="sparse")
    index.upsert(vectors=[sparse_record(2048), sparse_record(1001)])
    with pytest.raises(InvalidArgumentError, match="2048"):
        index.upsert(vectors=[sparse_record(2049)])


def test_sparse_max_nnz_1000_the_preview_limit():
    index = new_index("sp", vector_type="sparse", settings={"sparse_max_nnz": 1000})
    index.upsert(vectors=[sparse_record(1000)])
    with pytest.raises(InvalidArgumentError, match="1 to 1000") as info:
        index.upsert(vectors=[sparse_record(1001)])
    assert info.value.path == "vectors[0].sparse_values"
    with pytest.raises(InvalidArgumentError):
        index.query(sparse_vector=sparse_record(1001)["sparse_values"], top_k=1)
    with pytest.raises(InvalidArgumentError):
        index.update(id="n1000", sparse_values=sparse_record(1001)["sparse_values"])


def test_query_read_units_override_6_reproduces_the_docs_toy_value():
    index = new_index("toy", dimension=8, metric="euclidean", settings={"query_read_units_override": 6})
    index.upsert(vectors=[("vec1", [0.1] * 8)], namespace="example-namespace")
    resp = index.query(vector=[0.3] * 8, top_k=3, namespace="example-namespace")
    assert resp.usage.read_units == 6
    raw = index.usage(raw=True)
    assert raw[raw["operation"] == "query"]["read_units"].tolist() == [6.0]
    assert index.fetch(ids=["vec1"], namespace="example-namespace").usage.read_units == 1  # only queries


def test_query_read_units_formula_is_the_default():
    index = new_index("toy", dimension=8, metric="euclidean")
    index.upsert(vectors=[("vec1", [0.1] * 8)])
    assert index.query(vector=[0.3] * 8, top_k=3).usage.read_units == 1


def test_top_k_limits_are_settings():
    index = new_index("k", dimension=2, settings={"max_top_k": 5})
    index.upsert(vectors=[("a", [1.0, 0.0])])
    index.query(vector=[1.0, 0.0], top_k=5)
    with pytest.raises(InvalidArgumentError, match="between 1 and 5"):
        index.query(vector=[1.0, 0.0], top_k=6)
    sparse = new_index("ks", vector_type="sparse", settings={"sparse_max_top_k": 10_000})
    sparse.upsert(vectors=[sparse_record(3)])
    assert len(sparse.query(sparse_vector={"indices": [1], "values": [1.0]}, top_k=5000).matches) == 1


def test_max_metadata_bytes_is_a_setting():
    index = new_index("m", dimension=2, settings={"max_metadata_bytes": 40_000})
    index.upsert(vectors=[("a", [1.0, 0.0], {"m": "x" * (40_000 - 8)})])
    with pytest.raises(InvalidArgumentError, match="40000"):
        index.upsert(vectors=[("b", [1.0, 0.0], {"m": "x" * (40_000 - 7)})])


def test_keep_empty_namespaces_false_drops_them_from_list_namespaces():
    for keep, expected in ((True, ["a", "b"]), (False, ["b"])):
        index = new_index("ns", dimension=2, settings={"keep_empty_namespaces": keep})
        index.upsert(vectors=[("x", [1.0, 0.0])], namespace="a")
        index.upsert(vectors=[("x", [1.0, 0.0])], namespace="b")
        index.delete(delete_all=True, namespace="a")
        assert [n.name for n in index.list_namespaces()] == expected
        assert list(index.describe_index_stats().namespaces) == ["b"]  # stats omit empty namespaces either way


def test_query_unknown_id_raises_is_a_setting():
    index = new_index("q", dimension=2, settings={"query_unknown_id_raises": True})
    index.upsert(vectors=[("a", [1.0, 0.0])])
    with pytest.raises(NotFoundError) as info:
        index.query(id="nope", top_k=1)
    assert info.value.status == 404
    assert index.query(id="a", top_k=1).matches[0].id == "a"


def test_list_limits_are_settings():
    index = new_index("l", dimension=2, settings={"list_default_limit": 2, "list_max_limit": 3})
    index.upsert(vectors=[(f"r{i}", [1.0, 0.0]) for i in range(7)])
    assert len(index.list_paginated().vectors) == 2
    assert len(index.list_paginated(limit=50).vectors) == 3


def test_settings_objects_mappings_and_validation():
    assert toolkit.Client(settings=toolkit.Settings(delete_by_filter=False)).settings.delete_by_filter is False
    assert toolkit.Client(settings={"sparse_max_nnz": 1000}).settings.sparse_max_nnz == 1000
    assert toolkit.Settings().with_(sparse_max_nnz=7).sparse_max_nnz == 7
    with pytest.raises(InvalidArgumentError, match="unknown setting 'nope'"):
        toolkit.Client(settings={"nope": 1})
    with pytest.raises(InvalidArgumentError) as info:
        toolkit.Settings(sparse_max_nnz=0)
    assert info.value.path == "settings.sparse_max_nnz"
    with pytest.raises(InvalidArgumentError):
        toolkit.Settings(default_namespace_stats_key="default")
