"""The email channel end to end through a real service (the real desk and ACD, the
service's SMTP listener, a local relay on 127.0.0.1): mail in -> agent assigned -> agent
reply -> the customer receives a threaded reply -> the customer's answer joins the same
conversation -> closed into the customer's history; a later answer continues the thread
in a new conversation; an auto-reply and a bounce reach no agent."""

from __future__ import annotations

import asyncio
import dataclasses
import smtplib
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from config.settings import Settings
from tests.service_harness import running_service
from tests.test_mail_transport import Relay, free_port

QUEUES = """
queues:
  web:
    channels: [chat, email]
    wrap_up: 30
agents:
  - {id: "1001", name: Alice Moreau, endpoint: PJSIP/1001, queues: [web],
     capacity: {voice: 1, chat: 2, email: 2}}
"""


def mail(body: str, message_id: str, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Ada Lovelace <ada@example.com>"
    msg["To"] = "support@shop.test"
    msg["Subject"] = headers.pop("Subject", "Invoice 42")
    msg["Message-ID"] = message_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def smtp_send(port: int, msg: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("ada@example.com", ["support@shop.test"], msg.as_bytes())


async def wait_until(check: Any) -> None:
    for _ in range(250):  # 5 s
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def test_email_in_agent_reply_threaded_out_and_in_history(tmp_path: Path) -> None:
    relay = Relay()
    relay_port, listen_port = free_port(), free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=relay_port)
    controller.start()
    queues = tmp_path / "queues.yaml"
    queues.write_text(QUEUES)

    def tweak(settings: Settings) -> Settings:
        email = dataclasses.replace(
            settings.email,
            enabled=True,
            from_address="support@shop.test",
            from_name="Shop Support",
            mailboxes={"support@shop.test": "web"},
            listen=True,
            listen_port=listen_port,
            smtp_host="127.0.0.1",
            smtp_port=relay_port,
            smtp_tls="none",
            attachments_dir=str(tmp_path / "attachments"),
        )
        return dataclasses.replace(settings, email=email)

    try:
        async with running_service(tmp_path, queues_file=queues, tweak=tweak) as (
            service,
            _sim,
            published,
            _url,
        ):
            desk = service.center.digital
            ada = await service.store.customers.add("Ada Lovelace", email="ada@example.com")
            await service.center.set_agent_state("1001", "ready")

            await asyncio.to_thread(
                smtp_send, listen_port, mail("Please resend invoice 42", "<in-1@example.com>")
            )
            pop = await published.wait_for(lambda m: m["type"] == "conversation_assigned")
            conv = pop["conversation"]
            key = conv["key"]
            assert key.startswith("email:") and pop["agent_id"] == "1001"
            assert conv["channel"] == "email" and conv["subject"] == "Invoice 42"
            assert conv["customer_id"] == ada.id and conv["party"]["email"] == "ada@example.com"

            # the agent answers through the console port, the customer gets a threaded reply
            reply = await service.center.conversation_reply("1001", key, "Here it is again.")
            await wait_until(lambda: len(relay.received) == 1)
            mail_from, rcpts, raw = relay.received[0]
            assert (mail_from, rcpts) == ("support@shop.test", ["ada@example.com"])
            out = message_from_bytes(raw, policy=policy.default)
            assert out["In-Reply-To"] == "<in-1@example.com>"
            assert out["References"] == "<in-1@example.com>"
            assert out["Subject"] == "Re: Invoice 42"
            assert out["Message-ID"] == reply["meta"]["message_id"]
            assert "> Please resend invoice 42" in out.get_content()

            # her answer to our reply lands in the same conversation
            ours = out["Message-ID"]
            answer = mail(
                "Got it, thanks",
                "<in-2@example.com>",
                Subject="Re: Invoice 42",
                In_Reply_To=ours,
                References=f"<in-1@example.com> {ours}",
            )
            await asyncio.to_thread(smtp_send, listen_port, answer)
            said = await published.wait_for(
                lambda m: (
                    m["type"] == "conversation_message" and m["message"]["text"] == "Got it, thanks"
                )
            )
            assert said["conversation_key"] == key and said["agent_id"] == "1001"

            # an out-of-office and a bounce: kept against the thread, no agent sees them
            ooo = mail(
                "I am away",
                "<ooo@example.com>",
                Subject="Automatic reply: Invoice 42",
                Auto_Submitted="auto-replied",
                In_Reply_To=ours,
            )
            await asyncio.to_thread(smtp_send, listen_port, ooo)
            texts = [m["text"] for m in await desk.messages(key)]
            assert texts == ["Please resend invoice 42", "Here it is again.", "Got it, thanks"]
            kept = await service.store.mail.get("<ooo@example.com>")
            assert kept is not None and kept.kind == "auto_reply" and kept.conversation_key == key

            await service.center.conversation_end("1001", key)
            await service.center.conversation_close("1001", key)
            await service.center.recorder.flush()
            history = await service.store.contacts.history(ada.id)
            [contact] = [c for c in history.items if c.key == key]
            assert contact.channel == "email" and contact.agent_id == "1001"
            assert contact.first_response_at == reply["at"]

            # a later answer in the same thread: a new conversation continuing it
            later = mail(
                "One more question",
                "<in-3@example.com>",
                Subject="Re: Invoice 42",
                In_Reply_To="<in-2@example.com>",
                References=f"<in-1@example.com> {ours} <in-2@example.com>",
            )
            await asyncio.to_thread(smtp_send, listen_port, later)
            again = await published.wait_for(
                lambda m: m["type"] == "conversation_assigned" and m["conversation"]["key"] != key
            )
            assert again["conversation"]["thread"] == key and again["agent_id"] == "1001"
            assert len([m for m in published.messages if m["type"] == "conversation_assigned"]) == 2

            # a crash after the desk stored a message and before the index settled: the
            # sender (MTA or IMAP re-fetch) delivers it again, and it is taken once
            store_mail = service.store.mail
            real_settle = store_mail.settle

            async def dying_settle(message_id: str, key: str) -> None:
                store_mail.settle = real_settle
                raise RuntimeError("power cut")

            store_mail.settle = dying_settle
            crash = mail("New question", "<in-4@example.com>", Subject="Delivery")
            try:
                await asyncio.to_thread(smtp_send, listen_port, crash)
            except smtplib.SMTPDataError as exc:
                assert exc.smtp_code == 451  # not acknowledged: the MTA keeps it
            else:
                raise AssertionError("a failed intake must not be acknowledged")
            claim = await store_mail.get("<in-4@example.com>")
            assert claim is not None and claim.reason == "pending"
            await asyncio.to_thread(smtp_send, listen_port, crash)  # the retry: 250
            settled = await store_mail.get("<in-4@example.com>")
            assert settled is not None and settled.reason == "" and settled.conversation_key
            holding = [c for c in desk.open_conversations() if c["subject"] == "Delivery"]
            assert [c["key"] for c in holding] == [settled.conversation_key]
            assert [m["text"] for m in await desk.messages(settled.conversation_key)] == [
                "New question"
            ]
    finally:
        controller.stop()


TWO_AGENTS = """
queues:
  web:
    channels: [email]
    wrap_up: 30
agents:
  - {id: "1001", name: Alice Moreau, endpoint: PJSIP/1001, queues: [web]}
  - {id: "1002", name: Bruno Keller, endpoint: PJSIP/1002, queues: [web]}
"""


async def test_a_reply_after_the_conversation_closed_goes_to_its_agent_first(
    tmp_path: Path,
) -> None:
    """Sticky by thread, for a sender the CRM does not know (no customer history)."""
    relay = Relay()
    relay_port, listen_port = free_port(), free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=relay_port)
    controller.start()
    queues = tmp_path / "queues.yaml"
    queues.write_text(TWO_AGENTS)

    def tweak(settings: Settings) -> Settings:
        email = dataclasses.replace(
            settings.email,
            enabled=True,
            from_address="support@shop.test",
            mailboxes={"support@shop.test": "web"},
            listen=True,
            listen_port=listen_port,
            smtp_host="127.0.0.1",
            smtp_port=relay_port,
            smtp_tls="none",
            attachments_dir=str(tmp_path / "attachments"),
        )
        return dataclasses.replace(settings, email=email)

    try:
        async with running_service(tmp_path, queues_file=queues, tweak=tweak) as (
            service,
            _sim,
            published,
            _url,
        ):
            center = service.center
            await center.set_agent_state("1002", "ready")
            await asyncio.to_thread(smtp_send, listen_port, mail("First", "<t-1@example.com>"))
            pop = await published.wait_for(lambda m: m["type"] == "conversation_assigned")
            first = pop["conversation"]["key"]
            assert pop["agent_id"] == "1002" and pop["conversation"]["customer_id"] is None
            await center.conversation_reply("1002", first, "Answer")
            await center.conversation_end("1002", first)
            await center.conversation_close("1002", first)
            ours = (await service.store.mail.latest(first, direction="out")).message_id

            # Alice ready longest: without stickiness she would be next
            await center.set_agent_state("1002", "not_ready", "break")
            await center.set_agent_state("1001", "ready")
            await asyncio.sleep(0.05)
            await center.set_agent_state("1002", "ready")
            again = mail("Follow-up", "<t-2@example.com>", In_Reply_To=ours)
            await asyncio.to_thread(smtp_send, listen_port, again)
            entry = await service.store.mail.get("<t-2@example.com>")
            assert entry is not None and entry.conversation_key not in ("", first)
            second = entry.conversation_key
            pop2 = await published.wait_for(
                lambda m: (
                    m["type"] == "conversation_assigned" and m["conversation"]["key"] == second
                )
            )
            assert pop2["agent_id"] == "1002" and pop2["conversation"]["thread"] == first
            # and a third mail, a new thread, goes to Alice as usual
            await asyncio.to_thread(smtp_send, listen_port, mail("New", "<t-3@example.com>"))
            pop3 = await published.wait_for(
                lambda m: (
                    m["type"] == "conversation_assigned"
                    and m["conversation"]["key"] not in (first, second)
                )
            )
            assert pop3["agent_id"] == "1001"
    finally:
        controller.stop()


