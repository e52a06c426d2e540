"""The agent state history (migration 12) beside the saved current state, both engines."""

from __future__ import annotations

from typing import Any

from crm_lookup.agent_states import SavedAgentState
from crm_lookup.store import open_store


async def test_two_states_at_the_same_instant_keep_the_later_and_the_save(store_url: Any) -> None:
    """An agent who goes from on call to wrap-up at the same instant (the call's end) was
    refused on SQLite ("that value is already stored"): the current state was not saved,
    so a restart would have brought back the wrong one."""
    store = await open_store(store_url)
    try:
        for state, since in (("ready", 100.0), ("on_call", 200.0), ("wrap_up", 200.0)):
            await store.agent_states.save(SavedAgentState("1001", state, "", since))
        saved = await store.agent_states.all()
        assert [(s.state, s.since) for s in saved] == [("wrap_up", 200.0)]
        rows = await store.fetchall(
            "SELECT state, started_at, ended_at FROM agent_state_log WHERE agent_id = ?"
            " ORDER BY started_at",
            ("1001",),
        )
        assert [tuple(r) for r in rows] == [("ready", 100.0, 200.0), ("wrap_up", 200.0, None)]
    finally:
        await store.close()
