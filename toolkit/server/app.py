"""The ASGI app: the reference service's REST API over a ``toolkit.Client`` (starlette).

Hosts. The control plane lives at the server root (``/indexes``...). Each index's data plane
lives under a path prefix on the same port, ``/index/{name}``, and describe_index returns it
as the index host, scheme included: ``http://127.0.0.1:5080/index/demo``. The SDK appends its
paths to that host verbatim (``.../index/demo/vectors/upsert``), and ``_validate_host`` accepts
it because ``127.0.0.1`` has dots (``localhost`` works too). The host is built from the
request's ``Host`` header, so clients get back the address they dialled; ``public_url``
overrides it (behind a proxy, or when binding 0.0.0.0). With ``index_hosts`` (the CLI's
default) describe_index returns each index's own port instead, which serves REST and gRPC.

Every handler does its JSON parsing, toolkit call and serialisation in the threadpool; the
event loop only moves bytes. (Running small queries on the loop instead saves the thread hop
per request but, measured with 8 concurrent clients, lowers throughput: numpy's GIL-free
sections no longer overlap the loop's work; benchmarks/results/http.md.) The toolkit's
Client and Index locks make concurrent requests safe. Bodies are size-checked before they
are parsed, and every request is validated as a whole before the toolkit changes anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterable, Mapping
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..cluster_partial import PartialResults, headers_of, partial_if
from ..cluster_partial import to_wire as partial_to_wire
from ..errors import InvalidArgumentError, ToolkitError, UnauthenticatedError
from ..records import MAX_UPSERT_BYTES
from . import routes_more, wire
from .body import check_json_content_type, receive_body
from .errors import Plane, error_response, not_found_route, plane_of, unexpected, unsupported
from .headers import lsn_headers, request_id
from .limits import DEFAULT_MAX_HEAD_BYTES, ServerLimits

logger = logging.getLogger("toolkit.server")

# Upserts are limited to 2 MB of *records* (4 B per float + metadata, enforced by the toolkit);
# their JSON is several times larger (a float32 printed as float64 text takes ~20 characters),
# so the raw body gets 8x slack. Any other request is far smaller.
DEFAULT_MAX_UPSERT_BODY = 8 * MAX_UPSERT_BYTES
DEFAULT_MAX_BODY = 4_000_000
DATA_PREFIX = "/index"
# An exact scan of 8 MiB takes well under a millisecond here; the hop to a worker thread and back,
# with 8 clients contending for the GIL, costs more than that (benchmarks/results/http.md).
DEFAULT_INLINE_READ_BYTES = 8 * 1024 * 1024
MAX_REQUEST_HEAD_BYTES = DEFAULT_MAX_HEAD_BYTES  # a fetch of 1000 ids of up to 512 characters is a long GET line
_HOST_HEADER = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


@dataclass
class ServerConfig:
    """What the app needs besides the client."""

    api_key: str | None = None
    public_url: str | None = None
    max_upsert_body: int = DEFAULT_MAX_UPSERT_BODY
    max_body: int = DEFAULT_MAX_BODY
    close_client: bool = False  # close the client on shutdown (when the app created it)
    description: str = "in memory"
    index_hosts: Any = None  # index_hosts.IndexHosts: per-index ports serving REST + gRPC
    limits: ServerLimits = field(default_factory=ServerLimits)
    # folders whose files imports may read over the wire (toolkit.confine); empty: imports are off
    import_roots: tuple[Path, ...] = ()
    # small queries (in-memory namespaces of at most this many billed bytes) run on the event loop
    inline_read_bytes: int = DEFAULT_INLINE_READ_BYTES


@dataclass
class Call:
    """What a handler sees of a request (built on the event loop, used in the threadpool)."""

    method: str
    path: str
    path_params: dict[str, Any]
    query: QueryParams
    body: bytes
    base_url: str
    extra: dict[str, Any] = field(default_factory=dict)
    _parsed: dict[str, Any] | None = field(default=None, repr=False)

    def json(self) -> dict[str, Any]:
        """Return the body as a JSON object (parsed once; a malformed body is an InvalidArgumentError)."""
        if self._parsed is None:
            self._parsed = wire.loads(self.body)
        return self._parsed


Result = tuple[int, Any, Mapping[str, str]]  # (status, JSON-able payload or None, headers)


# -- the handlers --------------------------------------------------------------------------------


def _flagged(body: dict[str, Any], partial: PartialResults | None) -> dict[str, Any]:
    """Return ``body`` with a ``"partial"`` object when a cluster read left slabs out (asked for)."""
    if partial:
        body["partial"] = partial_to_wire(partial)
    return body


class Handlers:
    """The REST calls, one method each, on top of one ``toolkit.Client``."""

    def __init__(self, client: Any, index_hosts: Any = None) -> None:
        self.client = client
        self.index_hosts = index_hosts

    # control plane
    def _model(self, model: Any, call: Call) -> dict[str, Any]:
        if self.index_hosts is not None:
            return wire.index_model(model, self.index_hosts.host_for(model.name, call.base_url))
        return wire.index_model(model, f"{call.base_url}{DATA_PREFIX}/{model.name}")

    def list_indexes(self, call: Call) -> Result:
        return 200, {"indexes": [self._model(m, call) for m in self.client.list_indexes()]}, {}

    def create_index(self, call: Call) -> Result:
        kwargs = wire.create_index_request(call.json())
        model = self.client.create_index(**kwargs)
        logger.info("created index %r", model.name)
        return 201, self._model(model, call), {}

    def describe_index(self, call: Call) -> Result:
        return 200, self._model(self.client.describe_index(call.path_params["name"]), call), {}

    def configure_index(self, call: Call) -> Result:
        kwargs = wire.configure_index_request(call.json())
        model = self.client.configure_index(call.path_params["name"], **kwargs)
        return 202, self._model(model, call), {}

    def delete_index(self, call: Call) -> Result:
        self.client.delete_index(call.path_params["name"])
        logger.info("deleted index %r", call.path_params["name"])
        return 202, None, {}

    # data plane
    def _index(self, call: Call) -> Any:
        return self.client.Index(name=call.path_params["index"])

    def upsert(self, call: Call) -> Result:
        index = self._index(call)
        records, namespace = wire.upsert_request(call.json())
        resp = index.upsert(vectors=records, namespace=namespace, show_progress=False)
        _, indexed = index.lsns(namespace)
        return 200, {"upsertedCount": int(resp.upserted_count)}, lsn_headers(resp.lsn, indexed)

    def query(self, call: Call) -> Result:
        index = self._index(call)
        kwargs = wire.pick(call.json(), wire.QUERY_FIELDS, wire.IGNORED_FIELDS["query"])
        with partial_if(kwargs.pop("allow_partial", False)) as partial:  # a cluster index's missing slabs
            resp = index.query(**kwargs)
        committed, _ = index.lsns(kwargs.get("namespace"))
        return 200, _flagged(wire.query_response(resp), partial), \
            {**lsn_headers(committed, resp.max_indexed_lsn), **headers_of(partial)}

    def fetch(self, call: Call) -> Result:
        index = self._index(call)
        namespace = wire.query_params_one(call.query, "namespace")
        with partial_if(bool(wire.query_params_one(call.query, "allowPartial", wire.bool_param))) as partial:
            resp = index.fetch(ids=call.query.getlist("ids"), namespace=namespace)
        committed, _ = index.lsns(namespace)
        return 200, _flagged(wire.fetch_response(resp), partial), \
            {**lsn_headers(committed, resp.max_indexed_lsn), **headers_of(partial)}

    def update(self, call: Call) -> Result:
        index = self._index(call)
        kwargs = wire.pick(call.json(), wire.UPDATE_FIELDS)
        resp = index.update(**kwargs)
        committed, indexed = index.lsns(kwargs.get("namespace"))
        lsn = resp.lsn if resp.lsn is not None else committed
        return 200, wire.update_response(resp, "filter" in kwargs), lsn_headers(lsn, indexed)

    def delete(self, call: Call) -> Result:
        index = self._index(call)
        kwargs = wire.pick(call.json(), wire.DELETE_FIELDS)
        resp = index.delete(**kwargs)
        committed, indexed = index.lsns(kwargs.get("namespace"))
        lsn = resp.lsn if resp.lsn is not None else committed
        return 200, {}, lsn_headers(lsn, indexed)

    def list_vectors(self, call: Call) -> Result:
        index = self._index(call)
        q = call.query
        token = wire.pagination_token(q)
        namespace = wire.query_params_one(q, "namespace")
        resp = index.list_paginated(
            prefix=wire.query_params_one(q, "prefix"),
            limit=wire.query_params_one(q, "limit", wire.limit_param),
            pagination_token=token,
            namespace=namespace,
        )
        committed, _ = index.lsns(namespace)
        return 200, wire.list_response(resp), lsn_headers(committed, resp.max_indexed_lsn)

    def describe_index_stats(self, call: Call) -> Result:
        index = self._index(call)
        kwargs = wire.pick(call.json(), wire.STATS_FIELDS) if call.method == "POST" else {}
        resp = index.describe_index_stats(**kwargs)
        return 200, wire.stats_response(resp), lsn_headers(*index.lsns(all_namespaces=True))

    def list_namespaces(self, call: Call) -> Result:
        index = self._index(call)
        q = call.query
        resp = index.list_namespaces_paginated(
            limit=wire.query_params_one(q, "limit", wire.limit_param),
            pagination_token=wire.pagination_token(q),
            prefix=wire.query_params_one(q, "prefix"),
        )
        out: dict[str, Any] = {"namespaces": [wire.namespace_description(d) for d in resp.namespaces]}
        if resp.pagination is not None:
            out["pagination"] = {"next": resp.pagination.next}
        out["total_count"] = resp.total_count
        return 200, out, lsn_headers(*index.lsns(all_namespaces=True))

    def describe_namespace(self, call: Call) -> Result:
        index = self._index(call)
        namespace = call.extra["namespace"]
        desc = index.describe_namespace(namespace)
        return 200, wire.namespace_description(desc), lsn_headers(*index.lsns(namespace))

    def delete_namespace(self, call: Call) -> Result:
        index = self._index(call)
        namespace = call.extra["namespace"]
        committed, indexed = index.lsns(namespace)
        index.delete_namespace(namespace)
        return 202, {}, lsn_headers(committed, indexed)  # a JSON body: the TypeScript SDK parses it

    @staticmethod
    def health(call: Call) -> Result:
        return 200, {"status": "ok"}, {}


# -- plumbing --------------------------------------------------------------------------------


async def read_body(request: Request, limit: int, limits: ServerLimits | None = None) -> bytes:
    """Read the body, refusing (with a 400) one over ``limit`` bytes, before anything is parsed,
    and (with a 408) one that does not arrive within ``limits``' deadlines (``body.receive_body``)."""
    return await receive_body(request.receive, request.headers.get("content-length"), limit, limits)


