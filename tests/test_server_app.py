"""The ASGI app in process (starlette TestClient): error paths, limits, auth, robustness.

Every bad request must answer 400 (or 401/404/405/501) with the plane's JSON error shape,
never a 500, and must change nothing. The SDK-driven tests are in test_server_sdk.py.
"""

from __future__ import annotations

import json
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

with warnings.catch_warnings():  # starlette 1.x prefers httpx2 for its TestClient; httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import toolkit
from toolkit.server import create_app
from toolkit.server.app import DEFAULT_MAX_BODY, DEFAULT_MAX_UPSERT_BODY

DIM = 4
D = "/index/idx"


def make_client(api_key: str | None = None, **options) -> tuple[TestClient, toolkit.Client]:
    tk = toolkit.Client()
    tk.create_index(name="idx", dimension=DIM, metric="dotproduct")
    app = create_app(tk, api_key=api_key, **options)
    return TestClient(app, raise_server_exceptions=False), tk


@pytest.fixture()
def client():
    http, tk = make_client()
    with http:
        http.tk = tk  # type: ignore[attr-defined]
        yield http


def seed(http: TestClient, headers: dict | None = None) -> None:
    body = {"vectors": [{"id": "a", "values": [1, 0, 0, 0], "metadata": {"g": "x"}},
                        {"id": "b", "values": [0, 1, 0, 0]}], "namespace": "ns"}
    assert http.post(f"{D}/vectors/upsert", json=body, headers=headers or {}).status_code == 200


def total(tk: toolkit.Client) -> int:
    return tk.Index("idx").describe_index_stats().total_vector_count


def assert_data_error(resp, status: int = 400, code: int = 3) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["code"] == code and isinstance(body["message"], str) and body["details"] == []
    assert resp.headers["content-type"] == "application/json"
    return body


