"""Integrated inference over REST, driven by the unmodified official SDK (pinecone>=10).

create_index_for_model, upsert_records (NDJSON), search / search_records with rerank,
pc.inference.embed / rerank / models against ``python -m toolkit serve``; bad requests are
typed 400s that name the field, and a rejected batch stores nothing.
"""

from __future__ import annotations

import httpx
import pytest

from inference_helpers import require_text_models

require_text_models()
pinecone = pytest.importorskip("pinecone")
from pinecone import Pinecone  # noqa: E402

from test_server_sdk import assert_clean_stop, start_server  # noqa: E402

RECORDS = [
    {"_id": "rec1", "chunk_text": "Apple is a popular fruit known for its sweetness and crisp texture.",
     "category": "fruit"},
    {"_id": "rec2", "chunk_text": "The tech company Apple is known for its innovative products like the iPhone.",
     "category": "tech"},
    {"_id": "rec3", "chunk_text": "Many people enjoy eating apples as a healthy snack.", "category": "food"},
    {"id": "rec4", "chunk_text": "Apple Inc. has revolutionized the tech industry with its sleek designs.",
     "category": "tech"},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("inference-server"))
    yield srv
    assert_clean_stop(srv)


@pytest.fixture(scope="module")
def pc(server):
    return Pinecone(api_key="local", host=server.url)


@pytest.fixture(scope="module")
def index(pc):
    model = pc.create_index_for_model(name="docs", cloud="aws", region="us-east-1",
                                      embed={"model": "llama-text-embed-v2", "field_map": {"text": "chunk_text"}})
    assert model.dimension == 384
    index = pc.Index(host=pc.describe_index("docs").host)
    index.upsert_records(namespace="ns", records=RECORDS)
    return index


def test_describe_reports_the_integrated_model(pc, index):
    described = pc.describe_index("docs")
    assert described.embed.model == "llama-text-embed-v2"
    assert described.embed.field_map == {"text": "chunk_text"}
    assert described.dimension == 384


def test_search_and_rerank_through_the_sdk(index):
    out = index.search(namespace="ns", top_k=3, inputs={"text": "Famous technology firms"}, fields=["category"])
    assert {h.id for h in out.result.hits[:2]} == {"rec2", "rec4"}
    assert out.result.hits[0].fields == {"category": "tech"}
    assert out.usage.embed_total_tokens > 0 and out.usage.read_units >= 1
    ranked = index.search_records(namespace="ns", query={"inputs": {"text": "Famous technology firms"}, "top_k": 4},
                                  rerank={"model": "bge-reranker-v2-m3", "rank_fields": ["chunk_text"], "top_n": 2})
    assert len(ranked.result.hits) == 2 and ranked.usage.rerank_units == 1
    assert 1 >= ranked.result.hits[0].score >= ranked.result.hits[1].score >= 0


def test_embed_and_rerank_through_the_sdk(pc):
    dense = pc.inference.embed(model="multilingual-e5-large", inputs=["hello", "world"],
                               parameters={"input_type": "query"})
    assert dense.vector_type == "dense" and len(dense.data[0].values) == 384 and dense.usage.total_tokens == 6
    sparse = pc.inference.embed(model="pinecone-sparse-english-v0", inputs=["brave new world"],
                                parameters={"input_type": "passage", "return_tokens": True})
    assert sparse.vector_type == "sparse" and set(sparse.data[0].sparse_tokens) == {"brave", "new", "world"}
    ranked = pc.inference.rerank(model="bge-reranker-v2-m3", query="tech companies",
                                 documents=["Apple is a fruit.", "Acme Inc. revolutionized tech."], top_n=1)
    assert ranked.data[0].index == 1 and ranked.usage.rerank_units == 1
    assert "pinecone-sparse-english-v0" in {m.model for m in pc.inference.list_models()}


def test_bad_requests_are_typed_400s_and_store_nothing(server, pc, index):
    with pytest.raises(Exception) as info:
        pc.inference.embed(model="no-such-model", inputs=["x"])
    assert "no-such-model" in str(info.value) and "400" in str(info.value)
    with pytest.raises(Exception) as info:
        index.upsert_records(namespace="fresh", records=[{"_id": "a", "chunk_text": "ok"}, {"_id": "b", "t": "x"}])
    assert "records[1].chunk_text" in str(info.value)
    too_many = "\n".join('{"_id": "r%d", "chunk_text": "x"}' % i for i in range(97))
    response = httpx.post(f"{server.url}/index/docs/records/namespaces/fresh/upsert", content=too_many,
                          headers={"Content-Type": "application/x-ndjson"})
    assert response.status_code == 400 and "at most 96" in response.text
    assert "fresh" not in index.describe_index_stats().namespaces
    response = httpx.post(f"{server.url}/indexes/create-for-model",
                          json={"name": "bad", "cloud": "aws", "region": "us-east-1",
                                "embed": {"model": "nope", "field_map": {"text": "t"}}})
    assert response.status_code == 400 and "embed.model" in response.json()["error"]["message"]
    assert "bad" not in [m.name for m in pc.list_indexes()]


@pytest.mark.parametrize("path, body", [
    ("/embed", {"model": "llama-text-embed-v2", "inputs": [{"text": "x"}], "input_type": "query"}),
    ("/rerank", {"model": "bge-reranker-v2-m3", "query": "q", "documents": ["d"], "topN": 1}),
    ("/indexes/create-for-model", {"name": "extra", "cloud": "aws", "region": "us-east-1", "dimension": 384,
                                   "embed": {"model": "llama-text-embed-v2", "field_map": {"text": "t"}}}),
    ("/index/docs/records/namespaces/ns/search", {"query": {"inputs": {"text": "x"}, "top_k": 1}, "top_k": 1}),
])
def test_inference_routes_refuse_undocumented_fields(server, index, path, body):
    response = httpx.post(f"{server.url}{path}", json=body)
    assert response.status_code == 400, response.text
    extra = {"/embed": "input_type", "/rerank": "topN", "/indexes/create-for-model": "dimension"}.get(path, "top_k")
    assert f"unknown field {extra!r}" in response.text
