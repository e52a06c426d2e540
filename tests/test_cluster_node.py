"""Two cluster nodes in one process over a real PostgreSQL, with a small stand-in for the
call center: a standby mirrors the leader, forwards actions and reads its own writes, a
late joiner syncs, a new leader takes over, and leader errors come back as themselves."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]
import pytest

from config.errors import IllegalTransition, LeaderUnavailable, NotFound, PermissionDenied
from config.settings import ClusterSettings, Settings
from switchboard.cluster.election import Role
from switchboard.cluster.node import ClusterNode, Term


async def until(check: Callable[[], Any], within: float = 10.0, what: str = "") -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or check}")


class FakeCenter:
    """Agents with a state, and a big queue list (so the snapshot is spilled)."""

    def __init__(self) -> None:
        self.agents = {"1001": "logged_out", "1002": "ready"}
        self.queues = [f"queue-{n:03d}-{'x' * 80}" for n in range(120)]
        self.supervisors = {self.queues[0]: frozenset({"sam"})}
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.stopped = False
        self.drafts: list[tuple[str, bool | str]] = []
        self.pauses: list[tuple[str, str, bool | str]] = []
        self.alerts: dict[str, dict[str, Any]] = {}
        self.acks: list[tuple[str, str]] = []
        self.opened: list[tuple[Any, ...]] = []
        self.conversations: dict[str, dict[str, Any]] = {}

    def _agent(self, agent_id: str) -> dict[str, Any]:
        return {"agent_id": agent_id, "state": self.agents[agent_id], "reason": "", "call_id": None}

    def snapshot(self) -> dict[str, Any]:
        return {
            "now": time.time(),
            "queues": [{"name": q, "waiting": 0} for q in self.queues],
            "agents": [self._agent(a) for a in self.agents],
            "calls": [],
            "intervals": [],
            "alerts": [dict(a) for a in self.alerts.values()],
        }

    def current_call(self, agent_id: str) -> None:
        if agent_id not in self.agents:
            raise NotFound(agent_id)

    def subscribe(self, listener: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    async def set_agent_state(
        self, agent_id: str, state: str, reason: str = "", *, forced_by: str | None = None
    ) -> None:
        if agent_id not in self.agents:
            raise NotFound(f"no agent {agent_id!r}")
        if self.agents[agent_id] == state:
            raise IllegalTransition(state, state)
        self.agents[agent_id] = state
        for listener in list(self.listeners):
            listener({"type": "agent_state", "agent_id": agent_id, "agent": self._agent(agent_id)})

    async def wrapup_draft(self, agent_id: str, unsaved: bool | str) -> None:
        """As the center does: the leader's answer is an agent_state carrying the wrap-up."""
        if agent_id not in self.agents:
            raise NotFound(f"no agent {agent_id!r}")
        self.drafts.append((agent_id, unsaved))
        agent = dict(
            self._agent(agent_id),
            state="wrap_up",
            wrap_up_until=1000.0,
            wrap_up_limit=30.0,
            wrap_up_overdue=unsaved in (True, "true"),
        )
        for listener in list(self.listeners):
            listener({"type": "agent_state", "agent_id": agent_id, "agent": agent})

    async def recording_pause(self, agent_id: str, call_id: str, paused: bool | str) -> None:
        """As the center does: only the agent on the call; a call_update says so."""
        if call_id != "c1":
            raise NotFound(f"no live call {call_id!r}")
        if agent_id != "1001":
            raise PermissionDenied("only the agent on the call pauses its recording")
        self.pauses.append((agent_id, call_id, paused))
        call = {"call_id": "c1", "state": "talking", "agent_id": "1001", "queue": self.queues[0]}
        call["recording"] = {"on": True, "paused": paused in (True, "true")}
        for listener in list(self.listeners):
            listener(
                {"type": "call_update", "agent_id": "1001", "queue": call["queue"], "call": call}
            )

    def raise_alert(self, alert_id: str) -> None:
        """As routing.alerting does: a queue's alert, published."""
        self.alerts[alert_id] = {
            "id": alert_id,
            "rule": "no_agent_ready",
            "subject": self.queues[0],
            "queue": self.queues[0],
            "agent_id": None,
            "queues": [],
            "value": 2.0,
            "threshold": 15.0,
            "unit": "callers",
            "raised_at": time.time(),
            "cleared_at": None,
            "acked_by": None,
            "acked_at": None,
            "state": "active",
        }
        self._publish_alert("raised", alert_id)

    def _publish_alert(self, event: str, alert_id: str) -> None:
        alert = dict(self.alerts[alert_id])
        for listener in list(self.listeners):
            listener({"type": "alert", "event": event, "alert": alert, "queue": alert["queue"]})

    async def ack_alert(self, alert_id: str, username: str) -> dict[str, Any]:
        """As the center does: the first ack stands, published as acknowledged."""
        alert = self.alerts.get(alert_id)
        if alert is None:
            raise NotFound(f"no alert {alert_id!r}")
        if alert["acked_by"] is None:
            self.acks.append((alert_id, username))
            alert.update(acked_by=username, acked_at=time.time())
            self._publish_alert("acknowledged", alert_id)
        return dict(alert)

    def _publish(self, message: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            listener(message)

    async def visitor_open(
        self,
        channel: str,
        queue: str,
        party: dict[str, Any],
        subject: str = "",
        language: str = "",
        first_message: str | None = None,
    ) -> dict[str, Any]:
        """As the desk does: the conversation, assigned at once here, published."""
        self.opened.append((channel, queue, dict(party), subject, language, first_message))
        conv = {
            "key": "chat:" + "1" * 32,
            "channel": channel,
            "state": "active",
            "queue": queue,
            "agent_id": "1001",
            "party": dict(party),
            "last_seq": 0,
            "first_response_at": None,
        }
        self.conversations[conv["key"]] = conv
        self._publish(
            {
                "type": "conversation_assigned",
                "agent_id": "1001",
                "queue": queue,
                "conversation": dict(conv),
                "card": {},
            }
        )
        return {**conv, "token": "t"}

    async def conversation_reply(self, agent_id: str, key: str, text: str) -> dict[str, Any]:
        conv = self.conversations.get(key)
        if conv is None:
            raise NotFound(f"no open conversation {key!r}")
        conv["last_seq"] += 1
        message = {
            "conversation": key,
            "seq": conv["last_seq"],
            "sender": "agent",
            "agent_id": agent_id,
            "name": "",
            "text": text,
            "at": 7.0,
            "meta": {},
        }
        self._publish(
            {
                "type": "conversation_message",
                "agent_id": agent_id,
                "queue": conv["queue"],
                "conversation_key": key,
                "message": message,
            }
        )
        return message

    def health(self) -> dict[str, Any]:
        return {"ami": {"connected": True}}


def settings(name: str) -> Settings:
    return dataclasses.replace(
        Settings(),
        cluster=ClusterSettings(
            enabled=True,
            node=name,
            channel="sbnode",
            retry_interval=0.05,
            check_interval=0.1,
            check_timeout=0.4,
            rpc_timeout=2.0,
        ),
    )


class Harness:
    def __init__(self, url: str, name: str) -> None:
        self.centers: list[FakeCenter] = []
        self.resyncs = 0
        self.events: list[dict[str, Any]] = []

        async def start_term() -> Term:
            center = FakeCenter()
            self.centers.append(center)

            async def stop() -> None:
                center.stopped = True

            return center, stop

        self.node = ClusterNode(settings(name), url, start_term=start_term)
        self.node.on_resync = self._resynced
        self.node.center.subscribe(self.events.append)

    def _resynced(self) -> None:
        self.resyncs += 1


@pytest.fixture
async def pair(postgres_url: str) -> Any:
    a, b = Harness(postgres_url, "a"), Harness(postgres_url, "b")
    await a.node.start()
    await until(lambda: a.node.role is Role.LEADER, what="a leads")
    await b.node.start()
    try:
        yield a, b
    finally:
        for h in (b, a):
            with contextlib.suppress(Exception):
                await h.node.stop()


async def test_a_standby_mirrors_the_leader_and_reads_its_own_writes(pair: Any) -> None:
    a, b = pair
    await until(lambda: b.node.replica.ready, what="b synced")
    assert b.node.role is Role.STANDBY and b.resyncs >= 1
    assert len(b.node.center.snapshot()["queues"]) == 120  # a spilled bundle, read back
    assert b.node.bus.spilled == 0 and a.node.bus.spilled >= 1
    assert b.node.center.queues_for_supervisor("lena") == frozenset(a.centers[0].queues[1:])
    await b.node.center.set_agent_state("1001", "ready")
    # When the forwarded action returns, its event is already in the standby's picture.
    agents = {x["agent_id"]: x["state"] for x in b.node.center.snapshot()["agents"]}
    assert agents["1001"] == "ready"
    assert a.centers[0].agents["1001"] == "ready"
    # An agent's console reads its own agent and its own view, not the floor.
    assert (b.node.center.agent("1001") or {})["state"] == "ready"
    assert b.node.center.agent("9999") is None
    view = b.node.center.agent_snapshot("1001") or {}
    assert [x["agent_id"] for x in view["agents"]] == ["1001"]
    assert [e["agent_id"] for e in b.events if e["type"] == "agent_state"] == ["1001"]
    assert b.events == [e for e in a.events if e["type"] == "agent_state"]
    with pytest.raises(IllegalTransition):
        await b.node.center.set_agent_state("1001", "ready")
    with pytest.raises(NotFound):
        await b.node.center.set_agent_state("9999", "ready")
    # A wrap-up draft is forwarded to the leader (a flag the real center reads as text too),
    # and the agent's wrap-up fields reach the standby's picture as the leader sent them.
    await b.node.center.wrapup_draft("1001", True)
    assert a.centers[0].drafts == [("1001", "true")]
    mirrored = b.node.center.agent("1001") or {}
    assert {k: mirrored.get(k) for k in ("wrap_up_until", "wrap_up_limit", "wrap_up_overdue")} == {
        "wrap_up_until": 1000.0,
        "wrap_up_limit": 30.0,
        "wrap_up_overdue": True,
    }
    with pytest.raises(NotFound):
        await b.node.center.wrapup_draft("9999", False)
    health = b.node.health()["cluster"]
    assert (health["role"], health["leader"], health["synced"]) == ("standby", "a", True)
    assert a.node.health()["cluster"]["role"] == "leader"


async def test_a_standby_forwards_a_recording_pause_and_mirrors_the_call(pair: Any) -> None:
    a, b = pair
    await until(lambda: b.node.replica.ready, what="b synced")
    await b.node.center.recording_pause("1001", "c1", True)
    # forwarded as text, as every argument on the bus; the leader's call_update mirrored
    assert a.centers[0].pauses == [("1001", "c1", "true")]
    assert (b.node.center.call("c1") or {})["recording"] == {"on": True, "paused": True}
    await b.node.center.recording_pause("1001", "c1", False)
    assert (b.node.center.call("c1") or {})["recording"] == {"on": True, "paused": False}
    with pytest.raises(PermissionDenied):
        await b.node.center.recording_pause("1002", "c1", True)
    with pytest.raises(NotFound):
        await b.node.center.recording_pause("1001", "nope", True)


async def test_a_standby_forwards_a_chat_and_mirrors_its_conversation(pair: Any) -> None:
    a, b = pair
    await until(lambda: b.node.replica.ready, what="b synced")
    party = {"name": "Ada", "phone": "", "email": "ada@example.com"}
    opened = await b.node.center.visitor_open("chat", "sales", party, "Hi", "en", "Hello")
    assert opened["token"] == "t"
    assert a.centers[0].opened == [("chat", "sales", party, "Hi", "en", "Hello")]
    key = opened["key"]
    assert [c["key"] for c in b.node.center.conversations_of("1001")] == [key]
    long_text = "x" * 5_000  # longer than any other forwarded argument, spilled on the bus
    reply = await b.node.center.conversation_reply("1001", key, long_text)
    assert reply["text"] == long_text
    assert (b.node.center.conversation(key) or {})["last_seq"] == 1
    with pytest.raises(NotFound):
        await b.node.center.conversation_reply("1001", "chat:none", "hi")


async def test_a_standby_mirrors_alerts_and_forwards_an_ack(pair: Any) -> None:
    a, b = pair
    await until(lambda: b.node.replica.ready, what="b synced")
    a.centers[0].raise_alert("a1")
    mirrored = await until(
        lambda: [x for x in b.node.center.snapshot()["alerts"] if x["id"] == "a1"],
        what="the alert reaches the standby",
    )
    assert mirrored[0]["state"] == "active" and mirrored[0]["acked_by"] is None
    assert any(e["type"] == "alert" and e["event"] == "raised" for e in b.events)

    acked = await b.node.center.ack_alert("a1", "sam")
    assert a.centers[0].acks == [("a1", "sam")]
    assert acked["acked_by"] == "sam" and acked["acked_at"] is not None
    # read-your-writes: the leader's acknowledged event is in the standby's picture
    (shown,) = [x for x in b.node.center.snapshot()["alerts"] if x["id"] == "a1"]
    assert (shown["acked_by"], shown["acked_at"]) == ("sam", acked["acked_at"])
    # the first ack stands; an unknown alert comes back as the leader's NotFound
    again = await b.node.center.ack_alert("a1", "lena")
    assert again["acked_by"] == "sam" and a.centers[0].acks == [("a1", "sam")]
    with pytest.raises(NotFound):
        await b.node.center.ack_alert("nope", "sam")


async def test_a_standby_whose_bus_reconnects_reads_a_fresh_snapshot(
    pair: Any, postgres_url: str
) -> None:
    a, b = pair
    await until(lambda: b.node.replica.ready, what="b synced")
    resyncs = b.resyncs
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'switchboard-b-bus-listen'"
        )
        # Events while b is away are lost to it; the fresh snapshot has them.
        await until(lambda: not b.node.bus.connected, within=3.0, what="b noticed")
        await a.centers[0].set_agent_state("1001", "not_ready")
    finally:
        await conn.close()
    await until(lambda: b.node.bus.reconnects == 1 and b.node.replica.ready, what="b again")
    await until(lambda: b.resyncs > resyncs, what="b's consoles resynced")
    agents = {x["agent_id"]: x["state"] for x in b.node.center.snapshot()["agents"]}
    assert agents["1001"] == "not_ready"


