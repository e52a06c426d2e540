"""The contact API over the real aiohttp server and store: who may play a recording (the
agent who took it, a supervisor of its queue, an admin; not another agent, nor a
supervisor of another queue, nor anonymous), HTTP Range (206 with the exact
Content-Range, 416), one audit entry per playback (a seek is none), 404 in JSON when
there is no recording or its file is gone, the contact JSON with its timeline, and the
customer history's ``recording_status``."""

from __future__ import annotations

import io
import math
import struct
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent_console.keys import PLAYBACKS
from tests.console_fakes import PASSWORD, World, seed_history

FILE = "live-1-1001-1700000000000.wav"


def wav_bytes(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A real WAV: a 440 Hz tone, 16-bit mono (what MixMonitor writes)."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Any]:
    w = await World().start(tmp_path)
    w.ids = await seed_history(w)  # contact: sales, taken by alice (1001)
    w.recordings = tmp_path / "recordings"
    w.recordings.mkdir()
    w.audio = wav_bytes()
    (w.recordings / FILE).write_bytes(w.audio)
    contact = await w.store.contacts.get(int(w.ids["contact"]))
    answered = contact.answered_at
    await w.store.contacts.recording("live-1", FILE, answered)
    await w.store.contacts.note("live-1", "recording_paused", {"agent_id": "1001"}, answered + 32)
    await w.store.contacts.note("live-1", "recording_resumed", {"agent_id": "1001"}, answered + 40)
    # sam supervises support only
    await w.store.users.add("sam", w.passwords.hash(PASSWORD), "supervisor", None)
    w.center.supervisors["sam"] = {"support"}
    yield w
    await w.close()


def path_of(world: Any) -> str:
    return f"/api/contacts/{world.ids['contact']}/recording"


async def plays(world: Any) -> list[Any]:
    return [e for e in await world.store.audit.list() if e.action == "recording.play"]


@pytest.mark.parametrize(
    ("username", "status"),
    [("alice", 200), ("bob", 403), ("sue", 200), ("sam", 403), ("root", 200), (None, 401)],
)
async def test_who_may_play(world: Any, username: str | None, status: int) -> None:
    client = await world.client(username)
    resp = await client.request("GET", path_of(world))
    assert resp.status == status, await resp.text()
    if status == 200:
        assert await resp.read() == world.audio
        assert resp.headers["Content-Type"] == "audio/wav"
        assert resp.headers["Accept-Ranges"] == "bytes"
        assert resp.headers["Cache-Control"] == "no-store"
        assert int(resp.headers["Content-Length"]) == len(world.audio)
        [entry] = await plays(world)
        assert (entry.actor, entry.target) == (username, world.ids["contact"])
    else:
        body = await resp.json()
        assert body["error"] == ("not_authenticated" if status == 401 else "permission_denied")
        assert await plays(world) == []


async def test_ranges_206_416_and_one_entry_per_listening(world: Any) -> None:
    alice = await world.client("alice")
    size = len(world.audio)
    resp = await alice.request("GET", path_of(world), headers={"Range": "bytes=0-99"})
    assert resp.status == 206
    assert resp.headers["Content-Range"] == f"bytes 0-99/{size}"
    assert await resp.read() == world.audio[:100]
    assert len(await plays(world)) == 1

    # The player seeks: a range from further on, the same playback.
    resp = await alice.request("GET", path_of(world), headers={"Range": "bytes=8000-"})
    assert resp.status == 206
    assert resp.headers["Content-Range"] == f"bytes 8000-{size - 1}/{size}"
    assert await resp.read() == world.audio[8000:]
    resp = await alice.request("GET", path_of(world), headers={"Range": "bytes=-44"})
    assert resp.status == 206
    assert await resp.read() == world.audio[-44:]
    assert len(await plays(world)) == 1

    resp = await alice.request("GET", path_of(world), headers={"Range": f"bytes={size + 10}-"})
    assert resp.status == 416
    assert resp.headers["Content-Range"] == f"bytes */{size}"
    assert len(await plays(world)) == 1

    # Played again at once: the same listening, no second entry.
    resp = await alice.request("GET", path_of(world), headers={"Range": "bytes=0-"})
    assert resp.status == 206
    assert await resp.read() == world.audio
    assert len(await plays(world)) == 1

    # Found in review: a first request from byte 1 skipped the audit. Every request of a
    # new listening counts, whatever its range: root's first, from byte 1, is an entry.
    root = await world.client("root")
    resp = await root.request("GET", path_of(world), headers={"Range": "bytes=1-"})
    assert resp.status == 206
    assert sorted(e.actor for e in await plays(world)) == ["alice", "root"]

    # Later (past the window) alice listens again: a second entry of hers.
    world.app[PLAYBACKS].window = 0.0
    resp = await alice.request("GET", path_of(world), headers={"Range": "bytes=5000-"})
    assert resp.status == 206
    entries = await plays(world)
    assert sorted(e.actor for e in entries) == ["alice", "alice", "root"]
    assert all(e.target == world.ids["contact"] for e in entries)


async def test_missing_file_and_no_recording_are_404_json(world: Any) -> None:
    root = await world.client("root")
    (world.recordings / FILE).unlink()
    resp = await root.request("GET", path_of(world))
    assert resp.status == 404
    body = await resp.json()
    assert body["error"] == "not_found" and "missing" in body["message"]
    data = await (await root.request("GET", f"/api/contacts/{world.ids['contact']}")).json()
    assert data["recording"] == {"status": "missing", "may_play": True}

    # the past contact was never recorded
    past = (await world.store.contacts.get_by_key("past-1")).id
    resp = await root.request("GET", f"/api/contacts/{past}/recording")
    assert resp.status == 404
    assert "not recorded" in (await resp.json())["message"]
    resp = await root.request("GET", "/api/contacts/999999/recording")
    assert resp.status == 404
    assert await plays(world) == []


async def test_a_ref_outside_the_directory_is_never_served(world: Any, tmp_path: Path) -> None:
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"RIFF secret")
    await world.store.contacts.recording("past-1", "../secret.wav", None)
    past = (await world.store.contacts.get_by_key("past-1")).id
    root = await world.client("root")
    resp = await root.request("GET", f"/api/contacts/{past}/recording")
    assert resp.status == 404
    assert b"secret" not in await resp.read()