async def test_a_reply_is_stored_before_it_is_sent_and_a_queued_one_goes_out_on_start(
    tmp_path: Path,
) -> None:
    """The relay is down: the agent's reply is kept (delivery "failed", with why), not
    lost. A reply left "queued" by a crash between the store and the relay is sent when
    the service starts, under the Message-ID it was stored with; one the relay already
    took (its id in the mail index) is only marked sent; a second start sends nothing."""
    relay = Relay()
    relay_port, listen_port = free_port(), free_port()
    queues = tmp_path / "queues.yaml"
    queues.write_text(QUEUES)

    def tweak(settings: Settings) -> Settings:
        email = dataclasses.replace(
            settings.email,
            enabled=True,
            from_address="support@shop.test",
            mailboxes={"support@shop.test": "web"},
            listen=True,
            listen_port=listen_port,
            smtp_host="127.0.0.1",
            smtp_port=relay_port,
            smtp_tls="none",
            smtp_retries=0,
            attachments_dir=str(tmp_path / "attachments"),
        )
        return dataclasses.replace(settings, email=email)

    # 1. no relay listening: the reply is stored, marked failed, and the agent sees why
    async with running_service(tmp_path, queues_file=queues, tweak=tweak) as (
        service,
        _sim,
        published,
        _url,
    ):
        await service.center.set_agent_state("1001", "ready")
        await asyncio.to_thread(smtp_send, listen_port, mail("Invoice please", "<in-1@ex.com>"))
        pop = await published.wait_for(lambda m: m["type"] == "conversation_assigned")
        key = pop["conversation"]["key"]
        reply = await service.center.conversation_reply("1001", key, "Here it is.")
        assert reply["seq"] == 2 and reply["meta"]["delivery"] == "failed"
        assert "could not be reached" in reply["meta"]["delivery_error"]
        assert reply["meta"]["message_id"].endswith("@shop.test>")
        stored = await service.store.conversations.messages(key, 1, 10)
        assert [(m["text"], m["meta"]["delivery"]) for m in stored] == [("Here it is.", "failed")]
        shown = await published.wait_for(
            lambda m: m["type"] == "conversation_message" and m["message"]["seq"] == 2
        )
        assert shown["message"]["meta"]["delivery"] == "failed"
        # what a crash after the store and before (or during) the send leaves behind
        repo = service.store.conversations
        await repo.add_message(
            key,
            3,
            "agent",
            "Crashed before the relay",
            agent_id="1001",
            meta={"delivery": "queued", "message_id": "<q-1@shop.test>"},
        )
        await repo.add_message(
            key,
            4,
            "agent",
            "Crashed after the relay took it",
            agent_id="1001",
            meta={"delivery": "queued", "message_id": "<q-2@shop.test>"},
        )
        from crm_lookup.mail_store import MailEntry

        await service.store.mail.record(
            MailEntry("<q-2@shop.test>", key, "out", recipient="ada@example.com")
        )

    # 2. the relay is back: the start sends the queued one, once
    controller = Controller(relay, hostname="127.0.0.1", port=relay_port)
    controller.start()
    try:
        for _ in range(2):
            async with running_service(tmp_path, queues_file=queues, tweak=tweak) as (
                service,
                _sim,
                _published,
                _url,
            ):
                repo = service.store.conversations

                async def delivery(seq: int, repo: Any = repo) -> str:
                    return str((await repo.messages(key, seq - 1, 1))[0]["meta"]["delivery"])

                for _ in range(250):
                    if await delivery(3) == "sent" and await delivery(4) == "sent":
                        break
                    await asyncio.sleep(0.02)
                assert [await delivery(s) for s in (2, 3, 4)] == ["failed", "sent", "sent"]
        assert len(relay.received) == 1
        out = message_from_bytes(relay.received[0][2], policy=policy.default)
        assert out["Message-ID"] == "<q-1@shop.test>"
        assert out["In-Reply-To"] == "<in-1@ex.com>"
        assert "Crashed before the relay" in out.get_content()
    finally:
        controller.stop()


