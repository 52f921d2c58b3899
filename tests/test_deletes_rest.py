"""The reference service's delete examples (seeds 000/001/003) over REST with the official SDK.

The server is started as in test_server_sdk.py (``python -m toolkit serve`` on a free port);
the SDK is the unmodified ``pinecone`` package. ``$document`` filters travel inside the
ordinary ``filter`` field, so they work over REST without a new parameter.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

pinecone = pytest.importorskip("pinecone")
from pinecone import Pinecone, ServerlessSpec  # noqa: E402

try:
    from .test_server_sdk import assert_clean_stop, start_server
except ImportError:
    from test_server_sdk import assert_clean_stop, start_server

SPEC = ServerlessSpec(cloud="aws", region="us-east-1")
DIM = 4
_names = itertools.count()


@pytest.fixture(scope="module")
def pc(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("deletes-server"))
    yield Pinecone(api_key="local", host=srv.url)
    assert_clean_stop(srv)


@pytest.fixture()
def index(pc):
    name = f"del-{os.getpid() % 1000}-{next(_names)}"
    pc.create_index(name=name, dimension=DIM, metric="cosine", spec=SPEC)
    yield pc.Index(name=name)
    pc.delete_index(name, timeout=-1)


def vec(i: int) -> list[float]:
    return (np.random.default_rng(i).random(DIM) + 0.01).tolist()


def page_ids(page) -> list[str]:
    """Return a list page's ids (the 10.x SDK yields pages of ListItem objects)."""
    return [getattr(item, "id", item) for item in page]


def ids_in(index, namespace):
    return sorted(i for page in index.list(namespace=namespace) for i in page_ids(page))


def test_rest_seed_deletes(index):
    ns = "example-namespace"
    index.upsert(vectors=[{"id": f"id-{i}", "values": vec(i), "metadata": {"genre": "documentary" if i % 2 else
                                                                               "drama"}} for i in range(1, 7)],
                 namespace=ns)
    index.delete(ids=["id-1", "id-2"], namespace=ns)
    assert ids_in(index, ns) == ["id-3", "id-4", "id-5", "id-6"]
    index.delete(filter={"genre": {"$eq": "documentary"}}, namespace=ns)
    assert ids_in(index, ns) == ["id-4", "id-6"]
    index.delete(delete_all=True, namespace=ns)
    assert ids_in(index, ns) == []
    index.upsert(vectors=[{"id": "x", "values": vec(0)}], namespace=ns)
    index.delete_namespace(namespace=ns)
    assert ns not in {n.name for n in index.list_namespaces_paginated().namespaces}
    assert index.describe_index_stats().total_vector_count == 0


def test_rest_delete_by_id_prefix_and_document_filter(index):
    ns = "example-namespace"
    index.upsert(vectors=[{"id": f"document{d}#chunk{c}", "values": vec(10 * d + c),
                           "metadata": {"document_id": f"document{d}", "document": f"chunk {c}: a {'storm' if c % 2 else 'calm'}"}}
                          for d in (1, 2) for c in range(1, 5)], namespace=ns)
    for page in index.list(prefix="document1#", namespace=ns):
        index.delete(ids=page_ids(page), namespace=ns)
    assert ids_in(index, ns) == [f"document2#chunk{c}" for c in range(1, 5)]
    found = index.query(vector=vec(0), top_k=10, namespace=ns, filter={"$document": {"$contains": "storm"}})
    assert sorted(m.id for m in found.matches) == ["document2#chunk1", "document2#chunk3"]
    index.delete(filter={"$document": {"$not_contains": "storm"}}, namespace=ns)
    assert ids_in(index, ns) == ["document2#chunk1", "document2#chunk3"]
