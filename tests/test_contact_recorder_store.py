"""The contact recorder through a real store, on SQLite and on PostgreSQL: many calls'
milestones interleaved and written by concurrent writers, every contact's row right."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest

from crm_lookup.agent_states import SavedAgentState
from crm_lookup.store import open_store
from routing import contacts as recorder_module
from routing.contacts import ContactRecorder
from routing.ivr.interpreter import PathStep
from routing.live import LiveCall

CALLS = 60
AGENTS = 5
T0 = 1_700_000_000.0

Take = Callable[[], None]


def call_script(recorder: ContactRecorder, n: int) -> tuple[LiveCall, list[tuple[str, Take]]]:
    """One call's milestones in the order the center takes them. Even calls are answered
    by their second agent after a ring no answer and held twice; odd ones hang up in line."""
    t = T0 + n
    c = LiveCall(f"call-{n}", f"PJSIP/trunk-{n}", f"call-{n}", "+15550001111", "5550100", t)
    steps = [PathStep(f"node-{n}-{i}", "menu", str(i), t + i, t + i + 1, "ok") for i in range(3)]
    script: list[tuple[str, Take]] = [("arrived", lambda: recorder.arrived(c))]
    script += [("ivr_step", lambda s=s: recorder.ivr_step(c, s)) for s in steps]  # type: ignore[misc]

    def queue() -> None:
        c.queue, c.queued_at = "sales", t + 10
        recorder.queued(c, t + 10)

    script.append(("queued", queue))
    if n % 2:
        script.append(("ended", lambda: recorder.ended(c, t + 40, "abandoned_queue")))
        return c, script
    first, second = str(1000 + n % AGENTS), str(1000 + (n + 1) % AGENTS)

    def offer(agent: str, at: float) -> Take:
        def take() -> None:
            c.agent_id = agent
            recorder.offered(c, at)

        return take

    script += [
        ("offered", offer(first, t + 12)),
        ("note:ring_no_answer", lambda: recorder.note(c, "ring_no_answer", {}, t + 20)),
        ("offered", offer(second, t + 21)),
        ("answered", lambda: recorder.answered(c, t + 25)),
        ("held", lambda: recorder.held(c, t + 30)),
        ("unheld", lambda: recorder.unheld(c, t + 40)),
        ("held", lambda: recorder.held(c, t + 50)),
        ("unheld", lambda: recorder.unheld(c, t + 55)),
        ("ended", lambda: recorder.ended(c, t + 100, "answered")),
    ]
    return c, script


@pytest.mark.parametrize(("concurrency", "batch_size"), [(1, 1), (16, 1), (1, 64), (4, 8)])
async def test_interleaved_calls_each_get_their_whole_contact_in_order(
    store_url: str, concurrency: int, batch_size: int
) -> None:
    store = await open_store(store_url)
    recorder = ContactRecorder(
        store.contacts,
        agent_states=store.agent_states,
        concurrency=concurrency,
        batch=store.batch,
        batch_size=batch_size,
    )
    rng = random.Random(12)
    calls, scripts, kinds = [], [], {}
    for n in range(CALLS):
        c, script = call_script(recorder, n)
        calls.append(c)
        kinds[c.call_id] = [kind for kind, _ in script]
        scripts.append(script)
    last_state = {}
    for a in range(AGENTS):
        agent = str(1000 + a)
        states = [
            SavedAgentState(agent, s, since=T0 + i)
            for i, s in enumerate(
                ["ready", "ringing", "not_ready", "ready", "ringing", "on_call", "wrap_up", "ready"]
            )
        ]
        scripts.append([("state", lambda s=s: recorder.agent_state(s)) for s in states])  # type: ignore[misc]
        last_state[agent] = states[-1]
    recorder.start()
    try:
        taken = 0
        while scripts:
            script = rng.choice(scripts)
            script.pop(0)[1]()
            if not script:
                scripts.remove(script)
            taken += 1
            if taken % 7 == 0:
                await asyncio.sleep(0)  # the writers run while the floor goes on
        await recorder.close()
        assert recorder.failures == 0
        assert recorder.pending == 0
        for n, c in enumerate(calls):
            contact = await store.contacts.get_by_key(c.call_id)
            assert c.contact_id == contact.id
            rows = await store.fetchall(
                "SELECT kind FROM contact_events WHERE contact_key = ? ORDER BY id", (c.call_id,)
            )
            assert [r[0] for r in rows] == kinds[c.call_id], c.call_id
            t = T0 + n
            assert [s["node"] for s in contact.ivr_path] == [f"node-{n}-{i}" for i in range(3)]
            assert (contact.arrived_at, contact.queue, contact.queued_at) == (t, "sales", t + 10)
            if n % 2:
                assert contact.outcome == "abandoned_queue"
                assert contact.ended_at == t + 40
                assert contact.wait_seconds == pytest.approx(30)
                assert (contact.offers, contact.answered_at, contact.agent_id) == (0, None, "")
            else:
                assert contact.outcome == "answered"
                assert contact.offers == 2
                assert contact.agent_id == str(1000 + (n + 1) % AGENTS)
                assert contact.answered_at == t + 25
                assert contact.wait_seconds == pytest.approx(15)
                assert contact.hold_seconds == pytest.approx(15)  # two holds, in order
                assert contact.talk_seconds == pytest.approx(60)
        saved = await store.agent_states.all()
        assert {s.agent_id: s for s in saved} == last_state
        assert await store.contacts.open_contacts() == []
    finally:
        await recorder.close()
        await store.close()


async def test_postgres_connections_dropped_under_the_writers_lose_nothing(
    postgres_server: Any, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PostgreSQL restart or failover, as the pool sees it: every connection of the
    database terminated while milestones are in flight. Each is retried (idempotent)."""
    monkeypatch.setattr(recorder_module, "BUSY_RETRY_FIRST", 0.01)
    database = postgres_url.rsplit("/", 1)[1]
    terminate = (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        f" WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    )
    store = await open_store(postgres_url)
    recorder = ContactRecorder(store.contacts, agent_states=store.agent_states, concurrency=16)
    recorder.start()
    calls = [
        LiveCall(f"k{n}", f"PJSIP/t-{n}", f"k{n}", "+15550001111", "5550100", T0 + n)
        for n in range(200)
    ]
    try:
        for c in calls:
            recorder.arrived(c)
        await asyncio.sleep(0.01)  # some written, some in flight
        await asyncio.to_thread(postgres_server.admin, terminate)
        for c in calls:
            c.queue, c.queued_at = "sales", T0 + 300
            recorder.queued(c, T0 + 300)
            recorder.agent_state(SavedAgentState(f"a{c.call_id}", "ready", since=T0))
        await asyncio.sleep(0.01)
        await asyncio.to_thread(postgres_server.admin, terminate)
        for c in calls:
            recorder.ended(c, T0 + 400, "abandoned_queue")
        await recorder.close()
        assert recorder.failures == 0
        row = await store.fetchone(
            "SELECT count(*) FROM contacts WHERE queue = 'sales' AND outcome = 'abandoned_queue'"
        )
        assert row is not None and row[0] == len(calls)
        row = await store.fetchone("SELECT count(*) FROM contact_events")
        assert row is not None and row[0] == 3 * len(calls)  # each written once
        assert all(isinstance(c.contact_id, int) for c in calls)
        assert len(await store.agent_states.all()) == len(calls)
    finally:
        await recorder.close()
        await store.close()


class CountingBatch:
    """The store's batch, counting the transactions the recorder opens."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.opened = 0

    def __call__(self) -> Any:
        self.opened += 1
        return self.store.batch()


async def test_sqlite_batch_commits_many_contacts_at_once_and_waits_out_a_busy_database(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another process holds SQLite's write lock (an import), every batch is
    StoreBusy and rolled back; once it lets go, the batch is retried whole: nothing lost,
    nothing doubled, each lane in order, and far fewer commits than milestones."""
    import sqlite3

    monkeypatch.setattr(recorder_module, "BUSY_RETRY_FIRST", 0.01)
    path = tmp_path / "crm.db"
    store = await open_store(str(path), busy_timeout_ms=20)
    batch = CountingBatch(store)
    recorder = ContactRecorder(
        store.contacts, agent_states=store.agent_states, batch=batch, batch_size=64
    )
    other = sqlite3.connect(path, isolation_level=None)
    calls = [
        LiveCall(f"b{n}", f"PJSIP/t-{n}", f"b{n}", "+15550001111", "5550100", T0 + n)
        for n in range(100)
    ]
    try:
        other.execute("BEGIN IMMEDIATE")
        recorder.start()
        for c in calls:
            recorder.arrived(c)
            c.queue, c.queued_at = "sales", T0 + 300
            recorder.queued(c, T0 + 300)
            recorder.agent_state(SavedAgentState(f"a{c.call_id}", "ready", since=T0))
            recorder.ended(c, T0 + 400, "abandoned_queue")
        await asyncio.sleep(0.2)
        assert recorder.pending == 4 * len(calls)  # all rolled back, none given up
        other.execute("COMMIT")
        await recorder.close()
        assert recorder.failures == 0
        row = await store.fetchone(
            "SELECT count(*) FROM contacts WHERE queue = 'sales' AND outcome = 'abandoned_queue'"
            " AND wait_seconds = 100"
        )
        assert row is not None and row[0] == len(calls)
        row = await store.fetchone("SELECT count(*) FROM contact_events")
        assert row is not None and row[0] == 3 * len(calls)
        assert all(isinstance(c.contact_id, int) for c in calls)
        assert len(await store.agent_states.all()) == len(calls)
        written = 4 * len(calls)
        busy_tries = batch.opened - written // 64
        assert batch.opened < written // 4, (batch.opened, busy_tries)
    finally:
        other.close()
        await recorder.close()
        await store.close()


async def test_a_rejected_milestone_in_a_batch_is_given_up_alone(store_url: str) -> None:
    """A milestone the database refuses (a customer that does not exist) costs only
    itself: the other contacts in the same batch commit, on both backends."""
    store = await open_store(store_url)
    recorder = ContactRecorder(
        store.contacts, agent_states=store.agent_states, batch=store.batch, batch_size=64
    )
    good = [
        LiveCall(f"g{n}", f"PJSIP/t-{n}", f"g{n}", "+15550001111", "5550100", T0 + n)
        for n in range(10)
    ]
    bad = LiveCall("bad", "PJSIP/t-x", "bad", "+15550001111", "5550100", T0)
    bad.customer_id = 987654321
    try:
        for c in good[:5]:
            recorder.arrived(c)
        recorder.arrived(bad)
        for c in good[5:]:
            recorder.arrived(c)
        recorder.start()
        await recorder.close()
        assert recorder.failures == 1
        for c in good:
            assert (await store.contacts.get_by_key(c.call_id)).id == c.contact_id
        row = await store.fetchone("SELECT count(*) FROM contacts WHERE key = 'bad'")
        assert row is not None and row[0] == 0
    finally:
        await recorder.close()
        await store.close()
