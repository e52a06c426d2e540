"""The CRM store: customers, duplicates and merge, idempotent contact milestones, cases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.errors import Conflict, InvalidInput, NotFound
from crm_lookup.directory import Directory
from crm_lookup.models import CaseChange
from crm_lookup.schema import MIGRATIONS
from crm_lookup.store import Store, StoreBusy, open_store


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """An empty store on SQLite, then on PostgreSQL (tests/conftest.py ``store_url``)."""
    s = await open_store(store_url)
    yield s
    await s.close()


LATEST = MIGRATIONS[-1][0]


async def test_a_version_1_database_is_upgraded_keeping_its_data(tmp_path: Path) -> None:
    import sqlite3
    import time

    from crm_lookup.schema import MIGRATION_1, SCHEMA_VERSION_TABLE

    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_VERSION_TABLE + ";\n" + MIGRATION_1)
    db.execute("INSERT INTO schema_version(version, applied_at) VALUES (1, ?)", (time.time(),))
    db.execute("INSERT INTO customers(name, created_at, updated_at) VALUES ('Old Timer', 1, 1)")
    db.execute("INSERT INTO customers(name, created_at, updated_at) VALUES ('old  timér', 1, 1)")
    db.commit()
    db.close()
    store = await open_store(path)
    try:
        assert await store.schema_version() == LATEST
        assert (await store.customers.search("Old Timer"))[0].name == "Old Timer"
        # Rows from before migration 8 got their duplicate keys at open.
        old = (await store.customers.search("Old Timer"))[0]
        found = await store.customers.likely_duplicates(old.id)
        assert [(c.name, why) for c, why in found] == [("old  timér", ["same_name"])]
        assert await store.sessions.purge(time.time()) == 0  # the new table is there
    finally:
        await store.close()


async def test_likely_duplicates_use_indexes_only(tmp_path: Path) -> None:
    """Every query behind the duplicates list is an index search, never a table scan:
    it has to stay fast on a million customers."""
    store = await open_store(tmp_path / "db.sqlite3")
    try:
        ada = await store.customers.add("Ada Lovelace", ["+15550001111"], email="ada@x.example")
        await store.customers.add("ada lovelace", ["+15550002222"], email="ADA@x.example")
        await store.contacts.arrived("k1", "+15550002222", "+15550000000", "inbound", 1.0, ada.id)
        statements: list[str] = []
        connection = store.db.connection  # type: ignore[attr-defined]
        await connection.set_trace_callback(statements.append)
        assert len(await store.customers.likely_duplicates(ada.id)) == 1
        await connection.set_trace_callback(None)
        selects = [q for q in statements if q.lstrip().upper().startswith("SELECT")]
        assert len(selects) >= 4
        for sql in selects:
            plan = " | ".join(str(r[3]) for r in await store.fetchall("EXPLAIN QUERY PLAN " + sql))
            assert "SCAN customers" not in plan and "SCAN phones" not in plan, (sql, plan)
            assert "SCAN contacts" not in plan and "SCAN c" not in plan, (sql, plan)
    finally:
        await store.close()


async def test_open_applies_migrations_once_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    s = await open_store(path)
    assert await s.schema_version() == LATEST
    mode = await s.fetchone("PRAGMA journal_mode")
    assert mode is not None and mode[0] == "wal"
    fk = await s.fetchone("PRAGMA foreign_keys")
    assert fk is not None and fk[0] == 1
    await s.customers.add("Ann", ["+15550001111"])
    await s.close()
    again = await open_store(path)
    assert await again.schema_version() == LATEST
    rows = await again.fetchall("SELECT version FROM schema_version")
    assert [r[0] for r in rows] == [v for v, _ in MIGRATIONS]
    assert (await again.customers.find_by_phone("555 000 1111")) is not None
    await again.close()


async def test_open_refuses_bad_region(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        await open_store(tmp_path / "x.db", default_region="USA")


async def test_add_and_find_by_phone_account_and_search(store: Store) -> None:
    c = await store.customers.add(
        "Ann Lee",
        ["(555) 000-1111", "+44 20 7946 0958"],
        tier="vip",
        language="EN",
        accounts=["12345678"],
        company="Lee Ltd",
        email="ann@lee.example",
        tags=["a", "b"],
    )
    assert c.phones == ("+15550001111", "+442079460958")
    assert c.tier == "VIP" and c.vip and c.language == "en"
    assert (await store.customers.find_by_phone("+1 555-000-1111")) == c
    assert (await store.customers.find_by_phone("+15550009999")) is None
    assert (await store.customers.find_by_account("12345678")) == c
    assert (await store.customers.find_by_account("'; drop")) is None
    assert [x.id for x in await store.customers.search("ann")] == [c.id]
    assert [x.id for x in await store.customers.search("lee ltd")] == [c.id]
    assert [x.id for x in await store.customers.search("555 000 1111")] == [c.id]
    assert [x.id for x in await store.customers.search("12345678")] == [c.id]
    assert await store.customers.search("100%") == []
    with pytest.raises(InvalidInput):
        await store.customers.find_by_phone("garbage")


async def test_bad_fields_are_refused_and_nothing_written(store: Store) -> None:
    for kwargs in (
        {"name": ""},
        {"name": "A", "phones": ["nope"]},
        {"name": "A", "email": "not-an-email"},
        {"name": "A", "language": "english!"},
        {"name": "A", "accounts": ["12 34"]},
    ):
        with pytest.raises(InvalidInput):
            await store.customers.add(**kwargs)
    assert await store.customers.count() == 0


async def test_same_phone_cannot_belong_to_two_customers(store: Store) -> None:
    first = await store.customers.add("Ann", ["+15550001111"], accounts=["11111111"])
    with pytest.raises(Conflict, match="already belongs to customer"):
        await store.customers.add("Bob", ["(555) 000-1111"])
    with pytest.raises(Conflict):
        await store.customers.add("Bob", ["+15550002222"], accounts=["11111111"])
    bob = await store.customers.add("Bob", ["+15550002222"])
    with pytest.raises(Conflict):
        await store.customers.update(bob.id, phones=["+15550002222", "555-000-1111"])
    assert (await store.customers.get(bob.id)).phones == ("+15550002222",)
    assert (await store.customers.get(first.id)).phones == ("+15550001111",)
    assert await store.customers.count() == 2


async def test_update_and_add_phone(store: Store) -> None:
    c = await store.customers.add("Ann", ["+15550001111 x12"])
    c2 = await store.customers.add_phone(c.id, "555-000-3333")
    assert c2.phones == ("+15550001111", "+15550003333")
    ext = await store.fetchone("SELECT extension FROM phones WHERE phone = '+15550001111'")
    assert ext is not None and ext[0] == "12"
    c3 = await store.customers.update(c.id, tier="gold", notes="likes email")
    assert (c3.tier, c3.notes, c3.phones) == ("gold", "likes email", c2.phones)
    with pytest.raises(InvalidInput):
        await store.customers.update(c.id, id=5)
    with pytest.raises(NotFound):
        await store.customers.update(999, name="x")


async def _call(
    store: Store, key: str, caller: str, t: float, *, agent: str = "1001", answer: bool = True
) -> int:
    log = store.contacts
    await log.arrived(key, caller, "+15550100000", at=t)
    await log.ivr_step(key, "menu", at=t + 1)
    await log.queued(key, "sales", at=t + 5)
    await log.offered(key, agent, at=t + 10)
    if answer:
        await log.answered(key, agent, at=t + 15)
        await log.ended(key, at=t + 75, outcome="answered")
    else:
        await log.ended(key, at=t + 40, outcome="abandoned_queue")
    return (await log.get_by_key(key)).id


async def test_merge_keeps_all_history(store: Store) -> None:
    keep = await store.customers.add("Ann Lee", ["+15550001111"], accounts=["100"], tags=["x"])
    dup = await store.customers.add(
        "Ann  Lee",
        ["+15550002222"],
        accounts=["200"],
        email="ann@x.example",
        tags=["y"],
        notes="dup note",
    )
    c1 = await _call(store, "k1", "+15550001111", 1000)
    c2 = await _call(store, "k2", "+15550002222", 2000)
    case = await store.cases.open(dup.id, "Refund", contact_id=c2)
    merged = await store.customers.merge(keep.id, dup.id, actor="sup1")
    assert merged.phones == ("+15550001111", "+15550002222")
    assert merged.accounts == ("100", "200")
    assert merged.email == "ann@x.example" and merged.tags == ("x", "y")
    assert merged.notes == "dup note"
    with pytest.raises(NotFound):
        await store.customers.get(dup.id)
    history = await store.contacts.history(keep.id)
    assert [c.id for c in history.items] == [c2, c1]
    assert (await store.cases.get(case.id)).customer_id == keep.id
    assert (await store.customers.find_by_phone("+15550002222")) == merged
    assert (await store.customers.find_by_account("200")) == merged
    audit = await store.audit.list()
    assert audit[0].action == "customer.merge" and audit[0].actor == "sup1"
    assert audit[0].details["duplicate"] == dup.id
    with pytest.raises(InvalidInput):
        await store.customers.merge(keep.id, keep.id)
    with pytest.raises(NotFound):
        await store.customers.merge(keep.id, dup.id)


async def test_full_contact_row_and_timeline(store: Store) -> None:
    ann = await store.customers.add("Ann", ["+15550001111"])
    log = store.contacts
    t = 10_000.0
    await log.arrived("L1", "(555) 000-1111", "100", at=t)
    await log.ivr_step("L1", {"node": "menu", "digits": "1"}, at=t + 1)
    await log.ivr_step("L1", "sales_info", at=t + 3)
    await log.ivr_done("L1", outcome="queued", at=t + 4)
    await log.queued("L1", "sales", at=t + 4)
    await log.offered("L1", "1001", at=t + 6)
    await log.offered("L1", "1002", at=t + 21)  # 1001 did not answer
    await log.answered("L1", "1002", at=t + 24)
    await log.held("L1", at=t + 50)
    await log.unheld("L1", at=t + 60)
    await log.recording("L1", "rec/L1.wav", at=t + 24)
    await log.ended("L1", at=t + 124, outcome="answered")
    contact = await log.get_by_key("L1")
    assert contact.customer_id == ann.id
    assert contact.caller == "+15550001111"
    assert contact.ivr_path == ({"node": "menu", "digits": "1"}, "sales_info")
    assert contact.ivr_result == "queued"
    assert (contact.queue, contact.agent_id, contact.offers) == ("sales", "1002", 2)
    assert contact.wait_seconds == 20.0
    assert contact.hold_seconds == 10.0
    assert contact.talk_seconds == 90.0
    assert contact.outcome == "answered" and contact.recording == "rec/L1.wav"
    done = await log.wrapup(
        contact.id, "resolved", "all good", case=CaseChange(subject="Upgrade plan"), at=t + 154
    )
    assert done.wrapup_seconds == 30.0 and done.disposition == "resolved"
    assert len(done.case_ids) == 1
    kinds = [e.kind for e in await log.timeline(contact.id)]
    assert kinds == [
        "arrived",
        "ivr_step",
        "ivr_step",
        "ivr_done",
        "queued",
        "offered",
        "offered",
        "answered",
        "recording",
        "held",
        "unheld",
        "ended",
        "wrapup",
    ]


async def test_same_milestone_twice_changes_nothing(store: Store) -> None:
    log = store.contacts
    t = 500.0
    assert await log.arrived("L2", "+15550001111", "100", at=t)
    assert not await log.arrived("L2", "+15550001111", "100", at=t)
    assert await log.ivr_step("L2", "menu", at=t + 1)
    assert not await log.ivr_step("L2", "menu", at=t + 1)
    assert await log.queued("L2", "sales", at=t + 2)
    assert not await log.queued("L2", "sales", at=t + 2)
    assert await log.offered("L2", "1001", at=t + 3)
    assert not await log.offered("L2", "1001", at=t + 3)
    assert await log.answered("L2", "1001", at=t + 5)
    assert not await log.answered("L2", "1001", at=t + 9)
    assert await log.ended("L2", at=t + 65, outcome="answered")
    assert not await log.ended("L2", at=t + 99, outcome="failed")
    before = await log.get_by_key("L2")
    assert before.ivr_path == ("menu",) and before.offers == 1
    assert before.talk_seconds == 60.0 and before.outcome == "answered"
    w1 = await log.wrapup(before.id, "sale", "sold 2", case=None, at=t + 80)
    w2 = await log.wrapup(before.id, "sale", "sold 2", case=None, at=t + 95)
    assert w1 == w2
    assert len(await log.timeline(before.id)) == 7


async def test_replay_after_reconnect_keeps_one_row(store: Store) -> None:
    # The service sees arrived/queued, loses AMI, reconnects and replays the whole call
    # from its tracker (same timestamps), then continues with new milestones.
    log = store.contacts
    await log.arrived("L3", "+15550001111", "100", at=100.0)
    await log.queued("L3", "sales", at=104.0)
    for _ in range(2):
        await log.arrived("L3", "+15550001111", "100", at=100.0)
        await log.queued("L3", "sales", at=104.0)
        await log.offered("L3", "1001", at=110.0)
    await log.answered("L3", "1001", at=112.0)
    await log.ended("L3", at=200.0, outcome="answered")
    rows = await store.fetchall("SELECT count(*) FROM contacts WHERE key = 'L3'")
    assert rows[0][0] == 1
    c = await log.get_by_key("L3")
    assert (c.offers, c.wait_seconds, c.talk_seconds) == (1, 8.0, 88.0)
    assert len(await log.timeline(c.id)) == 5


async def test_milestones_out_of_order_still_build_the_row(store: Store) -> None:
    # Missed "arrived" (service started mid-call): the row is created by "queued".
    log = store.contacts
    await log.queued("L4", "support", at=50.0)
    await log.ended("L4", at=58.0, outcome="abandoned_queue")
    c = await log.get_by_key("L4")
    assert (c.queue, c.wait_seconds, c.outcome, c.arrived_at) == (
        "support",
        8.0,
        "abandoned_queue",
        None,
    )
    await log.arrived("L4", "+15550001111", "100", at=45.0)
    c = await log.get_by_key("L4")
    assert c.arrived_at == 45.0 and c.started_at == 45.0


async def test_bad_milestones_are_refused(store: Store) -> None:
    log = store.contacts
    with pytest.raises(InvalidInput):
        await log.ended("L5", at=1.0, outcome="exploded")
    with pytest.raises(InvalidInput):
        await log.arrived("", "+15550001111", "100")
    with pytest.raises(InvalidInput):
        await log.arrived("L5", "+15550001111", "100", direction="sideways")
    with pytest.raises(InvalidInput):
        await log.queued("L5", "sales\r\nAction: Originate")
    with pytest.raises(NotFound):
        await log.get_by_key("L5")
    with pytest.raises(NotFound):
        await log.wrapup(12345, "resolved")


async def test_wrapup_cases_open_update_and_refuse(store: Store) -> None:
    ann = await store.customers.add("Ann", ["+15550001111"])
    bob = await store.customers.add("Bob", ["+15550002222"])
    c1 = await _call(store, "c1", "+15550001111", 0)
    c2 = await _call(store, "c2", "+15550001111", 1000)
    first = await store.contacts.wrapup(
        c1, "follow-up", "", case=CaseChange(subject="Broken router", due_at=5000.0)
    )
    case_id = first.case_ids[0]
    await store.contacts.wrapup(
        c2, "resolved", "", case=CaseChange(case_id=case_id, status="closed")
    )
    case = await store.cases.get(case_id)
    assert case.status == "closed" and case.contact_ids == (c1, c2) and case.due_at == 5000.0
    assert await store.cases.open_for_customer(ann.id) == []
    # A case of another customer, an unknown case, or a contact without customer: refused,
    # and the wrap-up is not written either.
    bob_case = await store.cases.open(bob.id, "Bob's thing")
    c3 = await _call(store, "c3", "+15550001111", 2000)
    with pytest.raises(InvalidInput):
        await store.contacts.wrapup(c3, "resolved", "", case=CaseChange(case_id=bob_case.id))
    with pytest.raises(NotFound):
        await store.contacts.wrapup(c3, "resolved", "", case=CaseChange(case_id=999))
    assert (await store.contacts.get(c3)).disposition == ""
    anon = await _call(store, "c4", "anonymous", 3000)
    with pytest.raises(InvalidInput, match="no customer"):
        await store.contacts.wrapup(anon, "resolved", "", case=CaseChange(subject="x"))
    with pytest.raises(InvalidInput):
        await store.cases.update(case_id, status="archived")


async def test_new_caller_becomes_a_customer(store: Store) -> None:
    directory = Directory(store)
    cid = await _call(store, "n1", "+15550007777", 0)
    card = await directory.card_for_phone("+15550007777")
    assert card.new_caller and card.customer_id is None and card.phone == "+15550007777"
    created = await store.customers.add("Newbie", [card.phone])
    linked = await store.contacts.link_customer(cid, created.id)
    assert linked.customer_id == created.id
    card = await directory.card_for_phone("555 000 7777")
    assert not card.new_caller and card.name == "Newbie"
    assert [c.id for c in card.recent_contacts] == [cid]
    assert (await directory.card_for_phone("")).new_caller
    assert (await directory.card_for_phone("not a number")).new_caller


async def test_history_newest_first_paginated(store: Store) -> None:
    ann = await store.customers.add("Ann", ["+15550001111"])
    ids = [await _call(store, f"h{i}", "+15550001111", i * 100.0) for i in range(7)]
    page1 = await store.contacts.history(ann.id, limit=3)
    page2 = await store.contacts.history(ann.id, limit=3, offset=3)
    page3 = await store.contacts.history(ann.id, limit=3, offset=6)
    got = [c.id for p in (page1, page2, page3) for c in p.items]
    assert got == list(reversed(ids))
    assert page1.total == 7 and page1.next_offset == 3 and page3.next_offset is None
    with pytest.raises(InvalidInput):
        await store.contacts.history(ann.id, limit=0)


async def test_users_and_audit(store: Store) -> None:
    u = await store.users.add("alice", "$argon2id$fake", "supervisor", agent_id="1001")
    assert (await store.users.get_by_username("ALICE")) == u
    assert "password_hash" not in u.to_json()
    with pytest.raises(Conflict):
        await store.users.add("Alice", "$x", "agent")
    with pytest.raises(InvalidInput):
        await store.users.add("bob", "$x", "root")
    await store.users.set_password(u.id, "$argon2id$new")
    assert (await store.users.get(u.id)).password_hash == "$argon2id$new"
    with pytest.raises(NotFound):
        await store.users.set_password(999, "$x")
    assert [x.username for x in await store.users.list()] == ["alice"]
    await store.audit.write("alice", "agent.force_state", "agent:1002", {"state": "ready"})
    entries = await store.audit.list(actor="alice")
    assert entries[0].details == {"state": "ready"} and entries[0].target == "agent:1002"


async def test_unknown_customer_reference_is_refused(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.contacts.arrived("L9", "+15550001111", "100", customer_id=77)
    with pytest.raises(NotFound):
        await store.contacts.get_by_key("L9")


async def test_concurrent_writers_never_share_a_rollback(store: Store) -> None:
    # A wrap-up that fails inside its transaction rolls back only itself, never the
    # milestones other calls wrote at the same moment on the same connection.
    await store.customers.add("Ann", ["+15550001111"])
    cid = await _call(store, "w0", "+15550001111", 0)

    async def failing_wrapups() -> None:
        for _ in range(10):
            with pytest.raises(InvalidInput):
                await store.contacts.wrapup(cid, "resolved", "", case=CaseChange(subject=" "))

    async def one_call(i: int) -> None:
        await store.contacts.arrived(f"w{i}", "+15550001111", "100", at=100.0 + i)
        await store.contacts.queued(f"w{i}", "sales", at=101.0 + i)

    await asyncio.gather(failing_wrapups(), *(one_call(i) for i in range(1, 60)))
    rows = await store.fetchall("SELECT count(*) FROM contacts WHERE queue = 'sales'")
    assert rows[0][0] == 60
    assert (await store.contacts.get(cid)).disposition == ""
    assert await store.cases.for_customer(1) == []


async def test_writer_locked_out_by_another_process_gets_store_busy(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    importer = await open_store(path)
    service = await open_store(path, busy_timeout_ms=50)
    try:
        async with importer.transaction() as db:
            await db.execute("INSERT INTO audit(at, actor, action) VALUES (0, 'x', 'hold')")
            with pytest.raises(StoreBusy):
                await service.contacts.arrived("B1", "+15550001111", "100")
            with pytest.raises(StoreBusy):
                await service.customers.add("Ann", ["+15550001111"])
        assert await service.contacts.arrived("B1", "+15550001111", "100")
    finally:
        await service.close()
        await importer.close()
