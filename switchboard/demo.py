"""The embedded default: the service, an in-process PBX simulator, demo data and callers.

Demo agents 1001 (alice) and 1002 (bruno) are for people: log in and take calls. The
other agents are simulated: they go ready, answer on their simulated phones, finish
their wrap-up after a few seconds, and come back from "no answer". Any other not-ready
(a supervisor forcing one, say) they keep until someone sets them ready, as a person would.
Chats and emails come too (switchboard.demo_channels): simulated visitors and senders,
the simulated agents answering theirs; alice and bruno get real ones when ready.

The demo keeps its own database (``--data-dir``, default ``var/demo``), never the
configured one: its users have a published password. The banner says how to point
``report`` and ``crm export-contacts`` at it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent_console.auth import Passwords
from config.settings import Settings
from crm_lookup.demo import DEMO_CUSTOMERS, seed_demo
from crm_lookup.store import Store
from routing.acd.config import load_queue_file
from routing.center import CallCenter
from switchboard.demo_channels import (
    SHOWCASE,
    DemoAgentReplies,
    DemoChannels,
    DemoOutbox,
    Mailbox,
    wrapup_on_open_case,
)
from switchboard.demo_history import seed_history
from switchboard.demo_kb import seed_case_articles, seed_knowledge
from switchboard.demo_paths import DEFAULT_DATA_DIR, DEMO_DATABASE_FILE
from switchboard.demo_quality import seed_evaluations
from switchboard.service import Service, build_service, serve
from telephony.simulator import CallerProfile, PbxSimulator, PhoneBehaviour

log = logging.getLogger(__name__)

DEMO_DID = "5550100"
DEMO_PASSWORD = "switchboard-demo"
HUMAN_AGENTS = {"alice": "1001", "bruno": "1002"}
SUPERVISOR_PHONE = "2001"  # sam's extension: where listen / whisper / barge ring
DEMO_USERS = (
    ("alice", "agent", "1001"),
    ("bruno", "agent", "1002"),
    ("sam", "supervisor", SUPERVISOR_PHONE),
    ("admin", "admin", None),
)


DEMO_MAILBOX = "support@demo.switchboard.example"


def demo_email(settings: Settings, data_dir: Path, listen_port: int, outbox_port: int) -> Any:
    """The demo's ``[email]``: the SMTP listener on loopback for ``DEMO_MAILBOX`` (to the
    support queue), replies through the demo's outbox (``DemoOutbox``, files under
    ``data_dir/outbox``), attachments with its data."""
    return dataclasses.replace(
        settings.email,
        enabled=True,
        from_address=DEMO_MAILBOX,
        from_name="Switchboard demo support",
        mailboxes={DEMO_MAILBOX: "support"},
        listen=True,
        listen_host="127.0.0.1",
        listen_port=listen_port,
        imap_host="",
        smtp_host="127.0.0.1",
        smtp_port=outbox_port,
        smtp_tls="none",
        smtp_user="",
        smtp_retries=1,
        attachments_dir=str(data_dir / "attachments"),
    )


def demo_settings(
    settings: Settings,
    *,
    host: str,
    port: int,
    data_dir: Path,
    ami_port: int,
    secret: str,
    mail_ports: tuple[int, int] | None = None,
) -> Settings:
    """The user's settings with the demo's own AMI, web address, database and secrets;
    with ``mail_ports`` (the listener's, the outbox's) the demo's email channel."""
    entries = dict(settings.ivr.entries)
    entries.setdefault(DEMO_DID, "demo_line")
    if mail_ports is not None:
        settings = dataclasses.replace(settings, email=demo_email(settings, data_dir, *mail_ports))
    return dataclasses.replace(
        settings,
        ami=dataclasses.replace(
            settings.ami, host="127.0.0.1", port=ami_port, secret=secret, auth="md5"
        ),
        http=dataclasses.replace(
            settings.http, host=host, port=port, public_origin=f"http://{host}:{port}"
        ),
        database=dataclasses.replace(
            settings.database, url="", path=str(data_dir / DEMO_DATABASE_FILE)
        ),
        security=dataclasses.replace(settings.security, session_secret=secrets.token_urlsafe(32)),
        ivr=dataclasses.replace(settings.ivr, entries=entries),
        # the demo's queues record (config/queues.yaml); the files stay with its data
        recording=dataclasses.replace(
            settings.recording, dir=str(data_dir / "recordings"), pbx_dir=""
        ),
        # an alert fires when the demo queue backs up (callers waiting with nobody ready,
        # or a long wait); a settings file's own [alerts] thresholds win
        alerts=settings.alerts
        if settings.alerts.no_agent_ready or settings.alerts.longest_wait_seconds
        else dataclasses.replace(
            settings.alerts, no_agent_ready=15, longest_wait_seconds=45, check_interval=2
        ),
    )


