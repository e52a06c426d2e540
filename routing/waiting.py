"""What a waiting caller hears, run on the caller's AsyncAGI session.

Music on hold plays in slices of the queue's announcement interval; between slices the
caller hears their position and estimated wait. A max-wait action (voicemail, callback
offer, closing message) is set on the call by the ACD shell, which also redirects the
channel back into AGI so the action starts at once instead of at the end of a slice.
Ringing an agent ends this loop from outside: the Redirect into ``switchboard-connect``
ends the AGI session, and the command in flight raises ``ChannelHungUp``.
"""

from __future__ import annotations

import logging
import os

from config.errors import AgiError, ChannelHungUp, ConnectionLost
from routing.live import LiveCall, Phase
from routing.ports import CallCenterPort
from telephony.agi import AgiSession

log = logging.getLogger(__name__)

DEFAULT_SLICE = 20.0
CALLBACK_KEY = "1"


def prompt_path(center: CallCenterPort, name: str, language: str) -> str:
    """``<prompts>/<lang>/<name>`` for STREAM FILE, falling back to the default language."""
    base = center.settings.path(center.settings.ivr.prompts_dir)
    default = center.settings.ivr.default_language
    for lang in (language, default):
        if lang and (base / lang / f"{name}.wav").exists():
            return os.fspath(base / lang / name)
    return os.fspath(base / default / name)


async def wait_in_queue(center: CallCenterPort, call: LiveCall, session: AgiSession) -> None:
    """Keep the caller company until an agent is rung, they hang up, or an action ends it."""
    try:
        while call.phase is Phase.WAITING and not session.closed:
            if call.pending is not None:
                await _act(center, call, session)
                continue
            queue = center.queue_config(call.queue)
            interval = (
                queue.announce_interval if queue and queue.announce_interval else DEFAULT_SLICE
            )
            moh = queue.moh if queue else "default"
            await session.exec("MusicOnHold", f"{moh},{int(interval)}")
            if (
                call.phase is Phase.WAITING
                and call.pending is None
                and queue
                and queue.announce_interval
            ):
                await _announce(center, call, session)
    except (ChannelHungUp, ConnectionLost):
        return
    except AgiError as exc:
        log.warning(
            "AGI error while waiting", extra={"fields": {"call": call.call_id, "error": exc}}
        )


async def _announce(center: CallCenterPort, call: LiveCall, session: AgiSession) -> None:
    center.refresh_position(call)
    if call.position is None:
        return
    lang = call.language
    await session.stream_file(prompt_path(center, "queue_position", lang))
    await session.say_digits(str(call.position))
    if call.estimate:
        minutes = max(1, round(call.estimate / 60))
        await session.stream_file(prompt_path(center, "queue_wait", lang))
        await session.say_digits(str(minutes))
        await session.stream_file(prompt_path(center, "minutes", lang))


async def _act(center: CallCenterPort, call: LiveCall, session: AgiSession) -> None:
    action, call.pending = call.pending, None
    lang = call.language
    if action == "callback":
        digits, _ = await session.get_data(prompt_path(center, "queue_cb_offer", lang), 5000, 1)
        if digits == CALLBACK_KEY and call.caller:
            center.request_callback(call, call.caller)
            await session.stream_file(prompt_path(center, "cb_booked", lang))
            await session.hangup()
        return
    if action == "voicemail":
        await session.stream_file(prompt_path(center, "vm_intro", lang))
        path = center.voicemail_path(call)
        await session.record_file(path, "wav", "#", 120_000)
        center.voicemail_left(call, path)
        await session.hangup()
        return
    # "hangup" and anything unknown: say goodbye politely.
    await session.stream_file(prompt_path(center, "queue_closed", lang))
    await session.hangup()