async def test_a_late_joiner_syncs_and_a_new_leader_takes_over(
    pair: Any, postgres_url: str
) -> None:
    a, b = pair
    await until(lambda: b.node.replica.ready, what="b synced")
    late = Harness(postgres_url, "c")
    await late.node.start()
    try:
        await until(lambda: late.node.replica.ready, what="the late joiner synced")
        await a.centers[0].set_agent_state("1002", "not_ready")
        await until(
            lambda: (
                {x["agent_id"]: x["state"] for x in late.node.center.snapshot()["agents"]}["1002"]
                == "not_ready"
            ),
            what="event reached the late joiner",
        )
        await a.node.stop()  # the leader goes: b or c routes a fence later, with a fresh center
        assert a.centers[0].stopped
        new = await until(
            lambda: next((h for h in (b, late) if h.node.role is Role.LEADER), None),
            what="a new leader",
        )
        other = late if new is b else b
        assert new.centers and not new.centers[0].stopped
        await until(lambda: other.node.replica.ready and other.node.leader == new.node.name)
        # The fresh center starts from its own state (in the service: the store's).
        agents = {x["agent_id"]: x["state"] for x in other.node.center.snapshot()["agents"]}
        assert agents["1002"] == "ready"
        await other.node.center.set_agent_state("1001", "ready")
        assert new.centers[0].agents["1001"] == "ready"
    finally:
        await late.node.stop()


