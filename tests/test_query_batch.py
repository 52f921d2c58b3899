"""``Index.query_batch`` and ``SlabIndex.search_batch``: a batch answers what one query per vector answers.

One session-scoped index per (dense builder, metric) goes through flushes, background merges,
deletes, overwrites and metadata updates, and keeps live rows in the memtable; on it every
batch (unfiltered, each filter under each strategy) must equal ``[query(v) for v in vectors]``:
the same ids in the same order, the same metadata, read units and LSN, and scores equal up
to float32 rounding of batched matrix products. PyNNDescent's numba warm-up is the shared
session fixture ``nndescent_warm`` (conftest.py); nndescent appears only in ``batch_index``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import toolkit
from toolkit.errors import InvalidArgumentError
from toolkit.scoring import METRICS, Query, SearchResult

BUILDERS = toolkit.Client().builders()
CASES = [(name, metric) for name, cls in sorted(BUILDERS.items()) if "dense" in cls.vector_types
         for metric in METRICS if metric in cls.metrics]
DIM = 16
K = 10
FILTERS = {
    "rare": {"$and": [{"m": 0}, {"c": {"$in": [1, 2]}}]},  # ~1 %: pre-filtered under "auto"
    "cluster": {"c": {"$in": [3, 4]}},  # ~10 %
    "half": {"even": True},  # ~50 %
    "updated": {"m": 99},  # a handful of records, set by update()
    "none": {"m": 12345},  # no match
}


def clustered(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, DIM)) * 2.0
    labels = rng.integers(20, size=n)
    points = centres[labels] + 0.3 * rng.normal(size=(n, DIM))
    return points.astype(np.float32), labels


@pytest.fixture(scope="session")
def batch_index(request: pytest.FixtureRequest) -> tuple[Any, dict[str, np.ndarray], dict[str, dict]]:
    """An index whose live records are spread over slabs of several levels and the memtable."""
    builder, metric = request.param
    if builder == "nndescent":
        request.getfixturevalue("nndescent_warm")
    points, labels = clustered(2600, seed=21)
    fresh, _ = clustered(2600, seed=22)  # overwrites get new vectors, never a copy of a live one
    client = toolkit.Client()
    client.create_index(name="batch", dimension=DIM, metric=metric,
                        engine={"tiers": [builder], "memtable_max_records": 300, "merge_fanout": 3})
    index = client.Index("batch")
    vectors: dict[str, np.ndarray] = {}
    metadata: dict[str, dict] = {}

    def upsert(ids: list[int], source: np.ndarray, version: int) -> None:
        records = []
        for i in ids:
            meta = {"c": int(labels[i]), "m": i % 10, "even": i % 2 == 0, "version": version}
            records.append((f"r{i}", source[i], meta))
            vectors[f"r{i}"], metadata[f"r{i}"] = source[i], meta
        index.upsert(vectors=records, batch_size=100, show_progress=False)

    upsert(list(range(2400)), points, 0)
    dead = [f"r{i}" for i in range(0, 2400, 7)]
    for start in range(0, len(dead), 1000):
        index.delete(ids=dead[start:start + 1000])
    for i in dead:
        vectors.pop(i), metadata.pop(i)
    upsert([i for i in range(1, 2400, 5) if f"r{i}" in vectors], fresh, 1)
    for i in range(3, 900, 60):
        if f"r{i}" in vectors:
            index.update(id=f"r{i}", set_metadata={"m": 99})
            metadata[f"r{i}"] = {**metadata[f"r{i}"], "m": 99}
    index.flush()
    upsert(list(range(2400, 2550)), points, 0)  # stays in the memtable
    index.delete(ids=["r2401", "r13"])
    for i in ("r2401", "r13"):
        vectors.pop(i, None), metadata.pop(i, None)
    index.wait_for_merges()
    slabs = index.describe_slabs()
    assert slabs["level"].max() >= 1 and slabs.attrs["memtables"][0]["memtable_live_rows"] > 0
    return index, vectors, metadata


def _queries(vectors: dict[str, np.ndarray], n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    matrix = np.stack(list(vectors.values()))
    picked = matrix[rng.choice(len(matrix), size=n, replace=False)]
    return (picked + 0.05 * rng.normal(size=picked.shape)).astype(np.float32)


def assert_same(batch: list[Any], single: list[Any]) -> None:
    assert len(batch) == len(single)
    for got, want in zip(batch, single):
        assert got.ids() == want.ids()
        np.testing.assert_allclose([m.score for m in got.matches], [m.score for m in want.matches],
                                   rtol=1e-5, atol=1e-6)
        assert [m.metadata for m in got.matches] == [m.metadata for m in want.matches]
        assert [m.values for m in got.matches] == [m.values for m in want.matches]
        assert got.usage == want.usage and got.namespace == want.namespace
        assert got.max_indexed_lsn == want.max_indexed_lsn


IDS = [f"{b}-{m}" for b, m in CASES]


@pytest.mark.parametrize("batch_index", CASES, indirect=True, ids=IDS)
def test_unfiltered_batch_equals_one_query_per_vector(batch_index):
    index, vectors, _ = batch_index
    queries = _queries(vectors, 40, seed=1)
    batch = index.query_batch(queries, top_k=K)
    assert_same(batch, [index.query(vector=q, top_k=K) for q in queries])
    assert all(len(r.matches) == K and all(m.id in vectors for m in r.matches) for r in batch)
    # A list of lists is accepted as well as an array, and include_values/metadata travel.
    listed = index.query_batch(queries[:5].tolist(), 3, include_values=True, include_metadata=True)
    assert_same(listed, [index.query(vector=q, top_k=3, include_values=True, include_metadata=True)
                         for q in queries[:5]])


@pytest.mark.parametrize("strategy", ["auto", "ann", "prefilter"])
@pytest.mark.parametrize("batch_index", CASES, indirect=True, ids=IDS)
def test_filtered_batch_equals_one_query_per_vector_and_returns_min_k(batch_index, strategy):
    index, vectors, metadata = batch_index
    queries = _queries(vectors, 12, seed=2)
    for name, flt in FILTERS.items():
        matching = sum(1 for i in vectors if all(_matches(metadata[i], flt)))
        batch = index.query_batch(queries, top_k=K, filter=flt, filter_strategy=strategy, include_metadata=True)
        single = [index.query(vector=q, top_k=K, filter=flt, filter_strategy=strategy, include_metadata=True)
                  for q in queries]
        assert_same(batch, single)
        for response in batch:
            assert len(response.matches) == min(K, matching), (name, strategy)
            assert all(m.metadata == metadata[m.id] for m in response.matches)


def _matches(meta: dict[str, Any], flt: dict[str, Any]) -> list[bool]:
    """The few filter shapes of FILTERS, evaluated on a record's metadata."""
    if "$and" in flt:
        return [all(_matches(meta, f)) for f in flt["$and"]]
    (field, cond), = flt.items()
    if isinstance(cond, dict):
        return [meta[field] in cond["$in"]]
    return [meta[field] == cond]


