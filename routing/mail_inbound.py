"""Mail in: the SMTP listener, the IMAP poller, and the intake both hand messages to.

Theory of operation: :class:`MailIntake` is the one place a message becomes a
conversation. It parses the bytes (bounded: :func:`routing.mail_message.parse_mail`),
drops a Message-ID it already has (a re-delivery), and then:

* a bounce or an auto-reply is indexed and logged — never routed: no agent's email slot
  for an out-of-office, no reply loop. An auto-reply is indexed against the thread it
  answers. A bounce's own threading headers are anyone's to write, so it is indexed
  against a conversation only when it came with the null return path and its report
  (``reported_ids``) names a message we sent; then it is also shown in that conversation
  as a system line naming the reply that did not arrive and why, when the desk finds the
  agent's reply and the report's failed (or delayed) recipient is the reply's To
  (``desk.delivery_report``);
* a reply whose In-Reply-To / References name a message of a conversation still open
  (waiting or active) is added to that conversation (``desk.customer_message``) — only
  when its From address (the addr-spec, ignoring case) is one that conversation is with
  (its party's, or one it has corresponded with: ``store.mail.correspondents``); a
  Message-ID is no secret, so anyone else's mail naming it opens a conversation of its
  own, continuing no thread;
* anything else opens a new email conversation through the desk in the queue of the
  mailbox it was sent to; when it answers an older, finished conversation it continues
  that thread (``thread=``), and the ACD's sticky routing offers it to the customer's
  last agent first.

The message is indexed after the desk has it, and its attachments are stored after the
index row. :class:`SmtpListener` (aiosmtpd, loopback by default) refuses a message over
``max_message_bytes`` with 552 (aiosmtpd's DATA limit and the SIZE extension) and a
recipient that is no configured mailbox with 550; the message is acknowledged (250) only
once it is stored, so the sending MTA keeps it on any failure (451). :class:`ImapPoller`
fetches UNSEEN messages with ``BODY.PEEK[]`` (which does not set \\Seen) and marks each
\\Seen only after the intake has stored it: a crash in between leaves it unseen, it is
fetched again next time and recognised by its Message-ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import logging
import re
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.smtp import SMTP, Envelope, Session

from config.errors import Conflict, InvalidInput, NotFound, SwitchboardError
from config.settings import EmailSettings
from crm_lookup.mail_store import PENDING, MailEntry, addr_spec
from routing.mail_message import InboundMail, MailLimits, MailRejected, parse_mail

log = logging.getLogger(__name__)

Result = Literal["opened", "appended", "duplicate", "bounce", "auto_reply"]
OPEN_STATES = ("waiting", "active")


@dataclass(frozen=True, slots=True)
class Outcome:
    result: Result
    message_id: str
    conversation_key: str = ""


def limits_of(settings: EmailSettings) -> MailLimits:
    return MailLimits(
        max_bytes=settings.max_message_bytes,
        max_attachment_bytes=settings.max_attachment_bytes,
        max_attachments=settings.max_attachments,
    )


class MailIntake:
    """Inbound messages into conversations (see the module docstring).

    Args:
        settings: ``[email]`` (mailboxes -> queues, limits).
        desk: the :class:`routing.digital.DigitalDesk`.
        mail: ``store.mail``.
        attachments_root: where attachment files go.
    """

    def __init__(
        self,
        settings: EmailSettings,
        desk: Any,
        mail: Any,
        *,
        attachments_root: Path,
        cases: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        # store.cases: a customer's mail reopens their resolved / pending case (issue 17),
        # where the case store has customer_replied
        self.cases = cases if callable(getattr(cases, "customer_replied", None)) else None
        self.desk = desk
        self.mail = mail
        self.attachments_root = attachments_root
        self.clock = clock
        self.limits = limits_of(settings)
        self._mailboxes = {a.lower(): q for a, q in settings.mailboxes.items()}
        # one message at a time: two copies of one message (an SMTP retry racing an IMAP
        # fetch) must not both pass the duplicate check
        self._lock = asyncio.Lock()

    def knows(self, address: str) -> bool:
        """Whether ``address`` is one of our mailboxes (the listener's RCPT check)."""
        return _bare(address) in self._mailboxes

    def queue_for(self, recipients: Sequence[str]) -> str:
        for address in recipients:
            queue = self._mailboxes.get(_bare(address))
            if queue:
                return queue
        if self.settings.default_queue:
            return self.settings.default_queue
        return next(iter(self._mailboxes.values()), "")

    async def accept(
        self,
        raw: bytes,
        *,
        envelope_from: str | None = None,
        recipients: Sequence[str] = (),
    ) -> Outcome:
        """Take one message.

        Raises:
            MailRejected: over a limit or not a message (a permanent refusal).
            SwitchboardError: the desk or the store failed (a temporary one: try again).
        """
        parsed = parse_mail(raw, limits=self.limits, envelope_from=envelope_from)
        async with self._lock:
            return await self._take(parsed, recipients)

    async def _take(self, m: InboundMail, recipients: Sequence[str]) -> Outcome:
        known = await self.mail.get(m.message_id)
        if known is not None and known.reason != PENDING:
            log.info("mail already taken", extra={"fields": {"message_id": m.message_id}})
            return Outcome("duplicate", m.message_id, known.conversation_key)
        if known is not None:
            # claimed by an attempt that died before it settled: did the desk get it?
            delivered = await self.mail.delivered_to(m.message_id, known.at - 5.0)
            if delivered is not None:
                await self.mail.settle(m.message_id, delivered)
                log.info(
                    "mail already taken (claim settled)",
                    extra={"fields": {"message_id": m.message_id, "conversation": delivered}},
                )
                return Outcome("duplicate", m.message_id, delivered)
        # a bounce's own threading headers are the forger's to choose: its conversation is
        # only ever the one of a reply of ours its report names (_show_bounce)
        thread = "" if m.kind == "bounce" else await self.mail.conversation_of(m.thread_ids) or ""
        if m.kind == "mail" and thread and not await self._from_its_customer(m, thread):
            # a Message-ID is no secret (a forward, a CC): naming one proves nothing, so
            # a stranger's mail neither joins the thread nor continues it
            log.warning(
                "mail names a thread it was not part of; opened on its own",
                extra={"fields": {"message_id": m.message_id, "thread": thread}},
            )
            thread = ""
        if m.kind != "mail":
            if m.kind == "bounce":
                thread = await self._show_bounce(m)
            await self.mail.record(self._entry(m, thread))
            log.info(
                "mail not routed",
                extra={
                    "fields": {
                        "message_id": m.message_id,
                        "kind": m.kind,
                        "reason": m.reason,
                        "conversation": thread,
                    }
                },
            )
            return Outcome(m.kind, m.message_id, thread)
        # Claimed before the desk has it, settled after: a crash in between leaves a
        # pending claim the next delivery of the same message resolves (above), so the
        # message is neither lost nor taken twice.
        if known is None:
            await self.mail.claim(self._entry(m, ""))
            await self._keep_attachments(m)
        kept = await self.mail.attachments(m.message_id)
        try:
            key, result = await self._hand_over(m, thread, recipients, kept)
        except BaseException:
            with contextlib.suppress(Exception):
                await self.mail.release(m.message_id)
            raise
        await self.mail.settle(m.message_id, key)
        if self.cases is not None:
            try:
                await self.cases.customer_replied(key)
            except SwitchboardError as exc:  # the mail is taken; the case can wait
                log.warning(
                    "case not reopened", extra={"fields": {"conversation": key, "error": str(exc)}}
                )
        log.info(
            "mail taken",
            extra={"fields": {"message_id": m.message_id, "result": result, "conversation": key}},
        )
        return Outcome(result, m.message_id, key)

    async def _show_bounce(self, m: InboundMail) -> str:
        """The conversation of the reply a bounce reports, or "" when it is no report of
        a message of ours (then it is indexed against no thread and shown nowhere).

        A bounce's own threading headers are the sender's to choose: only a report sent
        with the null return path (SMTP ``MAIL FROM:<>``, from IMAP ``Return-Path: <>``)
        counts, and only for a Message-ID its report names (``reported_ids``) that is a
        message we sent. It is shown in that thread as a system line
        (``desk.delivery_report``, which further requires an agent's reply with that id
        and a reported recipient that is its To) before it is indexed: a failure here is
        a 451 and the MTA's retry shows it then (the desk writes one line per report
        however often it comes)."""
        if not m.null_sender:
            self._not_ours(m, "no null return path")
            return ""
        for mid in m.reported_ids[:20]:
            sent = await self.mail.get(mid)
            if sent is None or sent.direction != "out" or not sent.conversation_key:
                continue
            report = getattr(self.desk, "delivery_report", None)
            if report is None or not m.delivery:
                return sent.conversation_key
            try:
                await report(
                    sent.conversation_key,
                    report_id=m.message_id,
                    reported_ids=(mid,),
                    recipient=sent.recipient,
                    delivery=m.delivery,
                )
            except NotFound:  # the conversation is gone: the index keeps the bounce
                log.warning(
                    "bounce names a conversation that is gone",
                    extra={
                        "fields": {
                            "message_id": m.message_id,
                            "conversation": sent.conversation_key,
                        }
                    },
                )
            return sent.conversation_key
        self._not_ours(m, "its report names no message we sent")
        return ""

    def _not_ours(self, m: InboundMail, why: str) -> None:
        log.warning(
            "bounce is no report of a message of ours; shown nowhere",
            extra={"fields": {"message_id": m.message_id, "why": why}},
        )

    async def _from_its_customer(self, m: InboundMail, thread: str) -> bool:
        """Whether ``m`` comes from an address conversation ``thread`` is with: its
        party's, or one it has corresponded with (addr-specs, ignoring case)."""
        sender = addr_spec(m.sender)
        if not sender:
            return False
        known = set(await self.mail.correspondents(thread))
        current = self.desk.conversation(thread)
        if current is not None:
            known.add(addr_spec(str((current.get("party") or {}).get("email") or "")))
        return sender in known

    async def _hand_over(
        self, m: InboundMail, thread: str, recipients: Sequence[str], kept: Sequence[Any]
    ) -> tuple[str, Result]:
        text = m.text or "(no text)"
        meta: dict[str, Any] = {"message_id": m.message_id}
        if kept:  # what the console lists (``store.mail.read_attachment(root, id)``)
            meta["attachments"] = [a.to_json() for a in kept]
        if m.skipped:
            meta["skipped"] = [{"filename": n, "why": w} for n, w in m.skipped]
        current = self.desk.conversation(thread) if thread else None
        if current is not None and current["state"] in OPEN_STATES:
            with contextlib.suppress(Conflict):  # it ended in the meantime: a new one
                await self.desk.customer_message(thread, text, meta=meta)
                return thread, "appended"
        opened = await self.desk.open_conversation(
            "email",
            queue=self.queue_for(recipients or m.to),
            # the desk's bounds (a name of 200, an address of 254 characters): a long
            # display name is cut, not a reason to refuse the customer's mail
            party={"name": m.sender_name[:200], "email": m.sender if len(m.sender) <= 254 else ""},
            subject=m.subject[:500],
            thread=thread,
            first_message=text,
            meta=meta,
        )
        return str(opened["key"]), "opened"

    async def _keep_attachments(self, m: InboundMail) -> None:
        for a in m.attachments:
            try:
                await self.mail.add_attachment(
                    self.attachments_root,
                    m.message_id,
                    a.filename,
                    a.content_type,
                    a.data,
                    max_bytes=self.settings.max_attachment_bytes,
                )
            except InvalidInput as exc:
                log.warning(
                    "attachment not kept",
                    extra={"fields": {"message_id": m.message_id, "error": str(exc)}},
                )

    def _entry(self, m: InboundMail, key: str) -> MailEntry:
        return MailEntry(
            m.message_id,
            key,
            "in",
            kind=m.kind,
            sender=m.sender,
            recipient=",".join(m.to)[:320],
            subject=m.subject,
            in_reply_to=m.in_reply_to[0] if m.in_reply_to else "",
            references=m.references,
            reason=m.reason,
            at=self.clock(),
        )


def _bare(address: str) -> str:
    address = address.strip().lower()
    found = re.search(r"<([^<>]*)>", address)
    return found.group(1).strip() if found else address


# ------------------------------------------------------------------ SMTP listener


class _Handler:
    def __init__(self, intake: MailIntake) -> None:
        self.intake = intake

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if not self.intake.knows(address):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            # MAIL FROM:<> (the null return path of bounces) arrives as "" or "<>"
            mail_from = (envelope.mail_from or "").strip()
            await self.intake.accept(
                raw,
                envelope_from="" if mail_from in ("", "<>") else mail_from,
                recipients=list(envelope.rcpt_tos),
            )
        except MailRejected as exc:
            if exc.code == 552:
                return "552 5.3.4 Message too big"
            return f"554 5.6.0 {str(exc)[:200]}"
        except SwitchboardError as exc:
            log.warning(
                "mail not taken, sender asked to retry", extra={"fields": {"error": str(exc)}}
            )
            return "451 4.3.0 Temporary failure, try again later"
        except Exception:
            log.exception("mail intake failed")
            return "451 4.3.0 Temporary failure, try again later"
        return "250 2.0.0 OK: queued"


class SmtpListener:
    """The service's SMTP server (port 0: any free port, see :attr:`port`)."""

    def __init__(
        self,
        intake: MailIntake,
        *,
        host: str = "127.0.0.1",
        port: int = 2525,
        hostname: str = "",
    ) -> None:
        self.intake = intake
        self.host = host
        self.requested_port = port
        self.hostname = hostname or intake.settings.domain or "switchboard"
        self._server: asyncio.Server | None = None

    def _factory(self) -> SMTP:
        return SMTP(
            _Handler(self.intake),
            data_size_limit=self.intake.settings.max_message_bytes,
            hostname=self.hostname,
            ident="Switchboard",
            enable_SMTPUTF8=True,
            decode_data=False,
            timeout=120,
        )

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._factory, self.host, self.requested_port)
        log.info("smtp listener up", extra={"fields": {"host": self.host, "port": self.port}})

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