def request_base_url(request: Request, public_url: str | None) -> str:
    return base_url(request.headers.get("host", ""), request.scope.get("server"), public_url)


def base_url(host: str, server: Any, public_url: str | None) -> str:
    """The base URL a client dialled: ``public_url``, else its Host header (when it is a plausible
    name), else the address the server listens on (``server``: the ASGI scope's (host, port))."""
    if public_url:
        return public_url.rstrip("/")
    if host and _HOST_HEADER.match(host) and ("." in host or "localhost" in host.lower()):
        return f"http://{host}"
    server = server or ("127.0.0.1", 80)
    address = server[0] if server[0] not in ("0.0.0.0", "::", "", None) else "127.0.0.1"
    if ":" in address:
        address = f"[{address}]"
    return f"http://{address}:{server[1]}"


def _raw_namespace(request: Request) -> str:
    """The namespace of ``/index/{name}/namespaces/{ns}``, split on the raw path (G9: '/' is %2F)."""
    raw = request.scope.get("raw_path")
    if isinstance(raw, (bytes, bytearray)):
        text = bytes(raw).decode("latin-1").split("?", 1)[0]
        marker = "/namespaces/"
        at = text.find(marker)
        if at >= 0:
            try:
                return unquote(text[at + len(marker):], encoding="utf-8", errors="strict")
            except UnicodeDecodeError:
                raise InvalidArgumentError("the namespace in the path is not UTF-8 once percent-decoded",
                                           path="namespace") from None
    return request.path_params.get("ns", "")


