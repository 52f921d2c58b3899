"""The data plane's hot routes (query, fetch, upsert) served straight from ASGI.

Starlette's router, its Request/Response objects and its exception middleware cost more per
request than parsing a query's JSON (benchmarks/results/http_layers.md). ``FastPath`` matches
these three routes on the path itself and answers them with the same handlers, the same body
limits and deadlines, and byte-for-byte the same status, body and headers as the Starlette
endpoints in ``app``; every other path and method (a GET on /query, HEAD on fetch...) falls
through to Starlette unchanged. It sits inside the guard (Host, Api-Key) and the index-port
rewrite, so those apply as before.

A route's work (JSON parse, toolkit call, encode) runs in a worker thread, as in ``app`` —
except a small query (``small_query``: an in-memory namespace of at most ``inline_read_bytes``,
no values asked for, no filter, top_k <= 100), which runs on the event loop: a sub-millisecond
search costs less than the hop to a thread and back, and with 8 concurrent clients the threads
only contend for the GIL (measured: benchmarks/results/http.md).
Reads search an immutable snapshot, so the loop never waits for a lock. ``answer_now`` is the same
work for the HTTP protocol's lane (``lane.py``), for a request whose body has already arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import ToolkitError
from ..index import Index
from .app import DATA_PREFIX, Call, Result, ServerConfig, base_url
from .body import check_json_content_type, receive_body
from .errors import error_response, unexpected
from .headers import request_id
from .limits import Answer
from . import wire

_PREFIX = DATA_PREFIX + "/"
_JSON = (b"content-type", b"application/json")


@dataclass(frozen=True)
class FastRoute:
    """One hot route: ``method`` on ``/index/<name><suffix>``, its handler and its body cap."""

    method: str
    suffix: str
    handler: Callable[[Call], Result]
    limit: int
    inline: Callable[[Call], bool] | None = None  # True: run this call on the event loop


def _headers_of(scope: Scope) -> tuple[str | None, str | None, str]:
    """(Content-Length, Content-Type, Host) of a request, first occurrence of each, as latin-1 text."""
    length = ctype = None
    host = ""
    seen_host = False
    for name, value in scope["headers"]:
        if name == b"content-length" and length is None:
            length = value.decode("latin-1")
        elif name == b"content-type" and ctype is None:
            ctype = value.decode("latin-1")
        elif name == b"host" and not seen_host:
            host, seen_host = value.decode("latin-1"), True
    return length, ctype, host


def _run(handler: Callable[[Call], Result], call: Call) -> tuple[int, bytes | None, Mapping[str, str]]:
    status, payload, extra = handler(call)
    return status, None if payload is None else wire.dumps(payload), extra


class FastPath:
    """ASGI middleware: serve ``routes`` directly, pass anything else to ``app``."""

    def __init__(self, app: ASGIApp, routes: list[FastRoute], config: ServerConfig) -> None:
        self.app = app
        self.config = config
        self.routes = {(r.method, r.suffix): r for r in routes}

    def match(self, scope: Scope) -> tuple[FastRoute, str] | None:
        """The route and index name a request is for, exactly where Starlette's ``/index/{index}...`` would match."""
        path: str = scope["path"]
        if not path.startswith(_PREFIX):
            return None
        end = path.find("/", len(_PREFIX))
        if end <= len(_PREFIX):
            return None
        route = self.routes.get((scope["method"], path[end:]))
        return None if route is None else (route, path[len(_PREFIX):end])

    def call_of(self, route: FastRoute, name: str, scope: Scope, body: bytes, ctype: str | None, host: str) -> Call:
        """The handler's view of a request whose body has arrived (a body not declared JSON is refused)."""
        if body and not body.isspace():
            check_json_content_type(ctype)
        query = QueryParams(scope["query_string"]) if scope["query_string"] else QueryParams()
        return Call(route.method, scope["path"], {"index": name}, query, body,
                    base_url(host, scope.get("server"), self.config.public_url))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.match(scope) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        route, name = found
        headers = {"x-pinecone-request-id": request_id()}
        try:
            length, ctype, host = _headers_of(scope)
            body = b""
            if route.method == "POST":
                body = await receive_body(receive, length, route.limit, self.config.limits)
            call = self.call_of(route, name, scope, body, ctype, host)
            if route.inline is not None and route.inline(call):
                status, content, extra = _run(route.handler, call)
            else:
                status, content, extra = await run_in_threadpool(_run, route.handler, call)
        except ToolkitError as exc:
            await error_response(exc, "data", headers)(scope, receive, send)
            return
        except ClientDisconnect:
            await Response(status_code=499)(scope, receive, send)
            return
        except Exception as exc:  # a bug: 500, logged, never a traceback on the wire
            await unexpected(exc, "data", headers)(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": status, "headers": _raw_headers(headers, extra, content)})
        await send({"type": "http.response.body", "body": content or b""})

    def answer_now(self, scope: Scope, body: bytes) -> Answer | None:
        """The whole answer to a request whose body has fully arrived, if it is one the event loop
        serves itself (a route with an ``inline`` test that passes: a small query); None otherwise,
        and then nothing has run. The status, headers and body are those ``__call__`` sends."""
        found = self.match(scope)
        if found is None or found[0].method != "POST":
            return None
        route, name = found
        inline = route.inline
        if inline is None:
            return None
        length, ctype, host = _headers_of(scope)
        if len(body) > route.limit or length is None:  # refused (400) by the usual path, which reads bodies
            return None
        headers = {"x-pinecone-request-id": request_id()}
        try:
            call = self.call_of(route, name, scope, body, ctype, host)
            if not inline(call):
                return None
            status, content, extra = _run(route.handler, call)
            return status, _raw_headers(headers, extra, content), content or b""
        except ToolkitError as exc:
            return _answer_of(error_response(exc, "data", headers))
        except Exception as exc:  # a bug: 500, logged, never a traceback on the wire
            return _answer_of(unexpected(exc, "data", headers))



def _raw_headers(headers: dict[str, str], extra: Mapping[str, str], content: bytes | None) -> list[tuple[bytes, bytes]]:
    """The response header lines of a handler's answer, in the order the Starlette endpoints send them."""
    headers.update(extra)
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    if content is None:
        raw.append((b"content-length", b"0"))
    else:
        raw += [(b"content-length", str(len(content)).encode("latin-1")), _JSON]
    return raw


def _answer_of(response: Response) -> Answer:
    return response.status_code, list(response.raw_headers), bytes(response.body)


SMALL_TOP_K = 100  # a small query's answer is quick to shape too


def small_query(client: Any, inline_read_bytes: int) -> Callable[[Call], bool] | None:
    """A test of whether a query call may run on the event loop (None: never, ``inline_read_bytes`` 0).

    Only an in-memory client's local index (no disk pages to fault in, no cluster to call), a
    namespace of at most ``inline_read_bytes`` billed bytes, no values, no filter and top_k <= 100.
    A filter is evaluated over every row, so its cost is not bounded by the bytes: a few dozen
    ``$nin`` lists over 8 MiB of small records take a few hundred ms, and the billed bytes count
    neither the dead rows a mask is still computed over until a merge, nor the per-segment cost of
    each condition, nor list-valued metadata (a bound on rows x terms was tried and measured at
    25-40 ms on the loop for such namespaces). Filtered queries take a thread. Anything malformed
    goes to the threadpool path, which reports it.
    """
    if inline_read_bytes <= 0 or getattr(client, "path", None) is not None:
        return None

    def small(call: Call) -> bool:
        try:
            body = call.json()
            top_k = body.get("topK", body.get("top_k"))
            if body.get("includeValues") or body.get("include_values") or body.get("filter") \
                    or type(top_k) is not int or top_k > SMALL_TOP_K:
                return False
            index = client.Index(name=call.path_params["index"])
            namespace = body.get("namespace")
            return type(index) is Index and \
                index.namespace_bytes(namespace if isinstance(namespace, str) else None) <= inline_read_bytes
        except ToolkitError:
            return False

    return small


def fast_routes(handlers: Any, config: ServerConfig) -> list[FastRoute]:
    """The hot routes of ``app.Handlers``: query, fetch, upsert."""
    return [FastRoute("POST", "/query", handlers.query, config.max_body,
                      small_query(handlers.client, config.inline_read_bytes)),
            FastRoute("GET", "/vectors/fetch", handlers.fetch, config.max_body),
            FastRoute("POST", "/vectors/upsert", handlers.upsert, config.max_upsert_body)]
