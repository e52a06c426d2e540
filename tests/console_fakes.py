"""A behaving in-memory ContactCenter for the console tests.

It keeps agent states with a small transition table (like the ACD), tracks calls and
queue counters, publishes the same deltas the real service publishes, and records every
action it was asked for so tests can assert on what reached the "PBX".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from agent_console.ports import Listener, Message, SpyMode, TransferKind, Unsubscribe
from config.errors import (
    ActionFailed,
    Conflict,
    IllegalTransition,
    InvalidInput,
    NotFound,
    PermissionDenied,
)

# (current state, requested state) pairs an agent or supervisor may ask for.
ALLOWED = {
    ("logged_out", "ready"),
    ("logged_out", "not_ready"),
    ("ready", "not_ready"),
    ("ready", "logged_out"),
    ("not_ready", "ready"),
    ("not_ready", "not_ready"),
    ("not_ready", "logged_out"),
    ("wrap_up", "ready"),
    ("wrap_up", "not_ready"),
    ("wrap_up", "logged_out"),
}


class FakeCenter:
    """Implements agent_console.ports.ContactCenter over plain dicts."""

    def __init__(
        self,
        queues: dict[str, list[str]],
        agents: dict[str, str],
        *,
        supervisors: dict[str, set[str]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        now = clock()
        self.supervisors = supervisors or {}
        self.agents: dict[str, Message] = {
            agent_id: {
                "agent_id": agent_id,
                "name": name,
                "state": "logged_out",
                "reason": "",
                "since": now,
                "queues": sorted(q for q, members in queues.items() if agent_id in members),
                "call_id": None,
            }
            for agent_id, name in agents.items()
        }
        self.queues: dict[str, Message] = {
            name: {
                "name": name,
                "waiting": 0,
                "longest_wait": 0.0,
                "service_level": None,
                "answered": 0,
                "abandoned": 0,
                "ewt": 0.0,
                "agents_ready": 0,
            }
            for name in queues
        }
        self.calls: dict[str, Message] = {}
        self.recorded: set[str] = set()  # calls whose conversation is recorded
        self.wrapping: dict[str, str] = {}  # agent id -> call id being wrapped up
        self.intervals: list[Message] = []
        self.alerts: dict[str, Message] = {}  # id -> alert JSON (routing.alerts.engine)
        self.listeners: list[Listener] = []
        self.actions: list[tuple[Any, ...]] = []
        self.ami_connected = True
        self.fail_next: str | None = None  # an action name that fails once with ActionFailed
        self.dial_gate: asyncio.Event | None = None  # dial waits on it (a slow Originate)
        # chat and email (routing.digital's shapes): key -> conversation, key -> messages
        self.conversations: dict[str, Message] = {}
        self.messages: dict[str, list[Message]] = {}
        self._keys = 0

    # -- ContactCenter --------------------------------------------------------------------

    def snapshot(self) -> Message:
        return {
            "now": self.clock(),
            "queues": [dict(q) for q in self.queues.values()],
            "agents": [dict(a, queues=list(a["queues"])) for a in self.agents.values()],
            "calls": [dict(c) for c in self.calls.values() if c["state"] != "ended"],
            "intervals": [dict(i) for i in self.intervals],
            "alerts": [dict(a) for a in self.alerts.values()],
            "conversations": [
                dict(c) for c in self.conversations.values() if c["state"] != "closed"
            ],
        }

    def agent(self, agent_id: str) -> Message | None:
        agent = self.agents.get(agent_id)
        return dict(agent, queues=list(agent["queues"])) if agent is not None else None

    def agent_snapshot(self, agent_id: str) -> Message | None:
        agent = self.agent(agent_id)
        if agent is None:
            return None
        snap = self.snapshot()
        return {
            "now": snap["now"],
            "queues": [q for q in snap["queues"] if q["name"] in agent["queues"]],
            "agents": [agent],
            "calls": [c for c in snap["calls"] if c.get("agent_id") == agent_id],
            "intervals": [],
            "conversations": self.conversations_of(agent_id),
        }

    def queues_for_supervisor(self, username: str) -> frozenset[str]:
        return frozenset(self.supervisors.get(username, set(self.queues)))

    def current_call(self, agent_id: str) -> Message | None:
        agent = self._agent(agent_id)
        call_id = agent["call_id"] or self.wrapping.get(agent_id)
        return dict(self.calls[call_id]) if call_id in self.calls else None

    def call(self, call_id: str) -> Message | None:
        call = self.calls.get(call_id)
        return dict(call) if call is not None and call["state"] != "ended" else None

    async def set_agent_state(
        self, agent_id: str, state: str, reason: str = "", *, forced_by: str | None = None
    ) -> None:
        agent = self._agent(agent_id)
        if (agent["state"], state) not in ALLOWED:
            raise IllegalTransition(agent["state"], f"go {state}")
        self.actions.append(("state", agent_id, state, reason, forced_by))
        self.wrapping.pop(agent_id, None)
        self._set_agent(agent_id, state, reason)

    async def wrapup_done(self, agent_id: str) -> None:
        agent = self._agent(agent_id)
        if agent["state"] != "wrap_up":
            raise IllegalTransition(agent["state"], "end wrap-up")
        self.actions.append(("wrapup_done", agent_id))
        self.wrapping.pop(agent_id, None)
        self._set_agent(agent_id, "ready")

    async def wrapup_draft(self, agent_id: str, unsaved: bool) -> None:
        self._agent(agent_id)
        self.actions.append(("wrapup_draft", agent_id, unsaved))

    async def hold(self, call_id: str) -> None:
        call = self._live(call_id)
        if call["state"] != "talking":
            raise IllegalTransition(call["state"], "hold")
        self._maybe_fail("hold")
        self.actions.append(("hold", call_id))
        self._update_call(call_id, state="held")

    async def unhold(self, call_id: str) -> None:
        call = self._live(call_id)
        if call["state"] != "held":
            raise IllegalTransition(call["state"], "unhold")
        self._maybe_fail("unhold")
        self.actions.append(("unhold", call_id))
        self._update_call(call_id, state="talking")

    async def transfer(self, call_id: str, kind: TransferKind, target: str) -> None:
        self._live(call_id)
        if kind == "queue" and target not in self.queues:
            raise NotFound(f"no queue {target}")
        if kind == "agent" and self._agent(target)["state"] != "ready":
            raise InvalidInput(f"agent {target} is not ready", field="target")
        self._maybe_fail("transfer")
        self.actions.append(("transfer", call_id, kind, target))

    async def hangup(self, call_id: str) -> None:
        self._live(call_id)
        self._maybe_fail("hangup")
        self.actions.append(("hangup", call_id))
        self.end(call_id)

    async def ack_alert(self, alert_id: str, username: str) -> Message:
        alert = self.alerts.get(alert_id)
        if alert is None:
            raise NotFound(f"no alert {alert_id!r}")
        if alert["acked_by"] is None:
            alert.update(acked_by=username, acked_at=self.clock())
            self.actions.append(("ack_alert", alert_id, username))
            self.publish_alert("acknowledged", alert)
        return dict(alert)

    def raise_alert(self, alert_id: str, rule: str, subject: str, **kw: Any) -> Message:
        """Raise an alert as routing.alerting does (a test helper)."""
        alert: Message = {
            "id": alert_id,
            "rule": rule,
            "subject": subject,
            "queue": None,
            "agent_id": None,
            "pbx": None,
            "agent_state": None,
            "queues": [],
            "value": 1.0,
            "threshold": 1.0,
            "unit": "s",
            "raised_at": self.clock(),
            "cleared_at": None,
            "acked_by": None,
            "acked_at": None,
            "state": "active",
            **kw,
        }
        self.alerts[alert_id] = alert
        self.publish_alert("raised", alert)
        return alert

    def publish_alert(self, event: str, alert: Message) -> None:
        message: Message = {"type": "alert", "event": event, "alert": dict(alert)}
        if alert.get("queue") is not None:
            message["queue"] = alert["queue"]
        elif alert.get("agent_id") is not None:
            message["queues"] = list(alert["queues"])
        self._publish(message)

    async def recording_pause(self, agent_id: str, call_id: str, paused: bool) -> None:
        call = self._live(call_id)
        if call["agent_id"] != agent_id:
            raise PermissionDenied("only the agent on the call pauses its recording")
        if call["state"] not in ("talking", "held"):
            raise IllegalTransition(call["state"], "pause the recording")
        recording = call.get("recording") or {"on": False, "paused": False}
        if not recording["on"]:
            raise Conflict(f"call {call_id} is not being recorded")
        if recording["paused"] == paused:
            return
        self._maybe_fail("recording_pause")
        self.actions.append(("recording_pause", agent_id, call_id, paused))
        self._update_call(call_id, recording={"on": True, "paused": paused})

    async def dial(
        self,
        agent_id: str,
        number: str,
        *,
        customer_id: str | None = None,
        queue: str | None = None,
    ) -> str:
        agent = self._agent(agent_id)
        if agent["state"] in ("ringing", "on_call"):
            raise IllegalTransition(agent["state"], "dial")
        if queue is not None and queue not in agent.get("queues", ()):
            raise InvalidInput(
                f"agent {agent_id} does not take calls of queue {queue}", field="queue"
            )
        if self.dial_gate is not None:
            await self.dial_gate.wait()
        self._maybe_fail("dial")
        self.actions.append(
            ("dial", agent_id, number, customer_id)
            if queue is None
            else ("dial", agent_id, number, customer_id, queue)
        )
        return f"out-{len(self.actions)}"

    async def move_call(self, call_id: str, queue: str) -> None:
        call = self._live(call_id)
        if call["state"] != "waiting":
            raise IllegalTransition(call["state"], "move")
        if queue not in self.queues:
            raise NotFound(f"no queue {queue}")
        self.actions.append(("move", call_id, queue))
        old = call["queue"]
        self._update_call(call_id, queue=queue)
        self._recount(old)
        self._recount(queue)

    async def spy(self, agent_id: str, mode: SpyMode, *, supervisor_agent_id: str) -> None:
        agent = self._agent(agent_id)
        if not agent["call_id"]:
            raise NotFound(f"agent {agent_id} has no call")
        self._maybe_fail("spy")
        self.actions.append(("spy", agent_id, mode, supervisor_agent_id))

    # -- chat and email (agent_console.ports; routing.digital.DigitalDesk's behaviour) ------

    def conversations_of(self, agent_id: str) -> list[Message]:
        return [
            dict(c)
            for c in self.conversations.values()
            if c["agent_id"] == agent_id and c["state"] in ("active", "ended")
        ]

    def conversation(self, key: str) -> Message | None:
        found = self.conversations.get(key)
        return dict(found) if found is not None else None

    def _conversation(self, key: str) -> Message:
        found = self.conversations.get(key)
        if found is None:
            raise NotFound(f"no open conversation {key[:80]!r}")
        return found

    def _mine(self, agent_id: str, key: str) -> Message:
        conv = self._conversation(key)
        if conv["agent_id"] != agent_id:
            raise Conflict("this conversation is not assigned to you")
        return conv

    def _add_message(
        self,
        conv: Message,
        sender: str,
        text: str,
        agent_id: str | None,
        meta: Message | None = None,
    ) -> Message:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("text is required", field="text")
        if len(text.encode()) > 64 * 1024:
            raise InvalidInput("text is longer than 65536 bytes", field="text")
        conv["last_seq"] += 1
        name = self.agents[agent_id]["name"] if agent_id else conv["party"]["name"]
        message = {
            "conversation": conv["key"],
            "seq": conv["last_seq"],
            "sender": sender,
            "agent_id": agent_id,
            "name": name,
            "text": text.strip(),
            "at": self.clock(),
            "meta": dict(meta or {}),
        }
        self.messages.setdefault(conv["key"], []).append(message)
        self._publish(
            {
                "type": "conversation_message",
                "agent_id": conv["agent_id"],
                "queue": conv["queue"],
                "conversation_key": conv["key"],
                "message": dict(message),
            }
        )
        return dict(message)

    async def conversation_reply(self, agent_id: str, key: str, text: str) -> Message:
        conv = self._mine(agent_id, key)
        if conv["state"] != "active":
            raise Conflict("the conversation is not active")
        self.actions.append(("conversation_reply", agent_id, key, text))
        if conv["first_response_at"] is None:
            conv["first_response_at"] = self.clock()
        # reply_meta: what the desk's delivery wrote (a test sets {"delivery": "failed"})
        return self._add_message(conv, "agent", text, agent_id, getattr(self, "reply_meta", None))

    async def conversation_typing(self, agent_id: str, key: str, on: bool) -> None:
        self._mine(agent_id, key)
        self.actions.append(("conversation_typing", agent_id, key, on))

    async def conversation_end(self, agent_id: str, key: str) -> Message:
        conv = self._mine(agent_id, key)
        self.actions.append(("conversation_end", agent_id, key))
        if conv["state"] == "active":
            self._update_conversation(conv, state="ended", ended_at=self.clock())
        return dict(conv)

    async def conversation_close(self, agent_id: str, key: str) -> Message:
        conv = self._mine(agent_id, key)
        if conv["state"] == "waiting":
            raise Conflict("the conversation is still waiting for an agent")
        self.actions.append(("conversation_close", agent_id, key))
        ended = conv["ended_at"] or self.clock()
        self._update_conversation(conv, state="closed", ended_at=ended)
        return dict(conv)

    async def conversation_messages(
        self, key: str, after_seq: int | str = 0, before_seq: int | str = 0
    ) -> list[Message]:
        self._conversation(key)
        found = [dict(m) for m in self.messages.get(key, []) if m["seq"] > int(after_seq)]
        if int(before_seq or 0):
            return [m for m in found if m["seq"] < int(before_seq)][-500:]
        return found[:500]

    async def visitor_open(
        self,
        channel: str,
        queue: str,
        party: Message,
        subject: str = "",
        language: str = "",
        first_message: str | None = None,
    ) -> Message:
        if channel not in ("chat", "email"):
            raise InvalidInput("channel must be chat or email", field="channel")
        if queue not in self.queues:
            raise NotFound(f"no queue {queue}")
        self._keys += 1
        key = f"{channel}:{self._keys:032x}"
        now = self.clock()
        conv: Message = {
            "key": key,
            "channel": channel,
            "state": "waiting",
            "queue": queue,
            "agent_id": None,
            "customer_id": None,
            "contact_id": None,
            "party": {k: str(party.get(k) or "") for k in ("name", "phone", "email")},
            "subject": subject,
            "language": language,
            "opened_at": now,
            "queued_at": now,
            "assigned_at": None,
            "ended_at": None,
            "first_response_at": None,
            "last_seq": 0,
            "thread": "",
        }
        self.conversations[key] = conv
        if first_message:
            self._add_message(conv, "customer", first_message, None)
        self._update_conversation(conv)
        return {**conv, "token": f"token-{key}"}

    async def visitor_message(self, key: str, text: str, client_id: str = "") -> Message:
        conv = self._conversation(key)
        if conv["state"] in ("ended", "closed"):
            raise Conflict("the conversation has ended")
        return self._add_message(conv, "customer", text, None)

    async def visitor_typing(self, key: str, on: bool) -> None:
        conv = self._conversation(key)
        self._publish(
            {
                "type": "conversation_typing",
                "agent_id": conv["agent_id"],
                "queue": conv["queue"],
                "conversation_key": key,
                "who": "customer",
                "on": bool(on),
            }
        )

    async def visitor_leave(self, key: str) -> Message:
        conv = self._conversation(key)
        if conv["state"] == "waiting":
            self._update_conversation(conv, state="closed", ended_at=self.clock())
        elif conv["state"] == "active":
            self._update_conversation(conv, state="ended", ended_at=self.clock())
        return dict(conv)

    async def visitor_transcript(self, key: str, email: str) -> Message:
        self._conversation(key)
        self.actions.append(("visitor_transcript", key, email))
        return {"message_id": f"<transcript-{len(self.actions)}@fake>"}

    def assign_conversation(
        self, key: str, agent_id: str, card: Message | None = None, *, contact_id: int | None = None
    ) -> None:
        """Test driver: the ACD assigned the conversation (the desk's pop)."""
        conv = self._conversation(key)
        self._agent(agent_id)
        conv.update(state="active", agent_id=agent_id, assigned_at=self.clock())
        if contact_id is not None:
            conv["contact_id"] = contact_id
        self._publish(
            {
                "type": "conversation_assigned",
                "agent_id": agent_id,
                "queue": conv["queue"],
                "conversation": dict(conv),
                "card": card or {"customer_id": None, "name": conv["party"]["name"]},
            }
        )

    def _update_conversation(self, conv: Message, **changes: Any) -> None:
        conv.update(changes)
        self._publish(
            {
                "type": "conversation_update",
                "agent_id": conv["agent_id"],
                "queue": conv["queue"],
                "conversation": dict(conv),
            }
        )

    def health(self) -> Message:
        return {"ami": {"connected": self.ami_connected}}

    def subscribe(self, listener: Listener) -> Unsubscribe:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener) if listener in self.listeners else None

    # -- test drivers (what the AMI events would cause) -----------------------------------

    def arrive(
        self,
        call_id: str,
        queue: str,
        caller: str,
        *,
        contact_id: int | str | None = None,
        customer_id: int | str | None = None,
        path: list[Message] | None = None,
        verified: bool = False,
        waited: float | None = None,
        recorded: bool = False,
    ) -> Message:
        """A caller finished the IVR and is waiting in ``queue``."""
        now = self.clock()
        self.calls[call_id] = {
            "call_id": call_id,
            "state": "waiting",
            "queue": queue,
            "caller": caller,
            "dialed": "8005550100",
            "agent_id": None,
            "customer_id": customer_id,
            "contact_id": contact_id,
            "arrived_at": now - 20,
            "queued_at": now,
            "answered_at": None,
            "ivr": {"path": path or [], "verified": verified, "waited": waited},
            "recording": {"on": False, "paused": False},
        }
        if recorded:
            self.recorded.add(call_id)  # "on" once answered
        self._publish_call(call_id)
        self._recount(queue)
        return dict(self.calls[call_id])

    def offer(self, call_id: str, agent_id: str, card: Message) -> None:
        """The ACD rang ``agent_id``: DialBegin -> agent ringing -> screen pop."""
        agent = self._agent(agent_id)
        if agent["state"] != "ready":
            raise IllegalTransition(agent["state"], "offer")
        call = self.calls[call_id]
        now = self.clock()
        waited = now - call["queued_at"]
        call["ivr"] = dict(call["ivr"], waited=call["ivr"]["waited"] or round(waited, 1))
        self._update_call(call_id, state="ringing", agent_id=agent_id, publish=False)
        self._set_agent(agent_id, "ringing", call_id=call_id)
        self._publish(
            {"type": "screen_pop", "agent_id": agent_id, "call": dict(call), "card": card}
        )
        self._publish_call(call_id)
        self._recount(call["queue"])

    def answer(self, call_id: str) -> None:
        call = self.calls[call_id]
        call["answered_at"] = self.clock()
        recording = {"on": call_id in self.recorded, "paused": False}
        self._update_call(call_id, state="talking", recording=recording)
        self._set_agent(call["agent_id"], "on_call", call_id=call_id)

    def end(self, call_id: str) -> None:
        call = self.calls[call_id]
        queue = call["queue"]
        agent_id = call["agent_id"]
        answered = call["answered_at"] is not None
        self._update_call(call_id, state="ended", recording={"on": False, "paused": False})
        stats = self.queues[queue]
        if answered:
            stats["answered"] += 1
        elif agent_id is None:
            stats["abandoned"] += 1
        handled = stats["answered"] + stats["abandoned"]
        stats["service_level"] = round(stats["answered"] / handled, 3) if handled else None
        self._publish(
            {
                "type": "call_ended",
                "call_id": call_id,
                "agent_id": agent_id,
                "queue": queue,
                "contact_id": call["contact_id"],
            }
        )
        if agent_id is not None:
            self.wrapping[agent_id] = call_id
            self._set_agent(agent_id, "wrap_up" if answered else "not_ready")
        self._recount(queue)

    def set_intervals(self, intervals: list[Message]) -> None:
        self.intervals = [dict(i) for i in intervals]
        self._publish({"type": "wallboard", "intervals": [dict(i) for i in intervals]})

    # -- internals ----------------------------------------------------------------------

    def _agent(self, agent_id: str) -> Message:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise NotFound(f"no agent {agent_id}")
        return agent

    def _live(self, call_id: str) -> Message:
        call = self.calls.get(call_id)
        if call is None or call["state"] == "ended":
            raise NotFound(f"no live call {call_id}")
        return call

    def _maybe_fail(self, action: str) -> None:
        if self.fail_next == action:
            self.fail_next = None
            raise ActionFailed(f"{action} refused by Asterisk")

    def _set_agent(
        self, agent_id: str, state: str, reason: str = "", *, call_id: str | None = None
    ) -> None:
        agent = self.agents[agent_id]
        agent.update(state=state, reason=reason, since=self.clock(), call_id=call_id)
        self._publish(
            {
                "type": "agent_state",
                "agent_id": agent_id,
                "queues": list(agent["queues"]),
                "agent": dict(agent, queues=list(agent["queues"])),
            }
        )
        for queue in agent["queues"]:
            self._recount(queue)

    def _update_call(self, call_id: str, *, publish: bool = True, **changes: Any) -> None:
        self.calls[call_id].update(changes)
        if publish:
            self._publish_call(call_id)

    def _publish_call(self, call_id: str) -> None:
        call = self.calls[call_id]
        self._publish(
            {
                "type": "call_update",
                "agent_id": call["agent_id"],
                "queue": call["queue"],
                "call": dict(call),
            }
        )

    def _recount(self, queue: str) -> None:
        now = self.clock()
        waiting = [
            c for c in self.calls.values() if c["queue"] == queue and c["state"] == "waiting"
        ]
        stats = self.queues[queue]
        stats["waiting"] = len(waiting)
        stats["longest_wait"] = max((now - c["queued_at"] for c in waiting), default=0.0)
        stats["agents_ready"] = sum(
            1 for a in self.agents.values() if queue in a["queues"] and a["state"] == "ready"
        )
        stats["ewt"] = 30.0 * len(waiting) / max(1, stats["agents_ready"])
        self._publish({"type": "queue_stats", "queue": queue, "stats": dict(stats)})

    def _publish(self, message: Message) -> None:
        for listener in list(self.listeners):
            listener(message)