def _endpoint(method: Callable[[Call], Result], plane: Plane, limit: int, config: ServerConfig, *,
              namespace_in_path: bool = False) -> Callable[[Request], Any]:
    """Return the ASGI endpoint of one handler: read and check the body on the event loop, then
    parse, call the toolkit and serialise in the threadpool."""

    async def endpoint(request: Request) -> Response:
        headers = {"x-pinecone-request-id": request_id()}
        try:
            body = b""
            if request.method in ("POST", "PATCH", "PUT"):
                body = await read_body(request, limit, config.limits)
                if body and not body.isspace():
                    check_json_content_type(request.headers.get("content-type"))
            call = Call(request.method, request.url.path, dict(request.path_params), request.query_params, body,
                        request_base_url(request, config.public_url))
            if namespace_in_path:
                call.extra["namespace"] = _raw_namespace(request)

            def run() -> tuple[int, bytes | None, Mapping[str, str]]:
                status, payload, extra = method(call)
                return status, None if payload is None else wire.dumps(payload), extra

            status, content, extra = await run_in_threadpool(run)
        except ToolkitError as exc:
            return error_response(exc, plane, headers)
        except ClientDisconnect:
            return Response(status_code=499)
        except Exception as exc:  # a bug: 500, logged, never a traceback on the wire
            return unexpected(exc, plane, headers)
        headers.update(extra)
        if content is None:
            return Response(status_code=status, headers=headers)
        return Response(content, status_code=status, headers=headers, media_type="application/json")

    return endpoint


