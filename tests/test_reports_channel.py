"""Reports by channel (issue 16): ``by=channel``, ``channel=``, ``first_response`` and
AHT per channel, on both engines, from calls, chats and emails written as the milestones
the recorder and the digital desk write (``arrived`` with its channel, ``first_response``
for the agent's first reply), so migration 15's triggers build the rows; then the same
through the API, its exports and the CLI."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from config.errors import InvalidInput
from crm_lookup.report_query import ContactQuery, Scope, find_contacts
from crm_lookup.reports import ReportQuery, run_report
from crm_lookup.store import Store, open_store
from switchboard.cli import main
from tests.console_fakes import World

T0 = 1_796_119_200.0  # 2026-12-01 10:00 UTC
DAY_START = 1_796_083_200.0  # 2026-12-01 00:00 UTC
DAY_END = DAY_START + 86400


async def contact(
    s: Store,
    key: str,
    channel: str,
    queue: str,
    q: float,
    *,
    wait: float,
    agent: str = "",
    first_reply: float | None = None,
    handle: float = 0,
    wrap: float = 0,
    end: bool = True,
) -> None:
    """One contact: queued at ``q``; an agent after ``wait`` s (none: abandoned then); the
    agent's first reply ``first_reply`` s after queueing; ended ``handle`` s after the
    answer; wrapped up ``wrap`` s after the end."""
    log = s.contacts
    await log.arrived(key, "", "", at=q - 5, channel=channel)
    await log.queued(key, queue, at=q)
    if not agent:
        await log.ended(key, at=q + wait, outcome="abandoned_queue")
        return
    await log.offered(key, agent, at=q + wait)
    await log.answered(key, agent, at=q + wait)
    if first_reply is not None:
        await log.first_response(key, agent, at=q + first_reply)
    if not end:
        return
    await log.ended(key, at=q + wait + handle, outcome="answered")
    if wrap:
        found = await log.get_by_key(key)
        await log.wrapup(found.id, "resolved", "", at=q + wait + handle + wrap)


async def seed(s: Store) -> None:
    # calls: answered after 10 and 30 s, handled 100 + 20 and 200 + 0; one abandoned
    await contact(s, "v1", "voice", "sales", T0, wait=10, agent="1001", handle=100, wrap=20)
    await contact(s, "v2", "voice", "sales", T0 + 60, wait=30, agent="1002", handle=200)
    await contact(s, "v3", "voice", "sales", T0 + 120, wait=40)
    # chats: assigned after 2 and 4 s, first replies 5 and 15 s after queueing;
    # handled 300 + 10 and 500 + 30; one still open (in progress, in no figure)
    await contact(
        s, "chat:" + "a" * 32, "chat", "sales", T0, wait=2, agent="1001",
        first_reply=5, handle=300, wrap=10,
    )  # fmt: skip
    await contact(
        s, "chat:" + "b" * 32, "chat", "support", T0 + 30, wait=4, agent="1002",
        first_reply=15, handle=500, wrap=30,
    )  # fmt: skip
    await contact(
        s, "chat:" + "c" * 32, "chat", "support", T0 + 90, wait=1, agent="1002",
        first_reply=3, end=False,
    )  # fmt: skip
    # emails: assigned after 60 s, replied 600 s after queueing, handled 900 + 60; one
    # assigned and ended (closed as spam) with no reply: no first response
    await contact(
        s, "email:" + "d" * 32, "email", "support", T0 + 10, wait=60, agent="1001",
        first_reply=600, handle=900, wrap=60,
    )  # fmt: skip
    await contact(
        s, "email:" + "e" * 32, "email", "support", T0 + 20, wait=30, agent="1002", handle=40
    )


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = await open_store(store_url)
    await seed(s)
    yield s
    await s.close()


def query(by: str, **kw: Any) -> ReportQuery:
    return ReportQuery(by=by, start=DAY_START, end=DAY_END, **kw)


async def test_contacts_carry_their_channel_and_first_reply(store: Store) -> None:
    rows = await store.fetchall("SELECT key, channel, first_response_at FROM contacts ORDER BY key")
    got = {r[0]: (r[1], r[2]) for r in rows}
    assert got["v1"] == ("voice", None)
    assert got["chat:" + "a" * 32] == ("chat", T0 + 5)
    assert got["email:" + "d" * 32] == ("email", T0 + 10 + 600)
    assert got["email:" + "e" * 32] == ("email", None)


async def test_by_channel_gives_each_channel_its_own_figures(store: Store) -> None:
    answer = await run_report(store, query("channel"))
    assert answer["by"] == "channel"
    assert "first_response" in answer["measures"]
    rows = {r["key"]: r for r in answer["rows"]}
    assert list(rows) == ["chat", "email", "voice"]
    voice, chat, email = rows["voice"], rows["chat"], rows["email"]
    assert (voice["offered"], voice["answered"], voice["abandoned"]) == (3, 2, 1)
    assert voice["asa"] == 20.0  # (10 + 30) / 2
    assert voice["aht"] == 160.0  # (120 + 200) / 2
    assert voice["first_response"] is None  # a call's first response is its answer
    assert (chat["offered"], chat["answered"]) == (2, 2)  # the open chat is in progress
    assert chat["asa"] == 3.0
    assert chat["aht"] == 420.0  # (310 + 530) / 2
    assert chat["first_response"] == 10.0  # (5 + 15) / 2
    assert email["offered"] == 2
    assert email["aht"] == 500.0  # (960 + 40) / 2
    assert email["first_response"] == 600.0  # only the email that had a reply
    assert answer["in_progress"]["contacts"] == 1
    # each row's filter is the drill-down's: that channel
    assert rows["chat"]["filter"]["channel"] == "chat"
    # the totals: first response over chats and emails alike
    assert answer["totals"]["first_response"] == round((5 + 15 + 600) / 3, 2)


async def test_a_channel_filter_narrows_every_grouping(store: Store) -> None:
    by_queue = await run_report(store, query("queue", channel="chat"))
    rows = {r["key"]: r for r in by_queue["rows"]}
    assert {k: r["offered"] for k, r in rows.items()} == {"sales": 1, "support": 1}
    assert rows["support"]["first_response"] == 15.0
    assert rows["sales"]["filter"]["channel"] == "chat"
    by_agent = await run_report(store, query("agent", channel="email"))
    agents = {r["key"]: r for r in by_agent["rows"]}
    assert agents["1001"]["calls"] == 1 and agents["1001"]["aht"] == 960.0
    assert agents["1002"]["calls"] == 1 and agents["1002"]["first_response"] is None
    voice_day = await run_report(store, query("day", channel="voice"))
    assert voice_day["totals"]["offered"] == 3
    assert voice_day["in_progress"]["contacts"] == 0  # the open chat is not a call


async def test_drill_down_by_channel_and_first_response(store: Store) -> None:
    replied, total = await find_contacts(
        store,
        ContactQuery(start=DAY_START, end=DAY_END, measure="first_response"),
        Scope(),
    )
    assert total == 3
    assert sorted(c.key for c in replied) == [
        "chat:" + "a" * 32,
        "chat:" + "b" * 32,
        "email:" + "d" * 32,
    ]
    emails, total = await find_contacts(
        store, ContactQuery(start=DAY_START, end=DAY_END, channel="email"), Scope()
    )
    assert total == 2 and all(c.key.startswith("email:") for c in emails)


async def test_an_unknown_channel_is_refused(store: Store) -> None:
    with pytest.raises(InvalidInput) as err:
        await run_report(store, query("queue", channel="fax"))
    assert err.value.field == "channel"
    with pytest.raises(InvalidInput):
        await find_contacts(
            store, ContactQuery(start=DAY_START, end=DAY_END, channel="sms"), Scope()
        )


# ---------------------------------------------------------------- API, exports, CLI


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = await World().start(tmp_path)
    await seed(w.store)
    yield w
    await w.close()


Q = "from=2026-12-01&to=2026-12-01&tz=UTC"


async def test_api_reports_by_channel_and_filters(world: World) -> None:
    client = await world.client("root")
    resp = await client.request("GET", f"/api/reports?{Q}&by=channel")
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    assert {r["key"]: r["first_response"] for r in answer["rows"]} == {
        "chat": 10.0,
        "email": 600.0,
        "voice": None,
    }
    resp = await client.request("GET", f"/api/reports?{Q}&by=queue&channel=chat")
    assert {r["key"]: r["offered"] for r in (await resp.json())["rows"]} == {
        "sales": 1,
        "support": 1,
    }
    resp = await client.request(
        "GET", f"/api/reports/contacts?{Q}&channel=chat&measure=first_response"
    )
    listed = await resp.json()
    assert listed["total"] == 2
    assert {c["channel"] for c in listed["contacts"]} == {"chat"}
    assert all(c["first_response_at"].startswith("2026-12-01T10:") for c in listed["contacts"])
    for bad in ("fax", "x" * 100, "chat\n"):
        resp = await client.request("GET", f"/api/reports?{Q}&by=queue&channel={quote(bad)}")
        assert resp.status == 400, bad
        assert (await resp.json())["field"] == "channel"


async def test_exports_carry_the_channel(world: World) -> None:
    client = await world.client("root")
    resp = await client.request("GET", f"/api/reports/export?format=csv&{Q}&by=channel")
    assert resp.status == 200
    table = list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
    header = table[0]
    assert header[0] == "channel" and "first_response" in header
    chat = next(r for r in table if r[0] == "chat")
    assert float(chat[header.index("first_response")]) == 10.0
    resp = await client.request("GET", f"/api/reports/contacts/export?format=csv&{Q}&channel=email")
    table = list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
    column = table[0].index("channel")
    assert [r[column] for r in table[1:]] == ["email", "email"]


def test_cli_by_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    path = tmp_path / "cli.sqlite3"
    monkeypatch.setenv("SWITCHBOARD_DATABASE__PATH", str(path))
    monkeypatch.delenv("SWITCHBOARD_CONFIG", raising=False)

    async def work() -> None:
        s = await open_store(path)
        try:
            await seed(s)
        finally:
            await s.close()

    asyncio.run(work())
    base = ["report", "--from", "2026-12-01", "--to", "2026-12-01", "--tz", "UTC"]
    assert main([*base, "--by", "channel"]) == 0
    out = capsys.readouterr().out
    assert "1st resp. s" in out
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert lines["chat"][-1] == "10.0"
    assert lines["voice"][-1] == "-"
    assert main([*base, "--by", "queue", "--channel", "email", "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][-1] == "first_response"
    assert [r[0] for r in rows[1:]] == ["support"]
    assert rows[1][-1] == "600.0"


# ------------------------------------------------- per agent: offered = presented


async def rung_twice(s: Store) -> None:
    """A call that rang 1001 (no answer), then 1002, who took it."""
    log = s.contacts
    await log.arrived("v4", "", "", at=T0 + 200, channel="voice")
    await log.queued("v4", "sales", at=T0 + 205)
    await log.offered("v4", "1001", at=T0 + 210)
    await log.offered("v4", "1002", at=T0 + 230)
    await log.answered("v4", "1002", at=T0 + 233)
    await log.ended("v4", at=T0 + 300, outcome="answered")


async def test_per_agent_offered_is_every_contact_presented_to_the_agent(store: Store) -> None:
    """Offered, per agent, is what was presented to them: calls that rang their phone
    (answered there or not) and chats and emails assigned to them (an assignment is the
    digital presentation); ``calls`` is what they took. The open chat is in progress."""
    await rung_twice(store)
    answer = await run_report(store, query("agent"))
    rows = {r["key"]: r for r in answer["rows"]}
    # 1001: v1, chat a, email d, and v4 which rang them; 1002: v2, chat b, email e, v4
    assert (rows["1001"]["offered"], rows["1001"]["calls"]) == (4, 3)
    assert (rows["1002"]["offered"], rows["1002"]["calls"]) == (4, 4)
    assert answer["totals"]["offered"] == 8  # each contact once: 4 calls, 2 chats, 2 emails
    voice = await run_report(store, query("agent", channel="voice"))
    assert {r["key"]: r["offered"] for r in voice["rows"]} == {"1001": 2, "1002": 2}
    own = await run_report(store, query("agent", scope=Scope(agent="1001")))
    assert [(r["key"], r["offered"]) for r in own["rows"]] == [("1001", 4)]
    # the drill-down behind the figure (the row's ``drill``) lists the same contacts
    assert rows["1001"]["drill"] == {"offered": "presented"}
    listed, total = await find_contacts(
        store,
        ContactQuery(start=DAY_START, end=DAY_END, agent="1001", measure="presented"),
        Scope(),
    )
    assert total == 4
    assert sorted(c.key for c in listed) == sorted(
        ["v1", "v4", "chat:" + "a" * 32, "email:" + "d" * 32]
    )
    _mine, total = await find_contacts(
        store, ContactQuery(start=DAY_START, end=DAY_END, measure="presented"), Scope(agent="1001")
    )
    assert total == 4


async def drilled(store: Store, row: dict[str, Any] | None, scope: Scope, measure: str) -> int:
    """How many contacts the drill-down of ``measure`` on ``row`` (None: the totals, the
    whole query) lists, built as the console builds it (reports.js ``drillHref``)."""
    f = row["filter"] if row else {}
    measure = (row or {}).get("drill", {}).get(measure, measure)
    found = ContactQuery(
        start=f.get("start", DAY_START),
        end=f.get("end", DAY_END),
        queue=f.get("queue"),
        agent=f.get("agent"),
        channel=f.get("channel"),
        measure=measure,
    )
    return (await find_contacts(store, found, scope))[1]


@pytest.mark.parametrize("reader", [Scope(agent="1001"), Scope()])
async def test_every_offered_figure_equals_its_drill_down(store: Store, reader: Scope) -> None:
    """An agent reading their day report saw offered 3 and a drill-down of 4 (the
    "presented" rule leaked into every drill-down); now only an agent row's offered is
    the contacts presented to the agent, and every other figure and every total keeps
    the population's definition, each equal to the list behind it."""
    await rung_twice(store)
    for by in ("day", "agent", "queue", "channel"):
        answer = await run_report(store, query(by, scope=reader))
        for row in answer["rows"]:
            for measure in ("offered", "answered", "service_level"):
                base = {"service_level": "offered"}.get(measure, measure)
                want = row[measure] if measure != "service_level" else None
                got = await drilled(store, row, reader, base)
                if want is not None:
                    assert got == want, (by, row["key"], measure)
        assert await drilled(store, None, reader, "offered") == answer["totals"]["offered"], by
    own = await run_report(store, query("day", scope=Scope(agent="1001")))
    assert own["totals"]["offered"] == 3  # v1, chat a, email d: ended with 1001
    mine = await run_report(store, query("agent", scope=Scope(agent="1001")))
    assert mine["rows"][0]["offered"] == 4  # and v4, which rang 1001
    assert mine["totals"]["offered"] == 3  # the population's, as the day report's


