"""The protocol switch (toolkit/server/protocol_switch.py) in isolation, against two loopback echo
targets that say which one they are and which index the port map names for their peer; and the
REST server taking index-port connections over whole (no proxy hop)."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

import toolkit
from toolkit.server import start
from toolkit.server.protocol_switch import PREFACE, IndexPorts, PortMap


class Target:
    """A threaded TCP server answering ``<tag>:<index the map names for the peer>:<first bytes>``."""

    def __init__(self, tag: str, port_map: PortMap) -> None:
        self.tag, self.map = tag, port_map
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn, peer), daemon=True).start()

    def _answer(self, conn: socket.socket, peer) -> None:
        with conn:
            data = conn.recv(4096)
            conn.sendall(f"{self.tag}:{self.map.get(peer[1])}:".encode() + data)


@pytest.fixture()
def switch():
    port_map = PortMap()
    http, grpc = Target("H", port_map), Target("G", port_map)
    ports = IndexPorts("127.0.0.1", 0, ("127.0.0.1", http.port), ("127.0.0.1", grpc.port), port_map,
                       max_connections=2, first_bytes_timeout=0.5)
    yield ports
    ports.stop()
    http.sock.close()
    grpc.sock.close()


def ask(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            try:
                data = sock.recv(4096)
            except ConnectionResetError:  # closed with data unread: a reset, as good as a close here
                data = b""
            if not data:
                return b"".join(chunks)
            chunks.append(data)


def test_routes_by_the_first_bytes_and_names_the_index(switch):
    port = switch.port_of("demo")
    assert switch.port_of("demo") == port and switch.port_of("other") != port
    assert ask(port, PREFACE + b"frames") == b"G:demo:" + PREFACE + b"frames"
    assert ask(port, b"GET /vectors/list HTTP/1.1\r\n\r\n") == b"H:demo:GET /vectors/list HTTP/1.1\r\n\r\n"
    assert ask(switch.port_of("other"), b"POST /query") == b"H:other:POST /query"
    deadline = time.monotonic() + 5
    while len(switch.map) and time.monotonic() < deadline:  # entries go when the connections close
        time.sleep(0.01)
    assert len(switch.map) == 0


def test_a_preface_split_across_packets_still_goes_to_grpc(switch):
    port = switch.port_of("demo")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(PREFACE[:2])
        time.sleep(0.1)
        sock.sendall(PREFACE[2:])
        assert sock.recv(4096).startswith(b"G:demo:PR")


def test_silent_and_tls_clients_are_closed_and_connections_capped(switch):
    port = switch.port_of("demo")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as silent:
        began = time.monotonic()
        assert silent.recv(10) == b""  # closed after first_bytes_timeout, having said nothing
        assert 0.3 < time.monotonic() - began < 4
    assert ask(port, b"\x16\x03\x01\x00\x05hello") == b""  # TLS without a certificate: closed
    held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
    try:
        time.sleep(0.2)
        assert ask(port, b"GET / HTTP/1.1\r\n\r\n") == b""  # the third connection is refused
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.7)  # the held ones time out (they never spoke), freeing their slots
    assert ask(port, b"GET / HTTP/1.1\r\n\r\n").startswith(b"H:demo:")


def test_http1_connections_are_handed_over_whole_when_a_handoff_is_given():
    port_map = PortMap()
    http, grpc = Target("H", port_map), Target("G", port_map)

    def handoff(sock: socket.socket) -> None:  # answers on the socket itself, as the REST server's loop would
        def answer() -> None:
            with sock:
                sock.setblocking(True)
                sock.sendall(b"handed:" + sock.recv(4096))

        threading.Thread(target=answer, daemon=True).start()

    ports = IndexPorts("127.0.0.1", 0, ("127.0.0.1", http.port), ("127.0.0.1", grpc.port), port_map,
                       http_handoff=handoff)
    try:
        port = ports.port_of("demo")
        assert ports.listening.get(port) == "demo"
        assert ask(port, b"GET /x HTTP/1.1\r\n\r\n") == b"handed:GET /x HTTP/1.1\r\n\r\n"  # its first bytes unread
        assert ask(port, PREFACE + b"frames") == b"G:demo:" + PREFACE + b"frames"  # gRPC is still spliced
        ports.close("demo")
        assert ports.listening.get(port) is None
    finally:
        ports.stop()
        http.sock.close()
        grpc.sock.close()


def test_rest_on_an_index_port_is_served_without_a_proxy_hop():
    tk = toolkit.Client()
    server = start(tk)  # gRPC on: each index gets its own port
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            created = http.post("/indexes", json={"name": "hop", "dimension": 2, "metric": "cosine",
                                                  "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}})
            host = created.json()["host"]
        hosts = server._server.config.app.state.config.index_hosts
        port = int(host.rsplit(":", 1)[1])
        assert hosts.listening.get(port) == "hop"
        with httpx.Client(base_url=host, timeout=10) as http:
            assert http.post("/vectors/upsert", json={"vectors": [{"id": "a", "values": [1, 0]}]}).status_code == 200
            for _ in range(3):
                resp = http.post("/query", json={"vector": [1, 0], "topK": 1, "includeValues": True})
                assert resp.status_code == 200 and resp.json()["matches"][0]["id"] == "a"
                assert len(hosts.map) == 0  # no front-to-app proxy connection was opened
            assert http.get("/vectors/fetch", params={"ids": "a"}).json()["vectors"]["a"]["values"] == [1, 0]
            assert http.post("/describe_index_stats", json={}).json()["totalVectorCount"] == 1
        tk.delete_index("hop")
        with httpx.Client(base_url=host, timeout=10) as http:  # the port stays; the index is gone
            assert http.post("/query", json={"vector": [1, 0], "topK": 1}).status_code == 404
    finally:
        server.stop()
        tk.close()
