"""Index ports: one port per index that speaks both HTTP/1.1 JSON and HTTP/2 gRPC.

Why a port per index. The reference's gRPC client drops the path of the host it is given
(it dials ``host:port`` and sends ``/VectorService/Query``), so a gRPC call carries nothing
that names the index when all indexes share one port under ``/index/<name>``. The reference's
local emulator gives each index its own port; so does this server: ``describe_index`` answers
``http://127.0.0.1:<index port>`` and that one host serves the REST data plane and gRPC.

How one port serves both (the protocol switch). Each index port is a small asyncio TCP front:
it peeks at the first bytes of a connection; the HTTP/2 client preface (``PRI * HTTP/2.0``) goes
to the in-process gRPC server, anything else to the REST app. A plain HTTP/1.1 connection is
handed over whole (``http_handoff``: the accepted socket itself, its bytes unread) to the REST
server's event loop, which serves it as if it had accepted it, so a REST request costs no proxy
hop; ``listening`` maps the index port to its index, and the REST middleware reads the port a
request arrived on from the ASGI scope. Without a hand-off (and for TLS and gRPC) the front
dials the target on loopback and splices bytes both ways, never parsing the protocols. Before
it forwards a byte it records ``its outgoing local port -> index name`` in a ``PortMap``; the
gRPC servicer and the REST middleware look the peer's port up there to learn the index (a peer
they do not know gets a clean error). Connections are capped, a client that sends nothing
times out, and a client that disconnects mid-stream just closes both sides.

TLS. The front peeks (``MSG_PEEK``) rather than reads, so a TLS ClientHello can still be handed
to a TLS handshake: with ``--tls-cert/--tls-key`` an index port also accepts TLS (ALPN ``h2``
for gRPC, ``http/1.1`` for REST) and routes the decrypted stream the same way. That serves
SDKs whose gRPC client always dials TLS (trust the certificate's CA, e.g. ``SSL_CERT_FILE``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
from typing import Any, Awaitable, Callable

logger = logging.getLogger("toolkit.server.ports")

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FIRST_BYTES_TIMEOUT = 10.0  # a connection that sends nothing for this long is closed
MAX_CONNECTIONS = 512  # per index port
CHUNK = 256 * 1024
PORT_SCAN = 200  # index ports are tried from the main port + 1 upwards


def is_http2(first: bytes) -> bool:
    """Return whether a connection's first bytes are (the start of) the HTTP/2 client preface."""
    n = min(len(first), len(PREFACE))
    return n >= 3 and first[:n] == PREFACE[:n]


def peer_port(peer: str) -> int | None:
    """The port of a gRPC peer string (``ipv4:127.0.0.1:5000``, ``ipv6:[::1]:5000``)."""
    try:
        return int(peer.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None


class PortMap:
    """Thread-safe map: the local port of a front's outgoing connection -> the index it serves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ports: dict[int, str] = {}

    def add(self, port: int, index: str) -> None:
        with self._lock:
            self._ports[port] = index

    def remove(self, port: int) -> None:
        with self._lock:
            self._ports.pop(port, None)

    def get(self, port: int | None) -> str | None:
        if port is None:
            return None
        with self._lock:
            return self._ports.get(port)

    def __len__(self) -> int:
        with self._lock:
            return len(self._ports)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF, then half-close; any connection error just ends the copy."""
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError, asyncio.IncompleteReadError, RuntimeError):
        pass


