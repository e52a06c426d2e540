"""Wiring of a cluster node: ``switchboard run`` with ``cluster.enabled = true``.

The store, the directory and the console app live as long as the process; the call
center and its AMI connection are built fresh for each leadership term by the single-node
wiring itself (:func:`_start_term`) and stopped when the term ends.
"""

from __future__ import annotations

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
from crm_lookup.store import Store
from routing.acd.config import load_queue_file
from switchboard.cluster.node import ClusterNode, Term
from switchboard.service import build_service, directory_of, open_settings_store

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
    store = await open_settings_store(settings, dsn)
    directory = directory_of(settings, store)

    async def start_term() -> Term:
        return await _start_term(settings, clock)

    node = ClusterNode(settings, dsn, start_term=start_term, clock=clock)
    app = init_app(settings, store=store, center=node.center)
    node.on_resync = app[HUB].resync_all
    service = ClusterService(settings, store, directory, node, app)
    app.cleanup_ctx.insert(0, _store_ctx(service))
    app.cleanup_ctx.append(_node_ctx(service))
    return service


async def _start_term(settings: Settings, clock: Callable[[], float]) -> Term:
    """A fresh call center for a new term, built and started by the very code of a
    single-node ``switchboard run``: ``switchboard.service.build_service`` and its cleanup
    contexts (its own store pool, the AMI connection(s) with retry, the call center and
    its resync), only without an HTTP site; its console app is never served. So a new
    leader starts exactly as a restarted service does, and whatever that wiring becomes
    (several PBXs...) a leader gets too.
    """
    term = await build_service(settings, clock=clock)
    term.app.freeze()
    try:
        await term.app.startup()
    except BaseException:
        # Lost the lock while starting (cancelled), or the start failed: nothing of this
        # term may keep running. cleanup() undoes only the contexts that started.
        with contextlib.suppress(Exception):
            await term.app.cleanup()
        raise

    async def stop() -> None:
        # The center stops taking events first, writes what is pending, then AMI closes
        # and the term's store pool (docs/ARCHITECTURE.md "Restart and takeover").
        await term.app.shutdown()
        await term.app.cleanup()

    return term.center, stop


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
