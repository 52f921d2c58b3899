"""The HTTP protocol's lane (toolkit/server/lane.py) answers byte for byte as the ASGI path.

Two real servers (uvicorn, httptools) hold the same records: one with the lane, one whose app has
none, so every request goes through the ASGI task, the middleware and ``FastPath``. Each request
is written on a raw socket and the raw answers are compared (the Date header and the request id
aside). Which requests the lane takes is checked through its ``answered`` count.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import time

import httpx
import pytest

import toolkit
from toolkit.server import BackgroundServer, create_app

RECORDS = [{"id": f"r{i}", "values": [1.0, i / 10, (i % 3) / 5, 0.5], "metadata": {"g": i % 2}} for i in range(40)]
QUERY = {"vector": [1, 0.5, 0, 0], "topK": 3, "namespace": "ns"}


def _server(lane: bool, api_key: str | None) -> tuple[BackgroundServer, toolkit.Client]:
    tk = toolkit.Client()
    tk.create_index(name="idx", dimension=4, metric="cosine")
    tk.Index("idx").upsert(vectors=RECORDS, namespace="ns")
    from toolkit.server.index_hosts import IndexHosts

    app = create_app(tk, api_key=api_key, index_hosts=IndexHosts("127.0.0.1", 0, first_index_port=0))
    if not lane:
        app.state.lane = None
    return BackgroundServer(app, "127.0.0.1", 0).start(), tk


@pytest.fixture(scope="module", params=[None, "key"])
def servers(request):
    with_lane, tk_a = _server(True, request.param)
    without, tk_b = _server(False, request.param)
    yield with_lane, without, request.param
    for server, tk in ((with_lane, tk_a), (without, tk_b)):
        server.stop()
        tk.close()


def _answered(server: BackgroundServer) -> int:
    lane = _app(server).state.lane
    return 0 if lane is None else lane.answered


def _app(server: BackgroundServer):
    app = server._server.config.loaded_app
    while not hasattr(app, "state"):  # uvicorn's own wrappers (proxy headers) around ours
        app = app.app
    return app


def _request(path: str, body: bytes | None, headers: dict[str, str], method: str = "POST",
             version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def _read_answers(sock: socket.socket, count: int) -> list[bytes]:
    """Read ``count`` whole HTTP answers (Content-Length framed) from ``sock``."""
    data, answers = b"", []
    sock.settimeout(10)
    while len(answers) < count:
        end = data.find(b"\r\n\r\n")
        if end >= 0 and data.startswith(b"HTTP/1.1 100 "):  # an interim answer (Expect: 100-continue)
            data = data[end + 4:]
            continue
        if end >= 0:
            length = int(re.search(rb"(?im)^content-length: *(\d+)", data[:end]).group(1))
            if len(data) >= end + 4 + length:
                answers.append(data[: end + 4 + length])
                data = data[end + 4 + length:]
                continue
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return answers


def _ids(answer: bytes) -> list[str]:
    return [m["id"] for m in json.loads(answer.split(b"\r\n\r\n", 1)[1])["matches"]]


def _local_ids(query: dict) -> list[str]:
    """The ids an in-process index over the same records answers ``query`` (the REST body) with."""
    with toolkit.Client() as tk:
        tk.create_index(name="idx", dimension=4, metric="cosine")
        tk.Index("idx").upsert(vectors=RECORDS, namespace="ns")
        resp = tk.Index("idx").query(vector=query["vector"], top_k=query["topK"], namespace="ns",
                                     filter=query.get("filter"))
        return [m.id for m in resp.matches]


def _comparable(answer: bytes) -> bytes:
    return re.sub(rb"(?im)^(date|x-pinecone-request-id): [^\r]*\r\n", rb"\1: -\r\n", answer)


def _exchange(port: int, *writes: bytes, answers: int = 1, pause: float = 0.0) -> list[bytes]:
    """Send ``writes`` on one connection, ``pause`` s apart; read ``answers`` answers."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for i, raw in enumerate(writes):
            if pause and i:
                time.sleep(pause)
            sock.sendall(raw)
        return _read_answers(sock, answers)


def _same(servers, *writes: bytes, answers: int = 1, pause: float = 0.0) -> tuple[list[bytes], int]:
    """Send ``writes`` to both servers; return the answers and how many of them the lane answered."""
    with_lane, without, _ = servers
    before = _answered(with_lane)
    a = _exchange(with_lane.port, *writes, answers=answers, pause=pause)
    b = _exchange(without.port, *writes, answers=answers, pause=pause)
    assert len(a) == answers
    assert [_comparable(x) for x in a] == [_comparable(x) for x in b]
    assert _answered(without) == 0
    return a, _answered(with_lane) - before


def _headers(servers) -> dict[str, str]:
    key = servers[2]
    return {"Content-Type": "application/json", **({"Api-Key": key} if key else {})}


