"""Integrated indexes in-process: create_index_for_model, upsert_records, search, rerank, usage."""

from __future__ import annotations

import pytest

from inference_helpers import require_text_models

require_text_models()

import toolkit  # noqa: E402
from toolkit.errors import InvalidArgumentError  # noqa: E402

RECORDS = [
    {"_id": "rec1", "chunk_text": "Apple is a popular fruit known for its sweetness and crisp texture.",
     "category": "fruit", "year": 2020},
    {"_id": "rec2", "chunk_text": "The tech company Apple is known for its innovative products like the iPhone.",
     "category": "tech", "year": 2021},
    {"_id": "rec3", "chunk_text": "Many people enjoy eating apples as a healthy snack.", "category": "food",
     "year": 2022},
    {"id": "rec4", "chunk_text": "Apple Inc. has revolutionized the tech industry with its sleek designs.",
     "category": "tech", "year": 2023},
    {"_id": "rec5", "chunk_text": "Volcanoes erupt molten rock and ash.", "category": "geology", "year": 2019},
]
EMBED = {"model": "llama-text-embed-v2", "field_map": {"text": "chunk_text"}}


@pytest.fixture
def client():
    return toolkit.Client()


@pytest.fixture(scope="module")
def dense():
    """One integrated dense index shared by the read-only tests of this module."""
    client = toolkit.Client()
    client.create_index_for_model("dense", cloud="aws", region="us-east-1", embed=EMBED)
    index = client.Index("dense")
    index.upsert_records("ns", RECORDS)
    return index


def test_describe_reports_the_model_and_its_real_dimension(client):
    model = client.create_index_for_model("docs", "aws", "us-east-1", embed=EMBED)
    assert model.dimension == 384 and model.metric == "cosine" and model.vector_type == "dense"
    embed = client.describe_index("docs").spec["embed"]
    assert embed["model"] == "llama-text-embed-v2" and embed["local_model"] == "all-minilm-l6-v2"
    assert embed["dimension"] == 384 and embed["field_map"] == {"text": "chunk_text"}
    assert embed["write_parameters"] == {"input_type": "passage"}


def test_search_with_text_returns_fields_and_usage(dense):
    out = dense.search("ns", query={"inputs": {"text": "Famous technology firms"}, "top_k": 3},
                       fields=["category"])
    assert [h.id for h in out.result.hits][:2] in (["rec2", "rec4"], ["rec4", "rec2"])
    assert out.result.hits[0].fields == {"category": "tech"}
    assert out.usage["embed_total_tokens"] > 0 and out.usage["read_units"] >= 1
    every = dense.search("ns", top_k=1, inputs={"text": "lava"})          # flat SDK-10 form, all fields
    assert every.result.hits[0].id == "rec5"
    assert every.result.hits[0].fields == {"chunk_text": RECORDS[4]["chunk_text"], "category": "geology",
                                           "year": 2019}
    assert dense.search_records("ns", top_k=1, inputs={"text": "lava"}).to_dict() == every.to_dict()


def test_search_by_id_vector_and_filter(dense):
    by_id = dense.search("ns", query={"id": "rec2", "top_k": 2})
    assert by_id.result.hits[0].id == "rec2" and "embed_total_tokens" not in by_id.usage
    vector = dense.fetch(["rec5"], namespace="ns").vectors["rec5"].values
    assert dense.search("ns", query={"vector": {"values": vector}, "top_k": 1}).result.hits[0].id == "rec5"
    filtered = dense.search("ns", query={"inputs": {"text": "technology"}, "top_k": 5,
                                         "filter": {"year": {"$gte": 2022}}}, fields=["year"])
    assert {h.fields["year"] for h in filtered.result.hits} <= {2022, 2023}


