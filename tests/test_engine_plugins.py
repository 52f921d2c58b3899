"""Engine-specific behaviour of the built-in plugins and the third-party plugin path."""

from __future__ import annotations

import numpy as np
import pytest

import toolkit
from plugins.annoy_engine import AnnoyBuilder, annoy_scores
from plugins.nndescent import MIN_GRAPH_ROWS, NNDescentBuilder, _query_vector, _to_euclidean
from plugins.sparse_csr import SparseCsrBuilder
from toolkit import InvalidArgumentError, Query, SlabData
from toolkit.scoring import exact_scores, exact_search

try:
    from . import plugins_tiny
except ImportError:
    import plugins_tiny


def data(n=600, dim=12, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(8, dim)) * 3
    return (centres[rng.integers(8, size=n)] + rng.normal(size=(n, dim))).astype(np.float32)


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dotproduct"])
def test_annoy_distances_map_to_the_metric_scores(metric):
    vectors = data()
    index = AnnoyBuilder(n_trees=10).build(SlabData(vectors, None), metric)
    query = Query(vectors[5] + 0.1, None)
    exact = index.search(query, 10, search_k=10**6)
    mapped = index.search(query, 10, search_k=10**6, rescore=False)
    assert exact.rows.tolist() == mapped.rows.tolist()
    want = exact_scores(query, metric, vectors[exact.rows], None)
    np.testing.assert_allclose(exact.scores, want, rtol=1e-6, atol=1e-6)  # re-scored exactly
    np.testing.assert_allclose(mapped.scores, want, rtol=1e-3, atol=1e-3)  # Annoy's own arithmetic
    assert index.nbytes > vectors.nbytes


def test_annoy_score_mapping_formulas():
    np.testing.assert_allclose(annoy_scores(np.array([0.0, np.sqrt(2), 2.0]), "cosine"), [1.0, 0.0, -1.0], atol=1e-6)
    np.testing.assert_allclose(annoy_scores(np.array([3.0]), "euclidean"), [9.0])
    np.testing.assert_allclose(annoy_scores(np.array([-2.5]), "dotproduct"), [-2.5])


def test_annoy_saves_its_file_and_loads_it_memory_mapped(tmp_path):
    vectors = data()
    slab = SlabData(vectors, None)
    builder = AnnoyBuilder(n_trees=8, seed=3)
    index = builder.build(slab, "euclidean")
    index.save(tmp_path / "engine")
    assert {p.name for p in (tmp_path / "engine").iterdir()} == {"annoy.ann", "rows.npy", "annoy.json"}
    loaded = builder.load(tmp_path / "engine", slab, "euclidean")
    for q in vectors[:20]:
        a, b = index.search(Query(q, None), 7), loaded.search(Query(q, None), 7)
        assert a.rows.tolist() == b.rows.tolist() and a.scores.tolist() == b.scores.tolist()
    assert loaded.nbytes == (tmp_path / "engine" / "annoy.ann").stat().st_size
    rebuilt = builder.load(tmp_path / "engine", slab, "cosine")  # saved for another metric: rebuilt
    assert rebuilt.metric == "cosine"
    assert builder.load(tmp_path / "nothing-here", slab, "euclidean").metric == "euclidean"


def test_annoy_search_k_trades_work_for_recall():
    vectors = data(3000, 24, seed=4)
    index = AnnoyBuilder(n_trees=4).build(SlabData(vectors, None), "euclidean")
    q = Query(vectors[0] + 0.5, None)
    truth = exact_search(q, "euclidean", 10, vectors, None).rows.tolist()
    narrow, wide = index.search(q, 10, search_k=40), index.search(q, 10, search_k=len(vectors) * 4)
    assert wide.rows.tolist() == truth
    assert narrow.distance_computations < wide.distance_computations
    # Unset, the budget is n_trees × max(k, min_candidates): it grows when the router over-fetches.
    # (count_work=False reports the budget itself, so the budget shows.)
    small, large = index.search(q, 10, count_work=False), index.search(q, 500, count_work=False)
    assert small.distance_computations - small.rows.size == 4 * 100
    assert large.distance_computations - large.rows.size == 4 * 500
    assert index.search(q, 10, min_candidates=10, count_work=False).distance_computations - 10 == 40


def test_annoy_rejects_bad_build_parameters():
    for bad in ({"n_trees": 0}, {"n_trees": True}, {"seed": -1}, {"n_jobs": 0}):
        with pytest.raises(InvalidArgumentError):
            AnnoyBuilder(**bad)


