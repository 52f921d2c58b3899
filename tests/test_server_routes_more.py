"""The REST routes beyond the core data plane (routes_more.py), in process: create_namespace,
fetch_by_metadata, bulk imports (confined to --import-root), backups and restore jobs.
The official SDKs drive the same routes in test_server_grpc.py / test_server_ts.py."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import toolkit
from toolkit.server import create_app

D = "/index/idx"


def make(tmp_path: Path | None = None, **options):
    tk = toolkit.Client(None if tmp_path is None else str(tmp_path / "db"))
    tk.create_index(name="idx", dimension=2, metric="cosine")
    return TestClient(create_app(tk, **options), raise_server_exceptions=False), tk


def seed(http) -> None:
    vectors = [{"id": f"r{i}", "values": [1.0, float(i)], "metadata": {"g": "even" if i % 2 == 0 else "odd", "i": i}}
               for i in range(10)]
    assert http.post(f"{D}/vectors/upsert", json={"vectors": vectors, "namespace": "ns"}).status_code == 200


def test_create_namespace_then_duplicate_is_409_and_bad_schema_400():
    http, tk = make()
    with http:
        resp = http.post(f"{D}/namespaces", json={"name": "fresh", "schema": {"fields": {"g": {"filterable": True}}}})
        assert resp.status_code == 201, resp.text
        assert resp.json()["name"] == "fresh" and resp.json()["record_count"] == 0
        assert "fresh" in [d.name for d in tk.Index("idx").list_namespaces()]
        dup = http.post(f"{D}/namespaces", json={"name": "fresh"})
        assert dup.status_code == 409 and dup.json()["code"] == 6
        assert http.post(f"{D}/namespaces", json={}).status_code == 400
        assert http.post(f"{D}/namespaces", json={"name": "x", "schema": {"fields": 3}}).status_code == 400
        assert http.post(f"{D}/namespaces", json={"name": ""}).status_code == 400
        names = [d.name for d in tk.Index("idx").list_namespaces()]
        assert "x" not in names and "" not in names


def test_fetch_by_metadata_pages_through_every_match_once():
    http, _ = make()
    with http:
        seed(http)
        seen, token = [], None
        while True:
            body = {"filter": {"g": {"$eq": "even"}}, "namespace": "ns", "limit": 2}
            if token:
                body["paginationToken"] = token
            resp = http.post(f"{D}/vectors/fetch_by_metadata", json=body)
            assert resp.status_code == 200, resp.text
            data = resp.json()
            assert len(data["vectors"]) <= 2
            assert all(v["metadata"]["g"] == "even" for v in data["vectors"].values())
            seen += sorted(data["vectors"])
            token = (data.get("pagination") or {}).get("next")
            if not token:
                break
        assert seen == sorted(f"r{i}" for i in range(0, 10, 2))
        assert "x-pinecone-request-lsn" in resp.headers
        bad = http.post(f"{D}/vectors/fetch_by_metadata", json={"filter": {"g": {"$bogus": 1}}, "namespace": "ns"})
        assert bad.status_code == 400
        assert http.post(f"{D}/vectors/fetch_by_metadata", json={"limit": 0}).status_code == 400


def test_imports_are_off_without_roots_and_confined_with_them(tmp_path):
    root = tmp_path / "root"
    folder = root / "imp"
    (folder / "ns1").mkdir(parents=True)
    pd.DataFrame({"id": ["p", "q"], "values": [np.array([1.0, 0.0]), np.array([0.0, 1.0])]}).to_parquet(
        folder / "ns1" / "part.parquet")
    http, tk = make()
    with http:
        off = http.post(f"{D}/bulk/imports", json={"uri": folder.as_uri()})
        assert off.status_code == 403 and "import-root" in off.json()["message"]
    outside = tmp_path / "outside"
    (outside / "ns2").mkdir(parents=True)
    os.symlink(outside, root / "link")
    http, tk = make(import_roots=[str(root)])
    with http:
        for uri in ((root / "link").as_uri(), f"{folder.as_uri()}/../../outside", "s3://bucket/x", "/etc"):
            resp = http.post(f"{D}/bulk/imports", json={"uri": uri})
            assert resp.status_code in (400, 403, 501), (uri, resp.text)  # s3:// is 501: not available locally
        assert tk.Index("idx").list_imports_paginated().data == []
        resp = http.post(f"{D}/bulk/imports", json={"uri": folder.as_uri(), "errorMode": {"onError": "continue"}})
        assert resp.status_code == 200, resp.text
        job = resp.json()["id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            model = http.get(f"{D}/bulk/imports/{job}").json()
            if model["status"] in ("Completed", "Failed", "Cancelled"):
                break
            time.sleep(0.05)
        assert model["status"] == "Completed" and model["recordsImported"] == 2, model
        assert tk.Index("idx").describe_namespace("ns1").record_count == 2
        listed = http.get(f"{D}/bulk/imports").json()
        assert [m["id"] for m in listed["data"]] == [job]
        assert http.delete(f"{D}/bulk/imports/{job}").status_code == 200
        assert http.get(f"{D}/bulk/imports/nope").status_code == 404


def test_backups_and_restore_jobs_round_trip(tmp_path):
    http, tk = make(tmp_path)
    with http:
        seed(http)
        resp = http.post("/indexes/idx/backups", json={"name": "b1", "description": "first"})
        assert resp.status_code == 201, resp.text
        backup = resp.json()
        assert backup["record_count"] == 10 and backup["source_index_name"] == "idx"
        assert [b["backup_id"] for b in http.get("/indexes/idx/backups").json()["data"]] == [backup["backup_id"]]
        assert [b["name"] for b in http.get("/backups").json()["data"]] == ["b1"]
        assert http.get(f"/backups/{backup['backup_id']}").json()["description"] == "first"
        assert http.get("/indexes/nope/backups").status_code == 404
        restore = http.post(f"/backups/{backup['backup_id']}/create-index", json={"name": "copy"})
        assert restore.status_code == 202, restore.text
        job = restore.json()["restore_job_id"]
        assert http.get(f"/restore-jobs/{job}").json()["status"] == "Completed"
        assert [j["restore_job_id"] for j in http.get("/restore-jobs").json()["data"]] == [job]
        assert tk.Index("copy").describe_index_stats().total_vector_count == 10
        dup = http.post(f"/backups/{backup['backup_id']}/create-index", json={"name": "copy"})
        assert dup.status_code == 409
        assert http.delete(f"/backups/{backup['backup_id']}").status_code == 202
        assert http.get(f"/backups/{backup['backup_id']}").status_code == 404
        tk.close()


def test_delete_namespace_answers_a_json_body():
    http, _ = make()
    with http:
        seed(http)
        resp = http.delete(f"{D}/namespaces/ns")
        assert resp.status_code == 202 and resp.json() == {}


def test_created_namespace_survives_a_reopen_and_takes_no_lsn(tmp_path):
    tk = toolkit.Client(str(tmp_path / "db"))
    tk.create_index(name="idx", dimension=2, metric="cosine")
    ix = tk.Index("idx")
    assert ix.create_namespace("fresh").record_count == 0
    assert ix.lsns("fresh") == (0, 0)
    with pytest.raises(toolkit.errors.AlreadyExistsError):
        ix.create_namespace("fresh")
    tk.close()
    reopened = toolkit.Client(str(tmp_path / "db"))
    ix = reopened.Index("idx")
    assert ix.describe_namespace("fresh").record_count == 0
    ix.upsert([("a", [1.0, 0.0])], namespace="fresh")  # the first write to it takes LSN 1
    assert ix.lsns("fresh") == (1, 1)
    reopened.close()


def test_fetch_by_metadata_without_a_filter_pages_every_record_in_id_order():
    tk = toolkit.Client()
    tk.create_index(name="idx", dimension=2, metric="cosine")
    ix = tk.Index("idx")
    ix.upsert([(f"r{i:02d}", [1.0, float(i)], {"i": i}) for i in range(7)], namespace="ns")
    ix.delete(ids=["r03"], namespace="ns")
    pages, token = [], None
    while True:
        page = ix.fetch_by_metadata(namespace="ns", limit=3, pagination_token=token)
        pages.append(list(page.vectors))
        assert page.usage.read_units >= 1 and page.max_indexed_lsn == 2
        if page.pagination is None:
            break
        token = page.pagination.next
    assert pages == [["r00", "r01", "r02"], ["r04", "r05", "r06"]]
    assert ix.fetch_by_metadata(namespace="nope").vectors == {}
    assert list(ix.fetch_by_metadata(filter={"i": {"$gte": 5}}, namespace="ns").vectors) == ["r05", "r06"]
