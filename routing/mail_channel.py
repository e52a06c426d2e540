"""The email channel assembled: sender (the desk's email transport), intake, SMTP listener
and IMAP poller from the ``[email]`` settings (docs/EMAIL.md). The service starts it after
the desk and stops it before the store closes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from pathlib import Path
from typing import Any

from config.settings import EmailSettings
from routing.mail_inbound import ImapPoller, MailIntake, SmtpListener
from routing.mail_outbound import MailSender

log = logging.getLogger(__name__)


class EmailChannel:
    def __init__(
        self,
        settings: EmailSettings,
        store: Any,
        desk: Any,
        *,
        attachments_root: Path,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self.desk = desk
        self._queued: asyncio.Task[int] | None = None
        self.sender = MailSender(
            settings, store.mail, history=desk.messages, tls_context=tls_context
        )
        self.intake = MailIntake(
            settings,
            desk,
            store.mail,
            attachments_root=attachments_root,
            cases=getattr(store, "cases", None),
        )
        self.listener = (
            SmtpListener(self.intake, host=settings.listen_host, port=settings.listen_port)
            if settings.listen
            else None
        )
        self.poller = (
            ImapPoller(settings, self.intake, ssl_context=tls_context)
            if settings.imap_host
            else None
        )
        desk.transports["email"] = self.sender

    async def start(self) -> None:
        # replies a stop left queued (stored, not yet with the relay) go out now, in the
        # background: a relay that is down delays no start-up
        deliver_queued = getattr(self.desk, "deliver_queued", None)
        if deliver_queued is not None:
            self._queued = asyncio.ensure_future(deliver_queued())
            self._queued.add_done_callback(_log_failure)
        if self.listener is not None:
            await self.listener.start()
        if self.poller is not None:
            self.poller.start()
        log.info(
            "email channel up",
            extra={
                "fields": {
                    "listener": self.listener is not None,
                    "imap": self.settings.imap_host or "",
                    "relay": f"{self.settings.smtp_host}:{self.settings.smtp_port}",
                }
            },
        )

    async def stop(self) -> None:
        if self._queued is not None and not self._queued.done():
            self._queued.cancel()  # whatever is left stays queued for the next start
            with contextlib.suppress(asyncio.CancelledError):
                await self._queued
        if self.poller is not None:
            await self.poller.stop()
        if self.listener is not None:
            await self.listener.stop()


def _log_failure(task: asyncio.Task[int]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error(
            "queued replies not delivered at start",
            extra={"fields": {"error": repr(task.exception())[:300]}},
        )
