"""Index hosts that serve REST and gRPC on one port: the gRPC server, the index ports, the wiring.

``IndexHosts`` is what ``create_app(index_hosts=...)`` receives. At app start-up it starts the
in-process gRPC server (loopback only, on a free port) and the index-port fronts
(``protocol_switch.IndexPorts``); ``host_for`` gives ``describe_index`` the per-index host; the
ASGI middleware ``IndexPortRewrite`` maps REST requests that arrive through an index port (recognised by the
front's outgoing port, see ``protocol_switch``) onto the app's ``/index/<name>/...`` routes.
An index's port stays open after the index is deleted (a live handle then gets 404, as from
the reference service) and is reused if an index of that name is created again.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any
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
        self.map = PortMap()
        self.ports: IndexPorts | None = None
        self._grpc: Any = None
        self.grpc_port: int | None = None
        self.ssl_context = None if tls_cert is None else tls_context(tls_cert, tls_key)

    # -- lifecycle (called by the app's lifespan) -------------------------------------------------
    def start(self, client: Any, api_key: str | None) -> None:
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
        self.ports = IndexPorts(self.bind_host, self.first_index_port, (_loopback(self.bind_host), self.main_port),
                                ("127.0.0.1", self.grpc_port), self.map, ssl_context=self.ssl_context)
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

    def __init__(self, app: ASGIApp, port_map: PortMap, front_host: str) -> None:
        self.app = app
        self.map = port_map
        self.front_host = front_host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and len(self.map):
            client = scope.get("client")
            name = self.map.get(client[1]) if client and client[0] == self.front_host else None
            if name is not None:
                prefix = f"{DATA_PREFIX}/{quote(name, safe='')}"
                scope = dict(scope)
                scope["path"] = prefix + scope["path"]
                raw = scope.get("raw_path")
                if isinstance(raw, (bytes, bytearray)):
                    scope["raw_path"] = prefix.encode() + bytes(raw)
        await self.app(scope, receive, send)
