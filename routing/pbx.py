"""Several Asterisk servers behind one call center: one AMI link each, and call ids.

Theory of operation. Each PBX (``[ami]`` first, then every ``[pbx.<name>]``) has its own
AMI connection, reconnects on its own and is resynced on its own. Two Asterisks number
their channels and Uniqueids independently (two fresh ones both start at ``...-00000001``
and ``<epoch>.1``), so nothing read off one PBX's wire means anything without the PBX's
name. The rule:

* on a PBX's wire every id is that PBX's own (Linkedid, Uniqueid, channel name, the
  ``SWITCHBOARD_CALL`` variable the service sets);
* inside the service a call's id is its *global* id: the local id unchanged on the first
  PBX (so the contact keys written before there were several PBXs stay valid), and
  ``<pbx>:<local id>`` on every other. The ACD, the contact log, the console and the
  websocket see global ids only; the center's channel map is keyed by (pbx, channel).

Asterisk's own ids contain no ``:`` (``[systemname-]<epoch>.<seq>``), so the prefix
cannot be mistaken for part of a Linkedid; the service needs no ``systemname`` to tell
two servers' calls apart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from config.errors import InvalidInput
from config.settings import AmiSettings, Settings
from routing.acd.model import AgentConfig
from telephony.ami import AmiClient

SEPARATOR = ":"


@dataclass(eq=False, slots=True)
class PbxLink:
    """One Asterisk: its settings and its AMI client."""

    settings: AmiSettings
    ami: AmiClient
    first: bool

    @property
    def name(self) -> str:
        return self.settings.name

    def global_id(self, local_id: str) -> str:
        """The service's id of a call known on this PBX's wire as ``local_id``."""
        return local_id if self.first else f"{self.name}{SEPARATOR}{local_id}"

    def local_id(self, global_id: str) -> str:
        """What ``global_id`` is called on this PBX's wire (its own prefix removed)."""
        prefix = f"{self.name}{SEPARATOR}"
        if not self.first and global_id.startswith(prefix):
            return global_id[len(prefix) :]
        return global_id


class Pbxs:
    """The PBXs of one call center, the first first.

    Args:
        settings: the service settings (``settings.pbxs`` gives names and order).
        clients: PBX name -> its AMI client, one for every PBX of ``settings``.

    Raises:
        KeyError: a PBX of the settings has no client.
    """

    def __init__(self, settings: Settings, clients: dict[str, AmiClient]) -> None:
        self.links: dict[str, PbxLink] = {
            pbx.name: PbxLink(pbx, clients[pbx.name], index == 0)
            for index, pbx in enumerate(settings.pbxs)
        }
        self.first = next(iter(self.links.values()))

    def __iter__(self) -> Iterator[PbxLink]:
        return iter(self.links.values())

    def __len__(self) -> int:
        return len(self.links)

    def __getitem__(self, name: str) -> PbxLink:
        return self.links[name]

    def home(self, pbx: str) -> PbxLink:
        """The PBX called ``pbx``; "" (an agent with no ``pbx:``) is the first."""
        return self.links[pbx] if pbx else self.first

    def owner(self, global_id: str) -> PbxLink:
        """The PBX whose calls carry ``global_id``'s prefix (none: the first)."""
        prefix, sep, _ = global_id.partition(SEPARATOR)
        link = self.links.get(prefix) if sep else None
        return link if link is not None and not link.first else self.first

    def reach(self) -> dict[str, frozenset[str]]:
        """For the ACD (``AcdSettings.reach``): each PBX -> the PBXs its callers can reach
        (itself and those its ``trunks`` name); empty when every PBX reaches every one,
        so a single PBX, or a full mesh, routes as it always did."""
        names = frozenset(self.links)
        reach = {
            link.name: frozenset({link.name, *link.settings.trunks}) for link in self.links.values()
        }
        if all(targets == names for targets in reach.values()):
            return {}
        return reach

    def place_agents(self, agents: Iterable[AgentConfig]) -> tuple[AgentConfig, ...]:
        """The agents with their PBX named: an agent with no ``pbx:`` is on the first PBX
        (the ACD compares names, so "" must not stand for it).

        Raises:
            InvalidInput: an agent's ``pbx:`` is not a configured PBX (the queue file's
                parser cannot know the settings); the message names the agent.
        """
        placed = []
        for agent in agents:
            if agent.pbx and agent.pbx not in self.links:
                raise InvalidInput(
                    f"agents {agent.agent_id}: pbx: {agent.pbx!r} is not a configured PBX "
                    f"(expected one of {', '.join(self.links)})",
                    field="pbx",
                )
            placed.append(agent if agent.pbx else dataclasses.replace(agent, pbx=self.first.name))
        return tuple(placed)
