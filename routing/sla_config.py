"""Loads the SLA policies file (config/sla.yaml) into a :class:`routing.sla.Policy`.

Bounded: the file is at most 64 KiB, only the keys below are accepted, every target is a
number of hours between 0 and 10,000; the schedule is one of an IVR script's
``schedules:`` (validated by the IVR loader).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from config.errors import ConfigError, ScriptError
from routing.ivr.hours import Schedule
from routing.ivr.script import load_script
from routing.sla import PRIORITIES, Policy, Target

MAX_BYTES = 64 * 1024
MAX_HOURS = 10_000.0


def _bad(key: str, expected: str) -> ConfigError:
    return ConfigError("cases", f"sla_file: {key}", expected)


def _hours(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(key, "a number of hours")
    if not 0 <= value <= MAX_HOURS:
        raise _bad(key, f"between 0 and {MAX_HOURS:g} hours")
    return float(value) * 3600.0


def parse_policy(data: Any, scripts_dir: Path, prompts_dir: Path) -> Policy:
    """Raises ConfigError naming the bad key."""
    if not isinstance(data, dict):
        raise _bad("(top)", "a mapping with priorities, schedule, warn_at")
    unknown = set(data) - {"priorities", "schedule", "warn_at"}
    if unknown:
        raise _bad(sorted(unknown)[0], "only priorities, schedule, warn_at")
    warn_at = data.get("warn_at", 0.8)
    if isinstance(warn_at, bool) or not isinstance(warn_at, int | float) or not 0 < warn_at <= 1:
        raise _bad("warn_at", "a fraction above 0 and at most 1")
    priorities = data.get("priorities") or {}
    if not isinstance(priorities, dict):
        raise _bad("priorities", f"a mapping of {', '.join(PRIORITIES)}")
    targets = {}
    for name, target in priorities.items():
        if name not in PRIORITIES:
            raise _bad(f"priorities.{name}", f"one of {', '.join(PRIORITIES)}")
        if not isinstance(target, dict) or set(target) - {
            "first_response_hours",
            "resolution_hours",
        }:
            raise _bad(f"priorities.{name}", "{first_response_hours, resolution_hours}")
        targets[name] = Target(
            _hours(
                target.get("first_response_hours", 0), f"priorities.{name}.first_response_hours"
            ),
            _hours(target.get("resolution_hours", 0), f"priorities.{name}.resolution_hours"),
        )
    schedule: Schedule | None = None
    ref = data.get("schedule")
    if ref is not None:
        if not isinstance(ref, dict) or set(ref) != {"script", "name"}:
            raise _bad("schedule", "{script: <file in ivr.scripts_dir>, name: <schedule>}")
        script_name = str(ref["script"])
        if "/" in script_name or "\\" in script_name or script_name.startswith("."):
            raise _bad("schedule.script", "a file name in ivr.scripts_dir")
        try:
            script = load_script(scripts_dir / script_name, prompts_dir)
        except ScriptError as exc:
            raise _bad("schedule.script", f"a valid IVR script ({exc})") from None
        schedule = script.schedules.get(str(ref["name"]))
        if schedule is None:
            raise _bad("schedule.name", f"one of {', '.join(sorted(script.schedules)) or '(none)'}")
    return Policy(targets, schedule, float(warn_at))


def load_policy(path: Path | None, scripts_dir: Path, prompts_dir: Path) -> Policy:
    """The file's policy, or no targets at all when ``path`` is None.

    Raises:
        ConfigError: unreadable, too large, not YAML, or a bad key.
    """
    if path is None:
        return Policy({})
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError("cases", "sla_file", f"a readable file ({exc.strerror})") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError("cases", "sla_file", f"at most {MAX_BYTES} bytes")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError("cases", "sla_file", f"YAML ({exc})") from None
    return parse_policy(data, scripts_dir, prompts_dir)