def test_rerank_rescores_and_keeps_top_n(dense):
    out = dense.search("ns", query={"inputs": {"text": "Famous technology firms"}, "top_k": 5},
                       rerank={"model": "bge-reranker-v2-m3", "rank_fields": ["chunk_text"], "top_n": 2})
    hits = out.result.hits
    assert len(hits) == 2 and {h.id for h in hits} == {"rec2", "rec4"}
    assert 1 >= hits[0].score >= hits[1].score >= 0
    assert out.usage["rerank_units"] == 1
    by_id = dense.search("ns", query={"id": "rec5", "top_k": 3},
                         rerank={"model": "cohere-rerank-3.5", "rank_fields": ["chunk_text"], "query": "fruit"})
    assert by_id.result.hits[0].id in ("rec1", "rec3")


def test_usage_lands_in_the_ledger(dense):
    dense.search("ns", query={"inputs": {"text": "fruit"}, "top_k": 3},
                 rerank={"model": "bge-reranker-v2-m3", "rank_fields": ["chunk_text"]})
    summary = dense.usage().set_index("operation")
    assert summary.loc["embed", "embed_tokens"] > 50 and summary.loc["embed", "records"] == 5
    assert summary.loc["search", "rerank_units"] >= 1 and summary.loc["search", "embed_tokens"] > 0


@pytest.mark.parametrize("records, path", [
    ([{"_id": "ok", "chunk_text": "fine"}, {"_id": "bad", "text": "wrong field"}], "records[1].chunk_text"),
    ([{"_id": "ok", "chunk_text": "fine"}, {"_id": "bad", "chunk_text": ""}], "records[1].chunk_text"),
    ([{"_id": "ok", "chunk_text": "fine"}, {"chunk_text": "no id"}], "records[1]"),
    ([{"_id": "ok", "chunk_text": "fine"}, {"_id": "bad", "chunk_text": "x", "tags": {"nested": 1}}], None),
    ([], "records"),
])
def test_a_rejected_batch_stores_nothing(client, records, path):
    client.create_index_for_model("docs", "aws", "us-east-1", embed=EMBED)
    index = client.Index("docs")
    with pytest.raises(InvalidArgumentError) as info:
        index.upsert_records("ns", records)
    if path is not None:
        assert info.value.path == path
    assert index.describe_index_stats().total_vector_count == 0


@pytest.mark.parametrize("embed, path", [
    ({"model": "no-such-model", "field_map": {"text": "t"}}, "embed.model"),
    ({"model": "llama-text-embed-v2"}, "embed.field_map"),
    ({"model": "llama-text-embed-v2", "field_map": {"text": "t"}, "dimension": 1024}, "embed.dimension"),
    ({"model": "pinecone-sparse-english-v0", "field_map": {"text": "t"}, "metric": "cosine"}, "embed.metric"),
    ({"model": "llama-text-embed-v2", "field_map": {"text": "t"}, "write_parameters": {"input_type": "x"}},
     "embed.write_parameters.input_type"),
])
def test_bad_embed_configs_create_nothing(client, embed, path):
    with pytest.raises(InvalidArgumentError) as info:
        client.create_index_for_model("docs", "aws", "us-east-1", embed=embed)
    assert info.value.path == path and not client.has_index("docs")


@pytest.mark.parametrize("kwargs, path", [
    ({"query": {"inputs": {"text": "x"}}}, "query.top_k"),
    ({"query": {"top_k": 1}}, "query"),
    ({"query": {"top_k": 1, "inputs": {"text": "x"}, "id": "rec1"}}, "query"),
    ({"query": {"top_k": 1, "inputs": {"text": "x"}}, "rerank": {"model": "nope", "rank_fields": ["chunk_text"]}},
     "rerank.model"),
    ({"query": {"top_k": 1, "inputs": {"text": "x"}}, "fields": ["category"],
      "rerank": {"model": "bge-reranker-v2-m3", "rank_fields": ["chunk_text"]}}, "rerank.rank_fields"),
    ({"query": {"top_k": 1, "id": "rec1"}, "rerank": {"model": "bge-reranker-v2-m3", "rank_fields": ["chunk_text"]}},
     "rerank.query"),
    ({"query": {"top_k": 1, "inputs": {"text": "x"}, "match_terms": {"terms": ["x"]}}}, "query.match_terms"),
])
def test_bad_searches_name_the_field(dense, kwargs, path):
    with pytest.raises(InvalidArgumentError) as info:
        dense.search("ns", **kwargs)
    assert info.value.path == path


