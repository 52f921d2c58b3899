"""Limits: how long a client may take to send a request, and how many connections it may hold.

A slow client (a "slowloris") that opens connections and never finishes its headers or its
body would otherwise hold a connection, and with it a file descriptor and a buffer, forever.
Three guards bound that:

- the request head (line and headers) must arrive within ``header_timeout`` seconds of the
  connection opening or of the previous response (``timed_protocol``, a uvicorn h11 protocol
  with one timer per connection; the server closes the connection);
- a body must arrive within ``body_timeout`` seconds in all, with no gap longer than
  ``body_idle_timeout`` (``read_with_deadline``; the client gets a 408);
- at most ``max_connections`` connections at once (uvicorn's ``limit_concurrency``: more
  get a 503, which every SDK retries).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, AsyncIterator

from ..errors import DeadlineExceededError

DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 60.0
DEFAULT_BODY_IDLE_TIMEOUT = 15.0
DEFAULT_MAX_CONNECTIONS = 512


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
            chunk = await asyncio.wait_for(iterator.__anext__(), remaining)
        except StopAsyncIteration:
            return
        except asyncio.TimeoutError:
            raise RequestTimeoutError(
                f"the request body stalled: no bytes for {remaining:g} s (limits: "
                f"{limits.body_idle_timeout:g} s idle, {limits.body_timeout:g} s in all)", path="body") from None
        yield chunk


def timed_protocol(header_timeout: float) -> type:
    """Return a uvicorn h11 protocol class that closes a connection whose request head is late."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutProtocol(H11Protocol):
        """uvicorn's h11 protocol plus a timer on each request head."""

        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._head_timer is None and self.conn.their_state is h11.IDLE:
                self._arm()  # the first bytes of the next request on a kept-alive connection
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm()  # the head is complete (the body has its own deadline)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(header_timeout, self._head_late)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_late(self) -> None:
            self._head_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutProtocol


def uvicorn_options(limits: ServerLimits, http: str = "h11") -> dict[str, Any]:
    """Return the ``uvicorn.Config`` keywords that enforce ``limits`` with the ``http`` parser.

    The request-head timeout is enforced for h11 only (the default); httptools keeps the
    connection cap and uvicorn's keep-alive timeout.
    """
    protocol: Any = timed_protocol(limits.header_timeout) if http == "h11" else http
    return {"http": protocol, "limit_concurrency": limits.max_connections, "timeout_keep_alive": 5}
