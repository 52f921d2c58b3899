"""Errors: one project error type, status/code per class, what-and-where messages, atomic rejection."""

from __future__ import annotations

import pytest

import toolkit
from toolkit import errors
from toolkit.errors import (
    AlreadyExistsError,
    FilterError,
    ForbiddenError,
    InvalidArgumentError,
    NotFoundError,
    ToolkitError,
)

try:
    from .core_helpers import new_index
except ImportError:
    from core_helpers import new_index

# dataplane_spec §9.3: HTTP status, control-plane code, gRPC code.
ERROR_TABLE = [
    (errors.InvalidArgumentError, 400, "INVALID_ARGUMENT", 3),
    (errors.FilterError, 400, "INVALID_ARGUMENT", 3),
    (errors.UnauthenticatedError, 401, "UNAUTHENTICATED", 16),
    (errors.ForbiddenError, 403, "FORBIDDEN", 7),
    (errors.QuotaExceededError, 403, "QUOTA_EXCEEDED", 7),
    (errors.NotFoundError, 404, "NOT_FOUND", 5),
    (errors.AlreadyExistsError, 409, "ALREADY_EXISTS", 6),
    (errors.FailedPreconditionError, 412, "FAILED_PRECONDITION", 9),
    (errors.RateLimitedError, 429, "RESOURCE_EXHAUSTED", 8),
    (errors.InternalError, 500, "INTERNAL", 13),
    (errors.UnimplementedError, 501, "UNIMPLEMENTED", 12),
    (errors.UnavailableError, 503, "UNAVAILABLE", 14),
]


@pytest.mark.parametrize("cls,status,code,grpc", ERROR_TABLE, ids=[c[0].__name__ for c in ERROR_TABLE])
def test_error_classes_carry_status_and_codes(cls, status, code, grpc):
    err = cls("something is wrong", path="a.b")
    assert isinstance(err, ToolkitError)
    assert (err.status, err.code, err.grpc_code) == (status, code, grpc)
    assert str(err) == "a.b: something is wrong"
    assert err.message == "something is wrong" and err.path == "a.b"
    assert err.dataplane_body() == {"code": grpc, "message": "a.b: something is wrong", "details": []}
    assert err.controlplane_body() == {"status": status, "error": {"code": code, "message": "a.b: something is wrong"}}
    assert getattr(toolkit, cls.__name__) is cls


def test_every_exported_error_is_a_toolkit_error():
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), ToolkitError)


def test_python_base_classes_for_idiomatic_catching():
    assert issubclass(InvalidArgumentError, ValueError)
    assert issubclass(FilterError, InvalidArgumentError)
    assert issubclass(NotFoundError, KeyError)
    assert str(NotFoundError("index 'x' not found")) == "index 'x' not found"  # not KeyError-quoted


# --- which call raises what -------------------------------------------------------------------------


def _client_with_index():
    client = toolkit.Client()
    client.create_index(name="live", dimension=2, metric="cosine")
    client.Index("live").upsert(vectors=[("a", [1.0, 0.0])])
    return client