async def seed_users(store: Store, passwords: Passwords | None = None) -> None:
    hasher = passwords or Passwords()
    for username, role, agent_id in DEMO_USERS:
        if await store.users.get_by_username(username) is None:
            await store.users.add(username, hasher.hash(DEMO_PASSWORD), role, agent_id)


def demo_callers(rng: random.Random) -> list[CallerProfile]:
    """Callers for Poisson traffic: the demo customers (some VIP) and unknown numbers."""
    phones = [customer.phone for customer in DEMO_CUSTOMERS]
    phones += [f"+1555010{n:04d}" for n in range(10)]  # new callers
    return [
        CallerProfile(
            caller=phone,
            did=DEMO_DID,
            dtmf=(rng.choice("1223"),),
            patience=rng.uniform(60, 240),
            talk_seconds=(20.0, 75.0),
        )
        for phone in phones
    ]


# The one not-ready reason a simulated agent leaves by itself: the ACD sets it after a
# ring nobody answered. Every other reason was chosen (by a supervisor, say) and stays.
NO_ANSWER = "no answer"


class SimulatedAgents:
    """Drives the non-human demo agents through their day."""

    def __init__(
        self,
        center: CallCenter,
        agent_ids: Sequence[str],
        rng: random.Random,
        *,
        time_scale: float = 1.0,
    ) -> None:
        self.center = center
        self.agent_ids = set(agent_ids)
        self.rng = rng
        self.time_scale = time_scale  # tests run the day faster
        self.tasks: set[asyncio.Task[None]] = set()
        center.subscribe(self._on_message)

    async def start(self) -> None:
        for agent_id in sorted(self.agent_ids):
            await self.center.set_agent_state(agent_id, "ready")

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()

    def _later(self, delay: float, action: Any) -> None:
        async def run() -> None:
            await asyncio.sleep(delay * self.time_scale)
            try:
                await action()
            except Exception as exc:  # the agent may have moved on; the demo carries on
                log.debug("simulated agent action skipped: %s", exc)

        task = asyncio.get_running_loop().create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _on_message(self, message: dict[str, Any]) -> None:
        if message.get("type") != "agent_state" or message.get("agent_id") not in self.agent_ids:
            return
        agent_id = message["agent_id"]
        state = message["agent"]["state"]
        if state == "wrap_up":
            self._later(self.rng.uniform(3, 10), lambda: self.center.wrapup_done(agent_id))
        elif state == "not_ready" and message["agent"].get("reason") == NO_ANSWER:
            self._later(
                self.rng.uniform(8, 20), lambda: self.center.set_agent_state(agent_id, "ready")
            )


async def run_demo(
    settings: Settings, *, host: str, port: int, rate: float, data_dir: Path, seed: int | None
) -> None:
    rng = random.Random(seed)
    secret = secrets.token_urlsafe(16)
    sim = PbxSimulator("switchboard", secret, seed=seed)
    data_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before serving
    # where the simulator's MixMonitor writes: there from the start, as on a real host
    (data_dir / "recordings").mkdir(exist_ok=True)
    ami_port = await sim.start("127.0.0.1", 0)
    outbox = DemoOutbox(data_dir / "outbox")
    try:
        mail_ports = (_free_port(), await outbox.start())
        demo = demo_settings(
            settings,
            host=host,
            port=port,
            data_dir=data_dir,
            ami_port=ami_port,
            secret=secret,
            mail_ports=mail_ports,
        )
        service = await build_service(demo)
        try:
            await seed_demo(service.store)
            await seed_users(service.store)
            await seed_evaluations(service.store, demo)
            await seed_knowledge(service.store)  # the knowledge base's articles (once)
            usernames = {agent_id: name for name, _, agent_id in DEMO_USERS if agent_id}
            await seed_case_articles(service.store, DEMO_CUSTOMERS, usernames)
            # five weeks of past contacts and agent states: reports, forecast (once)
            await seed_history(service.store, demo, seed=seed, dialed=DEMO_DID)
        except BaseException:
            # serve() never ran, so its cleanup will not close what build_service opened.
            await service.directory.close()
            await service.store.close()
            raise
        agents = load_queue_file(demo.path(demo.routing.queues_file)).agents
        humans = set(HUMAN_AGENTS.values())
        for agent in agents:
            talk = None if agent.agent_id in humans else (15.0, 60.0)
            mode = "noanswer" if agent.agent_id not in humans and rng.random() < 0.1 else "answer"
            sim.add_phone(
                agent.endpoint, PhoneBehaviour(mode=mode, answer_after=1.5, talk_seconds=talk)
            )
        sim.add_phone(f"PJSIP/{SUPERVISOR_PHONE}", PhoneBehaviour(answer_after=1.0))
        bots = SimulatedAgents(
            service.center, [a.agent_id for a in agents if a.agent_id not in humans], rng
        )
        callers = demo_callers(rng)
        names = {a.agent_id: a.name for a in agents}
        replies = DemoAgentReplies(
            service.center,
            frozenset(a.agent_id for a in agents if a.agent_id not in humans),
            rng,
            wrapup_on_open_case(service.store, names),
            names=names,
        )
        channels = demo_channels(demo, service.center, rng, rate)

        async def started() -> None:
            await _wait_connected(service)
            await bots.start()
            sim.start_traffic(rate, callers)
            replies.start()
            channels.start()
            # the showcase customer calls too: her page shows a call, a chat and an email
            sim.place_call(SHOWCASE.phone, did=DEMO_DID, dtmf=("1",), patience=240.0,
                           talk_seconds=(20.0, 60.0))  # fmt: skip
            print(demo_banner(demo, demo.path(demo.database.path), ami_port), flush=True)

        try:
            await serve(service, on_started=started)
        finally:
            bots.stop()
            replies.stop()
            await channels.stop()
    finally:
        await outbox.stop()
        await sim.stop()


