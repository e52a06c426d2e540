"""The whole path on real sockets: a recorded call on the PBX simulator (its MixMonitor
writes a real WAV), paused and resumed by the agent, ended; then, over HTTP on the real
service, the contact says "available" with the pause on its timeline, the agent plays
the file with ranges (one audit entry), another agent may not; and once retention has
taken the file, the contact says "missing"."""

from __future__ import annotations

import asyncio
import json
import wave
from pathlib import Path

import aiohttp

from switchboard.demo import seed_users
from tests.service_harness import running_service
from tests.test_e2e_api import login
from tests.test_e2e_calls import contact_for, is_type
from tests.test_e2e_recording import PHONES, SALES, connected_call, eventually


async def get(url: str, user: str, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        auth = await login(http, url, user)
        async with http.get(url + path, headers={**auth, **headers}) as resp:
            return resp.status, dict(resp.headers), await resp.read()


async def test_a_recorded_call_plays_back_from_its_contact(tmp_path: Path) -> None:
    async with running_service(tmp_path, phones=PHONES) as (service, sim, rec, url):
        await seed_users(service.store)
        call_id = await connected_call(service, sim, rec, "1001", SALES)
        call = service.center.calls[call_id]
        await service.center.recording_pause("1001", call_id, True)
        await asyncio.sleep(0.4)
        await service.center.recording_pause("1001", call_id, False)
        await asyncio.sleep(0.4)
        await service.center.hangup(call_id)
        await rec.wait_for(is_type("call_ended", call_id=call_id))
        await service.center.recorder.flush()
        wav = tmp_path / "recordings" / call.recording_file
        await eventually(wav.exists)
        await eventually(lambda: wav.stat().st_size > 44)
        contact = await contact_for(service, call_id)

        status, _, body = await get(url, "alice", f"/api/contacts/{contact.id}")
        assert status == 200
        data = json.loads(body)
        assert data["recording"] == {"status": "available", "may_play": True}
        kinds = [e["kind"] for e in data["events"]]
        assert kinds.index("answered") < kinds.index("note:recording_paused")
        assert kinds.index("note:recording_paused") < kinds.index("note:recording_resumed")
        assert call.recording_file not in body.decode()

        audio = wav.read_bytes()
        path = f"/api/contacts/{contact.id}/recording"
        status, headers, part = await get(url, "alice", path, Range="bytes=0-43")
        assert status == 206
        assert headers["Content-Range"] == f"bytes 0-43/{len(audio)}"
        assert part == audio[:44] and part.startswith(b"RIFF")
        status, _, rest = await get(url, "alice", path, Range="bytes=44-")
        assert status == 206 and rest == audio[44:]
        with wave.open(str(wav), "rb") as w:
            assert w.getnframes() > 0
        plays = [e for e in await service.store.audit.list() if e.action == "recording.play"]
        assert [(e.actor, e.target) for e in plays] == [("alice", str(contact.id))]
        status, _, _ = await get(url, "bruno", path)
        assert status == 403

        wav.unlink()  # as retention does
        status, _, body = await get(url, "alice", f"/api/contacts/{contact.id}")
        assert json.loads(body)["recording"]["status"] == "missing"
        status, _, body = await get(url, "alice", path)
        assert status == 404 and "missing" in json.loads(body)["message"]
