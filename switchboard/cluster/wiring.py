"""Wiring of a cluster node: ``switchboard run`` with ``cluster.enabled = true``.

Like ``switchboard.service.build_service``, but the call center and its AMI connection
are not built once: each leadership term builds them fresh (:func:`_start_term`), exactly
as a service start would, and stops them when the term ends. The store, the directory and
the console app live as long as the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from aiohttp import web

from agent_console.app import init_app
from agent_console.keys import HUB
from config.errors import ConfigError
from config.settings import Settings
from crm_lookup.directory import Directory
from crm_lookup.external import ExternalCrm
from crm_lookup.reports import build_report
from crm_lookup.store import Store, open_store
from routing.acd.config import load_queue_file
from routing.acd.engine import Acd
from routing.acd.model import AcdSettings
from routing.center import CallCenter
from routing.contacts import ContactRecorder
from routing.ivr.script import ScriptLibrary
from switchboard.cluster.node import ClusterNode, Term
from switchboard.service import connect_with_retry
from telephony.ami import AmiClient

NODE_NAME = re.compile(r"^[a-z0-9_]{1,32}$")


@dataclass
class ClusterService:
    settings: Settings
    store: Store
    directory: Directory
    node: ClusterNode
    app: web.Application


def cluster_settings(settings: Settings) -> Settings:
    """The settings with ``cluster.node`` filled in, checked for a cluster.

    Raises:
        ConfigError: no ``postgresql://`` database.url, or a node name that is not
            letters, digits and ``_``.
    """
    if settings.database_url().scheme != "postgresql":
        raise ConfigError(
            "settings",
            "database.url",
            "cluster.enabled needs the nodes' shared PostgreSQL: postgresql://user@host/db",
        )
    node = settings.cluster.node or re.sub(r"[^a-z0-9_]", "_", socket.gethostname().lower())
    if not NODE_NAME.match(node):
        raise ConfigError(
            "settings", "cluster.node", "1-32 lower-case letters, digits or _ (unique per node)"
        )
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", settings.cluster.channel):
        raise ConfigError("settings", "cluster.channel", "a lower-case identifier, at most 41")
    return dataclasses.replace(settings, cluster=dataclasses.replace(settings.cluster, node=node))


async def build_cluster_service(
    settings: Settings, *, clock: Callable[[], float] = time.time
) -> ClusterService:
    """Open the shared store and assemble a node; nothing routes until it is elected.

    Raises:
        ConfigError: see :func:`cluster_settings`; the database cannot be reached.
    """
    settings = cluster_settings(settings)
    load_queue_file(settings.path(settings.routing.queues_file))  # a bad file stops start-up
    dsn = settings.database_url().dsn
    store = await open_store(
        dsn,
        settings.crm.default_region,
        pool_min_size=settings.database.pool_min_size,
        pool_max_size=settings.database.pool_max_size,
    )
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
    directory = Directory(store, external)

    async def start_term() -> Term:
        return await _start_term(settings, store, directory, clock)

    node = ClusterNode(settings, dsn, start_term=start_term, clock=clock)
    app = init_app(settings, store=store, center=node.center)
    node.on_resync = app[HUB].resync_all
    service = ClusterService(settings, store, directory, node, app)
    app.cleanup_ctx.insert(0, _store_ctx(service))
    app.cleanup_ctx.append(_node_ctx(service))
    return service


async def _start_term(
    settings: Settings, store: Store, directory: Directory, clock: Callable[[], float]
) -> Term:
    """A fresh call center and AMI connection, started as ``switchboard run`` starts them.

    This repeats ``switchboard.service.build_service`` and its ``_center_ctx`` (kept apart
    so that branch's wiring could change without conflicts here); when the two change,
    both must: the better end state is one ``build_center`` both call.
    """
    queue_file = load_queue_file(settings.path(settings.routing.queues_file))
    ami = AmiClient(
        settings.ami.host,
        settings.ami.port,
        settings.ami.username,
        settings.ami.secret,
        auth=settings.ami.auth,
        ping_interval=settings.ami.ping_interval,
        ping_timeout=settings.ami.ping_timeout,
        connect_timeout=settings.ami.connect_timeout,
        reconnect_min=settings.ami.reconnect_min,
        reconnect_max=settings.ami.reconnect_max,
        max_message_bytes=settings.ami.max_message_bytes,
    )
    acd = Acd(
        queue_file.queues,
        queue_file.agents,
        AcdSettings.from_routing(settings.routing),
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
        short_abandon_seconds=settings.routing.short_abandon_seconds,
    )
    center = CallCenter(
        settings,
        ami=ami,
        acd=acd,
        scripts=scripts,
        recorder=recorder,
        directory=directory,
        supervisors=queue_file.supervisors,
        clock=clock,
    )
    now = time.time()
    today = await build_report(store, now - now % 86400, now + 1, "interval")
    center.recorder.seed_intervals(today)
    try:
        await center.start()
    except BaseException:
        # Lost the lock while starting (cancelled), or the start failed: nothing of this
        # term may keep running.
        with contextlib.suppress(Exception):
            await center.stop()
        raise
    connector = asyncio.get_running_loop().create_task(
        connect_with_retry(ami, settings), name="ami-first-connect"
    )

    async def stop() -> None:
        connector.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await connector
        # Both at once: the center stops taking events at its first step, and the AMI
        # link must go even when the center's last writes wait on a database that is gone.
        await asyncio.gather(center.stop(), ami.close(), return_exceptions=True)

    return center, stop


def _store_ctx(service: ClusterService) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        await service.store.sessions.purge(time.time())
        yield
        await service.directory.close()
        await service.store.close()

    return ctx


def _node_ctx(service: ClusterService) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        await service.node.start()
        yield
        await service.node.stop()

    return ctx
