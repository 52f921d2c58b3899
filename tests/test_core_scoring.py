"""Search conformance: the spec's scoring examples replayed through the public API.

search_spec §9.2 (Q5 sparse, Q6 euclidean), §9.5 (the A–D dataset per metric, D2 Pinecone
Local, D3 fewer than top_k, D4 zero-score discard, D5 query by id) and the §2.1 scoring
rules (float32 scores, best first, ties by id).
"""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.errors import FilterError, InvalidArgumentError

try:
    from .core_helpers import assert_ranked, fixtures, new_index, tie_groups
except ImportError:
    from core_helpers import assert_ranked, fixtures, new_index, tie_groups

FIX = fixtures()
SPARSE = FIX["sparse_query_example"]
EUCLID = FIX["euclidean_query_example"]
AD = FIX["ad_filter_dataset_DERIVED"]


def sparse_index(records=None, engine=None):
    index = new_index("sparse", vector_type="sparse", engine=engine)
    index.upsert(vectors=records or SPARSE["records"], namespace="example-namespace")
    return index


def ad_index(metric: str, **kwargs):
    index = new_index(f"ad-{metric}", dimension=AD["dimension"], metric=metric, **kwargs)
    index.upsert(vectors=AD["records"])
    return index


# --- Q5: sparse dot product, exact (D:28524-28533, D:28690-28718) ----------------------------


@pytest.mark.parametrize("flushed", [False, True], ids=["memtable", "slab"])
def test_q5_sparse_query_scores_match_the_docs(flushed):
    index = sparse_index()
    if flushed:
        index.flush()
    resp = index.query(**SPARSE["query"])
    assert [m.id for m in resp.matches] == ["vec2", "vec3", "vec1"]
    assert_ranked(resp.matches, [(m["id"], m["score"]) for m in SPARSE["expected_matches"]])
    for match in resp.matches:
        assert match.values == []  # include_values=False
        assert match.sparse_values is None
        assert set(match.metadata) == {"category", "quarter"}
    assert resp.namespace == "example-namespace"


def test_q5_derived_vec4_is_fourth():
    index = sparse_index()
    resp = index.query(**{**SPARSE["query"], "top_k": 4})
    assert [m.id for m in resp.matches] == ["vec2", "vec3", "vec1", "vec4"]
    assert resp.matches[3].score == pytest.approx(SPARSE["derived_vec4_score"], abs=1e-6)


def test_q5_scores_are_float32_sums():
    index = sparse_index()
    top = index.query(**SPARSE["query"]).matches[0]
    terms = np.array([5.6015625, 2.4863281, 2.2558594, 0.5605469], dtype=np.float32)
    assert top.score == pytest.approx(float(terms.sum(dtype=np.float32)), abs=1e-6)
    assert top.score == pytest.approx(10.9042969, abs=1e-6)


def test_q5_sparse_query_with_filter_quarter_q4_top_k_1():
    index = sparse_index()
    resp = index.query(sparse_vector=SPARSE["query"]["sparse_vector"], top_k=1, namespace="example-namespace",
                       filter={"quarter": {"$eq": "Q4"}})
    assert [m.id for m in resp.matches] == ["vec2"]
    assert resp.matches[0].score == pytest.approx(10.9042969, abs=1e-6)


def test_q5_include_values_returns_sparse_values_and_empty_dense_values():
    index = sparse_index()
    match = index.query(**{**SPARSE["query"], "include_values": True}).matches[0]
    record = next(r for r in SPARSE["records"] if r["id"] == "vec2")
    assert match.values == []
    order = np.argsort(record["sparse_values"]["indices"])
    assert match.sparse_values.indices == list(np.asarray(record["sparse_values"]["indices"])[order])
    assert np.allclose(match.sparse_values.values, np.asarray(record["sparse_values"]["values"])[order])


# --- Q6: euclidean = squared distance, ascending (R:1590-1613) -------------------------------