def test_a_small_query_is_answered_by_the_lane_as_by_the_asgi_path(servers):
    body = json.dumps(QUERY).encode()
    (answer,), lane = _same(servers, _request("/index/idx/query", body, _headers(servers)))
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and lane == 1
    assert _ids(answer) == _local_ids(QUERY)
    (answer,), lane = _same(servers, _request("/index/idx/query", json.dumps({**QUERY, "includeMetadata": True}).encode(),
                                              _headers(servers)))
    assert b'"metadata":{"g":1.0}' in answer and lane == 1


@pytest.mark.parametrize(("body", "extra", "status", "by_lane"), [
    (json.dumps({**QUERY, "filter": {"g": 1}}).encode(), {}, 200, False),  # a filter: a worker thread
    (json.dumps({**QUERY, "includeValues": True}).encode(), {}, 200, False),
    (json.dumps({**QUERY, "topK": 101}).encode(), {}, 200, False),
    (b"{nope", {}, 400, False),
    (json.dumps({"vector": [1, 0], "topK": 2, "namespace": "ns"}).encode(), {}, 400, True),  # refused by the query
    (json.dumps(QUERY).encode(), {"Content-Type": "text/plain"}, 400, True),
    (b"[" + b"1," * 400_000 + b"1]", {}, 400, False),  # over the body cap
])
def test_what_the_lane_answers_and_what_it_leaves_to_the_asgi_path(servers, body, extra, status, by_lane):
    (answer,), lane = _same(servers, _request("/index/idx/query", body, {**_headers(servers), **extra}))
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
    assert lane == int(by_lane)


def test_refusals_of_the_guard_and_unknown_indexes_take_the_asgi_path(servers):
    key = servers[2]
    body = json.dumps(QUERY).encode()
    (answer,), lane = _same(servers, _request("/index/nope/query", body, _headers(servers)))
    assert answer.startswith(b"HTTP/1.1 404 ") and lane == 0
    if key:
        (answer,), lane = _same(servers, _request("/index/idx/query", body, {"Content-Type": "application/json",
                                                                           "Api-Key": "wrong"}))
        assert answer.startswith(b"HTTP/1.1 401 ") and lane == 0


def test_pipelined_requests_are_answered_in_order(servers):
    """Five requests in one write: the lane answers the first (once per read), the rest take
    turns in uvicorn's pipeline, and the answers come in the order asked."""
    asked = [{**QUERY, "vector": [1, 0, 0, 0]}, {**QUERY, "filter": {"g": 0}}, {**QUERY, "vector": [1, 9, 0, 0]},
             {**QUERY, "vector": [1, 1, 0, 0]}, {**QUERY, "vector": [1, 0, 0, 0]}]
    answers, lane = _same(servers, b"".join(_request("/index/idx/query", json.dumps(q).encode(), _headers(servers))
                                            for q in asked), answers=5)
    assert [_ids(a) for a in answers] == [_local_ids(q) for q in asked]
    assert lane == 1  # the first; the others in that read took turns


def test_a_body_still_on_its_way_is_read_by_the_asgi_path(servers):
    body = json.dumps(QUERY).encode()
    raw = _request("/index/idx/query", body, _headers(servers))
    (answer,), lane = _same(servers, raw[: len(raw) - 20], raw[len(raw) - 20:], pause=0.05)
    assert answer.startswith(b"HTTP/1.1 200 ") and lane == 0


def test_http_1_0_and_connection_close_get_a_closing_answer_from_the_lane(servers):
    body = json.dumps(QUERY).encode()
    for version, extra in (("1.0", {}), ("1.1", {"Connection": "close"})):
        (answer,), lane = _same(servers, _request("/index/idx/query", body, {**_headers(servers), **extra}, version=version))
        assert b"\r\nconnection: close\r\n" in answer and lane == 1
    with socket.create_connection(("127.0.0.1", servers[0].port)) as sock:
        sock.sendall(_request("/index/idx/query", body, {**_headers(servers), "Connection": "close"}))
        _read_answers(sock, 1)
        sock.settimeout(5)
        assert sock.recv(10) == b""  # the server closed the connection


def test_expect_100_continue_takes_the_asgi_path(servers):
    body = json.dumps(QUERY).encode()
    (answer,), lane = _same(servers, _request("/index/idx/query", body, {**_headers(servers), "Expect": "100-continue"}))
    assert b"200 OK" in answer and lane == 0


