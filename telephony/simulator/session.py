"""One AMI connection to the simulator: login, event mask, and the actions.

Theory of operation: a session reads bytes, frames actions with
:class:`~.wire.ActionFramer` and handles them one at a time, as an Asterisk manager
session thread does (a failed login holds the session for about a second). Responses are
written straight away; events arrive through :meth:`AmiSession.deliver` from the PBX.
Response texts and header orders are the ones captured from Asterisk 22.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from config.errors import RemoteProtocolError

from . import mixmonitor
from .dialplan import CONTEXTS, originate, split_args
from .model import SimChannel
from .privileges import allowed, parse_authority
from .wire import ActionFramer, ActionRequest, Headers, encode

if TYPE_CHECKING:
    from .pbx import PbxSimulator

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
MAX_BACKLOG = 8 << 20
UNKNOWN_ACTION = "Invalid/unknown command: {}. Use Action: ListCommands to show available commands."
VERSION = "Asterisk 22.10.1 built by switchboard-sim @ localhost on a x86_64 running Linux"


def parse_mask(text: str) -> set[str] | None:
    """``on``/``off``/a category list -> the categories sent (None means all)."""
    value = text.strip().lower()
    if value in ("", "on", "yes", "true", "all"):
        return None
    if value in ("off", "no", "false"):
        return set()
    return {c.strip() for c in value.split(",") if c.strip()}


def parse_callerid(text: str) -> tuple[str, str]:
    """``"Name" <num>`` -> (num, name)."""
    text = text.strip()
    if "<" in text and text.endswith(">"):
        name, _, num = text[:-1].rpartition("<")
        return num.strip(), name.strip().strip('"')
    return text, ""


class AmiSession:
    """The server side of one AMI connection."""

    def __init__(
        self, pbx: PbxSimulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.pbx = pbx
        self.reader = reader
        self.writer = writer
        self.authenticated = False
        self.mask: set[str] | None = None
        self.challenge = ""
        self.closing = False
        self.session_id = f"0x{id(self):x}"
        self.opened = datetime.now(UTC)
        self._handlers: dict[str, Callable[[ActionRequest], Awaitable[None]]] = {
            "login": self.login,
            "challenge": self.challenge_action,
            "logoff": self.logoff,
            "ping": self.ping,
            "events": self.events,
            "command": self.command,
            "coresettings": self.core_settings,
            "corestatus": self.core_status,
            "coreshowchannels": self.core_show_channels,
            "status": self.status,
            "originate": self.originate,
            "redirect": self.redirect,
            "hangup": self.hangup,
            "bridge": self.bridge,
            "setvar": self.setvar,
            "getvar": self.getvar,
            "playdtmf": self.playdtmf,
            "agi": self.agi,
            "listcommands": self.list_commands,
            "extensionstate": self.extension_state,
            "extensionstatelist": self.extension_state_list,
            "devicestatelist": self.device_state_list,
            "queuestatus": self.queue_status,
            "bridgelist": self.bridge_list,
            "bridgeinfo": self.bridge_info,
            "mixmonitor": self.mixmonitor,
            "mixmonitormute": self.mixmonitor_mute,
            "stopmixmonitor": self.stop_mixmonitor,
        }

    # ----------------------------------------------------------------- I/O

    async def run(self) -> None:
        framer = ActionFramer()
        self._write(BANNER)
        try:
            while not self.closing:
                data = await self.reader.read(65536)
                if not data:
                    break
                for req in framer.feed(data):
                    await self.handle(req)
                    if self.closing:
                        break
        except (ConnectionError, RemoteProtocolError):
            pass
        finally:
            self.close()

    def close(self, *, abort: bool = False) -> None:
        self.closing = True
        if abort:
            self.writer.transport.abort()
        else:
            with contextlib.suppress(Exception):
                self.writer.close()

    def deliver(self, category: str, data: bytes) -> None:
        if not self.authenticated or self.closing:
            return
        if self.mask is not None and category not in self.mask:
            return
        self._write(data)

    def send(self, headers: Headers) -> None:
        self._write(encode(headers))

    def _write(self, data: bytes) -> None:
        transport = self.writer.transport
        if self.closing or transport.is_closing():
            return
        if transport.get_write_buffer_size() > MAX_BACKLOG:
            # Asterisk drops a manager session that stops reading (writetimeout).
            log.warning("AMI client stopped reading; closing its session")
            self.close(abort=True)
            return
        self.writer.write(data)

    def respond(
        self,
        req: ActionRequest,
        response: str,
        message: str | None = None,
        extra: Sequence[tuple[str, str]] = (),
    ) -> None:
        headers: Headers = [("Response", response)]
        if req.has("ActionID"):
            headers.append(("ActionID", req.get("ActionID")))
        if message is not None:
            headers.append(("Message", message))
        headers.extend(extra)
        self.send(headers)

    def error(self, req: ActionRequest, message: str) -> None:
        self.respond(req, "Error", message)

    def _list_head(self, req: ActionRequest) -> Headers:
        return [("ActionID", req.get("ActionID"))] if req.has("ActionID") else []

    # ----------------------------------------------------------------- dispatch

    async def handle(self, req: ActionRequest) -> None:
        name = req.name.strip()
        if not name:
            self.error(req, "Missing action in request")
            return
        low = name.lower()
        if not self.authenticated and low not in ("login", "challenge", "logoff"):
            self.error(req, "Permission denied")
            return
        handler = self._handlers.get(low)
        if handler is None:
            self.error(req, UNKNOWN_ACTION.format(name))
            self.pbx.emit(
                "RequestBadFormat", self._security(f"Action: {name}", "Error"), "security"
            )
            return
        if not allowed(self.pbx.write, PRIVILEGES[low]):
            # manager.c: (writeperm & authority) == 0 -> report_req_not_allowed + error.
            self.error(req, "Permission denied")
            self.pbx.emit("RequestNotAllowed", self._security(name, "Error"), "security")
            return
        try:
            await handler(req)
        except Exception:
            log.exception("simulator failed on Action: %s", name)
            self.error(req, "Internal error in the simulator")

    def _security(self, request: str, severity: str) -> Headers:
        peer = self.writer.get_extra_info("peername") or ("127.0.0.1", 0)
        local = self.writer.get_extra_info("sockname") or ("127.0.0.1", 0)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
        return [
            ("EventTV", now),
            ("Severity", severity),
            ("Service", "AMI"),
            ("EventVersion", "1"),
            ("SessionID", self.session_id),
            ("LocalAddress", f"IPV4/TCP/{local[0]}/{local[1]}"),
            ("RemoteAddress", f"IPV4/TCP/{peer[0]}/{peer[1]}"),
            ("RequestType", request),
            ("SessionTV", self.opened.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"),
            ("AccountID", self.pbx.username),
        ]

    # ----------------------------------------------------------------- login

    async def challenge_action(self, req: ActionRequest) -> None:
        if req.get("AuthType").lower() != "md5":
            self.error(req, "Must specify AuthType")
            return
        self.challenge = str(self.pbx.rng.randrange(100_000_000, 999_999_999))
        self.respond(req, "Success", None, [("Challenge", self.challenge)])

    async def login(self, req: ActionRequest) -> None:
        pbx = self.pbx
        good = req.get("Username") == pbx.username
        if req.get("AuthType").lower() == "md5":
            expected = hashlib.md5((self.challenge + pbx.secret).encode()).hexdigest()
            good = good and bool(self.challenge) and req.get("Key").lower() == expected
        else:
            good = good and req.get("Secret") == pbx.secret
        if not good:
            await pbx.sleep(1.0)  # Asterisk answers a failed login about a second late
            self.error(req, "Authentication failed")
            self.close()
            return
        self.mask = parse_mask(req.get("Events", "on"))
        self.authenticated = True
        self.respond(req, "Success", "Authentication accepted")
        loop = asyncio.get_running_loop()
        delay = pbx.booted_at - loop.time()
        if delay <= 0:
            self.fully_booted()
        else:
            loop.call_later(delay, self.fully_booted)
        peer = self.writer.get_extra_info("peername") or ("127.0.0.1", 0)
        local = self.writer.get_extra_info("sockname") or ("127.0.0.1", 0)
        tv = self.opened.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
        auth = [
            ("EventTV", tv),
            ("Severity", "Informational"),
            ("Service", "AMI"),
            ("EventVersion", "1"),
            ("AccountID", pbx.username),
            ("SessionID", self.session_id),
            ("LocalAddress", f"IPV4/TCP/{local[0]}/{local[1]}"),
            ("RemoteAddress", f"IPV4/TCP/{peer[0]}/{peer[1]}"),
            ("UsingPassword", "0"),
            ("SessionTV", tv),
        ]
        pbx.emit("SuccessfulAuth", auth, "security")

    def fully_booted(self) -> None:
        up = str(self.pbx.uptime())
        data = encode(
            [
                ("Event", "FullyBooted"),
                ("Privilege", "system,all"),
                ("Uptime", up),
                ("LastReload", up),
                ("Status", "Fully Booted"),
            ]
        )
        self.deliver("system", data)

    async def logoff(self, req: ActionRequest) -> None:
        self.respond(req, "Goodbye", "Thanks for all the fish.")
        self.close()

    # ----------------------------------------------------------------- simple

    async def ping(self, req: ActionRequest) -> None:
        self.respond(req, "Success", None, [("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")])

    async def events(self, req: ActionRequest) -> None:
        self.mask = parse_mask(req.get("EventMask", "on"))
        self.respond(req, "Success", None, [("Events", "Off" if self.mask == set() else "On")])

    async def core_settings(self, req: ActionRequest) -> None:
        self.respond(
            req,
            "Success",
            None,
            [
                ("AMIversion", "11.0.0"),
                ("AsteriskVersion", "22.10.1"),
                ("SystemName", ""),
                ("CoreMaxCalls", "0"),
                ("CoreMaxLoadAvg", "0.000000"),
                ("CoreRunUser", ""),
                ("CoreRunGroup", ""),
                ("CoreMaxFilehandles", "0"),
                ("CoreRealTimeEnabled", "No"),
                ("CoreCDRenabled", "No"),
                ("CoreHTTPenabled", "No"),
                ("SoundsSearchCustomDir", "No"),
            ],
        )

    async def core_status(self, req: ActionRequest) -> None:
        started = datetime.fromtimestamp(self.pbx.started_at, UTC)
        day, clock = started.strftime("%Y-%m-%d"), started.strftime("%H:%M:%S")
        self.respond(
            req,
            "Success",
            None,
            [
                ("CoreStartupDate", day),
                ("CoreStartupTime", clock),
                ("CoreReloadDate", day),
                ("CoreReloadTime", clock),
                ("CoreCurrentCalls", str(len(self.pbx.channels))),
                ("CoreProcessedCalls", str(self.pbx.stats["processed"])),
            ],
        )

    async def command(self, req: ActionRequest) -> None:
        cmd = " ".join(req.get("Command").split())
        lines = self._cli(cmd)
        ok = lines is not None
        if lines is None:
            lines = [
                f"No such command '{cmd}' (type 'core show help {_best(cmd)}' for other "
                "possible commands)"
            ]
        # Asterisk 22 sends this response in three writes.
        head: Headers = [("Response", "Success" if ok else "Error")]
        if req.has("ActionID"):
            head.append(("ActionID", req.get("ActionID")))
        self._write("".join(f"{k}: {v}\r\n" for k, v in head).encode())
        await asyncio.sleep(0)
        self._write(b"Message: Command output follows\r\n")
        await asyncio.sleep(0)
        self._write(encode([("Output", line) for line in lines]))
        if ok and cmd.startswith("core restart"):
            self.pbx.spawn(self.pbx.restart(1.0))

    def _cli(self, cmd: str) -> list[str] | None:
        chans = self._sorted_channels()
        now = asyncio.get_running_loop().time()
        if cmd == "core show version":
            return [VERSION]
        if cmd == "core show channels concise":
            return ["!".join(_concise(c, self._secs(c, now))) for c in chans]
        if cmd == "core show channels":
            rows = [
                f"{'Channel':<30} {'Location':<25} {'State':<7} Application(Data)",
                *(
                    f"{c.name:<30} {c.exten + '@' + c.context + ':' + str(c.priority):<25} "
                    f"{_desc(c):<7} {c.app}({c.app_data})"
                    for c in chans
                ),
                f"{len(chans)} active channel{'s' if len(chans) != 1 else ''}",
                f"{len({c.linkedid for c in chans})} active call"
                f"{'s' if len({c.linkedid for c in chans}) != 1 else ''}",
                f"{self.pbx.stats['processed']} calls processed",
            ]
            return rows
        if cmd == "queue show" or cmd.startswith("queue show "):
            # Queues live in Switchboard, not in this PBX.
            name = cmd.removeprefix("queue show").strip()
            return [f"No such queue: {name}."] if name else ["No queues."]
        if cmd.startswith("dialplan show "):
            return _dialplan(cmd.removeprefix("dialplan show ").strip())
        if cmd in ("core restart now", "core restart gracefully", "core restart when convenient"):
            return [""]
        return None

    # ----------------------------------------------------------------- lists

    def _sorted_channels(self) -> list[SimChannel]:
        return sorted(self.pbx.channels.values(), key=lambda c: c.created)

    @staticmethod
    def _secs(chan: SimChannel, now: float) -> int:
        return int(now - chan.created)

    async def core_show_channels(self, req: ActionRequest) -> None:
        chans = self._sorted_channels()
        now = asyncio.get_running_loop().time()
        self.respond(
            req, "Success", None, [("EventList", "start"), ("Message", "Channels will follow")]
        )
        head = self._list_head(req)
        for c in chans:
            secs = self._secs(c, now)
            dur = f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
            self.send(
                [
                    ("Event", "CoreShowChannel"),
                    *head,
                    *c.block(),
                    ("Application", c.app),
                    ("ApplicationData", c.app_data),
                    ("Duration", dur),
                    ("BridgeId", c.bridge.uniqueid if c.bridge else ""),
                ]
            )
        self.send(
            [
                ("Event", "CoreShowChannelsComplete"),
                *head,
                ("EventList", "Complete"),
                ("ListItems", str(len(chans))),
            ]
        )

    async def status(self, req: ActionRequest) -> None:
        name = req.get("Channel")
        if name:
            one = self.pbx.find(name)
            if one is None:
                self.error(req, "No such channel")
                return
            chans = [one]
        else:
            chans = self._sorted_channels()
        wanted = [v for v in req.get("Variables").split(",") if v.strip()]
        self.respond(
            req,
            "Success",
            None,
            [("EventList", "start"), ("Message", "Channel status will follow")],
        )
        now = asyncio.get_running_loop().time()
        for c in chans:
            from .dialplan import substitute

            variables = [
                (
                    "Variable",
                    f"{v.strip()}={substitute(c, '${' + v.strip() + '}', self.pbx.globals)}",
                )
                for v in wanted
            ]
            self.send(
                [
                    ("Event", "Status"),
                    ("Privilege", "Call"),
                    *c.block(),
                    ("Type", c.tech),
                    ("DNID", c.dnid),
                    ("EffectiveConnectedLineNum", c.connected_num),
                    ("EffectiveConnectedLineName", c.connected_name),
                    ("TimeToHangup", "0"),
                    ("BridgeID", c.bridge.uniqueid if c.bridge else ""),
                    ("Application", c.app),
                    ("Data", c.app_data),
                    ("Nativeformats", "(ulaw)"),
                    ("Readformat", "ulaw"),
                    ("Readtrans", ""),
                    ("Writeformat", "ulaw"),
                    ("Writetrans", ""),
                    ("Callgroup", "0"),
                    ("Pickupgroup", "0"),
                    ("Seconds", str(self._secs(c, now))),
                    *variables,
                    *self._list_head(req),
                ]
            )
        n = str(len(chans))
        self.send(
            [
                ("Event", "StatusComplete"),
                *self._list_head(req),
                ("EventList", "Complete"),
                ("ListItems", n),
                ("Items", n),
            ]
        )

    # ----------------------------------------------------------------- channels

    async def originate(self, req: ActionRequest) -> None:
        target = req.get("Channel")
        if not target:
            self.error(req, "Channel not specified")
            return
        if "/" not in target:
            self.error(req, "Invalid channel")
            return
        application = req.get("Application")
        exten = req.get("Exten")
        if not application and not exten:
            self.error(req, "Exten not specified")
            return
        try:
            priority = int(req.get("Priority", "1") or "1")
            timeout_ms = int(req.get("Timeout", "30000") or "30000")
        except ValueError:
            self.error(req, "Invalid priority")
            return
        variables: dict[str, str] = {}
        for item in req.get_all("Variable"):
            for pair in item.split(","):
                key, _, value = pair.partition("=")
                if key:
                    variables[key.strip()] = value
        job = originate(
            self.pbx,
            target,
            action_id=req.get("ActionID"),
            context=req.get("Context", "default") or "default",
            exten=exten or "s",
            priority=priority,
            application=application,
            data=req.get("Data"),
            caller=parse_callerid(req.get("CallerID")),
            ring_seconds=timeout_ms / 1000,
            variables=variables,
        )
        if req.get("Async").lower() in ("true", "yes", "1", "on"):
            self.respond(req, "Success", "Originate successfully queued")
            self.pbx.spawn(job)
            return
        if await job:
            self.respond(req, "Success", "Originate successfully queued")
        else:
            self.error(req, "Originate failed")

    async def redirect(self, req: ActionRequest) -> None:
        name, context = req.get("Channel"), req.get("Context")
        exten, priority = req.get("Exten"), req.get("Priority")
        if not name:
            self.error(req, "Channel not specified")
            return
        if not context:
            self.error(req, "Context not specified")
            return
        if not exten:
            self.error(req, "Exten not specified")
            return
        if not priority:
            self.error(req, "Priority not specified")
            return
        try:
            prio = int(priority)
        except ValueError:
            self.error(req, "Priority is invalid")
            return
        chan = self.pbx.find(name)
        if chan is None:
            self.error(req, f"Channel does not exist: {name}")
            return
        targets = [(chan, context, exten, prio)]
        extra_name = req.get("ExtraChannel")
        if extra_name:
            extra = self.pbx.find(extra_name)
            if extra is None:
                self.error(req, f"ExtraChannel does not exist: {extra_name}")
                return
            try:
                extra_prio = int(req.get("ExtraPriority") or prio)
            except ValueError:
                self.error(req, "Priority is invalid")
                return
            targets.append(
                (
                    extra,
                    req.get("ExtraContext") or context,
                    req.get("ExtraExten") or exten,
                    extra_prio,
                )
            )
        self.respond(
            req, "Success", "Dual Redirect successful" if extra_name else "Redirect successful"
        )
        await self.pbx.redirect(targets)

    async def hangup(self, req: ActionRequest) -> None:
        name = req.get("Channel")
        if not name:
            self.error(req, "No channel specified")
            return
        chan = self.pbx.find(name)
        if chan is None:
            self.error(req, "No such channel")
            return
        try:
            cause = int(req.get("Cause", "16") or "16")
        except ValueError:
            cause = 16
        self.respond(req, "Success", "Channel Hungup")
        await self.pbx.hangup(chan, cause=cause, source="ami")

    async def bridge(self, req: ActionRequest) -> None:
        one, two = req.get("Channel1"), req.get("Channel2")
        if not one or not two:
            self.error(req, "Missing channel parameter in request")
            return
        first, second = self.pbx.find(one), self.pbx.find(two)
        if first is None:
            self.error(req, f"Channel1 does not exist: {one}")
            return
        if second is None:
            self.error(req, f"Channel2 does not exist: {two}")
            return
        self.respond(req, "Success", "Channels have been bridged")
        await self.pbx.bridge_channels(first, second)

    async def setvar(self, req: ActionRequest) -> None:
        name, variable = req.get("Channel"), req.get("Variable")
        if not variable:
            self.error(req, "No variable specified")
            return
        value = req.get("Value")
        if not name:
            self.pbx.globals[variable] = value
            self.respond(req, "Success", "Variable Set")
            return
        chan = self.pbx.find(name)
        if chan is None:
            self.error(req, "No such channel")
            return
        self.respond(req, "Success", "Variable Set")
        self.pbx.set_var(chan, variable, value)

    async def getvar(self, req: ActionRequest) -> None:
        from .dialplan import substitute

        name, variable = req.get("Channel"), req.get("Variable")
        if not variable:
            self.error(req, "No variable specified")
            return
        if name:
            chan = self.pbx.find(name)
            if chan is None:
                self.error(req, "No such channel")
                return
            value = substitute(chan, "${" + variable + "}", self.pbx.globals)
        else:
            value = self.pbx.globals.get(variable, "")
        self.respond(req, "Success", None, [("Variable", variable), ("Value", value)])

    async def playdtmf(self, req: ActionRequest) -> None:
        name, digit = req.get("Channel"), req.get("Digit")
        if not name:
            self.error(req, "Channel not specified")
            return
        if not digit:
            self.error(req, "No digit specified")
            return
        chan = self.pbx.find(name)
        if chan is None:
            self.error(req, "Channel not found")
            return
        try:
            duration = int(req.get("Duration", "100") or "100")
        except ValueError:
            duration = 100
        self.respond(req, "Success", "DTMF successfully queued")
        # The simulator's channels stand for the far end too, so the digit is received
        # on the channel itself (like PlayDTMF on a Local ;1 reaching ;2).
        self.pbx.spawn(self.pbx.receive_digit(chan, digit[0], duration))

    async def list_commands(self, req: ActionRequest) -> None:
        items = sorted(SYNOPSES.items(), key=lambda kv: kv[0].lower())
        self.respond(req, "Success", None, items)

    async def extension_state(self, req: ActionRequest) -> None:
        exten, context = req.get("Exten"), req.get("Context")
        if not exten:
            self.error(req, "Extension not specified")
            return
        # No hints are configured: agent presence lives in Switchboard.
        self.respond(
            req,
            "Success",
            "Extension Status",
            [
                ("Exten", exten),
                ("Context", context),
                ("Hint", ""),
                ("Status", "-1"),
                ("StatusText", "Unknown"),
            ],
        )

    async def _empty_list(self, req: ActionRequest, message: str, complete: str) -> None:
        self.respond(req, "Success", None, [("EventList", "start"), ("Message", message)])
        self.send([("Event", complete), *self._list_head(req), ("EventList", "Complete"),
                   ("ListItems", "0")])  # fmt: skip

    async def extension_state_list(self, req: ActionRequest) -> None:
        await self._empty_list(req, "Extension Statuses will follow", "ExtensionStateListComplete")

    async def device_state_list(self, req: ActionRequest) -> None:
        """Agent phones' device states: UNAVAILABLE for an unregistered phone (mode
        ``unavailable``), INUSE while it has a channel, else NOT_INUSE."""
        self.respond(
            req, "Success", None, [("EventList", "start"), ("Message", "Device States will follow")]
        )
        head = self._list_head(req)
        phones = sorted(p for p in self.pbx.phones if p.startswith("PJSIP/"))
        for endpoint in phones:
            if self.pbx.phones[endpoint].mode == "unavailable":
                state = "UNAVAILABLE"
            elif any(c.name.startswith(endpoint + "-") for c in self.pbx.channels.values()):
                state = "INUSE"
            else:
                state = "NOT_INUSE"
            self.send([("Event", "DeviceStateChange"), *head, ("Device", endpoint),
                       ("State", state)])  # fmt: skip
        self.send([("Event", "DeviceStateListComplete"), *head, ("EventList", "Complete"),
                   ("ListItems", str(len(phones)))])  # fmt: skip

    async def queue_status(self, req: ActionRequest) -> None:
        # Queues are Switchboard's (the ACD), not the PBX's: the list is always empty.
        await self._empty_list(req, "Queue status will follow", "QueueStatusComplete")

    async def bridge_list(self, req: ActionRequest) -> None:
        bridges = list(self.pbx.bridges.values())
        self.respond(
            req,
            "Success",
            None,
            [("EventList", "start"), ("Message", "Bridge listing will follow")],
        )
        head = self._list_head(req)
        for bridge in bridges:
            self.send([("Event", "BridgeListItem"), *head, *bridge.block()])
        self.send([("Event", "BridgeListComplete"), *head, ("EventList", "Complete"),
                   ("ListItems", str(len(bridges)))])  # fmt: skip

    async def bridge_info(self, req: ActionRequest) -> None:
        uid = req.get("BridgeUniqueid")
        if not uid:
            self.error(req, "BridgeUniqueid must be provided")
            return
        bridge = self.pbx.bridges.get(uid)
        if bridge is None:
            self.error(req, f"Bridge {uid} not found")
            return
        self.respond(
            req,
            "Success",
            None,
            [("EventList", "start"), ("Message", "Bridge channel listing will follow")],
        )
        head = self._list_head(req)
        for chan in bridge.members:
            self.send([("Event", "BridgeInfoChannel"), *head, *chan.block()])
        self.send([("Event", "BridgeInfoComplete"), *head, ("EventList", "Complete"),
                   ("ListItems", str(len(bridge.members))), *bridge.block()])  # fmt: skip

    async def agi(self, req: ActionRequest) -> None:
        name, command = req.get("Channel"), req.get("Command")
        if not name or not command:
            self.error(req, "Both, Channel and Command are *required*")
            return
        chan = self.pbx.find(name)
        if chan is None:
            self.error(req, f"Channel {name} does not exist.")
            return
        if chan.agi is None:
            self.error(req, f"Failed to add AGI command to channel {name} queue")
            return
        self.respond(req, "Success", "Added AGI command to queue")
        chan.agi.put_nowait((command, req.get("CommandID")))

    # ----------------------------------------------------------------- MixMonitor

    async def mixmonitor(self, req: ActionRequest) -> None:
        """``Action: MixMonitor`` (write class system): the response, then the
        recording's VarSet MIXMONITOR_FILENAME and MixMonitorStart, as captured."""
        name = req.get("Channel")
        if not name:
            self.error(req, "No channel specified")
            return
        chan = self.pbx.find(name)
        if chan is None:
            self.error(req, "No such channel")
            return
        filename = split_args(req.get("File"), ",")[0].strip()
        if not filename:
            # mixmonitor_exec: "MixMonitor requires an argument (filename)"
            self.error(req, "Could not start monitoring channel")
            return
        self.respond(req, "Success")
        mixmonitor.start(self.pbx, chan, filename, req.get("Options"))

    async def mixmonitor_mute(self, req: ActionRequest) -> None:
        """``Action: MixMonitorMute``: Direction read|write|both, State; the response,
        then MixMonitorMute with the Direction as sent and State 1/0 (ast_true)."""
        direction = req.get("Direction")
        low = direction.lower()
        if not direction:
            self.error(req, "No direction specified. Must be read, write or both")
            return
        if low not in ("read", "write", "both"):
            self.error(req, "Invalid direction specified. Must be read, write or both")
            return
        name, state = req.get("Channel"), req.get("State")
        if not name:
            self.error(req, "No channel specified")
            return
        if not state:
            self.error(req, "No state specified")
            return
        chan = self.pbx.find(name)
        if chan is None:
            self.error(req, "No such channel")
            return
        # Asterisk: clearmute = ast_false(State), so anything but a "false" word mutes.
        on = state.strip().lower() not in _FALSE
        if not mixmonitor.mute(self.pbx, chan, low != "write", low != "read", on):
            self.error(req, "Cannot set mute flag")
            return
        self.respond(req, "Success")
        shown = "1" if state.strip().lower() in _TRUE else "0"
        self.pbx.emit_chan("MixMonitorMute", chan, ("Direction", direction), ("State", shown))

    async def stop_mixmonitor(self, req: ActionRequest) -> None:
        """``Action: StopMixMonitor``: the response, then MixMonitorStop."""
        name = req.get("Channel")
        if not name:
            self.error(req, "No channel specified")
            return
        chan = self.pbx.find(name)
        if chan is None:
            self.error(req, "No such channel")
            return
        if not chan.mixmonitors:
            self.error(req, "Could not stop monitoring channel")
            return
        self.respond(req, "Success")
        mixmonitor.stop(self.pbx, chan)