def euclid_index(extra_distance_zero: bool = True):
    index = new_index("euclid", dimension=8, metric="euclidean")
    records = [(m["id"], m["values"], {"genre": "documentary"}) for m in EUCLID["expected_matches"]]
    if extra_distance_zero:  # same vector as the query, but filtered out
        records.append(("vec1", [0.3] * 8, {"genre": "drama"}))
    index.upsert(vectors=records, namespace="example-namespace")
    return index


@pytest.mark.parametrize("flushed", [False, True], ids=["memtable", "slab"])
def test_q6_euclidean_example(flushed):
    index = euclid_index()
    if flushed:
        index.flush()
    resp = index.query(**EUCLID["query"])
    expected = [(m["id"], m["score"]) for m in EUCLID["expected_matches"]]
    assert_ranked(resp.matches, expected)
    assert resp.matches[0].id == "vec3" and resp.matches[0].score == 0
    assert tie_groups(resp.matches) == [{"vec3"}, {"vec2", "vec4"}]  # 0.0800000429 vs 0.0799999237: a tie
    for match, want in zip(sorted(resp.matches, key=lambda m: m.id),
                           sorted(EUCLID["expected_matches"], key=lambda m: m["id"])):
        assert np.allclose(match.values, want["values"])
    assert resp.namespace == "example-namespace"


def test_q6_filtered_out_distance_zero_record_is_excluded():
    index = euclid_index()
    resp = index.query(**EUCLID["query"])
    assert "vec1" not in [m.id for m in resp.matches]
    unfiltered = index.query(**{**EUCLID["query"], "filter": None})
    assert {m.id for m in unfiltered.matches[:2]} == {"vec1", "vec3"}  # both at distance 0; ties by id
    assert [m.id for m in unfiltered.matches[:2]] == ["vec1", "vec3"]


def test_q6_score_is_squared_distance_not_its_root():
    index = euclid_index(extra_distance_zero=False)
    resp = index.query(vector=[0.0] * 7 + [1.0], top_k=1, namespace="example-namespace")
    v = np.full(8, 0.2, np.float32)
    q = np.array([0] * 7 + [1], np.float32)
    assert resp.matches[0].id == "vec2"
    assert resp.matches[0].score == pytest.approx(float(((v - q) ** 2).sum()), rel=1e-6)


# --- §9.5: the A–D dataset (D:6932-6956), scores per metric -----------------------------------


@pytest.mark.parametrize("flushed", [False, True], ids=["memtable", "slab"])
def test_ad_dotproduct_scores(flushed):
    index = ad_index("dotproduct")
    if flushed:
        index.flush()
    resp = index.query(vector=[0.3] * 8, top_k=4)
    assert [m.id for m in resp.matches] == ["D", "C", "B", "A"]
    assert_ranked(resp.matches, [("D", 0.96), ("C", 0.72), ("B", 0.48), ("A", 0.24)])


@pytest.mark.parametrize("flushed", [False, True], ids=["memtable", "slab"])
def test_ad_euclidean_scores_with_b_d_near_tie(flushed):
    index = ad_index("euclidean")
    if flushed:
        index.flush()
    resp = index.query(vector=[0.3] * 8, top_k=4)
    assert resp.matches[0].id == "C" and resp.matches[0].score == 0
    assert {resp.matches[1].id, resp.matches[2].id} == {"B", "D"}
    assert resp.matches[3].id == "A"
    assert_ranked(resp.matches, [("C", 0.0), ("B", 0.08), ("D", 0.08), ("A", 0.32)])


def test_ad_cosine_scores_are_all_one():
    index = ad_index("cosine")
    resp = index.query(vector=[0.3] * 8, top_k=4)
    assert {m.id for m in resp.matches} == {"A", "B", "C", "D"}
    assert all(m.score == pytest.approx(1.0, abs=1e-6) for m in resp.matches)


def test_scores_are_float32_values():
    index = ad_index("dotproduct")
    for m in index.query(vector=[0.3] * 8, top_k=4).matches:
        assert isinstance(m.score, float)
        assert float(np.float32(m.score)) == m.score


_CASES = [c for c in AD["filter_cases"] if "error" not in c]
_ERRORS = [c for c in AD["filter_cases"] if "error" in c]


@pytest.mark.parametrize("case", _CASES, ids=[str(c["filter"]) + (" [negation_requires_field=True]" if "policy" in c
                                                                    else "") for c in _CASES])
