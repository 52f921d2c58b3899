"""The data plane's fast path (toolkit/server/fast_path.py) answers exactly as the Starlette endpoints.

Each request goes to two apps over the same data: the normal app, where query, fetch and upsert
are served by ``FastPath``, and one whose ``FastPath`` has no routes, so Starlette's endpoints
serve them. Status, body and headers must be the same (the request id aside), for good
requests and for every kind of refusal. Also: which requests the fast path takes.
"""

from __future__ import annotations

import json
import warnings

import httpx
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import toolkit
from toolkit.server import create_app
from toolkit.server.fast_path import FastPath

D = "/index/idx"
SEED = {"vectors": [{"id": "a", "values": [1, 0, 0, 0], "metadata": {"g": "x"}},
                    {"id": "b", "values": [0, 1, 0, 0]}, {"id": "c d/e?", "values": [0, 0, 1, 0]}],
        "namespace": "ns"}


def _app(api_key: str | None, fast: bool) -> tuple[TestClient, toolkit.Client]:
    tk = toolkit.Client()
    tk.create_index(name="idx", dimension=4, metric="dotproduct")
    app = create_app(tk, api_key=api_key, max_body=2_000, max_upsert_body=4_000)
    found = [m for m in app.user_middleware if m.cls is FastPath]
    assert len(found) == 1
    if not fast:
        found[0].kwargs["routes"] = []  # every request goes on to Starlette's routes
    return TestClient(app, raise_server_exceptions=False), tk


@pytest.fixture(params=[None, "key"])
def pair(request):
    fast, tk_fast = _app(request.param, True)
    slow, tk_slow = _app(request.param, False)
    with fast, slow:
        yield fast, slow, request.param
    tk_fast.close()
    tk_slow.close()


def _same(fast: TestClient, slow: TestClient, method: str, path: str, **kw) -> httpx.Response:
    a = fast.request(method, path, **kw)
    b = slow.request(method, path, **kw)
    assert (a.status_code, a.content) == (b.status_code, b.content), (path, a.text, b.text)
    drop = {"x-pinecone-request-id"}
    assert [(k, v) for k, v in a.headers.items() if k not in drop] == \
        [(k, v) for k, v in b.headers.items() if k not in drop], path
    assert ("x-pinecone-request-id" in a.headers) == ("x-pinecone-request-id" in b.headers)
    return a


JSON = {"content-type": "application/json"}
QUERY = {"vector": [1, 0.5, 0, 0], "topK": 2, "namespace": "ns", "includeMetadata": True}


def test_the_fast_path_answers_as_the_starlette_endpoints(pair):
    fast, slow, key = pair
    h = {"Api-Key": key} if key else {}
    ok = _same(fast, slow, "POST", f"{D}/vectors/upsert", content=json.dumps(SEED), headers={**JSON, **h})
    assert ok.status_code == 200 and ok.json() == {"upsertedCount": 3}
    cases = [
        ("POST", f"{D}/query", {"content": json.dumps(QUERY), "headers": {**JSON, **h}}),
        ("POST", f"{D}/query", {"content": json.dumps({**QUERY, "includeValues": True}), "headers": {**JSON, **h}}),
        ("POST", f"{D}/query", {"content": json.dumps({"id": "a", "topK": 1, "namespace": "ns"}),
                                "headers": {**JSON, **h}}),
        ("GET", f"{D}/vectors/fetch?ids=a&ids=c%20d%2Fe%3F&ids=zz&namespace=ns", {"headers": h}),
        ("GET", f"{D}/vectors/fetch", {"headers": h}),
        # refusals: malformed JSON, wrong type, unknown field, content type, size, missing index, auth
        ("POST", f"{D}/query", {"content": b"{nope", "headers": {**JSON, **h}}),
        ("POST", f"{D}/query", {"content": json.dumps({"vector": [1, 0, 0, 0], "topK": "2"}), "headers": {**JSON, **h}}),
        ("POST", f"{D}/query", {"content": json.dumps({**QUERY, "topk": 3}), "headers": {**JSON, **h}}),
        ("POST", f"{D}/query", {"content": json.dumps({"vector": [1, 0], "topK": 2}), "headers": {**JSON, **h}}),
        ("POST", f"{D}/query", {"content": json.dumps(QUERY), "headers": {"content-type": "text/plain", **h}}),
        ("POST", f"{D}/query", {"content": b"[" + b"1," * 1500 + b"1]", "headers": {**JSON, **h}}),
        ("POST", f"{D}/query", {"content": b"", "headers": {**JSON, **h}}),
        ("POST", "/index/nope/query", {"content": json.dumps(QUERY), "headers": {**JSON, **h}}),
        ("GET", "/index/nope/vectors/fetch?ids=a", {"headers": h}),
        ("POST", f"{D}/vectors/upsert", {"content": json.dumps({"vectors": [{"id": "x", "values": [1] * 900}]}),
                                         "headers": {**JSON, **h}}),
        ("POST", f"{D}/vectors/upsert", {"content": json.dumps({"vectors": [{"id": "x", "values": [1, 2]}]}),
                                         "headers": {**JSON, **h}}),
        ("POST", f"{D}/query", {"content": json.dumps(QUERY), "headers": JSON}),  # no key
        ("POST", f"{D}/query", {"content": json.dumps(QUERY), "headers": {**JSON, "Api-Key": "wrong"}}),
        # not the fast path's: the wrong method, a deeper path, HEAD on fetch
        ("GET", f"{D}/query", {"headers": h}),
        ("PUT", f"{D}/vectors/upsert", {"headers": h}),
        ("POST", "/index/idx/x/query", {"content": json.dumps(QUERY), "headers": {**JSON, **h}}),
        ("HEAD", f"{D}/vectors/fetch?ids=a", {"headers": h}),
    ]
    statuses = [_same(fast, slow, method, path, **kw).status_code for method, path, kw in cases]
    auth = [200, 200] if key is None else [401, 401]
    assert statuses == [200] * 4 + [400] * 7 + [400, 404, 404, 400, 400] + auth + [405, 405, 404, 200], statuses
    assert total_ids(fast) == total_ids(slow) == 3  # the refused upserts changed nothing


