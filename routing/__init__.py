"""Routing: where a call goes next.

``ivr/`` holds the IVR script format, its validator, a pure interpreter (events in,
commands out) and the runner that drives it over AsyncAGI; ``acd/`` holds the pure ACD
engine (queues, agents, one global router, statistics) and the shell that executes its
decisions through ``telephony``. May import ``telephony``, ``crm_lookup`` and ``config``;
never ``agent_console`` or ``switchboard``.
"""