def bounce_of(ours: str, report_id: str, *, action: str = "failed", status: str = "5.1.1") -> bytes:
    """A delivery report (RFC 3464) as Postfix sends it, for our reply ``ours``; its
    diagnostic carries markup, which must stay text."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n"
        "To: support@shop.test\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {report_id}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        "Final-Recipient: rfc822; ada@example.com\r\n"
        f"Action: {action}\r\nStatus: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <ada@example.com>: <b>User unknown</b>\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {ours}\r\nSubject: Re: Invoice 42\r\n--B--\r\n"
    ).encode()


def smtp_bounce(port: int, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("", ["support@shop.test"], raw)  # MAIL FROM:<>, as bounces come


async def test_a_bounce_shows_in_the_thread_linked_to_the_reply_that_did_not_arrive(
    tmp_path: Path,
) -> None:
    """Found in the last closing note: a bounce was indexed and nobody saw it, so the
    agent believed the customer had the answer. Now the conversation's thread (the
    console's API, live to the agent, and the contact page's transcript) carries a system
    line naming the reply and the reason, and the reply is marked bounced."""
    import aiohttp
    import argon2

    from agent_console.auth import Passwords
    from switchboard.demo import DEMO_PASSWORD
    from tests.console_fakes import CHEAP_ARGON2

    relay = Relay()
    relay_port, listen_port = free_port(), free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=relay_port)
    controller.start()
    queues = tmp_path / "queues.yaml"
    queues.write_text(QUEUES)

    def tweak(settings: Settings) -> Settings:
        email = dataclasses.replace(
            settings.email,
            enabled=True,
            from_address="support@shop.test",
            mailboxes={"support@shop.test": "web"},
            listen=True,
            listen_port=listen_port,
            smtp_host="127.0.0.1",
            smtp_port=relay_port,
            smtp_tls="none",
            attachments_dir=str(tmp_path / "attachments"),
        )
        return dataclasses.replace(settings, email=email)

    try:
        async with (
            running_service(tmp_path, queues_file=queues, tweak=tweak) as (
                service,
                _sim,
                published,
                url,
            ),
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
        ):
            hasher = Passwords(argon2.PasswordHasher(**CHEAP_ARGON2))
            await service.store.users.add("root", hasher.hash(DEMO_PASSWORD), "admin")
            resp = await http.post(
                url + "/api/login",
                json={"username": "root", "password": DEMO_PASSWORD},
                headers={"Origin": url},
            )
            assert resp.status == 200, await resp.text()
            ada = await service.store.customers.add("Ada Lovelace", email="ada@example.com")
            await service.center.set_agent_state("1001", "ready")
            await asyncio.to_thread(
                smtp_send, listen_port, mail("Please resend invoice 42", "<in-1@example.com>")
            )
            pop = await published.wait_for(lambda m: m["type"] == "conversation_assigned")
            key = pop["conversation"]["key"]
            reply = await service.center.conversation_reply("1001", key, "Here it is again.")
            await wait_until(lambda: len(relay.received) == 1)
            ours = reply["meta"]["message_id"]

            await asyncio.to_thread(smtp_bounce, listen_port, bounce_of(ours, "<dsn-1@mx>"))
            live = await published.wait_for(
                lambda m: m["type"] == "conversation_message" and m["message"]["sender"] == "system"
            )
            assert live["agent_id"] == "1001" and live["conversation_key"] == key
            expected = (
                "Your reply to ada@example.com could not be delivered: 5.1.1"
                " smtp; 550 5.1.1 <ada@example.com>: <b>User unknown</b>"
            )
            assert live["message"]["text"] == expected
            # the same report again (an MTA's retry): nothing twice; and no agent's slot
            await asyncio.to_thread(smtp_bounce, listen_port, bounce_of(ours, "<dsn-1@mx>"))

            resp = await http.get(f"{url}/api/conversations/{key}")
            assert resp.status == 200
            thread = (await resp.json())["messages"]
            assert [(m["seq"], m["sender"]) for m in thread] == [
                (1, "customer"),
                (2, "agent"),
                (3, "system"),
            ]
            assert thread[1]["meta"]["delivery"] == "bounced"
            assert thread[1]["meta"]["delivery_error"].startswith("5.1.1 smtp; 550")
            assert thread[2]["text"] == expected
            assert thread[2]["meta"]["bounce"] == {
                "report_id": "<dsn-1@mx>",
                "reply_seq": 2,
                "reply_message_id": ours,
                "recipient": "ada@example.com",
                "action": "failed",
                "status": "5.1.1",
                "diagnostic": "smtp; 550 5.1.1 <ada@example.com>: <b>User unknown</b>",
            }
            assert [m["type"] for m in published.messages].count("conversation_assigned") == 1
            indexed = await service.store.mail.get("<dsn-1@mx>")
            assert indexed is not None and indexed.kind == "bounce"
            assert indexed.conversation_key == key

            # closed, then a late report (a delay): still shown, the reply left bounced
            await service.center.conversation_end("1001", key)
            await service.center.conversation_close("1001", key)
            await service.center.recorder.flush()
            delayed = bounce_of(ours, "<dsn-2@mx>", action="delayed", status="4.4.1")
            await asyncio.to_thread(smtp_bounce, listen_port, delayed)
            history = await service.store.contacts.history(ada.id)
            [contact] = [c for c in history.items if c.key == key]
            resp = await http.get(f"{url}/api/contacts/{contact.id}")
            assert resp.status == 200, await resp.text()
            page = (await resp.json())["transcript"]["messages"]
            assert [(m["seq"], m["sender"]) for m in page] == [
                (1, "customer"),
                (2, "agent"),
                (3, "system"),
                (4, "system"),
            ]
            assert page[3]["text"].startswith("Your reply to ada@example.com is delayed")
            assert page[3]["meta"]["bounce"]["reply_seq"] == 2
            assert page[1]["meta"]["delivery"] == "bounced"
    finally:
        controller.stop()


def report(
    report_id: str,
    *,
    returned: str = "",
    recipient: str = "ada@example.com",
    action: str = "failed",
    status_part: bool = True,
    sender: str = "MAILER-DAEMON@mx.example.com",
    in_reply_to: str = "",
    text: str = "Your message could not be delivered.",
) -> bytes:
    """A delivery report with every part a forger could choose."""
    threading = (
        f"In-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\n" if in_reply_to else ""
    )
    status = (
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: 5.1.1\r\n\r\n"
        if status_part
        else ""
    )
    headers = (
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {returned}\r\n"
        if returned
        else ""
    )
    return (
        f"From: {sender}\r\nTo: support@shop.test\r\nSubject: Undelivered Mail\r\n"
        f"Message-ID: {report_id}\r\n{threading}MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        f"--B\r\nContent-Type: text/plain\r\n\r\n{text}\r\n{status}{headers}--B--\r\n"
    ).encode()


def smtp_from(port: int, mail_from: str, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail(mail_from, ["support@shop.test"], raw)


async def test_a_bounce_marks_a_reply_only_from_a_real_report_of_it(tmp_path: Path) -> None:
    """Found in review: a "bounce" (any mail from mailer-daemon@, with a null return path
    or a report part) found its thread from its own In-Reply-To with no other check, so
    anyone who knew a reply's Message-ID could put their own words in the thread as a
    system line and mark the agent's reply undelivered; and a report with no status, or
    one where only a CC failed, marked it failed too. Now only a report sent with the null
    return path, naming one of our sent replies in its report, with a failed recipient
    that is the reply's To, is shown and marks it."""
    relay = Relay()
    relay_port, listen_port = free_port(), free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=relay_port)
    controller.start()
    queues = tmp_path / "queues.yaml"
    queues.write_text(QUEUES)

    def tweak(settings: Settings) -> Settings:
        email = dataclasses.replace(
            settings.email,
            enabled=True,
            from_address="support@shop.test",
            mailboxes={"support@shop.test": "web"},
            listen=True,
            listen_port=listen_port,
            smtp_host="127.0.0.1",
            smtp_port=relay_port,
            smtp_tls="none",
            attachments_dir=str(tmp_path / "attachments"),
        )
        return dataclasses.replace(settings, email=email)

    try:
        async with running_service(tmp_path, queues_file=queues, tweak=tweak) as (
            service,
            _sim,
            published,
            _url,
        ):
            desk = service.center.digital
            await service.center.set_agent_state("1001", "ready")
            await asyncio.to_thread(
                smtp_send, listen_port, mail("Please resend invoice 42", "<in-1@example.com>")
            )
            pop = await published.wait_for(lambda m: m["type"] == "conversation_assigned")
            key = pop["conversation"]["key"]
            reply = await service.center.conversation_reply("1001", key, "Here it is again.")
            await wait_until(lambda: len(relay.received) == 1)
            ours = reply["meta"]["message_id"]
            lie = "Your reply could not be delivered: call +1 900 555 0100 to fix it"

            forged = [
                # mailer-daemon@ in From, a real-looking report, but a sender's envelope
                ("mallory@evil.test", report("<f-1@evil>", returned=ours, text=lie)),
                # null return path, no report of ours: only its own In-Reply-To names it
                ("", report("<f-2@evil>", in_reply_to=ours, text=lie)),
                # null return path, the report names the customer's message, not ours
                ("", report("<f-3@evil>", returned="<in-1@example.com>", in_reply_to=ours)),
                # a report with no status block at all
                ("", report("<f-4@evil>", returned=ours, status_part=False)),
                # only a CC'd address failed, not the reply's To
                ("", report("<f-5@evil>", returned=ours, recipient="boss@example.com")),
                # delivered is no failure
                ("", report("<f-6@evil>", returned=ours, action="delivered")),
                # a mailer-daemon@ mail with no report part (no null return path either)
                ("mallory@evil.test", mail(lie, "<f-7@evil>", In_Reply_To=ours)),
            ]
            for mail_from, raw in forged:
                data = raw if isinstance(raw, bytes) else raw.as_bytes()
                if not isinstance(raw, bytes):
                    data = data.replace(b"ada@example.com", b"MAILER-DAEMON@mx.example.com", 1)
                await asyncio.to_thread(smtp_from, listen_port, mail_from, data)
            await service.center.recorder.flush()
            thread = await desk.messages(key)
            assert [(m["seq"], m["sender"]) for m in thread] == [(1, "customer"), (2, "agent")]
            assert thread[1]["meta"]["delivery"] == "sent"
            assert not [
                m
                for m in published.messages
                if m["type"] == "conversation_message" and m["message"]["sender"] == "system"
            ]
            for n in (1, 2, 3, 7):  # no report of ours: against no thread
                kept = await service.store.mail.get(f"<f-{n}@evil>")
                assert kept is not None and kept.conversation_key == "", n
            for n in (4, 5, 6):  # reports of our reply, just no failure of its To
                kept = await service.store.mail.get(f"<f-{n}@evil>")
                assert kept is not None and kept.conversation_key == key, n
            assert [m["type"] for m in published.messages].count("conversation_assigned") == 1

            # a delay of the To, under the same rules: a line, the reply left sent
            delayed = report("<d-1@mx>", returned=ours, action="delayed")
            await asyncio.to_thread(smtp_from, listen_port, "", delayed)
            # the real report: shown, and the reply marked bounced
            await asyncio.to_thread(smtp_from, listen_port, "", report("<r-1@mx>", returned=ours))
            thread = await desk.messages(key)
            assert [(m["seq"], m["sender"]) for m in thread] == [
                (1, "customer"),
                (2, "agent"),
                (3, "system"),
                (4, "system"),
            ]
            assert thread[2]["meta"]["bounce"]["action"] == "delayed"
            assert thread[3]["meta"]["bounce"]["action"] == "failed"
            assert thread[3]["meta"]["bounce"]["reply_seq"] == 2
            assert thread[1]["meta"]["delivery"] == "bounced"
            kept = await service.store.mail.get("<r-1@mx>")
            assert kept is not None and kept.conversation_key == key
    finally:
        controller.stop()
