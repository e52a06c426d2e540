"""AmiClient end to end over real sockets on 127.0.0.1 against a scripted AMI server.

``FakeAsterisk`` answers the way Asterisk 22 does in ../shared/ami-transcripts: the banner,
plain and MD5 login (a failed login is answered late and the socket closed), Permission
denied before login, Ping with and without ActionID, lists ending in EventList: Complete,
Command output in several writes, AsyncAGI results, Shutdown and a restart after which
FullyBooted arrives later than the login response.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from urllib.parse import quote

import pytest

from config.errors import (
    ActionFailed,
    AuthenticationFailed,
    ConnectionLost,
    LocalProtocolError,
)
from telephony.ami import Action, AmiClient, ListResponse, Response, parse_message
from telephony.ami.client import backoff_delay
from telephony.ami.events import CoreShowChannel, Event, FullyBooted, Shutdown
from tests.transcripts import TRANSCRIPTS, read_transcript, received_stream

SECRET = "s3cret"
CHALLENGE = "158483557"


def _first_message(file: str, event: str) -> str:
    stream = received_stream(read_transcript(TRANSCRIPTS / file), "c1").decode()
    return next(m for m in stream.split("\r\n\r\n") if m.startswith(f"Event: {event}\r\n"))


# Real shapes from the captures, reused by the fake server.
AGI_START = _first_message("08-agi-dial-agent.txt", "AsyncAGIStart")
CORE_SHOW = _first_message("05-lists.txt", "CoreShowChannel")
CHANNEL_LINES = [ln for ln in AGI_START.split("\r\n")[1:] if not ln.startswith("Env:")]


def agi_event(name: str, *extra: str) -> str:
    return "\r\n".join([f"Event: {name}", *CHANNEL_LINES, *extra])


class FakeAsterisk:
    """A scripted AMI server; ``received`` records every action (name, headers)."""

    def __init__(self) -> None:
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []
        self.received: list[dict[str, str]] = []
        self.boot_with_login = True
        self.fail_delay = 0.3
        self.mute_pings = False
        self.swallow: set[str] = set()  # action names answered by closing the socket
        self.agi_results: dict[str, str] = {
            "ANSWER": "200 result=0\n",
            "GET VARIABLE": "200 result=1 (bar)\n",
            "SET VARIABLE": "200 result=1\n",
            "STREAM FILE": "200 result=49 endpos=20000\n",
            "GET DATA": "200 result=12 (timeout)\n",
            "SAY DIGITS": "200 result=0\n",
            "EXEC": "200 result=0\n",
            "RECORD FILE": "200 result=35 (dtmf) endpos=8000\n",
            "NOSUCH": "510 Invalid or unknown command\n",
        }
        self.hangup_during: set[str] = set()

    async def start(self, port: int = 0) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for writer in self.writers:
            writer.close()
        self.writers.clear()
        if self.server is not None:
            await self.server.wait_closed()

    def names(self) -> list[str]:
        return [a.get("Action", "") for a in self.received]

    def emit(self, text: str) -> None:
        for writer in self.writers:
            writer.write(text.encode() + b"\r\n\r\n")

    def drop_all(self) -> None:
        for writer in self.writers:
            writer.close()
        self.writers.clear()

    async def restart(self, down_for: float = 0.3, boot_after: float = 0.3) -> None:
        """Shutdown event, close everything, come back later; FullyBooted comes late."""
        self.emit("Event: Shutdown\r\nPrivilege: system,all\r\nShutdown: Cleanly\r\nRestart: True")
        await asyncio.sleep(0.05)
        await self.stop()
        await asyncio.sleep(down_for)
        self.boot_with_login = False
        await self.start(self.port)
        asyncio.get_running_loop().call_later(boot_after, self._late_boot)

    def _late_boot(self) -> None:
        self.emit(
            "Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 1\r\nStatus: Fully Booted"
        )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        logged_in = False
        challenge = ""
        buf = b""
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                buf += data
                while b"\r\n\r\n" in buf:
                    raw, buf = buf.split(b"\r\n\r\n", 1)
                    msg = parse_message(raw.decode())
                    action = {k: v for k, v in reversed(msg.headers)}
                    self.received.append(action)
                    name = action.get("Action", "").lower()
                    aid = f"ActionID: {action['ActionID']}\r\n" if "ActionID" in action else ""
                    if name in self.swallow:
                        writer.close()
                        return
                    if name == "challenge":
                        challenge = CHALLENGE
                        writer.write(f"Response: Success\r\n{aid}".encode())
                        await writer.drain()
                        writer.write(f"Challenge: {challenge}\r\n\r\n".encode())
                    elif name == "login":
                        expected = hashlib.md5((challenge + SECRET).encode()).hexdigest()
                        ok = action.get("Secret") == SECRET or (
                            challenge and action.get("Key") == expected
                        )
                        if not ok:
                            await asyncio.sleep(self.fail_delay)
                            writer.write(
                                f"Response: Error\r\n{aid}Message: Authentication failed\r\n\r\n".encode()
                            )
                            await writer.drain()
                            writer.close()
                            return
                        logged_in = True
                        self.writers.append(writer)
                        reply = (
                            f"Response: Success\r\n{aid}Message: Authentication accepted\r\n\r\n"
                        )
                        if self.boot_with_login:
                            reply += "Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n"
                        writer.write(reply.encode())
                    elif not logged_in:
                        writer.write(
                            f"Response: Error\r\n{aid}Message: Permission denied\r\n\r\n".encode()
                        )
                    else:
                        await self._action(name, action, aid, writer)
        except (ConnectionError, OSError):
            return
        finally:
            if writer in self.writers:
                self.writers.remove(writer)

    async def _action(
        self, name: str, action: dict[str, str], aid: str, writer: asyncio.StreamWriter
    ) -> None:
        ok = f"Response: Success\r\n{aid}"
        if name == "ping":
            if not self.mute_pings:
                writer.write(f"{ok}Ping: Pong\r\nTimestamp: {time.time():.6f}\r\n\r\n".encode())
        elif name == "logoff":
            writer.write(
                f"Response: Goodbye\r\n{aid}Message: Thanks for all the fish.\r\n\r\n".encode()
            )
            await writer.drain()
            writer.close()
        elif name == "coreshowchannels":
            item = CORE_SHOW.replace("ActionID: c1-003\r\n", aid)
            writer.write(
                f"{ok}EventList: start\r\nMessage: Channels will follow\r\n\r\n{item}\r\n\r\n".encode()
            )
            await writer.drain()
            writer.write(
                f"Event: CoreShowChannelsComplete\r\n{aid}EventList: Complete\r\nListItems: 1\r\n\r\n".encode()
            )
        elif name == "command":
            writer.write(ok.encode())
            await writer.drain()
            writer.write(b"Message: Command output follows\r\n")
            await writer.drain()
            writer.write(b"Output: line one\r\nOutput: \r\nOutput:    indented: x\r\n\r\n")
        elif name == "originate":
            writer.write(f"{ok}Message: Originate successfully queued\r\n\r\n".encode())
        elif name == "agi":
            writer.write(f"{ok}Message: Added AGI command to queue\r\n\r\n".encode())
            await writer.drain()
            asyncio.get_running_loop().call_later(0.01, self._agi_result, action)
        else:
            writer.write(
                f"Response: Error\r\n{aid}Message: Invalid/unknown command: {action.get('Action')}."
                " Use Action: ListCommands to show available commands.\r\n\r\n".encode()
            )

    def _agi_result(self, action: dict[str, str]) -> None:
        command, cid = action.get("Command", ""), action.get("CommandID", "")
        if any(command.startswith(p) for p in self.hangup_during):
            self.emit(agi_event("HangupRequest"))
            self.emit(
                agi_event(
                    "AsyncAGIExec",
                    f"Result: {quote('200 result=-1' + chr(10))}",
                    f"CommandId: {cid}",
                )
            )
            self.emit(agi_event("AsyncAGIEnd"))
            self.emit(agi_event("Hangup", "Cause: 16", "Cause-txt: Normal Clearing"))
            return
        if command == "HANGUP":
            self.emit(agi_event("SoftHangupRequest", "Cause: 32"))
            self.emit(
                agi_event(
                    "AsyncAGIExec",
                    f"Result: {quote('200 result=1' + chr(10))}",
                    f"CommandId: {cid}",
                )
            )
            self.emit(agi_event("AsyncAGIEnd"))
            return
        result = next(
            (r for prefix, r in self.agi_results.items() if command.startswith(prefix)),
            "510 Invalid or unknown command\n",
        )
        self.emit(
            agi_event("AsyncAGIExec", f"Result: {quote(result, safe='()')}", f"CommandId: {cid}")
        )

    def start_agi(self) -> None:
        self.emit(AGI_START)


def make_client(pbx: FakeAsterisk, **kwargs: object) -> AmiClient:
    options: dict[str, object] = {
        "ping_interval": 0,
        "reconnect_min": 0.05,
        "reconnect_max": 0.2,
        "connect_timeout": 2.0,
    }
    options.update(kwargs)
    return AmiClient("127.0.0.1", pbx.port, "switchboard", SECRET, **options)  # type: ignore[arg-type]


async def eventually(check: Callable[[], bool], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("auth", ["md5", "plain"])
async def test_login_both_ways_ping_and_fully_booted(pbx: FakeAsterisk, auth: str) -> None:
    client = make_client(pbx, auth=auth)
    await client.connect()
    assert client.connected and client.fully_booted
    assert client.banner is not None and client.banner.version == "11.0.0"
    login = next(a for a in pbx.received if a["Action"] == "Login")
    if auth == "md5":
        assert pbx.names()[:2] == ["Challenge", "Login"] and "Secret" not in login
    else:
        assert login["Secret"] == SECRET
    pong = await client.send(Action("Ping"))
    assert isinstance(pong, Response) and pong.get("Ping") == "Pong"
    anonymous = await client.send(Action("Ping", action_id=""))
    assert anonymous.get("Ping") == "Pong" and "ActionID" not in pbx.received[-1]
    await client.close()
    assert not client.connected and pbx.names()[-1] == "Logoff"


@pytest.mark.parametrize("auth", ["md5", "plain"])
async def test_failed_login_is_reported_after_the_late_answer(pbx: FakeAsterisk, auth: str) -> None:
    client = AmiClient("127.0.0.1", pbx.port, "switchboard", "wrong", auth=auth, ping_interval=0)
    started = time.monotonic()
    with pytest.raises(AuthenticationFailed, match="Authentication failed"):
        await client.connect()
    assert time.monotonic() - started >= pbx.fail_delay * 0.9
    assert not client.connected
    with pytest.raises(ConnectionLost):
        await client.send(Action("Ping"))
    await client.close()


async def test_connect_refused_is_a_clear_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    client = AmiClient("127.0.0.1", port, None, ping_interval=0)
    with pytest.raises(ConnectionLost, match="connect"):
        await client.connect()


async def test_without_username_no_login_and_permission_denied(pbx: FakeAsterisk) -> None:
    client = AmiClient("127.0.0.1", pbx.port, None, ping_interval=0, reconnect=False)
    await client.connect()
    assert client.connected and pbx.received == []
    with pytest.raises(ActionFailed, match="Permission denied") as err:
        await client.send(Action("Status"))
    assert err.value.response is not None and err.value.response["Message"] == "Permission denied"
    await client.close()


async def test_lists_command_errors_and_subscribers(pbx: FakeAsterisk) -> None:
    client = make_client(pbx)
    seen: list[Event] = []
    unsubscribe = client.subscribe(seen.append)
    await client.connect()
    channels = await client.send(Action("CoreShowChannels"))
    assert isinstance(channels, ListResponse)
    assert [type(e) for e in channels.events] == [CoreShowChannel]
    assert channels.events[0].channel == "Local/100@caller-00000001;1"
    assert channels.complete.get("ListItems") == "1"
    assert any(isinstance(e, CoreShowChannel) for e in seen)  # subscribers see every event
    output = await client.send(Action("Command", {"Command": "core show version"}))
    assert isinstance(output, Response) and output.output == ["line one", "", "   indented: x"]
    with pytest.raises(ActionFailed, match="Invalid/unknown command"):
        await client.send(Action("NoSuchAction"))
    with pytest.raises(LocalProtocolError):
        await client.send(Action("Originate", {"Channel": "PJSIP/1\r\nAction: Hangup"}))
    assert "Hangup" not in pbx.names()
    unsubscribe()
    count = len(seen)
    pbx.emit("Event: Newchannel\r\nChannel: PJSIP/x-1")
    await client.send(Action("Ping"))
    assert len(seen) == count
    await client.close()


async def test_drop_fails_pending_action_and_never_resends_it(pbx: FakeAsterisk) -> None:
    client = make_client(pbx)
    connects: list[int] = []

    async def hook() -> None:
        connects.append(client.connections)

    client.on_connect(hook)
    drops: list[bool] = []
    client.on_disconnect(lambda: drops.append(True))
    await client.connect()
    pbx.swallow = {"originate"}
    with pytest.raises(ConnectionLost):
        await client.send(Action("Originate", {"Channel": "PJSIP/1001", "Exten": "100"}))
    pbx.swallow = set()
    await eventually(lambda: len(connects) == 2)
    assert drops == [True] and client.connected
    await client.send(Action("Ping"))
    assert pbx.names().count("Originate") == 1
    await client.close()


async def test_shutdown_then_restart_with_late_fully_booted(pbx: FakeAsterisk) -> None:
    client = make_client(pbx)
    events: list[Event] = []
    client.subscribe(events.append)
    resyncs: list[bool] = []

    async def resync() -> None:
        channels = await client.send(Action("CoreShowChannels"))
        resyncs.append(isinstance(channels, ListResponse))

    client.on_connect(resync)
    await client.connect()
    assert resyncs == [True] and client.fully_booted
    await pbx.restart(down_for=0.3, boot_after=0.4)
    assert any(isinstance(e, Shutdown) and e.is_restart for e in events)
    await eventually(lambda: resyncs == [True, True])
    assert client.connected and not client.fully_booted  # login answered without it
    await client.wait_fully_booted(timeout=2)
    assert client.fully_booted and isinstance(events[-1], FullyBooted)
    await client.close()


async def test_ping_deadline_drops_and_reconnects(pbx: FakeAsterisk) -> None:
    client = make_client(pbx, ping_interval=0.05, ping_timeout=0.1)
    await client.connect()
    pbx.mute_pings = True
    await eventually(lambda: client.connections >= 2)
    pbx.mute_pings = False
    await eventually(lambda: client.connected)
    await client.close()


async def test_oversized_message_drops_the_connection(pbx: FakeAsterisk) -> None:
    client = make_client(pbx, max_message_bytes=2000)
    await client.connect()
    pbx.emit("Event: Huge\r\nData: " + "x" * 5000)
    await eventually(lambda: client.connections >= 2 and client.connected)
    await client.close()


async def test_timeout_and_send_when_closed(pbx: FakeAsterisk) -> None:
    client = make_client(pbx)
    await client.connect()
    pbx.mute_pings = True
    with pytest.raises(TimeoutError):
        await client.send(Action("Ping"), timeout=0.1)
    await client.close()
    with pytest.raises(ConnectionLost):
        await client.send(Action("Ping"))


def test_backoff_doubles_caps_and_jitters() -> None:
    assert [backoff_delay(n, 0.5, 30, lambda: 1.0) for n in range(8)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        30.0,
        30.0,
    ]
    assert backoff_delay(3, 0.5, 30, lambda: 0.0) == 2.0
    assert backoff_delay(100, 0.5, 30, lambda: 0.5) == 22.5