def test_the_mips_reduction_keeps_the_dot_product_order():
    vectors = data(200, 6, seed=2)
    augmented, max_sq = _to_euclidean(vectors, "dotproduct")
    assert augmented.shape == (200, 7)
    np.testing.assert_allclose((augmented.astype(np.float64) ** 2).sum(axis=1), max_sq, rtol=1e-5)
    q = np.random.default_rng(1).normal(size=6).astype(np.float32)
    by_dot = np.argsort(-(vectors @ q), kind="stable")
    by_distance = np.argsort(((augmented - _query_vector(q, "dotproduct")) ** 2).sum(axis=1), kind="stable")
    assert by_dot[:20].tolist() == by_distance[:20].tolist()
    unit, _ = _to_euclidean(vectors, "cosine")
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-6)


def test_tiny_nndescent_slabs_are_scanned_exactly_without_numba():
    vectors = data(MIN_GRAPH_ROWS - 1, 8)
    index = NNDescentBuilder().build(SlabData(vectors, None), "dotproduct")
    q = Query(vectors[3], None)
    assert index.search(q, 5).rows.tolist() == exact_search(q, "dotproduct", 5, vectors, None).rows.tolist()
    assert index.nbytes == 0


@pytest.fixture(scope="module")
def nndescent_index():
    NNDescentBuilder.warm_up()  # compiles once per process (shared with the conformance suite)
    vectors = data(1500, 16, seed=6)
    return vectors, NNDescentBuilder(n_neighbors=12).build(SlabData(vectors, None), "cosine")


def test_nndescent_saves_and_loads(nndescent_index, tmp_path):
    vectors, index = nndescent_index
    index.save(tmp_path)
    loaded = NNDescentBuilder(n_neighbors=12).load(tmp_path, SlabData(vectors, None), "cosine")
    for q in vectors[:10]:
        assert loaded.search(Query(q, None), 5).rows.tolist() == index.search(Query(q, None), 5).rows.tolist()
    assert index.nbytes > 0
    other = NNDescentBuilder(n_neighbors=12).load(tmp_path, SlabData(vectors[:300], None), "cosine")
    assert other.search(Query(vectors[0], None), 1).rows.tolist() == [0]  # did not fit: rebuilt


def test_sparse_csr_scores_hybrid_queries_exactly():
    rng = np.random.default_rng(8)
    client = toolkit.Client()
    client.create_index(name="h", dimension=6, metric="dotproduct", engine="sparse_csr")
    index = client.Index("h")
    rows = {}
    for i in range(300):
        dense = rng.normal(size=6).astype(np.float32)
        idx = np.sort(rng.choice(50, size=4, replace=False))
        val = rng.random(4).astype(np.float32)
        rows[f"h{i}"] = (dense, dict(zip(idx.tolist(), val.tolist())))
    index.upsert(vectors=[{"id": i, "values": d, "sparse_values": {"indices": list(s), "values": list(s.values())}}
                          for i, (d, s) in rows.items()], batch_size=100, show_progress=False)
    index.flush()
    assert index.describe_slabs().builder.tolist() == ["sparse_csr"]
    q, qi, qv = rng.normal(size=6).astype(np.float32), [1, 7, 20, 33], [0.5, 1.0, 0.25, 2.0]
    want = sorted(rows, key=lambda i: -(float(rows[i][0] @ q) + sum(v * rows[i][1].get(d, 0.0)
                                                                         for d, v in zip(qi, qv))))[:10]
    got = index.query(vector=q, sparse_vector={"indices": qi, "values": qv}, top_k=10)
    assert got.ids() == want
    index_csr = SparseCsrBuilder().build(SlabData(None, None), "dotproduct")
    assert index_csr.search(Query(None, None), 3).rows.size == 0


def test_a_third_party_engine_is_one_plugin_module():
    client = toolkit.Client(plugins=[plugins_tiny])
    assert "gated" in client.builders() and {"exact", "annoy", "nndescent", "sparse_csr"} <= set(client.builders())
    client.create_index(name="t", dimension=4, metric="cosine", engine={"tiers": [{"builder": "gated"}]})
    index = client.Index("t")
    index.upsert(vectors=[(f"t{i}", [1.0, float(i), 0.5, -1.0]) for i in range(20)])
    index.flush()
    assert index.describe_slabs().params.tolist() == ["gated(reach=1.0)"]
    assert index.query(vector=[1.0, 3.0, 0.5, -1.0], top_k=1).ids() == ["t3"]
    with pytest.raises(InvalidArgumentError, match="unknown slab builder 'gated'"):
        toolkit.Client().create_index(name="t", dimension=4, engine="gated")