def total_ids(http: TestClient) -> int:
    return http.app.state.client.Index("idx").describe_index_stats().total_vector_count  # type: ignore[attr-defined]


@pytest.mark.parametrize(("method", "path", "hit"), [
    ("POST", "/index/idx/query", ("idx", "/query")),
    ("POST", "/index/a%2Fb/query", ("a%2Fb", "/query")),
    ("GET", "/index/idx/vectors/fetch", ("idx", "/vectors/fetch")),
    ("POST", "/index/idx/vectors/upsert", ("idx", "/vectors/upsert")),
    ("GET", "/index/idx/query", None),
    ("POST", "/index//query", None),
    ("POST", "/index/idx/query/", None),
    ("POST", "/index/a/b/query", None),
    ("POST", "/indexes/idx/query", None),
    ("POST", "/index/idx", None),
])
def test_which_requests_the_fast_path_takes(method, path, hit):
    tk = toolkit.Client()
    app = create_app(tk)
    mw = next(m for m in app.user_middleware if m.cls is FastPath)
    fast = FastPath(lambda *a: None, **mw.kwargs)
    found = fast.match({"type": "http", "method": method, "path": path})
    assert (None if found is None else (found[1], found[0].suffix)) == hit
    tk.close()


def test_only_small_in_memory_queries_run_on_the_event_loop(tmp_path):
    from toolkit.server.app import Call
    from toolkit.server.fast_path import small_query

    tk = toolkit.Client()
    tk.create_index(name="idx", dimension=4, metric="cosine")
    tk.Index("idx").upsert(vectors=[{"id": f"r{i}", "values": [1, i, 0, 0]} for i in range(100)], namespace="ns")
    small = small_query(tk, 1_000_000)
    assert small is not None and small_query(tk, 0) is None

    def call(body: dict, index: str = "idx") -> Call:
        return Call("POST", f"/index/{index}/query", {"index": index}, None, json.dumps(body).encode(), "")  # type: ignore[arg-type]

    assert small(call({"vector": [1, 0, 0, 0], "topK": 10, "namespace": "ns", "includeMetadata": True}))
    assert small(call({"vector": [1, 0, 0, 0], "top_k": 10, "namespace": "empty"}))
    assert not small(call({"vector": [1, 0, 0, 0], "topK": 10, "namespace": "ns", "includeValues": True}))
    assert not small(call({"vector": [1, 0, 0, 0], "topK": 101, "namespace": "ns"}))
    # a filter runs over every row: its cost is not bounded by the namespace's bytes
    assert not small(call({"vector": [1, 0, 0, 0], "topK": 10, "namespace": "ns", "filter": {"g": {"$nin": [1]}}}))
    assert not small(call({"vector": [1, 0, 0, 0], "topK": "10", "namespace": "ns"}))
    assert not small(call({"vector": [1, 0, 0, 0], "topK": 10, "namespace": "ns"}, index="nope"))
    assert not small(Call("POST", "/index/idx/query", {"index": "idx"}, None, b"{nope", ""))  # type: ignore[arg-type]
    assert not small_query(tk, 100)(call({"vector": [1, 0, 0, 0], "topK": 10, "namespace": "ns"}))  # too big
    tk.close()
    with toolkit.Client(path=str(tmp_path / "db")) as disk:  # persistent: always a worker thread
        assert small_query(disk, 1_000_000) is None


def test_serve_takes_inline_read_mb():
    import argparse

    from toolkit.server.app import DEFAULT_INLINE_READ_BYTES
    from toolkit.server.cli import add_arguments, build_app

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert build_app(parser.parse_args([])).state.config.inline_read_bytes == DEFAULT_INLINE_READ_BYTES
    assert build_app(parser.parse_args(["--inline-read-mb", "0"])).state.config.inline_read_bytes == 0
    assert build_app(parser.parse_args(["--inline-read-mb", "2"])).state.config.inline_read_bytes == 2 * 1024 * 1024
    with pytest.raises(toolkit.errors.InvalidArgumentError):
        build_app(parser.parse_args(["--inline-read-mb", "-1"]))
    with pytest.raises(toolkit.errors.InvalidArgumentError):
        create_app(toolkit.Client(), inline_read_bytes=-1)
