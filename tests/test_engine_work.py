"""True work: each engine's ``distance_computations`` and ``bytes_scanned`` checked against an
independent count on small data (#18), and the one exact kernel every engine scores with.

- exact: rows scanned == the allowed rows it gathers (or every row when it masks);
- sparse_csr: nonzeros touched == the sum of the posting lengths of the query's dimensions,
  counted here from the raw rows;
- annoy: Annoy's distinct candidates, checked against what its documented traversal implies
  (the whole forest when ``search_k`` covers it; with one tree, ``search_k`` leaf items plus at
  most one leaf's overshoot);
- nndescent: PyNNDescent's visited set, checked against a counting distance function run
  through the library's own search on the same graph (one extra numba compile, ~15 s).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from plugins.annoy_engine import AnnoyBuilder
from plugins.exact import ExactBuilder
from plugins.nndescent import NNDescentBuilder, visited_count
from plugins.sparse_csr import SparseCsrBuilder
from toolkit.plugin import SPARSE_ENTRY_BYTES, ExactKernel, Query, SlabData, Sparse, SparseRows, work_counting
from toolkit.scoring import exact_search, exact_search_batch


def clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(8, dim)) * 3
    return (centres[rng.integers(8, size=n)] + rng.normal(size=(n, dim))).astype(np.float32)


def sparse_rows(n: int, vocabulary: int, seed: int = 1) -> tuple[list[dict[int, float]], SparseRows]:
    rng = np.random.default_rng(seed)
    raw = []
    for _ in range(n):
        size = int(rng.integers(0, 6))
        idx = np.sort(rng.choice(vocabulary, size=size, replace=False))
        raw.append({int(i): float(v) for i, v in zip(idx, rng.random(size) + 0.1)})
    rows = SparseRows.from_rows([Sparse(np.array(sorted(r), np.uint32), np.array([r[i] for i in sorted(r)], np.float32))
                                 if r else None for r in raw])
    return raw, rows


# -- exact ------------------------------------------------------------------------------------
@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dotproduct"])
def test_exact_counts_the_rows_it_scans(metric):
    vectors = clustered(400, 12)
    index = ExactBuilder().build(SlabData(vectors, None), metric)
    q = Query(vectors[3] + 0.2, None)
    full = index.search(q, 10)
    assert (full.distance_computations, full.bytes_scanned) == (400, 400 * 12 * 4)
    few = np.zeros(400, bool)
    few[::7] = True  # 58 rows: gathered and scored alone
    assert (index.search(q, 10, few).distance_computations, index.search(q, 10, few).bytes_scanned) == \
        (int(few.sum()), int(few.sum()) * 12 * 4)
    many = np.ones(400, bool)
    many[::3] = False  # most rows allowed: every row is scored, the others masked afterwards
    assert index.search(q, 10, many).distance_computations == 400
    batch = index.search_batch(vectors[:5], 10, few)
    assert [r.distance_computations for r in batch] == [int(few.sum())] * 5
    # The memtable scan counts the same way.
    assert exact_search(q, metric, 10, vectors, None, few).distance_computations == int(few.sum())


def test_exact_counts_sparse_values_read_on_sparse_and_hybrid_indexes():
    raw, rows = sparse_rows(300, 40)
    dense = clustered(300, 6)
    q = Query(dense[0], Sparse(np.array([2, 5, 9], np.uint32), np.array([1.0, 0.5, 2.0], np.float32)))
    stored = sum(len(r) for r in raw)  # every stored value of every row
    hybrid = ExactBuilder().build(SlabData(dense, rows), "dotproduct").search(q, 10)
    assert hybrid.distance_computations == 300
    assert hybrid.bytes_scanned == 300 * 6 * 4 + stored * SPARSE_ENTRY_BYTES
    sparse_only = ExactBuilder().build(SlabData(None, rows), "dotproduct").search(Query(None, q.sparse), 10)
    assert sparse_only.bytes_scanned == stored * SPARSE_ENTRY_BYTES > 0


# -- sparse_csr -------------------------------------------------------------------------------
def test_sparse_csr_touches_exactly_the_postings_of_the_query_dimensions():
    raw, rows = sparse_rows(500, 60)
    index = SparseCsrBuilder().build(SlabData(None, rows), "dotproduct")
    rng = np.random.default_rng(3)
    for _ in range(10):
        dims = np.sort(rng.choice(70, size=5, replace=False)).astype(np.uint32)  # some outside the vocabulary
        q = Query(None, Sparse(dims, np.ones(5, np.float32)))
        result = index.search(q, 10)
        postings = sum(1 for r in raw for d in dims.tolist() if d in r)  # independent count
        assert result.distance_computations == postings
        assert result.bytes_scanned == postings * SPARSE_ENTRY_BYTES
    dense = clustered(500, 4)
    hybrid = SparseCsrBuilder().build(SlabData(dense, rows), "dotproduct")
    dims = np.array([1, 2, 3], np.uint32)
    got = hybrid.search(Query(dense[0], Sparse(dims, np.ones(3, np.float32))), 5)
    postings = sum(1 for r in raw for d in (1, 2, 3) if d in r)
    assert got.distance_computations == 500 + postings
    assert got.bytes_scanned == 500 * 4 * 4 + postings * SPARSE_ENTRY_BYTES


# -- annoy ------------------------------------------------------------------------------------
def test_annoy_counts_its_distinct_candidates():
    dim = 8
    vectors = clustered(2000, dim, seed=2)
    one_tree = AnnoyBuilder(n_trees=1).build(SlabData(vectors, None), "euclidean")
    leaf = dim + 2  # Annoy's largest leaf bucket: as many item ids as fit in a node (2 + dimension)
    for search_k in (20, 100, 700):
        for q in vectors[:10] + 0.1:
            result = one_tree.search(Query(q, None), 10, search_k=search_k)
            annoy = result.distance_computations - result.rows.size  # minus the exact re-scores
            # One tree holds each item once: Annoy stops collecting leaf items once it has search_k,
            # so it computed between search_k and search_k + one leaf's overshoot distances.
            assert search_k <= annoy < search_k + leaf
            assert result.bytes_scanned == result.distance_computations * dim * 4
    forest = AnnoyBuilder(n_trees=5).build(SlabData(vectors, None), "cosine")
    q = Query(vectors[0] + 0.1, None)
    whole = forest.search(q, 10, search_k=2000 * 5 * 4)  # the whole forest: every item, once
    assert whole.distance_computations - whole.rows.size == 2000
    narrow, wide = forest.search(q, 10, search_k=50), forest.search(q, 10, search_k=500)
    # Several trees repeat items: search_k collected leaf items are at least search_k / n_trees
    # distinct ones, and at most search_k plus one leaf's overshoot.
    for result, search_k in ((narrow, 50), (wide, 500)):
        assert search_k / 5 <= result.distance_computations - 10 < search_k + leaf
    assert narrow.distance_computations < wide.distance_computations
    # count_work only changes what is reported, never the answer.
    plain = forest.search(q, 10, search_k=500, count_work=False)
    assert plain.rows.tolist() == wide.rows.tolist()
    batch = forest.search_batch(vectors[:6] + 0.1, 10, search_k=500)
    single = [forest.search(Query(v, None), 10, search_k=500) for v in vectors[:6] + 0.1]
    assert [r.distance_computations for r in batch] == [r.distance_computations for r in single]


# -- nndescent --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nndescent() -> tuple[np.ndarray, Any]:
    NNDescentBuilder.warm_up()  # compiles once per process (shared with the other engine tests)
    vectors = clustered(1500, 16, seed=6)
    return vectors, NNDescentBuilder(n_neighbors=12).build(SlabData(vectors, None), "euclidean")


def test_nndescent_counts_the_distances_its_graph_search_evaluates(nndescent):
    vectors, index = nndescent
    queries = vectors[:12] + 0.05
    results = [index.search(Query(q, None), 10) for q in queries]
    searched = [r.distance_computations - r.rows.size for r in results]
    assert all(10 <= s < len(vectors) for s in searched)  # more than the 10 it re-scores, not a scan
    width = 16 * 4
    assert all(r.bytes_scanned == (r.distance_computations) * width for r in results)
    batch = index.search_batch(queries, 10)
    assert [r.distance_computations for r in batch] == [r.distance_computations for r in results]
    wider = [index.search(Query(q, None), 10, epsilon=0.3).distance_computations for q in queries]
    assert sum(wider) > sum(r.distance_computations for r in results)  # epsilon widens the search
    # Independent measurement: the same graph searched by PyNNDescent's own (non-cached) search
    # with a distance function that counts its calls.
    counted = _count_with_a_counting_distance(index._nnd, queries, k=10, epsilon=0.1)
    assert counted == searched


def _count_with_a_counting_distance(nnd: Any, queries: np.ndarray, k: int, epsilon: float) -> list[int]:
    numba = pytest.importorskip("numba")
    from numba.core import cgutils
    from numba.extending import intrinsic

    needed = ("_distance_func", "_init_search_function", "_search_function")
    if not all(hasattr(nnd, name) for name in needed):  # pragma: no cover - another PyNNDescent layout
        pytest.skip("this PyNNDescent version has no replaceable search distance")

    @intrinsic
    def as_pointer(typingctx: Any, address: Any) -> Any:
        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.inttoptr(args[0], cgutils.voidptr_t)
        return numba.types.voidptr(numba.types.intp), codegen

    counter = np.zeros(1, np.int64)
    address = counter.ctypes.data

    @numba.njit(fastmath=True)
    def counting_sqeuclidean(a: np.ndarray, b: np.ndarray) -> float:
        calls = numba.carray(as_pointer(address), (1,), np.int64)
        calls[0] += 1
        total = 0.0
        for i in range(a.shape[0]):
            d = a[i] - b[i]
            total += d * d
        return total

    saved = {name: nnd.__dict__.get(name) for name in ("_distance_func", "_search_function", "_fast_plan",
                                                        "_compile_search")}
    try:
        nnd._distance_func = counting_sqeuclidean
        nnd._compile_search = True  # compile the search around this distance, not the shared cached one
        nnd._fast_plan = None
        nnd._init_search_function()
        counts = []
        for q in queries:
            counter[0] = 0
            nnd.query(q[None, :].astype(np.float32), k=k, epsilon=epsilon)
            counts.append(int(counter[0]))
        return counts
    finally:
        for name, value in saved.items():
            if value is None:
                nnd.__dict__.pop(name, None)
            else:
                setattr(nnd, name, value)


def test_visited_count_reads_none_when_the_search_is_parallel():
    class Parallel:
        parallel_batch_queries = True
        _visited = np.ones(4, np.uint8)

    class Serial:
        parallel_batch_queries = False
        _visited = np.array([0b1011, 0, 1], np.uint8)

    assert visited_count(Parallel()) is None and visited_count(Serial()) == 4


def test_every_builtin_engine_says_how_it_counts():
    from toolkit import Client

    described = work_counting(Client().builders())
    for name in ("exact", "annoy", "nndescent", "sparse_csr"):
        assert "not documented" not in described[name] and len(described[name]) > 40


# -- the one exact kernel ---------------------------------------------------------------------
@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dotproduct"])
def test_every_path_scores_a_row_with_the_same_kernel(metric):
    vectors = clustered(600, 10, seed=5)
    q = vectors[7] + 0.3
    kernel = ExactKernel(metric, vectors)
    engine = ExactBuilder().build(SlabData(vectors, None), metric).search(Query(q, None), 10)
    memtable = exact_search(Query(q, None), metric, 10, vectors, None)
    batch = exact_search_batch(q[None, :], metric, 10, vectors)[0]
    assert engine.rows.tolist() == memtable.rows.tolist() == batch.rows.tolist()
    np.testing.assert_array_equal(engine.scores, memtable.scores)
    np.testing.assert_array_equal(engine.scores, kernel.rescore(q, engine.rows))  # what ANN engines re-score with
    annoy = AnnoyBuilder(n_trees=4).build(SlabData(vectors, None), metric).search(Query(q, None), 10, search_k=10**5)
    np.testing.assert_array_equal(annoy.scores, kernel.rescore(q, annoy.rows))
    pairs = kernel.rescore_pairs(np.stack([q, q]), np.stack([engine.rows, engine.rows]))
    np.testing.assert_allclose(pairs, np.stack([engine.scores] * 2), rtol=1e-6, atol=1e-6)
