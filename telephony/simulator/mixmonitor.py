"""MixMonitor in the simulator: call recordings written as real WAV files.

Theory of operation: ``MixMonitor(file,options)`` (the dialplan application or the AMI
action) attaches a :class:`MixMonitorTap` to a channel, as Asterisk attaches a spy
audiohook. Like app_mixmonitor the file is created when the recording starts (the
directory too, ``ast_mkdir``), as a WAV of 8000 Hz, 16-bit, mono; with option ``b`` audio
is written only while the channel is bridged. The simulator has no media, so the tap keeps
a timeline instead: every bridge change or mute change closes a span of *simulated*
seconds (loop time divided by the PBX's ``time_scale``, so a fast test clock still gets a
file as long as the simulated conversation). A bridged, unmuted span is a 440 Hz tone (the
far end talking, as the capture's desk phone streamed a tone), a muted span zero samples,
an unbridged span nothing. Muting ``read`` (what the caller sends, silent here) keeps the
tone; muting ``write`` or ``both`` silences it. When the tap stops (``StopMixMonitor``,
the application or the action, or the channel's hangup) the whole file is written once,
capped at :attr:`PbxSimulator.max_recording_seconds`. Asterisk writes 20 ms frames, so
span boundaries are rounded to 160 samples, which is how the capture's 6.02 s came out.

Semantics kept from Asterisk 22 (capture ``11-mixmonitor.txt`` and app_mixmonitor):
``MixMonitorStart`` after ``VarSet MIXMONITOR_FILENAME``; ``MixMonitorStop`` only when
stopped by StopMixMonitor (not at hangup); StopMixMonitor without an ID stops one
recording (the oldest), MixMonitorMute mutes all of the channel's recordings.
"""

from __future__ import annotations

import logging
import math
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import SimChannel
    from .pbx import PbxSimulator

log = logging.getLogger(__name__)

RATE = 8000
FRAME_SAMPLES = 160  # 20 ms, the frames app_mixmonitor writes
TONE_HZ = 440
TONE_AMPLITUDE = 16384  # about -6 dBFS: RMS 11585, near the capture's 11637
# One second of tone is a whole number of 440 Hz cycles, so it repeats seamlessly.
_TONE_SECOND = b"".join(
    round(TONE_AMPLITUDE * math.sin(2 * math.pi * TONE_HZ * n / RATE)).to_bytes(
        2, "little", signed=True
    )
    for n in range(RATE)
)
_TONE_LOOP = _TONE_SECOND * 2


@dataclass(eq=False)
class MixMonitorTap:
    """One running MixMonitor on one channel: its file and its audio timeline."""

    path: Path
    wav: bool  # else raw signed linear (Asterisk's "raw"/"sln" formats)
    bridged_only: bool
    started: float  # loop time
    since: float = 0.0  # loop time the current span began
    bridged: bool = False
    mute_read: bool = False
    mute_write: bool = False
    failed: bool = False  # the file could not be created ("Cannot open" in Asterisk)
    # (tone, simulated seconds from the start at which the span ends); a span that is not
    # recorded (not bridged with option b) is kept as (None, end).
    spans: list[tuple[bool | None, float]] = field(default_factory=list)

    @property
    def muted(self) -> bool:
        return self.mute_write


def split_options(options: str) -> set[str]:
    """MixMonitor's option letters, arguments in parentheses skipped (``v(2)b`` -> v, b)."""
    letters: set[str] = set()
    depth = 0
    for c in options:
        if c == "(":
            depth += 1
        elif c == ")":
            depth = max(0, depth - 1)
        elif depth == 0 and not c.isspace():
            letters.add(c)
    return letters


def resolve(pbx: PbxSimulator, filename: str) -> Path:
    """Asterisk's filename_parse: a relative name goes into the monitor directory."""
    path = Path(filename)
    return path if path.is_absolute() else pbx.monitor_dir / path