PATHS = [
    ("describe unknown index", lambda c: c.describe_index("nope"), NotFoundError, "name"),
    ("Index() of unknown index", lambda c: c.Index("nope"), NotFoundError, "name"),
    ("delete unknown index", lambda c: c.delete_index("nope"), NotFoundError, "name"),
    ("configure unknown index", lambda c: c.configure_index("nope", tags={"a": "b"}), NotFoundError, "name"),
    ("create existing name", lambda c: c.create_index(name="live", dimension=2), AlreadyExistsError, "name"),
    ("create bad name", lambda c: c.create_index(name="Bad_Name", dimension=2), InvalidArgumentError, "name"),
    ("create unknown cloud", lambda c: c.create_index(name="x", dimension=2, spec={"serverless": {
        "cloud": "ibm", "region": "us-east-1"}}), NotFoundError, "spec.serverless.cloud"),
    ("create unknown region", lambda c: c.create_index(name="x", dimension=2, spec=toolkit.ServerlessSpec(
        "gcp", "us-east-1")), NotFoundError, "spec.serverless.region"),
    ("create unknown engine", lambda c: c.create_index(name="x", dimension=2, engine="nope"),
     InvalidArgumentError, "engine.tiers[0].builder"),
    ("create bad engine key", lambda c: c.create_index(name="x", dimension=2, engine={"memtable": 3}),
     InvalidArgumentError, "engine"),
    ("configure a fixed field", lambda c: c.configure_index("live", metric="euclidean"), InvalidArgumentError,
     "metric"),
    ("describe unknown namespace", lambda c: c.Index("live").describe_namespace("nope"), NotFoundError,
     "namespace"),
    ("delete unknown namespace", lambda c: c.Index("live").delete_namespace("nope"), NotFoundError, "namespace"),
    ("stats with a filter", lambda c: c.Index("live").describe_index_stats(filter={"a": 1}),
     InvalidArgumentError, "filter"),
    ("bad filter", lambda c: c.Index("live").query(vector=[1, 0], top_k=1, filter={"a": {"$regex": "x"}}),
     FilterError, "a"),
    ("filter not an object", lambda c: c.Index("live").query(vector=[1, 0], top_k=1, filter="a=1"),
     InvalidArgumentError, "filter"),
    ("query with id and vector", lambda c: c.Index("live").query(id="a", vector=[1, 0], top_k=1),
     InvalidArgumentError, "id"),
    ("query without a source", lambda c: c.Index("live").query(top_k=1), InvalidArgumentError, "query"),
    ("include_values not bool", lambda c: c.Index("live").query(vector=[1, 0], top_k=1, include_values="yes"),
     InvalidArgumentError, "include_values"),
    ("delete without a mode", lambda c: c.Index("live").delete(), InvalidArgumentError, "delete"),
    ("delete with two modes", lambda c: c.Index("live").delete(ids=["a"], delete_all=True),
     InvalidArgumentError, "delete"),
    ("delete with empty filter", lambda c: c.Index("live").delete(filter={}), InvalidArgumentError, "filter"),
    ("update with nothing to change", lambda c: c.Index("live").update(id="a"), InvalidArgumentError, "id"),
    ("update by filter with an id", lambda c: c.Index("live").update(id="a", filter={"g": "x"},
                                                                     set_metadata={"h": "y"}),
     InvalidArgumentError, "filter"),
    ("update by filter without set_metadata", lambda c: c.Index("live").update(filter={"g": "x"}),
     InvalidArgumentError, "set_metadata"),
    ("sparse values on a dense vector field", lambda c: c.Index("live").upsert(vectors=[
        {"id": "b", "values": [1, 0], "sparse_values": {"indices": [1], "values": [1, 2]}}]),
     InvalidArgumentError, "vectors[0].sparse_values"),
    ("unknown record key", lambda c: c.Index("live").upsert(vectors=[{"id": "b", "values": [1, 0], "meta": {}}]),
     InvalidArgumentError, "vectors[0]"),
    ("record of a wrong type", lambda c: c.Index("live").upsert(vectors=[42]), InvalidArgumentError, "vectors[0]"),
    ("vectors not a list", lambda c: c.Index("live").upsert(vectors={"id": "a"}), InvalidArgumentError, "vectors"),
    ("bad batch_size", lambda c: c.Index("live").upsert(vectors=[("b", [1, 0])], batch_size=0),
     InvalidArgumentError, "batch_size"),
    ("query_namespaces with another metric", lambda c: c.Index("live").query_namespaces(
        vector=[1, 0], namespaces=["a"], metric="euclidean"), InvalidArgumentError, "metric"),
    ("Index() without a name", lambda c: c.Index(), InvalidArgumentError, "name"),
    ("bad deletion_protection", lambda c: c.configure_index("live", deletion_protection="on"),
     InvalidArgumentError, "deletion_protection"),
    ("bad tag value", lambda c: c.configure_index("live", tags={"k": "ü"}), InvalidArgumentError, "tags.k"),
]


@pytest.mark.parametrize("what,call,cls,path", PATHS, ids=[p[0] for p in PATHS])
def test_error_path(what, call, cls, path):
    client = _client_with_index()
    with pytest.raises(cls) as info:
        call(client)
    err = info.value
    assert type(err) is cls
    assert err.path == path, (err.path, str(err))
    assert str(err).startswith(f"{path}: ") and len(err.message) > 10
    # and nothing changed
    assert client.list_indexes().names() == ["live"]
    assert client.Index("live").describe_index_stats().total_vector_count == 1


def test_deletion_protection_error_is_403_with_the_documented_message():
    client = toolkit.Client()
    client.create_index(name="guarded", dimension=2, deletion_protection="enabled")
    with pytest.raises(ForbiddenError) as info:
        client.delete_index("guarded")
    assert info.value.status == 403 and info.value.code == "FORBIDDEN"
    assert str(info.value) == ("Deletion protection is enabled for this index. "
                               "Disable deletion protection before retrying.")
    assert client.has_index("guarded")


# --- a rejected request changes nothing ----------------------------------------------------------------


