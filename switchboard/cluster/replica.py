"""A standby's copy of the leader's live picture, kept from the bus (pure).

Theory of operation. The console reads the contact center synchronously (``snapshot``,
``current_call``, ``call``, ``queues_for_supervisor``), so a standby cannot ask the leader
for each read. It keeps a :class:`Replica` instead: :meth:`Replica.reset` loads the
*bundle* the leader answers to a ``snapshot`` request (its snapshot, every agent's current
call, the supervisors of each queue) and :meth:`Replica.apply` folds in each published
event after it, exactly as the console would. Because the leader answers in the same
ordered stream as its events, every event before the answer is already in the bundle and
every event after it is applied: nothing is counted twice or missed. Until the first
bundle (or after a gap in the stream) the replica is not ``ready`` and the node ignores
events, which the next bundle will contain.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from config.errors import NotFound

Message = dict[str, Any]
# Ended calls kept for an agent's wrap-up screen, as the leader keeps them.
RECENT_CALLS = 500
# Cleared alerts kept for the wallboard's list (routing.alerting.MAX_CLEARED).
CLEARED_ALERTS = 200


class Replica:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.ready = False
        self.queues: dict[str, Message] = {}
        self.agents: dict[str, Message] = {}
        self.calls: dict[str, Message] = {}
        self.recent: dict[str, Message] = {}
        self.wrapping: dict[str, str] = {}  # agent -> call id of the call they wrap up
        self.intervals: list[Any] = []
        self.supervisors: dict[str, frozenset[str]] = {}
        self.alerts: dict[str, Message] = {}  # id -> alert, active and recently cleared
        # chat and email (routing.digital): open ones by key, in the order assigned, and
        # those closed lately (a console asking right after its close)
        self.conversations: dict[str, Message] = {}
        self.closed_conversations: dict[str, Message] = {}

    def invalidate(self) -> None:
        """The stream had a gap or a new leader: wait for the next bundle."""
        self.ready = False

    def reset(self, bundle: Mapping[str, Any]) -> None:
        """Replace everything with the leader's bundle (see :func:`bundle_of`)."""
        snap = bundle["snapshot"]
        self.queues = {q["name"]: dict(q) for q in snap.get("queues", [])}
        self.agents = {a["agent_id"]: dict(a) for a in snap.get("agents", [])}
        self.calls = {c["call_id"]: dict(c) for c in snap.get("calls", [])}
        self.intervals = list(snap.get("intervals", []))
        self.alerts = {a["id"]: dict(a) for a in snap.get("alerts", [])}
        self.conversations = {c["key"]: dict(c) for c in snap.get("conversations", [])}
        self.closed_conversations = {}
        self.recent = {}
        self.wrapping = {}
        for agent_id, call in (bundle.get("current") or {}).items():
            if call is not None and call["call_id"] not in self.calls:
                self.recent[call["call_id"]] = dict(call)
                self.wrapping[agent_id] = call["call_id"]
        self.supervisors = {
            queue: frozenset(names) for queue, names in (bundle.get("supervisors") or {}).items()
        }
        self.ready = True

    def apply(self, message: Mapping[str, Any]) -> None:
        """Fold one published event (docs/websocket.md) into the copy."""
        kind = message.get("type")
        if kind == "agent_state":
            agent = dict(message["agent"])
            self.agents[agent["agent_id"]] = agent
            if agent.get("state") != "wrap_up":
                self.wrapping.pop(agent["agent_id"], None)
        elif kind == "queue_stats":
            self.queues[message["queue"]] = dict(message["stats"])
        elif kind in ("call_update", "screen_pop"):
            call = dict(message["call"])
            if call.get("state") == "ended":
                self._ended(call["call_id"], call.get("agent_id"), call)
            else:
                self.calls[call["call_id"]] = call
        elif kind == "call_ended":
            self._ended(message["call_id"], message.get("agent_id"))
        elif kind == "wallboard":
            self.intervals = list(message.get("intervals") or [])
        elif kind in ("conversation_assigned", "conversation_update"):
            self._conversation(dict(message["conversation"]), kind == "conversation_assigned")
        elif kind == "conversation_message":
            self._conversation_message(message)
        elif kind == "alert":
            alert = dict(message["alert"])
            self.alerts.pop(alert["id"], None)
            self.alerts[alert["id"]] = alert
            cleared = [k for k, a in self.alerts.items() if a.get("cleared_at") is not None]
            for k in cleared[: max(0, len(cleared) - CLEARED_ALERTS)]:
                del self.alerts[k]

    def _conversation(self, conv: Message, assigned: bool) -> None:
        key = conv["key"]
        if conv.get("state") == "closed":
            self.conversations.pop(key, None)
            self.closed_conversations[key] = conv
            while len(self.closed_conversations) > RECENT_CALLS:
                self.closed_conversations.pop(next(iter(self.closed_conversations)))
            return
        if assigned:
            self.conversations.pop(key, None)  # to the end: the leader lists by assignment
        self.conversations[key] = conv

    def _conversation_message(self, message: Mapping[str, Any]) -> None:
        conv = self.conversations.get(str(message.get("conversation_key")))
        body = message.get("message") or {}
        if conv is None or not isinstance(body, Mapping):
            return
        conv["last_seq"] = max(int(conv.get("last_seq") or 0), int(body.get("seq") or 0))
        if body.get("sender") == "agent" and conv.get("first_response_at") is None:
            conv["first_response_at"] = body.get("at")

    def _ended(self, call_id: str, agent_id: str | None, last: Message | None = None) -> None:
        call = self.calls.pop(call_id, None) or last
        if call is None:
            return
        call = {**call, "state": "ended"}
        self.recent[call_id] = call
        while len(self.recent) > RECENT_CALLS:
            self.recent.pop(next(iter(self.recent)))
        if agent_id and self.agents.get(agent_id, {}).get("state") == "wrap_up":
            self.wrapping[agent_id] = call_id

    # -- the console's reads (agent_console.ports.ContactCenter) -------------------------

    def snapshot(self) -> Message:
        return {
            "now": self.clock(),
            "queues": [dict(q) for q in self.queues.values()],
            "agents": [dict(a) for a in self.agents.values()],
            "calls": [dict(c) for c in self.calls.values()],
            "intervals": list(self.intervals),
            "alerts": self._alerts(),
            "conversations": [dict(c) for c in self.conversations.values()],
        }

    def _alerts(self) -> list[Message]:
        """As the leader lists them: active oldest first, then cleared newest first."""
        active = [a for a in self.alerts.values() if a.get("cleared_at") is None]
        cleared = [a for a in self.alerts.values() if a.get("cleared_at") is not None]
        active.sort(key=lambda a: (a["raised_at"], a["id"]))
        cleared.sort(key=lambda a: -float(a["cleared_at"]))
        return [dict(a) for a in [*active, *cleared]]

    def agent(self, agent_id: str) -> Message | None:
        agent = self.agents.get(agent_id)
        return dict(agent) if agent is not None else None

    def agent_snapshot(self, agent_id: str) -> Message | None:
        """:meth:`snapshot` cut down to one agent's console (the leader's
        ``agent_snapshot``): their queues, their row, their live calls."""
        agent = self.agents.get(agent_id)
        if agent is None:
            return None
        served = set(agent.get("queues") or ())
        return {
            "now": self.clock(),
            "queues": [dict(q) for name, q in self.queues.items() if name in served],
            "agents": [dict(agent)],
            "calls": [dict(c) for c in self.calls.values() if c.get("agent_id") == agent_id],
            "intervals": [],
            "conversations": self.conversations_of(agent_id),
        }

    def queues_for_supervisor(self, username: str) -> frozenset[str]:
        return frozenset(
            name
            for name in self.queues
            if not self.supervisors.get(name) or username in self.supervisors[name]
        )

    def current_call(self, agent_id: str) -> Message | None:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise NotFound(f"no agent {agent_id!r}")
        call_id = agent.get("call_id") or self.wrapping.get(agent_id)
        if call_id is None:
            return None
        call = self.calls.get(call_id) or self.recent.get(call_id)
        return dict(call) if call is not None else None

    def call(self, call_id: str) -> Message | None:
        call = self.calls.get(call_id)
        return dict(call) if call is not None else None

    def conversations_of(self, agent_id: str) -> list[Message]:
        return [dict(c) for c in self.conversations.values() if c.get("agent_id") == agent_id]

    def conversation(self, key: str) -> Message | None:
        conv = self.conversations.get(key) or self.closed_conversations.get(key)
        return dict(conv) if conv is not None else None


def bundle_of(center: Any) -> Message:
    """What the leader answers to a ``snapshot`` request: everything :meth:`Replica.reset`
    needs, taken in one synchronous step so no event can fall between its parts."""
    snap = center.snapshot()
    current = {}
    for agent in snap["agents"]:
        with_call = center.current_call(agent["agent_id"])
        if with_call is not None:
            current[agent["agent_id"]] = with_call
    supervisors = {q["name"]: sorted(center.supervisors.get(q["name"], ())) for q in snap["queues"]}
    return {"snapshot": snap, "current": current, "supervisors": supervisors}
