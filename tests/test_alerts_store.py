"""The alerts log on both engines: raised, updated, acknowledged, cleared, saved twice."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from crm_lookup.store import Store, open_store

ALERT = {
    "id": "abc123",
    "rule": "no_agent_ready",
    "subject": "sales",
    "queue": "sales",
    "agent_id": None,
    "pbx": None,
    "value": 2.0,
    "threshold": 10.0,
    "raised_at": 1000.0,
    "cleared_at": None,
    "acked_by": None,
    "acked_at": None,
    "state": "active",  # extra keys of the JSON are ignored
}


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = await open_store(store_url)
    yield s
    await s.close()


async def test_an_alert_is_inserted_then_updated_in_place(store: Store) -> None:
    await store.alerts.save(ALERT)
    await store.alerts.save({**ALERT, "value": 4.0, "acked_by": "sue", "acked_at": 1010.0})
    await store.alerts.save({**ALERT, "value": 4.0, "acked_by": "sue", "acked_at": 1010.0})
    await store.alerts.save(
        {**ALERT, "value": 5.0, "acked_by": "sue", "acked_at": 1010.0, "cleared_at": 1020.0}
    )
    other = {**ALERT, "id": "def456", "rule": "ami_down", "subject": "b", "queue": None}
    await store.alerts.save({**other, "pbx": "b", "raised_at": 1500.0})
    rows = await store.alerts.between(0, 2000)
    assert [r["id"] for r in rows] == ["def456", "abc123"]  # newest first
    assert rows[1] == {
        "id": "abc123",
        "rule": "no_agent_ready",
        "subject": "sales",
        "queue": "sales",
        "agent_id": None,
        "pbx": None,
        "value": 5.0,
        "threshold": 10.0,
        "raised_at": 1000.0,
        "cleared_at": 1020.0,
        "acked_by": "sue",
        "acked_at": 1010.0,
    }
    assert rows[0]["pbx"] == "b"
    assert [r["id"] for r in await store.alerts.between(1100, 2000)] == ["def456"]