def start(pbx: PbxSimulator, chan: SimChannel, filename: str, options: str) -> MixMonitorTap:
    """Attach a recording to ``chan``: the directory and the (empty) file are created,
    then ``VarSet MIXMONITOR_FILENAME`` and ``MixMonitorStart``. The caller has checked
    that ``filename`` is not empty (Asterisk's MixMonitor fails without one)."""
    path = resolve(pbx, filename)
    suffix = path.suffix.lower()
    wav = suffix == ".wav"
    if not path.suffix:
        path = path.with_name(path.name + ".raw")
    now = pbx.loop_time()
    tap = MixMonitorTap(
        path=path,
        wav=wav,
        bridged_only="b" in split_options(options),
        started=now,
        since=now,
        bridged=chan.bridge is not None,
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not wav and suffix not in ("", ".raw", ".sln", ".slin"):
            raise OSError(f"no file format for extension {path.suffix!r}")
        _write(tap, b"")
    except OSError as exc:
        log.warning("MixMonitor cannot open %s: %s", path, exc)
        tap.failed = True
    chan.mixmonitors.append(tap)
    pbx.set_var(chan, "MIXMONITOR_FILENAME", filename)
    pbx.emit_chan("MixMonitorStart", chan)
    return tap


def _elapsed(pbx: PbxSimulator, tap: MixMonitorTap, now: float) -> float:
    return (now - tap.started) / pbx.time_scale


def _close_span(pbx: PbxSimulator, tap: MixMonitorTap, now: float) -> None:
    recorded = tap.bridged or not tap.bridged_only
    tone = None if not recorded else not tap.muted
    tap.spans.append((tone, _elapsed(pbx, tap, now)))
    tap.since = now


def changed(pbx: PbxSimulator, chan: SimChannel) -> None:
    """The channel's bridge changed: close each recording's span, open the next."""
    now = pbx.loop_time()
    bridged = chan.bridge is not None
    for tap in chan.mixmonitors:
        if tap.bridged != bridged:
            _close_span(pbx, tap, now)
            tap.bridged = bridged


def mute(pbx: PbxSimulator, chan: SimChannel, read: bool, write: bool, on: bool) -> int:
    """Set or clear the mute flags of every recording on ``chan``; how many there are."""
    now = pbx.loop_time()
    for tap in chan.mixmonitors:
        _close_span(pbx, tap, now)
        if read:
            tap.mute_read = on
        if write:
            tap.mute_write = on
    return len(chan.mixmonitors)


def stop(pbx: PbxSimulator, chan: SimChannel, *, event: bool = True) -> bool:
    """StopMixMonitor: finish the oldest recording (False when there is none);
    ``MixMonitorStop`` follows unless ``event`` is False."""
    if not chan.mixmonitors:
        return False
    tap = chan.mixmonitors.pop(0)
    finish(pbx, tap)
    if event:
        pbx.emit_chan("MixMonitorStop", chan)
    return True


def stop_all(pbx: PbxSimulator, chan: SimChannel) -> None:
    """The channel is gone: every recording is finished, without MixMonitorStop."""
    while chan.mixmonitors:
        finish(pbx, chan.mixmonitors.pop(0))


def finish(pbx: PbxSimulator, tap: MixMonitorTap) -> None:
    """Close the last span and write the file (once, capped)."""
    _close_span(pbx, tap, pbx.loop_time())
    if tap.failed:
        return
    try:
        _write(tap, render(tap.spans, pbx.max_recording_seconds))
    except OSError as exc:
        log.warning("MixMonitor cannot write %s: %s", tap.path, exc)


def render(spans: list[tuple[bool | None, float]], cap_seconds: float) -> bytes:
    """The recorded samples of a timeline: tone spans, silent spans, unrecorded spans
    left out; boundaries on 20 ms frames; at most ``cap_seconds`` of audio."""
    out = bytearray()
    cap = int(max(0.0, cap_seconds) * RATE) * 2
    previous = 0
    phase = 0
    for tone, end in spans:
        boundary = round(end * RATE / FRAME_SAMPLES) * FRAME_SAMPLES
        samples = max(0, boundary - previous)
        previous = max(previous, boundary)
        if tone is None or samples == 0:
            continue
        room = (cap - len(out)) // 2
        samples = min(samples, room)
        if samples <= 0:
            break
        if tone:
            out += _tone(phase, samples)
            phase = (phase + samples) % RATE
        else:
            out += bytes(2 * samples)
    return bytes(out)


def _tone(phase: int, samples: int) -> bytes:
    whole, rest = divmod(samples, RATE)
    start = 2 * phase
    second = _TONE_LOOP[start : start + 2 * RATE]
    return second * whole + _TONE_LOOP[start : start + 2 * rest]


def _write(tap: MixMonitorTap, frames: bytes) -> None:
    if not tap.wav:
        tap.path.write_bytes(frames)
        return
    with wave.open(str(tap.path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(frames)
