"""The sample Asterisk configuration (config/asterisk/) against the simulator's dialplan
that mirrors it, and the rules a real Asterisk 22 holds it to."""

from __future__ import annotations

import re

from config.settings import PROJECT_ROOT
from telephony.simulator.dialplan import CONTEXTS, lookup

EXTENSIONS = PROJECT_ROOT / "config" / "asterisk" / "extensions.conf"


def _contexts() -> dict[str, dict[str, list[str]]]:
    """context -> extension -> its applications with arguments, from extensions.conf."""
    out: dict[str, dict[str, list[str]]] = {}
    context = ""
    exten = ""
    for raw in EXTENSIONS.read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if header := re.fullmatch(r"\[([^\]]+)\]", line):
            context = header.group(1)
            if context not in ("general", "globals"):
                out[context] = {}
            continue
        if context in ("general", "globals"):
            continue
        if step := re.fullmatch(r"exten\s*=>\s*([^,]+),\s*1\s*,\s*(.+)", line):
            exten = step.group(1)
            out[context][exten] = [step.group(2)]
        elif step := re.fullmatch(r"same\s*=>\s*n\s*,\s*(.+)", line):
            out[context][exten].append(step.group(1))
        else:
            raise AssertionError(f"not a line this dialplan should have: {raw!r}")
    return out


def test_the_simulator_runs_the_sample_dialplan_as_written() -> None:
    written = _contexts()
    for context, extens in written.items():
        assert context in CONTEXTS, context
        for exten, steps in extens.items():
            mirrored = CONTEXTS[context][exten]
            assert [f"{app}({data})" for app, data in mirrored] == steps, (context, exten)


def test_a_call_from_another_pbx_dials_only_a_phone_number() -> None:
    """${EXTEN} of switchboard-from-pbx is what the other PBX's SIP request says; with
    ``_X.`` an extension like ``1001&PJSIP/+19005550100@trunk`` reached Dial and rang a
    second, chosen destination (Dial's ``&``)."""
    assert lookup("switchboard-from-pbx", "1001") is not None
    for exten in ("1001&PJSIP/+19005550100@trunk", "1001,,U(x)", "10/trunk"):
        assert lookup("switchboard-from-pbx", exten) is None, exten