_TRUE = frozenset({"yes", "true", "y", "t", "1", "on"})  # ast_true
_FALSE = frozenset({"no", "false", "n", "f", "0", "off"})  # ast_false

SYNOPSES = {
    "AGI": "Add an AGI command to execute by Async AGI.  (Priv: agi,all)",
    "Bridge": "Bridge two channels already in the PBX.  (Priv: call,all)",
    "BridgeInfo": "Get information about a bridge.  (Priv: <none>)",
    "BridgeList": "Get a list of bridges in the system.  (Priv: <none>)",
    "Challenge": "Generate Challenge for MD5 Auth.  (Priv: <none>)",
    "Command": "Execute Asterisk CLI Command.  (Priv: command,all)",
    "CoreSettings": "Show PBX core settings (version etc).  (Priv: system,reporting,all)",
    "CoreShowChannels": "List currently active channels.  (Priv: system,reporting,all)",
    "CoreStatus": "Show PBX core status variables.  (Priv: system,reporting,all)",
    "Events": "Control Event Flow.  (Priv: <none>)",
    "DeviceStateList": "List the current known device states.  (Priv: call,reporting,all)",
    "ExtensionState": "Check Extension Status.  (Priv: call,reporting,all)",
    "ExtensionStateList": "List the current known extension states.  (Priv: call,reporting,all)",
    "Getvar": "Gets a channel variable or function value.  (Priv: call,reporting,all)",
    "Hangup": "Hangup channel.  (Priv: system,call,all)",
    "ListCommands": "List available manager commands.  (Priv: <none>)",
    "Login": "Login Manager.  (Priv: <none>)",
    "Logoff": "Logoff Manager.  (Priv: <none>)",
    "MixMonitor": "Record a call and mix the audio during the recording.  Use of StopMixMonitor"
    " is required to guarantee the audio file is available for processing during dialplan"
    " execution.  (Priv: system,all)",
    "MixMonitorMute": "Mute / unMute a Mixmonitor recording.  (Priv: system,call,all)",
    "Originate": "Originate a call.  (Priv: originate,all)",
    "Ping": "Keepalive command.  (Priv: <none>)",
    "PlayDTMF": "Play DTMF signal on a specific channel.  (Priv: call,all)",
    "QueueStatus": "Show queue status.  (Priv: <none>)",
    "Redirect": "Redirect (transfer) a call.  (Priv: call,all)",
    "Setvar": "Sets a channel variable or function value.  (Priv: call,all)",
    "Status": "List channel status.  (Priv: system,call,reporting,all)",
    "StopMixMonitor": "Stop recording a call through MixMonitor, and free the recording's file"
    " handle.  (Priv: system,call,all)",
}
# Each action's authority ("manager show command <name>" [Privilege]), from its synopsis.
PRIVILEGES = {
    name.lower(): parse_authority(text.rpartition("(Priv: ")[2].rstrip(")"))
    for name, text in SYNOPSES.items()
}