def assert_control_error(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["status"] == status and body["error"]["code"] == code and body["error"]["message"]
    return body


# -- malformed bodies ------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, fragment", [
    (b"{", "malformed JSON"),
    (b"{'single': 'quotes'}", "malformed JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b'"text"', "must be a JSON object"),
    (b'{"vectors": [{"id": "a", "values": [NaN, 1, 1, 1]}]}', "NaN is not valid JSON"),
    (b'{"vectors": [{"id": "a", "values": [Infinity, 1, 1, 1]}]}', "Infinity is not valid JSON"),
    (b"\xff\xfe\x00garbage", "malformed JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "malformed JSON"),
])
def test_malformed_json_is_400_and_writes_nothing(client, raw, fragment):
    resp = client.post(f"{D}/vectors/upsert", content=raw, headers={"content-type": "application/json"})
    body = assert_data_error(resp)
    assert fragment in body["message"]
    assert total(client.tk) == 0


def test_malformed_json_on_control_plane_uses_control_shape(client):
    resp = client.post("/indexes", content=b"{nope", headers={"content-type": "application/json"})
    assert_control_error(resp, 400, "INVALID_ARGUMENT")
    assert client.tk.list_indexes().names() == ["idx"]


# -- wrong types -----------------------------------------------------------------------------------

WRONG_TYPES = [
    ("/vectors/upsert", {"vectors": "abc"}, "vectors"),
    ("/vectors/upsert", {"vectors": [["a", [1, 0, 0, 0]]]}, "vectors[0]"),
    ("/vectors/upsert", {"vectors": [{"id": 5, "values": [1, 0, 0, 0]}]}, "vectors[0].id"),
    ("/vectors/upsert", {"vectors": [{"id": "a", "values": [True, 0, 0, 0]}]}, "vectors[0].values[0]"),
    ("/vectors/upsert", {"vectors": [{"id": "a", "values": "1,0,0,0"}]}, "vectors[0].values"),
    ("/vectors/upsert", {"vectors": [{"id": "a", "values": [[1, 0], [0, 0]]}]}, "vectors[0].values[0]"),
    ("/vectors/upsert", {"vectors": [{"id": "a", "values": [1, 0, 0, 0], "metadata": [1]}]}, "metadata"),
    ("/vectors/upsert", {"vectors": [{"id": "a", "values": [1, 0, 0, 0], "metadata": {"k": None}}]}, "metadata"),
    ("/vectors/upsert", {"vectors": [{"id": "a", "values": [1, 0, 0, 0],
                                      "sparseValues": {"indices": [1.5], "values": [1]}}]}, "indices[0]"),
    ("/vectors/upsert", {"vectors": [{"id": "a", "values": [1, 0, 0, 0],
                                      "sparseValues": {"indices": [-1], "values": [1]}}]}, "indices[0]"),
    ("/vectors/upsert", {"vectors": [{"id": "a", "values": [1, 0, 0, 0], "extra": 1}]}, "unknown record keys"),
    ("/vectors/upsert", {"vectors": [{"id": "a", "values": [1, 0, 0, 0]}], "namespace": 7}, "namespace"),
    ("/vectors/upsert", {"vectors": [{"id": "a" * 513, "values": [1, 0, 0, 0]}]}, "vectors[0].id"),
    ("/vectors/upsert", {"vectors": [{"id": "a", "values": [1, 0, 0]}]}, "dimension"),
    ("/vectors/upsert", {"vectors": []}, "vectors"),
    ("/vectors/upsert", {}, "vectors"),
    ("/query", {"topK": "5", "vector": [1, 0, 0, 0]}, "topK"),
    ("/query", {"topK": True, "vector": [1, 0, 0, 0]}, "topK"),
    ("/query", {"topK": 5, "vector": {"a": 1}}, "vector"),
    ("/query", {"topK": 5, "vector": [1, 0, 0, 0], "filter": "g = x"}, "filter"),
    ("/query", {"topK": 5, "vector": [1, 0, 0, 0], "filter": {"g": {"$regex": "x"}}}, "$regex"),
    ("/query", {"topK": 5, "vector": [1, 0, 0, 0], "includeValues": "yes"}, "includeValues"),
    ("/query", {"topK": 5, "id": 3}, "id"),
    ("/query", {"topK": 5, "sparseVector": [1, 2], "vector": [1, 0, 0, 0]}, "sparseVector"),
    ("/query", {"topK": 5, "vector": [1, 0, 0, 0], "top_k": 5}, "not both"),
    ("/query", {"topK": 0, "vector": [1, 0, 0, 0]}, "top_k"),
    ("/query", {"topK": 5}, "query"),
    ("/query", {"queries": [{"values": [1, 0, 0, 0]}], "topK": 1}, "queries"),
    ("/vectors/update", {"id": "a", "values": "x"}, "values"),
    ("/vectors/update", {"id": "a", "setMetadata": [1]}, "setMetadata"),
    ("/vectors/update", {"id": "a", "setMetadata": {"k": None}}, "set_metadata"),
    ("/vectors/update", {"id": "a", "dryRun": 1}, "dryRun"),
    ("/vectors/update", {"values": [1, 0, 0, 0]}, "id"),
    ("/vectors/delete", {"ids": "a"}, "ids"),
    ("/vectors/delete", {"ids": [1, 2]}, "ids[0]"),
    ("/vectors/delete", {"deleteAll": "true"}, "deleteAll"),
    ("/vectors/delete", {"ids": ["a"], "deleteAll": True}, "exactly one"),
    ("/vectors/delete", {}, "exactly one"),
    ("/vectors/delete", {"ids": ["x"] * 1001}, "1000"),
    ("/describe_index_stats", {"filter": []}, "filter"),
    # integers beyond float range (JSON allows them; numpy would overflow)
    ("/vectors/upsert", {"vectors": [{"id": "a", "values": [10**400, 0, 0, 0]}]}, "out of range"),
    ("/vectors/upsert", {"vectors": [{"id": "a", "values": [1, 0, 0, 0], "metadata": {"k": -10**400}}]},
     "out of range"),
    ("/vectors/upsert", {"vectors": [{"id": "a", "values": [1, 0, 0, 0],
                                      "sparseValues": {"indices": [1], "values": [10**39]}}]}, "out of range"),
    ("/query", {"topK": 1, "vector": [1, 0, 0, 10**400]}, "out of range"),
    ("/query", {"topK": 1, "vector": [1, 0, 0, 0], "sparseVector": {"indices": [2**32], "values": [1]}},
     "4294967295"),
    ("/vectors/update", {"id": "a", "setMetadata": {"k": 10**400}}, "out of range"),
]


@pytest.mark.parametrize("route, body, fragment", WRONG_TYPES)
def test_wrong_types_are_400_and_change_nothing(client, route, body, fragment):
    seed(client)
    before = client.tk.Index("idx").fetch(ids=["a", "b"], namespace="ns").to_dict()["vectors"]
    resp = client.post(D + route, json=body)
    message = assert_data_error(resp)["message"]
    assert fragment in message
    assert client.tk.Index("idx").fetch(ids=["a", "b"], namespace="ns").to_dict()["vectors"] == before
    assert total(client.tk) == 2


@pytest.mark.parametrize("query, fragment", [
    ("ids=a&limit=x", None),
    ("", "ids"),
    ("ids=" + "&ids=".join(str(i) for i in range(1001)), "1000"),
    ("ids=a&namespace=x&namespace=y", "namespace"),
])
def test_fetch_param_errors(client, query, fragment):
    resp = client.get(f"{D}/vectors/fetch?{query}")
    if fragment is None:
        assert resp.status_code == 200  # unknown parameters are ignored
    else:
        assert fragment in assert_data_error(resp)["message"]


@pytest.mark.parametrize("query, fragment", [
    ("limit=abc", "limit"), ("limit=0", "limit"), ("limit=-5", "limit"),
    ("paginationToken=%%%", "pagination_token"), ("paginationToken=bm90IGpzb24=", "pagination_token"),
])
def test_list_param_errors(client, query, fragment):
    assert fragment in assert_data_error(client.get(f"{D}/vectors/list?{query}"))["message"]
    assert fragment in assert_data_error(client.get(f"{D}/namespaces?{query}"))["message"]


CREATE_ERRORS = [
    ({"name": "x", "dimension": "8", "metric": "cosine", "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}},
     400, "INVALID_ARGUMENT"),
    ({"name": "x", "dimension": 8, "metric": ["cosine"], "spec": {"serverless": {"cloud": "aws",
                                                                              "region": "us-east-1"}}},
     400, "INVALID_ARGUMENT"),
    ({"name": "x", "dimension": 8, "spec": {"serverless": {"cloud": ["aws"], "region": "us-east-1"}}},
     400, "INVALID_ARGUMENT"),
    ({"name": "x", "dimension": 8, "spec": {"pod": {"environment": "us-east1-gcp"}}}, 400, "INVALID_ARGUMENT"),
    ({"name": "x", "dimension": 8}, 400, "INVALID_ARGUMENT"),
    ({"name": "x", "dimension": 20001, "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}},
     400, "INVALID_ARGUMENT"),
    ({"name": "Bad_Name", "dimension": 8, "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}},
     400, "INVALID_ARGUMENT"),
    ({"name": "x", "dimension": 8, "spec": {"serverless": {"cloud": "aws", "region": "mars-1"}}},
     404, "NOT_FOUND"),
    ({"name": "x", "schema": {"fields": {"_values": {"type": "dense_vector", "metric": "cosine"}}},
      "deployment": {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"}}, 400, "INVALID_ARGUMENT"),
    ({"name": "x", "schema": {"fields": {"text": {"type": "string"}}},
      "deployment": {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"}}, 400, "INVALID_ARGUMENT"),
    ({"name": "x", "schema": {"fields": {"_values": {"type": "dense_vector", "dimension": 8, "metric": "cosine"}}},
      "deployment": {"deployment_type": "pod", "environment": "x", "pod_type": "p1.x1"}}, 400, "INVALID_ARGUMENT"),
    ({"name": "x", "schema": [], "deployment": {}}, 400, "INVALID_ARGUMENT"),
    ({"name": "x", "dimension": 8, "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
      "engine": "/etc/passwd.toml"}, 400, "INVALID_ARGUMENT"),
    ({"name": "x", "dimension": 8, "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
      "engine": "no-such-builder"}, 400, "INVALID_ARGUMENT"),
    ({"name": "x", "dimension": 8, "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
      "tags": {"k": 1}}, 400, "INVALID_ARGUMENT"),
    ({"name": "idx", "dimension": 8, "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}},
     409, "ALREADY_EXISTS"),
    ({"dimension": 8}, 400, "INVALID_ARGUMENT"),
]


@pytest.mark.parametrize("body, status, code", CREATE_ERRORS)
def test_create_index_errors(client, body, status, code):
    assert_control_error(client.post("/indexes", json=body), status, code)
    assert client.tk.list_indexes().names() == ["idx"]


def test_configure_errors(client):
    assert_control_error(client.patch("/indexes/idx", json={"deletion_protection": True}), 400, "INVALID_ARGUMENT")
    assert_control_error(client.patch("/indexes/idx", json={"deletion_protection": "maybe"}), 400,
                         "INVALID_ARGUMENT")
    assert_control_error(client.patch("/indexes/idx", json={"dimension": 8}), 400, "INVALID_ARGUMENT")
    assert_control_error(client.patch("/indexes/idx", json={"tags": {"k": 5}}), 400, "INVALID_ARGUMENT")
    assert_control_error(client.patch("/indexes/nope", json={}), 404, "NOT_FOUND")
    assert client.get("/indexes/idx").json()["deletion_protection"] == "disabled"


# -- sizes -----------------------------------------------------------------------------------------

def test_declared_oversize_body_is_refused_before_reading(client):
    resp = client.post(f"{D}/vectors/upsert", content=b"x" * (DEFAULT_MAX_UPSERT_BODY + 1),
                       headers={"content-type": "application/json"})
    assert "at most" in assert_data_error(resp)["message"]
    resp = client.post(f"{D}/query", content=b" " * (DEFAULT_MAX_BODY + 1))
    assert "at most" in assert_data_error(resp)["message"]
    assert total(client.tk) == 0


def test_streamed_oversize_body_without_content_length_is_refused(client):
    def chunks():
        for _ in range(20):
            yield b" " * 1_000_000

    resp = client.post(f"{D}/vectors/upsert", content=chunks(), headers={"content-type": "application/json"})
    assert "more than" in assert_data_error(resp)["message"]
    assert total(client.tk) == 0


def test_record_limits_apply_to_whole_request(client):
    over_count = {"vectors": [{"id": f"r{i}", "values": [1, 0, 0, 0]} for i in range(1001)]}
    assert "1000" in assert_data_error(client.post(f"{D}/vectors/upsert", json=over_count))["message"]
    # 2 MB of records (4 B/float) in well under the raw-body limit: the toolkit's record-size rule refuses it
    http, tk = make_client()
    with http:
        tk.create_index(name="wide", dimension=2000, metric="cosine")
        big = {"vectors": [{"id": f"r{i}", "values": [1] * 2000} for i in range(300)]}  # 2.4 MB of records
        assert len(json.dumps(big)) < DEFAULT_MAX_UPSERT_BODY
        assert "2 MB" in assert_data_error(http.post("/index/wide/vectors/upsert", json=big))["message"]
        assert tk.Index("wide").describe_index_stats().total_vector_count == 0
        ok = {"vectors": big["vectors"][:200]}
        assert http.post("/index/wide/vectors/upsert", json=ok).json() == {"upsertedCount": 200}
    # a bad record at the end rejects the whole batch
    batch = {"vectors": [{"id": f"r{i}", "values": [1, 0, 0, 0]} for i in range(50)] + [{"id": "bad", "values": [0] * 4}]}
    assert "only zeros" in assert_data_error(client.post(f"{D}/vectors/upsert", json=batch))["message"]
    assert total(client.tk) == 0


# -- auth ------------------------------------------------------------------------------------------

def test_api_key_required_and_nothing_changes_without_it():
    http, tk = make_client(api_key="s3cret")
    with http:
        good = {"Api-Key": "s3cret"}
        for headers in ({}, {"Api-Key": "wrong"}, {"Api-Key": "s3cret "}, {"Authorization": "Bearer s3cret"}):
            assert_control_error(http.get("/indexes", headers=headers), 401, "UNAUTHENTICATED")
            assert_control_error(http.post("/indexes", headers=headers, json={
                "name": "new", "dimension": 2, "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}}),
                401, "UNAUTHENTICATED")
            assert_control_error(http.delete("/indexes/idx", headers=headers), 401, "UNAUTHENTICATED")
            resp = http.post(f"{D}/vectors/upsert", headers=headers,
                             json={"vectors": [{"id": "a", "values": [1, 0, 0, 0]}]})
            assert_data_error(resp, 401, 16)
            assert_data_error(http.post(f"{D}/vectors/delete", headers=headers, json={"deleteAll": True}), 401, 16)
            assert_control_error(http.get("/nowhere", headers=headers), 401, "UNAUTHENTICATED")
        assert tk.list_indexes().names() == ["idx"] and total(tk) == 0
        assert http.get("/indexes", headers=good).status_code == 200
        seed(http, good)
        assert total(tk) == 2


def test_bodies_must_be_declared_json(client):
    body = json.dumps({"vectors": [{"id": "a", "values": [1, 0, 0, 0]}]})
    for content_type in (None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        headers = {} if content_type is None else {"content-type": content_type}
        resp = client.post(f"{D}/vectors/upsert", content=body, headers=headers)
        assert "Content-Type" in assert_data_error(resp)["message"]
    assert total(client.tk) == 0
    for content_type in ("application/json", "application/json; charset=utf-8", "application/vnd.x+json"):
        resp = client.post(f"{D}/vectors/upsert", content=body, headers={"content-type": content_type})
        assert resp.status_code == 200
    assert client.post(f"{D}/describe_index_stats").status_code == 200  # no body: no type needed


def test_host_allow_list_refuses_foreign_host_names():
    from toolkit.server.app import LOOPBACK_HOSTS
    from toolkit.server.cli import allowed_hosts

    assert allowed_hosts("127.0.0.1", None) == LOOPBACK_HOSTS
    assert allowed_hosts("127.0.0.1", "http://vectors.lan:9000") == (*LOOPBACK_HOSTS, "vectors.lan")
    assert allowed_hosts("0.0.0.0", None) is None
    http, tk = make_client(allowed_hosts=LOOPBACK_HOSTS)
    with http:
        for host in ("localhost:5080", "127.0.0.1:1", "[::1]:5080", "app.localhost", "LOCALHOST"):
            assert http.get("/indexes", headers={"host": host}).status_code == 200, host
        for host in ("attacker.example:5080", "localhost.attacker.example", "127.0.0.1.nip.io", "", "testserver"):
            resp = http.post(f"{D}/vectors/delete", json={"deleteAll": True}, headers={"host": host})
            assert "not served here" in assert_data_error(resp)["message"], host
        assert_control_error(http.delete("/indexes/idx", headers={"host": "evil.example"}), 400, "INVALID_ARGUMENT")
        assert tk.list_indexes().names() == ["idx"]


def test_without_api_key_any_key_is_accepted(client):
    assert client.get("/indexes", headers={"Api-Key": "anything"}).status_code == 200
    assert client.get("/indexes").status_code == 200


def test_startup_logs_that_keys_are_ignored(caplog):
    http, _ = make_client()
    with caplog.at_level("WARNING", logger="toolkit.server"), http:
        pass
    assert any("Api-Key headers are ignored" in r.getMessage() for r in caplog.records)


# -- routes, hosts, shapes -------------------------------------------------------------------------

def test_unknown_routes_and_methods(client):
    assert_control_error(client.get("/nowhere"), 404, "NOT_FOUND")
    assert_data_error(client.get(f"{D}/nowhere"), 404, 5)
    assert_data_error(client.post("/index/missing/query", json={"topK": 1, "vector": [1, 0, 0, 0]}), 404, 5)
    assert client.put("/indexes/idx", json={}).status_code == 405
    assert client.put("/indexes/idx", json={}).json()["error"]["message"]
    assert_data_error(client.post(f"{D}/bulk/imports", json={"uri": "file:///etc"}), 403, 7)  # no import roots
    assert_control_error(client.post("/indexes/create-for-model", json={}), 400, "INVALID_ARGUMENT")  # needs a name


def test_index_host_follows_the_host_header_and_public_url():
    http, _ = make_client()
    with http:
        assert http.get("/indexes/idx", headers={"host": "localhost:7000"}).json()["host"] == \
            "http://localhost:7000/index/idx"
        assert http.get("/indexes/idx", headers={"host": "10.0.0.5:7000"}).json()["host"] == \
            "http://10.0.0.5:7000/index/idx"
        # a Host the SDK would refuse (no dot, not localhost) or a junk one falls back to the bound address
        assert http.get("/indexes/idx", headers={"host": "myhost:7000"}).json()["host"].startswith("http://")
        assert "<" not in http.get("/indexes/idx", headers={"host": "<x>"}).json()["host"]
    http, _ = make_client(public_url="http://vectors.lan:9000/")
    with http:
        assert http.get("/indexes").json()["indexes"][0]["host"] == "http://vectors.lan:9000/index/idx"


def test_namespace_path_is_split_before_decoding(client):
    client.post(f"{D}/vectors/upsert", json={"vectors": [{"id": "a", "values": [1, 0, 0, 0]}], "namespace": "a/b c"})
    resp = client.get(f"{D}/namespaces/a%2Fb%20c")
    assert resp.json() == {"name": "a/b c", "record_count": 1}
    assert client.get(f"{D}/namespaces/a%2Fb").status_code == 404
    assert client.delete(f"{D}/namespaces/a%2Fb%20c").status_code == 202
    assert client.get(f"{D}/namespaces/a%2Fb%20c").status_code == 404


def test_every_data_plane_success_carries_request_id_and_lsn_headers(client):
    seed(client)
    calls = [
        client.post(f"{D}/vectors/upsert", json={"vectors": [{"id": "c", "values": [0, 0, 1, 0]}], "namespace": "ns"}),
        client.post(f"{D}/query", json={"topK": 1, "vector": [1, 0, 0, 0], "namespace": "ns"}),
        client.get(f"{D}/vectors/fetch?ids=a&namespace=ns"),
        client.get(f"{D}/vectors/list?namespace=ns"),
        client.post(f"{D}/vectors/update", json={"id": "a", "setMetadata": {"g": "y"}, "namespace": "ns"}),
        client.post(f"{D}/describe_index_stats", json={}),
        client.get(f"{D}/namespaces"),
        client.get(f"{D}/namespaces/ns"),
        client.post(f"{D}/vectors/delete", json={"ids": ["c"], "namespace": "ns"}),
        client.post(f"{D}/vectors/delete", json={"ids": ["c"], "namespace": "never-written"}),
        client.delete(f"{D}/namespaces/ns"),
    ]
    for resp in calls:
        assert 200 <= resp.status_code < 300, resp.text
        for name in ("x-pinecone-request-id", "x-pinecone-request-lsn", "x-pinecone-max-indexed-lsn",
                     "x-pinecone-lsn-committed", "x-pinecone-lsn-reconciled"):
            assert name in resp.headers, (resp.request.url, name)
    lsns = [int(r.headers["x-pinecone-request-lsn"]) for r in calls]
    assert lsns[0] == 2 and lsns[4] == 3 and lsns[8] == 4  # per-namespace write LSNs: seed=1, upsert=2, ...
    assert int(calls[1].headers["x-pinecone-max-indexed-lsn"]) == 2
    assert calls[9].headers["x-pinecone-request-lsn"] == "0"


def test_delete_index_answers_202_without_body_and_namespace_with_an_empty_object(client):
    seed(client)
    resp = client.delete(f"{D}/namespaces/ns")
    assert resp.status_code == 202 and resp.json() == {}  # the TypeScript SDK parses this body
    resp = client.delete("/indexes/idx")
    assert resp.status_code == 202 and resp.content == b""
    assert_control_error(client.get("/indexes/idx"), 404, "NOT_FOUND")


# -- never a 500 -----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.integers() | st.sampled_from([10**39, -10**400])
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=6), children, max_size=5),
    max_leaves=20,
)
KEYS = {
    "/vectors/upsert": ["vectors", "namespace"],
    "/query": ["topK", "top_k", "vector", "sparseVector", "id", "namespace", "filter", "includeValues",
               "includeMetadata"],
    "/vectors/update": ["id", "values", "sparseValues", "setMetadata", "namespace", "filter", "dryRun"],
    "/vectors/delete": ["ids", "deleteAll", "namespace", "filter"],
    "/describe_index_stats": ["filter"],
}
record = st.fixed_dictionaries({"id": st.text(max_size=4) | json_values}, optional={
    "values": st.lists(st.floats(-2, 2, allow_nan=False) | st.integers(-3, 3), max_size=5) | json_values,
    "sparseValues": st.fixed_dictionaries({"indices": st.lists(st.integers(-1, 2**33), max_size=3) | json_values,
                                           "values": st.lists(st.floats(-1, 1), max_size=3) | json_values}),
    "metadata": st.dictionaries(st.text(max_size=4), json_values, max_size=3) | json_values,
})
filters = st.dictionaries(st.sampled_from(["g", "$and", "$or", "$eq", "$in", "n"]),
                          json_values | st.dictionaries(st.sampled_from(["$eq", "$in", "$gt", "$exists", "$ne"]),
                                                        json_values, max_size=2), max_size=3)


@st.composite
def bodies(draw):
    route = draw(st.sampled_from(sorted(KEYS)))
    keys = draw(st.lists(st.sampled_from(KEYS[route]), unique=True, max_size=len(KEYS[route])))
    body = {}
    for key in keys:
        if key == "vectors":
            body[key] = draw(st.lists(record, max_size=3) | json_values)
        elif key == "filter":
            body[key] = draw(filters | json_values)
        elif key in ("topK", "top_k"):
            body[key] = draw(st.integers(-1, 20) | json_values)
        elif key in ("vector", "values"):
            body[key] = draw(st.lists(st.floats(-2, 2) | st.integers(-2, 2), min_size=3, max_size=5) | json_values)
        else:
            body[key] = draw(json_values)
    return route, body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bodies())
def test_fuzzed_bodies_never_500(client, case):
    route, body = case
    resp = client.post(D + route, json=body)
    assert resp.status_code in (200, 400), (route, body, resp.text)
    if resp.status_code == 400:
        assert resp.json()["code"] == 3


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["name", "dimension", "metric", "vector_type", "spec", "schema",
                                        "deployment", "tags", "deletion_protection", "engine"]),
                       json_values, max_size=6))
def test_fuzzed_create_bodies_never_500(client, body):
    resp = client.post("/indexes", json=body)
    assert resp.status_code in (201, 400, 404, 409), (body, resp.text)