#: the demo's chat topics: each to the queue of the same name (config/queues.yaml)
CHAT_TOPICS = {"sales": "sales", "support": "support", "billing": "billing"}


def demo_channels(settings: Settings, center: Any, rng: random.Random, rate: float) -> DemoChannels:
    """The demo's chats and emails at a gentle rate beside ``rate`` calls a minute: a chat
    for every eight calls, an email for every twelve. Chats come through the visitor
    websocket and emails through the SMTP listener where those are on (``[chat]``,
    ``[email]``), else through the console port's visitor methods."""
    chat = getattr(settings, "chat", None)
    chat_url = ""
    if chat is not None and getattr(chat, "enabled", False):
        chat_url = settings.http.public_origin.replace("http", "ws", 1) + "/chat/ws"
    email = settings.email
    mailbox = None
    if email.enabled and email.listen and email.mailboxes:
        mailbox = Mailbox(email.listen_host, email.listen_port, next(iter(email.mailboxes)))
    return DemoChannels(
        center,
        rng,
        chat_url=chat_url,
        origin=settings.http.public_origin,
        mailbox=mailbox,
        chats_per_minute=rate / 8,
        emails_per_minute=rate / 12,
        chat_queues=dict(CHAT_TOPICS),
        email_queue="support",
    )


def _mail_lines(settings: Settings, database: Path) -> list[str]:
    email = settings.email
    if not (email.enabled and email.listen and email.mailboxes):
        return []
    address = next(iter(email.mailboxes))
    return [
        f"  Email:       mail to {address} by SMTP on {email.listen_host}:{email.listen_port}"
        " reaches the support queue;",
        f"               replies are kept in {Path(database).parent / 'outbox'}",
    ]


def _free_port() -> int:
    """A free loopback port for the demo's SMTP listener (the service binds it)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_connected(service: Service) -> None:
    """Give the first AMI login up to ten seconds before the simulated day starts."""
    for _ in range(100):
        if service.ami.connected:
            return
        await asyncio.sleep(0.1)


def demo_banner(settings: Settings, database: Path, ami_port: int) -> str:
    """What the demo prints once it runs: where to go, who to log in as, where its data is."""
    url = settings.http.public_origin
    today = time.strftime("%Y-%m-%d", time.gmtime())
    lines = [
        "",
        "Switchboard demo is running (Ctrl-C to stop).",
        f"  Console:     {url}/login",
        f"  Agent page:  {url}/agent      Supervisor wallboard: {url}/supervisor",
        f"  Logins (password '{DEMO_PASSWORD}'):",
        "    alice, bruno  agents 1001 and 1002 - press Ready to take calls, chats and emails",
        "    sam           supervisor",
        f"    admin         administrator - console users at {url}/admin",
        f"  PBX simulator AMI on 127.0.0.1:{ami_port} (simulated callers dial {DEMO_DID})",
        f"  Recordings:  {settings.path(settings.recording.dir)} - a contact's page "
        f"({url}/contacts/<id>, linked from the customer's page) plays it",
        *_mail_lines(settings, database),
        f"  Data: {database}; report on it (another terminal):",
        f"    SWITCHBOARD_DATABASE__PATH={database} switchboard report --from {today} --to {today}",
        "",
    ]

    if Path(database) == settings.path(str(DEFAULT_DATA_DIR / DEMO_DATABASE_FILE)):
        lines[-2] = f"    switchboard report --demo --from {today} --to {today}"
    return "\n".join(lines)