# ------------------------------------------------------------------ IMAP poller

_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class ImapPoller:
    """Polls ``settings.imap_mailbox`` for UNSEEN mail (imaplib, one worker thread)."""

    def __init__(
        self,
        settings: EmailSettings,
        intake: MailIntake,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self.intake = intake
        # imaplib's own default checks no certificate: the system's trust store instead
        self.ssl_context = ssl_context or ssl.create_default_context()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _connect(self) -> imaplib.IMAP4:
        s = self.settings
        timeout = 30.0
        conn: imaplib.IMAP4
        if s.imap_tls == "tls":
            conn = imaplib.IMAP4_SSL(
                s.imap_host, s.imap_port, ssl_context=self.ssl_context, timeout=timeout
            )
        else:
            conn = imaplib.IMAP4(s.imap_host, s.imap_port, timeout=timeout)
            if s.imap_tls == "starttls":
                conn.starttls(ssl_context=self.ssl_context)
        try:
            conn.login(s.imap_user, s.imap_password)
        except imaplib.IMAP4.error:
            with contextlib.suppress(Exception):
                conn.shutdown()
            raise InvalidInput("the IMAP server refused our login", field="imap_user") from None
        typ, _ = conn.select(_quote(s.imap_mailbox))
        if typ != "OK":
            conn.logout()
            raise InvalidInput(f"no mailbox {s.imap_mailbox!r}", field="imap_mailbox")
        return conn

    async def poll_once(self) -> list[Outcome]:
        """One pass: every UNSEEN message, oldest first. Returns what became of each one
        taken (rejected ones are marked \\Seen and logged; a failing one stays unseen)."""
        conn = await asyncio.to_thread(self._connect)
        outcomes: list[Outcome] = []
        try:
            typ, data = await asyncio.to_thread(conn.uid, "SEARCH", "UNSEEN")
            if typ != "OK":
                raise imaplib.IMAP4.error("SEARCH failed")
            uids = [u for u in (data[0] or b"").split() if u.isdigit()]
            for uid in uids:
                outcome = await self._one(conn, uid.decode())
                if outcome is not None:  # None: left unseen, tried again next pass (one
                    outcomes.append(outcome)  # message that keeps failing blocks no other)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(conn.logout)
        return outcomes

    async def _one(self, conn: imaplib.IMAP4, uid: str) -> Outcome | None:
        typ, data = await asyncio.to_thread(conn.uid, "FETCH", uid, "(RFC822.SIZE)")
        size_m = _SIZE.search(_flat(data)) if typ == "OK" else None
        if size_m is not None and int(size_m.group(1)) > self.settings.max_message_bytes:
            log.warning(
                "imap mail too large, left read",
                extra={"fields": {"uid": uid, "size": int(size_m.group(1))}},
            )
            await self._seen(conn, uid)
            return Outcome("duplicate", "")
        typ, data = await asyncio.to_thread(conn.uid, "FETCH", uid, "(BODY.PEEK[])")
        raw = next((p[1] for p in data if isinstance(p, tuple) and len(p) == 2), None)
        if typ != "OK" or not isinstance(raw, bytes):
            log.warning("imap fetch failed", extra={"fields": {"uid": uid}})
            return None
        try:
            outcome = await self.intake.accept(raw, envelope_from=None, recipients=())
        except MailRejected as exc:
            log.warning("imap mail refused", extra={"fields": {"uid": uid, "error": str(exc)}})
            await self._seen(conn, uid)
            return Outcome("duplicate", "")
        except SwitchboardError as exc:
            log.warning(
                "imap mail not taken, retried next poll",
                extra={"fields": {"uid": uid, "error": str(exc)}},
            )
            return None
        await self._seen(conn, uid)  # only now: stored, so a crash before loses nothing
        return outcome

    async def _seen(self, conn: imaplib.IMAP4, uid: str) -> None:
        await asyncio.to_thread(conn.uid, "STORE", uid, "+FLAGS", "(\\Seen)")

    async def run(self) -> None:
        """Poll until :meth:`stop`; errors are logged and the next pass tries again."""
        while not self._stop.is_set():
            try:
                await self.poll_once()
            except (OSError, imaplib.IMAP4.error, SwitchboardError, ssl.SSLError) as exc:
                log.warning(
                    "imap poll failed",
                    extra={
                        "fields": {"host": self.settings.imap_host, "error": type(exc).__name__}
                    },
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.settings.poll_interval)

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self.run(), name="imap-poller")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def _flat(data: Sequence[Any]) -> bytes:
    out = b""
    for part in data:
        if isinstance(part, tuple):
            out += part[0] if isinstance(part[0], bytes) else b""
        elif isinstance(part, bytes):
            out += part
    return out


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'
