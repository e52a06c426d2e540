"""Logins under attack, through the real aiohttp server on 127.0.0.1: concurrent guesses
never get past the rate limit, password checks are capped and run off the event loop, and
wrong passwords slow a user down without keeping them out.

A second client address is 127.0.0.2 (Linux routes all of 127/8 to loopback), so the
per-address limit and the per-user delay can be told apart."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request
from typing import Any

import aiohttp
import argon2

from agent_console.auth import Passwords
from agent_console.keys import AUTH
from tests.console_fakes import CHEAP_ARGON2, PASSWORD, UserClient, World


class CountingPasswords(Passwords):
    """The real argon2 checks, counted, each held ``hold`` seconds (in its thread)."""

    def __init__(self, hold: float = 0.0) -> None:
        super().__init__(argon2.PasswordHasher(**CHEAP_ARGON2))
        self.hold = hold
        self.calls = 0
        self.running = 0
        self.peak = 0
        self._lock = threading.Lock()

    def verify(self, stored_hash: str | None, password: str) -> bool:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            time.sleep(self.hold)
            return super().verify(stored_hash, password)
        finally:
            with self._lock:
                self.running -= 1


async def start(tmp_path: Any, *, login_limit: int = 10, hold: float = 0.0) -> World:
    world = await World().start(tmp_path, login_limit=login_limit)
    world.app[AUTH].passwords = CountingPasswords(hold)
    return world


def from_address(world: World, host: str) -> UserClient:
    """A client whose connections come from ``host`` (another loopback address)."""
    client = UserClient(world)
    client.http = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=(host, 0)),
        cookie_jar=aiohttp.CookieJar(unsafe=True),
    )
    world.clients.append(client)
    return client


async def test_concurrent_guesses_for_one_user_stay_within_the_limit(tmp_path: Any) -> None:
    world = await start(tmp_path, login_limit=10, hold=0.02)
    try:
        client = await world.client()
        guesses = [f"guess-{n}" for n in range(59)] + [PASSWORD]
        responses = await asyncio.gather(*(client.login("sue", pw) for pw in guesses))
        statuses = [r.status for r in responses]
        passwords = world.app[AUTH].passwords
        assert isinstance(passwords, CountingPasswords)
        assert passwords.calls <= 10, passwords.calls
        assert statuses.count(401) + statuses.count(200) == passwords.calls
        assert statuses.count(429) >= 50
        # Every refusal says when to come back.
        for resp in responses:
            if resp.status == 429:
                assert int(resp.headers["Retry-After"]) >= 1
    finally:
        await world.close()


async def test_password_checks_are_capped_however_many_arrive(tmp_path: Any) -> None:
    # 150 wrong logins for 150 names (a spray) that the rate limit lets through.
    world = await start(tmp_path, login_limit=1000, hold=0.05)
    try:
        client = await world.client()
        responses = await asyncio.gather(
            *(client.login(f"user{n}", "wrong password") for n in range(150))
        )
        passwords = world.app[AUTH].passwords
        assert isinstance(passwords, CountingPasswords)
        auth = world.app[AUTH]
        assert passwords.peak <= auth.max_verifying, passwords.peak
        statuses = {r.status for r in responses}
        assert statuses <= {401, 429}
        # Those past the waiting room are refused at once, not queued without bound.
        assert passwords.calls <= 150
    finally:
        await world.close()


async def test_hashing_a_new_password_does_not_stall_the_loop(tmp_path: Any) -> None:
    world = await World().start(tmp_path)

    class SlowHash(Passwords):
        def hash(self, password: str) -> str:
            time.sleep(0.4)  # a real argon2id hash with production parameters is this slow
            return super().hash(password)

    world.app[AUTH].passwords = SlowHash(argon2.PasswordHasher(**CHEAP_ARGON2))
    latencies: list[float] = []
    done = threading.Event()

    def probe() -> None:  # another process's view: its own thread, blocking HTTP
        while not done.is_set():
            started = time.monotonic()
            with urllib.request.urlopen(world.url + "/healthz", timeout=5) as resp:
                assert resp.status == 200
            latencies.append(time.monotonic() - started)
            time.sleep(0.01)

    try:
        root = await world.client("root")
        body = {"username": "dave", "password": "s3cret-pass", "role": "supervisor"}
        prober = threading.Thread(target=probe)
        prober.start()
        try:
            assert (await root.request("POST", "/api/admin/users", body)).status == 201
        finally:
            done.set()
            await asyncio.to_thread(prober.join)
        assert latencies and max(latencies) < 0.2, f"/healthz waited {max(latencies):.3f} s"
    finally:
        await world.close()


async def test_wrong_passwords_delay_a_user_but_never_lock_them_out(tmp_path: Any) -> None:
    world = await start(tmp_path, login_limit=10)
    auth = world.app[AUTH]
    try:
        attacker = await world.client()
        wrong = 0
        for n in range(40):  # ten wrong checks, waiting out each delay they earn
            resp = await attacker.login("sue", f"guess-{n}")
            if resp.status == 401:
                wrong += 1
                if wrong == 10:
                    break
            else:
                assert resp.status == 429
                retry = int(resp.headers["Retry-After"])
                assert retry <= auth.max_user_delay
                world.clock.advance(retry)
        assert wrong == 10
        # The attacker's address is now at its limit; sue, elsewhere, only waits the delay.
        assert (await attacker.login("sue", "guess-x")).status == 429
        sue = from_address(world, "127.0.0.2")
        resp = await sue.login("sue")
        if resp.status == 429:
            retry = int(resp.headers["Retry-After"])
            assert retry <= auth.max_user_delay
            world.clock.advance(retry)
            resp = await sue.login("sue")
        assert resp.status == 200
    finally:
        await world.close()


async def test_an_address_the_user_logged_in_from_skips_the_delay(tmp_path: Any) -> None:
    world = await start(tmp_path, login_limit=10)
    try:
        sue = from_address(world, "127.0.0.2")
        assert (await sue.login("sue")).status == 200
        attacker = await world.client()
        statuses = [(await attacker.login("sue", f"guess-{n}")).status for n in range(10)]
        assert 429 in statuses  # the attacker is slowed down...
        assert (await sue.login("sue")).status == 200  # ...sue at her desk is not
    finally:
        await world.close()


async def test_a_flood_of_logins_leaves_no_state_behind(tmp_path: Any) -> None:
    world = await start(tmp_path, login_limit=5)
    try:
        client = await world.client()
        await asyncio.gather(*(client.login("bob", "wrong") for _ in range(40)))
        world.clock.advance(3600)
        assert (await client.login("bob")).status == 200
    finally:
        await world.close()


# -- the guard alone (no sockets) --------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_user_delay_doubles_up_to_its_cap_and_a_success_ends_it() -> None:
    from agent_console.auth import LoginGuard, TooManyAttempts

    clock = Clock()
    guard = LoginGuard(1000, clock=clock, free_failures=3, max_user_delay=8.0)
    waits = []
    for _ in range(8):
        try:
            guard.failed(guard.admit("ip:a", "user:sue"))
            waits.append(0)
        except TooManyAttempts as exc:
            waits.append(exc.retry_after)
            clock.now += exc.retry_after
            guard.failed(guard.admit("ip:a", "user:sue"))
    assert waits == [0, 0, 0, 1, 2, 4, 8, 8]
    clock.now += 8
    guard.succeeded(guard.admit("ip:b", "user:sue"))
    guard.failed(guard.admit("ip:c", "user:sue"))  # a fresh streak: no delay
    clock.now += 901
    for _ in range(3):  # and an old streak is forgotten
        guard.failed(guard.admit("ip:c", "user:sue"))


def test_a_spray_over_many_names_and_addresses_stays_bounded(
    monkeypatch: Any,
) -> None:
    import agent_console.auth as auth_module

    monkeypatch.setattr(auth_module, "MAX_TRACKED", 1000)
    clock = Clock()
    guard = auth_module.LoginGuard(5, clock=clock)
    started = time.monotonic()
    for n in range(50_000):
        attempt = guard.admit(f"ip:{n}", f"user:{n}")
        (guard.succeeded if n % 2 else guard.failed)(attempt)
        clock.now += 0.001
    assert time.monotonic() - started < 2.0  # O(1) per attempt, not a rebuild each time
    assert len(guard.addresses._hits) <= 1000
    assert len(guard._failures) <= 1000 and len(guard._trusted) <= 1000


def via_proxy(client: UserClient, address: str) -> UserClient:
    """Every request of ``client`` as nginx forwards it for ``address`` (and what the
    client claimed before it, which must never count)."""
    client.http.headers["X-Forwarded-For"] = f"6.6.6.6, {address}"
    return client


async def test_behind_a_trusted_proxy_the_login_limit_and_audit_use_the_client(
    tmp_path: Any,
) -> None:
    """Found in the last closing note: behind nginx every login came from 127.0.0.1, so
    one attacker's guesses locked the whole office out. With ``trusted_proxies`` the
    per-address limit (and the audit's "ip") is the forwarded client's."""
    world = await World().start(tmp_path, login_limit=3, trusted_proxies=("127.0.0.0/8",))
    try:
        attacker = via_proxy(await world.client(), "203.0.113.66")
        statuses = [(await attacker.login(f"nobody{n}", "guess")).status for n in range(5)]
        assert statuses[-1] == 429  # the attacker's address is at its limit
        sue = via_proxy(await world.client(), "2001:db8::5")
        assert (await sue.login("sue")).status == 200  # another client behind one proxy
        entries = await world.store.audit.list(actor="sue")
        assert [(e.action, e.details.get("ip")) for e in entries] == [("user.login", "2001:db8::5")]
    finally:
        await world.close()


async def test_without_trusted_proxies_a_forwarded_header_changes_nothing(tmp_path: Any) -> None:
    world = await World().start(tmp_path, login_limit=3)
    try:
        attacker = via_proxy(await world.client(), "203.0.113.66")
        for n in range(4):
            await attacker.login(f"nobody{n}", "guess")
        sue = via_proxy(await world.client(), "2001:db8::5")  # a lie: the peer is the key
        assert (await sue.login("sue")).status == 429
    finally:
        await world.close()
