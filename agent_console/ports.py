"""The one port between the web console and the running contact center.

Theory of operation: the console never touches AMI, the ACD engine or the IVR. It reads
a JSON-ready *snapshot*, asks for changes through the async methods below, and learns
about every change through :meth:`ContactCenter.subscribe`: the center calls the
listener synchronously, in order, with one JSON-ready dict per change. The console fans
those dicts out to websockets without awaiting anything, so a listener call is cheap and
never blocks the center.

Shapes (all JSON-ready; times are epoch seconds as floats):

* queue: ``{"name", "waiting", "longest_wait", "service_level" (0..1 or null),
  "answered", "abandoned", "ewt", "agents_ready"}``
* agent: ``{"agent_id", "name", "state", "reason", "since", "queues": [...],
  "call_id" (or null), "wrap_up_until" (epoch, or null: not in wrap-up or no limit),
  "wrap_up_limit" (the queue's wrap-up seconds, 0 = none; null outside wrap-up),
  "wrap_up_overdue" (held in wrap-up past the limit by unsaved input), "capacity",
  "load", "contacts" (chat and email: what the agent may hold per channel, holds, and
  the conversation keys held)}``; ``state`` is a ``routing.acd.AgentState`` value in lower case
  (``logged_out``, ``ready``, ``not_ready``, ``ringing``, ``on_call``, ``wrap_up``).
* call: ``{"call_id", "state" ("ivr"|"waiting"|"ringing"|"talking"|"held"|"ended"),
  "queue", "caller", "dialed", "agent_id", "customer_id", "contact_id", "arrived_at",
  "queued_at", "answered_at", "ivr": {"path": [{"node", "kind", "digits", "result"}],
  "verified": bool, "waited": seconds}, "recording": {"on": bool, "paused": bool}}``;
  ``recording.on``: the conversation with the agent is being recorded now (talking or
  held on a recorded call); ``paused``: the agent paused it (the file gets silence)
* interval: ``{"start", "offered", "answered", "abandoned", "service_level"}``

Published messages (``docs/websocket.md`` is the full schema):
``agent_state`` (``agent`` plus ``agent_id`` and ``queues``), ``queue_stats`` (``queue``
and ``stats``), ``call_update`` (``call`` plus ``agent_id`` and ``queue``),
``screen_pop`` (``agent_id``, ``call``, ``card``: ``CustomerCard.to_json()``),
``call_ended`` (``call_id``, ``agent_id``, ``queue``, ``contact_id``), ``wallboard``
(``intervals``); chat and email: ``conversation_assigned`` (``agent_id``, ``queue``,
``conversation``, ``card``), ``conversation_update`` (``agent_id``, ``queue``,
``conversation``), ``conversation_message`` (``agent_id``, ``queue``,
``conversation_key``, ``message``), ``conversation_typing`` (``agent_id``, ``queue``,
``conversation_key``, ``who``, ``on``), and ``visitor_event`` (``conversation_key``,
``event``: a frame for the chat visitor; never forwarded to a console).

Errors: methods raise only ``config.errors`` classes: ``NotFound`` (no such agent, call
or queue), ``IllegalTransition`` (the ACD refused), ``InvalidInput`` (bad target),
``RemoteError`` subclasses (Asterisk failed or is gone).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol, runtime_checkable

Message = dict[str, Any]
Listener = Callable[[Message], None]
Unsubscribe = Callable[[], None]
SpyMode = Literal["listen", "whisper", "barge"]
TransferKind = Literal["queue", "agent", "number"]

AGENT_STATES = ("logged_out", "ready", "not_ready", "ringing", "on_call", "wrap_up")
SPY_MODES: tuple[SpyMode, ...] = ("listen", "whisper", "barge")
TRANSFER_KINDS: tuple[TransferKind, ...] = ("queue", "agent", "number")


@runtime_checkable
class ContactCenter(Protocol):
    """Everything the console needs from the running contact center."""

    def snapshot(self) -> Message:
        """The whole live picture: ``{"now", "queues": [queue], "agents": [agent],
        "calls": [call], "intervals": [interval], "alerts": [alert]}`` (``alerts``: the
        active supervisor alerts, then the recently cleared ones; docs/websocket.md). ``calls`` holds calls that are not
        ended (in IVR, waiting, ringing or connected). O(agents + calls): built when a
        wallboard or supervisor connects; an agent's console uses :meth:`agent_snapshot`."""
        ...

    def agent(self, agent_id: str) -> Message | None:
        """One agent (agent shape) as :meth:`snapshot` lists it, or ``None`` when unknown.

        O(1): checked on every agent action and every console connect, so it must not
        build the whole floor's snapshot."""
        ...

    def agent_snapshot(self, agent_id: str) -> Message | None:
        """:meth:`snapshot` as one agent's console sees it: the queues the agent serves,
        the agent's own row and the live calls whose ``agent_id`` is the agent; no
        intervals. ``None`` for an unknown agent.

        Its cost follows the agent's queues and the live calls, not the number of agents:
        a thousand consoles reconnecting at once must not cost a thousand floors."""
        ...

    def queues_for_supervisor(self, username: str) -> frozenset[str]:
        """Names of the queues the supervisor ``username`` may watch and act on.

        The service takes them from the queue configuration; a queue that names no
        supervisors is supervised by every supervisor."""
        ...

    def current_call(self, agent_id: str) -> Message | None:
        """The call the agent is ringing for, talking on or holding (with its IVR path),
        else the call the agent is wrapping up, else ``None``.

        Raises:
            NotFound: no such agent.
        """
        ...

    def call(self, call_id: str) -> Message | None:
        """The live call ``call_id`` (call shape), or ``None`` when unknown or ended."""
        ...

    async def set_agent_state(
        self, agent_id: str, state: str, reason: str = "", *, forced_by: str | None = None
    ) -> None:
        """Ask the ACD for ``ready`` / ``not_ready`` (with ``reason``) / ``logged_out``.

        Args:
            agent_id: the agent to change.
            state: ``ready``, ``not_ready`` or ``logged_out``.
            reason: the not-ready reason code (empty otherwise).
            forced_by: the supervisor username when a supervisor forces the change.

        Raises:
            NotFound: no such agent.
            IllegalTransition: the agent's current state does not allow it.
        """
        ...

    async def wrapup_done(self, agent_id: str) -> None:
        """The agent saved the wrap-up: end the wrap-up period now.

        Raises:
            NotFound: no such agent.
            IllegalTransition: the agent is not in wrap-up.
        """
        ...

    async def wrapup_draft(self, agent_id: str, unsaved: bool) -> None:
        """The agent in wrap-up has (or no longer has) typed input not saved yet: it
        decides what the queue's wrap-up limit does (``wrap_up_timeout_action``: by
        default, an agent with unsaved input stays in wrap-up, overdue, until they save).
        Told on the call, it counts for the wrap-up that follows; in any other state it
        changes nothing.

        Raises:
            NotFound: no such agent.
        """
        ...

    async def hold(self, call_id: str) -> None:
        """Put the caller on hold (music) and park the agent leg.

        Raises:
            NotFound: no such connected call.
            IllegalTransition: already held / not connected.
            RemoteError: Asterisk refused or is unreachable.
        """
        ...

    async def unhold(self, call_id: str) -> None:
        """Bridge the held caller back to the agent. Raises like :meth:`hold`."""
        ...

    async def transfer(self, call_id: str, kind: TransferKind, target: str) -> None:
        """Transfer the caller to a queue name, an agent id or an E.164/extension number.

        Raises:
            NotFound: no such call, queue or agent.
            InvalidInput: the target is not acceptable (agent not ready, bad number).
            RemoteError: Asterisk refused or is unreachable.
        """
        ...

    async def hangup(self, call_id: str) -> None:
        """Hang up the call. Raises NotFound or RemoteError."""
        ...

    async def ack_alert(self, alert_id: str, username: str) -> Message:
        """Acknowledge a supervisor alert (active or recently cleared) as ``username``;
        the first acknowledgement stands. Returns the alert (alert shape, with
        ``acked_by`` / ``acked_at``); publishes ``{"type": "alert", "event":
        "acknowledged"}``.

        Raises:
            NotFound: no such alert (any more).
        """
        ...

    async def recording_pause(self, agent_id: str, call_id: str, paused: bool) -> None:
        """Pause (``paused``) or resume the recording of the agent's own call: the file
        gets silence meanwhile, the contact's timeline a ``recording_paused`` /
        ``recording_resumed`` note, the consoles a ``call_update``. Asking for the state
        the recording is already in changes nothing.

        Raises:
            NotFound: no such live call.
            PermissionDenied: ``agent_id`` is not the agent on the call.
            IllegalTransition: the call is not talking or held.
            Conflict: the call is not being recorded.
            RemoteError: Asterisk refused or is unreachable.
        """
        ...

    async def dial(
        self,
        agent_id: str,
        number: str,
        *,
        customer_id: str | None = None,
        queue: str | None = None,
    ) -> str:
        """Click-to-dial: ring the agent's phone, then call ``number``. Returns the call id.
        Recorded by the agent's own ``record`` key, else by ``queue``'s (the queue the
        agent dials for, noted on the contact's timeline), else not.

        Raises:
            NotFound: no such agent, or no such queue.
            InvalidInput: ``queue`` is not one of the agent's queues.
            IllegalTransition: the agent is busy.
            RemoteError: the Originate failed.
        """
        ...

    async def move_call(self, call_id: str, queue: str) -> None:
        """Move a waiting call to another queue (keeps its waiting time).

        Raises:
            NotFound: no such waiting call or queue.
        """
        ...

    async def spy(self, agent_id: str, mode: SpyMode, *, supervisor_agent_id: str) -> None:
        """Ring the supervisor's phone and, once answered, listen / whisper / barge on the
        agent's call.

        Raises:
            NotFound: no such agent, or the agent has no call.
            RemoteError: the Originate failed.
        """
        ...

    # -- chat and email (routing.digital; docs/ARCHITECTURE.md "Digital contacts") -------

    def conversations_of(self, agent_id: str) -> list[Message]:
        """The agent's conversations not closed (conversation shape), in the order they
        were assigned; ``[]`` for an unknown agent or without chat and email."""
        ...

    def conversation(self, key: str) -> Message | None:
        """The open (or recently closed) conversation ``key``, or ``None``."""
        ...

    async def conversation_reply(self, agent_id: str, key: str, text: str) -> Message:
        """The assigned agent's reply (delivered, stored, published). Returns the message.

        Raises:
            NotFound: no such open conversation.
            Conflict: not the agent's conversation, or it is not active.
            InvalidInput: an empty or too long text (64 KiB).
            RemoteError: the channel's transport (SMTP) failed; nothing was stored.
        """
        ...

    async def conversation_typing(self, agent_id: str, key: str, on: bool) -> None:
        """The agent is (or stopped) typing in the conversation: told to the visitor.

        Raises:
            NotFound, Conflict: as for :meth:`conversation_reply`.
        """
        ...

    async def conversation_end(self, agent_id: str, key: str) -> Message:
        """The agent ends the conversation (into its wrap-up). Returns the conversation.

        Raises:
            NotFound, Conflict: as for :meth:`conversation_reply`.
        """
        ...

    async def conversation_close(self, agent_id: str, key: str) -> Message:
        """The wrap-up of the conversation was saved: close it and free its slot.

        Raises:
            NotFound: no such conversation.
            Conflict: not the agent's conversation, or it is still waiting.
        """
        ...

    async def conversation_messages(
        self, key: str, after_seq: int = 0, before_seq: int = 0
    ) -> list[Message]:
        """The conversation's messages numbered above ``after_seq``, oldest first: the
        first 500 of them, or with ``before_seq`` the newest 500 below that number (a
        long thread's latest page, then the one before it).

        Raises:
            NotFound: no such conversation.
        """
        ...

    async def visitor_open(
        self,
        channel: str,
        queue: str,
        party: Message,
        subject: str = "",
        language: str = "",
        first_message: str | None = None,
    ) -> Message:
        """A chat visitor (or an inbound mail) opens a conversation in ``queue``
        (``party``: ``{"name", "phone", "email"}``). Returns the conversation plus
        ``token``, the visitor's resume token (kept hashed; never shown again).

        Raises:
            InvalidInput: a bad channel or field. NotFound: no such queue.
        """
        ...

    async def visitor_message(self, key: str, text: str, client_id: str = "") -> Message:
        """The customer's message. ``client_id`` (the widget's id of it, ≤ 64) makes it
        idempotent: the same id again in the conversation stores and delivers nothing and
        answers the first message (``"duplicate": true``). Raises NotFound, Conflict
        (ended), InvalidInput."""
        ...

    async def visitor_typing(self, key: str, on: bool) -> None:
        """The customer is (or stopped) typing. Raises NotFound."""
        ...

    async def visitor_leave(self, key: str) -> Message:
        """The customer left: a waiting conversation is abandoned, an active one ends."""
        ...

    async def visitor_transcript(self, key: str, email: str) -> Message:
        """Mail the chat so far to ``email``: ``{"message_id"}``. Raises NotFound,
        Conflict (no email channel), InvalidInput (a bad address), RemoteError."""
        ...

    def health(self) -> Message:
        """``{"ami": {"connected": bool, ...}, ...}``; ``ami.connected`` decides /healthz."""
        ...

    def subscribe(self, listener: Listener) -> Unsubscribe:
        """Call ``listener(message)`` for every change from now on; returns the function
        that stops it. The listener must not raise and must not block."""
        ...
