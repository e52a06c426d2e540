"""crm_lookup.mail_store on both engines: the threading index (duplicates, nearest known
id, latest inbound) and attachments under a data dir with a size limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.errors import InvalidInput, NotFound
from crm_lookup.mail_store import MailEntry
from crm_lookup.store import Store, open_store


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = await open_store(store_url)
    try:
        yield s
    finally:
        await s.close()


async def test_record_is_idempotent_by_message_id(store: Store) -> None:
    first = MailEntry("<a@x.test>", "email:" + "1" * 32, "in", sender="ann@x.test", at=10.0)
    assert await store.mail.record(first) is True
    assert await store.mail.record(MailEntry("<a@x.test>", "email:" + "2" * 32, "in")) is False
    got = await store.mail.get("<a@x.test>")
    assert (
        got is not None
        and got.conversation_key == "email:" + "1" * 32
        and got.sender == "ann@x.test"
    )
    assert await store.mail.get("<nope@x.test>") is None


async def test_conversation_of_nearest_known_id(store: Store) -> None:
    one, two = "email:" + "a" * 32, "email:" + "b" * 32
    await store.mail.record(MailEntry("<root@x.test>", one, "in", at=1.0))
    await store.mail.record(
        MailEntry("<r1@us.test>", two, "out", at=2.0, references=("<root@x.test>",))
    )
    await store.mail.record(MailEntry("<bounce@mx.test>", "", "in", kind="bounce", at=3.0))
    assert await store.mail.conversation_of(["<r1@us.test>", "<root@x.test>"]) == two
    assert await store.mail.conversation_of(["<unknown@x.test>", "<root@x.test>"]) == one
    assert await store.mail.conversation_of(["<bounce@mx.test>"]) is None
    assert await store.mail.conversation_of([]) is None
    thread = await store.mail.thread(two)
    assert [(e.message_id, e.direction, e.references) for e in thread] == [
        ("<r1@us.test>", "out", ("<root@x.test>",))
    ]


async def test_latest_skips_bounces_and_auto_replies(store: Store) -> None:
    key = "email:" + "c" * 32
    await store.mail.record(MailEntry("<m1@x.test>", key, "in", at=1.0))
    await store.mail.record(MailEntry("<m2@x.test>", key, "in", at=2.0))
    await store.mail.record(MailEntry("<ooo@x.test>", key, "in", kind="auto_reply", at=3.0))
    latest = await store.mail.latest(key)
    assert latest is not None and latest.message_id == "<m2@x.test>"
    assert await store.mail.latest(key, direction="out") is None


async def test_attachments_stored_under_dir_with_limit(store: Store, tmp_path: Path) -> None:
    key = "email:" + "d" * 32
    await store.mail.record(MailEntry("<f@x.test>", key, "in", at=1.0))
    saved = await store.mail.add_attachment(
        tmp_path, "<f@x.test>", "../../invoice.pdf", "application/pdf", b"%PDF data", max_bytes=100
    )
    assert saved.filename == "invoice.pdf" and saved.size == 9
    assert (tmp_path / saved.path).read_bytes() == b"%PDF data"
    assert ".." not in saved.path and not saved.path.startswith("/")
    again = await store.mail.add_attachment(
        tmp_path, "<f@x.test>", "copy.pdf", "application/pdf", b"%PDF data", max_bytes=100
    )
    assert again.path == saved.path and again.id != saved.id  # one file, two rows
    assert [a.filename for a in await store.mail.attachments_of(key)] == ["invoice.pdf", "copy.pdf"]
    meta, data = await store.mail.read_attachment(tmp_path, saved.id)
    assert meta.filename == "invoice.pdf" and data == b"%PDF data"
    with pytest.raises(InvalidInput):
        await store.mail.add_attachment(
            tmp_path, "<f@x.test>", "big", "x/y", b"x" * 101, max_bytes=100
        )
    with pytest.raises(InvalidInput):
        await store.mail.add_attachment(tmp_path, "<f@x.test>", "..", "x/y", b"x", max_bytes=100)
    with pytest.raises(NotFound):
        await store.mail.read_attachment(tmp_path, 99999)
    assert len(await store.mail.attachments("<f@x.test>")) == 2


async def test_claim_settle_release(store: Store) -> None:
    entry = MailEntry("<p@x.test>", "", "in", sender="ann@x.test", at=5.0)
    assert await store.mail.claim(entry) is True
    assert await store.mail.claim(entry) is False  # one claim per id
    pending = await store.mail.get("<p@x.test>")
    assert pending is not None and pending.reason == "pending" and pending.conversation_key == ""
    assert await store.mail.conversation_of(["<p@x.test>"]) is None
    await store.mail.release("<p@x.test>")
    assert await store.mail.get("<p@x.test>") is None
    await store.mail.claim(entry)
    await store.mail.settle("<p@x.test>", "email:" + "e" * 32)
    await store.mail.release("<p@x.test>")  # a settled one is not released
    settled = await store.mail.get("<p@x.test>")
    assert (
        settled is not None
        and settled.reason == ""
        and settled.conversation_key == "email:" + "e" * 32
    )
    # nothing in the conversation store carries it (delivered_to itself: test_mail_e2e)
    assert await store.mail.delivered_to("<p@x.test>", 0.0) is None


async def test_correspondents_are_the_threads_addresses(store: Store) -> None:
    """What a reply must come from to join a thread: the customer's senders and our
    recipients, as lower-cased addr-specs; not a bounce's sender, nor another thread's."""
    one, two = "email:" + "c" * 32, "email:" + "d" * 32
    await store.mail.record(MailEntry("<1@x.test>", one, "in", sender="ann@x.test", at=1.0))
    await store.mail.record(
        MailEntry(
            "<2@shop.test>", one, "out", sender="support@shop.test", recipient="Ann <ANN@Y.test>"
        )
    )
    await store.mail.record(
        MailEntry("<3@x.test>", one, "in", kind="bounce", sender="mailer-daemon@x.test")
    )
    await store.mail.record(MailEntry("<4@x.test>", two, "in", sender="bo@x.test"))
    assert await store.mail.correspondents(one) == {"ann@x.test", "ann@y.test"}
    assert await store.mail.correspondents("email:" + "e" * 32) == set()
