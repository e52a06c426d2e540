"""The ports the IVR runner needs, bound to one live call of the call center.

``routing.ivr.runner`` reaches the outside world only through small protocols; these
adapters implement them for one call, so what the IVR learns (the customer, the path,
a voicemail) lands on the call and in its contact history as it happens.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from config.errors import InvalidInput
from crm_lookup.directory import new_caller_card
from routing.ivr import commands as ivr_cmd
from routing.ivr import events as ivr_ev
from routing.ivr.interpreter import CallInfo, PathStep
from routing.live import LiveCall
from routing.ports import CallCenterPort
from routing.recording import flag
from telephony.ami import Action

log = logging.getLogger(__name__)


def dialable(number: str) -> str:
    """A number or extension safe to put in a dialplan extension (no injection)."""
    text = number.strip()
    digits = text[1:] if text.startswith("+") else text
    if not digits or not digits.isdigit() or len(digits) > 20:
        raise InvalidInput(f"not a dialable number: {number!r}", field="number")
    return text


def without_this_call(card: dict[str, Any], call: LiveCall) -> dict[str, Any]:
    """The card's history without the contact being made right now."""
    card["recent_contacts"] = [
        c
        for c in card.get("recent_contacts") or ()
        # The contact row of this call is stamped with its exact arrival time.
        if c.get("id") != call.contact_id and c.get("started_at") != call.arrived_at
    ]
    return card


def new_caller_json(caller: str) -> dict[str, Any]:
    return new_caller_card(caller).to_json()


class IvrDirectory:
    """The IVR's lookup port: finds the customer and remembers them on the call."""

    def __init__(self, center: CallCenterPort, call: LiveCall) -> None:
        self.center, self.call = center, call

    async def lookup(self, by: str, value: str) -> Mapping[str, Any] | None:
        directory = self.center.directory
        card = await (
            directory.card_for_account(value)
            if by == "account"
            else directory.card_for_phone(value)
        )
        data = without_this_call(card.to_json(), self.call) if card is not None else {}
        if data.get("customer_id") is None:
            return None
        self.call.card = data
        self.call.customer_id = data["customer_id"]
        self.call.tier = str(data.get("tier") or "").lower()
        self.call.verified = by == "account"
        return {
            "id": data["customer_id"],
            "name": data.get("name", ""),
            "tier": str(data.get("tier") or "").lower(),
            "language": data.get("language", ""),
            "open_cases": len(data.get("open_cases") or []),
            "verified": by == "account",
        }


class IvrRouting:
    """The IVR's routing port for one call."""

    def __init__(self, center: CallCenterPort, call: LiveCall) -> None:
        self.center, self.call = center, call

    async def queue_state(self, queue: str) -> ivr_ev.QueueState:
        estimate = self.center.acd.estimate(queue, self.center.clock())
        return ivr_ev.QueueState(estimate.seconds, estimate.agents_ready, estimate.position - 1)

    async def enqueue(self, call: CallInfo, request: ivr_cmd.Enqueue) -> None:
        self._record_choice(request.variables)
        self.center.enqueue(self.call, request.queue, request.priority, request.skills)

    def _record_choice(self, variables: Mapping[str, Any]) -> None:
        """The caller's recording choice (the IVR's ``record`` variable), if it made one.

        A script's ``set`` value is checked when the script loads; digits collected into
        ``record`` are checked here: anything but yes/no leaves the queue's rule."""
        if "record" not in variables:
            return
        try:
            self.call.record_choice = flag(variables["record"])
        except InvalidInput:
            log.warning(
                "IVR variable 'record' is not true or false; the queue's rule applies",
                extra={"fields": {"call": self.call.call_id}},
            )

    async def request_callback(self, call: CallInfo, request: ivr_cmd.OfferCallback) -> None:
        self.center.book_callback(
            self.call, request.queue, request.number, request.priority, request.skills
        )

    async def transfer(self, call: CallInfo, target: str) -> None:
        exten = dialable(target)
        await self.center.ami_of(self.call).send(
            Action(
                "Redirect",
                {
                    "Channel": self.call.channel,
                    "Context": self.center.pbxs.home(self.call.pbx).settings.outbound_context,
                    "Exten": exten,
                    "Priority": "1",
                },
            )
        )


class IvrContacts:
    """The IVR's contact sink: path steps onto the call and into the history."""

    def __init__(self, center: CallCenterPort, call: LiveCall) -> None:
        self.center, self.call = center, call

    async def ivr_step(self, call: CallInfo, step: PathStep) -> None:
        self.call.path.append(step.to_json())
        self.center.recorder.ivr_step(self.call, step)

    async def ivr_done(self, call: CallInfo, path: Sequence[PathStep], outcome: str) -> None:
        self.call.path = [s.to_json() for s in path]
        self.call.ivr_outcome = outcome
        self.center.recorder.ivr_done(self.call, path, outcome)

    async def voicemail(self, call: CallInfo, box: str, path: str) -> None:
        self.center.voicemail_left(self.call, path)
