"""The evaluations repository on both engines: add, edit by its evaluator, lists, the
per-agent figures of the report, and a snapshot that outlives a change of the form."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from config.errors import InvalidInput, NotFound, PermissionDenied
from crm_lookup.evaluations import MAX_COMMENTS
from crm_lookup.report_query import Scope, quality_by_agent
from crm_lookup.store import Store, open_store

DAY = 1_700_006_400.0  # 2023-11-15 00:00:00 UTC
FORM = {
    "id": "f",
    "name": "Form",
    "description": "",
    "sections": [
        {
            "title": "One",
            "questions": [
                {
                    "id": "greet",
                    "text": "Greeted",
                    "kind": "yes_no",
                    "weight": 1.0,
                    "na": False,
                    "required": True,
                }
            ],
        }
    ],
}


async def contact(store: Store, key: str, queue: str, agent: str, at: float) -> int:
    await store.contacts.arrived(key, "+15550001111", "100", at=at)
    await store.contacts.queued(key, queue, at=at + 1)
    await store.contacts.offered(key, agent, at=at + 2)
    await store.contacts.answered(key, agent, at=at + 3)
    return int((await store.contacts.get_by_key(key)).id)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = await open_store(store_url)
    yield s
    await s.close()


async def test_add_get_and_list_for_a_contact(store: Store) -> None:
    cid = await contact(store, "k1", "sales", "1001", DAY + 60)
    first = await store.evaluations.add(
        cid, FORM, "1001", "sue", {"greet": "yes"}, "good call", 100.0, at=DAY + 500
    )
    assert (first.contact_id, first.form_id, first.agent_id, first.evaluator) == (
        cid,
        "f",
        "1001",
        "sue",
    )
    assert first.form == FORM and first.answers == {"greet": "yes"}
    assert (first.score, first.comments, first.queue) == (100.0, "good call", "sales")
    assert first.contact_at == DAY + 60 and first.created_at == first.updated_at == DAY + 500
    second = await store.evaluations.add(cid, FORM, "1001", "root", {"greet": "no"}, "", 0.0)
    assert [e.id for e in await store.evaluations.for_contact(cid)] == [first.id, second.id]
    assert (await store.evaluations.get(first.id)).to_json()["answers"] == {"greet": "yes"}
    with pytest.raises(NotFound):
        await store.evaluations.get(second.id + 100)
    with pytest.raises(NotFound):
        await store.evaluations.add(cid + 100, FORM, "1001", "sue", {}, "", None)


async def test_only_its_evaluator_edits_it_and_the_form_stays(store: Store) -> None:
    cid = await contact(store, "k1", "sales", "1001", DAY)
    e = await store.evaluations.add(cid, FORM, "1001", "sue", {"greet": "no"}, "", 0.0)
    with pytest.raises(PermissionDenied, match="only sue"):
        await store.evaluations.update(e.id, "root", {"greet": "yes"}, "", 100.0)
    assert (await store.evaluations.get(e.id)).score == 0.0
    edited = await store.evaluations.update(e.id, "SUE", {"greet": "yes"}, "better", 100.0)
    assert (edited.answers, edited.comments, edited.score) == ({"greet": "yes"}, "better", 100.0)
    assert edited.form == FORM and edited.updated_at >= edited.created_at
    with pytest.raises(NotFound):
        await store.evaluations.update(e.id + 1, "sue", {}, "", None)


async def test_bounds(store: Store) -> None:
    cid = await contact(store, "k1", "sales", "1001", DAY)
    with pytest.raises(InvalidInput) as info:
        await store.evaluations.add(cid, FORM, "1001", "sue", {}, "x" * (MAX_COMMENTS + 1), None)
    assert info.value.field == "comments"
    with pytest.raises(InvalidInput):
        await store.evaluations.add(cid, FORM, "1001", "sue", {}, "", 100.5)
    with pytest.raises(InvalidInput):
        await store.evaluations.add(cid, FORM, "1001", "sue", {"x": object()}, "", None)
    assert await store.evaluations.for_contact(cid) == []


async def test_lists_by_agent_queue_and_period_and_the_agent_figures(store: Store) -> None:
    a = await contact(store, "a", "sales", "1001", DAY + 100)
    b = await contact(store, "b", "support", "1001", DAY + 200)
    c = await contact(store, "c", "sales", "1002", DAY + 300)
    late = await contact(store, "d", "sales", "1001", DAY + 86400 + 5)  # the next day
    ev = store.evaluations
    await ev.add(a, FORM, "1001", "sue", {"greet": "yes"}, "", 90.0)
    await ev.add(a, FORM, "1001", "root", {"greet": "yes"}, "", 60.0)
    await ev.add(b, FORM, "1001", "sue", {"greet": "na"}, "", None)
    await ev.add(c, FORM, "1002", "sue", {"greet": "no"}, "", 40.0)
    await ev.add(late, FORM, "1001", "sue", {"greet": "no"}, "", 0.0)
    day = (DAY, DAY + 86400)
    mine = await ev.for_agent("1001", *day)
    assert [e.contact_id for e in mine] == [b, a, a]  # newest contact first
    assert [e.contact_id for e in await ev.listing(*day, queues={"sales"})] == [c, a, a]
    assert [e.contact_id for e in await ev.listing(*day, queues={"billing"})] == []
    assert await ev.listing(*day, queues=set()) == []
    only = await ev.listing(*day, queues={"sales", "support"}, agent_id="1002")
    assert [e.contact_id for e in only] == [c]
    assert len(await ev.listing(*day, limit=2)) == 2
    # 1001: three evaluations, the n/a one has no score: (90 + 60) / 2 = 75
    everyone = Scope()
    assert await quality_by_agent(store, *day, scope=everyone) == {
        "1001": (3, 75.0),
        "1002": (1, 40.0),
    }
    assert await quality_by_agent(store, DAY + 86400, DAY + 2 * 86400, scope=everyone) == {
        "1001": (1, 0.0)
    }


async def test_deleting_a_contact_deletes_its_evaluations(store: Store) -> None:
    cid = await contact(store, "k1", "sales", "1001", DAY)
    await store.evaluations.add(cid, FORM, "1001", "sue", {"greet": "yes"}, "", 100.0)
    await store.write("DELETE FROM contact_events WHERE contact_key = ?", ("k1",))
    await store.write("DELETE FROM contacts WHERE id = ?", (cid,))
    row = await store.fetchone("SELECT count(*) FROM evaluations")
    assert row is not None and row[0] == 0


async def test_the_reports_quality_counts_only_the_reports_contacts(store: Store) -> None:
    """``report_query.quality_by_agent``: the same period, scope and queue as the report's
    other figures, so a supervisor never sees scores of another queue's calls."""
    sales = await contact(store, "q-sales", "sales", "1001", DAY + 3600)
    support = await contact(store, "q-support", "support", "1001", DAY + 7200)
    await store.evaluations.add(sales, FORM, "1001", "sue", {"greet": "yes"}, "", 100.0)
    await store.evaluations.add(support, FORM, "1001", "root", {"greet": "no"}, "", 0.0)
    start, end = DAY, DAY + 86400
    assert await quality_by_agent(store, start, end, scope=Scope()) == {"1001": (2, 50.0)}
    mine = Scope(queues=frozenset({"sales", "billing"}))
    assert await quality_by_agent(store, start, end, scope=mine) == {"1001": (1, 100.0)}
    one = await quality_by_agent(store, start, end, scope=Scope(), queue="support")
    assert one == {"1001": (1, 0.0)}
    assert await quality_by_agent(store, end, end + 86400, scope=Scope()) == {}
