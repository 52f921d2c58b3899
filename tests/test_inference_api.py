"""The inference API and the plugin surface: embed, rerank, models, the table, bad requests."""

from __future__ import annotations

import numpy as np
import pytest

from inference_helpers import require_text_models

require_text_models()

import toolkit  # noqa: E402
from toolkit import hookimpl  # noqa: E402
from toolkit.errors import InvalidArgumentError  # noqa: E402
from toolkit.inference import Embedder, Embeddings, Inference, ModelRegistry, ModelTable, Reranker  # noqa: E402
from toolkit.plugin_manager import PluginRegistrationError  # noqa: E402


@pytest.fixture(scope="module")
def inference() -> Inference:
    return toolkit.Client().inference


def test_dense_embed_is_unit_length_with_token_usage(inference):
    out = inference.embed("llama-text-embed-v2", ["a short text", {"text": "another, somewhat longer text"}])
    assert out.model == "llama-text-embed-v2" and out.local_model == "all-minilm-l6-v2"
    values = np.array([d.values for d in out.data])
    assert values.shape == (2, 384)
    assert np.allclose(np.linalg.norm(values, axis=1), 1, atol=1e-5)
    # [CLS] a short text [SEP] = 5 tokens; the second is longer
    assert out.usage["total_tokens"] == 5 + len(inference.registry.embedder("all-minilm-l6-v2").model
                                                  .tokenize(["another, somewhat longer text"])[0]) + 2


def test_sparse_embed_is_bm25_shaped(inference):
    doc, short = inference.embed("pinecone-sparse-english-v0",
                                 ["fox fox fox fox den den " + "filler " * 10, "fox den"],
                                 {"return_tokens": True}).data
    weights = dict(zip(doc.sparse_tokens, doc.sparse_values))
    assert weights["fox"] > weights["den"]                 # more occurrences, more weight
    assert weights["fox"] < 2 * weights["den"]             # but saturating, not linear in tf (4 vs 2)
    short_weights = dict(zip(short.sparse_tokens, short.sparse_values))
    assert short_weights["fox"] > weights["den"] / 2       # a short passage is not penalised
    assert doc.sparse_indices == sorted(doc.sparse_indices)
    query = inference.embed("pinecone-sparse-english-v0", ["the fox and the den"],
                            {"input_type": "query", "return_tokens": True}).data[0]
    assert set(query.sparse_tokens) == {"fox", "den"} and query.sparse_values == [1.0, 1.0]  # stopwords dropped


def test_rerank_orders_and_truncates(inference):
    docs = [{"id": "a", "text": "Apple is a fruit."}, {"id": "b", "text": "Acme Inc. revolutionized tech."},
            {"id": "c", "text": "The weather is mild today."}]
    out = inference.rerank("bge-reranker-v2-m3", "Tell me about tech companies", docs, top_n=2)
    assert [d.index for d in out.data][0] == 1 and len(out.data) == 2
    assert out.data[0].document == docs[1] and 0 <= out.data[1].score <= out.data[0].score <= 1
    assert out.usage == {"rerank_units": 1}
    bare = inference.rerank("bge-reranker-v2-m3", "weather", ["sunny and mild", "stocks fell"], return_documents=False)
    assert bare.data[0].index == 0 and bare.data[0].document is None


@pytest.mark.parametrize("call, path", [
    (lambda i: i.embed("no-such-model", ["x"]), "model"),
    (lambda i: i.embed("llama-text-embed-v2", []), "inputs"),
    (lambda i: i.embed("llama-text-embed-v2", ["ok", ""]), "inputs[1]"),
    (lambda i: i.embed("llama-text-embed-v2", ["x"] * 97), "inputs"),
    (lambda i: i.embed("llama-text-embed-v2", ["x"], {"input_type": "question"}), "parameters.input_type"),
    (lambda i: i.embed("llama-text-embed-v2", ["x"], {"dimension": 1024}), "parameters.dimension"),
    (lambda i: i.embed("llama-text-embed-v2", ["x"], {"colour": 1}), "parameters.colour"),
    (lambda i: i.embed("llama-text-embed-v2", ["word " * 300], {"truncate": "NONE"}), "inputs[0]"),
    (lambda i: i.rerank("no-such-reranker", "q", ["d"]), "model"),
    (lambda i: i.rerank("bge-reranker-v2-m3", "q", ["d"] * 101), "documents"),
    (lambda i: i.rerank("bge-reranker-v2-m3", "q", [{"body": "d"}]), "documents[0].text"),
    (lambda i: i.rerank("bge-reranker-v2-m3", "q", [{"a": "d", "b": "e"}], rank_fields=["a", "b"]), "rank_fields"),
    (lambda i: i.rerank("bge-reranker-v2-m3", "q", ["d"], top_n=0), "top_n"),
])
def test_bad_requests_name_the_field(inference, call, path):
    with pytest.raises(InvalidArgumentError) as info:
        call(inference)
    assert info.value.path == path and info.value.status == 400


