"""The dense-corpus hook: EmbeddedPythonDocs with a stand-in embedder (a hashing bag of words),
registered through the dataset hook as a model plugin would register it."""

from __future__ import annotations

import numpy as np
import pytest

import toolkit
from toolkit import datasets, hookimpl
from toolkit.columns import MetadataColumns
from toolkit.datasets import EmbeddedPythonDocs, python_docs_passages
from toolkit.filters import compile_filter


class HashedDocs(EmbeddedPythonDocs):
    """A stand-in for a text model: hashed word counts, 64 dims (deterministic, no download)."""

    name = "python-docs-hashed"
    calls: list[str] = []

    def embed(self, texts, kind):
        from sklearn.feature_extraction.text import HashingVectorizer

        type(self).calls.append(kind)
        return HashingVectorizer(n_features=64, alternate_sign=False).transform(texts).toarray()


class HashedPlugin:
    @hookimpl
    def register_datasets(self):
        return [HashedDocs]


class Broken(HashedDocs):
    name = "broken"

    def embed(self, texts, kind):
        return np.zeros((len(texts) - 1, 4))


def test_passages_are_the_bundled_corpus():
    passages = python_docs_passages()
    assert len(passages) == EmbeddedPythonDocs.size and set(passages[0]) == {"topic", "text"}


def test_a_model_plugin_registers_an_embedded_corpus_with_topic_filters():
    ds = datasets.load_dataset("python-docs-hashed", plugins=[HashedPlugin()], n_queries=30)
    assert ds.train.shape == (EmbeddedPythonDocs.size - 30, 64) and ds.queries.shape == (30, 64)
    assert ds.metric == "cosine" and HashedDocs.calls[-2:] == ["passage", "query"]
    own = ds.filter_set("topic@own")
    columns = MetadataColumns.from_records(ds.metadata)
    for i in range(0, 30, 5):
        assert np.array_equal(compile_filter(own.filters[i]).mask(columns), own.masks[i])
    assert 0 < own.selectivity < 0.2
    topics = [p["topic"] for p in python_docs_passages()]
    assert [own.filters[j]["topic"] for j in range(30)] == [topics[i] for i in ds.info["query_rows"].tolist()]


def test_a_wrong_embedding_shape_names_the_embedder():
    with pytest.raises(toolkit.InvalidArgumentError, match="Broken.embed returned shape"):
        Broken(n_queries=5).load()
