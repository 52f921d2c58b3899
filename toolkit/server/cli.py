"""Serve the toolkit over the reference service's REST API; its official SDK works unmodified.

    python -m toolkit serve --port 5080 [--path vectors.db] [--api-key KEY] [--host 127.0.0.1]

    from pinecone import Pinecone
    pc = Pinecone(api_key="local", host="http://127.0.0.1:5080")
    pc.Index(name="demo")      # index host: http://127.0.0.1:<its own port>, REST and gRPC

Each index gets its own port (from --port + 1) that serves REST and gRPC (``PineconeGRPC``); the
main port also serves every index's REST data plane under /index/<name> (--no-grpc: only that).

Binds 127.0.0.1 by default. Without --api-key any key is accepted (as in the reference
emulator); with it, requests without that Api-Key get 401. SIGTERM/SIGINT shut down cleanly:
in-flight requests finish and the store is closed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

HELP = "run the REST server (the reference service's Python SDK works against it)"
API_KEY_ENV = "TOOLKIT_API_KEY"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: loopback only)")
    parser.add_argument("--port", type=int, default=5080, help="port to listen on (default 5080)")
    parser.add_argument("--path", default=None,
                        help="persist the indexes in this store (toolkit.Client(path=...)); default: in memory")
    parser.add_argument("--read-only", action="store_true",
                        help="open --path read-only (another process may be writing it); writes answer 503")
    parser.add_argument("--consistency", choices=["strong", "eventual"], default=None,
                        help="eventual: writes become visible --apply-delay seconds after their ack, so the "
                             "LSN headers show committed > reconciled (default strong)")
    parser.add_argument("--apply-delay", type=float, default=None, metavar="SECONDS",
                        help="with --consistency eventual: how long a write stays invisible")
    parser.add_argument("--api-key", default=None,
                        help=f"require this Api-Key on every request (or set ${API_KEY_ENV}); "
                             "without it, keys are ignored as in the reference emulator")
    parser.add_argument("--public-url", default=None,
                        help="base URL put in index hosts, e.g. http://vectors.lan:5080 "
                             "(default: the Host the client dialled)")
    parser.add_argument("--max-body-mb", type=float, default=None,
                        help="largest upsert body in MB (default 16: the 2 MB record limit plus JSON slack)")
    parser.add_argument("--grpc", action=argparse.BooleanOptionalAction, default=True,
                        help="give each index its own port serving both REST and gRPC (PineconeGRPC works); "
                             "describe_index returns it as the index host (default on; --no-grpc: hosts are "
                             "http://HOST:PORT/index/NAME on the main port, REST only)")
    parser.add_argument("--index-port-start", type=int, default=None, metavar="PORT",
                        help="first port tried for index ports (default: --port + 1; 0: any free port)")
    parser.add_argument("--tls-cert", default=None, metavar="PEM",
                        help="index ports also accept TLS with this certificate (chain) — for SDKs whose gRPC "
                             "client always dials TLS; clients must trust its CA (e.g. SSL_CERT_FILE)")
    parser.add_argument("--tls-key", default=None, metavar="PEM", help="the private key of --tls-cert")
    parser.add_argument("--http", choices=["auto", "h11", "httptools"], default="auto",
                        help="HTTP/1.1 parser: httptools (C; the default, 'auto', when it is installed, as it is "
                             "with the toolkit) or h11 (pure Python, ~0.3 ms more CPU per request). Both cap the "
                             "head at 2 MB and enforce --header-timeout")
    parser.add_argument("--inline-read-mb", type=float, default=None, metavar="MB",
                        help="queries of an in-memory namespace up to this size run on the event loop instead of a "
                             "worker thread (default 8; 0: always a thread)")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto",
                        help="event loop (auto: uvloop when installed, else asyncio)")
    parser.add_argument("--import-root", action="append", default=[], metavar="DIR",
                        help="a folder whose files imports may read over the wire (repeatable; default: none, "
                             "so imports over the wire are off); symlinks and .. are resolved first")
    parser.add_argument("--header-timeout", type=float, default=None, metavar="SECONDS",
                        help="close a connection whose request line and headers take longer (default 10)")
    parser.add_argument("--body-timeout", type=float, default=None, metavar="SECONDS",
                        help="answer 408 to a request body that takes longer in all (default 60)")
    parser.add_argument("--max-connections", type=int, default=None,
                        help="connections served at once; more get a 503 (default 512)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="hold and search the slabs on the workers of this Dask scheduler (tcp://host:8786)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--access-log", action="store_true", help="log every request")


def allowed_hosts(bind: str, public_url: str | None) -> tuple[str, ...] | None:
    """On a loopback bind, serve only loopback Host names (and --public-url's): no DNS rebinding."""
    from urllib.parse import urlsplit

    from .app import LOOPBACK_HOSTS

    if bind not in ("127.0.0.1", "localhost", "::1"):
        return None
    extra = (urlsplit(public_url).hostname or "",) if public_url else ()
    return tuple(h for h in (*LOOPBACK_HOSTS, *extra) if h)


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    logging.getLogger("toolkit.server").setLevel(level.upper())


def build_app(args: argparse.Namespace) -> Any:
    """Return the ASGI app the options describe (raises ToolkitError on bad options)."""
    from ..errors import InvalidArgumentError
    from .app import DEFAULT_MAX_UPSERT_BODY, create_app
    from .limits import ServerLimits

    api_key = args.api_key if args.api_key is not None else os.environ.get(API_KEY_ENV) or None
    max_upsert = DEFAULT_MAX_UPSERT_BODY if args.max_body_mb is None else int(args.max_body_mb * 1_000_000)
    if max_upsert < 1:
        raise InvalidArgumentError("must be positive", path="--max-body-mb")
    if args.read_only and args.path is None:
        raise InvalidArgumentError("--read-only needs --path", path="--read-only")
    options: dict[str, Any] = {}
    if args.read_only:
        options["read_only"] = True
    if args.consistency is not None:
        options["consistency"] = args.consistency
    if args.apply_delay is not None:
        options["apply_delay"] = args.apply_delay
    given = {name: getattr(args, name, None) for name in ("header_timeout", "body_timeout", "max_connections")}
    try:
        limits = ServerLimits(**{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        raise InvalidArgumentError(str(exc), path="limits") from None
    inline_mb = getattr(args, "inline_read_mb", None)
    if inline_mb is not None:
        if inline_mb < 0:
            raise InvalidArgumentError("must be >= 0", path="--inline-read-mb")
        options_app: dict[str, Any] = {"inline_read_bytes": int(inline_mb * 1024 * 1024)}
    else:
        options_app = {}
    if getattr(args, "scheduler", None):
        options["cluster"] = args.scheduler  # slabs held and searched on that Dask cluster (toolkit/cluster.py)
    return create_app(path=args.path, api_key=api_key, public_url=args.public_url, max_upsert_body=max_upsert,
                      limits=limits, import_roots=getattr(args, "import_root", None) or (),
                      client_options=options, allowed_hosts=allowed_hosts(args.host, args.public_url),
                      index_hosts=_index_hosts(args, max_upsert), **options_app)


def _index_hosts(args: argparse.Namespace, max_message_bytes: int) -> Any:
    """The per-index REST + gRPC ports the options ask for (None: --no-grpc, or grpcio missing)."""
    if not getattr(args, "grpc", True) or args.public_url:
        return None
    try:
        from .index_hosts import IndexHosts
        from .grpc_service import make_server  # noqa: F401 - imports grpcio and the generated code
    except ImportError as exc:
        logging.getLogger("toolkit.server").warning("gRPC is off (%s); install grpcio and protobuf", exc)
        return None
    return IndexHosts(args.host, args.port, getattr(args, "index_port_start", None), max_message_bytes,
                      tls_cert=getattr(args, "tls_cert", None), tls_key=getattr(args, "tls_key", None))


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; return the process exit code."""
    import uvicorn

    from ..errors import ToolkitError
    from .app import MAX_REQUEST_HEAD_BYTES
    from .limits import uvicorn_options

    _configure_logging(args.log_level)
    log = logging.getLogger("toolkit.server")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        keyless = args.api_key is None and not os.environ.get(API_KEY_ENV)
        log.warning("binding %s: the server is reachable from other machines%s", args.host,
                    " and has no API key (--api-key)" if keyless else "")
    try:
        app = build_app(args)
    except ToolkitError as exc:
        log.error("cannot start: %s", exc)
        return 2
    config = uvicorn.Config(
        app, host=args.host, port=args.port, log_level=args.log_level, access_log=args.access_log,
        lifespan="on", timeout_graceful_shutdown=30, server_header=False,
        loop=getattr(args, "loop", "auto"),
        **uvicorn_options(app.state.config.limits, getattr(args, "http", "auto"), MAX_REQUEST_HEAD_BYTES,
                          lane=app.state.lane),
    )
    server = uvicorn.Server(config)
    if app.state.config.index_hosts is not None:  # index ports hand REST connections to this server
        app.state.config.index_hosts.serve_rest_with(server)
    server.run()  # handles SIGINT/SIGTERM: stop accepting, finish in-flight requests, run shutdown
    return 0 if server.started else 1


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m toolkit.server", description="Serve the toolkit over REST.")
    add_arguments(parser)
    return run(parser.parse_args(argv))