@pytest.mark.parametrize("batch_index", CASES, indirect=True, ids=IDS)
def test_engine_search_batch_equals_search_row_by_row(batch_index):
    """The SlabIndex contract, with an ``allowed`` mask passed directly (post-filtering engines too)."""
    index, vectors, _ = batch_index
    queries = _queries(vectors, 15, seed=3)
    rng = np.random.default_rng(4)
    for slab in index._namespaces["__default__"].slabs:
        assert slab.index is not None
        allowed = rng.random(len(slab)) < 0.6
        for mask in (None, allowed):
            batch = slab.index.search_batch(queries, K, mask, **dict(slab.query_params))
            for q, got in zip(queries, batch):
                want = slab.index.search(Query(q, None), K, mask, **dict(slab.query_params))
                np.testing.assert_array_equal(got.rows, want.rows)
                np.testing.assert_allclose(got.scores, want.scores, rtol=1e-5, atol=1e-6)
                if mask is not None:
                    assert mask[got.rows].all()


def test_search_params_apply_to_every_query_of_the_batch():
    client = toolkit.Client()
    client.create_index(name="p", dimension=DIM, metric="cosine",
                        engine={"tiers": ["annoy"], "memtable_max_records": 500, "background_merges": False})
    index = client.Index("p")
    points, _ = clustered(1000, seed=5)
    index.upsert(vectors=[(f"v{i}", p) for i, p in enumerate(points)], batch_size=500, show_progress=False)
    queries = points[:10] + 0.01
    for params in ({"search_k": 20}, {"rescore": False}, {"min_candidates": 5}):
        batch = index.query_batch(queries, top_k=5, search_params=params)
        assert_same(batch, [index.query(vector=q, top_k=5, search_params=params) for q in queries])
    with pytest.raises(InvalidArgumentError, match="not query parameters") as err:
        index.query_batch(queries, top_k=5, search_params={"epsilon": 0.2})
    assert err.value.path == "search_params"


class _LoopIndex(toolkit.SlabIndex):
    def search_one(self, query: Query, k: int, allowed: np.ndarray | None, params: Any) -> SearchResult:
        return SearchResult(np.array([int(query.dense[0])]), np.array([query.dense[0]], np.float32))


def test_the_default_search_batch_loops_over_search():
    results = _LoopIndex().search_batch(np.array([[3.0, 0.0], [5.0, 1.0]], np.float32), 1)
    assert [r.rows.tolist() for r in results] == [[3], [5]]


# -- validation, metering, namespaces ---------------------------------------------------------
@pytest.fixture
def small() -> Any:
    client = toolkit.Client()
    client.create_index(name="s", dimension=4, metric="cosine",
                        engine={"tiers": ["exact"], "memtable_max_records": 50, "background_merges": False})
    index = client.Index("s")
    rng = np.random.default_rng(6)
    index.upsert(vectors=[(f"v{i}", rng.normal(size=4).tolist(), {"g": i % 3}) for i in range(120)],
                 show_progress=False)
    return client, index


