"""Mail out: an agent's reply and a chat's transcript through the SMTP relay (aiosmtplib).

Theory of operation: :class:`MailSender` is the desk's ``transports["email"]``. For a
reply, :meth:`MailSender.deliver` looks up the conversation's thread in the index
(``store.mail``): the customer's latest message is the one answered (``In-Reply-To``),
its chain plus it the ``References``; the pure :func:`routing.mail_message.compose_reply`
builds the message under the Message-ID :meth:`MailSender.prepare` gave it (the desk
stores the reply with it before it is sent); the relay takes it; the Message-ID goes
into the index against the conversation (so the customer's answer to it threads back)
and is returned for the message's meta. A reply sent again after a crash keeps its id,
and one the index already has as sent is not sent twice. A temporary failure (no
connection, a 4xx reply) is retried with exponential backoff; a permanent one (5xx) fails
at once with :class:`MailDeliveryFailed` saying which, and the desk keeps the reply
marked failed.
Passwords come from the settings (the environment only); no log line has one, nor a
message body.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import aiosmtplib

from config.errors import ExternalServiceError, InvalidInput
from config.settings import EmailSettings
from crm_lookup.mail_store import MailEntry
from routing.mail_message import (
    QuotedMessage,
    compose_reply,
    compose_transcript,
    new_message_id,
)

log = logging.getLogger(__name__)


class MailDeliveryFailed(ExternalServiceError):
    """The relay refused the message (``permanent``) or could not be reached in the
    retries allowed."""

    def __init__(self, message: str, *, permanent: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code


def mail_domain(settings: EmailSettings) -> str:
    return settings.domain or settings.from_address.rpartition("@")[2] or "localhost"


class MailSender:
    """Replies and transcripts out through ``settings.smtp_host``.

    Args:
        settings: the ``[email]`` section.
        mail: ``store.mail`` (the threading index).
        history: ``desk.messages`` — for quoting the customer's last message (optional).
        tls_context: for the relay's certificate (default: the system's trust store).
        sleep: how the backoff waits (tests pass a fast one).
    """

    def __init__(
        self,
        settings: EmailSettings,
        mail: Any,
        *,
        history: Callable[..., Awaitable[list[dict[str, Any]]]] | None = None,
        tls_context: ssl.SSLContext | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff: float = 1.0,
    ) -> None:
        self.settings = settings
        self.mail = mail
        self.history = history
        self.tls_context = tls_context
        self.sleep = sleep
        self.backoff = backoff
        self.domain = mail_domain(settings)

    async def prepare(
        self, conversation: Mapping[str, Any], message: Mapping[str, Any]
    ) -> dict[str, Any]:
        """What the desk stores with a reply before it is sent: its Message-ID, so a
        send repeated after a crash is the same message (the index and the customer's
        mail program know it by that id)."""
        return {"message_id": new_message_id(self.domain)}

    async def deliver(
        self, conversation: Mapping[str, Any], message: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Send an agent's reply in the conversation's thread (the desk's transport),
        under the Message-ID in its meta (from :meth:`prepare`; a new one without).
        Idempotent: a Message-ID already indexed as sent is not sent again.

        Returns:
            ``{"message_id": "<...>"}`` for the message's meta.

        Raises:
            InvalidInput: the conversation has no email address to answer.
            MailDeliveryFailed: refused, or the relay unreachable through the retries.
        """
        to = str((conversation.get("party") or {}).get("email") or "")
        if not to:
            raise InvalidInput("this conversation has no email address to reply to", field="party")
        key = str(conversation["key"])
        wanted = str((message.get("meta") or {}).get("message_id") or "")
        if wanted:
            known = await self.mail.get(wanted)
            if known is not None and known.direction == "out":
                log.info("reply already sent", extra={"fields": {"message_id": wanted}})
                return {"message_id": wanted}
        parent = await self.mail.latest(key)
        quoted: list[QuotedMessage] = []
        if self.settings.quote_thread and self.history is not None:
            quoted = await self._last_customer_message(key, conversation)
        msg = compose_reply(
            from_addr=self.settings.from_address,
            from_name=str(message.get("name") or self.settings.from_name or ""),
            to=to,
            subject=str(conversation.get("subject") or (parent.subject if parent else "")),
            body=str(message["text"]),
            domain=self.domain,
            in_reply_to=parent.message_id if parent is not None else "",
            references=parent.references if parent is not None else (),
            quoted=quoted,
            message_id=wanted,
        )
        await self.send(msg)
        message_id = str(msg["Message-ID"])
        await self.mail.record(
            MailEntry(
                message_id,
                key,
                "out",
                sender=self.settings.from_address,
                recipient=to,
                subject=str(msg["Subject"]),
                in_reply_to=str(msg["In-Reply-To"] or ""),
                references=tuple(str(msg["References"] or "").split()),
            )
        )
        return {"message_id": message_id}

    async def _last_customer_message(
        self, key: str, conversation: Mapping[str, Any]
    ) -> list[QuotedMessage]:
        assert self.history is not None
        messages = await self.history(key, 0, 500)
        for m in reversed(messages):
            if m.get("sender") == "customer":
                who = str(m.get("name") or (conversation.get("party") or {}).get("email") or "")
                at = datetime.fromtimestamp(float(m.get("at") or 0), UTC)
                return [QuotedMessage(who, at, str(m.get("text") or ""))]
        return []

    async def send_transcript(
        self,
        to: str,
        conversation: Mapping[str, Any],
        messages: Sequence[Mapping[str, Any]],
    ) -> str:
        """Mail a conversation's transcript (the chat's "send me the transcript"); returns
        its Message-ID. Marked ``Auto-Submitted: auto-generated``.

        Raises:
            InvalidInput: a bad address. MailDeliveryFailed: as :meth:`deliver`.
        """
        lines = [
            (
                str(m.get("name") or m.get("sender") or ""),
                datetime.fromtimestamp(float(m.get("at") or 0), UTC),
                str(m.get("text") or ""),
            )
            for m in messages
        ]
        subject = str(conversation.get("subject") or "") or "Your conversation"
        msg = compose_transcript(
            from_addr=self.settings.from_address,
            from_name=self.settings.from_name,
            to=to,
            subject=f"Transcript: {subject}",
            lines=lines,
            domain=self.domain,
        )
        await self.send(msg)
        message_id = str(msg["Message-ID"])
        await self.mail.record(
            MailEntry(
                message_id,
                str(conversation.get("key") or ""),
                "out",
                kind="mail",
                sender=self.settings.from_address,
                recipient=to,
                subject=str(msg["Subject"]),
                reason="transcript",
            )
        )
        return message_id

    async def send(self, msg: EmailMessage) -> None:
        """Hand one message to the relay, retrying temporary failures with backoff."""
        s = self.settings
        attempts = s.smtp_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                await aiosmtplib.send(
                    msg,
                    hostname=s.smtp_host,
                    port=s.smtp_port,
                    username=s.smtp_user or None,
                    password=(s.smtp_password or None) if s.smtp_user else None,
                    use_tls=s.smtp_tls == "tls",
                    start_tls=s.smtp_tls == "starttls",
                    tls_context=self.tls_context,
                    timeout=s.smtp_timeout,
                )
                log.info(
                    "mail sent",
                    extra={"fields": {"message_id": str(msg["Message-ID"]), "attempt": attempt}},
                )
                return
            except aiosmtplib.SMTPAuthenticationError as exc:
                # never retried, never echoed beyond the code: a wrong password stays wrong
                raise MailDeliveryFailed(
                    f"the relay refused our login ({exc.code})", permanent=True, code=exc.code
                ) from None
            except aiosmtplib.SMTPRecipientsRefused as exc:
                codes = [r.code for r in exc.recipients]
                if any(c < 500 for c in codes) and attempt < attempts:
                    await self._wait(attempt, f"recipient deferred {codes}")
                    continue
                raise MailDeliveryFailed(
                    f"the relay refused the recipient ({', '.join(map(str, codes))})",
                    permanent=all(c >= 500 for c in codes),
                    code=codes[0] if codes else None,
                ) from None
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code >= 500:
                    raise MailDeliveryFailed(
                        f"the relay refused the message ({exc.code} {exc.message[:200]})",
                        permanent=True,
                        code=exc.code,
                    ) from None
                if attempt >= attempts:
                    raise MailDeliveryFailed(
                        f"the relay kept deferring the message ({exc.code})",
                        permanent=False,
                        code=exc.code,
                    ) from None
                await self._wait(attempt, f"deferred {exc.code}")
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                if attempt >= attempts:
                    raise MailDeliveryFailed(
                        f"the relay {s.smtp_host}:{s.smtp_port} could not be reached"
                        f" ({type(exc).__name__})",
                        permanent=False,
                    ) from None
                await self._wait(attempt, type(exc).__name__)

    async def _wait(self, attempt: int, why: str) -> None:
        delay = min(60.0, self.backoff * 2 ** (attempt - 1))
        log.warning(
            "mail relay failed, retrying",
            extra={"fields": {"why": why, "attempt": attempt, "retry_in": delay}},
        )
        await self.sleep(delay)
