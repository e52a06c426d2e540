"""Wiring: settings in, a running contact center with its web console out.

``build_service`` opens the store and assembles the layers; ``serve`` runs the aiohttp
application whose cleanup contexts own the long-lived resources: the database (closed
last) and the AMI connections (one per PBX, each connecting and retrying on its own)
with the call center on top of them (stopped first).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from agent_console.app import init_app
from agent_console.keys import RECORDINGS, SLA_POLICY
from config.errors import AuthenticationFailed, ConnectionLost
from config.settings import AmiSettings, Settings
from crm_lookup.directory import Directory
from crm_lookup.external import ExternalCrm
from crm_lookup.reports import build_report
from crm_lookup.store import Store, open_store
from routing.acd.config import load_queue_file
from routing.acd.engine import Acd
from routing.acd.model import AcdSettings
from routing.alerting import Alerting
from routing.case_sla import CaseSla
from routing.center import CallCenter
from routing.contacts import ContactRecorder
from routing.digital import DigitalDesk
from routing.ivr.script import ScriptLibrary
from routing.mail_channel import EmailChannel
from routing.pbx import Pbxs
from routing.webhook import Webhook
from switchboard.collector import freeze_start_up_heap
from switchboard.recording_files import recordings_ctx
from telephony.ami import AmiClient

log = logging.getLogger(__name__)


@dataclass
class Service:
    settings: Settings
    store: Store
    directory: Directory
    ami: AmiClient  # the first PBX's
    center: CallCenter
    app: web.Application
    #: every PBX's AMI client by name, the first first
    clients: dict[str, AmiClient]
    #: the email channel ([email] enabled): listener, IMAP poller, the desk's sender
    email: EmailChannel | None = None


async def open_settings_store(settings: Settings, target: str) -> Store:
    """The store at ``target`` (a path or URL) with the region and pool sizes of ``settings``."""
    return await open_store(
        target,
        settings.crm.default_region,
        pool_min_size=settings.database.pool_min_size,
        pool_max_size=settings.database.pool_max_size,
    )


def directory_of(settings: Settings, store: Store) -> Directory:
    """The CRM directory over ``store``, with the external CRM adapter when one is set."""
    external = None
    if settings.crm.adapter == "http":
        external = ExternalCrm(
            settings.crm.url_template,
            auth_header=settings.crm.auth_header,
            timeout_ms=settings.crm.timeout_ms,
            cache_ttl=settings.crm.cache_ttl,
            breaker_failures=settings.crm.breaker_failures,
            breaker_reset=settings.crm.breaker_reset,
        )
    return Directory(store, external)


async def build_service(settings: Settings, *, clock: Callable[[], float] = time.time) -> Service:
    """Open the store and assemble every layer; nothing connects to Asterisk yet.

    Raises:
        ConfigError / InvalidInput: a bad settings value or queue file.
    """
    queue_file = load_queue_file(settings.path(settings.routing.queues_file))
    store = await open_settings_store(settings, settings.database_target())
    directory = directory_of(settings, store)
    clients = {pbx.name: ami_client(pbx) for pbx in settings.pbxs}
    ami = clients[settings.ami.name]
    pbxs = Pbxs(settings, clients)
    agents = pbxs.place_agents(queue_file.agents)
    reach = pbxs.reach()
    acd = Acd(
        queue_file.queues,
        agents,
        dataclasses.replace(AcdSettings.from_routing(settings.routing), reach=reach),
        now=clock(),
    )
    scripts = ScriptLibrary(
        settings.path(settings.ivr.scripts_dir),
        settings.path(settings.ivr.prompts_dir),
        default_language=settings.ivr.default_language,
        entries=settings.ivr.entries,
    )
    recorder = ContactRecorder(
        store.contacts,
        agent_states=store.agent_states,
        drafts=store.drafts,
        cases=store.cases,
        short_abandon_seconds=settings.routing.short_abandon_seconds,
        concurrency=store.concurrent_writes,
        batch=store.batch,
        batch_size=store.write_batch,
    )
    center = CallCenter(
        settings,
        ami=ami,
        acd=acd,
        scripts=scripts,
        recorder=recorder,
        directory=directory,
        supervisors=queue_file.supervisors,
        thresholds=queue_file.thresholds,
        recording=queue_file.recording,
        queue_alerts=queue_file.alerts,
        clock=clock,
        pbx_clients={name: client for name, client in clients.items() if client is not ami},
    )
    # chat and email on the same ACD, history and listeners (docs/ARCHITECTURE.md
    # "Digital contacts"); the channels' shells (web chat, mail) talk to it through
    # the console port, and set their transports on it
    center.digital = DigitalDesk(center, store, directory, clock=clock)
    hook = settings.alerts
    webhook = (
        Webhook(
            hook.webhook_url,
            hook.webhook_secret,
            timeout=hook.webhook_timeout,
            retries=hook.webhook_retries,
            max_queue=hook.webhook_queue,
        )
        if hook.webhook_url
        else None
    )
    center.alerting = Alerting(
        center,
        settings.alerts,
        alert_log=store.alerts,
        notify=webhook.notify if webhook is not None else None,
        clock=clock,
    )
    center.alerting.webhook = webhook
    app = init_app(settings, store=store, center=center)
    center.case_sla = CaseSla(
        store,
        app[SLA_POLICY],
        center.alerting,
        interval=settings.cases.check_interval,
        clock=clock,
    )
    service = Service(settings, store, directory, ami, center, app, clients)
    # cleanup_ctx runs in order at start-up and in reverse at shutdown: the store is
    # closed last, after the call center has written its last milestones.
    app.cleanup_ctx.insert(0, _store_ctx(service))
    app.cleanup_ctx.append(_center_ctx(service))
    app.cleanup_ctx.append(recordings_ctx(settings.recording, app[RECORDINGS]))
    app.cleanup_ctx.append(_alerting_ctx(service))  # after the center: it stops first
    if settings.email.enabled:
        service.email = EmailChannel(
            settings.email,
            store,
            center.digital,
            attachments_root=settings.path(settings.email.attachments_dir),
        )
        app.cleanup_ctx.append(_email_ctx(service.email))  # mail in only once the desk is up
    return service


def _email_ctx(channel: EmailChannel) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        await channel.start()
        yield
        await channel.stop()

    return ctx


def ami_client(pbx: AmiSettings) -> AmiClient:
    """The AMI client of one PBX (not connected yet)."""
    return AmiClient(
        pbx.host,
        pbx.port,
        pbx.username,
        pbx.secret,
        auth=pbx.auth,
        ping_interval=pbx.ping_interval,
        ping_timeout=pbx.ping_timeout,
        connect_timeout=pbx.connect_timeout,
        reconnect_min=pbx.reconnect_min,
        reconnect_max=pbx.reconnect_max,
        max_message_bytes=pbx.max_message_bytes,
    )


def _store_ctx(service: Service) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        await service.store.sessions.purge(time.time())
        yield
        await service.directory.close()
        await service.store.close()

    return ctx


def _center_ctx(service: Service) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        now = time.time()
        today = await build_report(service.store, now - now % 86400, now + 1, "interval")
        service.center.recorder.seed_intervals(today)
        await service.center.start()
        # the conversations a stopped service left open: back in line or with their agent
        await service.center.digital.restore()
        loop = asyncio.get_running_loop()
        # One connector per PBX: a PBX that is down delays nobody else's calls.
        connectors = [
            loop.create_task(
                connect_with_retry(service.clients[pbx.name], pbx), name=f"ami-connect-{pbx.name}"
            )
            for pbx in service.settings.pbxs
        ]
        yield
        for connector in connectors:
            connector.cancel()
        for connector in connectors:
            with contextlib.suppress(asyncio.CancelledError):
                await connector
        await service.center.stop()
        for client in service.clients.values():
            await client.close()

    return ctx


def _alerting_ctx(service: Service) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        alerting: Alerting = service.center.alerting
        webhook: Webhook | None = alerting.webhook
        if webhook is not None:
            webhook.start()
        alerting.start()
        service.center.case_sla.start()
        yield
        await service.center.case_sla.stop()
        await alerting.stop()
        if webhook is not None:
            await webhook.close()

    return ctx


async def connect_with_retry(ami: AmiClient, pbx: AmiSettings) -> None:
    """The first connection to one PBX, retried with backoff: the console comes up
    without Asterisk.

    After it succeeds the client repairs later drops itself. A refused login is retried
    too (slowly), since the fix is on the Asterisk side and needs no restart here.
    """
    delay = pbx.reconnect_min
    fields = {"pbx": pbx.name, "host": pbx.host, "port": pbx.port}
    while True:
        try:
            await ami.connect()
            log.info("AMI connected", extra={"fields": fields})
            return
        except AuthenticationFailed:
            log.error(
                "AMI login refused; check the PBX's username / secret", extra={"fields": fields}
            )
            delay = pbx.reconnect_max
        except (ConnectionLost, OSError, TimeoutError) as exc:
            log.warning("AMI not reachable", extra={"fields": {**fields, "error": exc}})
        await asyncio.sleep(delay * (0.5 + random.random()))
        delay = min(pbx.reconnect_max, delay * 2)


async def serve(
    service: Service | Any, *, on_started: Callable[[], Awaitable[None]] | None = None
) -> None:
    """Run the web app until SIGINT/SIGTERM (``service``: anything with ``settings`` and
    ``app``, such as a cluster node's ``ClusterService``)."""
    settings = service.settings
    runner = web.AppRunner(service.app, access_log=None, handle_signals=False)
    await runner.setup()
    # Start-up is done (store open, queue file, scripts and prompts loaded, the center
    # started): keep that heap out of every later full collection.
    freeze_start_up_heap()
    try:
        site = web.TCPSite(runner, settings.http.host, settings.http.port)
        await site.start()
        log.info(
            "console listening",
            extra={"fields": {"url": f"http://{settings.http.host}:{settings.http.port}/"}},
        )
        if on_started is not None:
            await on_started()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
