"""One socket write per small response: a response's head and its first body bytes leave together.

uvicorn writes a response's status line and headers when the app sends ``http.response.start``
and the body when it sends ``http.response.body``: two ``send()`` system calls, and on loopback
two wake-ups of the client, for every query answer. ``HeadWithBody`` is the transport a request
cycle writes to: it holds the cycle's first write (the head, or a ``100 Continue``) until the next
write joins it or, at the latest, the loop's next turn, so nothing waits on a later event. Every
other call goes to the real transport; ``close`` sends what is held first.
"""

from __future__ import annotations

import asyncio
from typing import Any


class HeadWithBody:
    """A transport wrapper that joins a response cycle's first write to its second."""

    __slots__ = ("transport", "loop", "held", "first")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self.loop = loop
        self.held: bytes | None = None
        self.first = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.first:
            self.first = False
            self.held = bytes(data)
            self.loop.call_soon(self.flush)
            return
        if self.held is not None:
            data, self.held = self.held + bytes(data), None
        self.transport.write(data)

    def flush(self) -> None:
        """Send what is held (the head of a response whose body has not come this turn)."""
        if self.held is not None:
            held, self.held = self.held, None
            if not self.transport.is_closing():
                self.transport.write(held)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)