def test_upsert_batch_with_a_bad_500th_record_stores_none_of_it():
    index = new_index("atomic", dimension=4, metric="dotproduct", engine={"memtable_max_records": 100})
    index.upsert(vectors=[("keep", [1, 1, 1, 1], {"v": "old"}), ("r0000", [9, 9, 9, 9])])
    batch = [(f"r{i:04d}", [1.0, 2.0, 3.0, float(i + 1)]) for i in range(1000)]
    batch[0] = ("keep", [2, 2, 2, 2], {"v": "new"})  # would overwrite an existing record
    batch[499] = ("r0499", [1.0, 2.0, 3.0])  # the bad one
    with pytest.raises(InvalidArgumentError) as info:
        index.upsert(vectors=batch)
    assert info.value.path == "vectors[499].values"
    assert index.describe_index_stats().total_vector_count == 2
    assert index.fetch(ids=["keep"]).vectors["keep"].metadata == {"v": "old"}
    assert index.fetch(ids=["r0000"]).vectors["r0000"].values == [9, 9, 9, 9]
    assert index.query(vector=[1, 1, 1, 1], top_k=5).max_indexed_lsn == 1
    assert len(index.describe_slabs()) == 0  # no flush happened either
    raw = index.usage(raw=True)
    assert list(raw[raw["operation"] == "upsert"]["records"]) == [2]  # the rejected request is not metered
    assert index.upsert(vectors=[("next", [1, 1, 1, 1])]).lsn == 2


@pytest.mark.parametrize("bad_item,path", [
    (("r0499", [1.0, 2.0, 3.0, 4.0], {"m": None}), "vectors[499].metadata.m"),
    (("", [1.0, 2.0, 3.0, 4.0]), "vectors[499].id"),
    (("r0499", [0.0, 0.0, 0.0, 0.0]), "vectors[499].values"),
    ({"id": "r0499", "values": [1, 2, 3, 4], "sparse_values": {"indices": [-5], "values": [1.0]}},
     "vectors[499].sparse_values.indices"),
], ids=["metadata", "id", "zeros", "sparse"])
def test_any_bad_record_rejects_the_whole_batch(bad_item, path):
    index = new_index("atomic", dimension=4, metric="dotproduct")
    batch = [(f"r{i:04d}", [1.0, 2.0, 3.0, float(i + 1)]) for i in range(1000)]
    batch[499] = bad_item
    with pytest.raises(InvalidArgumentError) as info:
        index.upsert(vectors=batch)
    assert info.value.path == path
    assert index.describe_index_stats().total_vector_count == 0
    assert list(index.list_namespaces()) == []  # not even the namespace was created


def test_rejected_update_changes_nothing():
    index = new_index("atomic", dimension=4, metric="dotproduct")
    index.upsert(vectors=[("a", [1, 2, 3, 4], {"big": "x" * 30_000})])
    with pytest.raises(InvalidArgumentError, match="40960"):  # the merged metadata would be too big
        index.update(id="a", values=[4, 3, 2, 1], set_metadata={"more": "y" * 20_000})
    got = index.fetch(ids=["a"]).vectors["a"]
    assert got.values == [1, 2, 3, 4] and set(got.metadata) == {"big"}
    assert index.upsert(vectors=[("b", [1, 1, 1, 1])]).lsn == 2


def test_rejected_update_by_filter_changes_nothing():
    index = new_index("atomic", dimension=4, metric="dotproduct", engine={"memtable_max_records": 700})
    records = [(f"r{i:04d}", [1, 2, 3, i + 1], {"g": "x"}) for i in range(1500)]
    records[1200] = ("r1200", [1, 2, 3, 4], {"g": "x", "pad": "z" * 30_000})  # in the second parse chunk
    for start in range(0, 1500, 500):
        index.upsert(vectors=records[start:start + 500])
    with pytest.raises(InvalidArgumentError):
        index.update(filter={"g": "x"}, set_metadata={"extra": "e" * 15_000})
    assert index.query(vector=[1, 1, 1, 1], top_k=1, filter={"extra": {"$exists": True}}).matches == []
    assert index.fetch(ids=["r0001"]).vectors["r0001"].metadata == {"g": "x"}
    assert index.upsert(vectors=[("n", [1, 1, 1, 1])]).lsn == 4


def test_rejected_delete_changes_nothing():
    index = new_index("atomic", dimension=4, metric="dotproduct")
    index.upsert(vectors=[("a", [1, 2, 3, 4]), ("b", [1, 2, 3, 4])])
    with pytest.raises(InvalidArgumentError):
        index.delete(ids=["a", "é"])
    with pytest.raises(FilterError):
        index.delete(filter={"x": {"$bad": 1}})
    assert index.describe_index_stats().total_vector_count == 2
    assert index.delete(ids=["a"]).lsn == 2


def test_messages_name_the_value_and_the_limit():
    index = new_index("msg", dimension=4, metric="cosine")
    with pytest.raises(InvalidArgumentError) as info:
        index.query(vector=[1, 2, 3, 4], top_k=20_000)
    assert "20000" in str(info.value) and "10000" in str(info.value)
    with pytest.raises(InvalidArgumentError) as info:
        index.upsert(vectors=[("a", [1, 2, 3, 4], {"k": [1, 2]})])
    assert "vectors[0].metadata.k" in str(info.value) and "list" in str(info.value)
