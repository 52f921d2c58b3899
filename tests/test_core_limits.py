"""Documented limits (dataplane_spec §2, search_spec §9.5 D6): the edge is accepted, one past it is 400.

Every rejection is an ``InvalidArgumentError`` (HTTP 400, ``INVALID_ARGUMENT``) whose message
says what is wrong and whose ``path`` says where.
"""

from __future__ import annotations

import numpy as np
import pytest

import toolkit
from toolkit.errors import InvalidArgumentError

try:
    from .core_helpers import new_index
except ImportError:
    from core_helpers import new_index


def rejects(fn, path: str | None = None, match: str | None = None) -> InvalidArgumentError:
    with pytest.raises(InvalidArgumentError) as info:
        fn()
    err = info.value
    assert err.status == 400 and err.code == "INVALID_ARGUMENT" and err.grpc_code == 3
    if path is not None:
        assert err.path == path, (err.path, str(err))
        assert str(err).startswith(f"{path}: ")
    if match is not None:
        assert match in str(err), str(err)
    return err


@pytest.fixture
def dense():
    return new_index("lim", dimension=4, metric="dotproduct")


@pytest.fixture
def sparse():
    return new_index("lims", vector_type="sparse")


# --- dimension 1..20000 --------------------------------------------------------------------------


def test_dimension_edges():
    client = toolkit.Client()
    assert client.create_index(name="d1", dimension=1, metric="euclidean").dimension == 1
    assert client.create_index(name="d20000", dimension=20_000).dimension == 20_000
    client.Index("d20000").upsert(vectors=[("a", np.ones(20_000, np.float32))])
    for bad in (0, 20_001, -1, 2.0, "8", True, None):
        rejects(lambda: client.create_index(name="bad", dimension=bad), "dimension", "1 to 20000")
    assert not client.has_index("bad")


# --- record ids: 1-512 ASCII characters, no NUL ----------------------------------------------------


def test_record_id_edges(dense):
    dense.upsert(vectors=[("x" * 512, [1, 2, 3, 4]), ("~ !#", [1, 2, 3, 4])])
    rejects(lambda: dense.upsert(vectors=[("x" * 513, [1, 2, 3, 4])]), "vectors[0].id", "1-512")
    rejects(lambda: dense.upsert(vectors=[("", [1, 2, 3, 4])]), "vectors[0].id", "1-512")
    rejects(lambda: dense.upsert(vectors=[("café", [1, 2, 3, 4])]), "vectors[0].id", "ASCII")
    rejects(lambda: dense.upsert(vectors=[("a\0b", [1, 2, 3, 4])]), "vectors[0].id", "NUL")
    rejects(lambda: dense.upsert(vectors=[(7, [1, 2, 3, 4])]), "vectors[0].id", "string")
    rejects(lambda: dense.fetch(ids=["ok", "x" * 513]), "ids[1]")
    rejects(lambda: dense.delete(ids=["é"]), "ids[0]")
    rejects(lambda: dense.update(id="x" * 513, set_metadata={"a": "b"}), "id")
    rejects(lambda: dense.query(id="", top_k=1), "id")


def test_namespace_name_edges(dense):
    dense.upsert(vectors=[("a", [1, 2, 3, 4])], namespace="n" * 512)
    rejects(lambda: dense.upsert(vectors=[("a", [1, 2, 3, 4])], namespace="n" * 513), "namespace", "1-512")
    rejects(lambda: dense.query(vector=[1, 2, 3, 4], top_k=1, namespace="ñ"), "namespace", "ASCII")
    rejects(lambda: dense.fetch(ids=["a"], namespace=3), "namespace")


# --- metadata: flat, ≤ 40 KB, str / number / bool / list of str ---------------------------------------


def test_metadata_40kb_edge(dense):
    dense.upsert(vectors=[("a", [1, 2, 3, 4], {"m": "x" * (40_960 - 8)})])  # exactly 40,960 bytes
    err = rejects(lambda: dense.upsert(vectors=[("b", [1, 2, 3, 4], {"m": "x" * (40_960 - 7)})]),
                  "vectors[0].metadata")
    assert "metadata size is 40961 bytes, which exceeds the limit of 40960 bytes per vector" in str(err)


def test_metadata_size_counts_utf8_bytes(dense):
    rejects(lambda: dense.upsert(vectors=[("b", [1, 2, 3, 4], {"m": "é" * 20_477})]), "vectors[0].metadata")


