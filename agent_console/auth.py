"""Users, passwords, sessions, CSRF, login rate limiting, roles and security headers.

Theory of operation: a successful login creates a server-side :class:`Session` keyed by a
random token; the browser holds only that token, in an HttpOnly, SameSite=Strict cookie
(Secure when the public origin is https). Each session carries its own CSRF token: every
state-changing request must echo it in the ``X-CSRF-Token`` header (JSON) or the
``csrf_token`` form field, and its ``Origin``, when sent, must be the public origin.
Logging in has no session yet, so the JSON login requires a JSON body plus a matching
Origin, and the form login a double-submit token from a short-lived cookie. Roles are
checked by :func:`require` on every handler and by the websocket hub on every message.
"""

from __future__ import annotations

import asyncio
import enum
import hmac
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import argon2
from aiohttp import web

from agent_console.client_address import client_address
from agent_console.keys import AUTH, SESSION
from config.errors import InvalidInput, PermissionDenied

SESSION_COOKIE = "sb_session"
LOGIN_CSRF_COOKIE = "sb_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
USERNAME_MAX = 64
PASSWORD_MAX = 1024
MAX_TRACKED = 100_000  # addresses, users and trusted pairs the login guard remembers

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class NotAuthenticated(PermissionDenied):
    """No valid session: the client must log in (HTTP 401)."""


class TooManyAttempts(PermissionDenied):
    """Too many login attempts from this address or for this user (HTTP 429)."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, int(retry_after + 0.999))
        super().__init__(f"too many login attempts; retry in {self.retry_after} s")


class CsrfRejected(PermissionDenied):
    """A state-changing request without the right CSRF token or from another origin."""


class Role(enum.Enum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @classmethod
    def parse(cls, value: str) -> Role:
        """Role from its name.

        Raises:
            InvalidInput: not one of agent, supervisor, admin.
        """
        try:
            return cls(value)
        except ValueError:
            raise InvalidInput(
                f"role must be one of {', '.join(r.value for r in cls)}", field="role"
            ) from None


ALL_ROLES = frozenset(Role)
SUPERVISING = frozenset({Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class User:
    username: str
    role: Role
    agent_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"username": self.username, "role": self.role.value, "agent_id": self.agent_id}


@dataclass(slots=True)
class Session:
    token: str
    user: User
    csrf: str
    expires: float


class Passwords:
    """argon2id hashing (blocking; :meth:`Auth.verify_password` and
    :meth:`Auth.hash_password` run it in a thread, a bounded number at a time)."""

    def __init__(self, hasher: argon2.PasswordHasher | None = None) -> None:
        self._hasher = hasher or argon2.PasswordHasher()
        # Verified against when the user does not exist, so both paths take the same time.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        """Hash a new password.

        Raises:
            InvalidInput: empty or longer than 1024 characters.
        """
        check_password(password)
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash or self._dummy, password) and bool(stored_hash)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False


def check_password(password: str) -> None:
    """Raises InvalidInput for an empty or absurdly long password."""
    if not password or len(password) > PASSWORD_MAX:
        raise InvalidInput(f"password must be 1..{PASSWORD_MAX} characters", field="password")


NEW_PASSWORD_MIN = 8

# The passwords of 8+ characters that head every leaked-password list (and the obvious
# ones of a contact centre). Compared case-insensitively; short enough to read.
_COMMON = """
    12345678 123456789 1234567890 12345678910 0123456789 87654321 11111111 00000000
    88888888 12341234 11223344 123123123 password password1 password12 password123
    passw0rd p@ssw0rd p@ssword qwertyui qwerty123 qwertyuiop 1q2w3e4r 1qaz2wsx zaq12wsx
    asdfghjk asdfasdf iloveyou sunshine princess football baseball welcome1 welcome123
    abc12345 abcd1234 aa123456 a1b2c3d4 letmein1 trustno1 superman starwars whatever
    changeme changeme1 administrator admin123 admin1234 root1234 secret123 computer
    internet monkey123 dragon123 master123 michelle jennifer corvette mercedes
    switchboard supervisor asterisk1 callcenter contactcenter helpdesk support123
