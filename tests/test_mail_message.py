"""routing.mail_message: bounded parsing, bounce / auto-reply recognition, threading keys
and reply composition."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.errors import InvalidInput
from crm_lookup.conversations import clean_body
from routing.mail_message import (
    DeliveryStatus,
    MailLimits,
    MailRejected,
    QuotedMessage,
    compose_reply,
    compose_transcript,
    html_to_text,
    parse_mail,
    references_chain,
    reply_subject,
)


def mail(body: str = "Hello, my order is late.", **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Ann Lee <ann@example.com>")
    msg["To"] = headers.pop("To", "support@shop.test")
    msg["Subject"] = headers.pop("Subject", "Order 42")
    msg["Message-ID"] = headers.pop("Message_ID", "<m1@example.com>")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def test_plain_message_fields() -> None:
    m = parse_mail(mail(In_Reply_To="<a@us.test>", References="<root@us.test> <a@us.test>"))
    assert m.kind == "mail" and m.reason == ""
    assert m.message_id == "<m1@example.com>"
    assert m.sender == "ann@example.com" and m.sender_name == "Ann Lee"
    assert m.to == ("support@shop.test",)
    assert m.subject == "Order 42"
    assert m.text == "Hello, my order is late."
    assert m.in_reply_to == ("<a@us.test>",)
    assert m.references == ("<root@us.test>", "<a@us.test>")
    assert m.thread_ids == ("<a@us.test>", "<root@us.test>")


def test_missing_message_id_is_stable_per_bytes() -> None:
    raw = b"From: a@b.test\r\nSubject: x\r\n\r\nhi\r\n"
    first, again = parse_mail(raw), parse_mail(raw)
    assert first.message_id == again.message_id and first.message_id.endswith(".invalid>")
    assert parse_mail(raw + b"more").message_id != first.message_id


def test_html_only_becomes_plain_text_without_markup_or_scripts() -> None:
    msg = EmailMessage()
    msg["From"] = "a@b.test"
    msg["Subject"] = "html"
    msg.set_content(
        "<html><head><style>p{color:red}</style></head><body><p>Hi &amp; welcome</p>"
        "<script>alert(1)</script><ul><li>one</li><li>two</li></ul>"
        "<img src=x onerror=alert(2)></body></html>",
        subtype="html",
    )
    m = parse_mail(msg.as_bytes())
    assert m.text == "Hi & welcome\n\n• one\n\n• two"
    assert "<" not in m.text and "alert" not in m.text and "color" not in m.text


def test_text_plain_preferred_over_html_and_attachments_listed() -> None:
    msg = EmailMessage()
    msg["From"] = "a@b.test"
    msg["Subject"] = "with file"
    msg.set_content("plain body")
    msg.add_alternative("<p>html body</p>", subtype="html")
    msg.add_attachment(
        b"%PDF-1.4 data", maintype="application", subtype="pdf", filename="../../etc/passwd.pdf"
    )
    m = parse_mail(msg.as_bytes())
    assert m.text == "plain body"
    assert [(a.filename, a.content_type, a.data) for a in m.attachments] == [
        ("passwd.pdf", "application/pdf", b"%PDF-1.4 data")
    ]


def test_attachment_over_limit_is_skipped_and_said() -> None:
    msg = EmailMessage()
    msg["From"] = "a@b.test"
    msg.set_content("see file")
    msg.add_attachment(
        b"x" * 2000, maintype="application", subtype="octet-stream", filename="big.bin"
    )
    m = parse_mail(msg.as_bytes(), limits=MailLimits(max_attachment_bytes=1000))
    assert m.attachments == () and m.skipped == (("big.bin", "too large"),)


def test_size_limit_552() -> None:
    with pytest.raises(MailRejected) as err:
        parse_mail(mail("x" * 5000), limits=MailLimits(max_bytes=4000))
    assert err.value.code == 552


def test_header_count_and_length_limits() -> None:
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(50)) + b"\r\nbody"
    with pytest.raises(MailRejected, match="header fields"):
        parse_mail(many, limits=MailLimits(max_headers=40))
    long = b"Subject: a\r\n" + b"".join(b"\t" + b"y" * 70 + b"\r\n" for _ in range(100)) + b"\r\nb"
    with pytest.raises(MailRejected, match="longer than"):
        parse_mail(long, limits=MailLimits(max_header_bytes=2000))
    with pytest.raises(MailRejected):
        parse_mail(b"")


def nested(depth: int) -> bytes:
    inner = b"Content-Type: text/plain\r\n\r\ndeep\r\n"
    for i in range(depth):
        b = b"b%d" % i
        inner = (
            b'Content-Type: multipart/mixed; boundary="'
            + b
            + b'"\r\n\r\n--'
            + b
            + b"\r\n"
            + inner
            + b"--"
            + b
            + b"--\r\n"
        )
    return b"From: a@b.test\r\n" + inner


def test_mime_depth_and_part_limits() -> None:
    assert parse_mail(nested(3)).text == "deep"
    with pytest.raises(MailRejected, match="nesting"):
        parse_mail(nested(12), limits=MailLimits(max_depth=8))
    msg = EmailMessage()
    msg["From"] = "a@b.test"
    msg.set_content("x")
    for i in range(10):
        msg.add_attachment(b"d", maintype="application", subtype="octet-stream", filename=f"f{i}")
    with pytest.raises(MailRejected, match="MIME parts"):
        parse_mail(msg.as_bytes(), limits=MailLimits(max_parts=5))


def dsn() -> bytes:
    return (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n"
        b"To: support@shop.test\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <dsn1@mx.example.com>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; gone@example.com\r\n"
        b"Action: failed\r\nStatus: 5.1.1\r\n\r\n"
        b"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <ours@shop.test>\r\n--B--\r\n"
    )


def test_a_delivery_report_says_who_failed_and_why_as_one_line_text() -> None:
    """What the agent is shown of a bounce (RFC 3464 recipient blocks), bounded and
    with no control characters; the human-readable part stays the text."""
    report = parse_mail(dsn())
    assert report.delivery == (DeliveryStatus("gone@example.com", "failed", "5.1.1", ""),)
    assert report.delivery[0].failed and report.text.startswith("Your message could not")
    noisy = dsn().replace(
        b"Status: 5.1.1\r\n",
        b"Status: 5.1.1 (user unknown)\r\nDiagnostic-Code: smtp; 550 5.1.1 <gone@example.com>:\r\n"
        b" Recipient address rejected\x07 " + b"x" * 2_000 + b"\r\n\r\n"
        b"Final-Recipient: rfc822; late@example.com\r\nAction: delayed\r\nStatus: 4.4.1\r\n",
    )
    gone, late = parse_mail(noisy).delivery
    assert gone.status == "5.1.1" and gone.diagnostic.startswith(
        "smtp; 550 5.1.1 <gone@example.com>: Recipient address rejected x"
    )
    assert len(gone.diagnostic) == 300 and "\x07" not in gone.diagnostic
    assert (late.recipient, late.action, late.status, late.failed) == (
        "late@example.com",
        "delayed",
        "4.4.1",
        False,
    )
    many = dsn().replace(
        b"Action: failed\r\nStatus: 5.1.1\r\n",
        b"\r\n\r\n".join(
            b"Final-Recipient: rfc822; r%d@x.test\r\nStatus: 5.0.0" % n for n in range(50)
        ),
    )
    assert len(parse_mail(many).delivery) == 10
    utf8 = dsn().replace(b"message/delivery-status", b"message/global-delivery-status")
    assert parse_mail(utf8).delivery == report.delivery
    assert parse_mail(mail(From="postmaster@example.com")).delivery == ()  # no report part


def test_bounces() -> None:
    report = parse_mail(dsn())
    assert report.kind == "bounce" and report.reason == "delivery status report"
    assert report.reported_ids == ("<ours@shop.test>",)
    assert report.thread_ids == ("<ours@shop.test>",)
    assert parse_mail(mail(From="postmaster@example.com")).kind == "bounce"
    assert parse_mail(mail(), envelope_from="").kind == "bounce"
    assert parse_mail(mail(Return_Path="<>")).kind == "bounce"
    assert parse_mail(mail(), envelope_from="ann@example.com").kind == "mail"


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"Auto_Submitted": "auto-generated"},
        {"X_Autoreply": "yes"},
        {"X_Autorespond": "Out of office"},
        {"Precedence": "bulk"},
        {"Precedence": "junk"},
        {"Precedence": "list"},
        {"Precedence": "auto_reply"},
        {"X_Auto_Response_Suppress": "All"},
    ],
)
def test_auto_reply_headers(headers: dict[str, str]) -> None:
    assert parse_mail(mail(**headers)).kind == "auto_reply"


def test_auto_submitted_no_and_ooo_subject_alone_are_mail() -> None:
    assert parse_mail(mail(Auto_Submitted="no")).kind == "mail"
    # a customer writing this subject is a customer
    assert parse_mail(mail(Subject="Out of office until Monday, call me")).kind == "mail"
    hinted = parse_mail(
        mail(Subject="Out of Office: Ann Lee", X_MS_Exchange_Inbox_Rules_Loop="ann@example.com")
    )
    assert hinted.kind == "auto_reply"
    assert (
        parse_mail(mail(Subject="Automatic reply: Order 42"), envelope_from="").kind == "auto_reply"
    )


def test_encoded_subject_and_control_chars() -> None:
    raw = mail(Subject="=?utf-8?b?0JfQsNC60LDQtw==?=")
    assert parse_mail(raw).subject == "Заказ"


def test_reply_subject_once() -> None:
    assert reply_subject("Order 42") == "Re: Order 42"
    assert reply_subject("Re: RE: Aw: Order 42") == "Re: Order 42"
    assert reply_subject("Отв: Заказ") == "Re: Заказ"


def test_references_chain_bounded_keeps_root() -> None:
    refs = [f"<r{i}@x.test>" for i in range(30)]
    chain = references_chain(refs, "<p@x.test>", limit=5)
    assert chain == ("<r0@x.test>", "<r27@x.test>", "<r28@x.test>", "<r29@x.test>", "<p@x.test>")
    assert references_chain([], "<p@x.test>") == ("<p@x.test>",)


def test_compose_reply_threading_headers() -> None:
    msg = compose_reply(
        from_addr="support@shop.test",
        from_name="Shop Support",
        to="ann@example.com",
        subject="Re: Order 42",
        body="It ships today.",
        domain="shop.test",
        in_reply_to="<m2@example.com>",
        references=("<m1@example.com>",),
        quoted=[
            QuotedMessage("Ann Lee", datetime(2026, 1, 2, 3, 4, tzinfo=UTC), "Where is it?\nThanks")
        ],
    )
    back = message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert back["Subject"] == "Re: Order 42"
    assert back["In-Reply-To"] == "<m2@example.com>"
    assert back["References"] == "<m1@example.com> <m2@example.com>"
    assert back["Message-ID"].endswith("@shop.test>") and back["Message-ID"] != "<m2@example.com>"
    assert back["Auto-Submitted"] is None
    body = back.get_content().replace("\r\n", "\n")
    assert body.startswith("It ships today.")
    assert "On 2026-01-02 03:04 UTC, Ann Lee wrote:\n> Where is it?\n> Thanks" in body


def test_compose_refuses_header_injection() -> None:
    with pytest.raises(InvalidInput):
        compose_reply(
            from_addr="s@shop.test",
            to="a@x.test\r\nBcc: v@evil.test",
            subject="s",
            body="b",
            domain="shop.test",
        )
    msg = compose_reply(
        from_addr="s@shop.test",
        to="a@x.test",
        subject="hi\r\nBcc: v@evil.test",
        body="b",
        domain="shop.test",
    )
    assert msg["Bcc"] is None and "\n" not in msg["Subject"]
    with pytest.raises(InvalidInput):
        compose_reply(
            from_addr="s@shop.test", to="a@x.test", subject="s", body="b", domain="bad domain"
        )


def test_transcript_is_auto_generated() -> None:
    msg = compose_transcript(
        from_addr="s@shop.test",
        to="a@x.test",
        subject="Your chat",
        lines=[
            ("Ann", datetime(2026, 1, 1, tzinfo=UTC), "hi"),
            ("Bob", datetime(2026, 1, 1, 0, 1, tzinfo=UTC), "hello"),
        ],
        domain="shop.test",
    )
    assert msg["Auto-Submitted"] == "auto-generated" and msg["In-Reply-To"] is None
    assert "[2026-01-01 00:01:00 UTC] Bob:\nhello" in msg.get_content()
    # our own transcript, if it came back, is recognised as automatic
    assert parse_mail(msg.as_bytes()).kind == "auto_reply"


def test_html_to_text_entities() -> None:
    assert html_to_text("a&lt;b&gt; <b>bold</b><br>next") == "a<b> bold\nnext"


# ---------------------------------------------------------------- hostile input


_HEADER_NAMES = st.sampled_from(
    [
        "From",
        "To",
        "Subject",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Auto-Submitted",
        "Precedence",
        "Return-Path",
        "X-Other",
    ]
)
_VALUES = st.one_of(
    st.text(max_size=200),
    st.sampled_from(
        [
            'multipart/mixed; boundary="b"',
            "text/html; charset=bogus",
            "base64",
            "quoted-printable",
            "<a@b>",
            "=?utf-8?b?////?=",
            "message/rfc822",
            "<>",
        ]
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    headers=st.lists(st.tuples(_HEADER_NAMES, _VALUES), max_size=12),
    body=st.one_of(st.binary(max_size=2000), st.text(max_size=2000).map(str.encode)),
)
def test_any_bytes_parse_or_are_refused_cleanly(
    headers: list[tuple[str, str]], body: bytes
) -> None:
    raw = b"".join(
        f"{n}: {v}".encode("utf-8", "surrogatepass").replace(b"\r", b"").replace(b"\n", b"")
        + b"\r\n"
        for n, v in headers
    )
    raw = (raw or b"X-Empty: 1\r\n") + b"\r\n" + body
    try:
        m = parse_mail(raw, limits=MailLimits(max_parts=20, max_depth=4))
    except MailRejected:
        return
    # what comes out is what the conversation store takes, and one line where it must be
    if m.text:
        clean_body(m.text)  # raises InvalidInput on anything the store would refuse
    assert "\n" not in m.subject and "\r" not in m.subject and len(m.subject) <= 998
    assert "\n" not in m.sender_name and m.message_id.startswith("<")
    assert all("/" not in a.filename and "\\" not in a.filename for a in m.attachments)


def test_a_bounce_knows_whether_it_came_with_the_null_return_path() -> None:
    """What a report of ours must come with (RFC 5321 4.5.5: MAIL FROM:<>): over SMTP
    the envelope's, from IMAP the Return-Path header; anything else is no proof."""
    assert parse_mail(dsn(), envelope_from="").null_sender
    assert not parse_mail(dsn(), envelope_from="mallory@evil.test").null_sender
    assert not parse_mail(dsn()).null_sender  # IMAP, no Return-Path
    imap = b"Return-Path: <>\r\n" + dsn()
    assert parse_mail(imap).null_sender
    # over SMTP the envelope decides, a Return-Path header in the bytes does not
    assert not parse_mail(imap, envelope_from="mallory@evil.test").null_sender


def test_a_bounce_names_the_returned_message_only_from_its_report() -> None:
    """The reported ids come from the report (the returned headers or message, or the
    per-message Original-Message-ID), never from the bounce's own threading headers."""
    forged = dsn().replace(
        b"Message-ID: <dsn1@mx.example.com>\r\n",
        b"Message-ID: <dsn1@mx.example.com>\r\nIn-Reply-To: <theirs@shop.test>\r\n",
    )
    assert parse_mail(forged).reported_ids == ("<ours@shop.test>",)
    original = dsn().replace(
        b"Reporting-MTA: dns; mx.example.com\r\n",
        b"Reporting-MTA: dns; mx.example.com\r\nOriginal-Message-ID: <first@shop.test>\r\n",
    )
    assert parse_mail(original).reported_ids == ("<first@shop.test>", "<ours@shop.test>")
