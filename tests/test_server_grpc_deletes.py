"""The reference service's delete examples (seeds 000/001/003) over gRPC (issue #16).

The official SDK's gRPC client (``PineconeGRPC``, plaintext via ``grpc_scheme="http"``) against
``python -m toolkit serve``: the index host is the index's own port, which speaks gRPC and REST.
Every delete example of the seeds is replayed as the documents write it (by ids, delete_all,
delete_namespace, by metadata, "delete chunks", "update an entire document", "delete by ID
prefix" — list, then delete by ids — and the "delete records in batches" loops), and each result
is checked over REST on the same host. The server's own rules (one mode only, at most 1000 ids)
are checked with raw protobuf requests, because the SDK refuses those before sending.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

pinecone = pytest.importorskip("pinecone")
grpc = pytest.importorskip("grpc")
from google.protobuf import struct_pb2  # noqa: E402
from pinecone import Pinecone, ServerlessSpec  # noqa: E402
from pinecone.grpc import PineconeGRPC  # noqa: E402

from toolkit.server.proto import db_data_pb2 as pb  # noqa: E402
from toolkit.server.proto import db_data_pb2_grpc as pb_grpc  # noqa: E402

try:
    from .test_server_sdk import assert_clean_stop, start_server
except ImportError:
    from test_server_sdk import assert_clean_stop, start_server

SPEC = ServerlessSpec(cloud="aws", region="us-east-1")
DIM = 4
NS = "example-namespace"
_names = itertools.count()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("grpc-deletes-server"), "--index-port-start", "0")
    yield srv
    assert_clean_stop(srv)


@pytest.fixture(scope="module")
def pc(server):
    return Pinecone(api_key="local", host=server.url)


@pytest.fixture(scope="module")
def pcg(server):
    return PineconeGRPC(api_key="local", host=server.url, grpc_scheme="http")


@pytest.fixture()
def host(pc):
    name = f"gdel-{os.getpid() % 1000}-{next(_names)}"
    model = pc.create_index(name=name, dimension=DIM, metric="cosine", spec=SPEC)
    assert "/index/" not in model.host  # the index's own port: gRPC + REST
    yield model.host
    pc.delete_index(name, timeout=-1)


@pytest.fixture()
def index(pcg, host):
    return pcg.Index(host=host)


@pytest.fixture()
def rest(pc, host):
    return pc.Index(host=host)


def vec(i: int) -> list[float]:
    return (np.random.default_rng(i).random(DIM) + 0.01).tolist()


def page_ids(page) -> list[str]:
    """Return a list page's ids (the gRPC client yields pages of ids or of ListItem objects)."""
    return [getattr(item, "id", item) for item in page]


def ids_in(index, namespace: str) -> list[str]:
    return sorted(i for page in index.list(namespace=namespace) for i in page_ids(page))


def chunks(document: str, n: int, title: str = "Introduction to Vector Databases") -> list[dict]:
    return [{"id": f"{document}#chunk{c}", "values": vec(c + 100 * len(document)),
             "metadata": {"document_id": document, "document_title": title, "chunk_number": c,
                          "chunk_text": f"chunk {c} of {document}"}}
            for c in range(1, n + 1)]


def test_grpc_seed000_delete_by_ids_and_delete_all(index, rest):
    index.upsert(vectors=[{"id": f"id-{i}", "values": vec(i)} for i in range(1, 5)], namespace=NS)
    index.delete(ids=["id-1", "id-2"], namespace='example-namespace')
    assert ids_in(rest, NS) == ["id-3", "id-4"]
    index.delete(ids=["id-1", "id-2"], namespace='example-namespace')  # unknown ids are ignored
    assert ids_in(index, NS) == ["id-3", "id-4"]
    # Delete all records in a namespace: the records go, the namespace stays
    index.delete(delete_all=True, namespace='example-namespace')
    assert ids_in(rest, NS) == []
    assert index.describe_namespace(namespace=NS).record_count == 0


def test_grpc_seed000_default_namespace_spelling(index, rest):
    index.upsert(vectors=[("a", vec(0)), ("b", vec(1))])
    index.delete(ids=["a"], namespace="__default__")
    assert ids_in(rest, "") == ["b"]
    index.delete(delete_all=True, namespace="__default__")
    assert rest.describe_index_stats().total_vector_count == 0


def test_grpc_seed001_delete_namespace(index, rest):
    index.upsert(vectors=[("a", vec(0))], namespace=NS)
    index.upsert(vectors=[("b", vec(1))], namespace="other")
    index.delete_namespace(namespace="example-namespace")
    with pytest.raises(pinecone.errors.NotFoundError):
        index.describe_namespace(namespace=NS)
    assert {n.name for n in rest.list_namespaces_paginated().namespaces} == {"other"}
    assert ids_in(index, "other") == ["b"]


def test_grpc_seed003_delete_by_metadata(index, rest):
    index.upsert(vectors=[{"id": f"m{i}", "values": vec(i), "metadata": {"genre": "documentary" if i % 2 else "drama"}}
                          for i in range(6)], namespace=NS)
    index.delete(filter={"genre": {"$eq": "documentary"}}, namespace="example-namespace")
    assert ids_in(rest, NS) == ["m0", "m2", "m4"]