def test_several_rank_fields_where_the_model_allows_them(inference):
    out = inference.rerank("cohere-rerank-3.5", "volcano", [{"title": "Etna", "body": "lava and ash"},
                                                            {"title": "Bank", "body": "interest rates"}],
                           rank_fields=["title", "body"])
    assert out.data[0].index == 0


def test_model_table_is_configurable(tmp_path, monkeypatch):
    table = tmp_path / "models.toml"
    table.write_text('[aliases]\nmy-embedder = "bm25-wordpiece"\nmy-reranker = "minilm-lexical-rerank"\n\n'
                     '[limits.my-reranker]\nmax_documents = 2\n')
    monkeypatch.setenv("VECTOR_TOOLKIT_MODEL_TABLE", str(table))
    inference = Inference(table=ModelTable.load())
    assert inference.embed("my-embedder", ["hello world"]).vector_type == "sparse"
    with pytest.raises(InvalidArgumentError, match="at most 2 documents"):
        inference.rerank("my-reranker", "q", ["a", "b", "c"])
    assert inference.describe_model("my-embedder")["served_by"] == "bm25-wordpiece"
    assert {m["model"] for m in inference.list_models(type="rerank")} >= {"bge-reranker-v2-m3", "my-reranker"}


class _Shouting(Embedder):
    name = "all-minilm-l6-v2"
    dimension = 2

    def embed(self, texts, *, input_type="passage", truncate="END", return_tokens=False):
        return Embeddings(np.ones(len(texts), dtype=np.int64), dense=np.ones((len(texts), 2), np.float32))


class _Constant(Reranker):
    name = "constant"

    def score(self, query, documents, *, truncate="NONE"):
        return np.full(len(documents), 0.5, dtype=np.float32)


class _DuplicatePlugin:
    @hookimpl
    def register_embedders(self):
        return [_Shouting]


class _RerankPlugin:
    @hookimpl
    def register_rerankers(self):
        return [_Constant]


def test_duplicate_model_names_fail_naming_both_plugins():
    with pytest.raises(PluginRegistrationError, match=r"'all-minilm-l6-v2' is registered twice: by plugin "
                                                      r"'inference' and by plugin"):
        ModelRegistry(plugins=[_DuplicatePlugin()])


def test_duplicate_model_names_stop_the_client_at_creation():
    with pytest.raises(PluginRegistrationError, match="registered twice") as info:
        toolkit.Client(plugins=[_DuplicatePlugin()])
    assert info.value.path == "plugins"


def test_plugin_rerankers_are_served():
    client = toolkit.Client(plugins=[_RerankPlugin()])
    out = client.inference.rerank("constant", "q", ["a", "b"])
    assert [d.score for d in out.data] == [0.5, 0.5] and [d.index for d in out.data] == [0, 1]


def test_reranker_reuses_the_vectors_of_texts_embedded_at_ingest(inference, monkeypatch):
    from toolkit.inference import builtin

    docs = ["Kittens sleep most of the day.", "Glaciers carve deep valleys over millennia."]
    inference.embed("llama-text-embed-v2", docs)
    encoder = builtin.minilm()
    real = encoder.encode
    calls = []

    def counting(texts, batch_size=32):
        calls.append(list(texts))
        return real(texts, batch_size)

    monkeypatch.setattr(encoder, "encode", counting)
    out = inference.rerank("bge-reranker-v2-m3", "young cats resting", docs)
    assert calls == [["young cats resting"]] and out.data[0].index == 0
