"""A tiny raw-socket AMI client for the simulator tests (independent of telephony.ami)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable

Msg = list[tuple[str, str]]


def parse(block: bytes) -> Msg:
    out: Msg = []
    for line in block.decode("utf-8", "replace").split("\r\n"):
        key, _, value = line.partition(": ")
        out.append((key, value))
    return out


def get(msg: Msg, name: str, default: str = "") -> str:
    return next((v for k, v in msg if k.lower() == name.lower()), default)


def keys(msg: Msg) -> tuple[str, ...]:
    return tuple(k for k, _ in msg)


class RawAmi:
    """Reads whole messages, keeps every one in ``seen``; ``expect`` waits for a match."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buf = b""
        self.seen: list[Msg] = []
        self.reads: list[bytes] = []
        self.banner = b""
        self._next = 0
        self.closed = False

    @classmethod
    async def connect(cls, port: int) -> RawAmi:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        ami = cls(reader, writer)
        ami.banner = await asyncio.wait_for(reader.readline(), 5)
        return ami

    def send(self, action: str, *headers: tuple[str, str]) -> None:
        lines = [f"Action: {action}", *(f"{k}: {v}" for k, v in headers)]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    async def _fill(self) -> bool:
        data = await self.reader.read(65536)
        if not data:
            self.closed = True
            return False
        self.reads.append(data)
        self.buf += data
        while b"\r\n\r\n" in self.buf:
            block, self.buf = self.buf.split(b"\r\n\r\n", 1)
            self.seen.append(parse(block))
        return True

    async def expect(self, pred: Callable[[Msg], bool], within: float = 5.0) -> Msg:
        """The next message (after the last one returned) that matches ``pred``."""

        async def run() -> Msg:
            while True:
                while self._next < len(self.seen):
                    msg = self.seen[self._next]
                    self._next += 1
                    if pred(msg):
                        return msg
                if not await self._fill():
                    raise ConnectionError("closed by the simulator")

        return await asyncio.wait_for(run(), within)

    async def response(self, action_id: str, within: float = 5.0) -> Msg:
        return await self.expect(
            lambda m: m[0][0] == "Response" and get(m, "ActionID") == action_id, within
        )

    async def event(self, name: str, within: float = 5.0, **fields: str) -> Msg:
        def match(m: Msg) -> bool:
            return m[0] == ("Event", name) and all(get(m, k) == v for k, v in fields.items())

        return await self.expect(match, within)

    async def login(self, username: str = "switchboard", secret: str = "pw", md5: bool = False,
                    events: str | None = None) -> Msg:  # fmt: skip
        extra = [("Events", events)] if events is not None else []
        if md5:
            self.send("Challenge", ("ActionID", "ch"), ("AuthType", "md5"))
            challenge = get(await self.response("ch"), "Challenge")
            key = hashlib.md5((challenge + secret).encode()).hexdigest()
            self.send("Login", ("ActionID", "li"), ("AuthType", "md5"), ("Username", username),
                      ("Key", key), *extra)  # fmt: skip
        else:
            self.send("Login", ("ActionID", "li"), ("Username", username), ("Secret", secret),
                      *extra)  # fmt: skip
        return await self.response("li")

    async def eof(self, within: float = 5.0) -> bool:
        async def run() -> bool:
            while await self._fill():
                pass
            return True

        return await asyncio.wait_for(run(), within)

    def close(self) -> None:
        self.writer.close()
