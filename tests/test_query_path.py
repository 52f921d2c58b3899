"""The lean query path (issue #14): its shortcuts answer exactly what the full path answers.

Compiled filters are cached by the filter's order-insensitive identity, a flat ndarray query
vector is checked in one step, and plain matches are built without the include_* branches;
each shortcut must keep the same results and the same refusals.
"""

from __future__ import annotations

import numpy as np
import pytest

import toolkit
from toolkit.errors import InvalidArgumentError


@pytest.fixture
def index() -> toolkit.Index:
    client = toolkit.Client()
    client.create_index(name="lean", dimension=4, metric="cosine", engine="exact")
    idx = client.Index("lean")
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 4)).astype(np.float32)
    idx.upsert(vectors=[{"id": f"r{i}", "values": vectors[i].tolist(),
                         "metadata": {"genre": "a" if i % 2 else "b", "year": i}} for i in range(40)])
    return idx


def test_filter_identity_ignores_key_order_but_not_types(index: toolkit.Index) -> None:
    q = [0.1, 0.2, 0.3, 0.4]
    one = index.query(vector=q, top_k=40, filter={"genre": "a", "year": {"$gte": 10}})
    # the same filter with its keys in the other order comes from the cache: one compiled object
    assert index._compile({"year": {"$gte": 10}, "genre": "a"}) is index._compile({"genre": "a", "year": {"$gte": 10}})
    other = index.query(vector=q, top_k=40, filter={"year": {"$gte": 10}, "genre": "a"})
    assert one.ids() == other.ids() and len(one.ids()) == 15
    assert all(int(i[1:]) >= 10 and int(i[1:]) % 2 for i in one.ids())
    # True == 1 in Python, not in a filter: a cached {"year": 1} must not answer {"year": True}
    assert index.query(vector=q, top_k=40, filter={"year": 1}).ids() == ["r1"]
    assert index.query(vector=q, top_k=40, filter={"year": True}).ids() == []
    # a list's order is part of the key, and the results agree anyway
    a = index.query(vector=q, top_k=40, filter={"genre": {"$in": ["a", "b"]}}).ids()
    b = index.query(vector=q, top_k=40, filter={"genre": {"$in": ["b", "a"]}}).ids()
    assert a == b and len(a) == 40


def test_bad_filters_are_refused_every_time(index: toolkit.Index) -> None:
    for _ in range(2):  # nothing about a refused filter is cached
        with pytest.raises(InvalidArgumentError, match="bogus"):
            index.query(vector=[0.1, 0.2, 0.3, 0.4], top_k=3, filter={"year": {"$bogus": 1}})
    with pytest.raises(InvalidArgumentError):  # an unhashable operand is compiled (and refused) uncached
        index.query(vector=[0.1, 0.2, 0.3, 0.4], top_k=3, filter={"year": {"$eq": {"x": [1]}}})


def test_ndarray_query_vectors_take_the_short_check(index: toolkit.Index) -> None:
    q = np.array([0.1, 0.2, 0.3, 0.4])
    as_list = index.query(vector=q.tolist(), top_k=5)
    for vector in (q, q.astype(np.float32), np.array([1, 2, 3, 4]) / 10):
        got = index.query(vector=vector, top_k=5)
        assert got.ids() == as_list.ids()
        assert [m.score for m in got.matches] == pytest.approx([m.score for m in as_list.matches])
    for bad in (np.array([0.1, np.nan, 0.3, 0.4]), np.array([0.1, np.inf, 0.3, 0.4]),
                np.array([1e39, 0.2, 0.3, 0.4])):
        with pytest.raises(InvalidArgumentError, match="finite") as err:
            index.query(vector=bad, top_k=5)
        assert err.value.path == "vector"
    with pytest.raises(InvalidArgumentError, match="dimension") as err:
        index.query(vector=np.ones(5), top_k=5)
    assert err.value.path == "vector"
    with pytest.raises(InvalidArgumentError, match="non-zero"):
        index.query(vector=np.zeros(4), top_k=5)


def test_plain_matches_equal_full_matches(index: toolkit.Index) -> None:
    q = [0.3, -0.2, 0.1, 0.5]
    plain = index.query(vector=q, top_k=7)
    full = index.query(vector=q, top_k=7, include_values=True, include_metadata=True)
    assert plain.ids() == full.ids()
    assert [m.score for m in plain.matches] == [m.score for m in full.matches]
    assert all(m.values == [] and m.metadata is None for m in plain.matches)
    assert all(len(m.values) == 4 and m.metadata is not None for m in full.matches)
