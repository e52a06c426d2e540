"""The external CRM adapter against a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from config.errors import ExternalServiceError, InvalidInput
from config.settings import CrmSettings
from crm_lookup.directory import Directory, directory_from_settings
from crm_lookup.external import ExternalCrm, parse_auth_header
from crm_lookup.resilience import BreakerState
from crm_lookup.store import Store, open_store


@dataclass
class FakeCrm:
    mode: str = "ok"
    requests: list[str] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)
    url: str = ""


CRM_KEY = web.AppKey("crm", FakeCrm)


async def _handler(request: web.Request) -> web.StreamResponse:
    crm: FakeCrm = request.app[CRM_KEY]
    phone = request.query.get("phone", "")
    crm.requests.append(phone)
    crm.auth.append(request.headers.get("X-Api-Key", ""))
    if crm.mode == "slow":
        await asyncio.sleep(5)
    if crm.mode == "fail":
        return web.Response(status=500, text="boom")
    if crm.mode == "malformed":
        return web.Response(text="{not json", content_type="application/json")
    if crm.mode == "nameless":
        return web.json_response({"customer": {"tier": "VIP"}})
    if phone == "+15550001111":
        return web.json_response(
            {"customers": [{"id": "X-1", "name": "Ann (CRM)", "tier": "VIP", "tags": "crm,gold"}]}
        )
    if phone == "+15550003333":
        return web.json_response({"name": "Only In CRM", "company": "Ext Inc", "language": "RU"})
    return web.json_response([], status=404)


@pytest.fixture
async def fake_crm() -> AsyncIterator[FakeCrm]:
    crm = FakeCrm()
    app = web.Application()
    app[CRM_KEY] = crm
    app.router.add_get("/api/customers", _handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    crm.url = f"http://{host}:{port}/api/customers?phone={{phone}}"
    yield crm
    await runner.cleanup()


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = await open_store(store_url)
    ann = await s.customers.add("Ann Lee", ["+15550001111"], tier="standard", tags=["local"])
    await s.cases.open(ann.id, "Open question")
    yield s
    await s.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _adapter(crm: FakeCrm, **kwargs: object) -> ExternalCrm:
    options: dict[str, object] = {"auth_header": "X-Api-Key: s3cret", "timeout_ms": 200}
    options.update(kwargs)
    return ExternalCrm(crm.url, **options)  # type: ignore[arg-type]


async def test_external_answer_overrides_identity_and_is_cached(
    fake_crm: FakeCrm, store: Store
) -> None:
    directory = Directory(store, _adapter(fake_crm))
    try:
        card = await directory.card_for_phone("(555) 000-1111")
        assert card.source == "external" and card.name == "Ann (CRM)"
        assert card.vip and card.customer_id is not None
        assert card.tags == ("local", "crm", "gold")
        assert [c.subject for c in card.open_cases] == ["Open question"]
        assert fake_crm.auth == ["s3cret"]
        assert fake_crm.requests == ["+15550001111"]
        await directory.card_for_phone("+1 555 000 1111")
        assert fake_crm.requests == ["+15550001111"]  # served from the cache
        only = await directory.card_for_phone("555-000-3333")
        assert (only.customer_id, only.name, only.language, only.new_caller) == (
            None,
            "Only In CRM",
            "ru",
            False,
        )
        unknown = await directory.card_for_phone("555-000-4444")
        assert unknown.new_caller and unknown.source == "local"
    finally:
        await directory.close()


async def test_slow_crm_times_out_and_falls_back(fake_crm: FakeCrm, store: Store) -> None:
    fake_crm.mode = "slow"
    directory = Directory(store, _adapter(fake_crm, timeout_ms=100))
    try:
        started = time.monotonic()
        card = await directory.card_for_phone("+15550001111")
        # The server sleeps 5 s; the pop must not wait for it.
        assert time.monotonic() - started < 3.0
        assert card.source == "local" and card.name == "Ann Lee"
        with pytest.raises(ExternalServiceError, match="100 ms"):
            await directory.external.lookup_phone("+15550009999")  # type: ignore[union-attr]
    finally:
        await directory.close()


async def test_failing_crm_opens_the_breaker(fake_crm: FakeCrm, store: Store) -> None:
    fake_crm.mode = "fail"
    clock = FakeClock()
    adapter = _adapter(fake_crm, breaker_failures=3, breaker_reset=30.0, clock=clock)
    directory = Directory(store, adapter)
    try:
        for _ in range(5):
            card = await directory.card_for_phone("+15550001111")
            assert card.source == "local" and card.name == "Ann Lee"
        assert len(fake_crm.requests) == 3  # the last two never left the process
        assert adapter.breaker_state is BreakerState.OPEN
        fake_crm.mode = "ok"
        clock.now = 31.0
        card = await directory.card_for_phone("+15550001111")
        assert card.source == "external"
        assert adapter.breaker_state is BreakerState.CLOSED
    finally:
        await directory.close()


@pytest.mark.parametrize("mode", ["malformed", "nameless"])
async def test_malformed_answers_fall_back(fake_crm: FakeCrm, store: Store, mode: str) -> None:
    fake_crm.mode = mode
    adapter = _adapter(fake_crm)
    directory = Directory(store, adapter)
    try:
        card = await directory.card_for_phone("+15550001111")
        assert card.source == "local" and card.name == "Ann Lee"
        with pytest.raises(ExternalServiceError):
            await adapter.lookup_phone("+15550001111")
    finally:
        await directory.close()


async def test_unreachable_crm_falls_back(store: Store) -> None:
    adapter = ExternalCrm("http://127.0.0.1:9/api?phone={phone}", timeout_ms=200)
    directory = Directory(store, adapter)
    try:
        card = await directory.card_for_phone("+15550001111")
        assert card.source == "local" and card.name == "Ann Lee"
    finally:
        await directory.close()


def test_adapter_configuration_is_checked() -> None:
    with pytest.raises(InvalidInput):
        ExternalCrm("ftp://crm/{phone}")
    with pytest.raises(InvalidInput):
        ExternalCrm("https://crm/api")
    with pytest.raises(InvalidInput):
        ExternalCrm("https://crm/{phone}", timeout_ms=0)
    with pytest.raises(InvalidInput):
        parse_auth_header("Bearer x\r\nX-Evil: 1")
    assert parse_auth_header("Bearer abc") == {"Authorization": "Bearer abc"}
    assert parse_auth_header("X-Api-Key: abc") == {"X-Api-Key": "abc"}
    settings = CrmSettings(url_template="https://crm/api?phone={phone}", timeout_ms=250)
    adapter = ExternalCrm.from_settings(settings)
    assert adapter.timeout == 0.25
    assert adapter.url_for("+15550001111") == "https://crm/api?phone=%2B15550001111"


async def test_directory_from_settings(fake_crm: FakeCrm, store: Store) -> None:
    local = directory_from_settings(store, CrmSettings())
    assert local.external is None
    remote = directory_from_settings(
        store, CrmSettings(adapter="http", url_template=fake_crm.url, timeout_ms=500)
    )
    try:
        assert (await remote.card_for_phone("+15550003333")).name == "Only In CRM"
    finally:
        await remote.close()
    with pytest.raises(InvalidInput):
        directory_from_settings(store, CrmSettings(adapter="http", url_template=""))
