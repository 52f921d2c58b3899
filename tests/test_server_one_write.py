"""HeadWithBody (toolkit/server/one_write.py): a response's head and body leave in one write."""

from __future__ import annotations

import asyncio

from toolkit.server.one_write import HeadWithBody


class Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def test_the_head_waits_for_the_body_and_both_leave_in_one_write():
    async def main() -> Recorder:
        real = Recorder()
        out = HeadWithBody(real, asyncio.get_running_loop())
        out.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        assert real.writes == []
        out.write(b"{}")
        out.write(bytearray(b"more"))  # later writes go straight through
        await asyncio.sleep(0)
        return real

    real = asyncio.run(main())
    assert real.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}", b"more"]


def test_a_head_alone_leaves_on_the_next_turn_of_the_loop_and_before_a_close():
    async def main() -> tuple[Recorder, Recorder]:
        loop = asyncio.get_running_loop()
        waiting, closing = Recorder(), Recorder()
        HeadWithBody(waiting, loop).write(b"HTTP/1.1 100 Continue\r\n\r\n")
        closed = HeadWithBody(closing, loop)
        closed.write(b"head")
        closed.close()
        assert closing.writes == [b"head"] and closing.closed
        assert waiting.writes == []
        await asyncio.sleep(0)
        return waiting, closing

    waiting, closing = asyncio.run(main())
    assert waiting.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    assert closing.writes == [b"head"]  # not sent twice


def test_other_calls_reach_the_transport():
    loop = asyncio.new_event_loop()
    try:
        out = HeadWithBody(Recorder(), loop)
        assert out.get_extra_info("peername") == "info:peername" and not out.is_closing()
    finally:
        loop.close()
