"""Hybrid search: alpha weighting (Q7), merge-and-dedup (Q8) and additivity (Q9), search_spec §4, §9.2-9.3."""

from __future__ import annotations

import numpy as np
import pytest

import toolkit
from toolkit import hybrid_score_norm, merge_dedup
from toolkit.errors import InvalidArgumentError, ToolkitError

try:
    from .core_helpers import fixtures, new_index
except ImportError:
    from core_helpers import fixtures, new_index

HYBRID = fixtures()["hybrid_search_example"]


# --- Q7: hybrid_score_norm (D:28079-28085) ------------------------------------------------------


def test_q7_alpha_075():
    sparse_vector = {"indices": [10, 45, 16], "values": [0.5, 0.5, 0.2]}
    dense_vector = [0.1, 0.2, 0.3]
    hdense, hsparse = hybrid_score_norm(dense_vector, sparse_vector, alpha=0.75)
    assert hdense == pytest.approx([0.075, 0.15, 0.225])
    assert hsparse["indices"] == [10, 45, 16]
    assert hsparse["values"] == pytest.approx([0.125, 0.125, 0.05])
    assert sparse_vector == {"indices": [10, 45, 16], "values": [0.5, 0.5, 0.2]}  # inputs untouched


@pytest.mark.parametrize("alpha", [1.5, -0.1, float("nan")])
def test_q7_alpha_out_of_range_raises_the_documented_value_error(alpha):
    with pytest.raises(ValueError, match="^Alpha must be between 0 and 1$") as info:
        hybrid_score_norm([0.1], {"indices": [1], "values": [1.0]}, alpha=alpha)
    assert isinstance(info.value, ToolkitError) and info.value.status == 400


@pytest.mark.parametrize("alpha", [0, 1, 0.0, 1.0])
def test_q7_alpha_bounds_are_allowed(alpha):
    hdense, hsparse = hybrid_score_norm([2.0], toolkit.SparseValues([3], [4.0]), alpha=alpha)
    assert hdense == [2.0 * alpha] and hsparse == {"indices": [3], "values": [4.0 * (1 - alpha)]}


def test_q7_alpha_weighted_query_is_a_convex_combination():
    rng = np.random.default_rng(7)
    index = new_index("hyb", dimension=4, metric="dotproduct")
    records = [{"id": f"r{i}", "values": rng.standard_normal(4).tolist(),
                "sparse_values": {"indices": [1, 2, 3 + i], "values": rng.random(3).tolist()}} for i in range(6)]
    index.upsert(vectors=records)
    dense_q, sparse_q = [0.3, -0.2, 0.5, 0.1], {"indices": [1, 3, 5], "values": [1.0, 2.0, 0.5]}
    dense_only = {m.id: m.score for m in index.query(vector=dense_q, top_k=6).matches}
    both = {m.id: m.score for m in index.query(vector=dense_q, sparse_vector=sparse_q, top_k=6).matches}
    sparse_part = {i: both[i] - dense_only[i] for i in both}
    for alpha in (0.0, 0.25, 0.75, 1.0):
        hd, hs = hybrid_score_norm(dense_q, sparse_q, alpha)
        weighted = index.query(vector=hd, sparse_vector=hs, top_k=6).matches
        assert len(weighted) == 6  # alpha=0 still returns dense rows with no sparse overlap
        for m in weighted:
            assert m.score == pytest.approx(alpha * dense_only[m.id] + (1 - alpha) * sparse_part[m.id], abs=1e-5)


# --- Q8: merge and dedup (D:27484-27551) -------------------------------------------------------


def test_q8_last_wins_reproduces_the_52_id_order_exactly():
    merged = merge_dedup(HYBRID["sparse_hits"], HYBRID["dense_hits"], key="id", policy="last_wins")
    assert len(merged) == 52
    assert [h["id"] for h in merged] == HYBRID["merged_ids_in_doc_order"]
    assert merged[0]["id"] == "vec92" and merged[-1]["id"] == "vec89"


def test_q8_last_wins_keeps_the_later_lists_hit():
    merged = {h["id"]: h for h in merge_dedup(HYBRID["sparse_hits"], HYBRID["dense_hits"], key="id")}
    dense = {h["id"]: h["score"] for h in HYBRID["dense_hits"]}
    sparse = {h["id"]: h["score"] for h in HYBRID["sparse_hits"]}
    for hit_id, hit in merged.items():
        assert hit["score"] == (dense[hit_id] if hit_id in dense else sparse[hit_id])


def test_q8_default_key_and_score_fields_are_search_hit_shaped():
    h1 = [{"_id": "a", "_score": 0.5, "fields": {}}, {"_id": "b", "_score": 0.9, "fields": {}}]
    h2 = [{"_id": "a", "_score": 0.7, "fields": {"x": 1}}]
    merged = merge_dedup(h1, h2)
    assert [(h["_id"], h["_score"]) for h in merged] == [("b", 0.9), ("a", 0.7)]
    assert merged[1]["fields"] == {"x": 1}


def test_merge_by_custom_field_inside_fields():
    h1 = [{"_id": "c1", "_score": 3.0, "fields": {"doc": "d1"}}, {"_id": "c2", "_score": 1.0, "fields": {"doc": "d2"}}]
    h2 = [{"_id": "c9", "_score": 2.0, "fields": {"doc": "d1"}}]
    assert [h["_id"] for h in merge_dedup(h1, h2, key="doc")] == ["c9", "c2"]


