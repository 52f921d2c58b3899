"""Hardening of the REST server and the usage ledger (issue #17 items 5-8, 10 and the control plane)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import toolkit
from toolkit.cost import LedgerEntry, UsageLedger
from toolkit.server import create_app
from toolkit.server.limits import ServerLimits, read_with_deadline

D = "/index/idx"


@pytest.fixture()
def http():
    tk = toolkit.Client()
    tk.create_index(name="idx", dimension=4, metric="dotproduct")
    tk.Index("idx").upsert(vectors=[{"id": "a", "values": [1, 0, 0, 0]}], namespace="ns")
    with TestClient(create_app(tk), raise_server_exceptions=False) as client:
        client.tk = tk  # type: ignore[attr-defined]
        yield client


def _state(tk: toolkit.Client) -> dict:
    index = tk.Index("idx")
    return {ns.name: sorted(i for page in index.list(namespace=ns.name) for i in page)
            for ns in index.list_namespaces()}


# -- item 5: a path segment that is not UTF-8 --------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("segment", ["%ff", "%c0%ae", "ok%80"])
def test_a_non_utf8_namespace_in_the_path_is_a_400(http, method, segment):
    before = _state(http.tk)
    resp = http.request(method, f"{D}/namespaces/{segment}")
    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] == 3 and "namespace" in resp.json()["message"]
    assert _state(http.tk) == before


# -- control plane: 405 body, no redirects ---------------------------------------------------------


def test_a_wrong_method_answers_405_with_a_405_body(http):
    resp = http.put("/indexes/idx")
    assert resp.status_code == 405
    body = resp.json()
    assert body["status"] == 405 and body["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert "PUT" in body["error"]["message"]
    assert "GET" in resp.headers.get("allow", "")
    data = http.put(f"{D}/query")
    assert data.status_code == 405 and data.json()["code"] == 12


def test_a_trailing_slash_is_not_redirected(http):
    resp = http.delete("/indexes/", follow_redirects=False)
    assert resp.status_code in (404, 405), resp.status_code
    assert http.get("/indexes/", follow_redirects=False).status_code in (404, 405)
    assert http.tk.list_indexes().names() == ["idx"]


# -- item 8: unknown fields, integer types, list limits ---------------------------------------------


@pytest.mark.parametrize("route,body,field", [
    ("query", {"topK": 1, "vector": [1, 0, 0, 0], "bogus": 1}, "bogus"),
    ("query", {"topk": 1, "vector": [1, 0, 0, 0]}, "topk"),
    ("vectors/upsert", {"vectors": [{"id": "z", "values": [0, 0, 1, 0]}], "namespce": "ns"}, "namespce"),
    ("vectors/update", {"id": "a", "setMetadata": {"g": 1}, "namespace": "ns", "set_metdata": {}}, "set_metdata"),
    ("vectors/delete", {"ids": ["a"], "namespace": "ns", "deleteall": True}, "deleteall"),
    ("describe_index_stats", {"filters": {"g": 1}}, "filters"),
])
def test_an_unknown_field_is_a_400_naming_it_and_changes_nothing(http, route, body, field):
    before = _state(http.tk)
    resp = http.post(f"{D}/{route}", json=body)
    assert resp.status_code == 400, resp.text
    assert field in resp.json()["message"]
    assert _state(http.tk) == before


def test_documented_fields_the_toolkit_ignores_are_accepted(http):
    resp = http.post(f"{D}/query", json={"topK": 1, "vector": [1, 0, 0, 0], "namespace": "ns",
                                          "scanFactor": 2.0, "maxCandidates": 500})
    assert resp.status_code == 200 and resp.json()["matches"][0]["id"] == "a"


def test_a_float_top_k_is_refused(http):
    resp = http.post(f"{D}/query", json={"topK": 1.0, "vector": [1, 0, 0, 0]})
    assert resp.status_code == 400 and "topK" in resp.json()["message"]


@pytest.mark.parametrize("limit", ["0", "1001", "100000000000000000000"])
def test_an_out_of_range_list_limit_is_refused(http, limit):
    for path in (f"{D}/vectors/list?namespace=ns&limit={limit}", f"{D}/namespaces?limit={limit}"):
        resp = http.get(path)
        assert resp.status_code == 400 and "limit" in resp.json()["message"], resp.text


# -- item 7: slow clients ------------------------------------------------------------------------------


def test_a_stalled_body_gets_a_deadline():
    limits = ServerLimits(body_timeout=0.5, body_idle_timeout=0.2)

    async def stalled():
        yield b"{"
        await asyncio.sleep(30)
        yield b"}"

    async def read():
        return [chunk async for chunk in read_with_deadline(stalled(), limits)]

    started = time.monotonic()
    with pytest.raises(toolkit.errors.DeadlineExceededError, match="stalled") as info:
        asyncio.run(read())
    assert info.value.status == 408 and time.monotonic() - started < 5


def test_limits_refuse_nonsense():
    for bad in ({"header_timeout": 0}, {"body_timeout": -1}, {"max_connections": 0}, {"body_idle_timeout": True}):
        with pytest.raises(ValueError):
            ServerLimits(**bad)


def _parsers() -> list[str]:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return ["h11"]
    return ["h11", "httptools"]


@pytest.fixture(params=_parsers())
def live_server(request):
    import uvicorn

    from toolkit.server.limits import uvicorn_options

    tk = toolkit.Client()
    tk.create_index(name="idx", dimension=4)
    limits = ServerLimits(header_timeout=0.5, body_timeout=1.0, body_idle_timeout=0.5, max_connections=50)
    app = create_app(tk, limits=limits)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound here: no race for a free port
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="on",
                                           **uvicorn_options(limits, request.param, max_head_bytes=100_000)))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield port
    server.should_exit = True
    thread.join(10)
    sock.close()
    tk.close()


def _closed_within(sock: socket.socket, seconds: float) -> bytes:
    """Return what the server sent before it closed the connection (fails if it stays open)."""
    sock.settimeout(seconds)
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return data
            data += chunk
    except socket.timeout:
        pytest.fail(f"the server kept a slow connection open for more than {seconds} s (got {data[:80]!r})")


def test_a_slow_head_and_a_slow_body_are_cut_off(live_server):
    port = live_server
    head = socket.create_connection(("127.0.0.1", port))
    head.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never ends its headers
    _closed_within(head, 15)
    idle = socket.create_connection(("127.0.0.1", port))  # sends nothing at all
    _closed_within(idle, 15)
    body = socket.create_connection(("127.0.0.1", port))
    body.sendall(b"POST /index/idx/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 100\r\n\r\n{\"topK\"")
    answer = _closed_within(body, 15)
    assert b" 408 " in answer.split(b"\r\n", 1)[0]
    for s in (head, idle, body):
        s.close()
    with socket.create_connection(("127.0.0.1", port)) as ok:  # still serving
        ok.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert b" 200 " in _closed_within(ok, 15).split(b"\r\n", 1)[0]


def test_an_oversized_request_head_is_refused_and_the_server_keeps_serving(live_server):
    port = live_server
    with socket.create_connection(("127.0.0.1", port)) as big:  # a 150 kB header line, over the 100 kB cap
        try:
            big.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 150_000 + b"\r\n\r\n")
        except OSError:
            pass  # the server may close before it has read everything
        try:
            answer = _closed_within(big, 15)
        except ConnectionResetError:  # closed with our bytes unread: a reset instead of an answer
            answer = b""
        assert answer == b"" or answer.split(b"\r\n", 1)[0].split(b" ")[1] in (b"400", b"431")
    with socket.create_connection(("127.0.0.1", port)) as ok:
        ok.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 50_000 +
                   b"\r\nConnection: close\r\n\r\n")
        assert b" 200 " in _closed_within(ok, 15).split(b"\r\n", 1)[0]


def test_a_request_line_over_64_kb_is_served(live_server):
    """httptools.parse_url refuses URLs over 64 KB; the server still serves such a fetch, as h11 does."""
    port = live_server
    ids = [f"id{k:04d}" + "x" * 95 for k in range(700)]
    body = json.dumps({"vectors": [{"id": i, "values": [1, 0, 0, 0]} for i in ids], "namespace": "long"}).encode()
    with socket.create_connection(("127.0.0.1", port)) as up:
        up.sendall(b"POST /index/idx/vectors/upsert HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        assert b" 200 " in _closed_within(up, 15).split(b"\r\n", 1)[0]
    target = "/index/idx/vectors/fetch?namespace=long&" + "&".join(f"ids={i}" for i in ids)
    assert 65_535 < len(target) < 100_000
    with socket.create_connection(("127.0.0.1", port)) as get:
        get.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        answer = _closed_within(get, 15)
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n", 1)[0], answer[:200]
    assert sorted(json.loads(payload)["vectors"]) == ids


# -- item 10: import roots ---------------------------------------------------------------------------


def test_import_roots_default_to_none_and_are_resolved(tmp_path):
    tk = toolkit.Client()
    assert create_app(tk).state.config.import_roots == ()
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    assert create_app(tk, import_roots=[link]).state.config.import_roots == (tmp_path.resolve(),)
    with pytest.raises(toolkit.errors.InvalidArgumentError, match="import root"):
        create_app(tk, import_roots=[tmp_path / "missing"])


def test_serve_cli_takes_import_roots_and_limits(tmp_path):
    import argparse

    from toolkit.server.cli import add_arguments, build_app

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--import-root", str(tmp_path), "--header-timeout", "3", "--max-connections", "7"])
    app = build_app(args)
    assert app.state.config.import_roots == (tmp_path.resolve(),)
    assert app.state.config.limits.header_timeout == 3 and app.state.config.limits.max_connections == 7
    from toolkit.server.limits import uvicorn_options

    options = uvicorn_options(app.state.config.limits)
    assert options["limit_concurrency"] == 7 and options["http"].__name__ == "HeaderTimeoutProtocol"
    with pytest.raises(toolkit.errors.InvalidArgumentError):
        build_app(parser.parse_args(["--body-timeout", "0"]))


# -- item 6: a bounded ledger ------------------------------------------------------------------------


def test_the_ledger_keeps_exact_totals_and_a_bounded_window():
    ledger = UsageLedger(window=100)
    for i in range(1_000):
        ledger.record(LedgerEntry("query", f"ns{i % 3}", read_units=0.25, read_units_reported=1, records=1,
                                  distance_computations=10))
    ledger.record_batch(LedgerEntry("query", "ns0", 0.25, 1), [1, 2], [5, 5], [0, 0], time.perf_counter())
    assert len(ledger.entries()) <= 101 and ledger.dropped >= 900
    summary = ledger.summary().set_index(["operation", "namespace"])
    assert summary["requests"].sum() == 1_002
    assert summary.loc[("query", "ns0"), "requests"] == 334 + 2
    assert summary.loc[("query", "ns0"), "distance_computations"] == 334 * 10 + 10
    assert summary["read_units"].sum() == pytest.approx(1_002 * 0.25)


def test_a_server_keeps_a_bounded_ledger_over_many_requests(http):
    ledger = http.tk.Index("idx")._ledger
    ledger.window = 50
    body = {"topK": 1, "vector": [1, 0, 0, 0], "namespace": "ns"}
    for _ in range(400):
        assert http.post(f"{D}/query", json=body).status_code == 200
    assert len(ledger.entries()) <= 50
    summary = http.tk.Index("idx").usage().set_index(["operation", "namespace"])
    assert summary.loc[("query", "ns"), "requests"] == 400
