"""Election and bus against a real PostgreSQL on 127.0.0.1 (tests/postgres_server.py):
one leader at a time, a leader that loses its lock connection stops before anyone else
starts, frames of every size arrive whole and in order, a bus that reconnects says so."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

from switchboard.cluster import frames
from switchboard.cluster.bus import Bus
from switchboard.cluster.election import LeaderElection, Role

KEY = 4242


async def until(check: Callable[[], Any], within: float = 10.0, what: str = "") -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or check}")


class Node:
    """An election whose callbacks record when this node routed."""

    def __init__(self, url: str, name: str, log: list[tuple[float, str, str]]) -> None:
        self.name = name
        self.log = log
        self.routing = False
        self.election = LeaderElection(
            url,
            KEY,
            name,
            on_elected=self.elected,
            on_demoted=self.demoted,
            retry_interval=0.05,
            check_interval=0.1,
            check_timeout=0.5,
        )

    async def elected(self) -> None:
        self.routing = True
        self.log.append((time.monotonic(), self.name, "up"))

    async def demoted(self, reason: str) -> None:
        self.routing = False
        self.log.append((time.monotonic(), self.name, "down"))


def never_two_routers(log: list[tuple[float, str, str]]) -> None:
    routing: set[str] = set()
    for _, name, what in sorted(log):
        if what == "up":
            routing.add(name)
            assert len(routing) == 1, f"two routers at once: {log}"
        else:
            routing.discard(name)


async def terminate(url: str, application_name: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = $1",
                application_name,
            )
        )
    finally:
        await conn.close()


async def test_exactly_one_leader_and_the_standby_takes_over_when_its_session_dies(
    postgres_url: str,
) -> None:
    log: list[tuple[float, str, str]] = []
    a, b = Node(postgres_url, "a", log), Node(postgres_url, "b", log)
    a.election.start()
    await until(lambda: a.routing, what="a leads")
    b.election.start()
    try:
        await asyncio.sleep(0.5)  # b tries the lock several times meanwhile
        assert (a.routing, b.routing) == (True, False)
        assert b.election.role is Role.STANDBY
        # The leader's session is killed (as when its host dies and the server notices):
        # it stops routing at its next proof, and b takes the released lock.
        killed_at = time.monotonic()
        assert await terminate(postgres_url, "switchboard-a-election") == 1
        await until(lambda: b.routing, what="b takes over")
        assert time.monotonic() - killed_at < 3.0
        await until(lambda: not a.routing, what="a stepped down")
        await asyncio.sleep(0.5)  # a keeps trying the lock, and fails
        assert (a.routing, b.routing) == (False, True)
        never_two_routers(log)
    finally:
        await b.election.stop()
        await a.election.stop()
    assert log[-1][2] == "down" and not a.routing and not b.routing


async def test_a_stopping_leader_releases_the_lock_at_once(postgres_url: str) -> None:
    log: list[tuple[float, str, str]] = []
    a, b = Node(postgres_url, "a", log), Node(postgres_url, "b", log)
    a.election.start()
    await until(lambda: a.routing)
    b.election.start()
    try:
        await asyncio.sleep(0.2)
        await a.election.stop()
        await until(lambda: b.routing, within=2.0, what="b elected after a stopped")
        never_two_routers(log)
    finally:
        await b.election.stop()


async def test_a_stalled_event_loop_is_not_a_lost_lock(postgres_url: str) -> None:
    """A busy leader (a CPU-heavy takeover of a big floor) keeps its session, so it keeps
    the lead: no takeover, no flapping."""
    log: list[tuple[float, str, str]] = []
    a = Node(postgres_url, "a", log)
    a.election.start()
    await until(lambda: a.routing)
    try:
        time.sleep(1.5)  # noqa: ASYNC251 - the loop frozen well past one proof round
        await asyncio.sleep(0.5)
        assert a.routing and [what for _, _, what in log] == ["up"]
    finally:
        await a.election.stop()


class Blackhole:
    """A TCP proxy to PostgreSQL that can start dropping every byte both ways (a network
    that loses packets while both ends stay up), then cut the server's side."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self.url_parts = parts
        self.dropping = False
        self.upstreams: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        netloc = self.url_parts.netloc.rsplit("@", 1)[0] + f"@127.0.0.1:{port}"
        return urlunsplit(self.url_parts._replace(netloc=netloc))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.upstreams.append(up_writer)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    if not self.dropping:
                        dst.write(data)
            dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    def cut_server_side(self) -> None:
        for writer in self.upstreams:
            writer.close()

    async def stop(self) -> None:
        self.cut_server_side()
        if self.server is not None:
            self.server.close()


