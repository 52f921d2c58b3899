"""The protocol switch (toolkit/server/protocol_switch.py) in isolation, against two loopback echo
targets that say which one they are and which index the port map names for their peer."""

from __future__ import annotations

import socket
import threading
import time

import pytest

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