def _concise(c: SimChannel, secs: int) -> list[str]:
    bridge = c.bridge.uniqueid if c.bridge else ""
    fields = [c.name, c.context, c.exten, str(c.priority), _desc(c), c.app, c.app_data]
    return [*fields, c.caller_num, "", "", "3", str(secs), bridge, c.uniqueid]


def _desc(chan: SimChannel) -> str:
    from .model import STATE_DESC

    return STATE_DESC.get(chan.state, "Unknown")


def _best(cmd: str) -> str:
    known = ["core show version", "core show channels", "dialplan show", "core restart now"]
    words = cmd.split()
    out: list[str] = []
    for word in words:
        out.append(word)
        prefix = " ".join(out)
        if not any(k.startswith(prefix) for k in known):
            break
    if len(out) < len(words) and len(out) == 1:
        out.append(words[1])
    return " ".join(out)


def _dialplan(context: str) -> list[str] | None:
    extens = CONTEXTS.get(context)
    if extens is None:
        return None
    lines = [f"[ Context '{context}' created by 'pbx_config' ]"]
    count = 0
    for pattern, steps in extens.items():
        for i, (app, data) in enumerate(steps, start=1):
            head = f"  '{pattern}' =>" if i == 1 else ""
            lines.append(f"{head:<20}{i}. {app}({data})")
            count += 1
    lines.append("")
    lines.append(f"-= {len(extens)} extensions ({count} priorities) in 1 context. =-")
    return lines
