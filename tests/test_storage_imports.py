"""Imports from Parquet folders in the reference service's layout (arch_cost_spec §5.1, T-IMP-*)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import toolkit
from storage_helpers import records, state


def write_parquet(path: Path, rows: list[dict], *, sparse: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns: dict = {"id": pa.array([r["id"] for r in rows], pa.string())}
    if not sparse or any("values" in r for r in rows):
        columns["values"] = pa.array([r.get("values") for r in rows], pa.list_(pa.float32()))
    if any("sparse_values" in r for r in rows):
        columns["sparse_values"] = pa.array(
            [r.get("sparse_values") for r in rows],
            pa.struct([("indices", pa.list_(pa.uint32())), ("values", pa.list_(pa.float32()))]))
    columns["metadata"] = pa.array([None if r.get("metadata") is None else json.dumps(r["metadata"]) for r in rows],
                                   pa.string())
    pq.write_table(pa.table(columns), path)


def wait_done(ix: toolkit.Index, job_id: str, timeout: float = 20) -> toolkit.Index:
    deadline = time.monotonic() + timeout
    while True:
        model = ix.describe_import(job_id)
        if model.status in ("Completed", "Failed", "Cancelled"):
            return model
        assert time.monotonic() < deadline, model
        time.sleep(0.01)


def test_import_dense_namespaces_and_default(client_factory, tmp_path):
    folder = tmp_path / "import"
    write_parquet(folder / "ns1" / "0.parquet", records("a", 700))
    write_parquet(folder / "ns1" / "1.parquet", records("b", 1500, seed=1))
    write_parquet(folder / "__default__" / "0.parquet", records("d", 10, metadata=False))
    client = client_factory()
    client.create_index("i", dimension=8, engine={"memtable_max_records": 500})
    ix = client.Index("i")
    started = ix.start_import(f"file://{folder}", error_mode="abort")
    assert started.id == "1"
    model = wait_done(ix, started.id)
    assert (model.status, model.records_imported, model.percent_complete) == ("Completed", 2210, 100.0)
    assert model.error is None and model.finished_at
    got = state(ix)
    assert len(got["ns1"]) == 2200 and len(got["__default__"]) == 10
    assert got["ns1"]["a-3"][2] == {"i": 3.0, "prefix": "a", "even": False, "tags": ["t0", "all"]}
    assert [m.id for m in ix.list_imports()] == ["1"]
    assert ix.usage(raw=True).query("operation == 'import'")["records"].sum() == 2210
    client = client_factory.reopen(client)
    assert len(state(client.Index("i"))["ns1"]) == 2200


def test_import_sparse_index(client_factory, tmp_path):
    folder = tmp_path / "import"
    rows = [{"id": f"s{i}", "sparse_values": {"indices": [i, 3_201_939_490], "values": [1.0, 2.0]}}
            for i in range(20)]
    write_parquet(folder / "ns" / "0.parquet", rows, sparse=True)
    client = client_factory()
    client.create_index("sp", vector_type="sparse", metric="dotproduct")
    ix = client.Index("sp")
    model = wait_done(ix, ix.start_import(str(folder)).id)
    assert model.status == "Completed" and model.records_imported == 20
    assert state(ix)["ns"]["s3"][1] == ((3, 3_201_939_490), (1.0, 2.0))


def test_existing_namespace_fails_with_the_documented_text(client_factory, tmp_path):
    folder = tmp_path / "import"
    write_parquet(folder / "namespace1" / "0.parquet", records("a", 5))
    client = client_factory()
    client.create_index("i", dimension=8)
    ix = client.Index("i")
    ix.upsert(records("x", 1), namespace="namespace1")
    model = wait_done(ix, ix.start_import(str(folder)).id)
    assert model.status == "Failed"
    assert model.error == ('User error: The namespace "namespace1" already exists. '
                           "Imports are only allowed into nonexistent namespaces.")
    assert model.records_imported == 0 and "error" in model.to_dict()


def test_error_modes(client_factory, tmp_path):
    folder = tmp_path / "import"
    rows = records("a", 30)
    rows[7]["values"] = [0.0] * 8  # an all-zero dense vector is invalid
    rows[20]["values"] = [1.0] * 5  # wrong dimension
    write_parquet(folder / "ns" / "0.parquet", rows)
    client = client_factory()
    client.create_index("i", dimension=8)
    ix = client.Index("i")
    model = wait_done(ix, ix.start_import(str(folder), error_mode="continue").id)
    assert (model.status, model.records_imported) == ("Completed", 28)
    assert "a-7" not in state(ix)["ns"] and "a-8" in state(ix)["ns"]
    client.create_index("j", dimension=8)
    jx = client.Index("j")
    model = wait_done(jx, jx.start_import(str(folder), error_mode="ABORT").id)
    assert model.status == "Failed" and "a-7" in model.error


def test_schema_is_checked_before_anything_is_imported(client_factory, tmp_path):
    folder = tmp_path / "import"
    write_parquet(folder / "good" / "0.parquet", records("a", 5))
    table = pa.table({"id": ["x"], "values": [[1.0] * 8], "extra": [1]})
    pq.write_table(table, folder / "zbad.parquet")  # a root file: ignored (namespaces are folders)
    (folder / "zbad").mkdir()
    pq.write_table(table, folder / "zbad" / "0.parquet")
    client = client_factory()
    client.create_index("i", dimension=8)
    ix = client.Index("i")
    model = wait_done(ix, ix.start_import(str(folder)).id)
    assert model.status == "Failed" and "unexpected column(s) ['extra']" in model.error
    assert ix.describe_index_stats().total_vector_count == 0


def test_start_import_argument_errors(tmp_path):
    client = toolkit.Client()
    client.create_index("i", dimension=8)
    ix = client.Index("i")
    with pytest.raises(toolkit.UnimplementedError, match="s3://"):
        ix.start_import("s3://bucket/dir")
    with pytest.raises(toolkit.InvalidArgumentError, match="does not exist"):
        ix.start_import(str(tmp_path / "nope"))
    with pytest.raises(toolkit.InvalidArgumentError, match="error_mode"):
        ix.start_import(str(tmp_path), error_mode="sometimes")
    with pytest.raises(toolkit.NotFoundError):
        ix.describe_import("42")


def test_cancel_and_list_pagination(client_factory, tmp_path):
    folder = tmp_path / "import"
    for f in range(6):
        write_parquet(folder / "ns" / f"{f}.parquet", records(f"f{f}", 1000, seed=f))
    client = client_factory()
    client.create_index("i", dimension=8)
    ix = client.Index("i")
    job = ix.start_import(str(folder)).id
    ix.cancel_import(job)
    model = wait_done(ix, job)
    assert model.status == "Cancelled" and model.records_imported < 6000
    ix.cancel_import(job)  # no effect once finished
    assert ix.describe_import(job).status == "Cancelled"
    write_parquet(tmp_path / "small" / "other" / "0.parquet", records("o", 2))
    second = ix.start_import(str(tmp_path / "small")).id
    wait_done(ix, second)
    page = ix.list_imports_paginated(limit=1)
    assert [m.id for m in page.data] == ["1"] and page.pagination is not None
    rest = ix.list_imports_paginated(limit=1, pagination_token=page.pagination.next)
    assert [m.id for m in rest.data] == ["2"] and rest.pagination is None


def test_import_into_an_eventual_index_completes_once_indexed(tmp_path):
    folder = tmp_path / "import"
    write_parquet(folder / "ns" / "0.parquet", records("a", 10))
    client = toolkit.Client(consistency="eventual", apply_delay=0.2)
    client.create_index("i", dimension=8)
    ix = client.Index("i")
    model = wait_done(ix, ix.start_import(str(folder)).id)
    assert model.status == "Completed"
    assert ix.describe_index_stats().total_vector_count == 10
