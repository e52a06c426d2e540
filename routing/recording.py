"""Which calls are recorded, and into which file (pure: no I/O).

Theory of operation. Asterisk records, the service decides. On every ring of an agent
the center sets the caller's channel variable ``SWITCHBOARD_RECORD`` to the file
MixMonitor is to write, or to the empty string; the shipped ``switchboard-connect``
dialplan stops any earlier MixMonitor and starts one when the variable is not empty
(docs/ARCHITECTURE.md "Recording"). This module holds the decision:

* the queue file says ``record: true|false`` per queue (default false) and per agent
  (absent: follow the queue), kept here as a :class:`RecordingPolicy` beside the ACD's
  configuration, never inside its routing decisions;
* the IVR may set the call variable ``record`` (a ``set`` node, or digits collected
  into it): the caller's own consent choice wins over both.

File names (:func:`file_name`) are ``<call id>-<agent id>-<epoch ms>.wav`` with every
character outside ``[A-Za-z0-9._-]`` replaced by ``_``: one call rings one agent at a
time, so a name cannot be taken twice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from config.errors import InvalidInput

#: the words a ``record`` value may be (YAML booleans and integers are taken as well)
FLAG_WORDS: Mapping[str, bool] = {
    "true": True,
    "yes": True,
    "1": True,
    "false": False,
    "no": False,
    "0": False,
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
#: the channel variable the dialplan reads
VARIABLE = "SWITCHBOARD_RECORD"


def flag(value: object, where: str = "record") -> bool:
    """``value`` as a recording flag: true/false, yes/no, 1/0 (any case), or a YAML
    boolean or the integers 1 and 0.

    Raises:
        InvalidInput: anything else; ``field`` is ``where``.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = FLAG_WORDS.get(value.strip().lower())
        if word is not None:
            return word
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
    raise InvalidInput(f"{where}: expected true or false (yes/no, 1/0), got {shown}", field=where)


@dataclass(frozen=True, slots=True)
class RecordingPolicy:
    """The queue file's ``record`` keys: queue name -> flag, agent id -> flag."""

    queues: Mapping[str, bool] = field(default_factory=dict)
    agents: Mapping[str, bool] = field(default_factory=dict)

    def records(self, queue: str | None, agent_id: str | None, ivr: bool | None = None) -> bool:
        """Whether a ring of ``agent_id`` for a caller of ``queue`` is recorded: the IVR's
        choice if it made one, else the agent's, else the queue's (default: no)."""
        if ivr is not None:
            return ivr
        if agent_id is not None and agent_id in self.agents:
            return self.agents[agent_id]
        return bool(queue is not None and self.queues.get(queue, False))


def file_name(call_id: str, agent_id: str, at: float) -> str:
    """The bare file name of one ring's recording (relative to ``recording.dir``)."""
    raw = f"{call_id}-{agent_id}-{int(at * 1000)}.wav"
    return _UNSAFE.sub("_", raw)


def pbx_path(pbx_dir: str, name: str) -> str:
    """Where Asterisk writes ``name``: under ``pbx_dir`` (its own view of the directory)."""
    return f"{pbx_dir.rstrip('/')}/{name}" if pbx_dir.rstrip("/") else f"/{name}"