def test_metadata_accepts_the_documented_types(dense):
    metadata = {"document_id": "document1", "document_title": "Introduction to Vector Databases",
                "chunk_number": 1, "chunk_text": "First chunk of the document content...", "is_public": True,
                "tags": ["beginner", "database", "vector-db"], "scores": ["85", "92"], "ratio": 0.5, "empty": []}
    dense.upsert(vectors=[("doc", [1, 2, 3, 4], metadata)])
    stored = dense.fetch(ids=["doc"]).vectors["doc"].metadata
    assert stored == {**metadata, "chunk_number": 1.0}
    assert isinstance(stored["chunk_number"], float)  # integers are stored as 64-bit floats


def test_metadata_accepts_numpy_scalars(dense):
    # e.g. metadata read back from a DataFrame row
    dense.upsert(vectors=[("np", [1, 2, 3, 4], {"year": np.int64(2020), "score": np.float32(0.5),
                                                 "ok": np.bool_(True), "genre": np.str_("drama")})])
    stored = dense.fetch(ids=["np"]).vectors["np"].metadata
    assert stored == {"year": 2020.0, "score": 0.5, "ok": True, "genre": "drama"}
    assert [type(v) for v in stored.values()] == [float, float, bool, str]
    assert [m.id for m in dense.query(vector=[1, 2, 3, 4], top_k=1, filter={"year": 2020, "ok": True}).matches] == [
        "np"]


@pytest.mark.parametrize("metadata,path,match", [
    ({"document": {"title": "x"}}, "vectors[0].metadata.document", "nested"),
    ({"$chunk_number": 1}, "vectors[0].metadata.$chunk_number", "'$'"),
    ({"chunk_text": None}, "vectors[0].metadata.chunk_text", "null"),
    ({"scores": [85, 92]}, "vectors[0].metadata.scores", "list"),
    ({"mixed": ["a", 1]}, "vectors[0].metadata.mixed", "list"),
    ({"f": float("inf")}, "vectors[0].metadata.f", "finite"),
    ({"b": b"bytes"}, "vectors[0].metadata.b", "string, number, boolean or list of strings"),
    ({"": "empty key"}, "vectors[0].metadata", "non-empty"),
    ({1: "int key"}, "vectors[0].metadata", "string"),
    (["not", "a", "dict"], "vectors[0].metadata", "object"),
], ids=["nested", "dollar-key", "null", "number-list", "mixed-list", "inf", "bytes", "empty-key", "int-key",
        "not-object"])
def test_metadata_rejections(dense, metadata, path, match):
    rejects(lambda: dense.upsert(vectors=[("a", [1, 2, 3, 4], metadata)]), path, match)
    rejects(lambda: dense.update(id="a", set_metadata=metadata), path.replace("vectors[0].metadata", "set_metadata"))


# --- upsert batches: ≤ 1000 records, ≤ 2 MB --------------------------------------------------------


def test_upsert_1000_records_edge(dense):
    assert dense.upsert(vectors=[(f"r{i}", [1, 2, 3, 4]) for i in range(1000)]).upserted_count == 1000
    rejects(lambda: dense.upsert(vectors=[(f"r{i}", [1, 2, 3, 4]) for i in range(1001)]), "vectors", "1000")
    rejects(lambda: dense.upsert(vectors=[]), "vectors", "at least one")


def test_upsert_2mb_edge():
    index = new_index("big", dimension=20_000, metric="dotproduct")
    row = np.ones(20_000, np.float32)
    index.upsert(vectors=[(f"{i:02d}", row) for i in range(24)])  # 24 × 80,002 B = 1,920,048 B
    err = rejects(lambda: index.upsert(vectors=[(f"{i:02d}", row) for i in range(25)]), "vectors", "2 MB")
    assert "2000050 bytes" in str(err)
    resp = index.upsert(vectors=[(f"{i:02d}", row) for i in range(25)], batch_size=20)  # split client-side
    assert resp.upserted_count == 25


# --- top_k: 1..10000, 1..1000 on a sparse index ------------------------------------------------------


def test_top_k_edges(dense, sparse):
    dense.upsert(vectors=[("a", [1, 2, 3, 4])])
    assert len(dense.query(vector=[1, 2, 3, 4], top_k=10_000).matches) == 1
    assert len(dense.query(vector=[1, 2, 3, 4], top_k=1).matches) == 1
    for bad in (0, 10_001, -1, 1.5, True, None, "3"):
        rejects(lambda: dense.query(vector=[1, 2, 3, 4], top_k=bad), "top_k", "between 1 and 10000")
    sparse.upsert(vectors=[{"id": "s", "sparse_values": {"indices": [1], "values": [1.0]}}])
    assert len(sparse.query(sparse_vector={"indices": [1], "values": [1.0]}, top_k=1000).matches) == 1
    rejects(lambda: sparse.query(sparse_vector={"indices": [1], "values": [1.0]}, top_k=1001), "top_k",
            "between 1 and 1000")