def test_ad_filter_cases_through_query(case):
    index = ad_index("dotproduct")
    resp = index.query(vector=[0.3] * 8, top_k=4, filter=case["filter"])
    assert sorted(m.id for m in resp.matches) == sorted(case["match"])


@pytest.mark.parametrize("case", _ERRORS, ids=[str(c["filter"]) for c in _ERRORS])
def test_ad_invalid_filters_are_400(case):
    index = ad_index("dotproduct")
    with pytest.raises(FilterError) as info:
        index.query(vector=[0.3] * 8, top_k=4, filter=case["filter"])
    assert isinstance(info.value, InvalidArgumentError)
    assert info.value.status == 400 and info.value.code == "INVALID_ARGUMENT"


def test_list_field_cases_through_query():
    cases = AD["list_field_cases_QUOTED_26747_26779"]
    index = new_index("lists", dimension=2, metric="dotproduct")
    index.upsert(vectors=[("r", [1.0, 0.0], cases["metadata"])])
    for f in cases["match"]:
        assert [m.id for m in index.query(vector=[1, 0], top_k=1, filter=f).matches] == ["r"], f
    for f in cases["no_match"]:
        assert index.query(vector=[1, 0], top_k=1, filter=f).matches == [], f
    for f in cases["compile_error"]:
        with pytest.raises(FilterError):
            index.query(vector=[1, 0], top_k=1, filter=f)


# --- D2: the Pinecone Local example (D:20652-20745) ------------------------------------------


def local_dense():
    index = new_index("local-dense", dimension=2, metric="cosine")
    index.upsert(vectors=[
        {"id": "vec1", "values": [1.0, -2.5], "metadata": {"genre": "drama"}},
        {"id": "vec2", "values": [3.0, -2.0], "metadata": {"genre": "documentary"}},
        {"id": "vec3", "values": [0.5, -1.5], "metadata": {"genre": "documentary"}},
    ], namespace="example-namespace")
    return index


def test_d2_local_dense_filtered_top_1():
    resp = local_dense().query(vector=[3.0, -2.0], top_k=1, namespace="example-namespace",
                               filter={"genre": {"$eq": "documentary"}}, include_values=True)
    assert [m.id for m in resp.matches] == ["vec2"]
    assert resp.matches[0].score == pytest.approx(1.0, abs=1e-6)
    assert resp.matches[0].values == [3.0, -2.0]


def test_d2_local_dense_filtered_top_3_excludes_vec1():
    resp = local_dense().query(vector=[3.0, -2.0], top_k=3, namespace="example-namespace",
                               filter={"genre": {"$eq": "documentary"}})
    assert_ranked(resp.matches, [("vec2", 1.0), ("vec3", 0.7893522)])


def test_d2_local_dense_unfiltered_order():
    resp = local_dense().query(vector=[3.0, -2.0], top_k=3, namespace="example-namespace")
    assert_ranked(resp.matches, [("vec2", 1.0), ("vec1", 0.8240419), ("vec3", 0.7893522)])


def test_d2_local_sparse_part():
    index = sparse_index([r for r in SPARSE["records"] if r["id"] != "vec4"])
    resp = index.query(sparse_vector=SPARSE["query"]["sparse_vector"], top_k=1, namespace="example-namespace",
                       filter={"quarter": {"$eq": "Q4"}}, include_metadata=True)
    assert [m.id for m in resp.matches] == ["vec2"]
    assert resp.matches[0].score == pytest.approx(10.9042969, abs=1e-6)
    assert resp.matches[0].metadata == {"category": "technology", "quarter": "Q4"}


# --- D3: pre-filter, fewer than top_k (D:26355-26360) ----------------------------------------


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dotproduct"])
def test_d3_filtered_query_returns_only_matching_records(metric):
    index = new_index("d3", dimension=4, metric=metric)
    categories = ["digestive system", "immune system", "endocrine system", "nervous system"]
    index.upsert(vectors=[(f"rec{i + 1}", [1.0 + i, 0.5, -1.0, 2.0 - i], {"category": c})
                          for i, c in enumerate(categories)])
    for q in ([1, 1, 1, 1], [-3, 0.1, 2, 0], [0, 0, 0, 1]):
        resp = index.query(vector=q, top_k=3, filter={"category": "digestive system"})
        assert [m.id for m in resp.matches] == ["rec1"]


