"""Limits: how long a client may take to send a request, and how many connections it may hold.

A slow client (a "slowloris") that opens connections and never finishes its headers or its
body would otherwise hold a connection, and with it a file descriptor and a buffer, forever.
Three guards bound that:

- the request head (line and headers) must arrive within ``header_timeout`` seconds of the
  connection opening or of the previous response (``timed_protocol`` / ``timed_httptools_protocol``,
  uvicorn's h11 or httptools protocol with one timer per connection; the server closes the
  connection);
- a body must arrive within ``body_timeout`` seconds in all, with no gap longer than
  ``body_idle_timeout`` (``read_with_deadline``; the client gets a 408);
- at most ``max_connections`` connections at once (uvicorn's ``limit_concurrency``: more
  get a 503, which every SDK retries).

The httptools protocol class built here (``timed_httptools_protocol``) also hands small queries to
the server's lane (``lane.py``), which answers them without an ASGI task.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable

from ..errors import DeadlineExceededError

_timeout: Any = getattr(asyncio, "timeout", None)  # Python 3.11+

# A request's whole answer (status, header lines, body), and what gives one at once if it can
# (lane.InlineLane; None: serve the request as usual)
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
Lane = Callable[[dict[str, Any], bytes], "Answer | None"]

DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 60.0
DEFAULT_BODY_IDLE_TIMEOUT = 15.0
DEFAULT_MAX_CONNECTIONS = 512
# A fetch of 1000 ids of up to 512 characters is a long GET line (h11's own default cap is 16 KB).
DEFAULT_MAX_HEAD_BYTES = 2_000_000
PARSE_URL_MAX = 65_535  # httptools.parse_url refuses a longer URL ("url is too long")


@dataclass(frozen=True)
class ServerLimits:
    """Time and connection limits of one server (seconds; connections)."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    body_idle_timeout: float = DEFAULT_BODY_IDLE_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS

    def __post_init__(self) -> None:
        for name in ("header_timeout", "body_timeout", "body_idle_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if type(self.max_connections) is not int or self.max_connections < 1:
            raise ValueError(f"max_connections must be a positive integer, got {self.max_connections!r}")


class RequestTimeoutError(DeadlineExceededError):
    """The client did not send its request body in time (HTTP 408)."""

    status = 408


async def read_with_deadline(chunks: AsyncIterator[bytes], limits: ServerLimits) -> AsyncIterator[bytes]:
    """Yield ``chunks`` while they keep coming: raise RequestTimeoutError past either deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.body_timeout
    iterator = chunks.__aiter__()
    while True:
        remaining = min(limits.body_idle_timeout, deadline - loop.time())
        if remaining <= 0:
            raise RequestTimeoutError(f"the request body took longer than {limits.body_timeout:g} s", path="body")
        try:
            chunk = await _within(iterator, remaining)
        except StopAsyncIteration:
            return
        except asyncio.TimeoutError:
            raise RequestTimeoutError(
                f"the request body stalled: no bytes for {remaining:g} s (limits: "
                f"{limits.body_idle_timeout:g} s idle, {limits.body_timeout:g} s in all)", path="body") from None
        yield chunk


async def _within(iterator: AsyncIterator[bytes], seconds: float) -> bytes:
    """Return the next chunk, or raise asyncio.TimeoutError after ``seconds``.

    ``asyncio.timeout`` (3.11+) arms one timer on the current task; ``wait_for`` (3.10) wraps the
    read in a new task, which costs more than parsing a small request's body.
    """
    if _timeout is not None:
        async with _timeout(seconds):
            return await iterator.__anext__()
    return await asyncio.wait_for(iterator.__anext__(), seconds)


class HeadTimer:
    """One connection's request-head deadline: ``arm`` when a head starts, ``disarm`` when it is
    complete; ``on_late`` runs if the deadline passes first."""

    def __init__(self, loop: asyncio.AbstractEventLoop, seconds: float, on_late: Callable[[], None]) -> None:
        self.loop, self.seconds, self.on_late = loop, seconds, on_late
        self._handle: asyncio.TimerHandle | None = None

    @property
    def armed(self) -> bool:
        return self._handle is not None

    def arm(self) -> None:
        self.disarm()
        self._handle = self.loop.call_later(self.seconds, self._fire)

    def disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        self.on_late()


def timed_protocol(header_timeout: float) -> type:
    """Return a uvicorn h11 protocol class that closes a connection whose request head is late."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutProtocol(H11Protocol):
        """uvicorn's h11 protocol plus a timer on each request head."""

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._head = HeadTimer(self.loop, header_timeout, self._head_late)
            self._head.arm()

        def data_received(self, data: bytes) -> None:
            if not self._head.armed and self.conn.their_state is h11.IDLE:
                self._head.arm()  # the first bytes of the next request on a kept-alive connection
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._head.disarm()  # the head is complete (the body has its own deadline)

        def connection_lost(self, exc: Exception | None) -> None:
            self._head.disarm()
            super().connection_lost(exc)

        def _head_late(self) -> None:
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutProtocol


def timed_httptools_protocol(header_timeout: float, max_head_bytes: int = DEFAULT_MAX_HEAD_BYTES,
                             lane: Lane | None = None) -> type:
    """Return a uvicorn httptools protocol class that closes a connection whose request head is
    late, answers 400 to a head (request line and headers) over ``max_head_bytes``, and lets
    ``lane`` answer a POST whose body came in the same read as its head, on the spot (``lane``'s
    module docstring; it needs uvicorn's ``_start_asgi_task``, uvicorn >= 0.45).

    The timer starts when the connection opens and at the first byte of each later request
    (``on_message_begin``), and stops when the parser has every header (``on_headers_complete``).
    A request line over 64 KB (e.g. a fetch of 1000 long ids), which ``httptools.parse_url``
    refuses, is split at its ``?`` here, so it is served as h11 serves it (up to ``max_head_bytes``).
    """
    import httptools
    from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
    from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

    class HeaderTimeoutHttpTools(HttpToolsProtocol):
        """uvicorn's httptools protocol plus a timer on each request head and a cap on its size."""

        _head_bytes = 0
        _in_head = False  # on_headers_complete of a request the lane may answer is running
        _held: tuple[Any, Any] | None = None  # (cycle, app) of that request, its ASGI task not started
        _lane_turn = True  # the lane may answer once per read (pipelined requests then take turns as usual)

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4)
            super().on_header(name, value)

        def _count(self, size: int) -> None:
            self._head_bytes += size
            if self._head_bytes > max_head_bytes:  # uvicorn answers a parser error with a 400 and closes
                raise httptools.HttpParserError(f"the request head is over {max_head_bytes} bytes")

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._head = HeadTimer(self.loop, header_timeout, self._head_late)
            self._head.arm()

        def on_message_begin(self) -> None:
            self._head_bytes = 0
            if self.timeout_keep_alive_task is not None:  # a request has begun: the connection is not idle
                self.timeout_keep_alive_task.cancel()  # (the lane may have armed it earlier in this read)
                self.timeout_keep_alive_task = None
            super().on_message_begin()
            if not self._head.armed:
                self._head.arm()  # the first bytes of the next request on a kept-alive connection

        def on_headers_complete(self) -> None:
            self._head.disarm()  # the head is complete (the body has its own deadline)
            query = None
            if len(self.url) > PARSE_URL_MAX:  # httptools.parse_url refuses longer URLs: it parses the path alone
                self.url, _, rest = self.url.partition(b"?")
                query = rest.partition(b"#")[0]
            self._in_head = lane is not None and self._lane_turn and self.parser.get_method() == b"POST" \
                and not self.expect_100_continue and not self.flow.write_paused and not self.parser.should_upgrade()
            try:
                super().on_headers_complete()
            finally:
                self._in_head = False
            if query is not None:
                self.scope["query_string"] = query

        # -- the lane: uvicorn starts a request's ASGI task at the end of its head; a lane candidate's
        # start waits for the end of the read. If the body is complete by then, the lane may answer.
        def _start_asgi_task(self, cycle: Any, app: Any) -> None:
            if self._in_head and app is self.app:
                self._held = (cycle, app)
            else:
                super()._start_asgi_task(cycle, app)

        def on_message_complete(self) -> None:
            super().on_message_complete()
            held, self._held = self._held, None
            if held is not None and not self._answered(held[0]):
                super()._start_asgi_task(*held)

        def data_received(self, data: bytes) -> None:
            self._lane_turn = True
            super().data_received(data)
            held, self._held = self._held, None
            if held is not None and not self.transport.is_closing():  # its body is still on its way
                super()._start_asgi_task(*held)

        def _answered(self, cycle: Any) -> bool:
            """Answer ``cycle`` (body complete) through the lane, as uvicorn would send the answer; False: declined."""
            assert lane is not None
            self._lane_turn = False
            try:
                answer = lane(cycle.scope, bytes(cycle.body))
            except Exception:  # a bug in the lane: the ASGI path serves the request (and logs its own errors)
                self.logger.exception("the inline lane failed; serving the request through ASGI")
                return False
            if answer is None:
                return False
            status, headers, body = answer
            lines = [STATUS_LINE[status]]
            for name, value in [*self.server_state.default_headers, *headers]:
                lines += [name.lower(), b": ", value, b"\r\n"]
            if not cycle.keep_alive:
                lines.append(b"connection: close\r\n")
            lines += [b"\r\n", body]
            cycle.response_started = cycle.response_complete = True
            if not self.transport.is_closing():
                if self.access_log:  # the line uvicorn's own send() logs
                    scope = cycle.scope
                    self.access_logger.info('%s - "%s %s HTTP/%s" %d', get_client_addr(scope), scope["method"],
                                            get_path_with_query_string(scope), scope["http_version"], status)
                self.transport.write(b"".join(lines))
                if not cycle.keep_alive:
                    self.transport.close()
            self.on_response_complete()
            return True

        def connection_lost(self, exc: Exception | None) -> None:
            self._head.disarm()
            super().connection_lost(exc)

        def _head_late(self) -> None:
            if not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutHttpTools


def default_http() -> str:
    """Return the HTTP/1.1 parser the server uses by default: httptools (C) when installed, else h11."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


def uvicorn_options(limits: ServerLimits, http: str = "h11", max_head_bytes: int = DEFAULT_MAX_HEAD_BYTES,
                    lane: Lane | None = None) -> dict[str, Any]:
    """Return the ``uvicorn.Config`` keywords that enforce ``limits`` with the ``http`` parser
    ("h11", "httptools", or "auto": ``default_http()``); both enforce the request-head timeout.
    ``lane`` (httptools only; the app's ``state.lane``): what answers small queries on the spot."""
    if http == "auto":
        http = default_http()
    extra: dict[str, Any] = {}
    if http == "h11":
        protocol: Any = timed_protocol(limits.header_timeout)
        extra["h11_max_incomplete_event_size"] = max_head_bytes
    elif http == "httptools":
        protocol = timed_httptools_protocol(limits.header_timeout, max_head_bytes, lane)
    else:
        raise ValueError(f"http must be h11, httptools or auto, got {http!r}")
    return {"http": protocol, "limit_concurrency": limits.max_connections, "timeout_keep_alive": 5, **extra}
