"""``python -m toolkit serve``: run the REST server (the harness's dispatcher calls these two).

    python -m toolkit serve --port 5080 [--path vectors.db] [--api-key KEY] [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

API_KEY_ENV = "TOOLKIT_API_KEY"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: loopback only)")
    parser.add_argument("--port", type=int, default=5080, help="port to listen on (default 5080)")
    parser.add_argument("--path", default=None,
                        help="persist the indexes in this store (toolkit.Client(path=...)); default: in memory")
    parser.add_argument("--api-key", default=None,
                        help=f"require this Api-Key on every request (or set ${API_KEY_ENV}); "
                             "without it, keys are ignored as in the reference emulator")
    parser.add_argument("--public-url", default=None,
                        help="base URL put in index hosts, e.g. http://vectors.lan:5080 "
                             "(default: the Host the client dialled)")
    parser.add_argument("--max-body-mb", type=float, default=None,
                        help="largest upsert body in MB (default 16: the 2 MB record limit plus JSON slack)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--access-log", action="store_true", help="log every request")


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    logging.getLogger("toolkit.server").setLevel(level.upper())


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; return the process exit code."""
    import uvicorn

    from ..errors import ToolkitError
    from .app import DEFAULT_MAX_UPSERT_BODY, create_app

    _configure_logging(args.log_level)
    log = logging.getLogger("toolkit.server")
    api_key = args.api_key if args.api_key is not None else os.environ.get(API_KEY_ENV) or None
    max_upsert = DEFAULT_MAX_UPSERT_BODY if args.max_body_mb is None else int(args.max_body_mb * 1_000_000)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("binding %s: the server is reachable from other machines%s", args.host,
                    "" if api_key else " and has no API key (--api-key)")
    try:
        app = create_app(path=args.path, api_key=api_key, public_url=args.public_url, max_upsert_body=max_upsert)
    except ToolkitError as exc:
        log.error("cannot start: %s", exc)
        return 2
    config = uvicorn.Config(
        app, host=args.host, port=args.port, log_level=args.log_level, access_log=args.access_log,
        lifespan="on", timeout_graceful_shutdown=30, server_header=False,
    )
    server = uvicorn.Server(config)
    server.run()  # handles SIGINT/SIGTERM: stop accepting, finish in-flight requests, run shutdown
    return 0 if server.started else 1


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m toolkit.server", description="Serve the toolkit over REST.")
    add_arguments(parser)
    return run(parser.parse_args(argv))