def test_grpc_seed003_delete_chunks_and_update_an_entire_document(index, rest):
    index.upsert(vectors=chunks("document1", 4) + chunks("document2", 2), namespace=NS)
    # Delete chunks 1 and 3
    index.delete(namespace="example-namespace",
                 filter={"document_id": {"$eq": "document1"}, "chunk_number": {"$in": [1, 3]}})
    assert [i for i in ids_in(rest, NS) if i.startswith("document1")] == ["document1#chunk2", "document1#chunk4"]
    # Update an entire document: delete its chunks by filter, then upsert the new ones
    index.delete(namespace="example-namespace", filter={"document_id": {"$eq": "document1"}})
    index.upsert(namespace="example-namespace", vectors=chunks("document1", 3, "Updated Edition"))
    fetched = index.fetch(ids=[f"document1#chunk{c}" for c in range(1, 5)], namespace=NS)
    assert sorted(fetched.vectors) == ["document1#chunk1", "document1#chunk2", "document1#chunk3"]
    assert {v.metadata["document_title"] for v in fetched.vectors.values()} == {"Updated Edition"}
    assert [i for i in ids_in(rest, NS) if i.startswith("document2")] == ["document2#chunk1", "document2#chunk2"]


def test_grpc_seed003_delete_by_id_prefix_list_then_delete(index, rest):
    index.upsert(vectors=chunks("doc1", 250) + chunks("doc10", 3) + chunks("doc2", 3), namespace=NS, batch_size=100)
    pages = 0
    # List all chunks for doc1 using the ID prefix (pages of at most 100), then delete them by id
    for page in index.list(prefix="doc1#", namespace="example-namespace"):
        ids = page_ids(page)
        assert 0 < len(ids) <= 100
        index.delete(ids=ids, namespace="example-namespace")
        pages += 1
    assert pages == 3
    left = ids_in(rest, NS)
    assert not [i for i in left if i.startswith("doc1#")]
    assert len(left) == 6  # "doc10#..." shares the text prefix "doc1" but not "doc1#"


def test_grpc_seed003_delete_records_in_batches(index, rest):
    index.upsert(vectors=[{"id": f"r{i:03d}", "values": vec(i), "metadata": {"keep": i % 4 == 0}} for i in range(300)],
                 namespace="NAMESPACE_NAME")
    BATCH = 100
    query_vector = np.random.default_rng(7).uniform(0.01, 1, size=DIM).tolist()
    # "Batch delete by metadata": query with the filter, delete the matches by id, until none are left
    METADATA_FILTER = {"keep": False}
    results = index.query(vector=query_vector, namespace="NAMESPACE_NAME", filter=METADATA_FILTER, top_k=BATCH)
    rounds = 0
    while len(results.matches) > 0:
        index.delete(ids=[m.id for m in results.matches], namespace="NAMESPACE_NAME")
        results = index.query(vector=query_vector, namespace="NAMESPACE_NAME", filter=METADATA_FILTER, top_k=BATCH)
        rounds += 1
    assert rounds == 3
    assert ids_in(rest, "NAMESPACE_NAME") == [f"r{i:03d}" for i in range(0, 300, 4)]
    # "Batch delete a namespace": the same loop without a filter
    results = index.query(vector=query_vector, namespace="NAMESPACE_NAME", top_k=BATCH)
    while len(results.matches) > 0:
        index.delete(ids=[m.id for m in results.matches], namespace="NAMESPACE_NAME")
        results = index.query(vector=query_vector, namespace="NAMESPACE_NAME", top_k=BATCH)
    assert rest.describe_index_stats().total_vector_count == 0


def test_grpc_delete_by_document_text(index, rest):
    index.upsert(vectors=[{"id": f"c{c}", "values": vec(c), "metadata": {"document": f"a {'storm' if c % 2 else 'calm'}"}}
                          for c in range(4)], namespace=NS)
    index.delete(filter={"$document": {"$not_contains": "storm"}}, namespace=NS)
    assert ids_in(rest, NS) == ["c1", "c3"]


def _target(host: str) -> str:
    return host.split("://", 1)[1]


def test_grpc_server_keeps_the_reference_rules(index, rest, host):
    """What the SDK refuses client-side, the server refuses too (raw protobuf): nothing is deleted."""
    index.upsert(vectors=[{"id": "a", "values": vec(0), "metadata": {"g": "x"}}], namespace=NS)
    where = struct_pb2.Struct()
    where.update({"g": {"$eq": "x"}})
    bad = [pb.DeleteRequest(namespace=NS),
           pb.DeleteRequest(ids=["a"], filter=where, namespace=NS),
           pb.DeleteRequest(ids=["a"], delete_all=True, namespace=NS),
           pb.DeleteRequest(ids=[f"i{n}" for n in range(1001)], namespace=NS)]
    with grpc.insecure_channel(_target(host)) as channel:
        stub = pb_grpc.VectorServiceStub(channel)
        for request in bad:
            with pytest.raises(grpc.RpcError) as info:
                stub.Delete(request, metadata=[("api-key", "local")])
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, request
        assert ids_in(rest, NS) == ["a"]
        stub.Delete(pb.DeleteRequest(filter=where, namespace=NS), metadata=[("api-key", "local")])
    assert ids_in(rest, NS) == []
