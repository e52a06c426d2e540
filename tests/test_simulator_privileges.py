"""The shipped manager.conf's write classes, the simulator's, and the actions the service
sends: the least-privilege user can run every one of them, and not MixMonitor."""

from __future__ import annotations

import re

import pytest

from config.errors import InvalidInput
from config.settings import PROJECT_ROOT
from telephony.simulator import PbxSimulator
from telephony.simulator.privileges import SHIPPED_WRITE, allowed, parse_classes
from telephony.simulator.session import PRIVILEGES, AmiSession

MANAGER_CONF = PROJECT_ROOT / "config" / "asterisk" / "manager.conf"
SERVICE_PACKAGES = ("telephony", "routing", "switchboard", "agent_console", "crm_lookup", "config")


def shipped_write_line() -> str:
    section = ""
    for raw in MANAGER_CONF.read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        if header := re.fullmatch(r"\[([^\]]+)\]", line):
            section = header.group(1)
        elif section == "switchboard" and (m := re.fullmatch(r"write\s*=\s*(.*)", line)):
            return m.group(1).strip()
    raise AssertionError("manager.conf has no write = line for [switchboard]")


def actions_the_service_sends() -> set[str]:
    """Every ``Action("<Name>"`` in the service's code (the simulator excluded)."""
    names: set[str] = set()
    for package in SERVICE_PACKAGES:
        for path in (PROJECT_ROOT / package).rglob("*.py"):
            if "simulator" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            names.update(re.findall(r'\bAction\(\s*"(\w+)"', text))
    return names


def test_the_simulator_defaults_to_the_shipped_write_line() -> None:
    assert parse_classes(shipped_write_line()) == parse_classes(SHIPPED_WRITE)
    assert PbxSimulator().write == parse_classes(SHIPPED_WRITE)
    assert "system" not in parse_classes(SHIPPED_WRITE)


def test_the_shipped_user_may_send_every_action_the_service_sends() -> None:
    write = parse_classes(shipped_write_line())
    sent = actions_the_service_sends()
    assert {"Originate", "Redirect", "Setvar", "AGI", "Hangup"} <= sent  # the scan works
    for name in sorted(sent):
        assert name.lower() in PRIVILEGES, f"the simulator does not know Action {name}"
        assert allowed(write, PRIVILEGES[name.lower()]), f"{name} needs {PRIVILEGES[name.lower()]}"


def test_recording_privileges_are_asterisks() -> None:
    """``manager show command`` in the capture: MixMonitor system,all; MixMonitorMute and
    StopMixMonitor system,call,all."""
    write = parse_classes(shipped_write_line())
    assert PRIVILEGES["mixmonitor"] == {"system"}
    assert PRIVILEGES["mixmonitormute"] == PRIVILEGES["stopmixmonitor"] == {"system", "call"}
    assert not allowed(write, PRIVILEGES["mixmonitor"])
    assert allowed(write, PRIVILEGES["mixmonitormute"])
    assert allowed(write, PRIVILEGES["stopmixmonitor"])
    assert allowed(frozenset({"all"}), PRIVILEGES["mixmonitor"])
    assert allowed(frozenset(), PRIVILEGES["ping"])  # <none>: anyone logged in


def test_every_action_the_simulator_answers_has_a_privilege() -> None:
    session = AmiSession(PbxSimulator(), None, None)  # type: ignore[arg-type]  # no I/O
    handled = set(session._handlers)
    assert {"mixmonitor", "mixmonitormute", "stopmixmonitor", "originate"} <= handled
    assert handled <= set(PRIVILEGES), handled - set(PRIVILEGES)


def test_unknown_write_classes_are_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        PbxSimulator(write="call,sytem")
    assert err.value.field == "write"