# --- D4: a sparse index discards zero-score matches (D:6461) ---------------------------------


@pytest.mark.parametrize("flushed", [False, True], ids=["memtable", "slab"])
def test_d4_no_overlap_returns_no_matches(flushed):
    index = sparse_index()
    if flushed:
        index.flush()
    resp = index.query(sparse_vector={"indices": [1, 2, 3], "values": [1.0, 1.0, 1.0]}, top_k=3,
                       namespace="example-namespace")
    assert resp.matches == []


def test_d4_partial_overlap_returns_fewer_than_top_k():
    index = sparse_index()
    only_vec2 = 4283091697  # shared by vec2 and vec3
    resp = index.query(sparse_vector={"indices": [131900689, 592326839], "values": [1.0, 1.0]}, top_k=4,
                       namespace="example-namespace")
    assert {m.id for m in resp.matches} == {"vec2", "vec4"}  # 131900689 is in vec2 and vec4 only
    resp = index.query(sparse_vector={"indices": [only_vec2], "values": [1.0]}, top_k=4,
                       namespace="example-namespace")
    assert {m.id for m in resp.matches} == {"vec2", "vec3"}


def test_d4_negative_scores_are_kept_only_zero_is_dropped():
    index = new_index("signed", vector_type="sparse")
    index.upsert(vectors=[{"id": "neg", "sparse_values": {"indices": [1], "values": [-2.0]}},
                          {"id": "pos", "sparse_values": {"indices": [1], "values": [3.0]}},
                          {"id": "none", "sparse_values": {"indices": [2], "values": [3.0]}}])
    resp = index.query(sparse_vector={"indices": [1], "values": [1.0]}, top_k=3)
    assert [(m.id, m.score) for m in resp.matches] == [("pos", 3.0), ("neg", -2.0)]


def test_dense_index_keeps_zero_score_matches():
    index = new_index("zeros", dimension=2, metric="dotproduct")
    index.upsert(vectors=[("a", [1.0, 0.0]), ("b", [0.0, 1.0]), ("c", [0.0, 2.0])])
    resp = index.query(vector=[1.0, 0.0], top_k=3)
    assert [(m.id, m.score) for m in resp.matches] == [("a", 1.0), ("b", 0.0), ("c", 0.0)]


# --- D5: query by id ---------------------------------------------------------------------------


@pytest.mark.parametrize("flushed", [False, True], ids=["memtable", "slab"])
def test_d5_query_by_id_returns_the_record_first_with_score_0(flushed):
    index = ad_index("euclidean")
    if flushed:
        index.flush()
    resp = index.query(id="C", top_k=2)
    assert resp.matches[0].id == "C"
    assert resp.matches[0].score == 0


@pytest.mark.parametrize("metric,score", [("cosine", 1.0), ("dotproduct", 0.72)])
def test_d5_query_by_id_scores_the_record_itself(metric, score):
    # A-D are parallel, so cosine ties all four at 1.0 and dotproduct ranks D (0.96) above C:
    # restrict to C's genre-mates to see C's own score.
    index = ad_index(metric)
    resp = index.query(id="C", top_k=4, filter={"genre": "comedy"})
    assert "C" in [m.id for m in resp.matches]
    assert next(m for m in resp.matches if m.id == "C").score == pytest.approx(score, abs=1e-6)


def test_d5_query_by_id_equals_query_by_its_vector():
    index = ad_index("euclidean")
    by_id = index.query(id="B", top_k=4, include_values=True)
    by_vector = index.query(vector=[0.2] * 8, top_k=4, include_values=True)
    assert by_id.to_dict()["matches"] == by_vector.to_dict()["matches"]


def test_d5_query_by_unknown_id_returns_no_matches():
    index = ad_index("cosine")
    assert index.query(id="nope", top_k=3).matches == []
    assert index.query(id="A", top_k=3, namespace="other").matches == []