@pytest.mark.parametrize("vectors, kwargs, path", [
    ([[1, 0, 0, 0]], {"top_k": 0}, "top_k"),
    ([[1, 0, 0, 0]], {"top_k": True}, "top_k"),
    ([[1, 0, 0, 0]], {"top_k": 10, "filter_strategy": "fast"}, "filter_strategy"),
    ([[1, 0, 0, 0]], {"top_k": 10, "include_metadata": 1}, "include_metadata"),
    ([[1, 0, 0, 0]], {"top_k": 10, "filter": ["g"]}, "filter"),
    ([[1, 0, 0, 0], [1, 2, 3]], {"top_k": 10}, "vectors[1]"),
    ([[1, 0, 0, 0], [1, 2, float("nan"), 0]], {"top_k": 10}, "vectors[1]"),
    ([[1, 0, 0, 0], [0, 0, 0, 0]], {"top_k": 10}, "vectors[1]"),  # cosine: a zero query
    ([[1, 0, 0, "x"]], {"top_k": 10}, "vectors[0]"),
    ([], {"top_k": 10}, "vectors"),
    (np.ones(4, np.float32), {"top_k": 10}, "vectors"),  # one vector, not a batch
    ("1234", {"top_k": 10}, "vectors"),
])
def test_query_batch_validates_like_query(small, vectors, kwargs, path):
    _, index = small
    before = len(index._ledger.entries())
    with pytest.raises(InvalidArgumentError) as err:
        index.query_batch(vectors, **kwargs)
    assert err.value.path == path
    assert len(index._ledger.entries()) == before  # nothing metered


def test_query_batch_errors_match_query_errors(small):
    _, index = small
    for kwargs in ({"top_k": 0}, {"top_k": 10, "filter_strategy": "x"}):
        with pytest.raises(InvalidArgumentError) as single:
            index.query(vector=[1, 0, 0, 0], **kwargs)
        with pytest.raises(InvalidArgumentError) as batch:
            index.query_batch([[1, 0, 0, 0]], **kwargs)
        assert str(batch.value) == str(single.value)
    with pytest.raises(InvalidArgumentError) as single:
        index.query(vector=[1, 2, 3], top_k=1)
    with pytest.raises(InvalidArgumentError) as batch:
        index.query_batch([[1, 2, 3]], top_k=1)
    assert batch.value.message == single.value.message


def test_query_batch_meters_one_query_per_vector(small):
    _, index = small
    queries = np.random.default_rng(7).normal(size=(6, 4)).astype(np.float32)
    before = len(index._ledger.entries())
    responses = index.query_batch(queries, top_k=4, filter={"g": 1})
    entries = index._ledger.entries()[before:]
    singles = [index.query(vector=q, top_k=4, filter={"g": 1}) for q in queries]
    single_entries = index._ledger.entries()[before + len(queries):]
    assert len(entries) == len(queries) and all(e.operation == "query" for e in entries)
    for e, s, r, sr in zip(entries, single_entries, responses, singles):
        assert (e.read_units, e.read_units_reported, e.records) == (s.read_units, s.read_units_reported, s.records)
        assert (e.distance_computations, e.bytes_scanned) == (s.distance_computations, s.bytes_scanned)
        assert r.usage.read_units == sr.usage.read_units == e.read_units_reported and e.records == len(r.matches)
    summary = index.usage()
    assert int(summary.loc[summary.operation == "query", "requests"].iloc[0]) == 2 * len(queries)


def test_query_batch_on_an_unknown_namespace_returns_empty_responses(small):
    _, index = small
    responses = index.query_batch([[1, 0, 0, 0], [0, 1, 0, 0]], top_k=3, namespace="nowhere")
    assert [r.matches for r in responses] == [[], []]
    assert all(r.namespace == "nowhere" and r.max_indexed_lsn == 0 for r in responses)
    assert responses[0].usage == index.query(vector=[1, 0, 0, 0], top_k=3, namespace="nowhere").usage


def test_query_batch_refuses_a_sparse_index_and_points_to_query():
    client = toolkit.Client()
    client.create_index(name="sp", vector_type="sparse", metric="dotproduct")
    index = client.Index("sp")
    with pytest.raises(InvalidArgumentError, match=r"query\(sparse_vector=") as err:
        index.query_batch([[1.0]], top_k=1)
    assert err.value.path == "vectors"


def test_query_batch_response_is_a_lazy_sequence_of_query_responses(small):
    _, index = small
    queries = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]
    batch = index.query_batch(queries, top_k=2)
    singles = [index.query(vector=q, top_k=2) for q in queries]
    assert len(batch) == 3 and isinstance(batch, toolkit.responses.QueryBatchResponse)
    assert [batch.ids_of(i) for i in range(3)] == [r.ids() for r in singles]
    assert batch[-1].ids() == singles[-1].ids() and [r.ids() for r in batch[1:]] == [r.ids() for r in singles[1:]]
    assert batch[0] is batch[0]  # built once, then cached
    with pytest.raises(IndexError):
        batch[3]
    assert [r.ids() for r in batch] == [r.ids() for r in singles]  # iteration
    assert batch.to_dict()["responses"][0]["matches"][0]["id"] == singles[0].matches[0].id
    assert "QueryBatchResponse" in batch._repr_html_()
