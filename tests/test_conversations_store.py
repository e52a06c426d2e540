"""Migration 15 and store.conversations on both engines: a chat or an email is a contact
with its channel and first response folded by the triggers, a conversation row and its
numbered messages; find_by_email; the takeover's open contacts stay calls only."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from config.errors import InvalidInput, NotFound
from crm_lookup.conversations import MAX_BODY, hash_token
from crm_lookup.database import ConstraintViolation
from crm_lookup.store import Store, open_store


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = await open_store(store_url)
    yield s
    await s.close()


KEY = "chat:" + "a" * 32


async def _open_chat(store: Store, key: str = KEY, at: float = 1000.0) -> None:
    await store.contacts.arrived(key, "+14155550100", "", "inbound", at, channel="chat")
    await store.conversations.create(
        key,
        "chat",
        queue="support",
        party={"name": "Ada Lovelace", "phone": "+14155550100", "email": "ada@example.com"},
        subject="Billing",
        language="en",
        at=at,
    )


async def test_schema_is_at_migration_15(store: Store) -> None:
    assert await store.fetchone("SELECT 1 FROM schema_version WHERE version = 15")


async def test_a_digital_contact_has_its_channel_and_first_response(store: Store) -> None:
    await _open_chat(store)
    await store.contacts.queued(KEY, "support", 1001.0)
    await store.contacts.offered(KEY, "1001", 1004.0)
    await store.contacts.answered(KEY, "1001", 1004.0)
    assert await store.contacts.first_response(KEY, "1001", 1010.0)
    # only the first reply counts, and a replay changes nothing
    assert not await store.contacts.first_response(KEY, "1001", 1010.0)
    await store.contacts.ended(KEY, 1100.0, "answered")
    contact = await store.contacts.get_by_key(KEY)
    assert contact.channel == "chat"
    assert contact.first_response_at == 1010.0
    assert contact.wait_seconds == 3.0
    assert contact.talk_seconds == 96.0
    assert contact.to_json()["channel"] == "chat"


async def test_a_call_stays_voice_with_no_first_response(store: Store) -> None:
    await store.contacts.arrived("1700.1", "+14155550100", "5550100", "inbound", 10.0)
    contact = await store.contacts.get_by_key("1700.1")
    assert contact.channel == "voice"
    assert contact.first_response_at is None


async def test_an_unknown_channel_is_refused(store: Store) -> None:
    with pytest.raises(InvalidInput):
        await store.contacts.arrived("x:1", "", "", "inbound", 1.0, channel="fax")
    with pytest.raises(InvalidInput):
        await store.conversations.create("1700.2", "voice", queue="q", party={})


async def test_the_database_refuses_a_channel_the_code_would_not(store: Store) -> None:
    await store.contacts.arrived("1700.3", "", "", "inbound", 1.0)
    with pytest.raises(ConstraintViolation):  # the CHECK, whichever engine raised it
        await store.write("UPDATE contacts SET channel = 'fax' WHERE key = '1700.3'")


async def test_conversation_row_reads_back_with_its_contact(store: Store) -> None:
    await _open_chat(store)
    await store.contacts.queued(KEY, "support", 1001.0)
    found = await store.conversations.get(KEY)
    assert found is not None
    contact = await store.contacts.get_by_key(KEY)
    assert found["contact_id"] == contact.id
    assert found["state"] == "waiting"
    assert found["party"] == {
        "name": "Ada Lovelace",
        "phone": "+14155550100",
        "email": "ada@example.com",
    }
    assert found["opened_at"] == 1000.0 and found["queued_at"] == 1001.0
    assert found["queue"] == "support" and found["agent_id"] is None
    assert await store.conversations.get("chat:" + "b" * 32) is None


async def test_a_conversation_needs_its_contact_first(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.conversations.create("chat:" + "c" * 32, "chat", queue="q", party={})


async def test_messages_are_numbered_kept_once_and_paged(store: Store) -> None:
    await _open_chat(store)
    first = await store.conversations.add_message(
        KEY, 1, "customer", "  Hello\nthere ", name="Ada", at=1002.0
    )
    assert first == {
        "conversation": KEY,
        "seq": 1,
        "sender": "customer",
        "agent_id": None,
        "name": "Ada",
        "text": "Hello\nthere",
        "at": 1002.0,
        "meta": {},
    }
    await store.conversations.add_message(
        KEY, 2, "agent", "Hi Ada", agent_id="1001", name="Alice", meta={"m": 1}, at=1003.0
    )
    # the same number again keeps the first
    await store.conversations.add_message(KEY, 2, "agent", "other", agent_id="1001", at=1004.0)
    messages = await store.conversations.messages(KEY)
    assert [(m["seq"], m["text"]) for m in messages] == [(1, "Hello\nthere"), (2, "Hi Ada")]
    assert messages[1]["meta"] == {"m": 1} and messages[1]["agent_id"] == "1001"
    assert [m["seq"] for m in await store.conversations.messages(KEY, after_seq=1)] == [2]
    assert len(await store.conversations.messages(KEY, limit=1)) == 1
    assert await store.conversations.last_seq(KEY) == 2
    found = await store.conversations.get(KEY)
    assert found is not None and found["last_seq"] == 2


@pytest.mark.parametrize(
    "text",
    ["", "   ", "a\x00b", "x" * (MAX_BODY + 1), "é" * (MAX_BODY // 2 + 1)],
)
async def test_a_bad_body_is_refused(store: Store, text: str) -> None:
    await _open_chat(store)
    with pytest.raises(InvalidInput):
        await store.conversations.add_message(KEY, 1, "customer", text)


async def test_the_largest_body_fits(store: Store) -> None:
    await _open_chat(store)
    body = "é" * (MAX_BODY // 2)
    message = await store.conversations.add_message(KEY, 1, "customer", body)
    assert (await store.conversations.messages(KEY))[0]["text"] == body == message["text"]


async def test_a_message_of_no_conversation_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.conversations.add_message("chat:" + "d" * 32, 1, "customer", "hi")


async def test_state_agent_and_open_ones(store: Store) -> None:
    await _open_chat(store)
    other = "email:" + "e" * 32
    await store.contacts.arrived(other, "", "", "inbound", 900.0, channel="email")
    await store.conversations.create(other, "email", queue="mail", party={}, at=900.0)
    await store.conversations.update(KEY, state="active", agent_id="1001")
    await store.conversations.update(other, state="closed")
    found = await store.conversations.open_ones()
    assert [c["key"] for c in found] == [KEY]
    assert found[0]["state"] == "active" and found[0]["agent_id"] == "1001"
    with pytest.raises(InvalidInput):
        await store.conversations.update(KEY, state="lost")


async def test_the_visitor_token_is_kept_hashed(store: Store) -> None:
    await _open_chat(store)
    await store.conversations.set_visitor_token(KEY, "secret-token")
    row = await store.fetchone("SELECT visitor_token_hash FROM conversations WHERE key = ?", (KEY,))
    assert row is not None and row[0] == hash_token("secret-token") != "secret-token"
    assert await store.conversations.token_matches(KEY, "secret-token")
    assert not await store.conversations.token_matches(KEY, "guess")
    assert not await store.conversations.token_matches("chat:" + "f" * 32, "secret-token")


async def test_open_contacts_for_the_takeover_are_calls_only(store: Store) -> None:
    await _open_chat(store)
    await store.contacts.arrived("1700.9", "+14155550100", "5550100", "inbound", 10.0)
    assert [c.key for c, _ in await store.contacts.open_contacts()] == ["1700.9"]
    assert [c.key for c, _ in await store.contacts.open_contacts(channel="chat")] == [KEY]


async def test_find_by_email_ignores_case(store: Store) -> None:
    ada = await store.customers.add("Ada Lovelace", email="Ada@Example.com")
    await store.customers.add("Someone Else", email="other@example.com")
    found = await store.customers.find_by_email("ada@example.COM")
    assert found is not None and found.id == ada.id
    assert await store.customers.find_by_email("nobody@example.com") is None
    assert await store.customers.find_by_email("") is None
    assert await store.customers.find_by_email("not an address") is None


async def test_a_digital_contact_is_in_the_customer_history(store: Store) -> None:
    ada = await store.customers.add("Ada Lovelace", phones=["+14155550100"])
    await store.contacts.arrived(KEY, "", "", "inbound", 1000.0, ada.id, channel="chat")
    page = await store.contacts.history(ada.id)
    assert [(c.key, c.channel) for c in page.items] == [(KEY, "chat")]


async def test_last_seq_is_the_highest_stored_even_when_the_row_lags(store: Store) -> None:
    await _open_chat(store)
    for seq in (1, 2, 3):
        await store.conversations.add_message(KEY, seq, "customer", f"m{seq}", bump=False)
    row = await store.fetchone("SELECT last_seq FROM conversations WHERE key = ?", (KEY,))
    assert row is not None and row[0] == 0  # one write per message: the row lags
    found = await store.conversations.get(KEY)
    assert found is not None and found["last_seq"] == 3
    await store.conversations.update(KEY, state="active", last_seq=3)
    await store.conversations.update(KEY, last_seq=1)  # never lowered
    row = await store.fetchone("SELECT last_seq FROM conversations WHERE key = ?", (KEY,))
    assert row is not None and row[0] == 3


async def test_a_message_is_found_by_the_widgets_client_id(store: Store) -> None:
    """What a visitor's resend after a restart is recognised by: the exact id, never a
    LIKE pattern's near miss (``_`` and ``%`` are literal)."""
    await _open_chat(store)
    repo = store.conversations
    await repo.add_message(KEY, 1, "customer", "one", meta={"client_id": "a_b"})
    await repo.add_message(KEY, 2, "customer", "two", meta={"client_id": "axb%"})
    await repo.add_message(KEY, 3, "agent", "three", meta={"client_id": "c"})
    found = await repo.by_client_id(KEY, "a_b")
    assert found is not None and found["seq"] == 1
    assert (await repo.by_client_id(KEY, "axb%") or {}).get("seq") == 2
    assert await repo.by_client_id(KEY, "a%") is None
    assert await repo.by_client_id(KEY, "axb_") is None
    assert await repo.by_client_id(KEY, "c") is None  # an agent's message is not the visitor's
    assert await repo.by_client_id(KEY, "") is None


