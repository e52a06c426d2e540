"""What the per-call helpers (``routing.waiting``, ``routing.ivr_ports``) need of the call
center, as a protocol: they depend on this, not on ``routing.center``, which uses them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from config.settings import Settings
from routing.acd.engine import Acd
from routing.acd.model import QueueConfig
from routing.contacts import ContactRecorder
from routing.live import LiveCall
from routing.pbx import Pbxs
from telephony.ami import AmiClient


class CallCenterPort(Protocol):
    settings: Settings
    ami: AmiClient
    acd: Acd
    recorder: ContactRecorder
    directory: Any
    clock: Callable[[], float]
    pbxs: Pbxs

    def ami_of(self, call: LiveCall) -> AmiClient: ...
    def queue_config(self, name: str | None) -> QueueConfig | None: ...
    def refresh_position(self, call: LiveCall) -> None: ...
    def request_callback(self, call: LiveCall, number: str) -> None: ...
    def voicemail_path(self, call: LiveCall) -> str: ...
    def voicemail_left(self, call: LiveCall, path: str) -> None: ...
    def enqueue(
        self,
        call: LiveCall,
        queue: str,
        priority: int,
        skills: Mapping[str, int],
        *,
        callback_number: str | None = None,
        since: float | None = None,
    ) -> None: ...
    def book_callback(
        self, call: LiveCall, queue: str, number: str, priority: int, skills: Mapping[str, int]
    ) -> None: ...