"""
COMMON_PASSWORDS = frozenset(_COMMON.split())


def check_new_password(password: str, username: str = "") -> None:
    """A password being set: at least ``NEW_PASSWORD_MIN`` characters, not one of the
    most common passwords and not the username.

    Raises:
        InvalidInput: too short, common, the username, empty or absurdly long.
    """
    check_password(password)
    if len(password) < NEW_PASSWORD_MIN:
        raise InvalidInput(
            f"the password needs at least {NEW_PASSWORD_MIN} characters", field="password"
        )
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or (username and username.lower() in lowered):
        raise InvalidInput(
            "that password is too easy to guess (a common one, or it contains the username)",
            field="password",
        )


def check_user_fields(role: Role, agent_id: str | None, known_agents: Collection[str]) -> None:
    """The rules for a console user's role and agent id, the same for the CLI and the API.

    An agent user needs an agent id; any agent id must be an agent of the queue file, or
    the user could never take a call. (That no two users share one agent is enforced by
    ``crm_lookup.users.UserRepo.add``, in the transaction that inserts the user.)

    Raises:
        InvalidInput: an agent without an agent id, or an unknown agent id.
    """
    if role is Role.AGENT and not agent_id:
        raise InvalidInput("an agent user needs an agent id", field="agent_id")
    if agent_id is not None and agent_id not in known_agents:
        known = ", ".join(sorted(known_agents)) or "none"
        raise InvalidInput(
            f"agent id {agent_id} is not an agent of the queue file; known: {known}",
            field="agent_id",
        )


def check_username(username: str) -> None:
    """Raises InvalidInput unless 1..64 characters of letters, digits, ``._-@``."""
    ok = 0 < len(username) <= USERNAME_MAX and all(c.isalnum() or c in "._-@" for c in username)
    if not ok or not username.isascii():
        raise InvalidInput(
            "username must be 1..64 characters of letters, digits and . _ - @", field="username"
        )


class RateLimiter:
    """Sliding window: at most ``limit`` hits per key per ``window`` seconds.

    The login guard records an attempt before checking it and gives the hit back when
    the password was right, so a shift of agents behind one NAT address logging in at
    9:00 is never refused, while guessing is."""

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = max(1, limit)
        self.window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def check(self, *keys: str) -> None:
        """Raises TooManyAttempts when one of the keys is at its limit."""
        now = self._clock()
        worst = 0.0
        for key in keys:
            hits = self._hits.get(key)
            if hits is None:
                continue
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                worst = max(worst, hits[0] + self.window - now)
        if worst > 0:
            raise TooManyAttempts(worst)

    def record(self, *keys: str) -> float:
        """Count one hit against every key; returns its time stamp (for :meth:`forget`)."""
        now = self._clock()
        for key in keys:
            hits = self._hits.pop(key, None) or deque()
            hits.append(now)
            self._hits[key] = hits  # re-inserted: the dict stays ordered by last hit
        # Idle keys sit at the front; dropping them there costs O(1) per hit however many
        # addresses a scan uses (rebuilding the dict would be quadratic).
        while self._hits:
            oldest = next(iter(self._hits))
            last = self._hits[oldest]
            if len(self._hits) <= MAX_TRACKED and last and last[-1] > now - self.window:
                break
            del self._hits[oldest]
        return now

    def forget(self, key: str, stamp: float) -> None:
        """Give back one hit recorded at ``stamp`` (a login that turned out right)."""
        hits = self._hits.get(key)
        if hits is not None and stamp in hits:
            hits.remove(stamp)


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """An admitted login: already counted against its address and its user."""

    address: str
    user: str
    stamp: float


class LoginGuard:
    """Per-address limit plus a growing per-user delay; see the module docstring.

    Args:
        address_limit: checks per address per ``window`` seconds.
        free_failures: failures of one user before the delay starts.
        max_user_delay: the delay's cap in seconds; it doubles from 1 s up to it.
        trust_for: how long a successful login exempts its address from the user delay.
        forget_after: a user's failure streak ends after this long without attempts.
    """

    def __init__(
        self,
        address_limit: int,
        *,
        clock: Callable[[], float],
        window: float = 60.0,
        free_failures: int = 5,
        max_user_delay: float = 30.0,
        trust_for: float = 30 * 86400.0,
        forget_after: float = 900.0,
    ) -> None:
        self.addresses = RateLimiter(address_limit, window, clock)
        self.free_failures = free_failures
        self.max_user_delay = max_user_delay
        self.trust_for = trust_for
        self.forget_after = forget_after
        self._clock = clock
        self._failures: dict[str, tuple[int, float]] = {}  # user -> (count, last attempt)
        self._trusted: dict[tuple[str, str], float] = {}  # (user, address) -> until

    def delay(self, failures: int) -> float:
        """Seconds an attempt waits after ``failures`` failures (pending ones included)."""
        if failures < self.free_failures:
            return 0.0
        return float(min(self.max_user_delay, 2.0 ** (failures - self.free_failures)))

    def admit(self, address: str, user: str) -> LoginAttempt:
        """Count an attempt before its password is checked.

        Raises:
            TooManyAttempts: the address is at its limit, or the user's delay has not
                passed (and this address is not one the user logged in from).
        """
        now = self._clock()
        self.addresses.check(address)
        count, last = self._failures.get(user, (0, 0.0))
        if count and last + self.forget_after < now:
            count = 0  # a failure streak long ago is forgiven
        if self._trusted.get((user, address), 0.0) <= now:
            wait = last + self.delay(count) - now
            if wait > 0:
                raise TooManyAttempts(wait)
        stamp = self.addresses.record(address)
        # Pessimistic: counted as a failure until it is known to be right, so concurrent
        # attempts see it at once.
        self._set_failures(user, count + 1, now)
        self._prune(now)
        return LoginAttempt(address, user, stamp)

    def _set_failures(self, user: str, count: int, last: float) -> None:
        self._failures.pop(user, None)
        self._failures[user] = (count, last)  # re-inserted: ordered by last attempt

    def succeeded(self, attempt: LoginAttempt) -> None:
        """The password was right: the address slot is given back, the user's streak ends."""
        self.addresses.forget(attempt.address, attempt.stamp)
        self._failures.pop(attempt.user, None)
        trusted = (attempt.user, attempt.address)
        self._trusted.pop(trusted, None)
        self._trusted[trusted] = self._clock() + self.trust_for  # ordered by expiry
        self._prune(self._clock())

    def failed(self, attempt: LoginAttempt) -> None:
        """Wrong password: the user's delay runs from the end of this check."""
        count, _ = self._failures.get(attempt.user, (1, 0.0))
        self._set_failures(attempt.user, count, self._clock())

    def withdrawn(self, attempt: LoginAttempt) -> None:
        """The attempt was never checked (the service was too busy): it does not count."""
        self.addresses.forget(attempt.address, attempt.stamp)
        count, last = self._failures.get(attempt.user, (1, 0.0))
        if count <= 1:
            self._failures.pop(attempt.user, None)
        else:
            self._failures[attempt.user] = (count - 1, last)

    def _prune(self, now: float) -> None:
        """Drop streaks and trusted addresses that ended, oldest first, and the oldest
        ones beyond ``MAX_TRACKED``, so a spray over many names cannot grow memory; O(1)
        per attempt (both dicts are kept in time order)."""
        while self._failures:
            user = next(iter(self._failures))
            fresh = self._failures[user][1] > now - self.forget_after
            if fresh and len(self._failures) <= MAX_TRACKED:
                break
            del self._failures[user]
        while self._trusted:
            key = next(iter(self._trusted))
            if self._trusted[key] > now and len(self._trusted) <= MAX_TRACKED:
                break
            del self._trusted[key]


