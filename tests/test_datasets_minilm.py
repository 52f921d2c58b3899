"""python-docs-minilm: the bundled corpus embedded with the real MiniLM model, on small slices.

Embeddings are cached on disk (the cache folder is a tmp dir here); held-out and labelled
query sets; the hybrid variant's records/queries carry both parts and its exact ground truth
agrees with the toolkit's own hybrid scoring (exact engine).
"""

from __future__ import annotations

import numpy as np
import pytest

from inference_helpers import require_text_models

require_text_models()

import toolkit  # noqa: E402
from toolkit import datasets  # noqa: E402
from toolkit.datasets import PythonDocsMiniLM, ground_truth, python_docs_passages  # noqa: E402
from toolkit.datasets.cli import listing  # noqa: E402
from toolkit.inference import Inference  # noqa: E402
from toolkit.inference.evaluation import QUERIES  # noqa: E402


LIMIT = 60  # every test uses the same slice: its passages are embedded once, then read from the cache


@pytest.fixture(scope="module")
def cache_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def cache(cache_folder, monkeypatch):
    monkeypatch.setenv("VECTOR_TOOLKIT_CACHE", str(cache_folder))
    return cache_folder


def test_registered_and_listed_with_size_dimension_metric():
    listed = {row["name"]: row for row in listing()}
    row = listed["python-docs-minilm"]
    assert (row["rows"], row["dimension"], row["metric"], row["type"]) == (2_176, 384, "cosine", "dense")


def test_a_slice_is_the_real_model_and_is_cached_on_disk(cache, monkeypatch):
    ds = datasets.load_dataset("python-docs-minilm", limit=LIMIT, n_queries=10)
    assert ds.train.shape == (LIMIT - 10, 384) and ds.queries.shape == (10, 384) and ds.metric == "cosine"
    passages = python_docs_passages()[:LIMIT]
    rows = ds.info["query_rows"]
    # the vectors are the toolkit's MiniLM embeddings of those passages (what integrated indexes store)
    direct = Inference().embed("all-minilm-l6-v2", [passages[int(rows[0])]["text"]], {"input_type": "query"})
    assert np.allclose(ds.queries[0], direct.data[0].values, atol=1e-5)
    assert [m["topic"] for m in ds.metadata[:3]] == [passages[i]["topic"] for i in range(LIMIT) if i not in rows][:3]
    assert len(list((cache / "embeddings").glob(f"python-docs-all-minilm-l6-v2-{LIMIT}-*.npy"))) == 1
    own = ds.filter_set("topic@own")
    assert own.filters[0] == {"topic": passages[int(rows[0])]["topic"]} and own.masks.shape == (10, LIMIT - 10)

    def no_model(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(PythonDocsMiniLM, "_encode", no_model)
    again = PythonDocsMiniLM(limit=LIMIT, n_queries=10, seed=1).load()  # another split: same cached vectors
    assert again.train.shape == (LIMIT - 10, 384)


def test_labelled_questions_mark_the_relevant_passages():
    ds = PythonDocsMiniLM(limit=LIMIT, queries="labelled").load()
    assert ds.n == LIMIT and ds.n_queries == len(QUERIES)
    relevant = ds.info["relevant"]
    topics = np.array([m["topic"] for m in ds.metadata], dtype=object)
    for i, (_, labels) in enumerate(QUERIES):
        assert np.array_equal(relevant[i], np.isin(topics, labels))
    assert relevant[0].sum() == 9  # the slice holds the 9 "assert" passages that answer the first question
    assert ds.filter_set("topic@label").filters[0] == {"topic": {"$in": list(QUERIES[0][1])}}


def test_hybrid_records_and_queries_carry_both_parts_and_the_ground_truth_matches_the_index():
    ds = PythonDocsMiniLM(limit=LIMIT, n_queries=8, hybrid=True, alpha=0.7).load()
    assert ds.hybrid and ds.metric == "dotproduct" and "hybrid" in repr(ds)
    record = ds.records([0])[0]
    assert set(record) == {"id", "values", "sparse_values", "metadata"} and len(record["sparse_values"]["indices"])
    assert np.isclose(np.linalg.norm(ds.queries[0]), 0.7, atol=1e-5)  # alpha on the dense query part
    client = toolkit.Client()
    client.create_index(name="hybrid", dimension=384, metric="dotproduct")
    index = client.Index("hybrid")
    index.upsert(vectors=ds.records(np.arange(ds.n)), show_progress=False)
    truth = ground_truth(ds, 5, cache=False)
    for i in range(ds.n_queries):
        found = index.query(top_k=5, **ds.query_arguments(i)).matches
        assert [ds.row_of[m.id] for m in found] == truth.neighbors[i].tolist()
        assert np.allclose([m.score for m in found], -truth.distances[i], atol=1e-4)
    dense_only = PythonDocsMiniLM(limit=LIMIT, n_queries=8, metric="dotproduct").load()
    assert ground_truth(dense_only, 5, cache=False).neighbors.tolist() != truth.neighbors.tolist()


def test_bad_parameters_are_located():
    with pytest.raises(toolkit.InvalidArgumentError, match="limit"):
        PythonDocsMiniLM(limit=1)
    with pytest.raises(toolkit.InvalidArgumentError) as info:
        PythonDocsMiniLM(queries="random")
    assert info.value.path == "queries"
    with pytest.raises(toolkit.InvalidArgumentError, match="n_queries"):
        PythonDocsMiniLM(limit=10, n_queries=10)
