"""Integrated inference through the official SDK's gRPC client (``PineconeGRPC``) against ``toolkit serve``.

The reference's gRPC API has no records operations: the SDK's ``GrpcIndex.upsert_records`` and
``.search`` / ``.search_records`` send REST requests to the same index host, and ``pc.inference``
is the REST inference client. The index host here is the index's own port, which answers both
protocols, so these tests prove that the one host a gRPC user is given serves the whole data
plane: vectors over gRPC (checked below with a gRPC query of the records' embeddings) and records
over REST.
"""

from __future__ import annotations

import pytest

from inference_helpers import require_text_models

require_text_models()
pinecone = pytest.importorskip("pinecone")
pytest.importorskip("grpc")
from pinecone.grpc import PineconeGRPC  # noqa: E402

from test_server_sdk import assert_clean_stop, start_server  # noqa: E402

RECORDS = [
    {"_id": "rec1", "chunk_text": "Apple is a popular fruit known for its sweetness and crisp texture.",
     "category": "fruit", "year": 2021},
    {"_id": "rec2", "chunk_text": "The tech company Apple is known for its innovative products like the iPhone.",
     "category": "tech", "year": 2022},
    {"_id": "rec3", "chunk_text": "Many people enjoy eating apples as a healthy snack.", "category": "food",
     "year": 2023},
    {"id": "rec4", "chunk_text": "Apple Inc. has revolutionized the tech industry with its sleek designs.",
     "category": "tech", "year": 2024},
    {"_id": "rec5", "chunk_text": "Microsoft builds software, cloud services and the Xbox game console.",
     "category": "tech", "year": 2020},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("grpc-inference-server"), "--index-port-start", "0")
    yield srv
    assert_clean_stop(srv)


@pytest.fixture(scope="module")
def pcg(server):
    return PineconeGRPC(api_key="local", host=server.url, grpc_scheme="http")


@pytest.fixture(scope="module")
def index(pcg):
    model = pcg.create_index_for_model(name="grpc-docs", cloud="aws", region="us-east-1",
                                       embed={"model": "llama-text-embed-v2", "field_map": {"text": "chunk_text"}})
    assert model.dimension == 384 and "/index/" not in model.host  # its own port: gRPC + REST
    index = pcg.Index(host=model.host)
    assert type(index).__module__.startswith("pinecone.grpc")
    response = index.upsert_records(namespace="ns", records=RECORDS)
    assert response.record_count == len(RECORDS)
    return index


def test_upsert_records_lands_and_is_visible_over_grpc(pcg, index):
    stats = index.describe_index_stats()  # a gRPC call
    assert stats.namespaces["ns"].vector_count == len(RECORDS)
    fetched = index.fetch(ids=["rec2", "rec4"], namespace="ns")  # gRPC: the stored embedding and fields
    assert sorted(fetched.vectors) == ["rec2", "rec4"]
    assert fetched.vectors["rec4"].metadata["category"] == "tech"
    assert len(fetched.vectors["rec2"].values) == 384
    # the stored vector is the passage embedding of the text, as pc.inference.embed computes it
    passage = pcg.inference.embed(model="llama-text-embed-v2", inputs=[RECORDS[1]["chunk_text"]],
                                  parameters={"input_type": "passage"})
    hit = index.query(vector=passage.data[0].values, top_k=1, namespace="ns")
    assert hit.matches[0].id == "rec2" and hit.matches[0].score > 0.999


def test_search_with_text_filter_and_fields(index):
    out = index.search(namespace="ns", top_k=3, inputs={"text": "Famous technology firms"}, fields=["category"])
    assert {h.id for h in out.result.hits[:2]} <= {"rec2", "rec4", "rec5"}
    assert all(set(h.fields) <= {"category"} for h in out.result.hits)
    assert out.usage.embed_total_tokens > 0 and out.usage.read_units >= 1
    filtered = index.search(namespace="ns", top_k=5, inputs={"text": "Famous technology firms"},
                            filter={"category": {"$eq": "tech"}, "year": {"$gte": 2022}},
                            fields=["category", "year"])
    assert sorted(h.id for h in filtered.result.hits) == ["rec2", "rec4"]
    assert all(h.fields["category"] == "tech" and h.fields["year"] >= 2022 for h in filtered.result.hits)
    everything = index.search(namespace="ns", top_k=1, inputs={"text": "a crunchy sweet fruit"})
    assert everything.result.hits[0].id == "rec1"
    assert set(everything.result.hits[0].fields) == {"chunk_text", "category", "year"}  # fields omitted: all


def test_search_with_rerank_and_the_search_records_alias(index):
    ranked = index.search_records(namespace="ns", query={"inputs": {"text": "Famous technology firms"}, "top_k": 5},
                                  fields=["category", "chunk_text"],
                                  rerank={"model": "bge-reranker-v2-m3", "rank_fields": ["chunk_text"], "top_n": 2})
    assert len(ranked.result.hits) == 2 and ranked.usage.rerank_units == 1
    assert 1 >= ranked.result.hits[0].score >= ranked.result.hits[1].score >= 0
    assert {h.fields["category"] for h in ranked.result.hits} == {"tech"}
    by_id = index.search(namespace="ns", top_k=3, id="rec1", fields=["chunk_text"],
                         rerank={"model": "bge-reranker-v2-m3", "rank_fields": ["chunk_text"], "top_n": 1,
                                 "query": "healthy snack"})
    assert by_id.result.hits[0].id == "rec3"


def test_search_errors_are_typed_400s(index):
    with pytest.raises(pinecone.errors.PineconeError) as info:  # the reference's rule: rank fields in fields
        index.search(namespace="ns", top_k=2, inputs={"text": "x"}, fields=["category"],
                     rerank={"model": "bge-reranker-v2-m3", "rank_fields": ["chunk_text"]})
    assert "400" in str(info.value) and "rerank.rank_fields" in str(info.value)
    with pytest.raises(pinecone.errors.PineconeError) as info:
        index.upsert_records(namespace="fresh", records=[{"_id": "a", "chunk_text": "ok"}, {"_id": "b", "t": "x"}])
    assert "records[1].chunk_text" in str(info.value)
    assert "fresh" not in index.describe_index_stats().namespaces  # nothing stored for the rejected batch


def test_inference_embed_and_rerank_from_the_grpc_client(pcg):
    dense = pcg.inference.embed(model="multilingual-e5-large", inputs=["hello", "world"],
                                parameters={"input_type": "query"})
    assert dense.vector_type == "dense" and len(dense.data[0].values) == 384 and dense.usage.total_tokens == 6
    sparse = pcg.inference.embed(model="pinecone-sparse-english-v0", inputs=["brave new world"],
                                 parameters={"input_type": "passage", "return_tokens": True})
    assert sparse.vector_type == "sparse" and set(sparse.data[0].sparse_tokens) == {"brave", "new", "world"}
    ranked = pcg.inference.rerank(model="bge-reranker-v2-m3", query="tech companies",
                                  documents=["Apple is a fruit.", "Acme Inc. revolutionized tech."], top_n=1,
                                  return_documents=True)
    assert ranked.data[0].index == 1 and ranked.usage.rerank_units == 1
    assert ranked.data[0].document["text"] == "Acme Inc. revolutionized tech."
