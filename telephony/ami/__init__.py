"""AMI: the sans-I/O protocol (``protocol``, ``messages``, ``events``) and the asyncio client.

Everything here except ``client`` is pure (no asyncio, no sockets) and passes ``mypy --strict``.
"""

from telephony.ami.client import AmiClient
from telephony.ami.events import Event, GenericEvent, parse_event
from telephony.ami.messages import Action, Message, parse_message
from telephony.ami.protocol import (
    ActionDone,
    AmiProtocol,
    Banner,
    ListResponse,
    Response,
    UnmatchedResponse,
)

__all__ = [
    "Action",
    "ActionDone",
    "AmiClient",
    "AmiProtocol",
    "Banner",
    "Event",
    "GenericEvent",
    "ListResponse",
    "Message",
    "Response",
    "UnmatchedResponse",
    "parse_event",
    "parse_message",
]