async def test_messages_are_found_by_a_meta_value_at_the_top_or_one_level_down(
    store: Store,
) -> None:
    """How a bounce finds the reply it is about (``message_id``) and its own earlier line
    (``bounce.report_id``): exact values only, by sender when asked."""
    await _open_chat(store)
    repo = store.conversations
    await repo.add_message(KEY, 1, "agent", "reply", meta={"message_id": "<r_1@x>"})
    await repo.add_message(KEY, 2, "customer", "hers", meta={"message_id": "<r_1@x>"})
    await repo.add_message(KEY, 3, "system", "line", meta={"bounce": {"report_id": "<d%@x>"}})
    assert [m["seq"] for m in await repo.with_meta(KEY, "message_id", "<r_1@x>")] == [1, 2]
    found = await repo.with_meta(KEY, "message_id", "<r_1@x>", sender="agent")
    assert [m["seq"] for m in found] == [1]
    assert await repo.with_meta(KEY, "message_id", "<r%1@x>") == []  # no LIKE near miss
    nested = await repo.with_meta(KEY, "report_id", "<d%@x>", sender="system")
    assert [m["seq"] for m in nested] == [3]
    assert await repo.with_meta(KEY, "report_id", "", sender="system") == []


async def test_the_newest_page_is_read_below_a_number(store: Store) -> None:
    """A thread longer than a page: the newest messages first, and the page before them."""
    await _open_chat(store)
    repo = store.conversations
    for seq in range(1, 1203):
        await repo.add_message(KEY, seq, "customer", f"m{seq}", bump=False)
    newest = await repo.messages_before(KEY, 2**31 - 1)
    assert [m["seq"] for m in newest] == list(range(703, 1203))
    earlier = await repo.messages_before(KEY, 703)
    assert [m["seq"] for m in earlier] == list(range(203, 703))
    assert [m["seq"] for m in await repo.messages_before(KEY, 203, 500)] == list(range(1, 203))
    assert await repo.messages_before(KEY, 1) == []
    with pytest.raises(InvalidInput):
        await repo.messages_before(KEY, 10, 501)
    with pytest.raises(InvalidInput):
        await repo.messages_before(KEY, -1)


async def test_update_meta_merges_into_the_stored_meta_and_never_undoes_a_bounce(
    store: Store,
) -> None:
    """On both engines: a reply's delivery written after the relay call merges into the
    meta as stored now; a bounce written meanwhile stays."""
    await _open_chat(store)
    meta = {"message_id": "<r@shop.test>", "delivery": "queued"}
    await store.conversations.add_message(KEY, 1, "agent", "hi", agent_id="1001", meta=meta)
    bounced = {"delivery": "bounced", "delivery_error": "5.1.1 gone"}
    assert await store.conversations.update_meta(KEY, 1, bounced) == {**meta, **bounced}
    after = await store.conversations.update_meta(
        KEY, 1, {"delivery": "sent", "relay": "mx"}, drop=("delivery_error",)
    )
    assert after == {"message_id": "<r@shop.test>", "relay": "mx", **bounced}
    [stored] = await store.conversations.messages(KEY)
    assert stored["meta"] == after
    assert await store.conversations.update_meta(KEY, 9, {"delivery": "sent"}) is None
    with pytest.raises(InvalidInput):
        await store.conversations.update_meta(KEY, 1, {"big": "x" * 20_000})