def test_merge_max_score_policy_extension():
    merged = merge_dedup(HYBRID["sparse_hits"], HYBRID["dense_hits"], key="id", policy="max_score")
    assert len(merged) == 52
    best = {}
    for h in HYBRID["sparse_hits"] + HYBRID["dense_hits"]:
        best[h["id"]] = max(best.get(h["id"], float("-inf")), h["score"])
    assert {h["id"]: h["score"] for h in merged} == best
    assert [h["score"] for h in merged] == sorted(best.values(), reverse=True)


def test_merge_rrf_policy_extension():
    merged = merge_dedup([{"id": "a", "score": 9}, {"id": "b", "score": 8}],
                         [{"id": "b", "score": 0.9}, {"id": "c", "score": 0.1}], key="id", policy="rrf")
    assert [h["id"] for h in merged] == ["b", "a", "c"]
    assert merged[0]["score"] == pytest.approx(1 / 62 + 1 / 61)
    assert merged[1]["score"] == pytest.approx(1 / 61)


def test_merge_accepts_query_matches():
    index = new_index("mm", dimension=2, metric="dotproduct")
    index.upsert(vectors=[("a", [1, 0]), ("b", [0, 1]), ("c", [1, 1])])
    r1 = index.query(vector=[1, 0], top_k=2).matches
    r2 = index.query(vector=[0, 3], top_k=2).matches
    merged = merge_dedup(r1, r2, key="id", policy="max_score")
    # ties keep first-seen order: c was seen (in r1) before b
    assert [(m.id, m.score) for m in merged] == [("c", 3.0), ("b", 3.0), ("a", 1.0)]
    fused = merge_dedup(r1, r2, key="id", policy="rrf")
    assert [m.id for m in fused] == ["c", "a", "b"]  # c is in both lists
    assert all(isinstance(m, type(r1[0])) for m in fused)
    assert [(m.id, m.score) for m in r1] == [("a", 1.0), ("c", 1.0)]  # inputs unchanged


def test_merge_errors_are_400():
    with pytest.raises(InvalidArgumentError, match="policy"):
        merge_dedup([], policy="best")
    with pytest.raises(InvalidArgumentError, match="key field 'id'"):
        merge_dedup([{"_id": "a", "_score": 1.0}], key="id")


# --- Q9: single-index additivity (D:28047, §4.2) -----------------------------------------------


def test_q9_documented_hybrid_scores_are_dense_plus_sparse():
    dense = {h["id"]: h["score"] for h in HYBRID["dense_hits"]}
    sparse = {h["id"]: h["score"] for h in HYBRID["sparse_hits"]}
    hybrid = {h["id"]: h["score"] for h in HYBRID["single_hybrid_index_matches"]}
    shared = set(dense) & set(sparse) & set(hybrid)
    assert len(shared) == 28
    deviations = [abs(hybrid[i] - (dense[i] + sparse[i])) for i in shared]
    assert max(deviations) <= 1e-3
    assert HYBRID["single_hybrid_index_matches"][0] == {"id": "vec35", "score": 7.92519569}


@pytest.mark.parametrize("flushed", [False, True], ids=["memtable", "slab"])
def test_q9_hybrid_index_score_is_dense_dot_plus_sparse_dot(flushed):
    rng = np.random.default_rng(11)
    dense_index = new_index("hyb-dense", dimension=8, metric="dotproduct")
    sparse_only = new_index("hyb-sparse", vector_type="sparse")
    records = []
    for i in range(30):
        indices = sorted(rng.choice(50, size=5, replace=False).tolist())
        records.append({"id": f"vec{i}", "values": rng.standard_normal(8).tolist(),
                        "sparse_values": {"indices": indices, "values": rng.random(5).tolist()}})
    dense_index.upsert(vectors=records)
    sparse_only.upsert(vectors=[{"id": r["id"], "sparse_values": r["sparse_values"]} for r in records])
    if flushed:
        dense_index.flush()
        sparse_only.flush()
    q_dense = rng.standard_normal(8).tolist()
    q_sparse = {"indices": list(range(0, 50, 3)), "values": [1.0] * 17}
    d = {m.id: m.score for m in dense_index.query(vector=q_dense, top_k=30).matches}
    s = {m.id: m.score for m in sparse_only.query(sparse_vector=q_sparse, top_k=30).matches}
    hybrid = dense_index.query(vector=q_dense, sparse_vector=q_sparse, top_k=30).matches
    assert len(hybrid) == 30
    for m in hybrid:
        assert m.score == pytest.approx(d[m.id] + s.get(m.id, 0.0), abs=1e-5)
    assert [m.score for m in hybrid] == sorted((m.score for m in hybrid), reverse=True)


def test_hybrid_rules():
    cosine = new_index("hyb-cos", dimension=2, metric="cosine")
    cosine.upsert(vectors=[{"id": "a", "values": [1, 0], "sparse_values": {"indices": [1], "values": [1.0]}}])
    with pytest.raises(InvalidArgumentError, match="dotproduct"):  # D:27754: upsert succeeds, query fails
        cosine.query(vector=[1, 0], sparse_vector={"indices": [1], "values": [1.0]}, top_k=1)
    dot = new_index("hyb-dot", dimension=2, metric="dotproduct")
    dot.upsert(vectors=[{"id": "a", "values": [1, 0], "sparse_values": {"indices": [1], "values": [1.0]}}])
    with pytest.raises(InvalidArgumentError, match="sparse-only"):  # D:26802
        dot.query(sparse_vector={"indices": [1], "values": [1.0]}, top_k=1)