class Busy(TooManyAttempts):
    """Too many password checks waiting already; the client should retry shortly."""

    def __init__(self) -> None:
        super().__init__(1.0)
        self.args = ("the login service is busy; retry in a second",)


@dataclass
class Auth:
    """Sessions and login policy for one application."""

    public_origin: str
    max_age: int
    login_limit: int
    passwords: Passwords = field(default_factory=Passwords)
    clock: Callable[[], float] = time.time
    sessions: dict[str, Session] = field(default_factory=dict)
    #: where sessions outlive a restart (``crm_lookup.sessions.SessionRepo``), or None
    persist: Any = None
    #: keys the stored sessions (security.session_secret); empty: a key for this process
    secret: str = ""
    #: argon2 checks and hashes at once (each takes ~64 MiB with the default parameters)
    max_verifying: int = 2
    #: logins waiting for a check beyond those; more are refused at once (429)
    max_waiting: int = 32
    #: the per-user delay's cap, in seconds
    max_user_delay: float = 30.0

    def __post_init__(self) -> None:
        self.guard = LoginGuard(
            self.login_limit, clock=self.clock, max_user_delay=self.max_user_delay
        )
        self.secure_cookies = self.public_origin.lower().startswith("https://")
        self._key = self.secret.encode() if self.secret else secrets.token_bytes(32)
        self._gate = asyncio.Semaphore(max(1, self.max_verifying))
        self._waiting = 0

    # -- passwords: a bounded number of argon2 runs, each in a thread ------------------------

    async def _in_gate(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._waiting >= self.max_verifying + self.max_waiting:
            raise Busy()
        self._waiting += 1
        try:
            async with self._gate:
                return await asyncio.to_thread(fn, *args)
        finally:
            self._waiting -= 1

    async def verify_password(self, stored_hash: str | None, password: str) -> bool:
        """argon2 check off the event loop. Raises Busy when too many are waiting."""
        return bool(await self._in_gate(self.passwords.verify, stored_hash, password))

    async def hash_password(self, password: str) -> str:
        """argon2 hash off the event loop.

        Raises:
            InvalidInput: empty or absurdly long.
            Busy: too many checks waiting.
        """
        check_password(password)
        return str(await self._in_gate(self.passwords.hash, password))

    # -- sessions -----------------------------------------------------------------------

    def stored_key(self, token: str) -> str:
        """What the database holds for a token: an HMAC, so a stolen copy logs nobody in."""
        return hmac.new(self._key, token.encode(), "sha256").hexdigest()

    async def save(self, session: Session) -> None:
        """Keep the session across restarts of the service."""
        if self.persist is None:
            return
        from crm_lookup.sessions import StoredSession

        user = session.user
        await self.persist.save(
            StoredSession(
                self.stored_key(session.token),
                user.username,
                user.role.value,
                user.agent_id,
                session.csrf,
                session.expires,
            )
        )

    async def restore(self, request: web.Request) -> Session | None:
        """The request's session, if the users table still backs it.

        With a store, every request re-reads the session joined to its user: a session
        whose user was disabled, deleted or given a new password (here, by the CLI or by
        another process) is gone, and so is one restored after a restart for such a user.
        """
        session = self.session_for(request)
        token = request.cookies.get(SESSION_COOKIE)
        if not token or self.persist is None:
            return session
        stored = await self.persist.get(self.stored_key(token), self.clock())
        if stored is None:
            self.drop(token)
            return None
        try:
            user = User(stored.username, Role.parse(stored.role), stored.agent_id)
        except InvalidInput:
            return None
        if session is None:
            session = Session(token, user, stored.csrf, stored.expires)
            self.sessions[token] = session
        else:
            session.user = user  # the stored spelling, role and agent id win
        return session

    async def ended_among(self, tokens: Collection[str]) -> list[str]:
        """Which of these (in-memory) sessions the store no longer backs; they are dropped.

        Lets the websocket hub close sockets of users changed by another process.
        """
        if self.persist is None or not tokens:
            return []
        keys = {self.stored_key(t): t for t in tokens}
        live = await self.persist.live_keys(list(keys), self.clock())
        ended = [token for key, token in keys.items() if key not in live]
        for token in ended:
            self.drop(token)
        return ended

    async def forget(self, token: str) -> None:
        """End a session here and in the database (logout, session fixation)."""
        self.drop(token)
        if self.persist is not None:
            await self.persist.delete(self.stored_key(token))

    def create_session(self, user: User) -> Session:
        session = Session(
            token=secrets.token_urlsafe(32),
            user=user,
            csrf=secrets.token_urlsafe(32),
            expires=self.clock() + self.max_age,
        )
        self.sessions[session.token] = session
        return session

    def session_for(self, request: web.Request) -> Session | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        session = self.sessions.get(token)
        if session is None:
            return None
        if session.expires <= self.clock():
            del self.sessions[token]
            return None
        return session

    def drop(self, token: str) -> None:
        self.sessions.pop(token, None)

    def drop_user(self, username: str) -> None:
        """Forget every in-memory session of ``username`` (any spelling)."""
        name = username.lower()
        for token in [t for t, s in self.sessions.items() if s.user.username.lower() == name]:
            del self.sessions[token]

    def set_cookie(self, response: web.StreamResponse, session: Session) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            session.token,
            max_age=self.max_age,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=self.secure_cookies,
        )

    def clear_cookie(self, response: web.StreamResponse) -> None:
        response.del_cookie(SESSION_COOKIE, path="/")

    def origin_ok(self, request: web.Request) -> bool:
        """True when the request carries no Origin (not a browser) or the public origin."""
        origin = request.headers.get("Origin")
        return origin is None or origin.rstrip("/") == self.public_origin.rstrip("/")

    # -- login attempts -----------------------------------------------------------------

    def admit_login(self, request: web.Request, username: str) -> LoginAttempt:
        """Count this attempt before its password is checked; see :class:`LoginGuard`.

        Raises:
            TooManyAttempts: this address is at its limit, or the user's delay runs.
        """
        address = client_address(request)  # the forwarded client's behind a trusted proxy
        return self.guard.admit(f"ip:{address}", f"user:{username.lower()}")


