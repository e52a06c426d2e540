"""The email channel's shells over real sockets on 127.0.0.1: the sender against a local
SMTP server (aiosmtpd), the service's SMTP listener fed by smtplib, the IMAP poller
against a small IMAP4rev1 server (tests/imap_server.py). The desk is a small fake here
(the real one is in tests/test_mail_e2e.py); the store is real."""

from __future__ import annotations

import asyncio
import dataclasses
import imaplib
import logging
import smtplib
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from config.errors import Conflict
from config.settings import EmailSettings, load_settings
from crm_lookup.mail_store import MailEntry
from crm_lookup.store import Store, open_store
from routing.mail_inbound import ImapPoller, MailIntake, SmtpListener
from routing.mail_outbound import MailDeliveryFailed, MailSender
from tests.imap_server import ImapServer

PASSWORD = "relay-pa55word"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Relay:
    """aiosmtpd handler: answers RCPT/DATA from a script, keeps what it accepted."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.data_replies: list[str] = []
        self.rcpt_replies: list[str] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        self.received.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 OK"


@pytest.fixture
def relay() -> Iterator[tuple[Relay, int]]:
    handler = Relay()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def settings(**changes: Any) -> EmailSettings:
    base = EmailSettings(
        enabled=True,
        from_address="support@shop.test",
        from_name="Shop Support",
        mailboxes={"support@shop.test": "web", "sales@shop.test": "sales"},
        smtp_host="127.0.0.1",
        smtp_tls="none",
        smtp_retries=3,
        max_message_bytes=64 * 1024,
        max_attachment_bytes=4096,
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(tmp_path / "crm.sqlite3")
    try:
        yield s
    finally:
        await s.close()


class FakeDesk:
    """What the intake and the sender use of routing.digital.DigitalDesk."""

    def __init__(self) -> None:
        self.conversations: dict[str, dict[str, Any]] = {}
        self.messages_of: dict[str, list[dict[str, Any]]] = {}
        self.transports: dict[str, Any] = {}
        self.fail = False
        self.fail_for: set[str] = set()

    async def open_conversation(self, channel: str, **kw: Any) -> dict[str, Any]:
        if self.fail or kw["first_message"] in self.fail_for:
            from config.errors import RemoteError

            raise RemoteError("database down")
        key = f"{channel}:{len(self.conversations):032x}"
        conv = {"key": key, "channel": channel, "state": "waiting", **kw}
        self.conversations[key] = conv
        self.messages_of[key] = [
            {"sender": "customer", "text": kw["first_message"], "meta": kw["meta"], "at": 1.0}
        ]
        return conv

    def conversation(self, key: str) -> dict[str, Any] | None:
        return self.conversations.get(key)

    async def customer_message(self, key: str, text: str, *, meta: Any = None) -> dict[str, Any]:
        if self.conversations[key]["state"] not in ("waiting", "active"):
            raise Conflict("ended")
        msg = {"sender": "customer", "text": text, "meta": meta, "at": 2.0}
        self.messages_of[key].append(msg)
        return msg

    async def messages(
        self, key: str, after_seq: int = 0, limit: int = 500
    ) -> list[dict[str, Any]]:
        return self.messages_of.get(key, [])


def customer_mail(body: str = "Where is my order?", **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Ann Lee <ann@example.com>")
    msg["To"] = headers.pop("To", "support@shop.test")
    msg["Subject"] = headers.pop("Subject", "Order 42")
    msg["Message-ID"] = headers.pop("Message_ID", "<c1@example.com>")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


# ------------------------------------------------------------------ sender


async def no_sleep(_: float) -> None:
    await asyncio.sleep(0)


async def test_reply_carries_threading_headers_to_the_relay(
    relay: tuple[Relay, int], store: Store
) -> None:
    handler, port = relay
    key = "email:" + "a" * 32
    await store.mail.record(MailEntry("<c1@example.com>", key, "in", subject="Order 42", at=1.0))
    await store.mail.record(
        MailEntry(
            "<c2@example.com>",
            key,
            "in",
            subject="Re: Order 42",
            references=("<c1@example.com>", "<r1@shop.test>"),
            at=3.0,
        )
    )
    await store.mail.record(MailEntry("<ooo@example.com>", key, "in", kind="auto_reply", at=4.0))
    desk = FakeDesk()
    desk.messages_of[key] = [
        {"sender": "customer", "name": "Ann Lee", "text": "Any news?", "at": 0.0}
    ]
    sender = MailSender(settings(smtp_port=port), store.mail, history=desk.messages)
    conversation = {
        "key": key,
        "subject": "Order 42",
        "party": {"name": "Ann", "email": "ann@example.com"},
    }
    meta = await sender.deliver(conversation, {"text": "It ships today.", "name": "Alice Moreau"})
    assert len(handler.received) == 1
    mail_from, rcpts, raw = handler.received[0]
    assert (mail_from, rcpts) == ("support@shop.test", ["ann@example.com"])
    got = message_from_bytes(raw, policy=policy.default)
    assert got["Message-ID"] == meta["message_id"] and meta["message_id"].endswith("@shop.test>")
    # the latest real message answered, not the auto-reply
    assert got["In-Reply-To"] == "<c2@example.com>"
    assert got["References"] == "<c1@example.com> <r1@shop.test> <c2@example.com>"
    assert got["Subject"] == "Re: Order 42"
    assert str(got["From"]) == "Alice Moreau <support@shop.test>"
    assert got["Auto-Submitted"] is None
    body = got.get_content()
    assert body.startswith("It ships today.") and "> Any news?" in body
    # our message is in the index, so the customer's answer to it threads back
    ours = await store.mail.get(meta["message_id"])
    assert ours is not None and ours.conversation_key == key and ours.direction == "out"
    assert await store.mail.conversation_of([meta["message_id"]]) == key


async def test_temporary_failures_retried_then_sent(relay: tuple[Relay, int], store: Store) -> None:
    handler, port = relay
    handler.data_replies = ["451 4.3.0 try later", "421 4.3.2 busy"]
    waits: list[float] = []

    async def sleep(d: float) -> None:
        waits.append(d)

    sender = MailSender(settings(smtp_port=port), store.mail, sleep=sleep, backoff=0.5)
    conv = {"key": "email:" + "b" * 32, "subject": "Hi", "party": {"email": "ann@example.com"}}
    await sender.deliver(conv, {"text": "hello"})
    assert len(handler.received) == 1 and waits == [0.5, 1.0]


async def test_permanent_failure_is_clear_and_not_retried(
    relay: tuple[Relay, int], store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    handler, port = relay
    handler.rcpt_replies = ["550 5.1.1 no such user"]
    sender = MailSender(
        settings(smtp_port=port, smtp_password=PASSWORD), store.mail, sleep=no_sleep
    )
    conv = {"key": "email:" + "c" * 32, "subject": "Hi", "party": {"email": "gone@example.com"}}
    with caplog.at_level(logging.DEBUG), pytest.raises(MailDeliveryFailed) as err:
        await sender.deliver(conv, {"text": "hello"})
    assert err.value.permanent and "550" in str(err.value)
    assert handler.received == []
    assert await store.mail.thread(conv["key"]) == []  # nothing sent, nothing indexed
    assert PASSWORD not in caplog.text


async def test_unreachable_relay_fails_after_retries(store: Store) -> None:
    waits: list[float] = []

    async def sleep(d: float) -> None:
        waits.append(d)

    sender = MailSender(settings(smtp_port=free_port(), smtp_timeout=2.0), store.mail, sleep=sleep)
    conv = {"key": "email:" + "d" * 32, "subject": "Hi", "party": {"email": "ann@example.com"}}
    with pytest.raises(MailDeliveryFailed) as err:
        await sender.deliver(conv, {"text": "hello"})
    assert not err.value.permanent and "could not be reached" in str(err.value)
    assert waits == [1.0, 2.0, 4.0]


async def test_transcript_is_auto_submitted(relay: tuple[Relay, int], store: Store) -> None:
    handler, port = relay
    sender = MailSender(settings(smtp_port=port), store.mail)
    conv = {"key": "chat:" + "e" * 32, "subject": "Billing"}
    mid = await sender.send_transcript(
        "ann@example.com",
        conv,
        [{"name": "Ann", "text": "hi", "at": 0}, {"name": "Alice", "text": "hello", "at": 60}],
    )
    got = message_from_bytes(handler.received[0][2], policy=policy.default)
    assert got["Message-ID"] == mid and got["Auto-Submitted"] == "auto-generated"
    assert got["Subject"] == "Transcript: Billing"
    assert "[1970-01-01 00:01:00 UTC] Alice:\nhello" in got.get_content().replace("\r\n", "\n")


# ------------------------------------------------------------------ SMTP listener


@pytest.fixture
async def listener(store: Store, tmp_path: Path) -> AsyncIterator[tuple[SmtpListener, FakeDesk]]:
    desk = FakeDesk()
    intake = MailIntake(settings(), desk, store.mail, attachments_root=tmp_path / "att")
    server = SmtpListener(intake, host="127.0.0.1", port=0)
    await server.start()
    try:
        yield server, desk
    finally:
        await server.stop()


def smtp_send(
    port: int,
    msg: EmailMessage | bytes,
    *,
    mail_from: str = "ann@example.com",
    to: str = "support@shop.test",
) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        raw = msg if isinstance(msg, bytes) else msg.as_bytes()
        client.sendmail(mail_from, [to], raw)


async def send(port: int, msg: EmailMessage | bytes, **kw: str) -> None:
    await asyncio.to_thread(smtp_send, port, msg, **kw)


async def test_listener_opens_then_threads_a_reply(
    listener: tuple[SmtpListener, FakeDesk], store: Store, tmp_path: Path
) -> None:
    server, desk = listener
    first = customer_mail()
    first.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="receipt.pdf")
    await send(server.port, first)
    [(key, conv)] = desk.conversations.items()
    assert conv["queue"] == "web" and conv["party"] == {
        "name": "Ann Lee",
        "email": "ann@example.com",
    }
    assert (
        conv["subject"] == "Order 42"
        and conv["thread"] == ""
        and conv["first_message"] == "Where is my order?"
    )
    [att] = await store.mail.attachments_of(key)
    assert conv["meta"]["attachments"] == [
        {
            "id": att.id,
            "filename": "receipt.pdf",
            "content_type": "application/pdf",
            "size": 8,
            "sha256": att.sha256,
        }
    ]
    assert (tmp_path / "att" / att.path).read_bytes() == b"%PDF-1.4"

    # the customer answers our reply: same conversation, while it is open
    await store.mail.record(
        MailEntry("<r1@shop.test>", key, "out", references=("<c1@example.com>",), at=5.0)
    )
    reply = customer_mail(
        "Still waiting",
        Message_ID="<c2@example.com>",
        In_Reply_To="<r1@shop.test>",
        References="<c1@example.com> <r1@shop.test>",
    )
    await send(server.port, reply)
    assert len(desk.conversations) == 1
    assert [m["text"] for m in desk.messages_of[key]] == ["Where is my order?", "Still waiting"]

    # the same message again (a retrying MTA): taken once
    await send(server.port, reply)
    assert len(desk.messages_of[key]) == 2

    # once that conversation is over, a reply opens a new one continuing the thread
    desk.conversations[key]["state"] = "closed"
    later = customer_mail(
        "One more thing",
        Message_ID="<c3@example.com>",
        In_Reply_To="<c2@example.com>",
        To="sales@shop.test",
    )
    await send(server.port, later, to="sales@shop.test")
    assert len(desk.conversations) == 2
    new_key = next(k for k in desk.conversations if k != key)
    assert (
        desk.conversations[new_key]["thread"] == key
        and desk.conversations[new_key]["queue"] == "sales"
    )
    assert await store.mail.conversation_of(["<c3@example.com>"]) == new_key


async def test_a_reply_joins_a_thread_only_from_its_customers_address(
    listener: tuple[SmtpListener, FakeDesk], store: Store
) -> None:
    """Found in review: a message joined a conversation by In-Reply-To / References
    alone, so anyone who learned a Message-ID (a forwarded mail, a CC) could write into
    another customer's thread, and after it closed be routed to their agent with their
    history. It joins (or continues) a thread only when its From address is the one
    the conversation has corresponded with (ignoring case; the addr-spec, not the display
    name); anything else is a conversation of its own."""
    server, desk = listener
    await send(server.port, customer_mail())
    [key] = desk.conversations
    await store.mail.record(
        MailEntry("<r1@shop.test>", key, "out", recipient="ann@example.com", at=5.0)
    )
    names_it = {"In_Reply_To": "<r1@shop.test>", "References": "<c1@example.com> <r1@shop.test>"}
    for n, sender in enumerate(
        ["Mallory <mallory@evil.test>", '"ann@example.com" <mallory@evil.test>'], start=1
    ):
        await send(
            server.port,
            customer_mail(
                "Pay to this account", From=sender, Message_ID=f"<m{n}@evil.test>", **names_it
            ),
            mail_from="mallory@evil.test",
        )
    assert [m["text"] for m in desk.messages_of[key]] == ["Where is my order?"]
    assert len(desk.conversations) == 3
    for other in [k for k in desk.conversations if k != key]:
        conv = desk.conversations[other]
        assert conv["thread"] == "" and conv["party"]["email"] == "mallory@evil.test"
    # the customer herself, in capitals, joins
    await send(
        server.port,
        customer_mail(
            "Still waiting", From="Ann <ANN@Example.COM>", Message_ID="<c2@example.com>", **names_it
        ),
    )
    assert [m["text"] for m in desk.messages_of[key]] == ["Where is my order?", "Still waiting"]
    # once it is closed, a stranger's answer does not continue it (no sticky agent)
    desk.conversations[key]["state"] = "closed"
    await send(
        server.port,
        customer_mail(
            "Me again", From="mallory@evil.test", Message_ID="<m3@evil.test>", **names_it
        ),
        mail_from="mallory@evil.test",
    )
    newest = list(desk.conversations.values())[-1]
    assert newest["first_message"] == "Me again" and newest["thread"] == ""
    await send(
        server.port,
        customer_mail(
            "One more thing", Message_ID="<c3@example.com>", In_Reply_To="<c2@example.com>"
        ),
    )
    newest = list(desk.conversations.values())[-1]
    assert newest["first_message"] == "One more thing" and newest["thread"] == key


async def test_listener_refuses_oversized_and_unknown_recipients(
    listener: tuple[SmtpListener, FakeDesk],
) -> None:
    server, desk = listener
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        await send(server.port, customer_mail(), to="nobody@shop.test")
    assert refused.value.recipients["nobody@shop.test"][0] == 550
    with pytest.raises((smtplib.SMTPDataError, smtplib.SMTPSenderRefused)) as big:
        await send(server.port, customer_mail("x" * 70_000))
    assert big.value.smtp_code == 552
    assert desk.conversations == {}


async def test_bounces_and_auto_replies_are_stored_not_routed(
    listener: tuple[SmtpListener, FakeDesk], store: Store
) -> None:
    server, desk = listener
    key = "email:" + "f" * 32
    await store.mail.record(MailEntry("<r9@shop.test>", key, "out", at=1.0))
    ooo = customer_mail(
        "I am away",
        Message_ID="<ooo@example.com>",
        Subject="Out of office",
        Auto_Submitted="auto-replied",
        In_Reply_To="<r9@shop.test>",
    )
    await send(server.port, ooo)
    dsn = (
        b"From: MAILER-DAEMON@mx.example.com\r\nTo: support@shop.test\r\nSubject: failure\r\n"
        b"Message-ID: <dsn@mx.example.com>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nnot delivered\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        b"Final-Recipient: rfc822; ann@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        b"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <r9@shop.test>\r\n--B--\r\n"
    )
    await send(server.port, dsn, mail_from="")
    plain_null = customer_mail("ping", Message_ID="<null@example.com>")
    await send(server.port, plain_null, mail_from="")
    assert desk.conversations == {}  # no agent sees any of them
    kept = {e.message_id: e for e in await store.mail.thread(key)}
    assert kept["<ooo@example.com>"].kind == "auto_reply"
    assert kept["<dsn@mx.example.com>"].kind == "bounce"
    null = await store.mail.get("<null@example.com>")
    assert null is not None and null.kind == "bounce" and null.reason == "null return path"


async def test_listener_asks_to_retry_when_the_desk_fails(
    listener: tuple[SmtpListener, FakeDesk], store: Store
) -> None:
    server, desk = listener
    desk.fail = True
    with pytest.raises(smtplib.SMTPDataError) as err:
        await send(server.port, customer_mail())
    assert err.value.smtp_code == 451
    assert await store.mail.get("<c1@example.com>") is None  # not taken: the MTA retries
    desk.fail = False
    await send(server.port, customer_mail())
    assert len(desk.conversations) == 1


# ------------------------------------------------------------------ IMAP poller


@pytest.fixture
async def imap() -> AsyncIterator[ImapServer]:
    server = ImapServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def imap_settings(server: ImapServer, **changes: Any) -> EmailSettings:
    given: dict[str, Any] = {
        "imap_host": "127.0.0.1",
        "imap_port": server.port,
        "imap_tls": "none",
        "imap_user": server.user,
        "imap_password": server.password,
    }
    return settings(**{**given, **changes})


async def test_poller_takes_unseen_and_marks_seen_after_storing(
    imap: ImapServer, store: Store, tmp_path: Path
) -> None:
    desk = FakeDesk()
    seen_before = imap.deliver(customer_mail("old", Message_ID="<old@example.com>").as_bytes())
    imap.mails[0].flags.add("\\Seen")
    one = imap.deliver(customer_mail(Message_ID="<i1@example.com>").as_bytes())
    two = imap.deliver(
        customer_mail("auto", Message_ID="<i2@example.com>", Precedence="bulk").as_bytes()
    )
    intake = MailIntake(imap_settings(imap), desk, store.mail, attachments_root=tmp_path)
    poller = ImapPoller(imap_settings(imap), intake)
    outcomes = await poller.poll_once()
    assert [o.result for o in outcomes] == ["opened", "auto_reply"]
    assert sorted(imap.seen()) == [seen_before, one, two]
    assert [c["first_message"] for c in desk.conversations.values()] == ["Where is my order?"]
    assert "UID SEARCH UNSEEN" in imap.commands
    assert any(c.startswith("UID FETCH") and "BODY.PEEK[]" in c for c in imap.commands)
    assert all(imap.password not in c for c in imap.commands)
    assert await poller.poll_once() == []  # nothing unseen left


async def test_poller_crash_before_seen_loses_nothing_and_refetch_is_idempotent(
    imap: ImapServer, store: Store, tmp_path: Path
) -> None:
    desk = FakeDesk()
    uid = imap.deliver(customer_mail(Message_ID="<i1@example.com>").as_bytes())
    intake = MailIntake(imap_settings(imap), desk, store.mail, attachments_root=tmp_path)
    poller = ImapPoller(imap_settings(imap), intake)
    # the intake fails (database down): the message stays unseen
    desk.fail = True
    assert await poller.poll_once() == []
    assert imap.seen() == [] and desk.conversations == {}
    desk.fail = False
    # stored, then the connection dies before \Seen: fetched again next time, taken once
    imap.drop_on_store = 1
    with pytest.raises(imaplib.IMAP4.abort):
        await poller.poll_once()
    assert imap.seen() == [] and len(desk.conversations) == 1
    outcomes = await poller.poll_once()
    assert [o.result for o in outcomes] == ["duplicate"]
    assert imap.seen() == [uid] and len(desk.conversations) == 1


async def test_poller_refused_login_is_clear(
    imap: ImapServer, store: Store, tmp_path: Path
) -> None:
    s = imap_settings(imap, imap_password="wrong")
    poller = ImapPoller(s, MailIntake(s, FakeDesk(), store.mail, attachments_root=tmp_path))
    with pytest.raises(Exception, match="refused our login") as err:
        await poller.poll_once()
    assert "wrong" not in str(err.value)


async def test_poller_marks_oversized_seen_without_fetching(
    imap: ImapServer, store: Store, tmp_path: Path
) -> None:
    desk = FakeDesk()
    uid = imap.deliver(customer_mail("x" * 70_000).as_bytes())
    s = imap_settings(imap)
    await ImapPoller(s, MailIntake(s, desk, store.mail, attachments_root=tmp_path)).poll_once()
    assert imap.seen() == [uid] and desk.conversations == {}
    assert not any("BODY.PEEK[]" in c for c in imap.commands)


class Cases:
    def __init__(self) -> None:
        self.replied: list[str] = []

    async def customer_replied(self, contact_key: str) -> None:
        self.replied.append(contact_key)


async def test_customer_mail_tells_the_case_store_not_auto_replies(
    store: Store, tmp_path: Path
) -> None:
    desk, cases = FakeDesk(), Cases()
    intake = MailIntake(settings(), desk, store.mail, attachments_root=tmp_path, cases=cases)
    opened = await intake.accept(customer_mail().as_bytes(), recipients=["support@shop.test"])
    await intake.accept(
        customer_mail("away", Message_ID="<a@example.com>", X_Autoreply="yes").as_bytes()
    )
    assert opened.result == "opened" and cases.replied == [opened.conversation_key]


# ------------------------------------------------------------------ STARTTLS + AUTH


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    """A throw-away self-signed certificate for 127.0.0.1 (Debian's openssl)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


async def test_starttls_and_login_with_the_password_from_the_environment(
    tls_files: tuple[Path, Path], store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    key, cert = tls_files
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == PASSWORD.encode(), handled=False)

    handler = Relay()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    try:
        env = {"SWITCHBOARD_EMAIL__SMTP_PASSWORD": PASSWORD}
        loaded = load_settings(environ=env).email
        relay_settings = dataclasses.replace(
            settings(smtp_port=port, smtp_tls="starttls", smtp_user="desk@shop.test"),
            smtp_password=loaded.smtp_password,
        )
        client_tls = ssl.create_default_context(cafile=str(cert))
        sender = MailSender(relay_settings, store.mail, tls_context=client_tls, sleep=no_sleep)
        conv = {"key": "email:" + "9" * 32, "subject": "Hi", "party": {"email": "ann@example.com"}}
        with caplog.at_level(logging.DEBUG):
            await sender.deliver(conv, {"text": "over TLS"})
        assert logins == [(b"desk@shop.test", PASSWORD.encode())]
        assert len(handler.received) == 1
        # a wrong password: a clear, permanent failure that does not echo it
        wrong = MailSender(
            dataclasses.replace(relay_settings, smtp_password="not-it"),
            store.mail,
            tls_context=client_tls,
            sleep=no_sleep,
        )
        with pytest.raises(MailDeliveryFailed, match="refused our login") as err:
            await wrong.deliver(conv, {"text": "x"})
        assert err.value.permanent and "not-it" not in str(err.value)
        assert PASSWORD not in caplog.text
    finally:
        controller.stop()


async def test_poller_over_imaps(
    tls_files: tuple[Path, Path], store: Store, tmp_path: Path
) -> None:
    key, cert = tls_files
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    server = ImapServer()
    await server.start(tls=server_tls)
    try:
        uid = server.deliver(customer_mail(Message_ID="<tls@example.com>").as_bytes())
        s = imap_settings(server, imap_tls="tls")
        desk = FakeDesk()
        poller = ImapPoller(
            s,
            MailIntake(s, desk, store.mail, attachments_root=tmp_path),
            ssl_context=ssl.create_default_context(cafile=str(cert)),
        )
        assert [o.result for o in await poller.poll_once()] == ["opened"]
        assert server.seen() == [uid]
        # a server whose certificate we do not trust: no login is sent at all
        untrusting = ImapPoller(s, MailIntake(s, desk, store.mail, attachments_root=tmp_path))
        server.deliver(customer_mail(Message_ID="<tls2@example.com>").as_bytes())
        before = len(server.commands)
        with pytest.raises(ssl.SSLError):
            await untrusting.poll_once()
        assert not any(c.startswith("LOGIN") for c in server.commands[before:])
    finally:
        await server.stop()


async def test_one_failing_message_blocks_no_other(
    imap: ImapServer, store: Store, tmp_path: Path
) -> None:
    desk = FakeDesk()
    desk.fail_for = {"poison"}
    bad = imap.deliver(customer_mail("poison", Message_ID="<p@example.com>").as_bytes())
    long_name = "N" * 300
    good = imap.deliver(
        customer_mail(
            "fine", Message_ID="<g@example.com>", From=f"{long_name} <ann@example.com>"
        ).as_bytes()
    )
    s = imap_settings(imap)
    outcomes = await ImapPoller(
        s, MailIntake(s, desk, store.mail, attachments_root=tmp_path)
    ).poll_once()
    assert [o.result for o in outcomes] == ["opened"]
    assert imap.seen() == [good] and bad not in imap.seen()
    [conv] = desk.conversations.values()
    assert conv["party"]["name"] == "N" * 200
