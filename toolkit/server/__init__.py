"""A REST server that speaks the reference service's API, so its official SDK works unmodified.

From a shell::

    python -m toolkit serve --port 5080 [--path vectors.db] [--api-key KEY]

From a notebook, serving a client you already hold (in a background thread)::

    server = toolkit.server.start(client, port=5080)
    pc = Pinecone(api_key="local", host=server.url)
    ...
    server.stop()

Index hosts are ``http://<host>:<index port>``, one port per index serving REST and gRPC
(``index_hosts``, ``protocol_switch``); the main port also serves ``/index/<name>`` (see ``app``).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from .app import MAX_REQUEST_HEAD_BYTES, create_app
from .limits import ServerLimits, uvicorn_options

__all__ = ["create_app", "start", "BackgroundServer"]


class BackgroundServer:
    """A uvicorn server on a daemon thread; ``url`` is its control-plane base URL."""

    def __init__(self, app: Any, host: str, port: int, log_level: str = "warning") -> None:
        import uvicorn

        if port == 0:
            with socket.socket() as sock:
                sock.bind((host, 0))
                port = sock.getsockname()[1]
        self.host, self.port = host, port
        self.url = f"http://{host}:{port}"
        hosts = getattr(getattr(getattr(app, "state", None), "config", None), "index_hosts", None)
        if hosts is not None:  # the index ports' fronts dial the app where it really listens
            hosts.bind_host, hosts.main_port = host, port
        limits = getattr(getattr(getattr(app, "state", None), "config", None), "limits", None) or ServerLimits()
        config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False,
                                lifespan="on", timeout_graceful_shutdown=10, server_header=False,
                                **uvicorn_options(limits, "auto", MAX_REQUEST_HEAD_BYTES,
                                                  lane=getattr(getattr(app, "state", None), "lane", None)))
        self._server = uvicorn.Server(config)
        if hosts is not None:  # index ports hand REST connections to this server (no proxy hop)
            hosts.serve_rest_with(self._server)
        self._thread = threading.Thread(target=self._server.run, name=f"toolkit-server-{port}", daemon=True)

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"BackgroundServer(url={self.url!r}, running={self._thread.is_alive()})"


def start(client: Any = None, *, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None,
          log_level: str = "warning", grpc: bool = True, **app_options: Any) -> BackgroundServer:
    """Serve ``client`` (or a new in-memory one) on a background thread; ``port=0`` picks a free port.

    With ``grpc`` (default) each index gets its own port (any free one) serving REST and gRPC,
    and ``describe_index`` returns it as the index host; ``grpc=False`` keeps REST-only hosts
    ``<url>/index/<name>``.
    """
    if port == 0:
        port = _free_port(host)
    if grpc and not app_options.get("public_url"):
        from .index_hosts import IndexHosts

        app_options["index_hosts"] = IndexHosts(host, port, first_index_port=0)
    app = create_app(client, api_key=api_key, **app_options)
    return BackgroundServer(app, host, port, log_level).start()


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
