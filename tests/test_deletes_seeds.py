"""Every delete example of the seed documents, replayed (issue #16).

* seed 000/001/003 (the reference service): by ids, delete_all, delete_namespace, by metadata
  filter (and the 2024-10 "not on serverless" contradiction as a setting), the data-modeling
  guide's "delete chunks" / "update an entire document", "delete by ID prefix" (list, then
  delete by ids) and the pod-era "delete records in batches" loops — through the SDK-shaped API;
* seed 004 (Chroma): ``collection.delete(ids=...)`` and ``(where=...)``, plus where_document
  and limit, through ``toolkit.compat.ChromaCollection``;
* seed 002 (Vectorizer): delete_vector, batch_delete, delete_by_filter and both "common
  patterns" (cleanup old documents, delete by category), through ``toolkit.compat.VectorizerClient``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import numpy as np
import pytest

import toolkit
from toolkit.compat import ChromaClient, VectorizerClient
from toolkit.errors import InvalidArgumentError, NotFoundError

DIM = 4


def vec(i: int) -> list[float]:
    rng = np.random.default_rng(i)
    return (rng.random(DIM) + 0.01).tolist()


@pytest.fixture()
def index(client_factory):
    client = client_factory()
    client.create_index(name="seeds", dimension=DIM, metric="cosine")
    return client.Index("seeds")


def ids_in(index, namespace: str) -> list[str]:
    return [i for page in index.list(namespace=namespace) for i in page]


# -- the reference service (seeds 000, 001, 003) ---------------------------------------------------

def test_seed000_delete_by_ids(index):
    index.upsert([{"id": f"id-{i}", "values": vec(i)} for i in range(1, 5)], namespace="example-namespace")
    index.delete(ids=["id-1", "id-2"], namespace='example-namespace')
    assert ids_in(index, "example-namespace") == ["id-3", "id-4"]
    index.delete(ids=["id-1", "id-2"], namespace='example-namespace')  # idempotent: unknown ids are ignored
    assert ids_in(index, "example-namespace") == ["id-3", "id-4"]


def test_seed000_delete_all_keeps_the_namespace(index):
    index.upsert([{"id": f"id-{i}", "values": vec(i)} for i in range(3)], namespace="example-namespace")
    response = index.delete(delete_all=True, namespace='example-namespace')
    assert response.usage.write_units == 5
    assert ids_in(index, "example-namespace") == []
    assert index.describe_namespace("example-namespace").record_count == 0  # the namespace itself stays


def test_seed001_delete_namespace(index):
    index.upsert([{"id": "a", "values": vec(0)}], namespace="example-namespace")
    index.delete_namespace(namespace="example-namespace")
    with pytest.raises(NotFoundError):
        index.describe_namespace("example-namespace")


def test_seed000_default_namespace_spelling(index):
    index.upsert([{"id": "a", "values": vec(0)}, {"id": "b", "values": vec(1)}])
    index.delete(ids=["a"], namespace="__default__")
    assert ids_in(index, "") == ["b"]


def test_seed003_delete_by_metadata_and_the_2024_10_contradiction(client_factory):
    client = client_factory()
    client.create_index(name="genres", dimension=DIM, metric="cosine")
    index = client.Index("genres")
    index.upsert([{"id": f"m{i}", "values": vec(i), "metadata": {"genre": "documentary" if i % 2 else "drama"}}
                  for i in range(6)], namespace="example-namespace")
    index.delete(filter={"genre": {"$eq": "documentary"}}, namespace="example-namespace")
    assert ids_in(index, "example-namespace") == ["m0", "m2", "m4"]
    old = toolkit.Client(settings=toolkit.Settings(delete_by_filter=False))  # seed 000: not on serverless
    old.create_index(name="old", dimension=DIM, metric="cosine")
    with pytest.raises(InvalidArgumentError, match="do not support delete by metadata"):
        old.Index("old").delete(filter={"genre": {"$eq": "documentary"}}, namespace="example-namespace")


def chunks(document: str, n: int, title: str = "Introduction to Vector Databases") -> list[dict]:
    return [{"id": f"{document}#chunk{c}", "values": vec(c + 100 * len(document)),
             "metadata": {"document_id": document, "document_title": title, "chunk_number": c,
                          "chunk_text": f"chunk {c} of {document}", "created_at": "2024-01-15"}}
            for c in range(1, n + 1)]


def test_seed003_delete_chunks_and_update_an_entire_document(index):
    index.upsert(chunks("document1", 4) + chunks("document2", 2), namespace="example-namespace")
    # Delete chunks 1 and 3
    index.delete(namespace="example-namespace",
                 filter={"document_id": {"$eq": "document1"}, "chunk_number": {"$in": [1, 3]}})
    assert [i for i in ids_in(index, "example-namespace") if i.startswith("document1")] == \
        ["document1#chunk2", "document1#chunk4"]
    # Update an entire document: delete all its chunks by filter, then upsert the new chunks
    index.delete(namespace="example-namespace", filter={"document_id": {"$eq": "document1"}})
    index.upsert(namespace="example-namespace", vectors=chunks("document1", 3, "Updated Edition"))
    fetched = index.fetch(ids=[f"document1#chunk{c}" for c in range(1, 5)], namespace="example-namespace")
    assert sorted(fetched.vectors) == ["document1#chunk1", "document1#chunk2", "document1#chunk3"]
    assert {v.metadata["document_title"] for v in fetched.vectors.values()} == {"Updated Edition"}
    assert [i for i in ids_in(index, "example-namespace") if i.startswith("document2")] == \
        ["document2#chunk1", "document2#chunk2"]


def test_seed003_delete_by_id_prefix_list_then_delete(client_factory):
    client = client_factory()
    client.create_index(name="seeds", dimension=DIM, metric="cosine")
    index = client.Index("seeds")
    index.upsert(chunks("doc1", 250) + chunks("doc10", 3) + chunks("doc2", 3), namespace="example-namespace")
    # List all chunks for doc1 using the ID prefix (pages of 100), then delete them by id
    for ids in index.list(prefix="doc1#", namespace="example-namespace"):
        assert len(ids) <= 100
        index.delete(ids=ids, namespace="example-namespace")
    left = ids_in(index, "example-namespace")
    assert not [i for i in left if i.startswith("doc1#")]
    assert len(left) == 6  # "doc10#..." shares the text prefix "doc1" but not "doc1#"
    index = client_factory.reopen(client).Index("seeds")  # persistent: the deletes survive a reopen
    assert ids_in(index, "example-namespace") == left


def test_seed003_delete_records_in_batches(index):
    index.upsert([{"id": f"r{i:03d}", "values": vec(i), "metadata": {"keep": i % 4 == 0}} for i in range(300)],
                 namespace="NAMESPACE_NAME")
    BATCH = 100
    query_vector = np.random.default_rng(7).uniform(0.01, 1, size=DIM).tolist()
    # "Batch delete by metadata": query with the filter, delete the matches by id, until none are left
    METADATA_FILTER = {"keep": False}
    results = index.query(vector=query_vector, namespace="NAMESPACE_NAME", filter=METADATA_FILTER, top_k=BATCH)
    while len(results['matches']) > 0:
        ids = [i['id'] for i in results['matches']]
        index.delete(ids=ids, namespace="NAMESPACE_NAME")
        results = index.query(vector=query_vector, namespace="NAMESPACE_NAME", filter=METADATA_FILTER, top_k=BATCH)
    assert ids_in(index, "NAMESPACE_NAME") == [f"r{i:03d}" for i in range(0, 300, 4)]
    # "Batch delete a namespace": the same loop without a filter
    results = index.query(vector=query_vector, namespace="NAMESPACE_NAME", top_k=BATCH)
    while len(results['matches']) > 0:
        index.delete(ids=[i['id'] for i in results['matches']], namespace="NAMESPACE_NAME")
        results = index.query(vector=query_vector, namespace="NAMESPACE_NAME", top_k=BATCH)
    assert index.describe_index_stats().total_vector_count == 0


def test_reference_delete_keeps_its_rules(index):
    index.upsert([{"id": "a", "values": vec(0), "metadata": {"g": "x"}}])
    for bad in ({}, {"ids": ["a"], "filter": {"g": "x"}}, {"ids": ["a"], "delete_all": True}):
        with pytest.raises(InvalidArgumentError, match="exactly one of"):
            index.delete(**bad)
    with pytest.raises(InvalidArgumentError, match="1 to 1000"):
        index.delete(ids=[f"i{n}" for n in range(1001)])
    with pytest.raises(InvalidArgumentError, match="non-empty filter"):
        index.delete(filter={})
    assert index.delete(ids=["a"]).to_dict().keys() == {"lsn", "usage"}  # no deleted count in the reference


# -- Chroma (seed 004) ------------------------------------------------------------------------------

@pytest.fixture()
def collection(index):
    collection = ChromaClient(index).get_or_create_collection("my-collection")
    collection.add(ids=["id1", "id2", "id3", "id4"], embeddings=[vec(i) for i in range(4)],
                   metadatas=[{"category": "old"}, {"category": "new"}, {"category": "old"}, None],
                   documents=["an old storm", "a new day", "old calm", "storm again"])
    return collection


def test_seed004_chroma_delete_by_ids(collection):
    assert collection.delete(ids=['id1', 'id2']) == {"deleted": 2}
    assert collection.get()["ids"] == ["id3", "id4"]
    assert collection.delete(ids=['id1', 'id2']) == {"deleted": 0}  # already gone: counted once


def test_seed004_chroma_delete_by_metadata_filter(collection):
    assert collection.delete(where={'category': 'old'}) == {"deleted": 2}
    assert collection.get()["ids"] == ["id2", "id4"]
    assert collection.count() == 2


def test_seed004_chroma_ids_where_where_document_and_limit(collection):
    assert collection.delete(ids=["id1", "id2"], where={"category": "old"}) == {"deleted": 1}  # intersection
    assert collection.delete(where_document={"$contains": "storm"}, limit=0) == {"deleted": 0}
    assert collection.get(where_document={"$contains": "storm"})["ids"] == ["id4"]
    collection.add(ids=["id5", "id6"], embeddings=[vec(5), vec(6)], documents=["storm 5", "storm 6"])
    # limit: the first matches in bytewise id order go
    assert collection.delete(where_document={"$contains": "storm"}, limit=2) == {"deleted": 2}
    assert collection.get()["ids"] == ["id2", "id3", "id6"]
    assert collection.delete(where={"$or": [{"category": "new"}, {"category": "old"}]},
                             where_document={"$not_contains": "new"}) == {"deleted": 1}
    assert collection.get()["ids"] == ["id2", "id6"]


def test_chroma_get_and_query_return_documents(collection):
    got = collection.get(ids=["id2", "id4"])
    assert got["ids"] == ["id2", "id4"] and got["documents"] == ["a new day", "storm again"]
    assert got["metadatas"] == [{"category": "new"}, None]
    result = collection.query(query_embeddings=[vec(0)], n_results=4, where_document={"$contains": "storm"})
    assert sorted(result["ids"][0]) == ["id1", "id4"] and result["ids"][0][0] == "id1"
    assert result["distances"][0][0] == pytest.approx(0.0, abs=1e-5)


def test_chroma_errors_are_located(collection):
    with pytest.raises(InvalidArgumentError) as caught:
        collection.delete(where={"$or": [{"category": "old"}, {"tags": {"$regex": "x"}}]})
    assert caught.value.path == "where.$or[1].tags.$regex"
    with pytest.raises(InvalidArgumentError) as caught:
        collection.delete(where={"n": {"$gt": "seven"}})
    assert caught.value.path == "where.n"  # the filter compiler locates the field
    with pytest.raises(InvalidArgumentError) as caught:
        collection.delete(where_document={"$and": [{"$contains": "a"}, {"$like": "b"}]})
    assert caught.value.path == "where_document.$and[1].$like"
    with pytest.raises(InvalidArgumentError) as caught:
        collection.add(ids=["x"], embeddings=None, documents=["no vector"])
    assert caught.value.path == "embeddings"
    with pytest.raises(InvalidArgumentError):
        collection.delete()  # at least one selector
    with pytest.raises(InvalidArgumentError):
        collection.delete(where={})  # an empty filter alone would empty the collection
    assert collection.count() == 4  # nothing changed by the rejected requests


# -- Vectorizer (seed 002) --------------------------------------------------------------------------

def run(coroutine):
    return asyncio.run(coroutine)


@pytest.fixture()
def vectorizer(index):
    client = VectorizerClient(index)
    now = datetime.now()
    vectors = [{"id": f"vec_{i:03d}", "vector": vec(i),
                "payload": {"category": "old_docs" if i % 3 == 0 else "news",
                            "created_at": (now - timedelta(days=10 * i)).isoformat()}}
               for i in range(1, 13)]
    run(client.insert_vectors("my_collection", vectors))
    return client


def test_seed002_delete_single_vector(vectorizer):
    assert run(vectorizer.delete_vector("my_collection", "vec_001")) == {"deleted": 1}
    assert run(vectorizer.get_vector("my_collection", "vec_001")) is None


def test_seed002_delete_multiple_vectors(vectorizer):
    ids_to_delete = ["vec_001", "vec_002", "vec_003"]
    assert run(vectorizer.batch_delete("my_collection", ids_to_delete)) == {"deleted": 3}
    assert run(vectorizer.batch_delete("my_collection", ids_to_delete)) == {"deleted": 0}


def test_seed002_delete_by_filter_and_pattern2_delete_by_category(vectorizer):
    client = vectorizer

    async def delete_by_category(collection_name, category):
        """Delete all vectors in a category."""
        return await client.delete_by_filter(collection_name, filter={"category": category})

    assert run(client.delete_by_filter("my_collection", filter={"category": "old_docs"})) == {"deleted": 4}
    assert run(delete_by_category("my_collection", "news")) == {"deleted": 8}
    assert run(client.search("my_collection", "", limit=100)) == []


def test_seed002_pattern1_cleanup_old_documents(vectorizer):
    client = vectorizer

    async def cleanup_old_documents(collection_name, older_than_days=30):
        """Delete documents older than specified days."""
        cutoff_date = (datetime.now() - timedelta(days=older_than_days)).isoformat()
        results = await client.search(collection_name, "", limit=10000, filter={"created_at": {"$lt": cutoff_date}})
        ids_to_delete = [r["id"] for r in results]
        if ids_to_delete:
            await client.batch_delete(collection_name, ids_to_delete)
        return ids_to_delete

    deleted = run(cleanup_old_documents("my_collection", older_than_days=35))
    assert sorted(deleted) == [f"vec_{i:03d}" for i in range(4, 13)]  # created 40..120 days ago
    left = run(client.search("my_collection", "", limit=100))
    assert sorted(r["id"] for r in left) == ["vec_001", "vec_002", "vec_003"]
    assert all("created_at__epoch" not in r["payload"] for r in left)  # the shadow field stays hidden


def test_vectorizer_filter_errors_are_located(vectorizer):
    with pytest.raises(InvalidArgumentError) as caught:
        run(vectorizer.delete_by_filter("my_collection", filter={"created_at": {"$lt": "last tuesday"}}))
    assert caught.value.path == "filter.created_at.$lt"
    with pytest.raises(InvalidArgumentError) as caught:
        run(vectorizer.delete_by_filter("my_collection", filter={"$nor": [{"category": "news"}]}))
    assert caught.value.path == "filter.$nor"
    assert len(run(vectorizer.search("my_collection", "", limit=100))) == 12