def test_top_k_accepts_numpy_integers(dense):
    dense.upsert(vectors=[("a", [1, 2, 3, 4])])
    assert len(dense.query(vector=[1, 2, 3, 4], top_k=np.int64(3)).matches) == 1


# --- fetch / delete: ≤ 1000 ids ----------------------------------------------------------------------


def test_fetch_and_delete_1000_ids_edge(dense):
    dense.upsert(vectors=[(f"r{i}", [1, 2, 3, 4]) for i in range(1000)])
    assert len(dense.fetch(ids=[f"r{i}" for i in range(1000)]).vectors) == 1000
    rejects(lambda: dense.fetch(ids=[f"r{i}" for i in range(1001)]), "ids", "1 to 1000")
    rejects(lambda: dense.fetch(ids=[]), "ids", "1 to 1000")
    rejects(lambda: dense.delete(ids=[f"r{i}" for i in range(1001)]), "ids", "1 to 1000")
    assert dense.describe_index_stats().total_vector_count == 1000
    dense.delete(ids=[f"r{i}" for i in range(1000)])
    assert dense.describe_index_stats().total_vector_count == 0


def test_ids_must_be_a_list(dense):
    rejects(lambda: dense.fetch(ids="abc"), "ids")
    rejects(lambda: dense.delete(ids="abc"), "ids")
    rejects(lambda: dense.fetch(ids=None), "ids")


# --- sparse vectors: uint32 indices, ≤ 2048 non-zeros, parallel arrays -------------------------------


def test_sparse_index_edges(sparse):
    sparse.upsert(vectors=[{"id": "edge", "sparse_values": {"indices": [0, 2**32 - 1], "values": [1.0, 2.0]}}])
    got = sparse.fetch(ids=["edge"]).vectors["edge"].sparse_values
    assert got.indices == [0, 4294967295]
    assert sparse.query(sparse_vector={"indices": [2**32 - 1], "values": [1.0]}, top_k=1).matches[0].score == 2.0


@pytest.mark.parametrize("sparse_values,path,match", [
    ({"indices": [2**32], "values": [1.0]}, "vectors[0].sparse_values.indices", "uint32"),
    ({"indices": [-1], "values": [1.0]}, "vectors[0].sparse_values.indices", "uint32"),
    ({"indices": [1.5], "values": [1.0]}, "vectors[0].sparse_values.indices", "integers"),
    ({"indices": [1, 1], "values": [1.0, 2.0]}, "vectors[0].sparse_values.indices", "unique"),
    ({"indices": [1, 2], "values": [1.0]}, "vectors[0].sparse_values", "same length"),
    ({"indices": [], "values": []}, "vectors[0].sparse_values", "1 to 2048"),
    ({"indices": list(range(2049)), "values": [1.0] * 2049}, "vectors[0].sparse_values", "1 to 2048"),
    ({"indices": [1], "values": [float("nan")]}, "vectors[0].sparse_values.values", "finite"),
    ({"indices": [1], "values": ["x"]}, "vectors[0].sparse_values.values", "numbers"),
    ({"indices": [1]}, "vectors[0].sparse_values", "both"),
    ({"indices": [1], "values": [1.0], "extra": 1}, "vectors[0].sparse_values", "unknown"),
    ([1, 2], "vectors[0].sparse_values", "object"),
], ids=["2^32", "negative", "float-index", "duplicate", "lengths", "empty", "2049", "nan", "string-value",
        "missing-values", "extra-key", "list"])
def test_sparse_vector_rejections(sparse, sparse_values, path, match):
    rejects(lambda: sparse.upsert(vectors=[{"id": "s", "sparse_values": sparse_values}]), path, match)
    query_path = path.replace("vectors[0].sparse_values", "sparse_vector")
    rejects(lambda: sparse.query(sparse_vector=sparse_values, top_k=1), query_path, match)