def test_query_by_id_on_sparse_index_uses_the_sparse_vector():
    index = sparse_index()
    resp = index.query(id="vec1", top_k=4, namespace="example-namespace")
    assert resp.matches[0].id == "vec1"
    record = next(r for r in SPARSE["records"] if r["id"] == "vec1")
    self_dot = float(np.sum(np.square(np.asarray(record["sparse_values"]["values"], np.float32))))
    assert resp.matches[0].score == pytest.approx(self_dot, rel=1e-6)


# --- ordering rules ----------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dotproduct"])
@pytest.mark.parametrize("flushed", [False, True], ids=["memtable", "slab"])
def test_exact_ties_break_by_id_bytewise(metric, flushed):
    index = new_index("ties", dimension=2, metric=metric)
    ids = ["b", "B", "a10", "a1", "a2", "_"]
    index.upsert(vectors=[(i, [1.0, 2.0]) for i in ids] + [("far", [-5.0, 1.0])])
    if flushed:
        index.flush()
    resp = index.query(vector=[1.0, 2.0], top_k=7)
    assert [m.id for m in resp.matches] == sorted(ids) + ["far"]
    assert len({m.score for m in resp.matches[:-1]}) == 1


def test_ties_break_by_id_across_memtable_and_slabs():
    index = new_index("ties2", dimension=2, metric="dotproduct", engine={"memtable_max_records": 2})
    for i in ["e", "c", "a", "d", "b"]:  # each memtable of 2 becomes a slab
        index.upsert(vectors=[(i, [1.0, 1.0])])
    resp = index.query(vector=[1.0, 1.0], top_k=3)
    assert [m.id for m in resp.matches] == ["a", "b", "c"]


def test_dotproduct_descending_and_euclidean_ascending():
    for metric, best_first in (("dotproduct", True), ("euclidean", False), ("cosine", True)):
        index = new_index(f"order-{metric}", dimension=3, metric=metric)
        rng = np.random.default_rng(5)
        index.upsert(vectors=[(f"r{i}", rng.standard_normal(3)) for i in range(50)])
        scores = [m.score for m in index.query(vector=[0.5, -1, 2], top_k=50).matches]
        assert scores == sorted(scores, reverse=best_first)


def test_cosine_multitenancy_example():
    # dataplane_spec §13 (S3:L5285-5305): tenant2 holds E-H = [0.5]*8 .. [0.8]*8; query [0.7]*8, top_k 3
    # answers F, G, E with scores ≈ 1 (parallel vectors: a tie, so only the set size and scores are fixed).
    index = new_index("tenants", dimension=8, metric="cosine")
    index.upsert(vectors=[(i, [v] * 8) for i, v in zip("ABCD", (0.1, 0.2, 0.3, 0.4))], namespace="tenant1")
    index.upsert(vectors=[(i, [v] * 8) for i, v in zip("EFGH", (0.5, 0.6, 0.7, 0.8))], namespace="tenant2")
    resp = index.query(vector=[0.7] * 8, top_k=3, namespace="tenant2")
    assert len(resp.matches) == 3 and {m.id for m in resp.matches} <= set("EFGH")
    assert all(m.score == pytest.approx(1.0, abs=1e-6) for m in resp.matches)
    assert resp.namespace == "tenant2"


def test_top_candidates_keeps_every_row_tied_with_the_kth():
    from toolkit.scoring import top_candidates

    rng = np.random.default_rng(0)
    for _ in range(3000):
        n, k = int(rng.integers(1, 30)), int(rng.integers(1, 35))
        keys = rng.integers(0, 6, n).astype(np.float32)
        keys[rng.random(n) < 0.2] = np.inf  # filtered-out rows
        finite = np.flatnonzero(np.isfinite(keys))
        if finite.size <= k:
            want = set(finite.tolist())
        else:
            kth = np.sort(keys[finite])[k - 1]
            want = set(np.flatnonzero(keys <= kth).tolist())
        got = top_candidates(keys, k)
        assert set(got.tolist()) == want
        assert (np.diff(keys[got]) >= 0).all()