def test_text_search_on_a_plain_index_is_refused(client):
    client.create_index("plain", dimension=2, metric="cosine")
    index = client.Index("plain")
    index.upsert([("a", [1.0, 0.0])], namespace="ns")
    with pytest.raises(InvalidArgumentError) as info:
        index.search("ns", query={"inputs": {"text": "x"}, "top_k": 1})
    assert info.value.path == "query.inputs"
    with pytest.raises(InvalidArgumentError):
        index.upsert_records("ns", [{"_id": "b", "text": "x"}])
    assert index.search("ns", query={"vector": {"values": [1.0, 0.0]}, "top_k": 1}).result.hits[0].id == "a"


def test_sparse_index_with_match_terms_and_persistence(tmp_path):
    path = str(tmp_path / "db")
    client = toolkit.Client(path=path)
    model = client.create_index_for_model("lexical", "aws", "us-east-1",
                                          embed={"model": "pinecone-sparse-english-v0",
                                                 "field_map": {"text": "chunk_text"}})
    assert model.vector_type == "sparse" and model.metric == "dotproduct"
    client.Index("lexical").upsert_records("ns", RECORDS)
    client.close()
    reopened = toolkit.Client(path=path)
    index = reopened.Index("lexical")
    assert reopened.describe_index("lexical").spec["embed"]["model"] == "pinecone-sparse-english-v0"
    out = index.search("ns", query={"inputs": {"text": "Apple tech company"}, "top_k": 5})
    assert out.result.hits[0].id in ("rec2", "rec4") and all(h.score > 0 for h in out.result.hits)
    matched = index.search("ns", query={"inputs": {"text": "Apple tech company"}, "top_k": 5,
                                        "match_terms": {"terms": ["iPhone"], "strategy": "all"}})
    assert [h.id for h in matched.result.hits] == ["rec2"]
    index.upsert_records("ns", [{"_id": "rec6", "chunk_text": "More apple pie recipes", "category": "food"}])
    assert index.describe_index_stats().total_vector_count == 6
    reopened.create_backup("lexical", "snap")
    reopened.create_index_from_backup("snap", "restored")   # a restore keeps the model (D:18690)
    restored = reopened.Index("restored")
    assert reopened.describe_index("restored").spec["embed"]["model"] == "pinecone-sparse-english-v0"
    assert restored.search("ns", query={"inputs": {"text": "pie recipes"}, "top_k": 1}).result.hits[0].id == "rec6"
    reopened.close()
    again = toolkit.Client(path=path)  # the restored index's model was persisted with its config
    assert again.describe_index("restored").spec["embed"]["model"] == "pinecone-sparse-english-v0"
    assert again.Index("restored").search("ns", query={"inputs": {"text": "pie recipes"}, "top_k": 1}) \
        .result.hits[0].id == "rec6"
    again.close()


def test_unknown_keywords_are_refused_naming_them(client, dense):
    with pytest.raises(InvalidArgumentError) as info:
        client.create_index_for_model("typo", "aws", "us-east-1", embed=EMBED, dimenson=384)
    assert info.value.path == "dimenson" and not client.has_index("typo")
    client.create_index_for_model("ok", "aws", "us-east-1", embed=EMBED, timeout=5, async_req=False)
    with pytest.raises(InvalidArgumentError) as info:
        dense.upsert_records("ns", RECORDS, batchsize=2)
    assert info.value.path == "batchsize"
    with pytest.raises(InvalidArgumentError) as info:
        dense.search("ns", query={"inputs": {"text": "x"}, "top_k": 1}, include_metadata=True)
    assert info.value.path == "include_metadata"
    with pytest.raises(InvalidArgumentError) as info:
        dense.search_records("ns", query={"inputs": {"text": "x"}, "top_k": 1}, topk=1)
    assert info.value.path == "topk"


