"""Request bodies: read from the ASGI receive channel under a size cap and the arrival deadlines.

A body over the cap is refused (400) before anything is parsed; the rest of it is read and
dropped up to ``DRAIN_FACTOR`` times the cap, so the client sees the 400 instead of a reset.
A body that does not arrive within ``ServerLimits``' deadlines is a 408. A client that goes
away mid-body raises starlette's ``ClientDisconnect`` (the server answers 499).

Works on the raw ASGI ``receive`` so the data-plane fast path (``fast_path``) and the Starlette
endpoints (``app``) read bodies the same way.
"""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

from starlette.requests import ClientDisconnect
from starlette.types import Receive

from ..errors import InvalidArgumentError
from .limits import ServerLimits, read_with_deadline

DRAIN_FACTOR = 4  # read and drop up to 4x the limit so the client sees our 400, then stop reading


class BodyStream:
    """One request's body chunks from ``receive``; ``done`` once the last one has arrived."""

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.done = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The remaining non-empty chunks, in order; ClientDisconnect if the client goes away first."""
        while not self.done:
            message = await self.receive()
            if message["type"] == "http.request":
                if not message.get("more_body", False):
                    self.done = True
                body = message.get("body", b"")
                if body:
                    yield body
            elif message["type"] == "http.disconnect":
                raise ClientDisconnect()


async def receive_body(receive: Receive, content_length: str | bytes | None, limit: int,
                       limits: ServerLimits | None = None) -> bytes:
    """Read the body, refusing (with a 400) one over ``limit`` bytes, before anything is parsed,
    and (with a 408) one that does not arrive within ``limits``' deadlines.

    ``content_length``: the request's Content-Length header, if it has one.
    """
    if content_length is not None:
        try:
            size = int(content_length)
        except ValueError:
            raise InvalidArgumentError("Content-Length is not a number", path="body") from None
        if size > limit:
            await _drain(BodyStream(receive), limit)
            raise _too_large(size, limit)
    stream = BodyStream(receive)
    parts: list[bytes] = []
    size = 0
    async for chunk in read_with_deadline(stream.chunks(), limits or ServerLimits()):
        size += len(chunk)
        if size > limit:
            await _drain(stream, limit, size)
            raise _too_large(size, limit, at_least=True)
        parts.append(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


async def _drain(stream: BodyStream, limit: int, seen: int = 0) -> None:
    """Read and drop the rest of a refused body (up to a cap) so the client can read our 400."""
    with contextlib.suppress(ClientDisconnect):
        async for chunk in stream.chunks():
            seen += len(chunk)
            if seen > DRAIN_FACTOR * limit:
                return


def _too_large(size: int, limit: int, at_least: bool = False) -> InvalidArgumentError:
    what = f"more than {limit}" if at_least else str(size)
    return InvalidArgumentError(
        f"request body is {what} bytes; this server accepts at most {limit} bytes per request "
        f"(upserts are limited to 2 MB of records and 1000 records) — send smaller batches",
        path="body",
    )


def check_json_content_type(value: str | None) -> None:
    """Bodies must be declared JSON, as every SDK does. This also makes a browser preflight any
    cross-site write, so a web page cannot post to a key-less local server behind its user's back."""
    media = (value or "").split(";", 1)[0].strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise InvalidArgumentError(f"Content-Type must be application/json, got {value or 'none'}",
                                   path="content-type")