def test_sparse_indices_may_arrive_unsorted(sparse):
    sparse.upsert(vectors=[{"id": "u", "sparse_values": {"indices": [980, 1, 312], "values": [3.0, 1.0, 2.0]}}])
    got = sparse.fetch(ids=["u"]).vectors["u"].sparse_values
    assert got.indices == [1, 312, 980] and got.values == [1.0, 2.0, 3.0]


# --- dense values -------------------------------------------------------------------------------


@pytest.mark.parametrize("values,match", [
    ([1, 2, 3], "Vector dimension 3 does not match the dimension of the index 4"),
    ([1, 2, 3, 4, 5], "Vector dimension 5 does not match the dimension of the index 4"),
    ([[1, 2, 3, 4]], "flat list"),
    ([1, 2, float("nan"), 4], "finite"),
    ([1, 2, float("inf"), 4], "finite"),
    ([0, 0, 0, 0], "Dense vectors must contain at least one non-zero value. Vector ID 'a' contains only zeros"),
    (["a", "b", "c", "d"], "numbers"),
    (None, "Vector dimension 0 does not match the dimension of the index 4"),
], ids=["short", "long", "nested", "nan", "inf", "zeros", "strings", "missing"])
def test_dense_value_rejections(dense, values, match):
    rejects(lambda: dense.upsert(vectors=[{"id": "a", "values": values}]), "vectors[0].values", match)


def test_dense_query_and_update_value_rejections(dense):
    dense.upsert(vectors=[("a", [1, 2, 3, 4])])
    rejects(lambda: dense.query(vector=[1, 2, 3], top_k=1), "vector",
            "Vector dimension 3 does not match the dimension of the index 4")
    rejects(lambda: dense.update(id="a", values=[1, 2]), "values", "Vector dimension 2")
    rejects(lambda: dense.update(id="a", values=[0, 0, 0, 0]), "values", "only zeros")
    cosine = new_index("cos", dimension=2, metric="cosine")
    rejects(lambda: cosine.query(vector=[0, 0], top_k=1), "vector", "non-zero")


# --- D6 (search_spec §9.5) in one place -----------------------------------------------------------


def test_d6_limits():
    client = toolkit.Client()
    client.create_index(name="d6", dimension=8, metric="cosine")
    client.create_index(name="d6-sparse", vector_type="sparse", metric="dotproduct")
    index, sparse = client.Index("d6"), client.Index("d6-sparse")
    index.upsert(vectors=[("a", [0.1] * 8)])
    rejects(lambda: index.query(vector=[0.1] * 8, top_k=10_001), "top_k")
    rejects(lambda: sparse.query(sparse_vector={"indices": [1], "values": [1.0]}, top_k=1001), "top_k")
    big = {"indices": list(range(2049)), "values": [0.5] * 2049}
    rejects(lambda: sparse.upsert(vectors=[{"id": "s", "sparse_values": big}]), "vectors[0].sparse_values")
    rejects(lambda: index.upsert(vectors=[("b", [0.1] * 8, {"m": "x" * 41_000})]), "vectors[0].metadata")
    rejects(lambda: index.upsert(vectors=[("x" * 513, [0.1] * 8)]), "vectors[0].id")
    rejects(lambda: client.create_index(name="d6-big", dimension=20_001), "dimension")
    rejects(lambda: index.query(vector=[0.1] * 8, sparse_vector={"indices": [1], "values": [1.0]}, top_k=1),
            "sparse_vector", "dotproduct")  # a hybrid query on a cosine index (D:27754)
    assert index.describe_index_stats().total_vector_count == 1


@pytest.mark.parametrize(
    "record, path, match",
    [
        (("x", [10**400, 1, 1, 1]), "vectors[0].values", "finite float32"),
        (("x", [1e39, 1, 1, 1]), "vectors[0].values", "finite float32"),
        (("x", [1, 1, 1, 1], {"n": 10**400}), "vectors[0].metadata.n", "too large for a 64-bit float"),
        ({"id": "x", "values": [1, 1, 1, 1], "sparse_values": {"indices": [1], "values": [1e39]}},
         "vectors[0].sparse_values.values", "finite float32"),
        ({"id": "x", "values": [1, 1, 1, 1], "sparse_values": {"indices": [1], "values": [10**400]}},
         "vectors[0].sparse_values.values", "numbers"),
    ],
)
def test_numbers_beyond_float_range_are_invalid_arguments(dense, record, path, match):
    rejects(lambda: dense.upsert([record]), path, match)
    assert dense.describe_index_stats().total_vector_count == 0
    rejects(lambda: dense.query(vector=[10**400, 1, 1, 1], top_k=1), "vector", "finite float32")