def test_the_index_port_is_served_by_the_lane(servers):
    with_lane, without, key = servers
    headers = {"Api-Key": key} if key else {}
    hosts = []
    for server in (with_lane, without):
        described = httpx.get(f"{server.url}/indexes/idx", headers=headers).json()
        hosts.append(int(described["host"].rsplit(":", 1)[1]))
    body = json.dumps(QUERY).encode()
    before = _answered(with_lane)
    a = _exchange(hosts[0], _request("/query", body, _headers(servers)))
    b = _exchange(hosts[1], _request("/query", body, _headers(servers)))
    main = _exchange(with_lane.port, _request("/index/idx/query", body, _headers(servers)))
    assert _comparable(a[0]) == _comparable(b[0]) == _comparable(main[0])
    assert a[0].startswith(b"HTTP/1.1 200 ") and _answered(with_lane) - before == 2


# -- the protocol itself, driven with a recording transport (no sockets, no timing) ----------------

class _Recorder(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.out: list[bytes] = []
        self.closed = False

    def write(self, data) -> None:
        self.out.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 5555), "sockname": ("127.0.0.1", 80)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _drive(lane, *reads: bytes, settle: float = 0.2, log: logging.Handler | None = None) -> tuple[_Recorder, object]:
    """Feed ``reads`` to one connection of the server's protocol class, one read per loop turn;
    ``log`` also receives uvicorn's error log (its loggers do not propagate)."""
    import uvicorn
    from uvicorn.server import ServerState

    from toolkit.server.limits import timed_httptools_protocol

    async def main():
        cls = timed_httptools_protocol(10.0, lane=lane.state.lane)
        config = uvicorn.Config(lane, http=cls, lifespan="off", proxy_headers=False)  # (re)configures logging
        if log is not None:
            logging.getLogger("uvicorn.error").addHandler(log)
        protocol = cls(config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop())
        transport = _Recorder()
        protocol.connection_made(transport)
        for data in reads:
            protocol.data_received(data)
            await asyncio.sleep(0)
        await asyncio.sleep(settle)
        state = protocol.timeout_keep_alive_task
        transport.close()
        protocol.connection_lost(None)
        return transport, state

    return asyncio.run(main())


@pytest.fixture(scope="module")
def app():
    tk = toolkit.Client()
    tk.create_index(name="idx", dimension=4, metric="cosine")
    tk.Index("idx").upsert(vectors=RECORDS, namespace="ns")
    yield create_app(tk)
    tk.close()


JSON_HEAD = {"Content-Type": "application/json"}


def test_a_request_after_a_lane_answer_in_the_same_read_is_not_cut_by_the_keep_alive_timer(app):
    """The lane's answer arms the keep-alive timer; the next request of that read, whose body is
    still on its way, must stop it (else the connection closes 5 s later, mid-request)."""
    body = json.dumps(QUERY).encode()
    second = _request("/index/idx/query", body, JSON_HEAD)
    transport, timer = _drive(app, _request("/index/idx/query", body, JSON_HEAD) + second[:-10])
    assert len(transport.out) == 1 and timer is None
    transport, timer = _drive(app, _request("/index/idx/query", body, JSON_HEAD) + second[:-10], second[-10:])
    assert b"".join(transport.out).count(b"HTTP/1.1 200 OK\r\n") == 2


def test_a_head_answer_is_not_overtaken_by_the_next_lane_answer(app):
    head = _request("/nope", None, {}, method="HEAD")
    transport, _ = _drive(app, head, _request("/index/idx/query", json.dumps(QUERY).encode(), JSON_HEAD))
    answers = b"".join(transport.out)
    assert answers.startswith(b"HTTP/1.1 404 Not Found\r\n") and answers.count(b"HTTP/1.1 200 OK\r\n") == 1


def test_a_failure_inside_the_lane_is_served_by_the_asgi_path(app, monkeypatch, caplog):
    lane = app.state.lane
    monkeypatch.setattr(lane.fast, "answer_now", lambda scope, body: 1 / 0)
    try:
        transport, _ = _drive(app, _request("/index/idx/query", json.dumps(QUERY).encode(), JSON_HEAD),
                              log=caplog.handler)
    finally:
        logging.getLogger("uvicorn.error").removeHandler(caplog.handler)
    answer = b"".join(transport.out)
    assert answer.startswith(b"HTTP/1.1 200 OK") and _ids(answer) == _local_ids(QUERY)
    assert "the inline lane failed" in caplog.text


def test_forwarded_requests_and_the_second_request_of_a_read_take_the_asgi_path(app):
    lane = app.state.lane
    body = json.dumps(QUERY).encode()
    before = lane.answered
    transport, _ = _drive(app, _request("/index/idx/query", body, {**JSON_HEAD, "X-Forwarded-For": "10.0.0.9"}))
    assert b"".join(transport.out).startswith(b"HTTP/1.1 200 OK") and lane.answered == before
    transport, _ = _drive(app, _request("/index/idx/query", body, JSON_HEAD) * 3)
    assert b"".join(transport.out).count(b"HTTP/1.1 200 OK\r\n") == 3
    assert lane.answered == before + 1
