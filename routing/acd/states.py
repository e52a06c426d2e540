"""Agent and call states, and the two transition tables that are the only way to change them.

Theory of operation (after h11's ``_state.py``): a state changes only by looking up
``(current state, input)`` in a table. A missing pair is an illegal transition: the
lookup raises :class:`config.errors.IllegalTransition` *before* the engine touches
anything, so a refused event changes nothing. The engine computes every transition an
event needs first, then applies them.

Inputs are finer than the public events: a supervisor forcing a state (``FORCE_*``) may
do things an agent asking for it (``REQUEST_*``) may not — pull a ringing agent out, say.
Input values are plain phrases: they are what a refusal says ("cannot make the agent ready
while on a call", see ``config.errors.IllegalTransition``).
"""

from __future__ import annotations

import enum
from typing import Final

from config.errors import IllegalTransition


class _FastHashEnum(enum.Enum):
    """An enum hashed by identity. Members are singletons compared by identity anyway;
    ``Enum``'s own ``__hash__`` is a Python-level ``hash(self._name_)`` call, which every
    transition-table lookup (a tuple of two members) paid twice on the routing path."""

    __hash__ = object.__hash__


class AgentState(_FastHashEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    NOT_READY = "not_ready"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"


class AgentInput(_FastHashEnum):
    REQUEST_READY = "go ready"
    REQUEST_NOT_READY = "go not ready"
    REQUEST_LOGOUT = "log out"
    FORCE_READY = "make the agent ready"
    FORCE_NOT_READY = "make the agent not ready"
    FORCE_LOGOUT = "log the agent out"
    OFFER = "offer a call"
    ANSWER = "answer"
    NO_ANSWER = "miss a call"
    CALLER_GONE = "lose a ringing caller"
    CALLBACK_FAILED = "fail a callback"
    CALL_END = "end a call"
    WRAP_DONE = "end wrap-up"


_A = AgentState
_I = AgentInput

AGENT_TRANSITIONS: Final[dict[tuple[AgentState, AgentInput], AgentState]] = {
    (_A.LOGGED_OUT, _I.REQUEST_READY): _A.READY,
    (_A.LOGGED_OUT, _I.REQUEST_NOT_READY): _A.NOT_READY,
    (_A.LOGGED_OUT, _I.FORCE_READY): _A.READY,
    (_A.LOGGED_OUT, _I.FORCE_NOT_READY): _A.NOT_READY,
    (_A.READY, _I.REQUEST_NOT_READY): _A.NOT_READY,
    (_A.READY, _I.REQUEST_LOGOUT): _A.LOGGED_OUT,
    (_A.READY, _I.FORCE_NOT_READY): _A.NOT_READY,
    (_A.READY, _I.FORCE_LOGOUT): _A.LOGGED_OUT,
    (_A.READY, _I.OFFER): _A.RINGING,
    (_A.NOT_READY, _I.REQUEST_READY): _A.READY,
    (_A.NOT_READY, _I.REQUEST_NOT_READY): _A.NOT_READY,  # a new reason code
    (_A.NOT_READY, _I.REQUEST_LOGOUT): _A.LOGGED_OUT,
    (_A.NOT_READY, _I.FORCE_READY): _A.READY,
    (_A.NOT_READY, _I.FORCE_NOT_READY): _A.NOT_READY,
    (_A.NOT_READY, _I.FORCE_LOGOUT): _A.LOGGED_OUT,
    (_A.RINGING, _I.ANSWER): _A.ON_CALL,
    (_A.RINGING, _I.NO_ANSWER): _A.NOT_READY,
    (_A.RINGING, _I.CALLER_GONE): _A.READY,
    (_A.RINGING, _I.CALLBACK_FAILED): _A.READY,
    (_A.RINGING, _I.FORCE_NOT_READY): _A.NOT_READY,
    (_A.RINGING, _I.FORCE_LOGOUT): _A.LOGGED_OUT,
    (_A.ON_CALL, _I.CALL_END): _A.WRAP_UP,
    (_A.WRAP_UP, _I.WRAP_DONE): _A.READY,
    (_A.WRAP_UP, _I.REQUEST_READY): _A.READY,
    (_A.WRAP_UP, _I.REQUEST_NOT_READY): _A.NOT_READY,
    (_A.WRAP_UP, _I.REQUEST_LOGOUT): _A.LOGGED_OUT,
    (_A.WRAP_UP, _I.FORCE_READY): _A.READY,
    (_A.WRAP_UP, _I.FORCE_NOT_READY): _A.NOT_READY,
    (_A.WRAP_UP, _I.FORCE_LOGOUT): _A.LOGGED_OUT,
}


class CallState(_FastHashEnum):
    WAITING = "waiting"  # in line, live on hold or as a virtual callback
    OFFERED = "offered"  # an agent is ringing (or being connected for a callback)
    CONNECTED = "connected"
    RETRY = "retry"  # a failed callback waiting to go back into line
    DONE = "done"


class CallInput(_FastHashEnum):
    OFFER = "offer the call to an agent"
    ANSWER = "answer the call"
    NO_ANSWER = "let the call ring unanswered"
    WITHDRAW = "take the call back from an agent"
    ABANDON = "abandon the call"
    END = "end the call"
    MOVE = "move the call to another queue"
    CALLBACK = "turn the call into a callback"
    CALLBACK_FAILED = "fail a callback attempt"
    RETRY_DUE = "retry a callback"
    LEAVE = "take the call out of its queue"


_C = CallState
_K = CallInput

CALL_TRANSITIONS: Final[dict[tuple[CallState, CallInput], CallState]] = {
    (_C.WAITING, _K.OFFER): _C.OFFERED,
    (_C.WAITING, _K.ABANDON): _C.DONE,
    (_C.WAITING, _K.END): _C.DONE,
    (_C.WAITING, _K.MOVE): _C.WAITING,
    (_C.WAITING, _K.CALLBACK): _C.WAITING,
    (_C.WAITING, _K.LEAVE): _C.DONE,
    (_C.OFFERED, _K.ANSWER): _C.CONNECTED,
    (_C.OFFERED, _K.NO_ANSWER): _C.WAITING,
    (_C.OFFERED, _K.WITHDRAW): _C.WAITING,
    (_C.OFFERED, _K.ABANDON): _C.DONE,
    (_C.OFFERED, _K.END): _C.DONE,
    (_C.OFFERED, _K.CALLBACK_FAILED): _C.RETRY,
    (_C.OFFERED, _K.LEAVE): _C.DONE,
    (_C.CONNECTED, _K.END): _C.DONE,
    (_C.RETRY, _K.RETRY_DUE): _C.WAITING,
    (_C.RETRY, _K.ABANDON): _C.DONE,
    (_C.RETRY, _K.END): _C.DONE,
}


def agent_next(state: AgentState, what: AgentInput) -> AgentState:
    """The agent state after ``what`` happens in ``state``.

    Raises:
        IllegalTransition: the table has no such pair.
    """
    try:
        return AGENT_TRANSITIONS[(state, what)]
    except KeyError:
        raise IllegalTransition(state.value, what.value) from None


def call_next(state: CallState, what: CallInput) -> CallState:
    """The call state after ``what`` happens in ``state``.

    Raises:
        IllegalTransition: the table has no such pair.
    """
    try:
        return CALL_TRANSITIONS[(state, what)]
    except KeyError:
        raise IllegalTransition(state.value, what.value) from None
