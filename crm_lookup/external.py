"""An external CRM over HTTP/JSON, bounded by a timeout, a cache and a circuit breaker.

The CRM is asked ``GET <url_template with {phone} replaced>`` (the E.164 number,
URL-encoded) with the configured auth header. Accepted answers: a customer object, a
list of them (the first wins, empty means unknown), or ``{"customer": {...}}`` /
``{"customers": [...]}``; 404 means unknown. A customer object needs ``name``; it may
carry ``id``, ``company``, ``tier``, ``language``, ``email``, ``account``, ``tags``
(list or comma-separated) and ``notes``. Anything else is an
:class:`~config.errors.ExternalServiceError`, and so is a timeout, a refused connection
or an open breaker: the directory catches it and uses the local store.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp

from config.errors import ExternalServiceError, InvalidInput
from config.settings import CrmSettings
from crm_lookup.resilience import BreakerState, CircuitBreaker, TtlCache

MAX_BODY = 1 << 20


@dataclass(frozen=True, slots=True)
class ExternalRecord:
    """What the external CRM knows about a caller."""

    name: str
    external_id: str = ""
    company: str = ""
    tier: str = ""
    language: str = ""
    email: str = ""
    account: str = ""
    tags: tuple[str, ...] = ()
    notes: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _text_field(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name, "")
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ExternalServiceError(f"external CRM: field {name!r} is not text")
    return str(value).strip()


def parse_record(payload: Any) -> ExternalRecord | None:
    """Interpret a decoded JSON answer. Raises ExternalServiceError when malformed."""
    if isinstance(payload, dict) and "customer" in payload:
        payload = payload["customer"]
    elif isinstance(payload, dict) and "customers" in payload:
        payload = payload["customers"]
    if payload is None:
        return None
    if isinstance(payload, list):
        if not payload:
            return None
        payload = payload[0]
    if not isinstance(payload, dict):
        raise ExternalServiceError("external CRM: expected a customer object")
    name = _text_field(payload, "name")
    if not name:
        raise ExternalServiceError("external CRM: customer without a name")
    tags_raw = payload.get("tags", [])
    if isinstance(tags_raw, str):
        tags = tuple(t.strip() for t in tags_raw.split(",") if t.strip())
    elif isinstance(tags_raw, list) and all(isinstance(t, str) for t in tags_raw):
        tags = tuple(tags_raw)
    else:
        raise ExternalServiceError("external CRM: tags must be a list of strings")
    return ExternalRecord(
        name=name,
        external_id=_text_field(payload, "id"),
        company=_text_field(payload, "company"),
        tier=_text_field(payload, "tier"),
        language=_text_field(payload, "language").lower(),
        email=_text_field(payload, "email"),
        account=_text_field(payload, "account"),
        tags=tags,
        notes=_text_field(payload, "notes"),
        raw=payload,
    )


def parse_auth_header(value: str) -> dict[str, str]:
    """``"X-Api-Key: abc"`` → that header; a bare value → ``Authorization``.

    Raises:
        InvalidInput: CR or LF in the value (header injection).
    """
    if not value:
        return {}
    if "\r" in value or "\n" in value:
        raise InvalidInput("crm.auth_header must be one line", field="auth_header")
    name, sep, rest = value.partition(":")
    if sep and name.strip() and " " not in name.strip():
        return {name.strip(): rest.strip()}
    return {"Authorization": value.strip()}


class ExternalCrm:
    """Looks callers up in an external CRM without ever waiting past ``timeout_ms``."""

    def __init__(
        self,
        url_template: str,
        *,
        auth_header: str = "",
        timeout_ms: int = 300,
        cache_ttl: float = 60.0,
        breaker_failures: int = 5,
        breaker_reset: float = 30.0,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """
        Raises:
            InvalidInput: the template is not an http(s) URL with ``{phone}``, or the
                timeout is not positive.
        """
        if not url_template.startswith(("http://", "https://")) or "{phone}" not in url_template:
            raise InvalidInput(
                "crm.url_template must be an http(s) URL containing {phone}", field="url_template"
            )
        if timeout_ms <= 0:
            raise InvalidInput("crm.timeout_ms must be positive", field="timeout_ms")
        self.url_template = url_template
        self.headers = parse_auth_header(auth_header)
        self.timeout = timeout_ms / 1000.0
        self.cache: TtlCache[ExternalRecord | None] = TtlCache(cache_ttl)
        self.breaker = CircuitBreaker(breaker_failures, breaker_reset)
        self._session = session
        self._own_session = session is None
        self._clock = clock

    @classmethod
    def from_settings(cls, crm: CrmSettings, **kwargs: Any) -> ExternalCrm:
        return cls(
            crm.url_template,
            auth_header=crm.auth_header,
            timeout_ms=crm.timeout_ms,
            cache_ttl=crm.cache_ttl,
            breaker_failures=crm.breaker_failures,
            breaker_reset=crm.breaker_reset,
            **kwargs,
        )

    @property
    def breaker_state(self) -> BreakerState:
        return self.breaker.state

    def url_for(self, phone: str) -> str:
        return self.url_template.replace("{phone}", quote(phone, safe=""))

    async def lookup_phone(self, phone: str) -> ExternalRecord | None:
        """The external record for an E.164 number, or None if the CRM does not know it.

        Raises:
            ExternalServiceError: timeout, connection failure, HTTP error, malformed
                answer, or the breaker is open.
        """
        now = self._clock()
        hit, cached = self.cache.get(phone, now)
        if hit:
            return cached
        if not self.breaker.allow(now):
            raise ExternalServiceError("external CRM: circuit open after repeated failures")
        try:
            async with asyncio.timeout(self.timeout):
                record = await self._fetch(phone)
        except TimeoutError:
            self.breaker.record_failure(self._clock())
            raise ExternalServiceError(
                f"external CRM: no answer within {int(self.timeout * 1000)} ms"
            ) from None
        except ExternalServiceError:
            self.breaker.record_failure(self._clock())
            raise
        except (aiohttp.ClientError, OSError) as exc:
            self.breaker.record_failure(self._clock())
            raise ExternalServiceError(f"external CRM: {type(exc).__name__}") from None
        self.breaker.record_success()
        self.cache.put(phone, record, self._clock())
        return record

    async def _fetch(self, phone: str) -> ExternalRecord | None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.get(
            self.url_for(phone), headers=self.headers, allow_redirects=False
        ) as resp:
            if resp.status == 404:
                return None
            if resp.status != 200:
                raise ExternalServiceError(f"external CRM: HTTP {resp.status}")
            body = await resp.content.read(MAX_BODY + 1)
            if len(body) > MAX_BODY:
                raise ExternalServiceError("external CRM: answer too large")
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ExternalServiceError("external CRM: answer is not JSON") from None
        return parse_record(payload)

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None
