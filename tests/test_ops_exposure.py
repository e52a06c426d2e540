"""/healthz and /metrics of the real service: the AMI address only to those allowed to see
it, /metrics behind ``http.ops_token`` once one is set."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from switchboard.demo import DEMO_PASSWORD, seed_users
from tests import service_harness
from tests.service_harness import running_service

TOKEN = "ops-token-for-tests-0123456789"


@pytest.fixture
def with_ops_token(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    plain = service_harness.harness_settings

    def settings(*args: Any, **kwargs: Any) -> Any:
        base = plain(*args, **kwargs)
        return dataclasses.replace(base, http=dataclasses.replace(base.http, ops_token=TOKEN))

    monkeypatch.setattr(service_harness, "harness_settings", settings)
    yield


async def get(http: aiohttp.ClientSession, url: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.get(url, headers=headers) as resp:
        return resp.status, await resp.text()


async def login(http: aiohttp.ClientSession, url: str, username: str) -> None:
    body = {"username": username, "password": DEMO_PASSWORD}
    async with http.post(url + "/api/login", json=body, headers={"Origin": url}) as resp:
        assert resp.status == 200, await resp.text()


async def test_health_hides_the_ami_address_from_anyone_but_supervisors(tmp_path: Path) -> None:
    async with running_service(tmp_path) as (service, _sim, _rec, url):
        ami_port = str(service.settings.ami.port)
        await seed_users(service.store)
        async with aiohttp.ClientSession() as anon:
            status, text = await get(anon, url + "/healthz")
            assert status == 200
            assert '"connected": true' in text and ami_port not in text and "host" not in text
            status, text = await get(anon, url + "/metrics")  # no token configured: open
            assert status == 200 and "switchboard_ami_connected 1.0" in text
        for username, sees_details in (("alice", False), ("sam", True), ("admin", True)):
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(cookie_jar=jar) as http:
                await login(http, url, username)
                _, text = await get(http, url + "/healthz")
                assert (ami_port in text) is sees_details, username


async def test_ops_token_guards_metrics_and_unlocks_health(
    tmp_path: Path, with_ops_token: None
) -> None:
    async with running_service(tmp_path) as (service, _sim, _rec, url):
        ami_port = str(service.settings.ami.port)
        async with aiohttp.ClientSession() as http:
            for token in (None, "wrong", TOKEN[:-1]):
                status, _ = await get(http, url + "/metrics", token)
                assert status == 401, token
            status, text = await get(http, url + "/metrics", TOKEN)
            assert status == 200 and "switchboard_ami_connected 1.0" in text
            status, text = await get(http, url + "/healthz")
            assert status == 200 and ami_port not in text
            status, text = await get(http, url + "/healthz", TOKEN)
            assert status == 200 and ami_port in text and '"host"' in text
            assert json.loads(text)["contacts"] == {"pending_writes": 0}
            status, text = await get(http, url + "/metrics", TOKEN)
            assert "switchboard_contact_writes_pending 0.0" in text
            status, text = await get(http, url + "/healthz")
            assert "pending_writes" not in text  # the backlog is an operations detail
            await service.ami.close()  # the verdict stays public when AMI is down
            status, text = await get(http, url + "/healthz")
            assert status == 503 and '"connected": false' in text and ami_port not in text
