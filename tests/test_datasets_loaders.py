"""Dataset generators and loaders, on small files the tests write themselves; cached ground truth."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp

import toolkit
from toolkit import datasets
from toolkit.columns import MetadataColumns
from toolkit.datasets import Dataset, FilterSet, ground_truth
from toolkit.datasets.groundtruth import compute_ground_truth, distance_matrix
from toolkit.filters import compile_filter


@pytest.fixture(scope="module")
def clustered() -> Dataset:
    return datasets.load_dataset("clustered", n=1500, dim=8, n_queries=30, selectivities=[0.5, 0.1, 0.02])


# -- generators ----------------------------------------------------------------------------------
def test_clustered_is_deterministic_and_shaped(clustered):
    again = datasets.load_dataset("clustered", n=1500, dim=8, n_queries=30, selectivities=[0.5, 0.1, 0.02])
    assert clustered.fingerprint == again.fingerprint
    assert clustered.train.shape == (1500, 8) and clustered.train.dtype == np.float32
    assert clustered.n_queries == 30 and len(clustered.metadata) == 1500
    assert {fs.name for fs in clustered.filter_sets} == {f"{k}@{s}" for k in ("tag", "range", "list")
                                                          for s in ("0.5", "0.1", "0.02")}


def test_clustered_selectivity_is_controlled(clustered):
    for fs in clustered.filter_sets:
        assert fs.selectivity == pytest.approx(fs.target, rel=0.35), fs


def test_clustered_masks_agree_with_the_toolkit_filter_engine(clustered):
    columns = MetadataColumns.from_records(clustered.metadata)
    for fs in clustered.filter_sets:
        for i in range(0, clustered.n_queries, 7):
            compiled = compile_filter(fs.filters[i])
            assert np.array_equal(compiled.mask(columns), fs.masks[i]), (fs.name, fs.filters[i])


def test_sparse_text_datasets():
    docs = datasets.load_dataset("python-docs", n_queries=20)
    assert docs.vector_type == "sparse" and docs.metric == "dotproduct" and docs.dimension is None
    assert docs.n > 2000 and docs.sparse_vocabulary.max() > 2**31  # CRC32 term ids use all of uint32
    record = docs.records([0])[0]
    assert set(record) == {"id", "sparse_values", "metadata"}
    assert (record["sparse_values"]["values"] > 0).all()
    zipf = datasets.load_dataset("sparse-zipf", n=300, vocabulary=2000, n_queries=10)
    assert zipf.n == 300 and sp.issparse(zipf.queries) and zipf.queries.nnz >= 20


def test_digits_is_real_offline_data():
    digits = datasets.load_dataset("digits", n_queries=100)
    assert digits.n == 1697 and digits.dimension == 64 and digits.metric == "euclidean"
    fs = digits.filter_sets[0]
    assert fs.selectivity == pytest.approx(0.1, abs=0.03)


# -- ground truth --------------------------------------------------------------------------------
def brute_force(ds: Dataset, k: int, mask=None):
    d = distance_matrix(ds)
    if mask is not None:
        d = np.where(mask, d, np.inf)
    return np.sort(d, axis=1)[:, :k]


def test_ground_truth_is_exact_and_cached(clustered, tmp_path):
    truth = ground_truth(clustered, 10, cache_dir=tmp_path)
    assert np.allclose(truth.distances, brute_force(clustered, 10))
    files = list((tmp_path / "groundtruth").glob("*.npz"))
    assert len(files) == 1
    again = ground_truth(clustered, 10, cache_dir=tmp_path)  # read back from disk
    assert np.array_equal(again.neighbors, truth.neighbors)
    assert len(list((tmp_path / "groundtruth").glob("*"))) == 1  # no partial files left behind


def test_filtered_ground_truth_respects_the_masks(clustered, tmp_path):
    fs = clustered.filter_set("tag@0.02")
    truth = ground_truth(clustered, 50, "tag@0.02", cache_dir=tmp_path)
    for i in range(clustered.n_queries):
        got = truth.neighbors[i][truth.neighbors[i] >= 0]
        assert fs.masks[i][got].all()
        assert len(got) == min(50, fs.masks[i].sum())
    assert np.allclose(truth.distances, brute_force(clustered, 50, fs.masks))


def test_distance_conventions():
    train = np.array([[1, 0], [0, 2], [3, 4]], dtype=np.float32)
    query = np.array([[1, 1]], dtype=np.float32)
    for metric, expected in (("euclidean", [1.0, np.sqrt(2), np.sqrt(13)]),
                             ("cosine", [1 - 1 / np.sqrt(2), 1 - 1 / np.sqrt(2), 1 - 7 / (5 * np.sqrt(2))]),
                             ("dotproduct", [-1.0, -2.0, -7.0])):
        ds = Dataset("t", metric, train, query)
        assert np.allclose(distance_matrix(ds)[0], expected), metric


def test_sparse_ground_truth_never_returns_zero_score_rows():
    train = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 2]], dtype=np.float32))
    ds = Dataset("s", "dotproduct", train, sp.csr_matrix(np.array([[0, 1, 1]], dtype=np.float32)))
    truth = compute_ground_truth(ds, 3)
    assert truth.neighbors[0].tolist() == [2, 1, -1] and truth.counts.tolist() == [2]


def test_ties_are_broken_by_row():
    train = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    ds = Dataset("t", "euclidean", train, np.array([[1, 0]], dtype=np.float32))
    assert compute_ground_truth(ds, 1).neighbors.tolist() == [[0]]


# -- ann-benchmarks HDF5 ---------------------------------------------------------------------------
def write_hdf5(path, train, test, distance="angular", k=5):
    import h5py

    ds = Dataset("x", {"angular": "cosine"}.get(distance, distance), train, test)
    d = distance_matrix(ds)
    with h5py.File(path, "w") as f:
        f.attrs["distance"] = distance
        f.create_dataset("train", data=train)
        f.create_dataset("test", data=test)
        f.create_dataset("neighbors", data=np.argsort(d, axis=1)[:, :k].astype(np.int32))
        f.create_dataset("distances", data=np.sort(d, axis=1)[:, :k].astype(np.float32))


def test_hdf5_loader(tmp_path):
    rng = np.random.default_rng(1)
    train, test = rng.standard_normal((200, 6)).astype(np.float32), rng.standard_normal((7, 6)).astype(np.float32)
    path = tmp_path / "tiny-angular.hdf5"
    write_hdf5(path, train, test)
    ds = datasets.load_dataset("hdf5", path=str(path))
    assert ds.metric == "cosine" and ds.n == 200 and ds.n_queries == 7
    assert ds.neighbors.shape == (7, 5)
    from_file = compute_ground_truth(ds, 5)
    assert np.allclose(from_file.distances, brute_force(ds, 5))
    small = datasets.load_dataset("hdf5", path=str(path), max_train=50, max_queries=3)
    assert small.n == 50 and small.n_queries == 3 and small.neighbors is None  # cut: neighbours are stale


def test_hdf5_loader_errors(tmp_path):
    with pytest.raises(toolkit.NotFoundError):
        datasets.load_dataset("hdf5", path=str(tmp_path / "missing.hdf5"))
    path = tmp_path / "jaccard.hdf5"
    write_hdf5(path, np.eye(3, dtype=np.float32), np.eye(3, dtype=np.float32)[:1], distance="euclidean")
    import h5py

    with h5py.File(path, "a") as f:
        f.attrs["distance"] = "jaccard"
    with pytest.raises(toolkit.InvalidArgumentError, match="jaccard"):
        datasets.load_dataset("hdf5", path=str(path))


def test_save_hdf5_round_trip(clustered, tmp_path):
    path = datasets.save_hdf5(clustered, tmp_path / "c.hdf5", k=10)
    back = datasets.load_dataset("hdf5", path=str(path))
    assert back.metric == clustered.metric and np.array_equal(back.train, clustered.train)
    assert np.array_equal(back.neighbors, ground_truth(clustered, 10, cache=False).neighbors)


# -- the reference service's Parquet layouts ----------------------------------------------------
def write_public_dense(folder, n=40, dim=4, with_queries=True):
    rng = np.random.default_rng(2)
    (folder / "documents").mkdir(parents=True)
    values = rng.standard_normal((n, dim)).astype(np.float32)
    table = pa.table({
        "id": pa.array([f"v{i}" for i in range(n)]),
        "values": pa.array(values.tolist(), pa.list_(pa.float32())),
        "sparse_values": pa.array([None] * n, pa.struct([("indices", pa.list_(pa.uint32())),
                                                         ("values", pa.list_(pa.float32()))])),
        "metadata": pa.array([json.dumps({"genre": "a" if i % 2 else "b", "year": 2000 + i}) for i in range(n)]),
        "blob": pa.array([None] * n, pa.string()),
    })
    pq.write_table(table.slice(0, n // 2), folder / "documents" / "part-0.parquet")
    pq.write_table(table.slice(n // 2), folder / "documents" / "part-1.parquet")
    if with_queries:
        (folder / "queries").mkdir()
        pq.write_table(pa.table({
            "vector": pa.array(values[:3].tolist(), pa.list_(pa.float32())),
            "sparse_vector": pa.array([None] * 3, pa.struct([("indices", pa.list_(pa.uint32())),
                                                             ("values", pa.list_(pa.float32()))])),
            "filter": pa.array([json.dumps({"genre": "a"}), None, json.dumps({"year": {"$gte": 2030}})]),
            "top_k": pa.array([5, 5, 5], pa.uint32()),
            "blob": pa.array([None] * 3, pa.string()),
        }), folder / "queries" / "part-0.parquet")
    return values


def test_parquet_public_layout_with_queries_and_filters(tmp_path):
    values = write_public_dense(tmp_path / "ds")
    ds = datasets.load_dataset("parquet", path=str(tmp_path / "ds"), metric="euclidean")
    assert ds.n == 40 and ds.n_queries == 3 and np.allclose(ds.train, values)
    assert ds.record_ids[5] == "v5" and ds.metadata[5] == {"genre": "a", "year": 2005}
    fs = ds.filter_set("file")
    assert fs.masks[0].sum() == 20 and fs.masks[1].all() and fs.masks[2].sum() == 10
    truth = ground_truth(ds, 5, "file", cache=False)
    assert all(ds.metadata[r]["genre"] == "a" for r in truth.neighbors[0])
    assert all(ds.metadata[r]["year"] >= 2030 for r in truth.neighbors[2])
    assert truth.neighbors[1, 0] == 1  # unfiltered: query 1 is document v1 itself


def test_parquet_without_queries_holds_documents_out(tmp_path):
    write_public_dense(tmp_path / "ds", with_queries=False)
    ds = datasets.load_dataset("parquet", path=str(tmp_path / "ds"), n_queries=5)
    assert ds.n == 35 and ds.n_queries == 5 and ds.metric == "cosine"
    assert len(set(ds.record_ids.tolist())) == 35


def test_parquet_import_layout_with_struct_metadata_and_sparse_values(tmp_path):
    sparse_type = pa.struct([("indices", pa.list_(pa.uint32())), ("values", pa.list_(pa.float32()))])
    for namespace, offset in (("__default__", 0), ("other", 100)):
        (tmp_path / "imp" / namespace).mkdir(parents=True)
        pq.write_table(pa.table({
            "id": pa.array([f"s{offset + i}" for i in range(10)]),
            "sparse_values": pa.array([{"indices": [3201939490, i], "values": [1.0, 0.5]} for i in range(10)],
                                      sparse_type),
            "metadata": pa.array([{"kind": "x", "n": None} for _ in range(10)],
                                 pa.struct([("kind", pa.string()), ("n", pa.float64())])),
        }), tmp_path / "imp" / namespace / "0.parquet")
    ds = datasets.load_dataset("parquet", path=str(tmp_path / "imp"), n_queries=2)
    assert ds.vector_type == "sparse" and ds.metric == "dotproduct" and ds.n == 8
    assert ds.record_ids[0].startswith("s") and int(ds.record_ids[0][1:]) < 100
    assert ds.metadata[0] == {"kind": "x"}  # struct nulls are dropped
    assert 3201939490 in ds.records([0])[0]["sparse_values"]["indices"].tolist()
    other = datasets.load_dataset("parquet", path=str(tmp_path / "imp"), namespace="other", n_queries=2)
    assert int(other.record_ids[0][1:]) >= 100


def test_parquet_errors(tmp_path):
    (tmp_path / "bad").mkdir()
    pq.write_table(pa.table({"values": pa.array([[1.0, 2.0]])}), tmp_path / "bad" / "0.parquet")
    with pytest.raises(toolkit.InvalidArgumentError, match="'id'"):
        datasets.load_dataset("parquet", path=str(tmp_path / "bad"))
    with pytest.raises(toolkit.NotFoundError):
        datasets.load_dataset("parquet", path=str(tmp_path / "nothing"))


def test_save_parquet_round_trips_through_the_loader(clustered, tmp_path):
    datasets.save_parquet(clustered, tmp_path / "pub", rows_per_file=600)
    assert len(list((tmp_path / "pub" / "documents").glob("*.parquet"))) == 3
    back = datasets.load_dataset("parquet", path=str(tmp_path / "pub"))
    assert back.metric == clustered.metric and np.allclose(back.train, clustered.train)
    assert np.allclose(back.queries, clustered.queries) and back.metadata[3] == clustered.metadata[3]
    datasets.save_parquet(clustered, tmp_path / "imp", layout="import", namespace="ns1")
    assert (tmp_path / "imp" / "ns1" / "part-0000.parquet").is_file()


def test_filter_sets_must_match_the_queries():
    train = np.eye(3, dtype=np.float32)
    bad = FilterSet("f", "tag", ({},), np.ones((2, 3), dtype=bool))
    with pytest.raises(toolkit.InvalidArgumentError):
        Dataset("t", "euclidean", train, train[:1], filter_sets=(bad,))