async def test_an_agent_row_service_level_is_of_the_contacts_the_agent_ended_with(
    store: Store,
) -> None:
    """The agent row's offered is what was presented to them, but its service level's
    base is the contacts they ended with (less short abandons): v4 rang 1001 and was
    answered by 1002, so it is in 1001's offered and not in 1001's service level."""
    await rung_twice(store)
    rows = {r["key"]: r for r in (await run_report(store, query("agent")))["rows"]}
    one = rows["1001"]
    # v1 answered in 10 s, chat a in 2 s, email d in 60 s (over the 20 s threshold)
    assert one["offered"] == 4 and one["service_level"] == round(2 / 3, 4)
    assert await drilled(store, one, Scope(), "offered") == 4
    assert await drilled(store, {**one, "drill": {}}, Scope(), "offered") == 3


async def test_presented_needs_an_agent(store: Store) -> None:
    with pytest.raises(InvalidInput) as info:
        await find_contacts(
            store, ContactQuery(start=DAY_START, end=DAY_END, measure="presented"), Scope()
        )
    assert info.value.field == "agent"


async def test_the_agent_csv_and_the_definition_say_the_same(world: World) -> None:
    from agent_console.catalogue import STRINGS

    await rung_twice(world.store)
    client = await world.client("root")
    resp = await client.request("GET", f"/api/reports/export?format=csv&{Q}&by=agent")
    assert resp.status == 200
    table = list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
    header = table[0]
    offered = {r[0]: int(r[header.index("offered")]) for r in table[1:]}
    assert (offered["1001"], offered["1002"], offered["total"]) == (4, 4, 8)
    english = STRINGS["report.definition.offered"][0]
    assert "presented" in english and "assigned" in english and "Calls that" not in english
    assert "not the sum of the agents' rows" in english
    russian = STRINGS["report.definition.offered"][1]
    assert "не равен сумме строк операторов" in russian
    level = STRINGS["report.definition.service_level"]
    assert "the contacts the agent ended with" in level[0]
    assert "завершившиеся у оператора" in level[1]
    # the drill-down of an agent row's offered, through the API, and without an agent
    resp = await client.request("GET", f"/api/reports?{Q}&by=agent")
    row = {r["key"]: r for r in (await resp.json())["rows"]}["1001"]
    assert row["drill"] == {"offered": "presented"}
    resp = await client.request("GET", f"/api/reports/contacts?{Q}&agent=1001&measure=presented")
    assert (resp.status, (await resp.json())["total"]) == (200, row["offered"])
    resp = await client.request("GET", f"/api/reports/contacts?{Q}&measure=presented")
    assert resp.status == 400 and (await resp.json())["field"] == "agent"
