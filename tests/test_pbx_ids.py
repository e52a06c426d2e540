"""routing.pbx: global call ids across PBXs, who owns an id, and reach for the ACD."""

from __future__ import annotations

import dataclasses

import pytest

from config.errors import InvalidInput
from config.settings import AmiSettings, Settings
from routing.acd.model import AgentConfig
from routing.pbx import Pbxs
from telephony.ami import AmiClient


def pbxs(**trunks: dict[str, str]) -> Pbxs:
    main = AmiSettings(name="main", trunks=trunks.get("main", {}))
    east = AmiSettings(name="east", port=5039, trunks=trunks.get("east", {}))
    north = AmiSettings(name="north", port=5040, trunks=trunks.get("north", {}))
    settings = dataclasses.replace(Settings(), ami=main, pbx={"east": east, "north": north})
    clients = {p.name: AmiClient(p.host, p.port) for p in settings.pbxs}
    return Pbxs(settings, clients)


def test_the_first_pbx_keeps_its_ids_the_others_are_prefixed() -> None:
    links = pbxs()
    main, east = links["main"], links["east"]
    assert main.global_id("1764662400.1") == "1764662400.1"
    assert east.global_id("1764662400.1") == "east:1764662400.1"
    assert east.local_id("east:1764662400.1") == "1764662400.1"
    assert main.local_id("1764662400.1") == "1764662400.1"
    assert links.owner("east:1764662400.1") is east
    assert links.owner("1764662400.1") is main
    assert links.owner("out-1001-1764662400000") is main
    # a prefix that is no PBX's (or the first's own name) belongs to the first PBX
    assert links.owner("main:1.2") is main and links.owner("west:1.2") is main


def test_reach_is_empty_for_a_full_mesh_and_one_way_otherwise() -> None:
    everyone = {"main": "PJSIP/{extension}@m", "east": "PJSIP/{extension}@e"}
    mesh = pbxs(
        main={k: v for k, v in everyone.items() if k != "main"} | {"north": "PJSIP/{extension}@n"},
        east={"main": "PJSIP/{extension}@m", "north": "PJSIP/{extension}@n"},
        north={"main": "PJSIP/{extension}@m", "east": "PJSIP/{extension}@e"},
    )
    assert mesh.reach() == {}
    one_way = pbxs(main={"east": "PJSIP/{extension}@e"})
    assert one_way.reach() == {
        "main": frozenset({"main", "east"}),
        "east": frozenset({"east"}),
        "north": frozenset({"north"}),
    }


def test_agents_are_placed_on_a_named_pbx() -> None:
    links = pbxs()
    agents = (
        AgentConfig("1001", "A", "PJSIP/1001"),
        AgentConfig("2001", "B", "PJSIP/2001", pbx="east"),
    )
    assert [a.pbx for a in links.place_agents(agents)] == ["main", "east"]
    with pytest.raises(InvalidInput, match="agents 3001: pbx: 'west' is not a configured PBX"):
        links.place_agents([AgentConfig("3001", "C", "PJSIP/3001", pbx="west")])
