"""No log level prints a secret: real work at DEBUG, every line written is searched for the
password, its hash, session and CSRF tokens and the customer's phone number and email."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from agent_console.auth import Passwords
from crm_lookup.sessions import StoredSession
from crm_lookup.store import open_store
from switchboard.logs import setup_logging
from telephony.simulator import PhoneBehaviour
from tests.service_harness import running_service
from tests.test_e2e_calls import is_type

PASSWORD = "log-test-Pa55word"
PHONE = "+15550004242"
EMAIL = "ada.secret@example.com"


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """The service's logging at DEBUG into a buffer; pytest's own handlers put back after."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    saved_levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    buffer = io.StringIO()
    setup_logging("DEBUG", stream=buffer)
    try:
        yield buffer
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name, lvl in saved_levels.items():
            logging.getLogger(name).setLevel(lvl)


def assert_clean(text: str, *secrets: str) -> None:
    assert text.strip(), "nothing was logged: the test would prove nothing"
    for secret in secrets:
        assert secret not in text, f"{secret[:12]}... reached the log"


async def test_store_work_at_debug_logs_no_secret(store_url: str, debug_log: io.StringIO) -> None:
    password_hash = Passwords().hash(PASSWORD)
    # On PostgreSQL, the password in database.url is one more secret.
    database_password = urlsplit(store_url).password or PASSWORD
    store = await open_store(store_url)
    try:
        await store.users.add("ada", password_hash, "admin", None)
        session = StoredSession("session-key-xyz123", "ada", "admin", None, "csrf-tok-abc987", 9e9)
        await store.sessions.save(session)
        assert await store.sessions.get(session.key, time.time()) is not None
        customer = await store.customers.add("Ada Lovelace", [PHONE], email=EMAIL)
        assert (await store.customers.find_by_phone(PHONE)).id == customer.id
        await store.contacts.arrived("log-1", PHONE, "5550100", at=100.0)
        logging.getLogger("switchboard.test").info("store work done")
    finally:
        await store.close()
    assert_clean(
        debug_log.getvalue(),
        PASSWORD,
        password_hash,
        session.key,
        session.csrf,
        PHONE,
        EMAIL,
        database_password,
    )


async def test_service_login_and_call_at_debug_log_no_secret(
    tmp_path: Path, debug_log: io.StringIO
) -> None:
    phones = {"PJSIP/1001": PhoneBehaviour(answer_after=0.2)}
    async with running_service(tmp_path, phones=phones) as (service, sim, rec, url):
        password_hash = Passwords().hash(PASSWORD)
        await service.store.users.add("ada", password_hash, "agent", "1001")
        await service.store.customers.add("Ada Lovelace", [PHONE], email=EMAIL)
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            resp = await http.post(
                url + "/api/login",
                json={"username": "ada", "password": PASSWORD},
                headers={"Origin": url},
            )
            assert resp.status == 200, await resp.text()
            csrf = (await resp.json())["csrf_token"]
            headers = {"Origin": url, "X-CSRF-Token": csrf}
            resp = await http.put(
                url + "/api/agents/me/state", json={"state": "ready"}, headers=headers
            )
            assert resp.status == 200, await resp.text()
            sim.place_call(PHONE, did="5550100", dtmf=["1"], patience=60, talk_seconds=(1, 1))
            await rec.wait_for(is_type("screen_pop", agent_id="1001"), 20)
            found = await http.get(url + "/api/customers", params={"q": PHONE}, headers=headers)
            assert found.status == 200
            cookies = [c.value for c in jar]
    assert cookies
    assert_clean(debug_log.getvalue(), PASSWORD, password_hash, csrf, *cookies, PHONE, EMAIL)