async def test_without_a_leader_a_forwarded_action_fails_clearly(postgres_url: str) -> None:
    lone = Harness(postgres_url, "z")
    await lone.node.bus.start()  # the bus, but no election: nobody leads
    try:
        await lone.node.bus.wait_connected(5)
        with pytest.raises(LeaderUnavailable):
            await lone.node.center.set_agent_state("1001", "ready")
        assert lone.node.center.snapshot()["agents"] == []
        assert lone.node.health()["cluster"]["synced"] is False
    finally:
        await lone.node.bus.stop()


class Outage:
    """A TCP proxy in front of PostgreSQL that can go away as a restarting server does:
    every connection is cut and new ones are refused until :meth:`heal`."""

    def __init__(self, url: str) -> None:
        self.parts = urlsplit(url)
        self.down = False
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        netloc = self.parts.netloc.rsplit("@", 1)[0] + f"@127.0.0.1:{port}"
        return urlunsplit(self.parts._replace(netloc=netloc))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(self.parts.hostname, self.parts.port)
        self.writers += [writer, up_writer]

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
            dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    def cut(self) -> None:
        self.down = True
        for writer in self.writers:
            writer.close()
        self.writers = []

    def heal(self) -> None:
        self.down = False

    async def stop(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()


async def test_postgresql_going_away_stops_routing_and_one_node_leads_again(
    postgres_url: str,
) -> None:
    outage = Outage(postgres_url)
    url = await outage.start()
    a, b = Harness(url, "a"), Harness(url, "b")
    await a.node.start()
    await until(lambda: a.node.role is Role.LEADER, what="a leads")
    await b.node.start()
    try:
        await until(lambda: b.node.replica.ready, what="b synced")
        outage.cut()
        await until(lambda: a.centers[0].stopped, within=3.0, what="a stopped routing")
        assert a.node.role is Role.STANDBY and b.node.role is Role.STANDBY
        with pytest.raises(LeaderUnavailable):
            await b.node.center.set_agent_state("1001", "ready")
        await asyncio.sleep(1.0)
        assert not any(h.node.role is Role.LEADER for h in (a, b))
        outage.heal()
        leader = await until(
            lambda: next((h for h in (a, b) if h.node.role is Role.LEADER), None),
            within=10.0,
            what="a leader again",
        )
        other = b if leader is a else a
        await until(
            lambda: other.node.replica.ready and other.node.leader == leader.node.name,
            what="the other node follows the new term",
        )
        await other.node.center.set_agent_state("1001", "ready")
        assert leader.centers[-1].agents["1001"] == "ready"
        assert sum(1 for h in (a, b) for c in h.centers if not c.stopped) == 1
    finally:
        for h in (b, a):
            with contextlib.suppress(Exception):
                await h.node.stop()
        await outage.stop()