def _unsupported(what: str) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        return error_response(unsupported(what), plane_of(request.url.path),
                              {"x-pinecone-request-id": request_id()})

    return endpoint


def _check_inline_read_bytes(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgumentError(f"inline_read_bytes must be an integer >= 0, got {value!r}",
                                   path="inline_read_bytes")
    return value


class MethodNotAllowedError(InvalidArgumentError):
    """A route exists but not for this method (HTTP 405, with a 405 body)."""

    status = 405
    code = "METHOD_NOT_ALLOWED"
    grpc_code = 12  # UNIMPLEMENTED: the RPC does not exist


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "*.localhost", "::1")


def _host_name(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:5080
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    name = _host_name(host)
    return any(name == a or (a.startswith("*.") and name.endswith(a[1:])) for a in allowed)


class GuardMiddleware:
    """Checks made before a request reaches any handler, so a refused request changes nothing.

    - ``allowed_hosts``: refuse (400) a Host header outside the list, e.g. a DNS-rebinding
      page's name aimed at a loopback-only server.
    - ``api_key``: refuse (401) a request without the right ``Api-Key`` header, before its
      body is read.
    """

    def __init__(self, app: ASGIApp, api_key: str | None, allowed_hosts: tuple[str, ...] | None) -> None:
        self.app = app
        self.key = None if api_key is None else api_key.encode()
        self.allowed_hosts = allowed_hosts

    def refusal(self, scope: Scope) -> ToolkitError | None:
        """Why an HTTP request is refused (a Host not served, a missing or wrong key), or None."""
        headers = dict((k, v) for k, v in scope["headers"] if k in (b"host", b"api-key"))
        if self.allowed_hosts is not None:
            host = headers.get(b"host", b"").decode("latin-1")
            if not _host_allowed(host, self.allowed_hosts):
                return InvalidArgumentError(f"Host {host[:80]!r} is not served here (allowed: "
                                            f"{', '.join(self.allowed_hosts)}; see --public-url)")
        if self.key is not None:
            given = headers.get(b"api-key")
            if given is None or not hmac.compare_digest(given, self.key):
                reason = "missing Api-Key header" if given is None else "invalid API key"
                return UnauthenticatedError(f"{reason}; this server requires the key it was started with")
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        exc = self.refusal(scope) if scope["type"] == "http" else None
        if exc is not None:
            response = error_response(exc, plane_of(scope.get("path", "")), {"x-pinecone-request-id": request_id()})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(
    client: Any = None,
    *,
    path: str | None = None,
    api_key: str | None = None,
    public_url: str | None = None,
    settings: Any = None,
    client_options: Mapping[str, Any] | None = None,
    allowed_hosts: Iterable[str] | None = None,
    max_upsert_body: int = DEFAULT_MAX_UPSERT_BODY,
    max_body: int = DEFAULT_MAX_BODY,
    close_client: bool | None = None,
    index_hosts: Any = None,
    limits: ServerLimits | None = None,
    import_roots: Iterable[str | Path] = (),
    inline_read_bytes: int = DEFAULT_INLINE_READ_BYTES,
) -> Starlette:
    """Return the ASGI app serving ``client`` (or a new ``toolkit.Client(path=path)``).

    ``api_key``: require this ``Api-Key`` on every request (None: keys are ignored, as in
    the reference emulator). ``client_options``: more ``toolkit.Client`` keywords, e.g.
    ``read_only=True`` (writes answer 503) or ``consistency="eventual", apply_delay=0.5``.
    ``public_url``: the base of the index hosts describe_index returns (default: from the
    request's Host header). ``allowed_hosts``: Host names to serve (``*.x`` wildcards; None:
    any; the CLI passes the loopback names when it binds loopback). A client the app creates is closed on shutdown; one passed in
    is left to its owner unless ``close_client=True``. ``index_hosts``: an ``IndexHosts`` giving
    each index its own port for REST + gRPC (started and stopped with the app; see index_hosts).
    ``limits``: body deadlines (the CLI also passes its header timeout and connection cap to
    uvicorn). ``import_roots``: the folders imports may read over the wire (``toolkit.confine``);
    none by default, so bulk imports answer 403. ``inline_read_bytes``: queries of an in-memory
    namespace of at most this many billed bytes run on the event loop (0: every query in a thread).
    """
    from ..confine import resolve_roots

    roots = resolve_roots(import_roots)
    options = dict(client_options or {})
    description = "in memory (data is lost on exit)" if path is None else f"persistent at {path}"
    description += "".join(f", {k}={v}" for k, v in options.items())
    if client is None:
        from ..client import Client

        client = Client(path, settings=settings, **options)
        close_client = True if close_client is None else close_client
    config = ServerConfig(api_key=api_key or None, public_url=public_url, max_upsert_body=max_upsert_body,
                          max_body=min(max_body, max_upsert_body), close_client=bool(close_client),
                          description=description, index_hosts=None if public_url else index_hosts,
                          limits=limits or ServerLimits(), import_roots=roots,
                          inline_read_bytes=_check_inline_read_bytes(inline_read_bytes))
    h = Handlers(client, config.index_hosts)

    def route(path: str, method: Callable[[Call], Result], methods: Iterable[str], plane: Plane,
              limit: int | None = None, **kw: Any) -> Route:
        return Route(path, _endpoint(method, plane, limit or config.max_body, config, **kw),
                     methods=list(methods))

    d = f"{DATA_PREFIX}/{{index}}"
    routes = [
        route("/health", h.health, ["GET"], "control"),
        route("/indexes", h.list_indexes, ["GET"], "control"),
        route("/indexes", h.create_index, ["POST"], "control"),
        route("/indexes/{name}", h.describe_index, ["GET"], "control"),
        route("/indexes/{name}", h.configure_index, ["PATCH"], "control"),
        route("/indexes/{name}", h.delete_index, ["DELETE"], "control"),
        Route("/collections", _unsupported("collections"), methods=["GET", "POST"]),
        route(f"{d}/vectors/upsert", h.upsert, ["POST"], "data", config.max_upsert_body),
        route(f"{d}/query", h.query, ["POST"], "data"),
        route(f"{d}/vectors/fetch", h.fetch, ["GET"], "data"),
        route(f"{d}/vectors/update", h.update, ["POST"], "data"),
        route(f"{d}/vectors/delete", h.delete, ["POST"], "data"),
        route(f"{d}/vectors/list", h.list_vectors, ["GET"], "data"),
        route(f"{d}/describe_index_stats", h.describe_index_stats, ["POST", "GET"], "data"),
        route(f"{d}/namespaces", h.list_namespaces, ["GET"], "data"),
        route(f"{d}/namespaces/{{ns:path}}", h.describe_namespace, ["GET"], "data", namespace_in_path=True),
        route(f"{d}/namespaces/{{ns:path}}", h.delete_namespace, ["DELETE"], "data", namespace_in_path=True),
    ]
    routes += routes_more.routes(routes_more.MoreHandlers(client, config.import_roots), route, DATA_PREFIX)
    # integrated inference: create-for-model, records upsert/search, embed, rerank, models
    from .routes_inference import inference_routes

    routes += inference_routes(client, config, DATA_PREFIX, wire.index_model)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        plane = plane_of(request.url.path)
        headers = {"x-pinecone-request-id": request_id()}
        if exc.status_code == 405:
            err: ToolkitError = MethodNotAllowedError(f"method {request.method} is not allowed on {request.url.path}")
            allow = (exc.headers or {}).get("Allow") or (exc.headers or {}).get("allow")
            if allow:
                headers["allow"] = allow
            return error_response(err, plane, headers)
        if exc.status_code == 404:
            return error_response(not_found_route(request.method, request.url.path), plane, headers)
        err = InvalidArgumentError(str(exc.detail))
        response = error_response(err, plane, headers)
        response.status_code = exc.status_code
        return response

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if config.api_key is None:
            logger.warning("no --api-key given: Api-Key headers are ignored and every request is served "
                           "(like the reference emulator)")
        else:
            logger.info("requests must carry the Api-Key this server was started with")
        logger.info("serving %s", config.description)
        if config.index_hosts is not None:
            await run_in_threadpool(config.index_hosts.start, client, config.api_key, asyncio.get_running_loop())
        try:
            yield
        finally:
            if config.index_hosts is not None:
                await run_in_threadpool(config.index_hosts.stop)
            if config.close_client:
                close = getattr(client, "close", None)
                if callable(close):
                    await run_in_threadpool(close)
                    logger.info("client closed%s", "; every acknowledged write is on disk" if path else "")

    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error}, lifespan=lifespan)
    app.router.redirect_slashes = False  # DELETE /indexes/ is a 404, never a redirect to another method's target
    from .fast_path import FastPath, fast_routes
    from .lane import InlineLane

    routes_fast = fast_routes(h, config)
    app.add_middleware(FastPath, routes=routes_fast, config=config)  # innermost: after the guard
    hosts = None if allowed_hosts is None else tuple(h.lower() for h in allowed_hosts)
    guarded = config.api_key is not None or hosts is not None
    if guarded:
        app.add_middleware(GuardMiddleware, api_key=config.api_key, allowed_hosts=hosts)
    index_hosts = config.index_hosts
    if index_hosts is not None:  # outermost: index-port requests are rewritten before the guard
        app.add_middleware(index_hosts.middleware_class, port_map=index_hosts.map,
                           front_host=index_hosts.front_host, listening=index_hosts.listening)
    # The same three steps for the HTTP protocol's lane (lane.py): the server passes it to uvicorn_options.
    app.state.lane = InlineLane(
        FastPath(app, routes_fast, config),
        GuardMiddleware(app, config.api_key, hosts) if guarded else None,
        None if index_hosts is None else index_hosts.middleware_class(
            app, index_hosts.map, index_hosts.front_host, index_hosts.listening))
    app.state.client = client
    app.state.config = config
    return app
