"""The digital desk: chat and email conversations routed by the same ACD as calls.

Theory of operation. A conversation is a contact: one ``contacts`` row written through
the center's :class:`routing.contacts.ContactRecorder` with the milestones a call has
(``arrived`` with its channel, ``queued``, ``offered`` + ``answered`` when the ACD assigns
it, ``first_response`` at the agent's first reply, ``ended``; the wrap-up by the console),
each on the contact's own lane, so the history is written the way a call's is and every
report reads it unchanged. One ACD contact: the desk queues it with
``CallQueued(channel=...)``; the engine answers ``AssignContact`` (no ring: the agent has
it at once, up to their capacity), and later ``ContactReleased`` / ``ContactUnassigned``,
which the center forwards here with every other command about a key the desk owns.

Every method persists before it returns (the history is the record: a restart rebuilds
the desk from the store with :meth:`DigitalDesk.restore`) and then publishes through the
center's listeners, so the console hub and the cluster bus carry what happened:
``conversation_assigned``, ``conversation_update``, ``conversation_message``,
``conversation_typing``, and ``visitor_event`` for the visitor's side of a chat (never
sent to a console: the hub drops it). An email reply is stored first (``meta.delivery``
``queued``, with the Message-ID the transport prepared), then goes out through
``transports["email"]`` and is marked ``sent`` or ``failed``: what the agent wrote
survives a relay that is down, and a stop between the two is made good at the next
start (:meth:`DigitalDesk.deliver_queued`). A chat needs no transport, its visitor
socket follows the ``visitor_event`` messages.

States: ``waiting`` (in line) -> ``active`` (assigned) -> ``ended`` (the customer or the
agent ended it; the agent's slot is held for the wrap-up) -> ``closed`` (wrap-up saved,
or the queue's wrap-up limit passed). A customer who leaves while waiting ends it
``abandoned_queue`` and it is closed at once (there is nobody to wrap it up).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from config.errors import Conflict, InvalidInput, NotFound, SwitchboardError
from crm_lookup.conversations import (
    DIGITAL_CHANNELS,
    MAX_PAGE,
    MAX_SUBJECT,
    clean_body,
    clean_meta,
    clean_text,
)
from crm_lookup.mail_store import addr_spec
from routing.acd import commands as acd_cmd
from routing.acd import events as acd_ev
from routing.chat_protocol import message_frame
from routing.live import LiveCall, Phase
from routing.mail_message import DeliveryStatus
from routing.tasks import TaskSet

log = logging.getLogger(__name__)

#: closed conversations kept in memory for a console that asks right after
RECENT = 500
#: chat widget message ids kept in memory per conversation (older ones: the store)
CLIENT_IDS = 1000


class Transport(Protocol):
    """How an agent's reply leaves on a channel (email: SMTP, ``routing.mail_outbound``).

    ``deliver`` gets the message as stored (its meta holds what an optional ``async
    prepare(conversation, message) -> Mapping`` answered before the store, e.g. the
    email's Message-ID) and must be idempotent for it: a reply left queued by a crash is
    delivered again at the next start."""

    async def deliver(
        self, conversation: dict[str, Any], message: dict[str, Any]
    ) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Party:
    """Who the conversation is with, as they gave it (a chat's pre-chat form, a mail's From)."""

    name: str = ""
    phone: str = ""
    email: str = ""

    @classmethod
    def of(cls, value: Party | Mapping[str, Any] | None) -> Party:
        """A Party from itself or a mapping, each field checked.

        Raises:
            InvalidInput: a field too long or with control characters.
        """
        if isinstance(value, Party):
            data: Mapping[str, Any] = {
                "name": value.name,
                "phone": value.phone,
                "email": value.email,
            }
        elif value is None:
            data = {}
        elif isinstance(value, Mapping):
            data = value
        else:
            raise InvalidInput("party must be an object", field="party")
        return cls(
            name=clean_text(str(data.get("name") or ""), "name", 200),
            phone=clean_text(str(data.get("phone") or ""), "phone", 64),
            email=clean_text(str(data.get("email") or ""), "email", 254),
        )

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "phone": self.phone, "email": self.email}


@dataclass(slots=True)
class Conversation:
    """The desk's record of one open conversation; ``call`` is its handle for the
    contact recorder (the same ``LiveCall`` shape a call has; no Asterisk channel)."""

    key: str
    channel: str
    state: str
    queue: str
    party: Party
    call: LiveCall
    subject: str = ""
    language: str = ""
    thread: str = ""
    priority: int = 0
    skills: dict[str, int] = field(default_factory=dict)
    agent_id: str | None = None
    opened_at: float = 0.0
    queued_at: float | None = None
    assigned_at: float | None = None
    ended_at: float | None = None
    first_response_at: float | None = None
    last_seq: int = 0
    card: dict[str, Any] | None = None
    #: the chat widget's client_id -> the number its message was stored under (a resend
    #: after a lost ack is answered with it); ``client_ids_whole``: every id of the
    #: conversation is here (False after a restart or once the oldest were forgotten:
    #: then the store is asked)
    client_ids: OrderedDict[str, int] = field(default_factory=OrderedDict)
    client_ids_whole: bool = True

    @property
    def customer_id(self) -> int | None:
        value = self.call.customer_id
        return value if isinstance(value, int) else None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "channel": self.channel,
            "state": self.state,
            "queue": self.queue,
            "agent_id": self.agent_id,
            "customer_id": self.customer_id,
            "contact_id": self.call.contact_id,
            "party": self.party.to_json(),
            "subject": self.subject,
            "language": self.language,
            "opened_at": self.opened_at,
            "queued_at": self.queued_at,
            "assigned_at": self.assigned_at,
            "ended_at": self.ended_at,
            "first_response_at": self.first_response_at,
            "last_seq": self.last_seq,
            "thread": self.thread,
        }


def _flag(on: bool | str) -> bool:
    """A typing flag from the console port (the cluster forwards strings)."""
    if isinstance(on, str):
        if on not in ("true", "false"):
            raise InvalidInput("on must be true or false", field="on")
        return on == "true"
    return bool(on)


class DigitalDesk:
    """Chat and email conversations on the center's ACD, history and listeners.

    Args:
        center: the running ``routing.center.CallCenter`` (its ``acd``, ``_execute``,
            ``_publish``, ``recorder``, ``queues``); the wiring sets ``center.digital``.
        store: the open ``crm_lookup.store.Store`` (``conversations``, ``customers``).
        directory: ``crm_lookup.directory.Directory`` (the customer card of the pop).
        clock: epoch seconds.
    """

    def __init__(
        self,
        center: Any,
        store: Any,
        directory: Any,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.center = center
        self.store = store
        self.directory = directory
        self.clock = clock
        #: channel -> how an agent's reply leaves on it (set by the wiring: "email")
        self.transports: dict[str, Transport] = {}
        self._open: dict[str, Conversation] = {}
        self._by_agent: dict[str, dict[str, None]] = {}
        self._closed: OrderedDict[str, Conversation] = OrderedDict()
        self._transcribed: set[str] = set()  # chats whose transcript was mailed
        self._delivering: set[tuple[str, int]] = set()  # replies with their transport now
        self._tasks = TaskSet(log, "digital desk task failed")

    # ------------------------------------------------------------------ reads

    def owns(self, key: str | None) -> bool:
        """Whether ``key`` is a conversation the desk has open (the center forwards its
        commands here)."""
        return key is not None and key in self._open

    def conversation(self, key: str) -> dict[str, Any] | None:
        """An open (or recently closed) conversation's JSON, or None."""
        conv = self._open.get(key) or self._closed.get(key)
        return conv.to_json() if conv is not None else None

    def conversations_of(self, agent_id: str) -> list[dict[str, Any]]:
        """The agent's conversations not closed (active, or ended awaiting the wrap-up),
        in the order they were assigned."""
        return [
            self._open[k].to_json() for k in self._by_agent.get(agent_id, ()) if k in self._open
        ]

    def open_conversations(self) -> list[dict[str, Any]]:
        """Every conversation not closed (the supervisors' snapshot)."""
        return [conv.to_json() for conv in self._open.values()]

    async def send_transcript(self, key: str, to: str) -> str:
        """Mail the chat's messages so far to ``to`` (the visitor asked for them) through
        the email transport; returns the mail's Message-ID.

        Raises:
            NotFound: no such conversation. Conflict: no email transport is configured
            (``[email]``). InvalidInput: a bad address. RemoteError: the relay failed.
        """
        transport = self.transports.get("email")
        sender = getattr(transport, "send_transcript", None)
        if sender is None:
            raise Conflict("transcripts by email need the email channel ([email])")
        conversation = self.conversation(key) or await self.store.conversations.get(key)
        if conversation is None:
            raise NotFound(f"no conversation {key[:80]!r}")
        # An anonymous visitor asks for it: one mail per chat, and to the address given
        # at the start when there was one, so the service is no one's mail cannon.
        if key in self._transcribed:
            raise Conflict("this chat's transcript was sent already")
        given = str((conversation.get("party") or {}).get("email") or "")
        if given and given.lower() != to.strip().lower():
            raise InvalidInput("the transcript goes to the email given at the start", field="email")
        self._transcribed.add(key)
        messages = await self.messages(key)
        try:
            message_id: str = await sender(given or to, conversation, messages)
        except BaseException:
            self._transcribed.discard(key)
            raise
        return message_id

    async def messages(
        self, key: str, after_seq: int = 0, limit: int = MAX_PAGE, *, before_seq: int = 0
    ) -> list[dict[str, Any]]:
        """The conversation's messages numbered above ``after_seq``, oldest first (from
        the store: any conversation, open or not): the first ``limit`` of them, or with
        ``before_seq`` the newest ``limit`` below that number (a long thread's latest
        page, and the page before it).

        Raises:
            NotFound: no such conversation.
            InvalidInput: a bad ``after_seq`` or ``limit``.
        """
        known = key in self._open or key in self._closed
        if not known and await self.store.conversations.get(key) is None:
            raise NotFound(f"no conversation {key[:80]!r}")
        repo = self.store.conversations
        if before_seq:
            newest: list[dict[str, Any]] = await repo.messages_before(key, before_seq, limit)
            return [m for m in newest if m["seq"] > after_seq]
        messages: list[dict[str, Any]] = await repo.messages(key, after_seq, limit)
        return messages

    # ------------------------------------------------------------------ opening

    async def open_conversation(
        self,
        channel: str,
        *,
        queue: str,
        party: Party | Mapping[str, Any] | None = None,
        subject: str = "",
        language: str = "",
        priority: int = 0,
        skills: Mapping[str, int] | None = None,
        thread: str = "",
        first_message: str | None = None,
        meta: Mapping[str, Any] | None = None,
        visitor_token: str = "",
    ) -> dict[str, Any]:
        """Open a chat or an email conversation and queue it in the ACD.

        The customer is found by the party's phone, then e-mail; the contact and the
        conversation rows (and the first message) are written before it is queued.

        Returns:
            The conversation JSON (its state ``waiting``, or ``active`` when an agent had
            room at once).

        Raises:
            InvalidInput: an unknown channel, a field too long, a bad first message.
            NotFound: no such queue.
        """
        if channel not in DIGITAL_CHANNELS:
            raise InvalidInput("channel must be chat or email", field="channel")
        who = Party.of(party)
        title = clean_text(subject, "subject", MAX_SUBJECT)
        lang = clean_text(language, "language", 16)
        continues = clean_text(thread, "thread", 80)
        if not isinstance(priority, int) or not -1000 <= priority <= 1000:
            raise InvalidInput("priority must be a whole number -1000..1000", field="priority")
        try:
            wanted = {str(k)[:64]: int(v) for k, v in (skills or {}).items()}
        except (TypeError, ValueError, AttributeError):
            raise InvalidInput("skills map a skill to a whole level", field="skills") from None
        if len(wanted) > 32:
            raise InvalidInput("at most 32 skills", field="skills")
        if not isinstance(queue, str):
            raise InvalidInput("queue is required", field="queue")
        body = clean_body(first_message) if first_message is not None else None
        meta_text = clean_meta(meta)
        if queue not in self.center.queues:
            raise NotFound(f"no queue {queue[:64]!r}")
        if channel not in self.center.queues[queue].channels:
            raise InvalidInput(f"queue {queue} does not take {channel}", field="queue")
        customer = await self._find_customer(who)
        now = self.clock()
        key = f"{channel}:{uuid.uuid4().hex}"
        caller = who.phone or (who.email if len(who.email) <= 64 else "")
        call = LiveCall(
            call_id=key,
            channel="",
            uniqueid="",
            caller=caller,
            dialed="",
            arrived_at=now,
            phase=Phase.WAITING,
            language=lang,
            queue=queue,
            customer_id=customer.id if customer is not None else None,
            tier=(customer.tier if customer is not None else "").lower(),
        )
        # a conversation continuing an earlier one (an email reply after it was closed)
        # is offered to that conversation's agent first, within the sticky window
        if continues:
            call.sticky_agent = await self._thread_agent(continues, now)
        conv = Conversation(
            key=key,
            channel=channel,
            state="waiting",
            queue=queue,
            party=who,
            call=call,
            subject=title,
            language=lang,
            thread=continues,
            priority=priority,
            skills=wanted,
            opened_at=now,
        )
        recorder = self.center.recorder
        recorder.arrived(call, channel=channel)
        await recorder.settled(key)
        await self.store.conversations.create(
            key,
            channel,
            queue=queue,
            party=who.to_json(),
            subject=title,
            language=lang,
            thread=continues,
            priority=priority,
            skills=wanted,
            at=now,
        )
        if visitor_token:
            await self.store.conversations.set_visitor_token(key, visitor_token)
        if body is not None:
            conv.last_seq = 1
            await self.store.conversations.add_message(
                key, 1, "customer", body, name=who.name, meta=json.loads(meta_text), at=now
            )
        self._spawn(self._load_card(conv), f"card-{key}")
        self._open[key] = conv
        try:
            self._enqueue(conv, since=None)
        except SwitchboardError:
            # the engine refused it (a full queue, say): no contact is left open
            conv.state, conv.ended_at = "closed", self.clock()
            recorder.ended(call, conv.ended_at, "failed")
            self._persist(conv, state="closed")
            self._retire(conv)
            await recorder.settled(key)
            raise
        await recorder.settled(key)
        return conv.to_json()

    async def _thread_agent(self, thread: str, now: float) -> str | None:
        prior = await self.store.conversations.get(thread)
        if prior is None or not prior.get("agent_id"):
            return None
        settings = getattr(self.center, "settings", None)
        hours = settings.routing.sticky_window_hours if settings is not None else 72.0
        if float(prior.get("updated_at") or 0) < now - hours * 3600:
            return None
        return str(prior["agent_id"])

    async def _find_customer(self, who: Party) -> Any:
        customers = self.store.customers
        if who.phone:
            with contextlib.suppress(InvalidInput):
                found = await customers.find_by_phone(who.phone)
                if found is not None:
                    return found
        if who.email:
            return await customers.find_by_email(who.email)
        return None

    def _enqueue(self, conv: Conversation, *, since: float | None) -> None:
        """Hand the conversation to the ACD (``since``: a restart keeps its place)."""
        now = self.clock()
        conv.state = "waiting"
        first = conv.queued_at is None  # a restart re-queues without a second milestone
        conv.queued_at = conv.queued_at or now
        conv.call.queued_at = conv.queued_at
        conv.call.phase = Phase.WAITING
        if first:
            self.center.recorder.queued(conv.call, now)
        commands = self.center.acd.handle(
            acd_ev.CallQueued(
                conv.key,
                conv.queue,
                priority=conv.priority,
                skills=dict(conv.skills),
                customer_id=str(conv.customer_id) if conv.customer_id is not None else None,
                tier=conv.call.tier,
                caller=conv.call.caller,
                since=since,
                channel=conv.channel,
                sticky_agent=conv.call.sticky_agent,
            ),
            now,
        )
        self._publish_update(conv)
        self.center._execute(commands)

    async def _load_card(self, conv: Conversation) -> None:
        try:
            if conv.customer_id is not None:
                card = (await self.directory.card(conv.customer_id)).to_json()
                card["recent_contacts"] = [
                    c
                    for c in card.get("recent_contacts", [])
                    if c.get("id") != conv.call.contact_id
                ]
            else:
                card = _new_party_card(conv.party)
        except SwitchboardError as exc:
            log.warning(
                "card lookup failed", extra={"fields": {"conversation": conv.key, "error": exc}}
            )
            card = _new_party_card(conv.party)
        conv.card = card

    # ------------------------------------------------------------------ messages

    async def customer_message(
        self,
        key: str,
        text: str,
        *,
        meta: Mapping[str, Any] | None = None,
        client_id: str = "",
    ) -> dict[str, Any]:
        """A message from the customer (the chat visitor, an email reply).

        ``client_id`` (the chat widget's id of the message) makes it idempotent: the same
        id again in the conversation (a resend after the acknowledgement was lost) stores
        and publishes nothing and returns the first message, with ``"duplicate": True``.

        Returns:
            The message JSON as stored.

        Raises:
            NotFound: no such open conversation.
            Conflict: it has ended.
            InvalidInput: a bad body, meta or client_id.
        """
        conv = self._live(key)
        if conv.state in ("ended", "closed"):
            raise Conflict("the conversation has ended")
        body = clean_body(text)
        cid = clean_text(client_id or "", "client_id", 64)
        extra = dict(meta or {})
        if cid:
            extra["client_id"] = cid
            first = await self._sent_before(conv, cid)
            if first is not None:
                return {**first, "duplicate": True}
        clean_meta(extra)
        conv.last_seq += 1
        seq = conv.last_seq
        if cid:  # before the write: a resend racing it finds the number already taken
            self._remember_client_id(conv, cid, seq)
        try:
            message: dict[str, Any] = await self.store.conversations.add_message(
                key,
                seq,
                "customer",
                body,
                name=conv.party.name,
                meta=extra if (meta is not None or cid) else None,
                at=self.clock(),
                bump=False,
            )
        except BaseException:
            if cid and conv.client_ids.get(cid) == seq:
                del conv.client_ids[cid]  # not stored: a resend must store it
            raise
        self._publish_message(conv, message)
        return message

    async def _sent_before(self, conv: Conversation, client_id: str) -> dict[str, Any] | None:
        """The message the widget sent with ``client_id`` already, or None."""
        seq = conv.client_ids.get(client_id)
        if seq is None:
            if conv.client_ids_whole:
                return None
            found: dict[str, Any] | None = await self.store.conversations.by_client_id(
                conv.key, client_id
            )
            return found
        stored = await self.store.conversations.messages(conv.key, seq - 1, 1)
        if stored and stored[0]["seq"] == seq:
            return dict(stored[0])
        # still being written by the first send: its number is all the widget needs
        return {"conversation": conv.key, "seq": seq, "sender": "customer"}

    def _remember_client_id(self, conv: Conversation, client_id: str, seq: int) -> None:
        conv.client_ids[client_id] = seq
        while len(conv.client_ids) > CLIENT_IDS:
            conv.client_ids.popitem(last=False)
            conv.client_ids_whole = False  # the forgotten ones are in the store

    async def agent_message(
        self, key: str, agent_id: str, text: str, *, meta: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The assigned agent's reply: stored, then delivered on the channel's transport
        (if it has one); the first one delivered is the contact's first response.

        On a channel with a transport the message is stored first with ``meta.delivery``
        ``"queued"`` (and what the transport's ``prepare`` gave, e.g. the Message-ID),
        then handed over and marked ``"sent"`` (with what the transport answered) or
        ``"failed"`` (with ``delivery_error``): nothing the agent wrote is lost when the
        relay is down, and one left queued by a crash goes out at the next start
        (:meth:`deliver_queued`).

        Raises:
            NotFound: no such open conversation.
            Conflict: not this agent's conversation, or it is not active.
            InvalidInput: a bad body or meta.
        """
        conv = self._live(key)
        if conv.agent_id != agent_id:
            raise Conflict("this conversation is not assigned to you")
        if conv.state != "active":
            raise Conflict("the conversation is not active")
        body = clean_body(text)
        extra = dict(meta or {})
        clean_meta(extra)
        now = self.clock()
        conv.last_seq += 1
        seq = conv.last_seq
        name = self._agent_name(agent_id)
        message = {
            "conversation": key,
            "seq": seq,
            "sender": "agent",
            "agent_id": agent_id,
            "name": name,
            "text": body,
            "at": now,
            "meta": extra,
        }
        transport = self.transports.get(conv.channel)
        if transport is not None:
            prepare = getattr(transport, "prepare", None)
            try:
                if prepare is not None:
                    extra.update(dict(await prepare(conv.to_json(), message)))
                extra["delivery"] = "queued"
                clean_meta(extra)
            except BaseException:
                if conv.last_seq == seq:
                    conv.last_seq -= 1  # nothing stored: the number is free again
                raise
        try:
            stored: dict[str, Any] = await self.store.conversations.add_message(
                key,
                seq,
                "agent",
                body,
                agent_id=agent_id,
                name=name,
                meta=extra,
                at=now,
                bump=False,
            )
        except BaseException:
            if conv.last_seq == seq:
                conv.last_seq -= 1
            raise
        if transport is not None:
            stored = await self._deliver(transport, conv.to_json(), stored)
            if stored["meta"].get("delivery") != "sent":
                self._publish_message(conv, stored)  # kept, shown as not sent
                return stored
        if conv.first_response_at is None:
            conv.first_response_at = now
            self.center.recorder.first_response(conv.call, now)
            await self.center.recorder.settled(key)
        self._publish_message(conv, stored)
        return stored

    async def _deliver(
        self, transport: Transport, conversation: dict[str, Any], message: dict[str, Any]
    ) -> dict[str, Any]:
        """Hand a stored reply to its transport and write the outcome into its meta
        (``sent`` plus the transport's answer, or ``failed`` plus why)."""
        mark = (str(message["conversation"]), int(message["seq"]))
        if mark in self._delivering:
            return message  # with the transport already (the start's resend meets a reply)
        self._delivering.add(mark)
        try:
            drop: tuple[str, ...] = ()
            try:
                answer = await transport.deliver(conversation, message)
            except SwitchboardError as exc:
                changes: dict[str, Any] = {
                    "delivery": "failed",
                    "delivery_error": str(exc)[:300],
                }
                log.warning(
                    "reply not delivered; kept as failed",
                    extra={"fields": {"key": mark[0], "seq": mark[1], "error": str(exc)[:300]}},
                )
            else:
                changes = {**dict(answer), "delivery": "sent"}
                drop = ("delivery_error",)
            # merged into the meta as stored now, not the copy taken before the relay
            # call: a bounce shown meanwhile (delivery_report) stays "bounced"
            meta = await self.store.conversations.update_meta(mark[0], mark[1], changes, drop=drop)
            if meta is None:  # the message is gone (a purge): what it would have been
                meta = {**dict(message.get("meta") or {}), **changes}
                for name in drop:
                    meta.pop(name, None)
            return {**message, "meta": meta}
        finally:
            self._delivering.discard(mark)

    async def deliver_queued(self) -> int:
        """Send the replies a stop left queued (stored, never handed over, or handed over
        with no answer written back): each through its channel's transport, which knows
        one it took already by its Message-ID. Returns how many were tried."""
        tried = 0
        for message in await self.store.conversations.undelivered():
            key = str(message["conversation"])
            transport = self.transports.get(key.partition(":")[0])
            conversation = self.conversation(key) or await self.store.conversations.get(key)
            if transport is None or conversation is None:
                continue
            await self._deliver(transport, conversation, message)
            tried += 1
        if tried:
            log.info("queued replies delivered at start", extra={"fields": {"tried": tried}})
        return tried

    async def delivery_report(
        self,
        key: str,
        *,
        report_id: str,
        reported_ids: Sequence[str],
        recipient: str,
        delivery: Sequence[DeliveryStatus] = (),
    ) -> dict[str, Any] | None:
        """A bounce (RFC 3464 report ``report_id``) of an agent's reply in conversation
        ``key``, open or closed: a system line in its thread saying that the reply did
        not arrive and why (``meta.bounce``: ``report_id``, ``reply_seq``,
        ``reply_message_id``, ``recipient``, ``action``, ``status``, ``diagnostic``), and
        the reply marked ``meta.delivery = "bounced"`` with ``delivery_error``.

        Only a report of one of the thread's replies counts: ``reported_ids`` (the
        report's own account of the returned message, never the bounce's threading
        headers) must name an agent's message of ``key`` by its Message-ID, and a
        recipient block must be the reply's To (``recipient``, the address it was sent
        to; addr-specs, ignoring case). ``Action: failed`` of it marks the reply;
        ``delayed`` writes a line saying so and leaves the reply as it was. Anything
        else — no such reply, no status, only another recipient (a CC) failed, a success
        — writes nothing and returns None. The same report again writes nothing (returns
        the first line).

        Raises:
            NotFound: no such conversation.
        """
        repo = self.store.conversations
        conv = self._open.get(key)
        row = conv.to_json() if conv is not None else await repo.get(key)
        if row is None:
            raise NotFound(f"no conversation {key[:80]!r}")
        first = await repo.with_meta(key, "report_id", report_id, sender="system", limit=1)
        if first:
            return dict(first[0])
        reply: dict[str, Any] | None = None
        for message_id in list(reported_ids)[:20]:
            found = await repo.with_meta(key, "message_id", message_id, sender="agent", limit=1)
            if found:
                reply = found[0]
                break
        to = addr_spec(recipient or str((row.get("party") or {}).get("email") or ""))
        mine = [d for d in delivery if to and addr_spec(d.recipient) == to]
        chosen = next((d for d in mine if d.action == "failed"), None) or next(
            (d for d in mine if d.action == "delayed"), None
        )
        if reply is None or chosen is None:
            log.info(
                "delivery report of no reply's recipient: not shown",
                extra={
                    "fields": {"key": key, "report_id": report_id[:200], "reply": reply is not None}
                },
            )
            return None
        failed = chosen.action == "failed"
        detail = " ".join(x for x in (chosen.status, chosen.diagnostic) if x)
        detail = detail or "the mail server gave no reason"
        shown = chosen.recipient or to
        if failed:
            text = f"Your reply to {shown} could not be delivered: {detail}"
        else:
            text = f"Your reply to {shown} is delayed (the mail server keeps trying): {detail}"
        meta = {
            "bounce": {
                "report_id": report_id,
                "reply_seq": int(reply["seq"]),
                "reply_message_id": str(reply.get("meta", {}).get("message_id") or ""),
                "recipient": shown,
                "action": chosen.action,
                "status": chosen.status,
                "diagnostic": chosen.diagnostic,
            }
        }
        if conv is not None:
            conv.last_seq += 1
            seq = conv.last_seq
        else:  # closed: nothing else writes to it any more
            seq = await repo.last_seq(key) + 1
        try:
            message: dict[str, Any] = await repo.add_message(
                key, seq, "system", text, meta=meta, at=self.clock(), bump=conv is None
            )
        except BaseException:
            if conv is not None and conv.last_seq == seq:
                conv.last_seq -= 1
            raise
        if failed:  # merged into the reply's meta as stored now (a send may be writing)
            await repo.update_meta(
                key, int(reply["seq"]), {"delivery": "bounced", "delivery_error": detail[:300]}
            )
        log.info(
            "bounce shown in its conversation",
            extra={"fields": {"key": key, "seq": seq, "reply_seq": meta["bounce"]["reply_seq"]}},
        )
        # to the consoles only (never a chat visitor's socket: a transcript's bounce)
        self.center._publish(
            {
                "type": "conversation_message",
                "agent_id": row.get("agent_id"),
                "queue": row.get("queue"),
                "conversation_key": key,
                "message": message,
            }
        )
        return message

    def typing(self, key: str, who: str, on: bool | str) -> None:
        """Someone is typing (``who``: "customer" or the assigned agent's id); not stored.

        Raises:
            NotFound: no such open conversation.
            Conflict: an agent who does not have it.
        """
        conv = self._live(key)
        flag = _flag(on)
        if conv.state != "active" and who != "customer":
            return
        if who == "customer":
            self.center._publish(
                {
                    "type": "conversation_typing",
                    "agent_id": conv.agent_id,
                    "queue": conv.queue,
                    "conversation_key": key,
                    "who": "customer",
                    "on": flag,
                }
            )
            return
        if conv.agent_id != who:
            raise Conflict("this conversation is not assigned to you")
        self._visitor(conv, {"type": "typing", "on": flag})

    # ------------------------------------------------------------------ ending

    async def end(self, key: str, by: str) -> dict[str, Any]:
        """The conversation is over (``by``: "customer", the agent's id or "system"). A
        waiting one is abandoned (and closed); an active one ends into the agent's
        wrap-up. Ending it again changes nothing.

        Raises:
            NotFound: no such conversation.
            Conflict: an agent who does not have it.
        """
        conv = self._open.get(key)
        if conv is None:
            closed = self._closed.get(key)
            if closed is not None:
                return closed.to_json()
            raise NotFound(f"no open conversation {key[:80]!r}")
        if by not in ("customer", "system") and conv.agent_id != by:
            raise Conflict("this conversation is not assigned to you")
        if conv.state in ("ended", "closed"):
            return conv.to_json()
        now = self.clock()
        conv.ended_at = now
        conv.call.ended_at = now
        recorder = self.center.recorder
        if conv.state == "waiting":
            conv.state = "closed"
            conv.call.phase = Phase.ENDED
            with contextlib.suppress(SwitchboardError):
                self.center._execute(self.center.acd.handle(acd_ev.CallAbandoned(key), now))
            recorder.ended(conv.call, now, "abandoned_queue")
            self._persist(conv, state="closed")
            await recorder.settled(key)
            self._retire(conv)
        else:
            conv.state = "ended"
            conv.call.phase = Phase.ENDED
            with contextlib.suppress(SwitchboardError):
                self.center._execute(self.center.acd.handle(acd_ev.CallEnded(key), now))
            recorder.ended(conv.call, now, "answered")
            self._persist(conv, state="ended")
            await recorder.settled(key)
        self._publish_update(conv)
        self._visitor(conv, {"type": "ended", "by": "customer" if by == "customer" else "agent"})
        return conv.to_json()

    async def close(self, key: str, agent_id: str) -> dict[str, Any]:
        """The agent saved the wrap-up: the conversation is closed and its slot freed
        (ACD ``ContactClosed``). An active one is ended first. Closing it again changes
        nothing.

        Raises:
            NotFound: no such conversation.
            Conflict: not this agent's conversation, or it is still waiting.
        """
        conv = self._open.get(key)
        if conv is None:
            closed = self._closed.get(key)
            if closed is not None and closed.agent_id == agent_id:
                return closed.to_json()
            if closed is not None:
                raise Conflict("this conversation is not assigned to you")
            raise NotFound(f"no open conversation {key[:80]!r}")
        if conv.agent_id != agent_id:
            raise Conflict("this conversation is not assigned to you")
        if conv.state == "waiting":
            raise Conflict("the conversation is still waiting for an agent")
        if conv.state == "active":
            await self.end(key, agent_id)
        now = self.clock()
        conv.state = "closed"
        self._persist(conv, state="closed")
        await self.center.recorder.settled(key)
        self._retire(conv)
        with contextlib.suppress(SwitchboardError):
            self.center._execute(self.center.acd.handle(acd_ev.ContactClosed(key), now))
        self._publish_update(conv)
        self._agent_changed(agent_id)
        return conv.to_json()

    def _retire(self, conv: Conversation) -> None:
        self._open.pop(conv.key, None)
        if conv.agent_id is not None:
            held = self._by_agent.get(conv.agent_id)
            if held is not None:
                held.pop(conv.key, None)
                if not held:
                    del self._by_agent[conv.agent_id]
        self._closed[conv.key] = conv
        while len(self._closed) > RECENT:
            self._closed.popitem(last=False)

    # ------------------------------------------------------------------ ACD commands

    def handle(self, command: acd_cmd.Command) -> None:
        """An ACD command about a conversation (the center forwards it; synchronous)."""
        if isinstance(command, acd_cmd.AssignContact):
            self._assign(command)
        elif isinstance(command, acd_cmd.ContactReleased):
            self._released(command)
        elif isinstance(command, acd_cmd.ContactUnassigned):
            self._unassigned(command)
        elif isinstance(command, acd_cmd.MaxWaitReached):
            self._max_wait(command)
        elif isinstance(command, acd_cmd.CallJoinedQueue):
            conv = self._open.get(command.call_id)
            if conv is not None and conv.queue != command.queue:
                conv.queue = conv.call.queue = command.queue
                self._persist(conv, queue=command.queue)
                self._publish_update(conv)
            if conv is not None:
                self._position(conv, command.position, command.seconds)
        elif isinstance(command, acd_cmd.Announce):
            conv = self._open.get(command.call_id)
            if conv is not None:
                self._position(conv, command.position, command.seconds)

    def _position(self, conv: Conversation, position: int, seconds: float) -> None:
        conv.call.position = position
        conv.call.estimate = round(seconds, 1)
        self._visitor(conv, {"type": "queued", "position": position, "estimate": round(seconds, 1)})

    def _assign(self, command: acd_cmd.AssignContact) -> None:
        conv = self._open.get(command.call_id)
        if conv is None:
            log.warning(
                "assignment of an unknown conversation", extra={"fields": {"key": command.call_id}}
            )
            return
        now = self.clock()
        conv.state = "active"
        conv.agent_id = command.agent_id
        conv.assigned_at = conv.assigned_at or now
        conv.queue = command.queue or conv.queue
        call = conv.call
        call.agent_id, call.queue, call.phase = command.agent_id, conv.queue, Phase.TALKING
        call.answered_at = conv.assigned_at
        self._by_agent.setdefault(command.agent_id, {})[conv.key] = None
        recorder = self.center.recorder
        recorder.offered(call, now)
        recorder.answered(call, now)
        self._persist(conv, state="active", agent_id=command.agent_id, queue=conv.queue)
        self._agent_changed(command.agent_id)
        self._spawn(self._announce_assignment(conv, command.agent_id), f"assign-{conv.key}")

    async def _announce_assignment(self, conv: Conversation, agent_id: str) -> None:
        """Once the assignment is written, pop it on the agent's console (with the card)."""
        await self.center.recorder.settled(conv.key)
        if conv.card is None:
            await self._load_card(conv)
        if conv.agent_id != agent_id or conv.state == "waiting":
            return  # taken back meanwhile (the agent logged out)
        self.center._publish(
            {
                "type": "conversation_assigned",
                "agent_id": agent_id,
                "queue": conv.queue,
                "conversation": conv.to_json(),
                "card": conv.card,
            }
        )
        self._visitor(conv, {"type": "joined", "agent_name": self._agent_name(agent_id)})

    def _released(self, command: acd_cmd.ContactReleased) -> None:
        conv = self._open.get(command.call_id)
        if conv is None:
            return  # closed by the agent already: the engine confirms it
        now = self.clock()
        if conv.state == "active":
            # logged out (or timed out) with the conversation still going: it ends
            conv.state = "ended"
            conv.ended_at = conv.call.ended_at = now
            self.center.recorder.ended(conv.call, now, "answered")
        conv.state = "closed"
        self._retire(conv)
        self._persist(conv, state="closed")
        self._publish_update(conv)
        self._agent_changed(command.agent_id)
        log.info(
            "conversation released",
            extra={
                "fields": {"key": conv.key, "agent": command.agent_id, "reason": command.reason}
            },
        )

    def _unassigned(self, command: acd_cmd.ContactUnassigned) -> None:
        conv = self._open.get(command.call_id)
        if conv is None:
            return
        held = self._by_agent.get(command.agent_id)
        if held is not None:
            held.pop(conv.key, None)
            if not held:
                del self._by_agent[command.agent_id]
        conv.state = "waiting"
        conv.agent_id = None
        conv.call.agent_id = None
        conv.call.phase = Phase.WAITING
        self.center.recorder.note(
            conv.call, "unassigned", {"agent": command.agent_id}, self.clock()
        )
        self._persist(conv, state="waiting", agent_id="")
        # told to the agent who had it (their console drops it) and the queue's supervisors
        self._publish_update(conv, agent_id=command.agent_id)
        self._agent_changed(command.agent_id)

    def _max_wait(self, command: acd_cmd.MaxWaitReached) -> None:
        conv = self._open.get(command.call_id)
        if conv is None:
            return
        if command.action != "overflow" or not command.target:
            return  # a chat or an email never hangs up: only overflow applies
        conv.queue = conv.call.queue = command.target
        self.center.recorder.note(conv.call, "overflow", {"to": command.target}, self.clock())
        self._persist(conv, queue=command.target)
        self._publish_update(conv)

    def _persist(self, conv: Conversation, **changes: Any) -> None:
        """Write a change of the conversation row on the contact's lane of the recorder:
        in order with the contact's milestones and with each other, whatever path (an
        ACD command, a console action) decided it; ``recorder.settled`` waits for it."""
        repo, key, at, seq = self.store.conversations, conv.key, self.clock(), conv.last_seq
        self.center.recorder.contact_write(
            key, "conversation", lambda: repo.update(key, at=at, last_seq=seq, **changes)
        )

    # ------------------------------------------------------------------ restart

    async def restore(self) -> int:
        """Bring back every conversation not closed (at start-up, before any new one):
        waiting ones queued again with their original queue time, assigned ones adopted
        by their agent, ended ones adopted and ended (the wrap-up goes on). Returns how
        many were restored."""
        rows = await self.store.conversations.open_ones()
        now = self.clock()
        restored = 0
        waiting: list[Conversation] = []
        for row in rows:
            if row["key"] in self._open:
                continue
            conv = self._from_row(row)
            conv.last_seq = max(conv.last_seq, await self.store.conversations.last_seq(conv.key))
            self._open[conv.key] = conv
            self._spawn(self._load_card(conv), f"card-{conv.key}")
            restored += 1
            if conv.state == "waiting" or conv.agent_id is None:
                waiting.append(conv)
                continue
            try:
                self.center._execute(
                    self.center.acd.handle(
                        acd_ev.CallAdopted(
                            conv.key,
                            conv.queue,
                            conv.agent_id,
                            since=min(now, conv.queued_at or conv.opened_at),
                            answered_at=min(now, conv.assigned_at or now),
                            priority=conv.priority,
                            skills=dict(conv.skills),
                            customer_id=str(conv.customer_id)
                            if conv.customer_id is not None
                            else None,
                            tier=conv.call.tier,
                            caller=conv.call.caller,
                            channel=conv.channel,
                        ),
                        now,
                    )
                )
            except SwitchboardError as exc:
                log.warning(
                    "conversation not adopted after the restart; it waits again",
                    extra={"fields": {"key": conv.key, "agent": conv.agent_id, "error": exc}},
                )
                conv.agent_id = conv.call.agent_id = None
                conv.state = "waiting"
                self._persist(conv, state="waiting", agent_id="")
                waiting.append(conv)
                continue
            self._by_agent.setdefault(conv.agent_id, {})[conv.key] = None
            if conv.state == "ended":
                with contextlib.suppress(SwitchboardError):
                    self.center._execute(self.center.acd.handle(acd_ev.CallEnded(conv.key), now))
            self._publish_update(conv)
        for conv in sorted(waiting, key=lambda c: c.queued_at or c.opened_at):
            since = min(now, conv.queued_at) if conv.queued_at is not None else None
            try:
                self._enqueue(conv, since=since)
            except SwitchboardError as exc:
                log.error(
                    "conversation could not be queued again",
                    extra={"fields": {"key": conv.key, "queue": conv.queue, "error": exc}},
                )
        return restored

    def _from_row(self, row: Mapping[str, Any]) -> Conversation:
        party = row["party"]
        queue = row["queue"] or ""
        call = LiveCall(
            call_id=row["key"],
            channel="",
            uniqueid="",
            caller=party.get("phone")
            or (party.get("email") if len(party.get("email", "")) <= 64 else ""),
            dialed="",
            arrived_at=row["opened_at"],
            phase=Phase.WAITING,
            language=row["language"],
            queue=queue,
            agent_id=row["agent_id"],
            customer_id=row["customer_id"],
            contact_id=row["contact_id"],
            queued_at=row["queued_at"],
            answered_at=row["assigned_at"],
            adopted=True,
        )
        state = row["state"]
        if state == "active" and row["ended_at"] is not None:
            state = "ended"  # ended while the row's state write was in flight
        return Conversation(
            key=row["key"],
            channel=row["channel"],
            state=state,
            queue=queue,
            party=Party(party.get("name", ""), party.get("phone", ""), party.get("email", "")),
            call=call,
            subject=row["subject"],
            language=row["language"],
            thread=row["thread"],
            priority=int(row.get("priority") or 0),
            skills=dict(row.get("skills") or {}),
            agent_id=row["agent_id"],
            opened_at=row["opened_at"],
            queued_at=row["queued_at"],
            assigned_at=row["assigned_at"],
            ended_at=row["ended_at"],
            first_response_at=row["first_response_at"],
            last_seq=int(row["last_seq"]),
            client_ids_whole=False,  # sent before the restart: the store knows them
        )

    # ------------------------------------------------------------------ helpers

    def _live(self, key: str) -> Conversation:
        conv = self._open.get(key)
        if conv is None:
            if key in self._closed:
                raise Conflict("the conversation is closed")
            raise NotFound(f"no open conversation {str(key)[:80]!r}")
        return conv

    def _agent_name(self, agent_id: str) -> str:
        try:
            return str(self.center.acd.agent_config(agent_id).name)
        except (NotFound, KeyError, AttributeError):
            return agent_id

    def _agent_changed(self, agent_id: str) -> None:
        """The agent's load changed (their voice state did not): their row again."""
        publish = getattr(self.center, "_publish_agent", None)
        if publish is not None:
            with contextlib.suppress(NotFound):
                publish(agent_id)

    def _publish_update(self, conv: Conversation, *, agent_id: str | None = None) -> None:
        self.center._publish(
            {
                "type": "conversation_update",
                "agent_id": agent_id if agent_id is not None else conv.agent_id,
                "queue": conv.queue,
                "conversation": conv.to_json(),
            }
        )

    def _publish_message(self, conv: Conversation, message: dict[str, Any]) -> None:
        self.center._publish(
            {
                "type": "conversation_message",
                "agent_id": conv.agent_id,
                "queue": conv.queue,
                "conversation_key": conv.key,
                "message": message,
            }
        )
        self._visitor(conv, message_frame(message))

    def _visitor(self, conv: Conversation, event: dict[str, Any]) -> None:
        """A frame for the chat visitor's socket (routing.chat_protocol): published for
        the visitor side only; the console hub never forwards it."""
        if conv.channel != "chat":
            return
        self.center._publish(
            {"type": "visitor_event", "conversation_key": conv.key, "event": event}
        )

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        return self._tasks.spawn(coro, name)

    async def stop(self) -> None:
        """Let the background writes finish (the center's stop calls it)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=3.0)


def new_visitor_token() -> str:
    """A chat visitor's resume token (kept hashed by store.conversations)."""
    return secrets.token_urlsafe(32)


def _new_party_card(party: Party) -> dict[str, Any]:
    """The card of somebody no customer record knows: what they told us."""
    return {
        "customer_id": None,
        "name": party.name or "New customer",
        "phone": party.phone,
        "company": "",
        "tier": "",
        "vip": False,
        "language": "",
        "email": party.email,
        "account": "",
        "tags": [],
        "notes": "",
        "open_cases": [],
        "recent_contacts": [],
        "new_caller": True,
        "source": "local",
    }