async def test_a_leader_cut_off_from_postgresql_stops_before_anyone_else_starts(
    postgres_url: str,
) -> None:
    """The leader's packets to PostgreSQL are lost: its proof times out and it stops
    routing within check_interval + check_timeout; the lock is released only when the
    server drops the silent session (here: the proxy cuts the server's side), and the
    standby routes a fence later. Never two routers."""
    log: list[tuple[float, str, str]] = []
    hole = Blackhole(postgres_url)
    via_hole = await hole.start()
    a, b = Node(via_hole, "a", log), Node(postgres_url, "b", log)
    a.election.start()
    await until(lambda: a.routing)
    b.election.start()
    try:
        hole.dropping = True
        cut_at = time.monotonic()
        await until(lambda: not a.routing, within=3.0, what="a stepped down")
        assert time.monotonic() - cut_at < 0.1 + 0.5 + 0.5  # one proof round, some slack
        await asyncio.sleep(0.5)
        assert not b.routing  # the server still holds a's session, and with it the lock
        hole.cut_server_side()
        await until(lambda: b.routing, within=5.0, what="b elected after the session ended")
        never_two_routers(log)
    finally:
        await b.election.stop()
        await a.election.stop()
        await hole.stop()


def bus(url: str, name: str, got: list[frames.Frame], resets: list[float]) -> Bus:
    return Bus(
        url,
        name,
        "sbtest",
        on_frame=got.append,
        on_request=lambda r: None,
        on_reconnect=lambda: resets.append(time.monotonic()),
        heartbeat=0.2,
        check_timeout=1.0,
    )


async def test_frames_of_every_size_arrive_whole_and_in_order(postgres_url: str) -> None:
    got: list[frames.Frame] = []
    resets: list[float] = []
    leader = bus(postgres_url, "a", [], [])
    standby = bus(postgres_url, "b", got, resets)
    await leader.start()
    await standby.start()
    try:
        assert await leader.wait_connected(5) and await standby.wait_connected(5)
        await leader.set_role(Role.LEADER, "term1")
        await standby.set_role(Role.STANDBY)
        sizes = [10, 7_000, 7_950, 8_100, 300_000, 10, 20] * 30
        sent = [{"e": {"type": "x", "n": n, "pad": "é" * size}} for n, size in enumerate(sizes)]
        for item in sent:
            leader.publish(item)
        received = await until(
            lambda: (
                (items := [i for f in got for i in f.items]) and len(items) >= len(sent) and items
            ),
            within=20,
            what="every item",
        )
        assert received == sent
        assert leader.spilled >= 60  # the 8,100 and 300,000 ones at least
        numbered = [f for f in got if f.count]
        assert all(b.seq == a.seq + a.count for a, b in itertools.pairwise(numbered))
        assert {f.epoch for f in got} == {"term1"}
        # Heartbeats keep coming while nothing happens.
        before = len(got)
        await asyncio.sleep(0.6)
        assert len(got) > before and all(f.count == 0 for f in got[before:])
    finally:
        await standby.stop()
        await leader.stop()


async def test_a_bus_that_lost_its_connection_reconnects_and_says_so(postgres_url: str) -> None:
    got: list[frames.Frame] = []
    resets: list[float] = []
    leader = bus(postgres_url, "a", [], [])
    standby = bus(postgres_url, "b", got, resets)
    await leader.start()
    await standby.start()
    try:
        await leader.wait_connected(5)
        await standby.wait_connected(5)
        await leader.set_role(Role.LEADER, "t")
        await standby.set_role(Role.STANDBY)
        assert len(resets) == 1  # the first connect: nothing heard yet
        await terminate(postgres_url, "switchboard-b-bus-listen")
        await until(lambda: len(resets) == 2, what="on_reconnect after the drop")
        assert standby.reconnects == 1 and standby.connected
        await terminate(postgres_url, "switchboard-a-bus-send")  # the leader's sender too
        leader.publish({"e": {"type": "after"}})
        await until(
            lambda: any(i == {"e": {"type": "after"}} for f in got for i in f.items),
            what="an event sent after both reconnected",
        )
    finally:
        await standby.stop()
        await leader.stop()


async def test_an_overflowing_backlog_becomes_a_gap_never_a_silent_loss(postgres_url: str) -> None:
    leader = Bus(
        postgres_url,
        "a",
        "sbtest",
        on_frame=lambda f: None,
        on_request=lambda r: None,
        on_reconnect=lambda: None,
        max_backlog=5,
    )
    await leader.set_role(Role.LEADER, "t")  # not started: nothing drains the backlog
    for n in range(12):
        leader.publish({"e": {"n": n}})
    assert leader.dropped == 10 and leader.backlog == 2
    (frame,) = [
        p.frame
        for p in frames.pack(list(leader._backlog), source="a", epoch="t", first_seq=leader._seq)
    ]
    assert frame.seq == 10  # numbers 0..9 were given up: receivers see a gap