async def test_the_contact_json(world: Any) -> None:
    sue = await world.client("sue")
    resp = await sue.request("GET", f"/api/contacts/{world.ids['contact']}")
    assert resp.status == 200
    data = await resp.json()
    assert data["agent_name"] == "Alice Agent"
    assert data["queue"] == "sales"
    assert data["recording"] == {"status": "available", "may_play": True}
    assert data["can_evaluate"] is True
    kinds = [e["kind"] for e in data["events"]]
    assert kinds == [
        "arrived",
        "queued",
        "offered",
        "answered",
        "recording",
        "note:recording_paused",
        "note:recording_resumed",
    ]
    paused = data["events"][5]
    assert paused["data"] == {"agent_id": "1001"}
    assert all(set(e) == {"kind", "at", "data"} for e in data["events"])
    assert data["events"][4]["data"] == {}  # the file's name stays on the server
    assert FILE not in await resp.text()

    bob = await world.client("bob")
    data = await (await bob.request("GET", f"/api/contacts/{world.ids['contact']}")).json()
    assert data["recording"] == {"status": "available", "may_play": False}
    assert data["can_evaluate"] is False
    anonymous = await world.client()
    resp = await anonymous.request("GET", f"/api/contacts/{world.ids['contact']}")
    assert resp.status == 401


async def test_the_customer_history_says_each_recording_status(world: Any) -> None:
    alice = await world.client("alice")
    resp = await alice.request("GET", f"/api/customers/{world.ids['customer']}/contacts")
    page = await resp.json()
    statuses = {c["key"]: c["recording_status"] for c in page["contacts"]}
    assert statuses == {"live-1": "available", "past-1": "none"}
    assert all("recording" not in c for c in page["contacts"])  # the reference stays here
    (world.recordings / FILE).unlink()
    page = await (
        await alice.request("GET", f"/api/customers/{world.ids['customer']}/contacts")
    ).json()
    assert {c["key"]: c["recording_status"] for c in page["contacts"]}["live-1"] == "missing"


PART_2 = "live-1-1002-1700000100000.wav"


async def test_a_call_recorded_in_parts_lists_and_serves_each(world: Any) -> None:
    """A blind transfer to agent 1002 (bob): the second agent's part is a file of its own
    on the same contact, listed with the first, playable by bob as well."""
    contact = await world.store.contacts.get(int(world.ids["contact"]))
    (world.recordings / PART_2).write_bytes(wav_bytes(seconds=0.5))
    at = (contact.answered_at or 0) + 60
    await world.store.contacts.recording("live-1", PART_2, at, "1002")
    base = f"/api/contacts/{world.ids['contact']}"

    alice = await world.client("alice")
    data = await (await alice.request("GET", base)).json()
    assert [(p["part"], p["agent_id"], p["status"], p["may_play"]) for p in data["recordings"]] == [
        (1, None, "available", True),
        (2, "1002", "available", True),
    ]
    assert data["recordings"][1]["at"] == at
    assert data["agent_names"]["1002"] == "Bob Agent"
    assert PART_2 not in await (await alice.request("GET", base)).text()
    first = await alice.request("GET", base + "/recording?part=1")
    assert (first.status, await first.read()) == (200, world.audio)
    second = await (await alice.request("GET", base + "/recording?part=2")).read()
    assert second == (world.recordings / PART_2).read_bytes()
    latest = await (await alice.request("GET", base + "/recording")).read()
    assert latest == second  # the contact's column: the latest part

    # bob took only the second part: that one is his to play, the first is not
    bob = await world.client("bob")
    data = await (await bob.request("GET", base)).json()
    assert [p["may_play"] for p in data["recordings"]] == [False, True]
    assert data["recording"]["may_play"] is True  # the latest is his part
    assert (await bob.request("GET", base + "/recording?part=1")).status == 403
    assert (await bob.request("GET", base + "/recording?part=2")).status == 200
    assert (await bob.request("GET", base + "/recording")).status == 200

    for bad, status in (("0", 400), ("-1", 400), ("x", 400), ("²", 400), ("1001", 400), ("3", 404)):
        resp = await alice.request("GET", base + f"/recording?part={bad}")
        assert resp.status == status, (bad, await resp.text())
        assert (await resp.json())["error"]
    entries = [e for e in await world.store.audit.list() if e.action == "recording.play"]
    assert {(e.actor, e.details.get("part")) for e in entries} == {
        ("alice", 1),
        ("alice", 2),
        ("alice", None),
        ("bob", 2),
        ("bob", None),
    }
