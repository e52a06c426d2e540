"""The store's part of restart takeover: open contacts with their last milestone, the
``lost_during_outage`` outcome (also on a database made before it existed), saved agents."""

from __future__ import annotations

import time
from typing import Any

import pytest

import crm_lookup.postgres_backend as postgres_backend
import crm_lookup.sqlite_backend as sqlite_backend
from config.errors import InvalidInput
from crm_lookup.agent_states import SavedAgentState
from crm_lookup.database import ConstraintViolation
from crm_lookup.store import open_store


async def test_a_database_from_before_the_outcome_existed_accepts_it(
    blank_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = postgres_backend if blank_store_url.startswith("postgresql") else sqlite_backend
    migrations = backend.MIGRATIONS
    monkeypatch.setattr(backend, "MIGRATIONS", migrations[:3])
    old = await open_store(blank_store_url)
    assert await old.schema_version() == 3
    await old.contacts.arrived("k1", "+15550001111", "5550100", at=100.0)
    await old.contacts.queued("k1", "sales", at=101.0)
    with pytest.raises(ConstraintViolation):
        await old.write("UPDATE contacts SET outcome = 'lost_during_outage' WHERE key = 'k1'")
    await old.close()
    monkeypatch.setattr(backend, "MIGRATIONS", migrations)
    store = await open_store(blank_store_url)
    try:
        assert await store.schema_version() == migrations[-1][0]
        ((contact, last),) = await store.contacts.open_contacts()
        assert (contact.key, contact.queue, last) == ("k1", "sales", 101.0)
        assert await store.contacts.ended("k1", last, "lost_during_outage")
        assert (await store.contacts.get_by_key("k1")).outcome == "lost_during_outage"
        assert await store.contacts.open_contacts() == []
        with pytest.raises(InvalidInput):
            await store.contacts.ended("k2", 1.0, "vanished")
        if not store.dialect.is_postgres:  # the constraint's text was rewritten in place
            check = await store.fetchall("PRAGMA integrity_check")
            assert check[0][0] == "ok"
    finally:
        await store.close()


async def test_agent_states_are_kept_one_row_per_agent(store_url: str) -> None:
    store = await open_store(store_url)
    try:
        await store.agent_states.save(SavedAgentState("1001", "ready", since=5.0))
        await store.agent_states.save(SavedAgentState("1002", "not_ready", "lunch", 6.0))
        await store.agent_states.save(
            SavedAgentState("1001", "wrap_up", "", 7.0, wrap_up_until=27.0, wrap_queue="sales")
        )
        assert await store.agent_states.all() == [
            SavedAgentState("1001", "wrap_up", "", 7.0, 27.0, "sales"),
            SavedAgentState("1002", "not_ready", "lunch", 6.0, None, None),
        ]
    finally:
        await store.close()


async def test_a_restart_knows_who_left_an_unsaved_wrap_up(tmp_path: Any) -> None:
    from routing.resync import _unsaved_wrap_ups

    store = await open_store(f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    try:
        await store.drafts.save(1, "1001", {"disposition": "", "notes": "half a sentence"})
        await store.drafts.save(2, "1002", {"disposition": "", "notes": "  ", "case": {}})
        await store.drafts.save(3, "1003", {"disposition": "resolved", "notes": ""})
        await store.drafts.save(4, "1004", {"disposition": "", "notes": "left behind"})
        await store.drafts.save(5, "1005", {"disposition": "", "notes": "as she talked"})
        saved = [
            SavedAgentState("1001", "wrap_up", since=1.0, wrap_up_until=5.0),
            SavedAgentState("1002", "wrap_up", since=1.0, wrap_up_until=5.0),
            SavedAgentState("1003", "ready", since=1.0),  # not in wrap-up: not held
            # the draft was typed before this wrap-up began: an older contact's, not held
            SavedAgentState("1004", "wrap_up", since=time.time() + 60, wrap_up_until=5.0),
            # on a call that ended while the service was down: typed while talking, held
            SavedAgentState("1005", "on_call", since=1.0, wrap_queue="support"),
        ]
        assert await _unsaved_wrap_ups(store.drafts, saved) == {"1001", "1005"}
        assert await _unsaved_wrap_ups(None, saved) == set()
    finally:
        await store.close()