def test_large_imports_embed_in_batches(client):
    client.create_index_for_model("many", "aws", "us-east-1",
                                  embed={"model": "pinecone-sparse-english-v0", "field_map": {"text": "t"}})
    index = client.Index("many")
    records = [{"_id": f"r{i}", "t": f"record number {i} about topic {i % 7}"} for i in range(1200)]
    out = index.upsert_records("ns", records, batch_size=100, show_progress=False)
    assert out.record_count == 1200 and index.describe_index_stats().total_vector_count == 1200
    assert out.usage["embed_total_tokens"] > 1200


def test_a_large_import_shows_a_progress_bar(client, capsys):
    client.create_index_for_model("bar", "aws", "us-east-1",
                                  embed={"model": "pinecone-sparse-english-v0", "field_map": {"text": "t"}})
    records = [{"_id": f"r{i}", "t": f"text number {i}"} for i in range(40)]
    client.Index("bar").upsert_records("ns", records, batch_size=2)   # 20 batches: the bar shows by itself
    assert "embed bar" in capsys.readouterr().err
    client.Index("bar").upsert_records("ns", records[:4], batch_size=2)
    assert "embed bar" not in capsys.readouterr().err


def test_e5_query_and_passage_differ_like_the_reference_and_bill_the_callers_text(tmp_path):
    """multilingual-e5-large is asymmetric (E5's "query: "/"passage: " convention): the stand-in follows it."""
    from toolkit.inference import Inference, ModelTable

    inference = Inference()
    text = ["The quick brown fox jumps over the lazy dog"]
    query = inference.embed("multilingual-e5-large", text, {"input_type": "query"})
    passage = inference.embed("multilingual-e5-large", text, {"input_type": "passage"})
    q, p = query.data[0].values, passage.data[0].values
    assert q != p and 0.5 < sum(a * b for a, b in zip(q, p)) < 0.999  # different, still the same meaning
    plain = inference.embed("all-minilm-l6-v2", text, {"input_type": "query"})
    assert query.usage["total_tokens"] == plain.usage["total_tokens"] == 11  # the prefix is not billed
    llama = [inference.embed("llama-text-embed-v2", text, {"input_type": kind}).data[0].values
             for kind in ("query", "passage")]
    assert llama[0] == llama[1] == plain.data[0].values  # no prefix configured: the model's own vectors
    table = tmp_path / "models.toml"
    table.write_text('[prefixes.llama-text-embed-v2]\nquery = "search_query: "\n')
    custom = Inference(table=ModelTable.load(table))
    assert custom.embed("llama-text-embed-v2", text, {"input_type": "query"}).data[0].values != llama[0]
    table.write_text('[prefixes.llama-text-embed-v2]\nquestion = "q: "\n')
    with pytest.raises(InvalidArgumentError, match="prefixes must map"):
        ModelTable.load(table)


def test_an_e5_integrated_index_searches_with_the_query_prefix(client):
    client.create_index_for_model("e5", cloud="aws", region="us-east-1",
                                  embed={"model": "multilingual-e5-large", "field_map": {"text": "chunk_text"}})
    index = client.Index("e5")
    index.upsert_records("ns", RECORDS)
    hits = index.search(namespace="ns", query={"inputs": {"text": "Famous technology firms"}, "top_k": 2}).result.hits
    assert {h["_id"] for h in hits} == {"rec2", "rec4"}
    stored = index.fetch(ids=["rec5"], namespace="ns").vectors["rec5"].values
    passage = toolkit.inference.Inference().embed("multilingual-e5-large", [RECORDS[4]["chunk_text"]],
                                                  {"input_type": "passage"}).data[0].values
    assert max(abs(a - b) for a, b in zip(stored, passage)) < 1e-5  # records are embedded as passages
