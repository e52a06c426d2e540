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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import argon2
from aiohttp import web

from agent_console.keys import AUTH, SESSION
from config.errors import InvalidInput, PermissionDenied

SESSION_COOKIE = "sb_session"
LOGIN_CSRF_COOKIE = "sb_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
USERNAME_MAX = 64
PASSWORD_MAX = 1024

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
    """argon2id hashing. Verification runs in a thread so a login never stalls the loop."""

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

    async def averify(self, stored_hash: str | None, password: str) -> bool:
        return await asyncio.to_thread(self.verify, stored_hash, password)


def check_password(password: str) -> None:
    """Raises InvalidInput for an empty or absurdly long password."""
    if not password or len(password) > PASSWORD_MAX:
        raise InvalidInput(f"password must be 1..{PASSWORD_MAX} characters", field="password")


NEW_PASSWORD_MIN = 8


def check_new_password(password: str) -> None:
    """A password being set: also at least ``NEW_PASSWORD_MIN`` characters.

    Raises:
        InvalidInput: too short, empty or absurdly long.
    """
    check_password(password)
    if len(password) < NEW_PASSWORD_MIN:
        raise InvalidInput(
            f"the password needs at least {NEW_PASSWORD_MIN} characters", field="password"
        )


def check_username(username: str) -> None:
    """Raises InvalidInput unless 1..64 characters of letters, digits, ``._-@``."""
    ok = 0 < len(username) <= USERNAME_MAX and all(c.isalnum() or c in "._-@" for c in username)
    if not ok or not username.isascii():
        raise InvalidInput(
            "username must be 1..64 characters of letters, digits and . _ - @", field="username"
        )


class RateLimiter:
    """Sliding window: at most ``limit`` failures per key per ``window`` seconds.

    Only failures are recorded, so a shift of agents behind one NAT address logging in
    at 9:00 is never refused, while guessing is (per address and per username)."""

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

    def record(self, *keys: str) -> None:
        """Count one failure against every key."""
        now = self._clock()
        for key in keys:
            self._hits.setdefault(key, deque()).append(now)
        if len(self._hits) > 10_000:  # forget idle keys so a scan cannot grow memory
            self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window}


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

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.login_limit, 60.0, self.clock)
        self.secure_cookies = self.public_origin.lower().startswith("https://")
        self._key = self.secret.encode() if self.secret else secrets.token_bytes(32)

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
        """The request's session from memory or, after a restart, from the database."""
        session = self.session_for(request)
        token = request.cookies.get(SESSION_COOKIE)
        if session is not None or not token or self.persist is None:
            return session
        stored = await self.persist.get(self.stored_key(token), self.clock())
        if stored is None:
            return None
        try:
            role = Role.parse(stored.role)
        except InvalidInput:
            return None
        session = Session(
            token, User(stored.username, role, stored.agent_id), stored.csrf, stored.expires
        )
        self.sessions[token] = session
        return session

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
        for token in [t for t, s in self.sessions.items() if s.user.username == username]:
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

    @staticmethod
    def _login_keys(request: web.Request, username: str) -> tuple[str, str]:
        return f"ip:{request.remote or '-'}", f"user:{username.lower()}"

    def check_login_rate(self, request: web.Request, username: str) -> None:
        """Raises TooManyAttempts when this address or this username failed too often."""
        self.limiter.check(*self._login_keys(request, username))

    def login_failed(self, request: web.Request, username: str) -> None:
        self.limiter.record(*self._login_keys(request, username))


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