async def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 2)


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when installed (the splice is all loop work), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class IndexPorts:
    """Open and serve index ports on a background event-loop thread.

    ``http_target`` and ``grpc_target`` are the loopback (host, port) of the REST app and the
    gRPC server. ``host_for(name, base_url)`` opens the index's port on first use and returns
    its base URL, built from the base URL the client dialled.
    """

    def __init__(self, bind_host: str, first_port: int, http_target: tuple[str, int],
                 grpc_target: tuple[str, int], port_map: PortMap,
                 max_connections: int = MAX_CONNECTIONS, ssl_context: ssl.SSLContext | None = None,
                 first_bytes_timeout: float = FIRST_BYTES_TIMEOUT,
                 http_handoff: Callable[[socket.socket], None] | None = None,
                 listening: PortMap | None = None) -> None:
        self.bind_host = bind_host
        self.http_handoff = http_handoff  # takes ownership of a plain HTTP/1.1 connection's socket
        self.listening = listening if listening is not None else PortMap()  # index port -> index
        self.first_port = first_port
        self.http_target = http_target
        self.grpc_target = grpc_target
        self.map = port_map
        self.max_connections = max_connections
        self.ssl_context = ssl_context
        self.first_bytes_timeout = first_bytes_timeout
        self._ports: dict[str, int] = {}
        self._servers: dict[str, tuple[socket.socket, asyncio.Task[Any]]] = {}
        self._lock = threading.Lock()
        self._loop = _new_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="toolkit-index-ports", daemon=True)
        self._thread.start()
        self.connections = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._warned_tls = False

    # -- public -------------------------------------------------------------------------------
    def port_of(self, name: str) -> int:
        """Return the index's port, opening it on first use."""
        with self._lock:
            port = self._ports.get(name)
            if port is None:
                port = self._call(self._open(name))
                self._ports[name] = port
            return port

    def host_for(self, name: str, base_url: str) -> str:
        """The index host for a client that reached the server at ``base_url`` (``http://h:p``)."""
        port = self.port_of(name)
        scheme, _, authority = base_url.partition("://")
        if authority.startswith("["):
            hostname = authority.split("]", 1)[0] + "]"
        else:
            hostname = authority.rsplit(":", 1)[0] if ":" in authority else authority
        return f"{scheme}://{hostname}:{port}"

    def close(self, name: str) -> None:
        """Stop listening on an index's port (its open connections finish on their own)."""
        with self._lock:
            port = self._ports.pop(name, None)
            server = self._servers.pop(name, None)
        if port is not None:
            self.listening.remove(port)
        if server is not None:
            self._call(self._stop(server))

    def stop(self) -> None:
        with self._lock:
            servers = list(self._servers.values())
            self._servers.clear()
            for port in self._ports.values():
                self.listening.remove(port)
            self._ports.clear()
        for server in servers:
            with contextlib.suppress(Exception):
                self._call(self._stop(server))
        with contextlib.suppress(Exception):
            self._call(self._cancel_connections())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    # -- loop side ----------------------------------------------------------------------------
    def _call(self, coro: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)  # type: ignore[arg-type]

    async def _cancel_connections(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2)

    async def _stop(self, server: tuple[socket.socket, asyncio.Task[Any]]) -> None:
        listener, task = server
        task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, 2)
        listener.close()

    async def _open(self, name: str) -> int:
        used = set(self._ports.values())
        candidates = [p for p in range(self.first_port, self.first_port + PORT_SCAN) if p not in used]
        if self.first_port == 0:
            candidates = [0]
        family = socket.AF_INET6 if ":" in self.bind_host else socket.AF_INET
        last: OSError | None = None
        for port in candidates:
            listener = socket.socket(family, socket.SOCK_STREAM)
            try:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind((self.bind_host, port))
                listener.listen(256)
                listener.setblocking(False)
            except OSError as exc:
                listener.close()
                last = exc
                continue
            bound = int(listener.getsockname()[1])
            self.listening.add(bound, name)
            self._servers[name] = (listener, self._loop.create_task(self._accept(name, listener)))
            logger.info("index %r: REST and gRPC on %s:%d%s", name, self.bind_host, bound,
                        " (TLS accepted too)" if self.ssl_context is not None else "")
            return bound
        raise OSError(f"no free port for index {name!r} from {self.first_port}: {last}")

    async def _accept(self, name: str, listener: socket.socket) -> None:
        while True:
            try:
                sock, _ = await self._loop.sock_accept(listener)
            except asyncio.CancelledError:
                raise
            except OSError as exc:  # e.g. out of file descriptors: back off, keep serving
                logger.warning("index %r: accept failed: %s", name, exc)
                await asyncio.sleep(0.05)
                continue
            if self.connections >= self.max_connections:
                logger.warning("index %r: connection refused, %d open", name, self.connections)
                sock.close()
                continue
            task = self._loop.create_task(self._connection(name, sock))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _peek(self, sock: socket.socket) -> bytes:
        """The first bytes of a connection, left unread (MSG_PEEK); b"" on EOF or timeout."""
        deadline = self._loop.time() + self.first_bytes_timeout
        while True:
            ready: asyncio.Future[None] = self._loop.create_future()
            self._loop.add_reader(sock.fileno(), _wake, ready)
            try:
                await asyncio.wait_for(ready, max(0.0, deadline - self._loop.time()))
            except asyncio.TimeoutError:
                return b""
            finally:
                self._loop.remove_reader(sock.fileno())
            try:
                data = sock.recv(len(PREFACE), socket.MSG_PEEK)
            except BlockingIOError:
                continue
            except OSError:
                return b""
            if not data or len(data) >= 3:
                return data
            await asyncio.sleep(0.005)  # fewer than 3 bytes so far: wait for more

    async def _connection(self, name: str, sock: socket.socket) -> None:
        self.connections += 1
        writer: asyncio.StreamWriter | None = None
        owned = True
        try:
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            first = await self._peek(sock)
            if not first:
                return
            tls = first[:1] == b"\x16"  # a TLS ClientHello
            if tls and self.ssl_context is None:
                if not self._warned_tls:
                    self._warned_tls = True
                    logger.warning("index %r: a client opened TLS but the server has no --tls-cert. For gRPC pass "
                                   "grpc_scheme='http' (or set PINECONE_GRPC_SCHEME=http), or start the server "
                                   "with --tls-cert/--tls-key", name)
                return
            if not tls and not is_http2(first) and self.http_handoff is not None:
                owned = False
                self.http_handoff(sock)  # served by the REST server's own loop from here on
                return
            reader = asyncio.StreamReader(limit=CHUNK)
            protocol = asyncio.StreamReaderProtocol(reader)
            try:
                transport, _ = await self._loop.connect_accepted_socket(
                    lambda: protocol, sock, ssl=self.ssl_context if tls else None,
                    ssl_handshake_timeout=self.first_bytes_timeout if tls else None)
            except (OSError, ssl.SSLError, asyncio.TimeoutError) as exc:
                logger.info("index %r: TLS handshake failed: %s", name, exc)
                return
            writer = asyncio.StreamWriter(transport, protocol, reader, self._loop)
            await self._serve(name, reader, writer)
        except asyncio.CancelledError:
            pass  # the server is stopping
        finally:
            self.connections -= 1
            if writer is not None:
                await _close(writer)
            elif owned:
                sock.close()

    async def _serve(self, name: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = b""
        try:
            while len(first) < 3:
                chunk = await asyncio.wait_for(reader.read(CHUNK), self.first_bytes_timeout)
                if not chunk:
                    return  # closed before saying anything
                first += chunk
        except (asyncio.TimeoutError, ConnectionError, OSError):
            return
        target = self.grpc_target if is_http2(first) else self.http_target
        try:
            up_reader, up_writer = await asyncio.open_connection(*target, limit=CHUNK)
        except OSError as exc:
            logger.error("index %r: cannot reach %s:%d: %s", name, *target, exc)
            return
        with contextlib.suppress(OSError, AttributeError):
            up_writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        local_port = up_writer.get_extra_info("sockname")[1]
        self.map.add(local_port, name)  # before any byte reaches the target
        try:
            up_writer.write(first)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            await _close(up_writer)
            self.map.remove(local_port)


def _wake(ready: asyncio.Future[None]) -> None:
    """Resolve a reader's future once (the socket may be readable again before the waiter runs)."""
    if not ready.done():
        ready.set_result(None)
