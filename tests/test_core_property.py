"""Model-based property test: random write/flush/read sequences against a plain dict model.

A small index with a tiny memtable (so records move through slabs and merges constantly) must
behave exactly like ``dict[id] -> (vector, metadata)``: the same records visible, the same
fetch results, and queries equal to brute force with ties broken by id bytewise, a filtered
query returning exactly min(top_k, matching records).

Vectors hold small integers, so dotproduct and euclidean scores are exact in float32 and the
comparison can be exact; cosine involves square roots, so it is compared with a tolerance.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

try:
    from .core_helpers import new_index
except ImportError:
    from core_helpers import new_index

DIM = 3
IDS = ["a", "a1", "a10", "a2", "B", "b", "c", "c0", "d", "e", "f", "~"]
ENGINE = {"memtable_max_records": 3, "merge_fanout": 2, "background_merges": False}

# (filter, the same predicate in Python over a metadata dict or None)
FILTERS: list[tuple[dict[str, Any] | None, Callable[[dict | None], bool]]] = [
    (None, lambda m: True),
    ({"color": "red"}, lambda m: bool(m) and m.get("color") == "red"),
    ({"n": {"$gte": 2}}, lambda m: bool(m) and "n" in m and m["n"] >= 2),
    ({"color": {"$ne": "red"}}, lambda m: bool(m) and "color" in m and m["color"] != "red"),  # field required
    ({"$or": [{"color": "blue"}, {"n": {"$lt": 1}}]},
     lambda m: bool(m) and (m.get("color") == "blue" or ("n" in m and m["n"] < 1))),
    ({"n": {"$in": [0, 3]}, "color": {"$exists": True}}, lambda m: bool(m) and m.get("n") in (0, 3) and "color" in m),
]

ids = st.sampled_from(IDS)
vectors = st.lists(st.integers(-3, 3), min_size=DIM, max_size=DIM).filter(any)
metadata = st.one_of(
    st.none(),
    st.fixed_dictionaries({}, optional={"color": st.sampled_from(["red", "blue"]), "n": st.integers(0, 3)}),
)
filters = st.integers(0, len(FILTERS) - 1)
delete_filters = st.integers(1, len(FILTERS) - 1)
top_ks = st.integers(1, len(IDS) + 1)

operations = st.one_of(
    st.tuples(st.just("upsert"), st.lists(st.tuples(ids, vectors, metadata), min_size=1, max_size=5)),
    st.tuples(st.just("update"), ids, st.one_of(st.none(), vectors), metadata),
    st.tuples(st.just("delete"), st.lists(ids, min_size=1, max_size=4)),
    st.tuples(st.just("delete_filter"), delete_filters),
    st.tuples(st.just("delete_all")),
    st.tuples(st.just("flush")),
    st.tuples(st.just("compact")),
    st.tuples(st.just("query"), vectors, top_ks, filters),
    st.tuples(st.just("query_id"), ids, top_ks, filters),
)


def score(metric: str, v: list[int], q: list[int]) -> float:
    v64, q64 = np.asarray(v, np.float64), np.asarray(q, np.float64)
    if metric == "euclidean":
        return float(((v64 - q64) ** 2).sum())
    if metric == "cosine":
        return float(v64 @ q64 / (np.linalg.norm(v64) * np.linalg.norm(q64)))
    return float(v64 @ q64)


def brute_force(model: dict, metric: str, q: list[int], k: int, predicate) -> list[tuple[str, float]]:
    """Top k of the model, ranked like the toolkit: metric order, then id bytewise."""
    sign = 1 if metric == "euclidean" else -1
    scored = [(i, score(metric, v, q)) for i, (v, m) in model.items() if predicate(m)]
    scored.sort(key=lambda p: (sign * p[1], p[0].encode()))
    return scored[:k]


def check_query(metric: str, matches, expected: list[tuple[str, float]], model: dict, q, predicate) -> None:
    assert len(matches) == len(expected)  # exactly min(top_k, matching records)
    if metric != "cosine":  # exact arithmetic: exact ranking, ties by id
        assert [(m.id, m.score) for m in matches] == expected
        return
    allowed = {i: score(metric, v, q) for i, (v, m) in model.items() if predicate(m)}
    for m in matches:
        assert m.id in allowed and m.score == pytest.approx(allowed[m.id], abs=1e-6)
    got = [m.score for m in matches]
    assert all(a >= b - 1e-6 for a, b in zip(got, got[1:]))  # best first
    if matches:  # no better allowed record was left out
        left_out = [s for i, s in allowed.items() if i not in {m.id for m in matches}]
        assert all(s <= got[-1] + 1e-6 for s in left_out)
    assert len({m.id for m in matches}) == len(matches)


def check_state(index, model: dict) -> None:
    listed = [i for page in index.list() for i in page]
    assert listed == sorted(model, key=str.encode)
    fetched = index.fetch(ids=IDS).vectors
    assert set(fetched) == set(model)
    for record_id, (values, meta) in model.items():
        assert fetched[record_id].values == [float(x) for x in values]
        assert fetched[record_id].metadata == (meta or None)
    assert index.describe_index_stats().total_vector_count == len(model)


def run(metric: str, ops: list) -> None:
    index = new_index("prop", dimension=DIM, metric=metric, engine=ENGINE)
    model: dict[str, tuple[list[int], dict | None]] = {}
    last_lsn = 0
    for op in ops:
        kind = op[0]
        if kind == "upsert":
            resp = index.upsert(vectors=[(i, v, m) if m is not None else (i, v) for i, v, m in op[1]])
            for i, v, m in op[1]:
                model[i] = (v, dict(m) if m else None)
            assert resp.lsn == last_lsn + 1
            last_lsn = resp.lsn
        elif kind == "update":
            _, record_id, values, meta = op
            if values is None and meta is None:
                continue
            resp = index.update(id=record_id, values=values, set_metadata=meta)
            if record_id in model:
                old_values, old_meta = model[record_id]
                merged = {**(old_meta or {}), **(meta or {})}
                model[record_id] = (values if values is not None else old_values, merged or None)
            if resp.lsn is not None:
                assert resp.lsn == last_lsn + 1
                last_lsn = resp.lsn
        elif kind == "delete":
            resp = index.delete(ids=op[1])
            for i in op[1]:
                model.pop(i, None)
            if resp.lsn is not None:
                last_lsn = resp.lsn
        elif kind == "delete_filter":
            flt, predicate = FILTERS[op[1]]
            resp = index.delete(filter=flt)
            for i in [i for i, (_, m) in model.items() if predicate(m)]:
                del model[i]
            if resp.lsn is not None:
                last_lsn = resp.lsn
        elif kind == "delete_all":
            resp = index.delete(delete_all=True)
            model.clear()
            if resp.lsn is not None:
                last_lsn = resp.lsn
        elif kind == "flush":
            index.flush()
        elif kind == "compact":
            index.compact()
        elif kind == "query":
            _, q, k, f = op
            flt, predicate = FILTERS[f]
            resp = index.query(vector=q, top_k=k, filter=flt)
            check_query(metric, resp.matches, brute_force(model, metric, q, k, predicate), model, q, predicate)
            assert resp.max_indexed_lsn == last_lsn
        elif kind == "query_id":
            _, record_id, k, f = op
            flt, predicate = FILTERS[f]
            resp = index.query(id=record_id, top_k=k, filter=flt)
            if record_id not in model:
                assert resp.matches == []
            else:
                q = model[record_id][0]
                check_query(metric, resp.matches, brute_force(model, metric, q, k, predicate), model, q, predicate)
        check_state(index, model)


@pytest.mark.parametrize("metric", ["dotproduct", "euclidean", "cosine"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(operations, min_size=1, max_size=30))
def test_index_behaves_like_a_dict_model(metric, ops):
    run(metric, ops)


def test_model_runner_catches_a_wrong_answer(monkeypatch):
    """The property can fail: break the router's tie-break and the runner notices."""
    from toolkit import view

    original = view.View.search

    def reversed_search(self, *args, **kwargs):
        found, stats = original(self, *args, **kwargs)
        return list(reversed(found)), stats

    monkeypatch.setattr(view.View, "search", reversed_search)
    with pytest.raises(AssertionError):
        run("dotproduct", [("upsert", [("a", [1, 0, 0], None), ("b", [2, 0, 0], None)]),
                           ("query", [1, 0, 0], 2, 0)])
