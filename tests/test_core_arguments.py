"""Unknown keyword arguments are refused by name; the reference SDK's pass-through names are accepted."""

from __future__ import annotations

import pytest

import toolkit
from toolkit.errors import InvalidArgumentError


@pytest.fixture()
def index():
    client = toolkit.Client()
    client.create_index("args", dimension=2, metric="euclidean")
    ix = client.Index("args")
    ix.upsert([("a", [1.0, 0.0]), ("b", [0.0, 1.0])])
    return ix


CALLS = [
    ("upsert", lambda ix, **kw: ix.upsert([("c", [1.0, 1.0])], **kw)),
    ("query", lambda ix, **kw: ix.query(vector=[1.0, 0.0], top_k=1, **kw)),
    ("fetch", lambda ix, **kw: ix.fetch(ids=["a"], **kw)),
    ("update", lambda ix, **kw: ix.update(id="a", set_metadata={"x": 1}, **kw)),
    ("delete", lambda ix, **kw: ix.delete(ids=["b"], **kw)),
    ("describe_index_stats", lambda ix, **kw: ix.describe_index_stats(**kw)),
    ("list_paginated", lambda ix, **kw: ix.list_paginated(**kw)),
    ("list", lambda ix, **kw: ix.list(**kw)),
    ("list_namespaces", lambda ix, **kw: ix.list_namespaces(**kw)),
    ("list_namespaces_paginated", lambda ix, **kw: ix.list_namespaces_paginated(**kw)),
    ("describe_namespace", lambda ix, **kw: ix.describe_namespace("__default__", **kw)),
    ("query_namespaces", lambda ix, **kw: ix.query_namespaces(vector=[1.0, 0.0], namespaces=["__default__"],
                                                              metric="euclidean", **kw)),
    ("list_imports", lambda ix, **kw: ix.list_imports(**kw)),
    ("create_namespace", lambda ix, **kw: ix.create_namespace("fresh", **kw)),
    ("fetch_by_metadata", lambda ix, **kw: ix.fetch_by_metadata(filter={"x": 1}, **kw)),
]


@pytest.mark.parametrize("name,call", CALLS, ids=[c[0] for c in CALLS])
def test_a_misspelt_argument_is_refused_by_name_and_changes_nothing(index, name, call):
    before = index.describe_index_stats().total_vector_count, index.lsns()
    with pytest.raises(InvalidArgumentError) as info:
        call(index, include_metdata=True)
    assert "include_metdata" in str(info.value) and name in str(info.value)
    assert info.value.path == "include_metdata"
    assert (index.describe_index_stats().total_vector_count, index.lsns()) == before


@pytest.mark.parametrize("name,call", CALLS, ids=[c[0] for c in CALLS])
def test_the_sdk_request_options_are_accepted(index, name, call):
    call(index, _request_timeout=5, _preload_content=True, async_req=False)


def test_async_requests_are_refused_in_process(index):
    with pytest.raises(InvalidArgumentError, match="async_req"):
        index.query(vector=[1.0, 0.0], top_k=1, async_req=True)


def test_client_and_index_take_the_sdk_transport_options_and_nothing_else():
    client = toolkit.Client(pool_threads=4, ssl_verify=True, additional_headers={"x": "y"})
    client.create_index("t", dimension=2, timeout=30)
    assert client.Index("t", pool_threads=2, connection_pool_maxsize=8).name == "t"
    with pytest.raises(InvalidArgumentError, match="'pol_threads'"):
        toolkit.Client(pol_threads=4)
    with pytest.raises(InvalidArgumentError, match="'pool_thread'"):
        client.Index("t", pool_thread=2)
    with pytest.raises(InvalidArgumentError, match="'dimensoin'") as info:
        client.create_index("u", dimension=2, dimensoin=3)
    assert info.value.path == "dimensoin"
    with pytest.raises(InvalidArgumentError, match="'backup_nme'"):
        client.create_backup("t", backup_nme="x")
    with pytest.raises(InvalidArgumentError, match="'namespac'"):
        client.Index("t").query_batch([[1.0, 0.0]], top_k=1, namespac="x")
    assert not client.has_index("u")