def same_token(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


async def check_csrf(request: web.Request, session: Session) -> None:
    """Raises CsrfRejected unless the request proves it comes from our own page."""
    auth = request.app[AUTH]
    if not auth.origin_ok(request):
        raise CsrfRejected("cross-origin request refused")
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if not same_token(token, session.csrf):
        raise CsrfRejected("missing or wrong CSRF token")


def require(*roles: Role, agent: bool = False) -> Callable[[Handler], Handler]:
    """Handler decorator: a live session, the CSRF token on unsafe methods, one of ``roles``.

    Args:
        roles: the roles allowed; none given means any logged-in user.
        agent: the user must also have an agent id (a phone) to act with.

    The check order is 401 (no session), 403 CSRF, 403 role.
    """
    allowed = frozenset(roles) or ALL_ROLES

    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            session = current_session(request)
            if request.method in UNSAFE_METHODS:
                await check_csrf(request, session)
            if session.user.role not in allowed:
                raise PermissionDenied(
                    f"role {session.user.role.value} may not {request.method} {request.path}"
                )
            if agent and not session.user.agent_id:
                raise PermissionDenied("this user has no agent id (no phone to act with)")
            return await handler(request)

        guarded.__name__ = handler.__name__
        guarded.__doc__ = handler.__doc__
        guarded.allowed_roles = allowed  # type: ignore[attr-defined]
        return guarded

    return wrap


def current_session(request: web.Request) -> Session:
    """The request's session. Raises NotAuthenticated when there is none."""
    session: Session | None = request.get(SESSION)
    if session is None:
        raise NotAuthenticated("log in first")
    return session


SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
        "object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no-referrer would make Chromium send Origin: null
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Adds CSP, frame denial, nosniff and referrer policy to every response (errors too)."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(SECURITY_HEADERS)
        raise
    if not response.prepared:
        response.headers.update(SECURITY_HEADERS)
        if request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
    return response
