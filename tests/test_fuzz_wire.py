"""Fuzz the REST server in process: random and mutated JSON bodies, headers and paths.

Asserts for every request: no 500 and no other 5xx but the documented 501/503; an error
body in the plane's shape; a refused request (4xx) leaves the stored data as it was; the
app keeps serving afterwards.
"""

from __future__ import annotations

import json
import warnings
from typing import Any
from urllib.parse import quote

import pytest
from fuzz_profiles import fuzz_settings
from hypothesis import given
from hypothesis import strategies as st

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import toolkit
from toolkit.server import create_app

D = "/index/idx"

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                      st.text(max_size=12))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                             st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                          max_leaves=12)

VALID: dict[str, dict[str, Any]] = {
    "vectors/upsert": {"vectors": [{"id": "n1", "values": [0.5, 0.5, 0, 0], "metadata": {"g": 2}}], "namespace": "ns"},
    "query": {"topK": 2, "vector": [1, 0, 0, 0], "namespace": "ns", "includeMetadata": True,
              "filter": {"g": {"$gte": 1}}},
    "vectors/update": {"id": "a", "setMetadata": {"g": 3}, "namespace": "ns"},
    "vectors/delete": {"ids": ["b"], "namespace": "ns"},
    "describe_index_stats": {"filter": {"g": {"$eq": 1}}},
}


@pytest.fixture(scope="module")
def app_client():
    tk = toolkit.Client()
    tk.create_index(name="idx", dimension=4, metric="dotproduct")
    with TestClient(create_app(tk), raise_server_exceptions=False) as http:
        http.tk = tk  # type: ignore[attr-defined]
        yield http


def _reset(tk: toolkit.Client) -> None:
    index = tk.Index("idx")
    for desc in list(index.list_namespaces()):
        index.delete_namespace(desc.name)
    index.upsert(vectors=[{"id": "a", "values": [1, 0, 0, 0], "metadata": {"g": 1}},
                          {"id": "b", "values": [0, 1, 0, 0], "metadata": {"g": 2}}], namespace="ns")


def _state(tk: toolkit.Client) -> dict:
    index = tk.Index("idx")
    out = {}
    for desc in index.list_namespaces():
        ids = [i for page in index.list(namespace=desc.name) for i in page]
        fetched = index.fetch(ids=ids, namespace=desc.name).vectors if ids else {}
        out[desc.name] = {i: (list(v.values), v.metadata) for i, v in fetched.items()}
    return out


def _check(resp, before: dict, tk: toolkit.Client) -> None:
    assert resp.status_code < 500 or resp.status_code in (501, 503), (resp.status_code, resp.text[:300])
    if resp.status_code >= 400:
        body = resp.json()
        if resp.request.url.path.startswith("/index/"):
            assert isinstance(body["code"], int) and isinstance(body["message"], str)
        else:
            assert body["status"] == resp.status_code and isinstance(body["error"]["message"], str)
        assert _state(tk) == before, f"a refused request ({resp.status_code}) changed stored data"


def _mutate(body: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    body = json.loads(json.dumps(body))
    action = data.draw(st.sampled_from(["drop", "retype", "add", "deep"]))
    keys = list(body)
    if action == "drop" and keys:
        body.pop(data.draw(st.sampled_from(keys)))
    elif action == "retype" and keys:
        body[data.draw(st.sampled_from(keys))] = data.draw(json_value)
    elif action == "add":
        body[data.draw(st.text(max_size=10))] = data.draw(json_value)
    elif action == "deep" and "vectors" in body:
        body["vectors"][0][data.draw(st.sampled_from(["id", "values", "metadata", "sparseValues", "x"]))] = \
            data.draw(json_value)
    return body


@fuzz_settings(2.0)
@given(route=st.sampled_from(sorted(VALID)), data=st.data())
def test_mutated_bodies_are_typed_and_change_nothing_when_refused(app_client, route, data):
    tk = app_client.tk
    _reset(tk)
    before = _state(tk)
    body = _mutate(VALID[route], data)
    resp = app_client.post(f"{D}/{route}", content=json.dumps(body), headers={"content-type": "application/json"})
    _check(resp, before, tk)


@fuzz_settings(1.0)
@given(route=st.sampled_from(sorted(VALID)), raw=st.one_of(st.binary(max_size=64), json_value.map(
    lambda v: json.dumps(v).encode())), ctype=st.sampled_from(["application/json", "text/plain", "", "application/x+json",
                                                             "application/json; charset=latin-1"]))
def test_random_bodies_and_content_types(app_client, route, raw, ctype):
    tk = app_client.tk
    _reset(tk)
    before = _state(tk)
    headers = {"content-type": ctype} if ctype else {}
    _check(app_client.post(f"{D}/{route}", content=raw, headers=headers), before, tk)


segment = st.one_of(st.text(max_size=12).map(lambda s: quote(s, safe="")),
                    st.sampled_from(["%ff", "%c0%ae", "..", "%2e%2e", "%00", "%2F", "idx", "ns", ""]))


@fuzz_settings(2.0)
@given(method=st.sampled_from(["GET", "POST", "DELETE", "PATCH", "PUT", "HEAD", "OPTIONS"]),
       template=st.sampled_from(["/indexes/{}", "/index/{}/query", "/index/idx/namespaces/{}", "/index/{}/vectors/{}",
                                 "/{}", "/indexes/{}/{}", "/index/idx/vectors/list?limit={}&namespace={}",
                                 "/index/idx/vectors/fetch?ids={}&ids={}", "/index/idx/namespaces?limit={}"]),
       parts=st.lists(segment, min_size=2, max_size=2))
def test_random_paths_and_methods(app_client, method, template, parts):
    tk = app_client.tk
    _reset(tk)
    before = _state(tk)
    path = template.format(*parts)
    if method == "DELETE" and path.startswith("/indexes/idx"):
        path = "/indexes/idx-" + path[len("/indexes/idx"):]  # keep the index under test
    if method == "DELETE" and path.startswith("/index/idx/namespaces/") and "?" not in path:
        resp = app_client.request(method, path)
        assert resp.status_code < 500 or resp.status_code in (501, 503), resp.text[:200]
        return  # a delete_namespace that succeeded changes data, as asked
    resp = app_client.request(method, path, headers={"content-type": "application/json"})
    if resp.status_code < 400:
        assert method in ("GET", "HEAD", "POST") or resp.status_code in (200, 202)
        return
    if method == "HEAD":
        assert resp.status_code < 500
        return
    _check(resp, before, tk)


@fuzz_settings(1.0)
@given(headers=st.dictionaries(st.sampled_from(["content-length", "content-type", "api-key", "host",
                                                "x-pinecone-api-version", "transfer-encoding", "accept"]),
                               st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
                               max_size=4))
def test_random_headers(app_client, headers):
    tk = app_client.tk
    _reset(tk)
    before = _state(tk)
    try:
        resp = app_client.post(f"{D}/query", content=json.dumps(VALID["query"]), headers=headers)
    except Exception as exc:  # noqa: BLE001 - the client library may refuse to send nonsense framing
        if type(exc).__module__.split(".")[0] in ("httpx", "h11", "h2"):
            return
        raise
    _check(resp, before, tk)
    assert app_client.get("/health").status_code == 200  # still serving