# -- a running console on 127.0.0.1 for the tests -------------------------------------------

PASSWORD = "correct horse battery staple"
CHEAP_ARGON2 = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


class FakeClock:
    """Wall clock the tests can move forward (sessions, rate limits)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


QUEUES = {"sales": ["1001", "1003", "2001"], "support": ["1002"], "billing": ["1003"]}
AGENTS = {"1001": "Alice Agent", "1002": "Bob Agent", "1003": "Carol Agent", "2001": "Sue Super"}
USERS = {  # username -> (role, agent id)
    "alice": ("agent", "1001"),
    "bob": ("agent", "1002"),
    "sue": ("supervisor", "2001"),
    "root": ("admin", None),
}


class UserClient:
    """One browser-like user: its own cookie jar, the CSRF token, the public Origin."""

    def __init__(self, world: World) -> None:
        import aiohttp

        self.world = world
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def login(self, username: str, password: str = PASSWORD) -> Any:
        resp = await self.http.post(
            self.world.url + "/api/login",
            json={"username": username, "password": password},
            headers={"Origin": self.world.origin},
        )
        if resp.status == 200:
            self.csrf = (await resp.json())["csrf_token"]
        return resp

    async def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        csrf: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Any:
        hdrs = {"Origin": self.world.origin}
        if csrf and self.csrf:
            hdrs["X-CSRF-Token"] = self.csrf
        hdrs.update(headers or {})
        return await self.http.request(
            method, self.world.url + path, json=json, headers=hdrs, allow_redirects=False
        )

    async def ws(self, *, origin: str | None = None) -> Any:
        return await self.http.ws_connect(
            self.world.url + "/ws", origin=origin or self.world.origin, heartbeat=None
        )

    async def close(self) -> None:
        await self.http.close()


class World:
    """The real console app on a real TCP port, the real store, a FakeCenter."""

    def __init__(self) -> None:
        self.clients: list[UserClient] = []

    async def start(
        self,
        tmp_path: Any,
        *,
        login_limit: int = 10,
        origin_scheme: str = "http",
        database_url: str = "",
        recording_dir: Any = None,
        trusted_proxies: tuple[str, ...] = (),
    ) -> World:
        import argon2
        from aiohttp import web
        from aiohttp.test_utils import unused_port

        from agent_console.app import init_app
        from agent_console.auth import Passwords
        from config.settings import (
            ChatSettings,
            EmailSettings,
            HttpSettings,
            IvrSettings,
            RecordingSettings,
            SecuritySettings,
            Settings,
        )
        from crm_lookup.store import open_store

        port = unused_port()
        self.url = f"http://127.0.0.1:{port}"
        self.origin = f"{origin_scheme}://127.0.0.1:{port}"
        self.settings = Settings(
            http=HttpSettings(host="127.0.0.1", port=port, public_origin=self.origin),
            security=SecuritySettings(login_attempts_per_minute=login_limit),
            # recordings and voicemail under tmp_path (recording_dir: a test's own)
            recording=RecordingSettings(dir=str(recording_dir or tmp_path / "recordings")),
            ivr=IvrSettings(recordings_dir=str(tmp_path / "voicemail")),
            # the email attachments the conversation tab links (none sent: no relay)
            email=EmailSettings(attachments_dir=str(tmp_path / "attachments")),
            # a test behind a reverse proxy (agent_console.client_address)
            chat=ChatSettings(trusted_proxies=list(trusted_proxies)),
        )
        self.clock = FakeClock()
        # database_url: a store_url fixture's (either backend); else a SQLite file.
        self.database_url = database_url or f"sqlite:///{tmp_path / 'console.sqlite3'}"
        self.store = await open_store(self.database_url)
        self.passwords = Passwords(argon2.PasswordHasher(**CHEAP_ARGON2))
        for username, (role, agent_id) in USERS.items():
            await self.store.users.add(username, self.passwords.hash(PASSWORD), role, agent_id)
        self.center = FakeCenter(
            QUEUES, AGENTS, supervisors={"sue": {"sales", "billing"}}, clock=self.clock
        )
        self.app = init_app(
            self.settings,
            store=self.store,
            center=self.center,
            passwords=self.passwords,
            clock=self.clock,
        )
        self.runner = web.AppRunner(self.app)
        await self.runner.setup()
        self.site = web.TCPSite(self.runner, "127.0.0.1", port)
        await self.site.start()
        return self

    def app_crm(self) -> Any:
        from agent_console.keys import CRM

        return self.app[CRM]

    async def client(self, username: str | None = None) -> UserClient:
        client = UserClient(self)
        self.clients.append(client)
        if username is not None:
            resp = await client.login(username)
            assert resp.status == 200, await resp.text()
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        await self.runner.cleanup()
        await self.store.close()


async def make_contact(
    store: Any,
    key: str,
    caller: str,
    queue: str,
    agent_id: str,
    *,
    at: float,
    disposition: str = "",
    notes: str = "",
) -> int:
    """A contact written through the real milestones; wrapped up when ``disposition``."""
    await store.contacts.arrived(key, caller, "8005550100", at=at)
    await store.contacts.queued(key, queue, at=at + 1)
    await store.contacts.offered(key, agent_id, at=at + 5)
    await store.contacts.answered(key, agent_id, at=at + 8)
    contact_id = int((await store.contacts.get_by_key(key)).id)
    if disposition:
        await store.contacts.ended(key, at=at + 120)
        await store.contacts.wrapup(contact_id, disposition, notes)
    return contact_id


async def _ada(world: World) -> tuple[str, int, int]:
    customer = await world.store.customers.add(
        "Ada Lovelace", ["+15551230001"], tier="VIP", company="Analytical Engines"
    )
    past = time.time() - 86400
    await make_contact(
        world.store,
        "past-1",
        "+15551230001",
        "sales",
        "1003",
        at=past,
        disposition="resolved",
        notes="asked about the invoice",
    )
    live = await make_contact(
        world.store, "live-1", "+15551230001", "sales", "1001", at=past + 3600
    )
    return "+15551230001", int(customer.id), live


async def seed(world: World) -> dict[str, Any]:
    """A customer with one past contact and the contact of the live call, plus calls.

    Returns ids: ``customer``, ``contact`` (the live call's contact, handled by alice in
    sales), ``card`` (the screen-pop card of the caller), ``article`` (a knowledge-base
    article). Calls: c1 talking on alice,
    h1 held on alice, w1 waiting in sales, w2 waiting in support.
    """
    phone, customer_id, contact_id = await _ada(world)
    card = await world.app_crm().card_for_phone(phone)
    center = world.center
    for agent_id in ("1001", "1003", "2001"):
        center.agents[agent_id]["state"] = "ready"
    center.arrive("c1", "sales", phone, contact_id=contact_id, customer_id=customer_id)
    center.offer("c1", "1001", card)
    center.answer("c1")
    center.arrive("h1", "sales", "+15551230002")
    center.calls["h1"].update(state="held", agent_id="1001")
    center.arrive("w1", "sales", "+15551230003")
    center.arrive("w2", "support", "+15551230004")
    article = await world.store.knowledge.add(
        title="Refunding a card payment",
        body="Open the order, choose **Refund**.",
        language="en",
        owner="sue",
        tags=["billing"],
    )
    return {
        "customer": str(customer_id),
        "contact": str(contact_id),
        "card": card,
        "article": str(article.id),
    }


async def seed_conversations(world: World) -> dict[str, str]:
    """Alice holds an active chat and an ended email in sales (ids ``chat``, ``email``)."""
    center = world.center
    chat = await center.visitor_open(
        "chat", "sales", {"name": "Ada", "phone": "+15551230001"}, first_message="Hello?"
    )
    center.assign_conversation(chat["key"], "1001")
    email = await center.visitor_open(
        "email", "sales", {"name": "Ada", "email": "ada@example.com"}, subject="Invoice"
    )
    center.assign_conversation(email["key"], "1001")
    center.conversations[email["key"]]["state"] = "ended"
    attachment = await add_attachment(world, email["key"], "invoice.pdf", "application/pdf")
    return {"chat": chat["key"], "email": email["key"], "attachment": str(attachment)}


async def add_attachment(
    world: World, key: str, filename: str, content_type: str, data: bytes = b"%PDF-1.4 x"
) -> int:
    """An attachment of a customer's mail in conversation ``key`` (the index row and the
    file under the settings' attachments_dir); returns its id."""
    from crm_lookup.mail_store import MailEntry

    message_id = f"<att-{len(filename)}-{abs(hash((key, filename)))}@example.com>"
    await world.store.mail.record(MailEntry(message_id, key, "in", sender="ada@example.com"))
    root = world.settings.path(world.settings.email.attachments_dir)
    kept = await world.store.mail.add_attachment(
        root, message_id, filename, content_type, data, max_bytes=1 << 20
    )
    return kept.id


async def seed_history(world: World) -> dict[str, Any]:
    """A VIP customer with a past wrapped-up contact, and the contact of the next call
    (to be handled by alice in sales). Agents stay logged out."""
    phone, customer_id, contact_id = await _ada(world)
    card = await world.app_crm().card_for_phone(phone)
    return {"customer": str(customer_id), "contact": str(contact_id), "card": card}
