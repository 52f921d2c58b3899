"""Index hosts that serve REST and gRPC on one port: the gRPC server, the index ports, the wiring.

``IndexHosts`` is what ``create_app(index_hosts=...)`` receives. At app start-up it starts the
in-process gRPC server (loopback only, on a free port) and the index-port fronts
(``protocol_switch.IndexPorts``); ``host_for`` gives ``describe_index`` the per-index host; the
ASGI middleware ``IndexPortRewrite`` maps REST requests that arrive through an index port onto
the app's ``/index/<name>/...`` routes. When the app's uvicorn server is known (``serve_rest_with``,
as ``toolkit serve`` and ``toolkit.server.start`` do), the fronts hand plain HTTP/1.1
connections to it whole and a request is recognised by the port it arrived on; otherwise (and
for TLS) the front proxies them and a request is recognised by the front's outgoing port.
An index's port stays open after the index is deleted (a live handle then gets 404, as from
the reference service) and is reused if an index of that name is created again.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import Any, Callable
from urllib.parse import quote

from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import NotFoundError
from .protocol_switch import IndexPorts, PortMap, peer_port

logger = logging.getLogger("toolkit.server")

DATA_PREFIX = "/index"


def _loopback(bind_host: str) -> str:
    """Where the fronts dial the app: the bind address, or loopback for a wildcard bind."""
    if bind_host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if bind_host == "::":
        return "::1"
    return bind_host


def tls_context(cert: str, key: str | None) -> ssl.SSLContext:
    """A server TLS context for the index ports (ALPN: h2 for gRPC, http/1.1 for REST)."""
    from ..errors import InvalidArgumentError

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidArgumentError(f"cannot load the TLS certificate/key: {exc}", path="--tls-cert") from None
    context.set_alpn_protocols(["h2", "http/1.1"])
    return context


class IndexHosts:
    """Per-index ports for REST + gRPC, in front of an app served on ``bind_host:main_port``."""

    def __init__(self, bind_host: str, main_port: int, first_index_port: int | None = None,
                 max_message_bytes: int = 16_000_000, tls_cert: str | None = None,
                 tls_key: str | None = None) -> None:
        self.bind_host = bind_host
        self.main_port = main_port
        self.first_index_port = main_port + 1 if first_index_port is None else first_index_port
        self.max_message_bytes = max_message_bytes
        self.map = PortMap()  # a front's outgoing port -> index (proxied connections)
        self.listening = PortMap()  # an index port -> index (connections handed to the REST server)
        self.ports: IndexPorts | None = None
        self._rest_server: Any = None
        self._grpc: Any = None
        self.grpc_port: int | None = None
        self.ssl_context = None if tls_cert is None else tls_context(tls_cert, tls_key)

    def serve_rest_with(self, server: Any) -> None:
        """Hand the index ports' REST connections straight to ``server`` (the ``uvicorn.Server``
        serving the app) instead of proxying them to its port. Call before the server starts."""
        self._rest_server = server

    # -- lifecycle (called by the app's lifespan) -------------------------------------------------
    def start(self, client: Any, api_key: str | None, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start gRPC and the index ports; ``loop``: the REST server's running loop (for the hand-off)."""
        from .grpc_service import make_server

        def resolve(context: Any) -> Any:
            name = self.map.get(peer_port(context.peer()))
            if name is None:
                raise NotFoundError("this connection did not come through an index port; "
                                    "dial the host describe_index returns")
            return client.Index(name=name)

        self._grpc, self.grpc_port = make_server(resolve, api_key=api_key, address="127.0.0.1:0",
                                                 max_message_bytes=self.max_message_bytes)
        self._grpc.start()
        handoff = None
        if self._rest_server is not None and loop is not None:
            handoff = uvicorn_handoff(self._rest_server, loop)
        self.ports = IndexPorts(self.bind_host, self.first_index_port, (_loopback(self.bind_host), self.main_port),
                                ("127.0.0.1", self.grpc_port), self.map, ssl_context=self.ssl_context,
                                http_handoff=handoff, listening=self.listening)
        names = [m.name for m in client.list_indexes()]
        for name in names:  # a persistent store's indexes get their ports at once
            self.ports.port_of(name)
        logger.info("gRPC server on 127.0.0.1:%d (reached through the index ports); %d index port(s) open",
                    self.grpc_port, len(names))

    def stop(self) -> None:
        if self.ports is not None:
            self.ports.stop()
            self.ports = None
        if self._grpc is not None:
            self._grpc.stop(grace=5).wait(10)
            self._grpc = None

    # -- used by the handlers ----------------------------------------------------------------------
    def host_for(self, name: str, base_url: str) -> str:
        if self.ports is None:  # not started (e.g. an app driven without its lifespan)
            return f"{base_url}{DATA_PREFIX}/{name}"
        return self.ports.host_for(name, base_url)

    @property
    def front_host(self) -> str:
        """The address the fronts dial the app from (REST requests from it on a mapped port are rewritten)."""
        return _loopback(self.bind_host)

    @property
    def middleware_class(self) -> type:
        return IndexPortRewrite


class IndexPortRewrite:
    """Serve a REST request that came through an index port as ``/index/<name><path>``."""

    def __init__(self, app: ASGIApp, port_map: PortMap, front_host: str, listening: PortMap | None = None) -> None:
        self.app = app
        self.map = port_map
        self.front_host = front_host
        self.listening = listening if listening is not None else PortMap()

    def index_of(self, scope: Scope) -> str | None:
        """The index whose port a request came in on: directly (handed off) or through the front's proxy."""
        server = scope.get("server")
        name = self.listening.get(server[1]) if server and len(self.listening) else None
        if name is None and len(self.map):
            client = scope.get("client")
            name = self.map.get(client[1]) if client and client[0] == self.front_host else None
        return name

    def rewritten(self, scope: Scope) -> Scope:
        """``scope`` with its path under ``/index/<name>`` if it came through an index's port."""
        name = self.index_of(scope)
        if name is None:
            return scope
        prefix = f"{DATA_PREFIX}/{quote(name, safe='')}"
        scope = dict(scope)
        scope["path"] = prefix + scope["path"]
        raw = scope.get("raw_path")
        if isinstance(raw, (bytes, bytearray)):
            scope["raw_path"] = prefix.encode() + bytes(raw)
        return scope

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(self.rewritten(scope) if scope["type"] == "http" else scope, receive, send)


def uvicorn_handoff(server: Any, loop: asyncio.AbstractEventLoop) -> Callable[[socket.socket], None]:
    """Return a function that makes ``server`` (a started ``uvicorn.Server`` running on ``loop``)
    serve an accepted socket exactly as if its own listener had accepted it: the same HTTP
    protocol class, limits, connection tracking and graceful shutdown. It may be called from
    any thread and owns the socket from then on (closing it if the server is gone)."""

    def protocol() -> asyncio.Protocol:
        config = server.config
        return config.http_protocol_class(config=config, server_state=server.server_state,
                                          app_state=server.lifespan.state)

    async def adopt(sock: socket.socket) -> None:
        try:
            await loop.connect_accepted_socket(protocol, sock)
        except (OSError, RuntimeError) as exc:
            logger.info("could not hand a connection to the REST server: %s", exc)
            sock.close()

    def handoff(sock: socket.socket) -> None:
        try:
            asyncio.run_coroutine_threadsafe(adopt(sock), loop)
        except RuntimeError:  # the REST server's loop is closed: shutting down
            sock.close()

    return handoff
