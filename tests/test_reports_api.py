"""The report routes through the real aiohttp server: each role's scope, the time zone,
the drill-down list, and the CSV / XLSX exports parsed back (formula-safe, ISO times in
the zone, the IVR path in words). The role matrix of every route is in test_console_api."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.console_fakes import World

T0 = 1_796_119_200.0  # 2026-12-01 10:00 UTC


async def _call(store: Any, key: str, queue: str, agent: str, at: float, **kw: Any) -> None:
    log = store.contacts
    await log.arrived(key, "+15550001111", "100", at=at - 5)
    await log.ivr_done(
        key,
        [
            {"node": "main_menu", "kind": "menu", "digits": "1", "result": "option 1"},
            {"node": "pin", "kind": "collect", "digits": "4321", "result": "collected"},
        ],
        "queued",
        at=at - 1,
    )
    await log.queued(key, queue, at=at)
    if agent:
        await log.answered(key, agent, at=at + kw.get("wait", 4))
        await log.ended(key, at=at + 100)
        contact = await log.get_by_key(key)
        await log.wrapup(contact.id, kw.get("disposition", "resolved"), "", at=at + 110)
    else:
        await log.ended(key, at=at + kw.get("wait", 30), outcome="abandoned_queue")


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = await World().start(tmp_path)
    await _call(w.store, "s1", "sales", "1001", T0, disposition='=HYPERLINK("x")')
    await _call(w.store, "s2", "sales", "", T0 + 600)
    await _call(w.store, "p1", "support", "1002", T0 + 1200)
    await _call(w.store, "b1", "billing", "1003", T0 + 1800)
    yield w
    await w.close()


async def get(world: World, who: str, path: str) -> Any:
    client = await world.client(who)
    resp = await client.request("GET", path)
    assert resp.status == 200, await resp.text()
    return await resp.json()


Q = "from=2026-12-01&to=2026-12-01&tz=UTC"


async def test_each_role_counts_only_what_it_may_see(world: World) -> None:
    root = await get(world, "root", f"/api/reports?{Q}&by=queue")
    assert {r["key"]: r["offered"] for r in root["rows"]} == {
        "billing": 1,
        "sales": 2,
        "support": 1,
    }
    sue = await get(world, "sue", f"/api/reports?{Q}&by=queue")
    assert {r["key"] for r in sue["rows"]} == {"billing", "sales"}  # not support
    assert sue["totals"]["offered"] == 3
    sue_agents = await get(world, "sue", f"/api/reports?{Q}&by=agent")
    assert {r["key"] for r in sue_agents["rows"]} == {"1001", "1003"}
    assert sue_agents["rows"][0]["label"] == "Alice Agent"
    assert sue_agents["rows"][0]["evaluations"] == 0  # none scored (test_quality_api)
    assert sue_agents["rows"][0]["quality_score"] is None
    alice = await get(world, "alice", f"/api/reports?{Q}&by=agent")
    assert [r["key"] for r in alice["rows"]] == ["1001"]
    assert alice["totals"]["offered"] == 1
    listed = await get(world, "alice", f"/api/reports/contacts?{Q}")
    assert [c["key"] for c in listed["contacts"]] == ["s1"]


async def test_the_zone_moves_rows_and_times(world: World) -> None:
    tokyo = await get(world, "root", "/api/reports?from=2026-12-01&tz=Asia/Tokyo&by=interval")
    assert tokyo["rows"][0]["key"] == "2026-12-01T19:00+09:00"
    assert all(r["staffing"] is None for r in tokyo["rows"])  # staffing's place
    client = await world.client("root")
    resp = await client.request("GET", "/api/reports?tz=Nowhere/Land")
    assert resp.status == 400 and (await resp.json())["field"] == "tz"


async def test_drill_down_follows_a_row_filter(world: World) -> None:
    answer = await get(world, "root", f"/api/reports?{Q}&by=interval&interval=30")
    row = next(r for r in answer["rows"] if r["abandoned"])
    f = row["filter"]
    listed = await get(
        world, "root", f"/api/reports/contacts?start={f['start']}&end={f['end']}&measure=abandoned"
    )
    assert listed["total"] == 1
    (contact,) = listed["contacts"]
    assert contact["key"] == "s2" and contact["contact_id"] > 0
    assert contact["queued_at"] == "2026-12-01T10:10:00+00:00"
    assert contact["ivr_path"] == "Pressed 1 at “main menu” → Entered digits at “pin”"
    assert "4321" not in contact["ivr_path"]
    assert contact["recorded"] is False and "recording" not in contact  # no file names


async def test_exports_parse_back_safely(world: World) -> None:
    from openpyxl import load_workbook

    client = await world.client("root")
    resp = await client.request(
        "GET", "/api/reports/contacts/export?from=2026-12-01&tz=Europe/Berlin&format=csv"
    )
    assert resp.status == 200
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
    s1 = next(r for r in rows if r["queue"] == "sales" and r["agent_id"] == "1001")
    assert s1["disposition"] == '\'=HYPERLINK("x")'
    assert s1["queued_at"] == "2026-12-01T11:00:00+01:00"
    assert s1["agent_name"] == "Alice Agent"
    resp = await client.request(
        "GET", "/api/reports/contacts/export?from=2026-12-01&tz=Europe/Berlin&format=xlsx"
    )
    sheet = load_workbook(io.BytesIO(await resp.read())).active
    header = [c.value for c in sheet[1]]
    cells = [dict(zip(header, [c for c in row], strict=True)) for row in sheet.iter_rows(min_row=2)]
    dispo = next(r["disposition"] for r in cells if r["agent_id"].value == "1001")
    assert dispo.data_type == "s" and dispo.value.endswith('=HYPERLINK("x")')
    resp = await client.request("GET", f"/api/reports/export?{Q}&by=agent&format=xlsx")
    sheet = load_workbook(io.BytesIO(await resp.read())).active
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["agent", "label", "offered"] and "ready_seconds" in header
    body = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    # the totals are every contact of the period, the abandoned one no agent touched too
    assert body[-1][0] == "total" and body[-1][header.index("offered")] == 4
    resp = await client.request("GET", f"/api/reports/export?{Q}&by=day&format=pdf")
    assert resp.status == 400
